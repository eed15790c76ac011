"""``batch PATH...``: analyse files and folders (recursively), reusing and filling the history."""

from __future__ import annotations

import argparse
import json
import sys

from ..audio import AUDIO_EXTENSIONS, iter_audio_files
from ..audio.perturb import perturbation_set
from ..history import HistoryStore, StoreError
from ..jobs import analyze_batch
from .analyze import print_summary
from .options import (
    DB_HELP, EXIT_FILE_FAILED, EXIT_OK, EXIT_USAGE, analysis_options, clap_options, live_progress, load_clap,
    load_thresholds, stability_options,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("batch", help="analyse files and folders, reusing and filling the history")
    p.add_argument("paths", nargs="+", metavar="PATH", help="audio files or folders (searched recursively)")
    p.add_argument("--db", metavar="FILE", help=DB_HELP)
    p.add_argument("--json", action="store_true", help="print the reports as a JSON list")
    analysis_options(p)
    stability_options(p)
    clap_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    thresholds = load_thresholds(args.thresholds)
    if thresholds is None:
        return EXIT_USAGE
    if not iter_audio_files(args.paths):
        print(f"error: no audio files ({' '.join(AUDIO_EXTENSIONS)}) found in " + ", ".join(args.paths),
              file=sys.stderr)
        return EXIT_USAGE
    try:
        store = HistoryStore(args.db)
        result = analyze_batch(args.paths, store=store, thresholds=thresholds, progress=live_progress(),
                               segment_seconds=args.segment_seconds, max_duration=args.max_duration,
                               clap=load_clap(args),
                               stability=perturbation_set(args.perturbations) if args.stability else False)
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for path, message in result.failures:
        print(f"error: {path}: {message}", file=sys.stderr)
    if args.json:
        out = [r.to_dict() for r in result.reports]
        out += [{"source_name": str(path), "error": message} for path, message in result.failures]
        print(json.dumps(out, indent=2, sort_keys=True))
    else:
        for report in result.reports:
            print_summary(report)
        print(f"{result.total} file(s): {result.analysed} analysed, {result.reused} reused from the history, "
              f"{len(result.failures)} failed. History: {store.path}")
    return EXIT_FILE_FAILED if result.failures else EXIT_OK
