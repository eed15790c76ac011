"""``scan SOURCE --out OUT``: analyse a catalogue on Ray Data into a resumable Parquet dataset.

SOURCE is a folder (searched recursively) or a CSV / Parquet manifest with a ``path`` column
(and an optional ``label``). Without ``--address`` (or ``$RAY_ADDRESS``) the scan starts an
embedded local Ray cluster with this machine's cores. Rerunning with the same OUT skips
every file already there under the same profile. Exit codes: 0 every file analysed (or
already done); 1 some files could not be analysed (each is a row saying why); 2 bad usage,
an unusable profile, model, checkpoint, output folder or cluster.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ..errors import DetectorError
from ..layers import clap
from .options import EXIT_FILE_FAILED, EXIT_OK, EXIT_USAGE, clap_options, load_thresholds, positive, stability_options
from .options import number

at_least_1 = number(int, lambda v: v >= 1, "at least 1")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scan", help="analyse a folder or manifest of tracks on Ray into a Parquet dataset (resumable)")
    p.add_argument("source", metavar="SOURCE", help="a folder (recursive), or a CSV/Parquet manifest with a path column "
                                                     "and an optional label column")
    p.add_argument("--out", required=True, metavar="OUT", help="output folder: a Parquet dataset, one row per file")
    p.add_argument("--workers", type=at_least_1, metavar="N", help="worker actors, one CPU each (default: every CPU)")
    p.add_argument("--address", metavar="ADDR", help="a Ray cluster to run on (default: $RAY_ADDRESS, else an "
                                                       "embedded local cluster)")
    p.add_argument("--profile", metavar="PROFILE.json", help="threshold profile (JSON) to score with")
    p.add_argument("--model", metavar="MODEL.skops", help="trained classifier to score with")
    p.add_argument("--limit", type=at_least_1, metavar="N", help="scan only the first N files")
    p.add_argument("--segment-seconds", type=positive, default=None, metavar="S")
    p.add_argument("--max-duration", type=positive, default=None, metavar="S",
                   help="refuse tracks longer than this many seconds (default: 1200)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    stability_options(p)
    clap_options(p)
    p.set_defaults(func=run)


def _checkpoint(args: argparse.Namespace) -> str | None:
    """The CLAP checkpoint to scan with: None when off or none is configured; ClapUnavailable when a named one is missing."""
    if args.no_clap:
        return None
    try:
        return str(clap.find_checkpoint(args.clap_checkpoint))
    except clap.CheckpointNotFound:
        return None


def run(args: argparse.Namespace) -> int:
    from ..audio import DEFAULT_MAX_DURATION
    from ..features.track import DEFAULT_SEGMENT_SECONDS
    from ..jobs.scan import ScanConfig, run_scan, scan_items
    from ..jobs.scan.sources import describe_empty

    thresholds = load_thresholds(args.profile)
    if thresholds is None:
        return EXIT_USAGE
    try:
        items = scan_items(args.source, limit=args.limit)
        if not items:
            print(f"error: {describe_empty(args.source)}", file=sys.stderr)
            return EXIT_USAGE
        config = ScanConfig(
            thresholds=thresholds, profile_name=Path(args.profile).stem if args.profile else "defaults",
            model_path=args.model, clap_checkpoint=_checkpoint(args), clap_precision=args.clap_precision,
            segment_seconds=args.segment_seconds or DEFAULT_SEGMENT_SECONDS,
            max_duration=args.max_duration or DEFAULT_MAX_DURATION,
            stability=args.stability, perturbations=args.perturbations)
        printer = _Printer()
        print(f"Scanning {len(items)} file(s) from {args.source} into {args.out}…", file=sys.stderr)
        summary = run_scan(items, args.out, config, workers=args.workers, address=args.address, progress=printer)
    except DetectorError as exc:
        print(f"error: {getattr(exc, 'reason', None) or exc}", file=sys.stderr)
        return EXIT_USAGE
    printer.finish()
    if args.json:
        p = summary.progress
        print(json.dumps({"out": str(summary.out), "files": p.total, "analysed": p.analysed, "skipped": p.skipped,
                          "failed": p.failed, "failures_by_reason": dict(p.reasons), "seconds": round(p.elapsed, 3),
                          "files_per_second": p.files_per_second, "audio_hours_per_hour": p.audio_hours_per_hour,
                          "workers": summary.workers, "cluster": summary.cluster, "profile": summary.profile,
                          "rows": summary.rows, "warnings": list(summary.warnings),
                          "unreadable_parts": summary.unreadable_parts}, indent=2, sort_keys=True))
    else:
        print("\n".join(summary.lines()))
    return EXIT_FILE_FAILED if summary.progress.failed else EXIT_OK


class _Printer:
    """Progress to stderr: one redrawn line on a terminal, else a line every few seconds."""

    def __init__(self, every: float = 5.0) -> None:
        self.tty, self.every, self.last, self.drawn = sys.stderr.isatty(), every, 0.0, False

    def __call__(self, progress) -> None:
        now = time.monotonic()
        if self.tty:
            print(f"\r{progress.line()[:110]:<110}", end="", file=sys.stderr, flush=True)
            self.drawn = True
        elif now - self.last >= self.every or progress.done == progress.total:
            print(progress.line(), file=sys.stderr, flush=True)
            self.last = now

    def finish(self) -> None:
        if self.drawn:
            print(file=sys.stderr)


__all__ = ["add_parser", "run"]
