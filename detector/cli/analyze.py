"""``analyze FILE...``: analyse files and print their reports (text, or ``--json``)."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap

from ..analysis import analyze, check_stability, with_stability
from ..audio import AudioError
from ..audio.perturb import perturbation_set
from ..layers.heuristics import Thresholds
from ..report import DetectionReport
from ..report.summary import explain
from .options import (
    EXIT_FILE_FAILED, EXIT_OK, EXIT_USAGE, analysis_options, clap_options, load_clap, load_thresholds, live_progress,
    stability_options,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", help="analyse audio files (WAV, FLAC, OGG/Vorbis, Opus, MP3)")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true", help="print one JSON report per file (a JSON list)")
    analysis_options(p)
    p.add_argument("--model", metavar="MODEL.skops", help="trained classifier to score with")
    stability_options(p)
    clap_options(p)
    p.set_defaults(func=run)


def print_summary(report: DetectionReport) -> None:
    """One line: name, verdict (three-way), what the score is, duration, format, the deciding layer, the
    artifact finding and, when checked, the verdict's stability."""
    artifacts = f", {report.artifacts.label}" if report.artifacts is not None else ""
    stability = report.stability
    held = (f"; {stability.title.lower()} under {len(stability.ran)} changes (spread {stability.spread:.2f}, "
            f"{len(stability.flips)} changed the call)" if stability is not None else "")
    print(f"{report.source_name}: {report.verdict}  {report.score_name} {report.score:.3f}  "
          f"({report.duration:.1f} s, {report.format}, decided by {report.decided_by}{artifacts}){held}")


def print_report(report: DetectionReport, thresholds: Thresholds) -> None:
    """The summary line, every layer's score and rule contributions, the artifact finding in words,
    skipped layers and warnings."""
    print_summary(report)
    explanation = explain(report, thresholds)
    for text in (explanation.headline, explanation.evidence, explanation.segments):
        if text:
            print(textwrap.fill(text, width=110, initial_indent="  ", subsequent_indent="  "))
    for layer in report.layers.values():
        print(f"  {layer.name} layer: {layer.score:.3f}")
        for c in layer.contributions:
            print(f"    {c.feature:<14} {c.value:>12.4f}  {c.band:<9} {c.delta:+.2f}")
    if "classifier" in report.layers:
        print(f"    {'classifier':<14} P(AI) {report.layers['classifier'].score:.4f}  "
              f"({report.versions['classifier_model']}, {report.versions['classifier_feature_set']})")
    if report.artifacts is not None:
        print(f"  decoder fingerprint: {report.artifacts.summary}")
    for skipped in report.skipped:
        print(f"    [{skipped.name} did not run] {skipped.reason}")
    for warning in report.warnings:
        print(f"    warning: {warning}")
    if report.stability is not None:
        print_stability(report)


def print_stability(report: DetectionReport) -> None:
    """The stability check in words, then one line per perturbation: score, call, every layer's score."""
    stability = report.stability
    print(textwrap.fill(f"stability: {stability.words}", width=110, initial_indent="  ", subsequent_indent="  "))
    for p in stability.perturbations:
        if p.ran:
            changed = " (changed)" if p.call != stability.call else ""
            layers = ", ".join(f"{name} {value:.2f}" for name, value in p.layers.items())
            print(f"    {p.description:<44} {p.score:.3f}  {p.call + changed:<22} {layers}")
        else:
            print(f"    {p.description:<44} did not run: {p.skipped}")


def run(args: argparse.Namespace) -> int:
    thresholds = load_thresholds(args.thresholds)
    if thresholds is None:
        return EXIT_USAGE
    model = None
    if args.model:
        from ..layers.classifier import ModelError, load_model  # scikit-learn and skops only when asked for

        try:
            model = load_model(args.model)
        except ModelError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        for warning in model.warnings:
            print(f"warning: {warning}", file=sys.stderr)
    encoder = load_clap(args)
    perturbations = perturbation_set(args.perturbations)
    reports, failed = [], 0
    for path in args.files:
        try:
            report = analyze(path, thresholds, segment_seconds=args.segment_seconds,
                             max_duration=args.max_duration, clap=encoder, model=model)
            if args.stability:
                report = with_stability(report, check_stability(
                    path, report, perturbations=perturbations, clap=encoder, model=model,
                    segment_seconds=args.segment_seconds, max_duration=args.max_duration,
                    progress=live_progress()))
        except AudioError as exc:
            failed += 1
            print(f"error: {path}: {exc}", file=sys.stderr)
            if args.json:
                reports.append({"source_name": path, "error": str(exc)})
            continue
        if args.json:
            reports.append(report.to_dict())
        else:
            print_report(report, thresholds)
    if args.json:
        print(json.dumps(reports, indent=2, sort_keys=True))
    return EXIT_FILE_FAILED if failed else EXIT_OK
