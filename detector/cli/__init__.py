"""Command line: ``python -m detector COMMAND``, one module per command.

``python -m detector analyze FILE... [--json] [--thresholds PROFILE.json] [--model MODEL.skops] [--clap-checkpoint PATH]``
    Analyse files and print their reports.
``python -m detector download-clap [--dest DIR]``
    Download the LAION-CLAP music checkpoint (exit 1 if the download fails).
``python -m detector batch PATH... [--db FILE] [--thresholds PROFILE.json] [--json]``
    Analyse files and folders (recursively), reusing and filling the history.
``python -m detector scan SOURCE --out OUT [--workers N] [--address ADDR] [--profile PROFILE.json] [--model MODEL.skops] [--limit N] [--stability]``
    Analyse a folder or a CSV/Parquet manifest on Ray Data into a resumable Parquet dataset
    (see :mod:`detector.cli.scan`).
``python -m detector history [--db FILE] [--limit N] [--search TEXT] [--csv]``
    List the stored analyses, newest first.

``analyze`` and ``batch`` exit codes: 0 every file analysed; 1 at least one file could
not be analysed (the others still are); 2 bad usage, a bad threshold profile, an
unusable model or an unusable history database.

``python -m detector train DATA --out MODEL.skops [--features auto|spectral|clap|fakeprint] [--model-kind ensemble|logistic] [--folds 5] [--test-size 0.2]``
    DATA is a folder with ``human/`` and ``ai/`` subfolders or a ``path,label`` CSV.
    Progress goes to stderr, metrics to stdout (``--json`` for JSON). Files that
    cannot be used are skipped and listed at the end; they do not change the exit
    code. Exit codes: 0 the model was trained and saved; 2 bad usage, a bad dataset
    path, too few usable files per class, or a feature set that is not available.

``python -m detector evaluate DATA --model MODEL.skops [--json]``
    Metrics of a saved model on a labelled dataset. Exit codes: 0 evaluated (skipped
    files are listed); 2 bad usage, an unusable model or no usable files.

``python -m detector serve [--address 0.0.0.0] [--port 8501] [--check]``
    Start the dashboard for a team (``make serve``): refuses, exit code 2, unless sign-in
    is configured in ``.streamlit/secrets.toml`` (see :mod:`detector.cli.serve`).

``analyze``, ``batch``, ``train`` and ``evaluate`` add the CLAP layer when they find a
LAION-CLAP checkpoint (``--clap-checkpoint``, ``$CLAP_CHECKPOINT`` or
``<data dir>/models/clap/*.pt``; ``--no-clap`` turns it off). It is loaded once for all
files; if it cannot be, the reason goes to stderr and the spectral layer carries on.
``--clap-precision fp32|int8|bf16`` sets the precision of its linear layers (default fp32;
see :mod:`detector.layers.clap.precision`); reports and model cards record it.
"""

from __future__ import annotations

import argparse

from . import analyze, batch, download, evaluate, history, scan, serve, train

COMMANDS = (analyze, download, batch, scan, history, train, evaluate, serve)
"""Each module adds its sub-parser with ``set_defaults(func=run)``; ``run(args)`` returns the exit code."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m detector", description="Detect AI-generated music.")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


__all__ = ["build_parser", "main"]
