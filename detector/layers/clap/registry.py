"""One encoder per checkpoint per process, and why the CLAP layer is off when it is."""

from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path
from typing import Any

from ...types import SkippedLayer
from .checkpoint import find_checkpoint
from .encoder import ClapEncoder, load_encoder
from .errors import CheckpointNotFound, ClapUnavailable
from .precision import DEFAULT_PRECISION

_failures: dict[Path, ClapUnavailable] = {}
_last_error: ClapUnavailable | None = None
_encoders: dict[tuple[Path, int, int, str], "ClapEncoder"] = {}
_cache_lock = threading.Lock()


def availability(explicit: str | os.PathLike | None = None) -> ClapUnavailable | None:
    """Why the CLAP layer cannot run now, or ``None`` when a checkpoint is ready to load.

    Cheap: checks that torch and laion-clap are installed without importing them, then
    reports the last failure of :func:`get_encoder` if its last call failed (e.g. an
    explicit ``--clap-checkpoint`` that does not load), else runs discovery and reports
    the last load failure of the checkpoint it finds.
    """
    missing = [m for m in ("torch", "laion_clap", "torchlibrosa") if importlib.util.find_spec(m) is None]
    if missing:
        return ClapUnavailable(
            f"laion-clap/torch not importable: {', '.join(missing)} not installed.",
            "Install the requirements (pip install -r requirements.txt).",
        )
    if _last_error is not None and explicit is None:
        return _last_error
    try:
        path = find_checkpoint(explicit)
    except ClapUnavailable as exc:
        return exc
    return _failures.get(path)


def get_encoder(explicit: str | os.PathLike | None = None, **kwargs: Any) -> "ClapEncoder":
    """Find and load a checkpoint once per process; later calls return the same encoder.

    The encoder is cached by path, size, modification time and ``precision`` (a keyword
    of :func:`load_encoder`, default fp32), so one model per precision serves every caller
    (e.g. all dashboard sessions); the other ``kwargs`` apply to the first load only. A
    failure is remembered for :func:`availability`.
    """
    global _last_error
    with _cache_lock:
        try:
            path = find_checkpoint(explicit)
            st = path.stat()
            precision = kwargs.pop("precision", None) or DEFAULT_PRECISION
            key = (path, st.st_size, st.st_mtime_ns, precision)
            if key not in _encoders:
                try:
                    _encoders[key] = load_encoder(path, precision=precision, **kwargs)
                except ClapUnavailable as exc:
                    _failures[path] = exc
                    raise
                _failures.pop(path, None)
        except ClapUnavailable as exc:
            # a plain "nothing found" is recomputed live by availability(), so it never goes stale
            _last_error = None if isinstance(exc, CheckpointNotFound) else exc
            raise
        _last_error = None
        return _encoders[key]


def skipped_layer(explicit: str | os.PathLike | None = None) -> SkippedLayer:
    """Why the CLAP layer did not run for an analysis given no encoder, and how to enable it.

    Asks :func:`availability` (cheap: imports neither torch nor laion-clap): no
    checkpoint found, torch/laion-clap missing, or the last load failure. When a
    checkpoint is ready but the caller passed no encoder, says so.
    """
    problem = availability(explicit)
    if problem is not None:
        return SkippedLayer("clap", problem.reason, problem.how_to_enable)
    path = find_checkpoint(explicit)
    return SkippedLayer(
        "clap",
        f"A LAION-CLAP checkpoint is available ({path}), but this analysis was run without the CLAP encoder.",
        "Pass clap=detector.layers.clap.get_encoder() to extract()/analyze(); the CLI and the dashboard load it "
        "themselves.",
    )


def preload(explicit: str | os.PathLike | None = None, *, precision: str = DEFAULT_PRECISION) -> threading.Thread | None:
    """Start loading the configured checkpoint in a background thread, so that the first analysis finds it loaded.

    Returns the thread, or None when no checkpoint is configured (nothing to load). A later
    :func:`get_encoder` of the same checkpoint waits for this load instead of starting its own; a load
    that fails is remembered for :func:`availability`, as if :func:`get_encoder` had been called.
    """
    try:
        path = find_checkpoint(explicit)
    except ClapUnavailable:
        return None

    def load() -> None:
        try:
            get_encoder(path, precision=precision)
        except ClapUnavailable:
            pass  # remembered by get_encoder for availability(); the page shows it

    thread = threading.Thread(target=load, name="clap-preload", daemon=True)
    thread.start()
    return thread


__all__ = ["availability", "get_encoder", "preload", "skipped_layer"]
