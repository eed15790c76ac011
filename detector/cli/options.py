"""What the commands share: exit codes, argument parsers and options, loading models, printing progress."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from ..audio import DEFAULT_MAX_DURATION
from ..features.track import DEFAULT_SEGMENT_SECONDS
from ..layers import clap
from ..layers.heuristics import ProfileError, Thresholds

if TYPE_CHECKING:  # pragma: no cover
    from ..types import Progress
    from ..metrics import Metrics  # scikit-learn: imported by the commands that train or evaluate

EXIT_OK, EXIT_FILE_FAILED, EXIT_USAGE = 0, 1, 2


def number(cast: type, ok, rule: str):
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


positive = number(float, lambda v: v > 0, "positive")
int_at_least_2 = number(int, lambda v: v >= 2, "at least 2")
fraction = number(float, lambda v: 0 <= v < 1, "at least 0 and below 1")

DATA_HELP = "folder with human/ and ai/ subfolders, or a path,label CSV"
DB_HELP = "history database (default: $DETECTOR_DB or data/history.sqlite3)"


def analysis_options(p: argparse.ArgumentParser) -> None:
    """What ``analyze`` and ``batch`` share: the profile to score with and the decoding limits."""
    p.add_argument("--thresholds", metavar="PROFILE.json", help="threshold profile (JSON) to score with")
    p.add_argument("--segment-seconds", type=positive, default=DEFAULT_SEGMENT_SECONDS, metavar="S")
    p.add_argument("--max-duration", type=positive, default=DEFAULT_MAX_DURATION, metavar="S",
                   help="refuse tracks longer than this many seconds (default: 1200)")


def stability_options(p: argparse.ArgumentParser) -> None:
    """``--stability`` (and which perturbations) for ``analyze`` and ``batch``."""
    from ..audio.perturb import PERTURBATIONS

    p.add_argument("--stability", action="store_true",
                   help="also check how each verdict holds up when the track is re-encoded, resampled, pitch-shifted, "
                        "time-stretched, given noise, made louder or quieter, or trimmed (slower: every change is "
                        "analysed again)")
    p.add_argument("--perturbations", metavar="NAMES", type=_names(PERTURBATIONS),
                   help="with --stability: a comma-separated subset of " + ", ".join(PERTURBATIONS))


def _names(known) -> object:
    def parse(text: str) -> tuple[str, ...]:
        names = tuple(n.strip() for n in text.split(",") if n.strip())
        unknown = [n for n in names if n not in known]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"unknown perturbation(s): {', '.join(unknown) or '(none given)'}; "
                                             f"choose from {', '.join(known)}")
        return names

    return parse


def clap_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--clap-checkpoint", metavar="PATH",
                   help=f"LAION-CLAP checkpoint (.pt) for the CLAP layer (default: ${clap.ENV_VAR}, "
                        "then data/models/clap/*.pt)")
    p.add_argument("--no-clap", action="store_true", help="do not load a CLAP checkpoint even if one is found")
    p.add_argument("--clap-precision", choices=clap.PRECISIONS, default=clap.DEFAULT_PRECISION,
                   help="precision of the CLAP encoder's linear layers: fp32 (default, exact), bf16 (about 2x "
                        "faster on CPUs with AMX/AVX512-BF16, tiny drift) or int8 (as fast, drifts most); reports "
                        "and model cards record it")


def load_clap(args: argparse.Namespace) -> clap.ClapEncoder | None:
    """The encoder for every file, or None; says on stderr why a requested checkpoint won't load."""
    if args.no_clap:
        return None
    precision = getattr(args, "clap_precision", None) or clap.DEFAULT_PRECISION
    try:
        encoder = clap.get_encoder(args.clap_checkpoint, precision=precision)
    except clap.CheckpointNotFound:
        return None  # nothing configured: each report says how to enable the layer
    except clap.ClapUnavailable as exc:
        print(f"warning: the CLAP layer is off: {exc.reason} Analysing with the spectral layer only.",
              file=sys.stderr)
        return None
    if encoder.precision != precision:
        print(f"warning: CLAP runs in {encoder.precision}, not {precision}: {encoder.note}", file=sys.stderr)
    return encoder


def load_thresholds(path: str | None) -> Thresholds | None:
    """The profile at ``path`` (defaults without one), or ``None`` after printing why not."""
    try:
        return Thresholds.load(path) if path else Thresholds()
    except ProfileError as exc:
        print(f"error: bad threshold profile: {exc}", file=sys.stderr)
        return None


def live_progress() -> "Progress | None":
    """A :class:`~detector.types.Progress` that redraws one line on a terminal's stderr; None when stderr is not one."""
    if not sys.stderr.isatty():
        return None

    def progress(fraction: float, message: str) -> None:
        print(f"\r[{fraction:4.0%}] {message[:70]:<70}", end="" if fraction < 1 else "\n", file=sys.stderr)

    return progress


def print_progress(fraction: float, message: str) -> None:
    """A :class:`~detector.types.Progress` that prints a line per step to stderr."""
    print(f"[{fraction:4.0%}] {message}", file=sys.stderr, flush=True)


def format_metrics(metrics: "Metrics", title: str) -> str:
    """A few readable lines of classification metrics."""
    auc = "n/a (one class only)" if metrics.roc_auc is None else f"{metrics.roc_auc:.3f}"
    lines = [f"{title} ({metrics.n_samples} tracks: {metrics.class_counts['human']} human, "
             f"{metrics.class_counts['ai']} ai)",
             f"  ROC AUC   {auc}"]
    if metrics.fold_roc_auc:
        lines[-1] += "   per fold: " + ", ".join(f"{v:.3f}" for v in metrics.fold_roc_auc)
    (hh, ha), (ah, aa) = metrics.confusion_matrix
    lines += [f"  accuracy  {metrics.accuracy:.3f}", f"  F1 (ai)   {metrics.f1:.3f}",
              "  confusion matrix (rows: true, columns: predicted)",
              "              human     ai", f"    human  {hh:>7} {ha:>6}", f"    ai     {ah:>7} {aa:>6}"]
    if metrics.calibration:
        pts = ", ".join(f"{p:.2f}->{t:.2f}" for p, t in zip(metrics.calibration.prob_pred,
                                                            metrics.calibration.prob_true))
        lines.append(f"  calibration (mean P(AI) -> AI fraction per bin): {pts}")
    return "\n".join(lines)
