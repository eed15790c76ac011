"""``train DATA --out MODEL.skops``: train a classifier on labelled tracks and save it with its card.

``--feature-set`` (alias ``--features``) picks the inputs: ``auto``, ``spectral``,
``clap`` or ``fakeprint``; ``--model-kind`` the model: the RF/SVM ``ensemble``
(default) or a ``logistic`` regression, e.g.
``train DATA --out model.skops --features fakeprint --model-kind logistic``.

Progress goes to stderr, metrics to stdout (``--json`` for JSON). Files that cannot be
used are skipped and listed at the end; they do not change the exit code.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..features.vectors import FeatureSetUnavailable, resolve_feature_set
from ..layers.classifier.pipeline import DEFAULT_KIND, MODEL_KINDS
from ..training.dataset import DEFAULT_FOLDS, DEFAULT_TEST_SIZE, DatasetError, load_dataset, skipped_summary
from .options import (
    DATA_HELP, EXIT_OK, EXIT_USAGE, clap_options, format_metrics, fraction, int_at_least_2, load_clap, print_progress,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a classifier on labelled tracks (human/ and ai/ folders or a CSV)")
    p.add_argument("data", metavar="DATA", help=DATA_HELP)
    p.add_argument("--out", required=True, metavar="MODEL.skops", help="where to save the model (card beside it)")
    p.add_argument("--feature-set", "--features", dest="feature_set", choices=("auto", "spectral", "clap", "fakeprint"),
                   default="auto", help="auto: CLAP embeddings when available, else spectral (default); fakeprint: "
                   "the native-rate spectrum's narrow peaks above its floor, 1-16 kHz")
    p.add_argument("--model-kind", choices=tuple(MODEL_KINDS), default=DEFAULT_KIND,
                   help="; ".join(f"{k.name}: {k.label}" for k in MODEL_KINDS.values()) + f" (default {DEFAULT_KIND})")
    p.add_argument("--folds", type=int_at_least_2, default=DEFAULT_FOLDS, help="cross-validation folds (default 5)")
    p.add_argument("--test-size", type=fraction, default=DEFAULT_TEST_SIZE,
                   help="fraction held out for evaluation, 0 for none (default 0.2)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    clap_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..training import save_model, train_dataset  # scikit-learn: only for the commands that train

    if Path(args.out).is_dir():
        print(f"error: --out {args.out} is a folder; give a file name such as {Path(args.out) / 'model.skops'}",
              file=sys.stderr)
        return EXIT_USAGE
    encoder = load_clap(args)
    try:
        dataset = load_dataset(args.data)
        feature_set, note = resolve_feature_set(args.feature_set, clap_available=encoder is not None)
        if note:
            print(note, file=sys.stderr)
        result = train_dataset(dataset, feature_set, clap=encoder, folds=args.folds, test_size=args.test_size,
                               kind=args.model_kind, progress=print_progress)
        card = save_model(result, args.out, dataset=str(dataset.source))
    except (DatasetError, FeatureSetUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"error: cannot write the model {args.out}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(skipped_summary(result.skipped), file=sys.stderr)
    for note in result.notes:
        print(note, file=sys.stderr)
    if args.json:
        print(json.dumps({**result.metrics_dict(), "model": card["model_file"],
                          "model_sha256": card["model_sha256"]}, indent=2, sort_keys=True))
    else:
        print(f"model: {args.out} ({MODEL_KINDS[result.model_kind].label} on {result.feature_set.version}, "
              f"sha256 {card['model_sha256'][:12]}...)")
        print(format_metrics(result.cv, f"cross-validation, {result.folds} folds, out-of-fold"))
        if result.holdout:
            print()
            print(format_metrics(result.holdout, f"held-out {result.test_size:.0%}, model trained on the rest"))
    return EXIT_OK
