"""Command line.

``python -m detector analyze FILE... [--json] [--thresholds PROFILE.json] [--clap-checkpoint PATH]``
``python -m detector download-clap [--dest DIR]``

``analyze`` adds the CLAP layer when it finds a LAION-CLAP checkpoint (``--clap-checkpoint``,
``$CLAP_CHECKPOINT`` or ``<data dir>/models/clap/*.pt``); it loads it once for all files,
and if it cannot, says why on stderr and analyses with the spectral layer only.

Exit codes: 0 every file analysed (or the checkpoint downloaded); 1 at least one file
could not be analysed (the others still are), or the download failed; 2 bad usage or a
bad threshold profile.
"""

from __future__ import annotations

import argparse
import json
import sys

from . import clap
from .audio import DEFAULT_MAX_DURATION, AudioError
from .heuristics import ProfileError, Thresholds
from .service import DEFAULT_SEGMENT_SECONDS, analyze

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
    a.add_argument("--clap-checkpoint", metavar="PATH",
                   help=f"LAION-CLAP checkpoint (.pt) for the CLAP layer (default: ${clap.ENV_VAR}, "
                        "then data/models/clap/*.pt)")
    a.add_argument("--no-clap", action="store_true", help="do not load a CLAP checkpoint even if one is found")
    d = sub.add_parser("download-clap", help=f"download the LAION-CLAP music checkpoint ({clap.MUSIC_CHECKPOINT})")
    d.add_argument("--dest", metavar="DIR", help="folder to put it in (default: data/models/clap)")
    d.add_argument("--url", default=clap.MUSIC_CHECKPOINT_URL, help=argparse.SUPPRESS)
    return parser


def _load_clap(args) -> "clap.ClapEncoder | None":
    """The encoder for every file, or None; says on stderr why a requested checkpoint won't load."""
    if args.no_clap:
        return None
    try:
        return clap.get_encoder(args.clap_checkpoint)
    except clap.CheckpointNotFound:
        return None  # nothing configured: each report says how to enable the layer
    except clap.ClapUnavailable as exc:
        print(f"warning: the CLAP layer is off: {exc.reason} Analysing with the spectral layer only.",
              file=sys.stderr)
        return None


def _download(args) -> int:
    shown, drawn = [-2], [False]

    def progress(done: int, total: int | None) -> None:
        percent = int(100 * done / total) if total else -1
        if percent != shown[0] or percent == -1:
            shown[0], drawn[0] = percent, True
            size = f"{done / 2**20:,.0f} / {total / 2**20:,.0f} MiB ({percent}%)" if total else f"{done / 2**20:,.0f} MiB"
            print(f"\rdownloading {clap.MUSIC_CHECKPOINT}: {size}", end="", file=sys.stderr, flush=True)

    try:
        path = clap.download_checkpoint(args.dest, url=args.url, progress=progress)
    except clap.DownloadError as exc:
        newline = "\n" if drawn[0] else ""  # end the progress line, if one was drawn
        print(f"{newline}error: {exc.reason}\n{exc.how_to_enable}", file=sys.stderr)
        return EXIT_FILE_FAILED
    print(f"\nsaved {path}", file=sys.stderr)
    return EXIT_OK


def _print_text(report) -> None:
    print(f"{report.source_name}: {report.score:.3f}  {report.verdict}  "
          f"({report.duration:.1f} s, {report.format}, decided by {report.decided_by})")
    for layer in report.layers.values():
        print(f"  {layer.name} layer: {layer.score:.3f}")
        for c in layer.contributions:
            print(f"    {c.feature:<14} {c.value:>12.4f}  {c.band:<9} {c.delta:+.2f}")
    for skipped in report.skipped:
        print(f"    [{skipped.name} did not run] {skipped.reason}")
    for warning in report.warnings:
        print(f"    warning: {warning}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "download-clap":
        return _download(args)
    try:
        thresholds = Thresholds.load(args.thresholds) if args.thresholds else Thresholds()
    except ProfileError as exc:
        print(f"error: bad threshold profile: {exc}", file=sys.stderr)
        return EXIT_USAGE
    encoder = _load_clap(args)
    reports, failed = [], 0
    for path in args.files:
        try:
            report = analyze(path, thresholds, segment_seconds=args.segment_seconds,
                             max_duration=args.max_duration, clap=encoder)
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
