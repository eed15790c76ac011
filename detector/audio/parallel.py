"""Decoding one compressed file on two cores, sample for sample as one decoder would.

libsndfile seeks MP3, Ogg/Vorbis and FLAC to the exact sample (tested in
``tests/test_decode_parallel.py``), so a file can be cut into chunks of whole decoding blocks
that worker threads decode at once (libsndfile runs without the GIL), and handed back in order,
block by block, exactly as one serial read would have produced them. Opus is not seeked (its
seek decodes from the start): each chunk decodes a stream restarted at a page two seconds
before it (:mod:`.ogg`) and drops what precedes its first block. Nothing is taken on trust:

* every chunk after the first starts one block early, and that block must equal, bit for bit,
  the last block the previous chunk decoded;
* the blocks must add up to the frame count the header promised, and no decoder may have
  reported damage (libsndfile's log; mpg123's stderr, tapped for the whole decode);

otherwise :class:`NotParallel` is raised and the caller decodes serially, as it always did, so
damaged, truncated or lying files keep their serial warnings. At most ``workers + 1`` chunks are
decoded ahead of the consumer, which bounds the memory a long track holds in flight.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import soundfile as sf

from ..config import cpu_threads
from .damage import StderrTap, damage_in
from .ogg import OpusPages

PARALLEL_FORMATS = frozenset({("MP3", "MPEG_LAYER_III"), ("OGG", "VORBIS"), ("OGG", "OPUS"), ("FLAC", "PCM_16"),
                              ("FLAC", "PCM_24"), ("FLAC", "PCM_S8")})
"""(container, codec) pairs worth decoding on two cores. Not WAV: its decoding is a copy."""
CHUNK_BLOCKS = 24
"""Decoding blocks per chunk: with 65,536-frame blocks about 36 s at 44.1 kHz."""
WORKERS = 2


class NotParallel(Exception):
    """The parallel decode could not be shown equal to a serial one: decode serially instead."""


@dataclass(frozen=True)
class _Chunk:
    """One chunk's decoding: its first block decoded twice (the check), its blocks, and its decoder's log."""

    overlap: np.ndarray | None
    blocks: list[np.ndarray]
    damage: int


def eligible(snd: sf.SoundFile, block: int) -> bool:
    """Whether ``snd`` is long enough, seekable and of a format to decode in parallel, with a second CPU thread
    to do it (:func:`detector.config.cpu_threads`)."""
    return ((snd.format, snd.subtype) in PARALLEL_FORMATS and snd.seekable() and snd.frames >= 2 * CHUNK_BLOCKS * block
            and cpu_threads() >= 2)


Opener = Callable[[int], tuple[BinaryIO, int]]
"""``open_at(frame)``: a new file object over the same audio that reaches ``frame``, and the frame of the
whole file its first sample is (0: the whole file, to seek in)."""


def _decode_chunk(open_at: Opener, first: int, count: int | None, block: int, max_frames: int) -> _Chunk:
    """Blocks ``first`` to ``first + count`` (``None``: to the end of the file) of a fresh decoder,
    preceded by block ``first - 1`` (the overlap) when ``first > 0``."""
    start = max(first - 1, 0) * block
    fh, origin = open_at(start)
    with fh, sf.SoundFile(fh) as snd:
        log_before = snd.extra_info
        if origin:  # a restarted stream: decode the pre-roll and drop it
            for skip in range(start - origin, 0, -block):
                snd.read(min(skip, block), dtype="float32", always_2d=True)
        else:
            snd.seek(start)
        overlap = snd.read(block, dtype="float32", always_2d=True) if first > 0 else None
        blocks, read = [], first * block
        while count is None or len(blocks) < count:
            data = snd.read(block, dtype="float32", always_2d=True)
            blocks.append(data)
            read += data.shape[0]
            if data.shape[0] < block or read > max_frames:
                break
        log = snd.extra_info
        events = damage_in(log[len(log_before):].splitlines() if log.startswith(log_before) else log.splitlines())[0]
    return _Chunk(overlap, blocks, events)


def parallel_blocks(snd: sf.SoundFile, open_at: Opener, block: int, max_frames: int,
                    workers: int = WORKERS) -> Iterator[np.ndarray]:
    """The blocks a serial ``snd.read(block)`` loop would give, decoded ``workers`` chunks at a time.

    Parameters
    ----------
    snd : soundfile.SoundFile
        The open file (only its header is used; it is not read).
    open_at : callable
        An :data:`Opener` (:func:`opener`): a new file object for each chunk.
    block : int
        Frames per block.
    max_frames : int
        Stop reading past this many frames (a header that under-states the length).

    Yields
    ------
    (block, channels) float32 arrays, the last one shorter than ``block`` (possibly empty).

    Raises
    ------
    NotParallel
        Before or after yielding blocks: the caller must discard what it was given and decode serially.
    """
    n_blocks = snd.frames // block + 1  # the serial loop's reads, the last one short (maybe empty)
    starts = list(range(0, n_blocks, CHUNK_BLOCKS))
    tap = StderrTap() if snd.format == "MP3" else None
    with ThreadPoolExecutor(workers) as pool:
        pending: list[Future[_Chunk]] = []

        def submit(i: int) -> None:
            count = None if i == len(starts) - 1 else CHUNK_BLOCKS
            pending.append(pool.submit(_decode_chunk, open_at, starts[i], count, block, max_frames))

        if tap is not None:
            tap.__enter__()
        try:
            for i in range(min(workers + 1, len(starts))):
                submit(i)
            previous, frames = None, 0
            for i in range(len(starts)):
                try:
                    chunk = pending[i].result()
                except Exception as exc:  # noqa: BLE001 - whatever failed, the serial decode is the answer
                    raise NotParallel(f"chunk {i} failed: {type(exc).__name__}: {exc}") from None
                pending[i] = None  # type: ignore[call-overload]  # let its blocks go once yielded
                if i + workers + 1 < len(starts):
                    submit(i + workers + 1)
                if chunk.damage:
                    raise NotParallel("a decoder reported damage")
                final = i == len(starts) - 1
                if any(b.shape[0] < block for b in chunk.blocks[:-1 if final else None]) or not chunk.blocks or (
                        not final and len(chunk.blocks) < CHUNK_BLOCKS):
                    raise NotParallel(f"chunk {i} ended early: the file is shorter than its header says")
                if previous is not None and not np.array_equal(previous, chunk.overlap):
                    raise NotParallel(f"chunk {i} does not continue chunk {i - 1} sample for sample")
                for data in chunk.blocks:
                    frames += data.shape[0]
                    yield data
                previous = chunk.blocks[-1] if chunk.blocks else None
        finally:
            for future in pending:
                if future is not None:
                    future.cancel()
            if tap is not None:
                tap.__exit__(None, None, None)
    if frames != snd.frames:
        raise NotParallel("the decoded length differs from the header's")
    if tap is not None and damage_in(tap.lines)[0]:
        raise NotParallel("mpg123 reported damage")


def opener(source: object, fh: BinaryIO, snd: sf.SoundFile) -> Opener | None:
    """How each chunk opens ``fh``'s audio again, independently, or ``None`` when it can't.

    Bytes are shared, not copied (``io.BytesIO`` over the same ``bytes``); a path is opened again.
    An Opus file (decoded at 48 kHz) is read whole and each chunk gets a stream restarted before it
    (:class:`.ogg.OpusPages`); any other Opus file, or one whose pages are not one plain stream, gives None.
    """
    if isinstance(fh, io.BytesIO):
        data = fh.getvalue()  # the BytesIO's own bytes object while it is unmodified: not a copy
        reopen: Callable[[], BinaryIO] = lambda: io.BytesIO(data)  # noqa: E731
    elif isinstance(name := getattr(fh, "name", None), str) and fh is not source:
        reopen = lambda: open(name, "rb")  # noqa: E731
    else:
        return None
    if snd.subtype != "OPUS":
        return lambda frame: (reopen(), 0)
    if snd.samplerate != 48000:  # granule positions count 48 kHz samples; libsndfile decodes at the file's rate
        return None
    if not isinstance(fh, io.BytesIO):
        try:
            with reopen() as whole:
                data = whole.read()
        except (OSError, MemoryError):  # gone or unreadable since it was opened: the serial decode goes on
            return None
    pages = OpusPages.parse(data)
    if pages is None:
        return None

    def restarted(frame: int) -> tuple[BinaryIO, int]:
        stream, origin = pages.restart(frame)
        return io.BytesIO(stream), origin

    return restarted


__all__ = ["CHUNK_BLOCKS", "PARALLEL_FORMATS", "NotParallel", "Opener", "eligible", "opener", "parallel_blocks"]
