"""LAION-CLAP audio embeddings: find or download a checkpoint, load it, embed whole tracks.

Only the audio half of CLAP is built: the HTSAT audio branch and the ``audio_projection``
MLP, both from laion-clap's own model code (``laion_clap.clap_module.model.CLAP``) and the
model configs it ships (``clap_module/model_configs/HTSAT-*.json``). The text branch, and
with it RoBERTa and any network access, is never built.

A track is decoded at 48 kHz mono, cut into deterministic non-overlapping 10 s windows
that cover all of it (the last one repeat-padded as laion-clap does), quantised through
int16 as laion-clap does, and embedded in batches. Each window gives an L2-normalised
512-dim vector; the track's vector is their re-normalised mean.

Importing this module is cheap: torch and laion-clap are imported when a checkpoint is
loaded, not before, so the dashboard starts fast without them.

Where a checkpoint is looked for, in order: an explicit path (argument or CLI flag
``--clap-checkpoint``), the ``CLAP_CHECKPOINT`` environment variable, and any ``*.pt`` in
``<data dir>/models/clap/`` (the music checkpoint's name preferred).
"""

from __future__ import annotations

import hashlib
import http.client
import importlib.util
import json
import os
import posixpath
import socket
import sys
import threading
import types
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .config import data_dir

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from .htsat import FastHTSAT

SAMPLE_RATE = 48000
WINDOW_SECONDS = 10.0
WINDOW_SAMPLES = 480000  # laion-clap's clip_samples: 10 s at 48 kHz
EMBED_DIM = 512  # CLAP's joint embedding size
DEFAULT_BATCH_SIZE = 4

ENV_VAR = "CLAP_CHECKPOINT"
MUSIC_CHECKPOINT = "music_audioset_epoch_15_esc_90.14.pt"
MUSIC_CHECKPOINT_URL = f"https://huggingface.co/lukewys/laion_clap/resolve/main/{MUSIC_CHECKPOINT}"
_AUDIO_PREFIXES = ("audio_branch.", "audio_projection.")
_MAX_LISTED = 6


class ClapUnavailable(RuntimeError):
    """The CLAP layer cannot run. ``reason`` and ``how_to_enable`` are written for the user."""

    def __init__(self, reason: str, how_to_enable: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.how_to_enable = how_to_enable


class CheckpointNotFound(ClapUnavailable):
    """No checkpoint in any of the places searched (nothing explicit was asked for)."""


class CheckpointError(ClapUnavailable):
    """A checkpoint file exists but is not a usable LAION-CLAP checkpoint."""


class DownloadError(ClapUnavailable):
    """The checkpoint could not be downloaded (offline, interrupted, wrong size)."""


def checkpoint_dir() -> Path:
    """The cache folder for checkpoints: ``<data dir>/models/clap`` (not created here)."""
    return data_dir() / "models" / "clap"


def _how_to_enable(folder: Path | None = None) -> str:
    folder = folder or checkpoint_dir()
    return (
        f"Put a LAION-CLAP checkpoint such as {MUSIC_CHECKPOINT} (from {MUSIC_CHECKPOINT_URL}) into {folder}, "
        f"or point {ENV_VAR} or --clap-checkpoint at a LAION-CLAP .pt file. "
        "With a network connection, `python -m detector download-clap` fetches it."
    )


# --------------------------------------------------------------------------- discovery


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
            raise ClapUnavailable(f"The CLAP checkpoint {path} (given explicitly) does not exist.", _how_to_enable())
        return path.resolve()
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise ClapUnavailable(f"The CLAP checkpoint {path} (from ${ENV_VAR}) does not exist.", _how_to_enable())
        return path.resolve()
    candidates = sorted(p for p in folder.glob("*.pt") if p.is_file()) if folder.is_dir() else []
    if candidates:
        candidates.sort(key=lambda p: (p.name != MUSIC_CHECKPOINT, not p.name.startswith("music_"), p.name))
        return candidates[0].resolve()
    raise CheckpointNotFound(
        f"No LAION-CLAP checkpoint found (looked in: --clap-checkpoint: not given; ${ENV_VAR}: not set; "
        f"{folder}: no *.pt file).",
        _how_to_enable(folder),
    )


_failures: dict[Path, ClapUnavailable] = {}
_last_error: ClapUnavailable | None = None
_encoders: dict[tuple[Path, int, int], "ClapEncoder"] = {}
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

    The encoder is cached by path, size and modification time, so one model serves every
    caller (e.g. all dashboard sessions); ``kwargs`` (see :func:`load_encoder`) apply to
    the first load only. A failure is remembered for :func:`availability`.
    """
    global _last_error
    with _cache_lock:
        try:
            path = find_checkpoint(explicit)
            st = path.stat()
            key = (path, st.st_size, st.st_mtime_ns)
            if key not in _encoders:
                try:
                    _encoders[key] = load_encoder(path, **kwargs)
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


# --------------------------------------------------------------------------- download


def _reachable(url: str, timeout: float) -> str | None:
    """``None`` when a TCP connection to the URL's host (or its proxy) opens within ``timeout``, else why not."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        proxy_parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        host, port = proxy_parts.hostname or host, proxy_parts.port or 80
    result: list[str | None] = ["timed out"]

    def probe() -> None:  # getaddrinfo has no timeout of its own, hence the thread
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            result[0] = None
        except OSError as exc:
            result[0] = str(exc) or type(exc).__name__

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return result[0]


def download_checkpoint(
    dest_dir: str | os.PathLike | None = None,
    *,
    url: str = MUSIC_CHECKPOINT_URL,
    progress: Callable[[int, int | None], None] | None = None,
    expected_size: int | None = None,
    timeout: float = 30.0,
    connect_timeout: float = 3.0,
    keep_partial: bool = True,
) -> Path:
    """Download a checkpoint into ``dest_dir`` (default :func:`checkpoint_dir`).

    The bytes go to ``<name>.part`` in the destination folder, which is renamed into place
    atomically once its size matches what the server announced (and ``expected_size``,
    if given). An interrupted download keeps the ``.part`` file (unless ``keep_partial``
    is false) and the next call resumes it with an HTTP Range request; a server that
    ignores the range restarts the file from the beginning.

    Parameters
    ----------
    progress
        Called as ``progress(bytes_done, total_bytes_or_None)`` after every chunk.
    connect_timeout
        Seconds for the up-front connectivity check; offline, the call fails after that
        once, without retries.

    Raises
    ------
    DownloadError
        Offline, HTTP error, interrupted transfer or wrong size; the message says where to
        put the file by hand.
    """
    folder = Path(dest_dir) if dest_dir is not None else checkpoint_dir()
    name = posixpath.basename(urllib.parse.urlsplit(url).path) or MUSIC_CHECKPOINT
    final, part = folder / name, folder / (name + ".part")
    if final.is_file():
        return final
    by_hand = f"Download {url} yourself and put it into {folder} (or set {ENV_VAR} to its path)."
    why = _reachable(url, connect_timeout)
    if why is not None:
        host = urllib.parse.urlsplit(url).hostname
        raise DownloadError(f"Cannot download the CLAP checkpoint: {host} is not reachable ({why}).", by_hand)
    folder.mkdir(parents=True, exist_ok=True)
    offset = part.stat().st_size if part.is_file() else 0
    try:
        response = _open(url, offset, timeout)
        if response.status == 416 and offset:  # the .part is not a prefix the server recognises
            response.close()
            offset = 0
            response = _open(url, 0, timeout)
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise DownloadError(f"Cannot download the CLAP checkpoint from {url}: {exc}.", by_hand) from exc
    with response:
        if response.status >= 400:
            raise DownloadError(f"Cannot download the CLAP checkpoint from {url}: HTTP {response.status}.", by_hand)
        total, start = _response_span(response, offset)
        done = start
        try:
            with open(part, "ab" if start else "wb") as fh:
                if progress:
                    progress(done, total)
                while chunk := response.read(1 << 20):
                    fh.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
                fh.flush()
                os.fsync(fh.fileno())
        except (OSError, http.client.HTTPException) as exc:
            _interrupted(part, keep_partial)
            raise DownloadError(
                f"The CLAP checkpoint download stopped after {done:,} of {total or '?'} bytes ({exc}). "
                + ("Run it again to resume." if keep_partial else ""), by_hand) from exc
    if total is not None and done < total:
        _interrupted(part, keep_partial)
        raise DownloadError(
            f"The CLAP checkpoint download stopped after {done:,} of {total:,} bytes (connection closed). "
            + ("Run it again to resume." if keep_partial else ""), by_hand)
    size = part.stat().st_size
    want = expected_size if expected_size is not None else total
    if want is not None and size != want:
        part.unlink(missing_ok=True)
        raise DownloadError(f"The downloaded CLAP checkpoint has {size:,} bytes instead of {want:,}; removed it.",
                            by_hand)
    os.replace(part, final)
    return final


def _open(url: str, offset: int, timeout: float) -> http.client.HTTPResponse:
    headers = {"User-Agent": "ai-music-detector"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416:
            return exc  # type: ignore[return-value]  # HTTPError is a response; the caller restarts
        raise


def _response_span(response: http.client.HTTPResponse, offset: int) -> tuple[int | None, int]:
    """(total size or None, byte offset this response starts at)."""
    if response.status == 206:
        content_range = response.headers.get("Content-Range", "")  # "bytes 100-199/200"
        try:
            span, total = content_range.split(" ", 1)[1].split("/")
            first = int(span.split("-")[0])
            size = None if total == "*" else int(total)
        except (IndexError, ValueError):
            first, size = -1, None
        if first != offset:
            raise DownloadError(
                f"The server answered a resume request with an unexpected range ({content_range!r}).",
                "Delete the .part file next to the checkpoint and download again.")
        return size, first
    length = response.headers.get("Content-Length")
    return (int(length) if length and length.isdigit() else None), 0


def _interrupted(part: Path, keep: bool) -> None:
    if not keep:
        part.unlink(missing_ok=True)


# --------------------------------------------------------------------------- laion-clap model code


def _laion_root() -> Path:
    spec = importlib.util.find_spec("laion_clap")  # finds, does not import, a top-level package
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the laion-clap package is not installed")
    return Path(list(spec.submodule_search_locations)[0])


def _laion_model_module() -> types.ModuleType:
    """``laion_clap.clap_module.model``, imported without running the package ``__init__`` files.

    ``laion_clap/__init__.py`` imports ``hook.py`` and with it ``training/data.py``, which
    calls ``{Bert,Roberta,Bart}Tokenizer.from_pretrained`` at module level: that needs the
    Hugging Face hub (offline it retries for 30+ s, or fails with HF_HUB_OFFLINE=1).
    ``clap_module/__init__.py`` pulls in the tokenizer, loss and image-transform modules.
    ``model.py`` itself only needs htsat/pann/timm/utils (and transformers' classes, which
    it imports but does not instantiate for a "transformer" text config), so both parent
    packages are put in ``sys.modules`` as bare packages for the duration of the import.
    """
    name = "laion_clap.clap_module.model"
    if name in sys.modules:
        return sys.modules[name]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    root = _laion_root()
    stubs = []
    for pkg, path in (("laion_clap", root), ("laion_clap.clap_module", root / "clap_module")):
        if pkg not in sys.modules:
            module = types.ModuleType(pkg)
            module.__path__ = [str(path)]
            module.__package__ = pkg
            sys.modules[pkg] = module
            stubs.append(pkg)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return importlib.import_module(name)
    finally:
        for pkg in stubs:  # a later `import laion_clap` must get the real package
            sys.modules.pop(pkg, None)


def _model_configs() -> dict[str, dict]:
    """laion-clap's shipped HTSAT model configs, by name (``HTSAT-tiny``, ``HTSAT-base`` ...)."""
    folder = _laion_root() / "clap_module" / "model_configs"
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("HTSAT-*.json"))}


def _build_clap(architecture: str) -> "torch.nn.Module":
    """laion-clap's ``CLAP`` for ``architecture`` with a one-layer, one-token text stub.

    The audio branch and projection are exactly the package's; the text branch is the
    smallest "transformer" the constructor accepts (it is thrown away, or, in
    :func:`write_random_checkpoint`, it provides text-branch keys).
    """
    model_mod = _laion_model_module()
    configs = _model_configs()
    if architecture not in configs:
        raise CheckpointError(f"Unknown CLAP architecture {architecture!r}; known: {', '.join(configs)}.")
    cfg = configs[architecture]
    text_cfg = {"context_length": 2, "vocab_size": 8, "width": 8, "heads": 1, "layers": 1,
                "model_type": "transformer"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.meshgrid indexing warning inside HTSAT
        return model_mod.CLAP(cfg["embed_dim"], cfg["audio_cfg"], text_cfg, enable_fusion=False)


def _audio_modules(clap: "torch.nn.Module") -> "torch.nn.ModuleDict":
    """The audio half of a ``CLAP``: keys ``audio_branch.*`` and ``audio_projection.*``."""
    import torch

    return torch.nn.ModuleDict({"audio_branch": clap.audio_branch, "audio_projection": clap.audio_projection})


def write_random_checkpoint(path: str | os.PathLike, architecture: str = "HTSAT-tiny", seed: int = 0) -> Path:
    """Write a checkpoint with random weights in LAION's file layout (for tests and benchmarks).

    The layout is that of the released ``.pt`` files: ``{"epoch", "name", "state_dict"}``
    where the state dict holds the whole CLAP model (audio branch, audio projection and
    transform, a text branch, logit scales) with DataParallel's ``module.`` prefix. The
    weights are laion-clap's own random initialisation under ``torch.manual_seed(seed)``.
    """
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = _build_clap(architecture)
    state = {f"module.{k}": v for k, v in model.state_dict().items()}
    path = Path(path)
    torch.save({"epoch": 15, "name": f"random-{architecture}-seed{seed}", "state_dict": state}, path)
    return path


# --------------------------------------------------------------------------- checkpoint loading


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


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
    how = _how_to_enable()
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


def infer_architecture(state: Mapping[str, "torch.Tensor"]) -> str:
    """The HTSAT config (``HTSAT-tiny``, ``HTSAT-base`` ...) whose shapes fit ``state``.

    Uses the audio projection's input width (the HTSAT output width: 768 tiny, 1024 base,
    2048 large) and, to tell configs of equal width apart, the STFT kernel length.
    """
    proj = state.get("audio_projection.0.weight")
    if proj is None or proj.ndim != 2:
        raise CheckpointError("The checkpoint has no audio projection (audio_projection.0.weight), "
                              "so it is not a LAION-CLAP HTSAT checkpoint.", _how_to_enable())
    stft = state.get("audio_branch.spectrogram_extractor.stft.conv_real.weight")
    matches = [
        name for name, cfg in _model_configs().items()
        if cfg["embed_dim"] == proj.shape[1]
        and (stft is None or stft.shape[-1] == cfg["audio_cfg"]["window_size"])
    ]
    if len(matches) != 1:
        raise CheckpointError(
            f"Cannot tell the HTSAT architecture of this checkpoint: its audio projection takes "
            f"{proj.shape[1]} inputs, which fits {', '.join(matches) or 'no shipped HTSAT config'}.",
            _how_to_enable())
    return matches[0]


def _check_keys(expected: Mapping[str, "torch.Tensor"], state: Mapping[str, "torch.Tensor"], name: str,
                architecture: str) -> None:
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if tuple(expected[k].shape) != tuple(state[k].shape))
    problems = []
    if missing:
        problems.append(f"{len(missing)} audio weight(s) missing ({_listing(missing)})")
    if unexpected:
        problems.append(f"{len(unexpected)} unknown audio weight(s) ({_listing(unexpected)}; a fusion checkpoint?)")
    if wrong:
        shapes = [f"{k} {tuple(state[k].shape)} != {tuple(expected[k].shape)}" for k in wrong[:_MAX_LISTED]]
        problems.append(f"{len(wrong)} weight(s) of the wrong shape ({'; '.join(shapes)})")
    if problems:
        raise CheckpointError(
            f"{name} does not fit the {architecture} audio encoder: {'; '.join(problems)}. "
            "Only complete non-fusion LAION-CLAP HTSAT checkpoints can be used.", _how_to_enable())


def _listing(keys: list[str]) -> str:
    more = f", ... {len(keys) - _MAX_LISTED} more" if len(keys) > _MAX_LISTED else ""
    return ", ".join(keys[:_MAX_LISTED]) + more


def default_threads() -> int:
    """Inference workers for CLAP: the usable cores.

    Each worker embeds whole batches of windows with one torch thread, so the cores never
    wait on each other inside an operation (with torch's own intra-op threads, HTSAT-base
    took 1.8-2.1 s per window on the shared 2-core machine whenever the OS descheduled
    one of them, against 0.7-0.8 s with one thread).
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def load_encoder(path: str | os.PathLike, *, batch_size: int = DEFAULT_BATCH_SIZE,
                 threads: int | None = None) -> "ClapEncoder":
    """Load the audio encoder of a LAION-CLAP checkpoint file.

    The architecture is read from the tensors' shapes; every audio weight of that
    architecture must be present with the right shape, and no other audio weight may be
    (a partial load is an error). Text-branch weights are ignored.

    Parameters
    ----------
    batch_size
        Windows per forward pass.
    threads
        Inference workers (default :func:`default_threads`: the usable cores). A track's
        windows are split into equal batches of at most ``batch_size`` that the workers
        take in turn, each with one torch thread; a single batch gets all the threads.

    Raises
    ------
    ClapUnavailable
        torch/laion-clap not importable (``ClapUnavailable``) or a bad checkpoint
        (:class:`CheckpointError`).
    """
    path = Path(path)
    try:
        import torch

        _laion_model_module()
    except Exception as exc:  # ImportError, or anything a broken install raises on import
        raise ClapUnavailable(f"laion-clap/torch not importable: {exc}",
                              "Install the requirements (pip install -r requirements.txt).") from exc
    state = read_audio_state(path)
    architecture = infer_architecture(state)
    encoder = _audio_modules(_build_clap(architecture))
    _check_keys(encoder.state_dict(), state, path.name, architecture)
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise CheckpointError(f"{path.name} has non-finite (NaN/inf) weights in {_listing(bad)}.", _how_to_enable())
    encoder.load_state_dict(state, strict=True)
    encoder.eval()
    encoder.requires_grad_(False)
    fast, note = _fast_path(encoder)
    return ClapEncoder(encoder, path, sha256_file(path), architecture, batch_size, threads or default_threads(),
                       fast=fast, note=note)


FAST_PATH_MIN_COSINE = 1 - 1e-5


def _fast_path(modules: "torch.nn.ModuleDict") -> tuple["FastHTSAT | None", str]:
    """:class:`detector.htsat.FastHTSAT` for ``modules`` if it matches laion-clap's forward here.

    Both run on a fixed probe (one full window and one repeat-padded one); any window's
    cosine below ``FAST_PATH_MIN_COSINE`` keeps laion-clap's own forward, and says so.
    """
    import torch

    from .htsat import FastHTSAT, reference_embeddings

    branch, projection = modules["audio_branch"], modules["audio_projection"]
    t = np.arange(WINDOW_SAMPLES + WINDOW_SAMPLES // 3) / SAMPLE_RATE
    probe = 0.3 * np.sin(2 * np.pi * 440 * t) * np.sin(2 * np.pi * 0.5 * t) + 0.05 * np.sin(2 * np.pi * 3000 * t)
    waveform = torch.from_numpy(windows(probe))
    try:
        fast = FastHTSAT(branch, projection)
        with torch.inference_mode():
            cosine = float((fast(waveform) * reference_embeddings(branch, projection, waveform)).sum(1).min())
    except (RuntimeError, ValueError, AttributeError, TypeError) as exc:
        return None, f"laion-clap's own forward (the fast path could not be built: {exc})"
    if not cosine >= FAST_PATH_MIN_COSINE:
        return None, f"laion-clap's own forward (the fast path disagreed with it: cosine {cosine:.7f})"
    linear = "oneDNN packed linear" if fast.packed else "torch linear"
    stft = "FFT STFT" if fast.window is not None else "laion-clap's conv STFT"
    return fast, f"fast path ({stft}, {linear}; cosine to laion-clap's forward {cosine:.7f} on a probe)"


# --------------------------------------------------------------------------- windows and embedding


def quantize(samples: np.ndarray) -> np.ndarray:
    """laion-clap's ``int16_to_float32(float32_to_int16(x))`` round trip (``training/data.py``).

    Replicated because importing ``laion_clap.training.data`` needs the network (see
    :func:`_laion_model_module`); ``tests/test_clap.py`` checks it against that source.
    """
    x = np.clip(samples, a_min=-1.0, a_max=1.0)
    return ((x * 32767.0).astype(np.int16) / 32767.0).astype(np.float32)


def repeat_pad(samples: np.ndarray, length: int = WINDOW_SAMPLES) -> np.ndarray:
    """laion-clap's ``data_filling="repeatpad"``: tile whole copies, then zero-pad to ``length``."""
    if len(samples) >= length:
        return samples[:length]
    n_repeat = int(length / len(samples))
    tiled = np.tile(samples, n_repeat)
    return np.pad(tiled, (0, length - len(tiled)), mode="constant", constant_values=0)


def window_bounds(n_samples: int, sample_rate: int = SAMPLE_RATE) -> tuple[tuple[float, float], ...]:
    """(start, end) seconds of the non-overlapping 10 s windows that cover ``n_samples``."""
    n = -(-n_samples // WINDOW_SAMPLES)
    return tuple((i * WINDOW_SAMPLES / sample_rate, min((i + 1) * WINDOW_SAMPLES, n_samples) / sample_rate)
                 for i in range(n))


def windows(samples: np.ndarray) -> np.ndarray:
    """The model input: quantised, windowed and (last window) repeat-padded, shape (n, 480000)."""
    x = quantize(np.asarray(samples, dtype=np.float32).ravel())
    if x.size == 0:
        raise ValueError("Cannot embed an empty signal.")
    n = -(-x.size // WINDOW_SAMPLES)
    out = np.empty((n, WINDOW_SAMPLES), np.float32)
    full = x.size // WINDOW_SAMPLES
    out[:full] = x[: full * WINDOW_SAMPLES].reshape(full, WINDOW_SAMPLES)
    if full < n:
        out[full] = repeat_pad(x[full * WINDOW_SAMPLES:])
    return out


@dataclass(frozen=True)
class ClapEmbedding:
    """Per-window embeddings (n, 512), their aggregate (512,), and the windows' bounds in seconds."""

    windows: np.ndarray
    aggregate: np.ndarray
    window_bounds: tuple[tuple[float, float], ...]


def aggregate(window_embeddings: np.ndarray) -> np.ndarray:
    """Mean of the L2-normalised window embeddings, re-normalised (float32)."""
    e = np.asarray(window_embeddings, np.float64)
    e = e / np.linalg.norm(e, axis=1, keepdims=True)
    mean = e.mean(axis=0)
    return (mean / np.linalg.norm(mean)).astype(np.float32)


class ClapEncoder:
    """A loaded CLAP audio encoder, safe to share between threads (inference is locked).

    ``fast`` is the :class:`detector.htsat.FastHTSAT` pass through the same modules, or
    ``None`` to use laion-clap's own forward; ``note`` says which runs and why.
    """

    sample_rate = SAMPLE_RATE

    def __init__(self, modules: "torch.nn.ModuleDict", checkpoint: Path, sha256: str, architecture: str,
                 batch_size: int = DEFAULT_BATCH_SIZE, threads: int = 1, *, fast: "FastHTSAT | None" = None,
                 note: str = "laion-clap's own forward") -> None:
        if batch_size < 1 or threads < 1:
            raise ValueError(f"batch_size and threads must be at least 1, not {batch_size} and {threads}")
        self.threads = threads
        self.modules = modules
        self.checkpoint = Path(checkpoint)
        self.sha256 = sha256
        self.architecture = architecture
        self.batch_size = batch_size
        self.fast = fast
        self.note = note
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.checkpoint.name

    @property
    def checkpoint_sha256(self) -> str:
        """The checkpoint file's SHA-256 (what feature caches and model cards key CLAP vectors on)."""
        return self.sha256

    def __repr__(self) -> str:
        return f"ClapEncoder({self.name!r}, {self.architecture}, sha256={self.sha256[:12]}...)"

    def batches(self, n: int) -> list[tuple[int, int]]:
        """The (start, stop) window spans embedded together: equal batches, as many as a multiple of the workers.

        They depend only on ``n``, the batch size and the worker count, so a track's
        windows always meet the same companions and its embeddings are bit-identical
        from run to run.
        """
        workers = max(1, min(self.threads, n))
        count = -(-n // self.batch_size)
        count = -(-count // workers) * workers
        edges = np.linspace(0, n, min(count, n) + 1).round().astype(int)
        return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]

    def embed_windows(self, batch: np.ndarray,
                      progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Embed prepared windows (n, 480000) -> L2-normalised (n, 512) float32.

        Batches run on ``min(threads, batches)`` worker threads with one torch thread
        each (all ``threads`` for a lone batch); ``progress(windows_done, n)`` is called
        on the calling thread as batches finish.
        """
        import torch

        from .htsat import reference_embeddings

        batch = np.ascontiguousarray(batch, dtype=np.float32)
        n = len(batch)
        out = np.empty((n, EMBED_DIM), np.float32)
        spans = self.batches(n)
        workers = max(1, min(self.threads, len(spans)))  # no windows: no spans, nothing to run
        forward = self.fast or (lambda x: reference_embeddings(self.modules["audio_branch"],
                                                                self.modules["audio_projection"], x))

        def run(span: tuple[int, int]) -> np.ndarray:
            with torch.inference_mode():
                return forward(torch.from_numpy(batch[span[0]: span[1]])).numpy()

        with self._lock:
            previous = torch.get_num_threads()
            torch.set_num_threads(max(1, self.threads // workers))
            pool = ThreadPoolExecutor(workers, thread_name_prefix="clap") if workers > 1 else None
            try:
                done = 0
                if pool is None:
                    results = ((span, run(span)) for span in spans)
                else:
                    futures = {pool.submit(run, span): span for span in spans}
                    results = ((futures[f], f.result()) for f in as_completed(futures))
                for (start, stop), embedded in results:
                    out[start:stop] = embedded
                    done += stop - start
                    if progress:
                        progress(done, n)
            finally:
                if pool is not None:  # e.g. progress raised: drop the batches not started yet
                    pool.shutdown(wait=True, cancel_futures=True)
                torch.set_num_threads(previous)
        return out

    def embed(self, samples: np.ndarray, progress: Callable[[int, int], None] | None = None) -> ClapEmbedding:
        """Embed a whole mono 48 kHz track.

        Parameters
        ----------
        samples
            Mono float32 samples at 48 kHz (e.g. ``detector.audio.decode(src, 48000).samples``).
        progress
            Called as ``progress(windows_done, windows_total)`` after each batch.
        """
        x = np.asarray(samples, dtype=np.float32).ravel()
        emb = self.embed_windows(windows(x), progress)
        return ClapEmbedding(emb, aggregate(emb), window_bounds(x.size))


def library_versions() -> dict[str, str]:
    """Versions of torch and laion-clap (for reports; only call once CLAP has run)."""
    from importlib import metadata

    return {"torch": metadata.version("torch"), "laion-clap": metadata.version("laion_clap")}


__all__ = [
    "CheckpointError", "CheckpointNotFound", "ClapEmbedding", "ClapEncoder", "ClapUnavailable", "DownloadError", "EMBED_DIM",
    "ENV_VAR", "MUSIC_CHECKPOINT", "MUSIC_CHECKPOINT_URL", "SAMPLE_RATE", "WINDOW_SAMPLES", "aggregate",
    "availability", "checkpoint_dir", "default_threads", "download_checkpoint", "find_checkpoint", "get_encoder",
    "infer_architecture", "load_encoder", "quantize", "read_audio_state", "repeat_pad", "sha256_file",
    "window_bounds", "windows", "write_random_checkpoint",
]
