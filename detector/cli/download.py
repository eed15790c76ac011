"""``download-clap``: download the LAION-CLAP music checkpoint (exit 1 if the download fails)."""

from __future__ import annotations

import argparse
import sys

from ..layers import clap
from .options import EXIT_FILE_FAILED, EXIT_OK


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("download-clap", help=f"download the LAION-CLAP music checkpoint ({clap.MUSIC_CHECKPOINT})")
    p.add_argument("--dest", metavar="DIR", help="folder to put it in (default: data/models/clap)")
    p.add_argument("--url", default=clap.MUSIC_CHECKPOINT_URL, help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    shown, drawn = [-1], [False]

    def progress(fraction: float, message: str) -> None:
        percent = int(100 * fraction)
        if percent != shown[0] or not fraction:  # once per percent; every chunk while the size is unknown
            shown[0], drawn[0] = percent, True
            print(f"\r{message}", end="", file=sys.stderr, flush=True)

    try:
        path = clap.download_checkpoint(args.dest, url=args.url, progress=progress)
    except clap.DownloadError as exc:
        newline = "\n" if drawn[0] else ""  # end the progress line, if one was drawn
        print(f"{newline}error: {exc.reason}\n{exc.how_to_enable}", file=sys.stderr)
        return EXIT_FILE_FAILED
    print(f"\nsaved {path}", file=sys.stderr)
    return EXIT_OK
