"""Command line.

``python -m detector analyze FILE... [--json] [--thresholds PROFILE.json]``
    Analyse files and print their reports.
``python -m detector batch PATH... [--db FILE] [--thresholds PROFILE.json] [--json]``
    Analyse files and folders (recursively), reusing and filling the history.
``python -m detector history [--db FILE] [--limit N] [--search TEXT] [--csv]``
    List the stored analyses, newest first.

Exit codes: 0 every file analysed; 1 at least one file could not be analysed (the
others still are); 2 bad usage, a bad threshold profile or an unusable history
database.
"""

from __future__ import annotations

import argparse
import json
import sys

from .audio import DEFAULT_MAX_DURATION, AudioError
from .heuristics import ProfileError, Thresholds
from .service import DEFAULT_SEGMENT_SECONDS, analyze
from .store import HistoryStore, StoreError

EXIT_OK, EXIT_FILE_FAILED, EXIT_USAGE = 0, 1, 2


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m detector", description="Detect AI-generated music.")
    sub = parser.add_subparsers(dest="command", required=True)
    a = sub.add_parser("analyze", help="analyse audio files (WAV, FLAC, OGG/Vorbis, Opus, MP3)")
    a.add_argument("files", nargs="+", metavar="FILE")
    a.add_argument("--json", action="store_true", help="print one JSON report per file (a JSON list)")
    a.add_argument("--thresholds", metavar="PROFILE.json", help="threshold profile (JSON) to score with")
    a.add_argument("--segment-seconds", type=_positive, default=DEFAULT_SEGMENT_SECONDS, metavar="S")
    a.add_argument("--max-duration", type=_positive, default=DEFAULT_MAX_DURATION, metavar="S",
                   help="refuse tracks longer than this many seconds (default: 1200)")
    b = sub.add_parser("batch", help="analyse files and folders, reusing and filling the history")
    b.add_argument("paths", nargs="+", metavar="PATH", help="audio files or folders (searched recursively)")
    b.add_argument("--db", metavar="FILE", help="history database (default: $DETECTOR_DB or data/history.sqlite3)")
    b.add_argument("--thresholds", metavar="PROFILE.json", help="threshold profile (JSON) to score with")
    b.add_argument("--json", action="store_true", help="print the reports as a JSON list")
    b.add_argument("--segment-seconds", type=_positive, default=DEFAULT_SEGMENT_SECONDS, metavar="S")
    b.add_argument("--max-duration", type=_positive, default=DEFAULT_MAX_DURATION, metavar="S",
                   help="refuse tracks longer than this many seconds (default: 1200)")
    h = sub.add_parser("history", help="list stored analyses, newest first")
    h.add_argument("--db", metavar="FILE", help="history database (default: $DETECTOR_DB or data/history.sqlite3)")
    h.add_argument("--limit", type=int, default=50, metavar="N", help="show at most N rows (default: 50)")
    h.add_argument("--search", metavar="TEXT", help="only names containing TEXT (or SHA-256 starting with it)")
    h.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    return parser


def _print_text(report) -> None:
    print(f"{report.source_name}: {report.score:.3f}  {report.verdict}  "
          f"({report.duration:.1f} s, {report.format}, decided by {report.decided_by})")
    for layer in report.layers.values():
        for c in layer.contributions:
            print(f"    {c.feature:<14} {c.value:>12.4f}  {c.band:<9} {c.delta:+.2f}")
    for skipped in report.skipped:
        print(f"    [{skipped.name} did not run] {skipped.reason}")
    for warning in report.warnings:
        print(f"    warning: {warning}")


def _load_thresholds(path: str | None) -> Thresholds | None:
    """The profile at ``path`` (defaults without one), or ``None`` after printing why not."""
    try:
        return Thresholds.load(path) if path else Thresholds()
    except ProfileError as exc:
        print(f"error: bad threshold profile: {exc}", file=sys.stderr)
        return None


def _batch(args: argparse.Namespace) -> int:
    from .batch import analyze_batch, iter_audio_files

    thresholds = _load_thresholds(args.thresholds)
    if thresholds is None:
        return EXIT_USAGE
    if not iter_audio_files(args.paths):
        print("error: no audio files (.wav .flac .ogg .opus .mp3) found in " + ", ".join(args.paths),
              file=sys.stderr)
        return EXIT_USAGE
    live = sys.stderr.isatty()

    def progress(done: int, total: int, name: str) -> None:
        if live:
            print(f"\r[{done}/{total}] {name[:60]:<60}", end="" if done < total else "\n", file=sys.stderr)

    try:
        store = HistoryStore(args.db)
        result = analyze_batch(args.paths, store=store, thresholds=thresholds, progress=progress,
                               segment_seconds=args.segment_seconds, max_duration=args.max_duration)
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
            print(f"{report.source_name}: {report.score:.3f}  {report.verdict}  "
                  f"({report.duration:.1f} s, {report.format}, decided by {report.decided_by})")
        print(f"{result.total} file(s): {result.analysed} analysed, {result.reused} reused from the history, "
              f"{len(result.failures)} failed. History: {store.path}")
    return EXIT_FILE_FAILED if result.failures else EXIT_OK


def _history(args: argparse.Namespace) -> int:
    if args.limit < 0:
        print("error: --limit must not be negative", file=sys.stderr)
        return EXIT_USAGE
    try:
        store = HistoryStore(args.db)
        rows = store.rows(search=args.search, limit=args.limit)
        total = store.count()
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.csv:
        sys.stdout.write(store.export_csv(rows))
        return EXIT_OK
    if not rows:
        print(f"No analyses stored in {store.path}." if not total else "No analyses match.")
        return EXIT_OK
    print(f"{'id':>5}  {'analysed (UTC)':<19}  {'score':>5}  {'verdict':<19}  {'by':<10}  name")
    for row in rows:
        print(f"{row.id:>5}  {row.created_at[:19].replace('T', ' '):<19}  {row.score:>5.3f}  "
              f"{row.verdict:<19}  {row.decided_by:<10}  {row.source_name}")
    print(f"{len(rows)} of {total} stored analyses ({store.path}).")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "batch":
        return _batch(args)
    if args.command == "history":
        return _history(args)
    thresholds = _load_thresholds(args.thresholds)
    if thresholds is None:
        return EXIT_USAGE
    reports, failed = [], 0
    for path in args.files:
        try:
            report = analyze(path, thresholds, segment_seconds=args.segment_seconds,
                             max_duration=args.max_duration)
        except AudioError as exc:
            failed += 1
            print(f"error: {path}: {exc}", file=sys.stderr)
            if args.json:
                reports.append({"source_name": path, "error": str(exc)})
            continue
        if args.json:
            reports.append(report.to_dict())
        else:
            _print_text(report)
    if args.json:
        print(json.dumps(reports, indent=2, sort_keys=True))
    return EXIT_FILE_FAILED if failed else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
