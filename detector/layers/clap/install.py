"""Installing a checkpoint file someone hands over (an upload): bounded, loaded once as a test, atomic.

The bytes are copied into a hidden folder inside the checkpoint folder (which
:func:`~.checkpoint.find_checkpoint` does not look into), loaded there with
:func:`~.encoder.load_encoder` exactly as the CLAP layer loads it (``torch.load`` with
``weights_only=True``: tensors and plain data, never code; every audio weight of the
architecture present with its shape; all finite), and only then renamed into the
checkpoint folder. A file that fails any check is deleted with its folder, so a bad
upload never lands where the CLAP layer would pick it up.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

from ...types import Progress, no_progress
from .checkpoint import ENV_VAR, checkpoint_dir, find_checkpoint, how_to_enable
from .errors import CheckpointError, ClapUnavailable

MAX_CHECKPOINT_MIB = 3072
"""The largest checkpoint accepted (MiB). LAION-CLAP's released checkpoints hold the audio and the
text branch, over 1 GiB; an upload is held in the server's memory while it is copied. The dashboard
also stays under Streamlit's ``server.maxUploadSize``, which its server enforces for every upload."""
_CHUNK = 1 << 20
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def checkpoint_name(name: str) -> str:
    """A safe file name for an uploaded checkpoint: no folders, no leading dot, plain characters, ``.pt``.

    Raises
    ------
    CheckpointError
        For a name that does not end in ``.pt``.
    """
    base = _UNSAFE.sub("_", Path(str(name).replace("\\", "/")).name).lstrip("._")
    if not base.lower().endswith(".pt") or len(base) <= 3:
        raise CheckpointError(f"{name!r} is not a .pt file; LAION-CLAP checkpoints are PyTorch .pt files.",
                              how_to_enable())
    return base[:-3] + ".pt"


def install_checkpoint(
    source: BinaryIO | bytes,
    name: str,
    *,
    dest_dir: str | os.PathLike | None = None,
    max_bytes: int = MAX_CHECKPOINT_MIB * 2**20,
    progress: Progress | None = None,
) -> Path:
    """Put the checkpoint ``source`` into ``dest_dir`` (default :func:`~.checkpoint.checkpoint_dir`) as ``name``.

    Parameters
    ----------
    source
        The file's bytes, or a binary file object read to its end (e.g. an upload).
    name
        Its file name (made safe with :func:`checkpoint_name`); a checkpoint of that
        name in ``dest_dir`` is replaced.
    max_bytes
        Larger files are refused (after reading at most this much).
    progress
        "copying NAME: 12 / 640 MiB", then "checking that NAME loads".

    Returns
    -------
    Path
        The installed file.

    Raises
    ------
    CheckpointError
        Wrong name, too large, empty, not a PyTorch file, a file that would run code, or
        not a complete LAION-CLAP audio encoder. Nothing is kept.
    ClapUnavailable
        torch or laion-clap cannot be imported (the file cannot be checked, so it is not kept).
    """
    from .encoder import load_encoder  # torch and laion-clap only when a checkpoint is checked

    progress = progress or no_progress
    name = checkpoint_name(name)
    folder = Path(dest_dir) if dest_dir is not None else checkpoint_dir()
    reader = io.BytesIO(source) if isinstance(source, (bytes, bytearray, memoryview)) else source
    total = getattr(source, "size", None) or (len(source) if isinstance(source, (bytes, bytearray)) else None)
    limit = f"{max_bytes / 2**20:,.0f} MiB"
    if total is not None and total > max_bytes:
        raise CheckpointError(f"{name} is {total / 2**20:,.0f} MiB; checkpoints above {limit} are not accepted.",
                              how_to_enable())
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder, prefix=".upload-"))
    try:
        staged = staging / name
        done = 0
        with open(staged, "wb") as fh:
            while chunk := reader.read(_CHUNK):
                done += len(chunk)
                if done > max_bytes:
                    raise CheckpointError(f"{name} is larger than {limit}; checkpoints that large are not accepted.",
                                          how_to_enable())
                fh.write(chunk)
                progress(0.5 * done / total if total else 0.0,
                         f"copying {name}: {done / 2**20:,.0f}" + (f" / {total / 2**20:,.0f} MiB" if total else " MiB"))
            fh.flush()
            os.fsync(fh.fileno())
        progress(0.5, f"checking that {name} loads as a LAION-CLAP checkpoint…")
        load_encoder(staged, threads=1)  # raises CheckpointError (or ClapUnavailable) with the reason
        os.chmod(staged, 0o644)
        final = folder / name
        os.replace(staged, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    progress(1.0, f"installed {name}")
    return final.resolve()


def installed_note(path: str | os.PathLike) -> str:
    """Whether the CLAP layer now uses ``path``, for a person; if not, which checkpoint wins and why."""
    path = Path(path).resolve()
    try:
        found = find_checkpoint()
    except ClapUnavailable as exc:
        return f"Installed {path.name}, but the CLAP layer does not find it: {exc.reason}"
    if found == path:
        return f"Installed {path.name} in {path.parent}; the CLAP layer uses it now."
    why = (f"${ENV_VAR} names {found}, which comes first; unset it to use {path.name}"
           if os.environ.get(ENV_VAR, "").strip() else
           f"{found.name} in the same folder comes first (the music checkpoint's name, then music_*, then "
           f"alphabetical order); remove it to use {path.name}")
    return f"Installed {path.name} in {path.parent}, but the CLAP layer uses another checkpoint: {why}."


__all__ = ["MAX_CHECKPOINT_MIB", "checkpoint_name", "install_checkpoint", "installed_note"]
