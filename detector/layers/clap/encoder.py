"""The loaded CLAP audio encoder: verified weights, the fast HTSAT pass, threaded batches.

Importing this module is cheap: torch and laion-clap are imported when a checkpoint is
loaded, not before, so the dashboard starts fast without them.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ...features.embedding import ClapFeatures, embedding_stats
from ...config import usable_cores
from ...files import sha256_file
from ...types import Progress
from .checkpoint import how_to_enable, read_audio_state
from .errors import CheckpointError, ClapUnavailable
from .laion import audio_modules, build_clap, check_keys, infer_architecture, laion_model_module, listing
from .precision import DEFAULT_PRECISION, PRECISION_MIN_COSINE, check_precision, unsupported
from .windows import EMBED_DIM, SAMPLE_RATE, WINDOW_SAMPLES, ClapEmbedding, aggregate, window_bounds, windows

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from .htsat import FastHTSAT

DEFAULT_BATCH_SIZE = 4


def default_threads() -> int:
    """Inference workers for CLAP: the usable cores.

    Each worker embeds whole batches of windows with one torch thread, so the cores never
    wait on each other inside an operation (with torch's own intra-op threads, HTSAT-base
    took 1.8-2.1 s per window on the shared 2-core machine whenever the OS descheduled
    one of them, against 0.7-0.8 s with one thread).
    """
    return usable_cores()


def load_encoder(path: str | os.PathLike, *, batch_size: int = DEFAULT_BATCH_SIZE,
                 threads: int | None = None, precision: str = DEFAULT_PRECISION) -> "ClapEncoder":
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
    precision
        ``"fp32"`` (default), ``"int8"`` or ``"bf16"`` for the linear layers
        (:mod:`detector.layers.clap.precision`). A reduced precision that this machine
        cannot run, or whose embedding of a probe is further than
        ``PRECISION_MIN_COSINE`` from fp32's, is not used: the encoder runs fp32 and its
        ``note`` says why (``ClapEncoder.precision`` is what runs).

    Raises
    ------
    ClapUnavailable
        torch/laion-clap not importable (``ClapUnavailable``) or a bad checkpoint
        (:class:`CheckpointError`).
    """
    path = Path(path)
    check_precision(precision)
    try:
        import torch

        laion_model_module()
    except Exception as exc:  # ImportError, or anything a broken install raises on import
        raise ClapUnavailable(f"laion-clap/torch not importable: {exc}",
                              "Install the requirements (pip install -r requirements.txt).") from exc
    state = read_audio_state(path)
    architecture = infer_architecture(state)
    encoder = audio_modules(build_clap(architecture))
    check_keys(encoder.state_dict(), state, path.name, architecture)
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise CheckpointError(f"{path.name} has non-finite (NaN/inf) weights in {listing(bad)}.", how_to_enable())
    encoder.load_state_dict(state, strict=True)
    encoder.eval()
    encoder.requires_grad_(False)
    fast, note = _fast_path(encoder, precision)
    return ClapEncoder(encoder, path, sha256_file(path), architecture, batch_size, threads or default_threads(),
                       fast=fast, note=note, precision=fast.precision if fast is not None else DEFAULT_PRECISION)


FAST_PATH_MIN_COSINE = 1 - 1e-5


def _fast_path(modules: "torch.nn.ModuleDict", precision: str = DEFAULT_PRECISION) -> tuple["FastHTSAT | None", str]:
    """:class:`detector.layers.clap.htsat.FastHTSAT` for ``modules`` if it matches laion-clap's forward here.

    Both run on a fixed probe (one full window and one repeat-padded one); any window's
    cosine below ``FAST_PATH_MIN_COSINE`` keeps laion-clap's own forward, and says so.
    A reduced ``precision`` is then built and compared with the fp32 fast path on the same
    probe; see :func:`_reduced`.
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
    note = f"fast path ({stft}, {linear}; cosine to laion-clap's forward {cosine:.7f} on a probe)"
    if precision == DEFAULT_PRECISION:
        return fast, note
    with torch.inference_mode():
        exact = fast(waveform)
    return _reduced(fast, exact, waveform, precision, note)


def _reduced(fast: "FastHTSAT", exact: "torch.Tensor", waveform: "torch.Tensor", precision: str,
             note: str) -> tuple["FastHTSAT", str]:
    """The fast path at a reduced ``precision`` if this machine runs it and it stays within
    ``PRECISION_MIN_COSINE`` of the fp32 ``exact`` embeddings of the probe ``waveform``; else ``fast`` (fp32)."""
    import torch

    from .htsat import FastHTSAT

    why = unsupported(precision)
    if why is None:
        try:
            reduced = FastHTSAT(fast.branch, fast.projection, fast.packed, precision=precision)
            with torch.inference_mode():
                cosine = float((reduced(waveform) * exact).sum(1).min())
        except (RuntimeError, ValueError, AttributeError, TypeError, NotImplementedError) as exc:
            why = f"it could not be built: {exc}"
        else:
            if cosine >= PRECISION_MIN_COSINE:
                return reduced, f"{precision} linear layers, {note}; cosine to fp32 {cosine:.5f} on the probe"
            why = f"its embedding of a probe is too far from fp32's (cosine {cosine:.5f} < {PRECISION_MIN_COSINE})"
    return fast, f"fp32, not {precision}: {why}; {note}"


class ClapEncoder:
    """A loaded CLAP audio encoder, safe to share between threads (inference is locked).

    ``fast`` is the :class:`detector.layers.clap.htsat.FastHTSAT` pass through the same modules, or
    ``None`` to use laion-clap's own forward; ``note`` says which runs and why. ``precision`` is
    the precision of the linear layers that run (``"fp32"``, ``"int8"`` or ``"bf16"``).
    """

    sample_rate = SAMPLE_RATE

    def __init__(self, modules: "torch.nn.ModuleDict", checkpoint: Path, sha256: str, architecture: str,
                 batch_size: int = DEFAULT_BATCH_SIZE, threads: int = 1, *, fast: "FastHTSAT | None" = None,
                 note: str = "laion-clap's own forward", precision: str = DEFAULT_PRECISION) -> None:
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
        self.precision = check_precision(precision)
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.checkpoint.name

    @property
    def checkpoint_sha256(self) -> str:
        """The checkpoint file's SHA-256 (what feature caches and model cards key CLAP vectors on)."""
        return self.sha256

    def __repr__(self) -> str:
        return f"ClapEncoder({self.name!r}, {self.architecture}, {self.precision}, sha256={self.sha256[:12]}...)"

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

    def embed_windows(self, batch: np.ndarray, progress: Progress | None = None) -> np.ndarray:
        """Embed prepared windows (n, 480000) -> L2-normalised (n, 512) float32.

        Batches run on ``min(threads, batches)`` worker threads with one torch thread
        each (all ``threads`` for a lone batch); ``progress`` is called on the calling
        thread as batches finish ("CLAP embeddings (3/18 windows)").
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
                        progress(done / n, f"CLAP embeddings ({done}/{n} windows)")
            finally:
                if pool is not None:  # e.g. progress raised: drop the batches not started yet
                    pool.shutdown(wait=True, cancel_futures=True)
                torch.set_num_threads(previous)
        return out

    def embed(self, samples: np.ndarray, progress: Progress | None = None) -> ClapEmbedding:
        """Embed a whole mono 48 kHz track.

        Parameters
        ----------
        samples
            Mono float32 samples at 48 kHz (e.g. ``detector.audio.decode(src, 48000).samples``).
        progress
            Called after each batch of windows.
        """
        x = np.asarray(samples, dtype=np.float32).ravel()
        emb = self.embed_windows(windows(x), progress)
        return ClapEmbedding(emb, aggregate(emb), window_bounds(x.size))

    def features(self, samples: np.ndarray, progress: Progress | None = None) -> ClapFeatures:
        """:meth:`embed` a mono 48 kHz track and compute the embedding statistics, whole and per window."""
        emb = self.embed(samples, progress)
        return ClapFeatures(
            checkpoint=self.name,
            checkpoint_sha256=self.sha256,
            architecture=self.architecture,
            aggregate=emb.aggregate,
            windows=emb.windows,
            window_bounds=emb.window_bounds,
            stats=embedding_stats(emb.aggregate),
            window_stats=tuple(embedding_stats(w) for w in emb.windows),
            precision=self.precision,
        )


def library_versions() -> dict[str, str]:
    """Versions of torch and laion-clap (for reports; only call once CLAP has run)."""
    from importlib import metadata

    return {"torch": metadata.version("torch"), "laion-clap": metadata.version("laion_clap")}


__all__ = ["DEFAULT_BATCH_SIZE", "FAST_PATH_MIN_COSINE", "ClapEncoder", "default_threads", "library_versions",
           "load_encoder"]
