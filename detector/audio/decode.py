"""Decode audio from a path, raw bytes or a binary file object.

Everything is decoded in memory with libsndfile (through ``soundfile``), down-mixed
to mono block by block and resampled with soxr as it streams, so a long file never
holds more than one block of multichannel audio (three chunks of about 36 s when a long MP3,
Vorbis or FLAC file is decoded on two cores, :mod:`detector.audio.parallel`) and the audio is
never written to disk.

Every problem a person can cause (wrong format, corrupt, empty, too short, too long,
silent, NaN samples) raises :class:`AudioError` with a message meant for that person.
Damage the decoder reads past (MP3 frames or Ogg pages it had to skip) becomes one of
:attr:`Audio.warnings`: libsndfile notes Ogg's skips in its log, but mpg123 writes its
skips only to stderr, so each MP3 block is read with file descriptor 2 tapped
(:mod:`detector.audio.damage`).
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import BinaryIO, Union

import numpy as np
import soundfile as sf
import soxr

from ..errors import DetectorError
from ..types import Progress
from .buffers import GrowingArray, downmix
from .damage import StderrTap, damage_in
from .formats import SUPPORTED_FORMATS
from .parallel import NotParallel, Opener, eligible, opener, parallel_blocks

AudioSource = Union[str, os.PathLike, bytes, bytearray, memoryview, BinaryIO]

# libsndfile container -> allowed subtypes (None: any subtype of that container).
_ALLOWED = {
    "WAV": None,
    "WAVEX": None,
    "RF64": None,
    "FLAC": None,
    "OGG": {"VORBIS", "OPUS"},
    "MP3": None,
}
_FORMAT_LABEL = {"WAV": "WAV", "WAVEX": "WAV", "RF64": "WAV", "FLAC": "FLAC", "MP3": "MP3"}

DEFAULT_MAX_DURATION = 20 * 60.0
DEFAULT_MIN_DURATION = 1.0
SILENCE_PEAK = 1e-5  # -100 dBFS: below this a whole track counts as silent
# +60 dBFS. Float files may go somewhat past full scale (1.0); far beyond it the spectra overflow float32
# (a spike of 1e30 or 3.4e38 turned into NaN features), and nothing real sounds like that.
MAX_PEAK = 1000.0
_BLOCK = 1 << 16  # frames per decoded block (~1.5 s at 44.1 kHz): a damaged file loses at most one
_HASH_CHUNK = 1 << 20


class AudioError(DetectorError, ValueError):
    """A file could not be used as audio. ``str(err)`` is written for the user."""


@dataclass(frozen=True)
class Audio:
    """Mono float32 samples plus what is known about where they came from.

    Attributes
    ----------
    samples : np.ndarray
        Mono float32 samples at ``sample_rate``.
    sample_rate : int
        Rate of ``samples`` in Hz (the requested rate).
    sha256 : str
        Hex SHA-256 of the encoded input bytes.
    format : str
        Human label of the container/codec, e.g. ``"FLAC"`` or ``"OGG/Opus"``.
    source_rate, channels : int
        Rate and channel count of the encoded file.
    warnings : tuple of str
        Problems that did not stop decoding (for example a header that promised
        more audio than the file holds, or damaged data the decoder skipped).
    """

    samples: np.ndarray
    sample_rate: int
    sha256: str
    format: str
    source_rate: int
    channels: int
    warnings: tuple[str, ...] = field(default=())

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.samples.shape[0] / self.sample_rate

    def at_rate(self, rate: int) -> "Audio":
        """The same audio at ``rate`` Hz, resampled as decoding does (soxr, HQ); itself when already there."""
        if rate == self.sample_rate:
            return self
        samples = soxr.resample(self.samples, self.sample_rate, rate, quality="HQ").astype(np.float32, copy=False)
        return Audio(samples, rate, self.sha256, self.format, self.source_rate, self.channels, self.warnings)


def _fmt_seconds(seconds: float) -> str:
    if seconds >= 60:
        return f"{int(seconds // 60)} min {seconds % 60:04.1f} s"
    return f"{seconds:.2f} s"


def _open_binary(source: AudioSource) -> tuple[BinaryIO, bool]:
    """Return a seekable binary file object and whether we must close it."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(source)), True
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.exists(path):
            raise AudioError(f"File not found: {path}")
        if os.path.isdir(path):
            raise AudioError(f"{path} is a folder, not an audio file.")
        try:
            return open(path, "rb"), True
        except OSError as exc:
            raise AudioError(f"Cannot open {path}: {exc.strerror}.") from None
    if hasattr(source, "read"):
        if hasattr(source, "seekable") and source.seekable():
            source.seek(0)
            return source, False
        return io.BytesIO(source.read()), True
    raise AudioError(f"Cannot read audio from a {type(source).__name__}; give a path, bytes or a file object.")


def _size(fh: BinaryIO) -> int:
    """Length of a seekable file object in bytes, leaving it at its start."""
    size = fh.seek(0, io.SEEK_END)
    fh.seek(0)
    return size


def _hash_and_size(fh: BinaryIO) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    fh.seek(0)
    while chunk := fh.read(_HASH_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    fh.seek(0)
    return digest.hexdigest(), size


def sha256_of(source: AudioSource) -> str:
    """SHA-256 of the encoded bytes, the key every cache and the history use."""
    fh, owned = _open_binary(source)
    try:
        return _hash_and_size(fh)[0]
    finally:
        if owned:
            fh.close()


# libsndfile reasons that mislead about in-memory data, in the user's words.
_REASONS = {
    # mpg123 finds no MPEG frame (e.g. an MP3 cut inside its first frames) and libsndfile reports it as SFE_BAD_FILE
    "File does not exist or is not a regular file (possibly a pipe?).": "no complete audio frame was found.",
}


def _decoder_reason(exc: Exception) -> str:
    """libsndfile's reason without the object repr it prefixes ("Error opening <...>: ")."""
    reason = str(exc).rsplit(": ", 1)[-1].strip() or type(exc).__name__
    return _REASONS.get(reason, reason)


def _format_label(info: sf.SoundFile) -> str:
    if info.format == "OGG":
        return "OGG/Opus" if info.subtype == "OPUS" else "OGG/Vorbis"
    return _FORMAT_LABEL.get(info.format, info.format)


def _check_format(snd: sf.SoundFile) -> None:
    allowed = _ALLOWED.get(snd.format, ())
    if allowed == ():
        raise AudioError(
            f"{snd.format_info or snd.format} files are not supported. Please use {SUPPORTED_FORMATS}."
        )
    if allowed is not None and snd.subtype not in allowed:
        raise AudioError(
            f"OGG with the {snd.subtype_info or snd.subtype} codec is not supported. "
            f"Please use {SUPPORTED_FORMATS}."
        )


def decode(
    source: AudioSource,
    sample_rate: int | None = 22050,
    *,
    max_duration: float = DEFAULT_MAX_DURATION,
    min_duration: float = DEFAULT_MIN_DURATION,
    sha256: str | None = None,
    progress: Progress | None = None,
) -> Audio:
    """Decode ``source`` to mono float32 at ``sample_rate`` (``None``: the file's own rate).

    Parameters
    ----------
    source : path, bytes or binary file object
        The encoded audio (WAV, FLAC, OGG/Vorbis, Opus or MP3).
    sample_rate : int or None
        Output rate in Hz; soxr (HQ) resamples when the file's rate differs.
    max_duration, min_duration : float
        Limits in seconds. Over-long files are refused from their header, before
        they are decoded, and again while decoding if the header under-states them.
    sha256 : str, optional
        The SHA-256 of ``source``'s bytes when the caller already has it (a cache key,
        say), so the bytes are not hashed twice.
    progress : Progress, optional
        Told after every decoded block (about 1.5 s of audio at 44.1 kHz) the share of the
        header's frames read so far, from 0 to 1, with the message ``"Decoding"``.

    Raises
    ------
    AudioError
        With a message for the user, for every kind of unusable input.
    """
    return decode_rates(source, (sample_rate,), max_duration=max_duration, min_duration=min_duration,
                        sha256=sha256, progress=progress)[0]


def decode_rates(
    source: AudioSource,
    rates: tuple[int | None, ...],
    *,
    max_duration: float = DEFAULT_MAX_DURATION,
    min_duration: float = DEFAULT_MIN_DURATION,
    sha256: str | None = None,
    progress: Progress | None = None,
) -> tuple[Audio, ...]:
    """Decode ``source`` once into mono float32 at each of ``rates`` (``None``: the file's own rate).

    One pass over the file: every block is down-mixed once and fed to one soxr stream
    per rate, so each layer gets the rate it needs (22.05 kHz for the spectral rules,
    48 kHz for CLAP, the native rate for the artifact layer) from a single decode.
    Each output equals what :func:`decode` gives at that rate. Parameters and errors
    are :func:`decode`'s.
    """
    for rate in rates:
        if rate is not None and rate <= 0:
            raise AudioError(f"The sample rate must be positive, not {rate}.")
    if not rates:
        raise AudioError("At least one sample rate is needed.")
    if not (0 < min_duration <= max_duration):
        raise AudioError(
            f"The duration limits are inconsistent (minimum {min_duration} s, maximum {max_duration} s)."
        )
    fh, owned = _open_binary(source)
    try:
        size = _size(fh)
        if size == 0:
            raise AudioError("The file is empty (0 bytes).")
        try:
            snd = sf.SoundFile(fh)
        except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
            raise AudioError(
                f"This is not a readable audio file. It may be corrupt, or in a format other than "
                f"{SUPPORTED_FORMATS}. (Decoder says: {_decoder_reason(exc)})"
            ) from None
        with snd:
            _check_format(snd)
            _check_header(snd, max_duration)
            # Hash only what passed the header checks: an over-long file is refused without reading it.
            digest = sha256
            if digest is None:
                position = fh.tell()
                digest = _hash_and_size(fh)[0]
                fh.seek(position)
            resolved = tuple(snd.samplerate if rate is None else rate for rate in rates)
            outputs, warnings = _read_mono(snd, tuple(dict.fromkeys(resolved)), max_duration, size=size,
                                           progress=progress, chunks=lambda: opener(source, fh, snd))
            label, source_rate, channels = _format_label(snd), snd.samplerate, snd.channels
    finally:
        if owned:
            fh.close()
    result = []
    for rate in resolved:
        samples = outputs[rate]
        _check_samples(samples, rate, min_duration)
        result.append(Audio(samples, rate, digest, label, source_rate, channels, tuple(warnings)))
    return tuple(result)


def _check_samples(samples: np.ndarray, sample_rate: int, min_duration: float) -> None:
    """Refuse decoded audio that is empty, too short, absurdly loud or silent."""
    duration = samples.shape[0] / sample_rate
    if samples.shape[0] == 0:
        raise AudioError("The file contains no audio samples.")
    if duration < min_duration:
        raise AudioError(
            f"The track is too short: {_fmt_seconds(duration)}; at least {_fmt_seconds(min_duration)} is needed."
        )
    peak = float(np.maximum(np.max(samples), -np.min(samples)))  # max |x| (NaN stays NaN) without an |x| copy
    if not peak <= MAX_PEAK:  # also NaN/inf, which resampling a near-float32-max spike can produce
        level = f"{peak:.3g}" if np.isfinite(peak) else "infinity"
        raise AudioError(
            f"The file's sample values reach {level}, over {MAX_PEAK:g} times full scale (+60 dBFS), so it is not "
            "usable audio (a damaged float file?). Export it again, normalised."
        )
    if peak < SILENCE_PEAK:
        raise AudioError("The track is silent (every sample is below -100 dBFS), so there is nothing to analyse.")


def _too_long(length: str, max_duration: float) -> AudioError:
    return AudioError(
        f"The track is too long: {length}; the limit is {_fmt_seconds(max_duration)}. Trim it or raise the limit."
    )


def _check_header(snd: sf.SoundFile, max_duration: float) -> None:
    """Refuse a header without rate or channels, or one that announces more than ``max_duration``."""
    if snd.samplerate <= 0 or snd.channels <= 0:
        raise AudioError("The file's header is invalid (no sample rate or no channels).")
    claimed = snd.frames / snd.samplerate
    if claimed > max_duration:
        raise _too_long(_fmt_seconds(claimed), max_duration)


def _read_mono(
    snd: sf.SoundFile, rates: tuple[int, ...], max_duration: float, *, size: int = 0,
    progress: Progress | None = None, chunks: Callable[[], Opener | None] | None = None,
) -> tuple[dict[int, np.ndarray], list[str]]:
    """Stream ``snd`` block by block into mono float32 at each of ``rates``.

    ``size`` is the encoded file's length in bytes (it turns skipped bytes into seconds);
    ``progress`` is told the share of the header's frames read after every block. With
    ``chunks`` (giving an :data:`~detector.audio.parallel.Opener`, or None), a long compressed file is
    decoded on two cores (:mod:`detector.audio.parallel`), to the same samples; a file that cannot be
    shown to decode identically that way is decoded serially.
    """
    _check_header(snd, max_duration)
    claimed = snd.frames / snd.samplerate
    if chunks is not None and eligible(snd, _BLOCK) and (open_at := chunks()) is not None:
        streams = _Streams(snd, rates, max_duration, progress)
        try:
            for block in parallel_blocks(snd, open_at, _BLOCK, streams.max_frames):
                streams.push(block)
            return streams.outputs(), []
        except NotParallel:
            pass  # damaged, truncated or not sample-exact: decode serially, as always
    streams = _Streams(snd, rates, max_duration, progress)
    warnings: list[str] = []
    log_before = snd.extra_info
    tap = StderrTap() if snd.format == "MP3" else None
    while True:
        try:
            if tap is None:
                block = snd.read(_BLOCK, dtype="float32", always_2d=True)
            else:
                with tap:
                    block = snd.read(_BLOCK, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as exc:
            if streams.frames_read == 0:
                raise AudioError(
                    f"The audio data is corrupt and could not be decoded. (Decoder says: {_decoder_reason(exc)})"
                ) from None
            warnings.append(
                f"The file is damaged after {_fmt_seconds(streams.frames_read / snd.samplerate)}; only the audio before that was analysed."
            )
            streams.flush()  # the resamplers' tail, or the last ~20 ms before the damage are lost
            break
        if streams.push(block):
            break
    frames_read = streams.frames_read
    log = snd.extra_info
    # libsndfile logs some events twice (Ogg's skips), mpg123 prints each once
    events, skipped = damage_in(dict.fromkeys(log[len(log_before):].splitlines()) if log.startswith(log_before) else ())
    if tap is not None:
        more_events, more_skipped = damage_in(tap.lines)
        events, skipped = events + more_events, skipped + more_skipped
    if events and not warnings:
        lost = skipped * claimed / size if skipped and size else max(snd.frames - frames_read, 0) / snd.samplerate
        about = f" (about {_fmt_seconds(lost)})" if lost > 0 else ""
        warnings.append(f"The decoder skipped damaged data in this file{about}; the analysis covers what could be decoded.")
    if "(should be" in snd.extra_info and not warnings:
        # libsndfile quietly clamps a RIFF/data size that runs past the end of the file
        warnings.append(
            f"The file's header claims more audio than the file holds (it looks truncated); "
            f"the {_fmt_seconds(frames_read / snd.samplerate)} present were analysed."
        )
    if snd.frames > 0 and frames_read < snd.frames * 0.99 and not warnings:
        warnings.append(
            f"The file's header promises {_fmt_seconds(claimed)} but it holds only "
            f"{_fmt_seconds(frames_read / snd.samplerate)}; the audio present was analysed."
        )
    outputs = streams.outputs()
    return outputs, warnings


class _Streams:
    """Down-mixes decoded blocks and feeds one soxr stream per rate; the serial and the parallel decode share it."""

    def __init__(self, snd: sf.SoundFile, rates: tuple[int, ...], max_duration: float,
                 progress: Progress | None) -> None:
        self.max_duration, self.progress, self.total = max_duration, progress, snd.frames
        self.max_frames = int(max_duration * snd.samplerate) + 1
        self.resamplers = {
            rate: soxr.ResampleStream(snd.samplerate, rate, 1, dtype="float32", quality="HQ")
            if snd.samplerate != rate else None
            for rate in rates
        }
        # one preallocated array per rate, sized from the header: no list of blocks to join at the end (which held
        # every output twice at once), and a header that under-states the length only makes an array grow
        self.chunks = {rate: GrowingArray(int(snd.frames * rate / snd.samplerate) + 4096) for rate in rates}
        self.frames_read = 0

    def push(self, block: np.ndarray) -> bool:
        """Take one decoded (frames, channels) block; ``True`` when it was the last (shorter than a block)."""
        n = block.shape[0]
        last = n < _BLOCK
        self.frames_read += n
        if self.frames_read > self.max_frames:
            raise _too_long(f"more than {_fmt_seconds(self.max_duration)}", self.max_duration)
        mono = downmix(block)
        if not np.all(np.isfinite(mono)):
            raise AudioError("The file contains NaN or infinite sample values, so it cannot be analysed.")
        for rate, resampler in self.resamplers.items():
            self.chunks[rate].append(resampler.resample_chunk(mono, last=last) if resampler else mono)
        if self.progress is not None and self.total > 0:
            self.progress(min(self.frames_read / self.total, 1.0), "Decoding")
        return last

    def flush(self) -> None:
        """End every resampler's stream early (decoding stopped at damage)."""
        for rate, resampler in self.resamplers.items():
            if resampler is not None:
                self.chunks[rate].append(resampler.resample_chunk(np.zeros(0, np.float32), last=True))

    def outputs(self) -> dict[int, np.ndarray]:
        return {rate: out.array() for rate, out in self.chunks.items()}
