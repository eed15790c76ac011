"""``history``: list the stored analyses, newest first (a table, or ``--csv`` with every layer's features)."""

from __future__ import annotations

import argparse
import sys

from ..history import HistoryStore, StoreError, analysed_utc, export_csv, profile_title
from .options import DB_HELP, EXIT_OK, EXIT_USAGE


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("history", help="list stored analyses, newest first")
    p.add_argument("--db", metavar="FILE", help=DB_HELP)
    p.add_argument("--limit", type=int, default=50, metavar="N", help="show at most N rows (default: 50)")
    p.add_argument("--search", metavar="TEXT", help="only names containing TEXT (or SHA-256 starting with it)")
    p.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.limit < 0:
        print("error: --limit must not be negative", file=sys.stderr)
        return EXIT_USAGE
    try:
        store = HistoryStore(args.db)
        rows = store.rows(search=args.search, limit=args.limit)
        total = store.count()
        layers = store.layer_features(r.id for r in rows) if args.csv else {}
        stability = store.stability_summaries(r.id for r in rows) if args.csv else {}
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.csv:
        sys.stdout.write(export_csv(rows, layers, stability))
        return EXIT_OK
    if not rows:
        print(f"No analyses stored in {store.path}." if not total else "No analyses match.")
        return EXIT_OK
    print(f"{'id':>5}  {'analysed (UTC)':<19}  {'score':>5}  {'call':<12}  {'verdict':<19}  {'by':<10}  "
          f"{'profile':<20}  name")
    for row in rows:
        print(f"{row.id:>5}  {analysed_utc(row.created_at):<19}  {row.score:>5.3f}  {row.call:<12}  "
              f"{row.verdict:<19}  {row.decided_by:<10}  {profile_title(row)[:20]:<20}  {row.source_name}")
    print(f"{len(rows)} of {total} stored analyses ({store.path}).")
    return EXIT_OK
