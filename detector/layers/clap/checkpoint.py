"""Where LAION-CLAP checkpoints are found, and reading their audio-encoder tensors safely.

Where a checkpoint is looked for, in order: an explicit path (argument or CLI flag
``--clap-checkpoint``), the ``CLAP_CHECKPOINT`` environment variable, and any ``*.pt`` in
``<data dir>/models/clap/`` (the music checkpoint's name preferred; hidden files, such as
the temporary file of an upload being checked, are not considered).

The music checkpoint is downloaded from Hugging Face, or from the mirror that
``HF_ENDPOINT`` names (Hugging Face's own variable for mirrors): :func:`checkpoint_url`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ...config import data_dir
from .errors import CheckpointError, CheckpointNotFound, ClapUnavailable

if TYPE_CHECKING:  # pragma: no cover
    import torch

ENV_VAR = "CLAP_CHECKPOINT"
MUSIC_CHECKPOINT = "music_audioset_epoch_15_esc_90.14.pt"
MUSIC_CHECKPOINT_URL = f"https://huggingface.co/lukewys/laion_clap/resolve/main/{MUSIC_CHECKPOINT}"
ENDPOINT_ENV = "HF_ENDPOINT"
_AUDIO_PREFIXES = ("audio_branch.", "audio_projection.")


def checkpoint_url() -> str:
    """Where the music checkpoint is downloaded from: :data:`MUSIC_CHECKPOINT_URL`, on ``$HF_ENDPOINT`` if set.

    ``HF_ENDPOINT=https://hf-mirror.example`` gives
    ``https://hf-mirror.example/lukewys/laion_clap/resolve/main/music_audioset_epoch_15_esc_90.14.pt``.
    """
    endpoint = os.environ.get(ENDPOINT_ENV, "").strip().rstrip("/")
    if not endpoint:
        return MUSIC_CHECKPOINT_URL
    return endpoint + MUSIC_CHECKPOINT_URL.removeprefix("https://huggingface.co")


def checkpoint_dir() -> Path:
    """The cache folder for checkpoints: ``<data dir>/models/clap`` (not created here)."""
    return data_dir() / "models" / "clap"


def how_to_enable(folder: Path | None = None) -> str:
    folder = folder or checkpoint_dir()
    return (
        f"Put a LAION-CLAP checkpoint such as {MUSIC_CHECKPOINT} (from {MUSIC_CHECKPOINT_URL}) into {folder}, "
        f"or point {ENV_VAR} or --clap-checkpoint at a LAION-CLAP .pt file. "
        "With a network connection, the dashboard's Models page (Download) or `python -m detector download-clap` "
        "fetches it; the Models page also takes a .pt file as an upload."
    )


def find_checkpoint(explicit: str | os.PathLike | None = None) -> Path:
    """Locate a checkpoint: ``explicit``, then ``$CLAP_CHECKPOINT``, then :func:`checkpoint_dir`.

    An explicit path or environment variable that names a missing file is an error
    (the user asked for that file), not a reason to look elsewhere.

    Raises
    ------
    ClapUnavailable
        Nothing found; the message lists every place that was looked at.
    """
    folder = checkpoint_dir()
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ClapUnavailable(f"The CLAP checkpoint {path} (given explicitly) does not exist.", how_to_enable())
        return path.resolve()
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise ClapUnavailable(f"The CLAP checkpoint {path} (from ${ENV_VAR}) does not exist.", how_to_enable())
        return path.resolve()
    candidates = sorted(p for p in folder.glob("*.pt") if p.is_file() and not p.name.startswith(".")) \
        if folder.is_dir() else []
    if candidates:
        candidates.sort(key=lambda p: (p.name != MUSIC_CHECKPOINT, not p.name.startswith("music_"), p.name))
        return candidates[0].resolve()
    raise CheckpointNotFound(
        f"No LAION-CLAP checkpoint found (looked in: --clap-checkpoint: not given; ${ENV_VAR}: not set; "
        f"{folder}: no *.pt file).",
        how_to_enable(folder),
    )


def read_audio_state(path: str | os.PathLike) -> dict[str, "torch.Tensor"]:
    """The audio-encoder tensors of a LAION checkpoint, with ``module.`` prefixes removed.

    Accepts a bare state dict or one wrapped as ``{"state_dict": ...}``. Loaded with
    ``weights_only=True``: a checkpoint can hold tensors and plain data, never code.

    Raises
    ------
    CheckpointError
        Unreadable, truncated or not a LAION-CLAP checkpoint.
    """
    import pickle

    import torch

    path = Path(path)
    how = how_to_enable()
    if not path.is_file():
        raise CheckpointError(f"The CLAP checkpoint {path} does not exist.", how)
    if path.stat().st_size == 0:
        raise CheckpointError(f"The CLAP checkpoint {path} is empty.", how)
    try:
        try:
            raw = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as exc:
            if "mmap" not in str(exc):
                raise
            raw = torch.load(path, map_location="cpu", weights_only=True)  # legacy (non-zip) format
    except Exception as exc:  # torch.load raises many types for a file that is not a checkpoint
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        unsupported = [line.strip() for line in str(exc).splitlines() if "Unsupported global" in line]
        if isinstance(exc, pickle.UnpicklingError) and unsupported:
            raise CheckpointError(
                f"{path.name} contains Python objects that would run code when loaded, so it is not opened "
                f"({unsupported[0]}). LAION-CLAP checkpoints hold only tensors.", how) from exc
        raise CheckpointError(
            f"{path.name} is not a readable PyTorch checkpoint; it may be truncated or corrupt "
            f"(an incomplete download?): {first}.", how) from exc
    state = raw.get("state_dict", raw) if isinstance(raw, Mapping) else None
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{path.name} is a PyTorch file but not a model checkpoint (no state dict).", how)
    audio = {}
    for key, value in state.items():
        key = str(key)
        while key.startswith("module."):
            key = key[len("module."):]
        if key.startswith(_AUDIO_PREFIXES) and isinstance(value, torch.Tensor):
            audio[key] = value
    if not audio:
        raise CheckpointError(
            f"{path.name} holds no CLAP audio encoder (no audio_branch.* / audio_projection.* weights); "
            "is it a LAION-CLAP checkpoint?", how)
    return audio


__all__ = [
    "ENDPOINT_ENV", "ENV_VAR", "MUSIC_CHECKPOINT", "MUSIC_CHECKPOINT_URL", "checkpoint_dir", "checkpoint_url",
    "find_checkpoint", "how_to_enable", "read_audio_state",
]
