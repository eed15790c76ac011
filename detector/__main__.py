"""Command line.

``python -m detector analyze FILE... [--json] [--thresholds PROFILE.json] [--model MODEL.skops] [--clap-checkpoint PATH]``
    Analyse files and print their reports.
``python -m detector download-clap [--dest DIR]``
    Download the LAION-CLAP music checkpoint (exit 1 if the download fails).
``python -m detector batch PATH... [--db FILE] [--thresholds PROFILE.json] [--json]``
    Analyse files and folders (recursively), reusing and filling the history.
``python -m detector history [--db FILE] [--limit N] [--search TEXT] [--csv]``
    List the stored analyses, newest first.

``analyze`` and ``batch`` exit codes: 0 every file analysed; 1 at least one file could
not be analysed (the others still are); 2 bad usage, a bad threshold profile, an
unusable model or an unusable history database.

``python -m detector train DATA --out MODEL.skops [--feature-set auto|spectral|clap] [--folds 5] [--test-size 0.2]``
    DATA is a folder with ``human/`` and ``ai/`` subfolders or a ``path,label`` CSV.
    Progress goes to stderr, metrics to stdout (``--json`` for JSON). Files that
    cannot be used are skipped and listed at the end; they do not change the exit
    code. Exit codes: 0 the model was trained and saved; 2 bad usage, a bad dataset
    path, too few usable files per class, or a feature set that is not available.

``python -m detector evaluate DATA --model MODEL.skops [--json]``
    Metrics of a saved model on a labelled dataset. Exit codes: 0 evaluated (skipped
    files are listed); 2 bad usage, an unusable model or no usable files.

``analyze``, ``batch``, ``train`` and ``evaluate`` add the CLAP layer when they find a
LAION-CLAP checkpoint (``--clap-checkpoint``, ``$CLAP_CHECKPOINT`` or
``<data dir>/models/clap/*.pt``; ``--no-clap`` turns it off). It is loaded once for all
files; if it cannot be, the reason goes to stderr and the spectral layer carries on.
"""

from __future__ import annotations

import argparse
import json
import sys

from . import clap
from .audio import DEFAULT_MAX_DURATION, AudioError
from .dataset import DEFAULT_FOLDS, DEFAULT_TEST_SIZE, DatasetError, load_dataset, skipped_summary
from .heuristics import ProfileError, Thresholds
from .service import DEFAULT_SEGMENT_SECONDS, analyze
from .store import HistoryStore, StoreError
from .vectors import CLAP, FeatureSetUnavailable, resolve_feature_set

# detector.classifier (scikit-learn, skops) is imported only by the commands that need it.

EXIT_OK, EXIT_FILE_FAILED, EXIT_USAGE = 0, 1, 2


def _number(cast: type, ok, rule: str):
    """An argparse ``type``: ``cast(text)`` that must satisfy ``ok``, else "must be <rule>"."""
    kind = "whole number" if cast is int else "number"

    def parse(text: str):
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"must be {rule}, not {text}")
        return value

    return parse


_positive = _number(float, lambda v: v > 0, "positive")
_int_at_least_2 = _number(int, lambda v: v >= 2, "at least 2")
_fraction = _number(float, lambda v: 0 <= v < 1, "at least 0 and below 1")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m detector", description="Detect AI-generated music.")
    sub = parser.add_subparsers(dest="command", required=True)
    a = sub.add_parser("analyze", help="analyse audio files (WAV, FLAC, OGG/Vorbis, Opus, MP3)")
    a.add_argument("files", nargs="+", metavar="FILE")
    a.add_argument("--json", action="store_true", help="print one JSON report per file (a JSON list)")
    _analysis_options(a)
    a.add_argument("--model", metavar="MODEL.skops", help="trained classifier to score with")
    _clap_options(a)
    b = sub.add_parser("batch", help="analyse files and folders, reusing and filling the history")
    b.add_argument("paths", nargs="+", metavar="PATH", help="audio files or folders (searched recursively)")
    b.add_argument("--db", metavar="FILE", help="history database (default: $DETECTOR_DB or data/history.sqlite3)")
    b.add_argument("--json", action="store_true", help="print the reports as a JSON list")
    _analysis_options(b)
    h = sub.add_parser("history", help="list stored analyses, newest first")
    h.add_argument("--db", metavar="FILE", help="history database (default: $DETECTOR_DB or data/history.sqlite3)")
    h.add_argument("--limit", type=int, default=50, metavar="N", help="show at most N rows (default: 50)")
    h.add_argument("--search", metavar="TEXT", help="only names containing TEXT (or SHA-256 starting with it)")
    h.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    t = sub.add_parser("train", help="train a classifier on labelled tracks (human/ and ai/ folders or a CSV)")
    t.add_argument("data", metavar="DATA", help="folder with human/ and ai/ subfolders, or a path,label CSV")
    t.add_argument("--out", required=True, metavar="MODEL.skops", help="where to save the model (card beside it)")
    t.add_argument("--feature-set", choices=("auto", "spectral", "clap"), default="auto",
                   help="auto: CLAP embeddings when available, else spectral (default)")
    t.add_argument("--folds", type=_int_at_least_2, default=DEFAULT_FOLDS, help="cross-validation folds (default 5)")
    t.add_argument("--test-size", type=_fraction, default=DEFAULT_TEST_SIZE,
                   help="fraction held out for evaluation, 0 for none (default 0.2)")
    t.add_argument("--json", action="store_true", help="print the metrics as JSON")
    e = sub.add_parser("evaluate", help="metrics of a trained classifier on labelled tracks")
    e.add_argument("data", metavar="DATA", help="folder with human/ and ai/ subfolders, or a path,label CSV")
    e.add_argument("--model", required=True, metavar="MODEL.skops")
    e.add_argument("--json", action="store_true", help="print the metrics as JSON")
    for p in (b, t, e):
        _clap_options(p)
    d = sub.add_parser("download-clap", help=f"download the LAION-CLAP music checkpoint ({clap.MUSIC_CHECKPOINT})")
    d.add_argument("--dest", metavar="DIR", help="folder to put it in (default: data/models/clap)")
    d.add_argument("--url", default=clap.MUSIC_CHECKPOINT_URL, help=argparse.SUPPRESS)
    return parser


def _progress(done: int, total: int, message: str) -> None:
    print(f"[{done}/{total}] {message}", file=sys.stderr, flush=True)


def _train(args) -> int:
    from pathlib import Path

    from .classifier import save_model, train_dataset

    if Path(args.out).is_dir():
        print(f"error: --out {args.out} is a folder; give a file name such as {Path(args.out) / 'model.skops'}",
              file=sys.stderr)
        return EXIT_USAGE
    encoder = _load_clap(args)
    try:
        dataset = load_dataset(args.data)
        feature_set, note = resolve_feature_set(args.feature_set, clap_available=encoder is not None)
        if note:
            print(note, file=sys.stderr)
        result = train_dataset(dataset, feature_set, clap=encoder, folds=args.folds, test_size=args.test_size,
                               progress=_progress)
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
        from .classifier import format_metrics

        print(f"model: {args.out} ({result.feature_set.version}, sha256 {card['model_sha256'][:12]}...)")
        print(format_metrics(result.cv, f"cross-validation, {result.folds} folds, out-of-fold"))
        if result.holdout:
            print()
            print(format_metrics(result.holdout, f"held-out {result.test_size:.0%}, model trained on the rest"))
    return EXIT_OK


def _evaluate(args) -> int:
    from .classifier import ModelError, evaluate, format_metrics, load_model

    try:
        model = load_model(args.model)
        for warning in model.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        encoder = _load_clap(args) if model.feature_set == CLAP else None  # spectral models need no CLAP
        result = evaluate(model, load_dataset(args.data), clap=encoder, progress=_progress)
    except (ModelError, DatasetError, FeatureSetUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(skipped_summary(result.skipped), file=sys.stderr)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, sort_keys=True))
    else:
        print(format_metrics(result.metrics, f"{result.model} ({result.feature_set})"))
    return EXIT_OK


def _analysis_options(p: argparse.ArgumentParser) -> None:
    """What ``analyze`` and ``batch`` share: the profile to score with and the decoding limits."""
    p.add_argument("--thresholds", metavar="PROFILE.json", help="threshold profile (JSON) to score with")
    p.add_argument("--segment-seconds", type=_positive, default=DEFAULT_SEGMENT_SECONDS, metavar="S")
    p.add_argument("--max-duration", type=_positive, default=DEFAULT_MAX_DURATION, metavar="S",
                   help="refuse tracks longer than this many seconds (default: 1200)")


def _clap_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--clap-checkpoint", metavar="PATH",
                   help=f"LAION-CLAP checkpoint (.pt) for the CLAP layer (default: ${clap.ENV_VAR}, "
                        "then data/models/clap/*.pt)")
    p.add_argument("--no-clap", action="store_true", help="do not load a CLAP checkpoint even if one is found")



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
    if "classifier" in report.layers:
        print(f"    {'classifier':<14} P(AI) {report.layers['classifier'].score:.4f}  "
              f"({report.versions['classifier_model']}, {report.versions['classifier_feature_set']})")
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
                               segment_seconds=args.segment_seconds, max_duration=args.max_duration,
                               clap=_load_clap(args))
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
    if args.command == "download-clap":
        return _download(args)
    if args.command == "batch":
        return _batch(args)
    if args.command == "history":
        return _history(args)
    if args.command == "train":
        return _train(args)
    if args.command == "evaluate":
        return _evaluate(args)
    thresholds = _load_thresholds(args.thresholds)
    if thresholds is None:
        return EXIT_USAGE
    model = None
    if args.model:
        from .classifier import ModelError, load_model

        try:
            model = load_model(args.model)
        except ModelError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        for warning in model.warnings:
            print(f"warning: {warning}", file=sys.stderr)
    encoder = _load_clap(args)
    reports, failed = [], 0
    for path in args.files:
        try:
            report = analyze(path, thresholds, segment_seconds=args.segment_seconds,
                             max_duration=args.max_duration, clap=encoder, model=model)
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
