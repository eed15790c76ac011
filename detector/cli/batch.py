"""``batch PATH...``: analyse files and folders (recursively), reusing and filling the history."""

from __future__ import annotations

import argparse
import json
import sys

from ..audio import AUDIO_EXTENSIONS, iter_audio_files
from ..history import HistoryStore, StoreError
from ..jobs import analyze_batch
from .analyze import print_summary
from .options import (
    DB_HELP, EXIT_FILE_FAILED, EXIT_OK, EXIT_USAGE, analysis_options, clap_options, load_clap, load_thresholds,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("batch", help="analyse files and folders, reusing and filling the history")
    p.add_argument("paths", nargs="+", metavar="PATH", help="audio files or folders (searched recursively)")
    p.add_argument("--db", metavar="FILE", help=DB_HELP)
    p.add_argument("--json", action="store_true", help="print the reports as a JSON list")
    analysis_options(p)
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
    live = sys.stderr.isatty()

    def progress(fraction: float, message: str) -> None:
        if live:
            print(f"\r[{fraction:4.0%}] {message[:70]:<70}", end="" if fraction < 1 else "\n", file=sys.stderr)

    try:
        store = HistoryStore(args.db)
        result = analyze_batch(args.paths, store=store, thresholds=thresholds, progress=progress,
                               segment_seconds=args.segment_seconds, max_duration=args.max_duration,
                               clap=load_clap(args))
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
