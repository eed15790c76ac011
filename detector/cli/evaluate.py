"""``evaluate DATA --model MODEL.skops``: a saved classifier's metrics on labelled tracks."""

from __future__ import annotations

import argparse
import json
import sys

from ..features.vectors import CLAP, FeatureSetUnavailable
from ..training.dataset import DatasetError, load_dataset, skipped_summary
from .options import DATA_HELP, EXIT_OK, EXIT_USAGE, clap_options, format_metrics, load_clap, print_progress


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="metrics of a trained classifier on labelled tracks")
    p.add_argument("data", metavar="DATA", help=DATA_HELP)
    p.add_argument("--model", required=True, metavar="MODEL.skops")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    clap_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..layers.classifier import ModelError, load_model  # scikit-learn: only for the commands that need it
    from ..training import evaluate

    try:
        model = load_model(args.model)
        for warning in model.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        encoder = load_clap(args) if model.feature_set == CLAP else None  # spectral models need no CLAP
        result = evaluate(model, load_dataset(args.data), clap=encoder, progress=print_progress)
    except (ModelError, DatasetError, FeatureSetUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(skipped_summary(result.skipped), file=sys.stderr)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, sort_keys=True))
    else:
        print(format_metrics(result.metrics, f"{result.model} ({result.feature_set})"))
    return EXIT_OK
