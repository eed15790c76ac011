"""Changes that keep the music the same: re-encoding, resampling, pitch, tempo, noise, loudness, trimming.

A :class:`Perturbation` is named, parameterised and deterministic (its noise is seeded):
:meth:`Perturbation.apply` takes decoded mono samples and returns a new array, never
touching its input. The work is done by libraries made for it: Spotify's ``pedalboard``
encodes MP3 (LAME; as a two-channel file, so it gets a stereo MP3's bandwidth: about 17 kHz at
128 kbps, 11 kHz at 64 kbps) and Ogg Vorbis in memory and decodes them again, and its Rubber Band
``time_stretch`` shifts the pitch and changes the tempo; soxr resamples, as decoding does.

Rubber Band costs about 1 s per 30 s of audio here, so the pitch and time stretch changes work on
the middle :data:`EXCERPT_SECONDS` of a longer track (the ``excerpt-middle`` perturbation
is the same stretch of audio unchanged, to compare with). The codecs, resampling, noise
and loudness changes cover the whole track.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Literal

import numpy as np
import soxr

from ..errors import DetectorError

Kind = Literal["mp3", "vorbis", "resample", "pitch", "stretch", "noise", "gain", "excerpt"]
EXCERPT_SECONDS = 30.0
"""The length of an excerpt, and of the part of a longer track that the pitch and time stretch changes work on."""
_MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
"""The rates LAME encodes; other tracks are encoded at 48 kHz and resampled back."""
_WHERE = {0.0: "start", 0.5: "middle", 1.0: "end"}
_BLOCK = 1 << 18  # frames per block the codecs stream (about 6 s at 44.1 kHz)


class PerturbationSkipped(DetectorError, ValueError):
    """A perturbation does not apply to this track (too short for an excerpt, say). ``str(err)`` says why."""


def _pedalboard():
    import pedalboard  # noqa: PLC0415  C++ and Rubber Band: loaded when a stability check runs, not at import
    import pedalboard.io  # noqa: PLC0415

    return pedalboard


@dataclass(frozen=True)
class Perturbation:
    """One named change that keeps the music the same.

    Attributes
    ----------
    name : str
        Short and unique in a set, e.g. ``"mp3-64"``.
    kind : {"mp3", "vorbis", "resample", "pitch", "stretch", "noise", "gain", "excerpt"}
        What is done.
    value : float
        The kind's parameter: kbps (``mp3``, ``vorbis``), Hz (``resample``, to and back),
        semitones (``pitch``), speed factor (``stretch``: 1.1 plays 10 % faster, so it lasts
        1/1.1 as long; the pitch stays), dB SNR (``noise``), dB (``gain``) or where the excerpt starts
        (``excerpt``: 0 the start, 0.5 the middle, 1 the end).
    seed : int
        Seeds the noise.
    seconds : float
        The excerpt's length; for ``pitch`` and ``stretch``, the middle part of a longer track they work on.
    """

    name: str
    kind: Kind
    value: float
    seed: int = 0
    seconds: float = EXCERPT_SECONDS

    @property
    def description(self) -> str:
        """What it does, for people: ``"MP3 at 64 kbps"``, ``"pitch +2 semitones (middle 30 s)"``."""
        return self.describe()

    def describe(self, duration: float | None = None) -> str:
        """:attr:`description` for a track of ``duration`` seconds (a pitch or time stretch change of a track
        no longer than :attr:`seconds` covers all of it)."""
        v = self.value
        middle = "" if duration is not None and duration <= self.seconds else f" (middle {self.seconds:g} s)"
        return {
            "mp3": f"MP3 at {v:g} kbps",
            "vorbis": f"Ogg Vorbis at about {v:g} kbps",
            "resample": f"resampled to {v / 1000:g} kHz and back",
            "pitch": f"pitch {v:+g} semitone{'s' if abs(v) != 1 else ''}{middle}",
            "stretch": f"time stretch to {v:g}x speed{middle}",
            "noise": f"white noise at {v:g} dB SNR",
            "gain": f"loudness {v:+g} dB",
            "excerpt": f"{self.seconds:g} s excerpt from the {_WHERE.get(v, f'{v:.0%} point')}",
        }[self.kind]

    def apply(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        """``samples`` (mono float32 at ``sample_rate`` Hz) changed; the input is left as it was.

        Raises
        ------
        PerturbationSkipped
            When the change does not apply to this track (an excerpt longer than the track,
            resampling to a rate at or above the track's own).
        """
        samples = np.asarray(samples, dtype=np.float32)
        if self.kind == "excerpt":
            return excerpt(samples, sample_rate, self.seconds, self.value)
        if self.kind == "mp3":  # two channels: the bandwidth LAME gives a stereo file, as MP3s of songs are
            return _codec(samples, sample_rate, "mp3", int(self.value), channels=2)
        if self.kind == "vorbis":  # libvorbis cuts a mono and a stereo 64 kbps file alike (near 15 kHz)
            return _codec(samples, sample_rate, "ogg", f"{self.value:g} kbps")
        if self.kind == "resample":
            if self.value >= sample_rate:
                raise PerturbationSkipped(f"the track's own rate ({sample_rate} Hz) is not above {self.value:g} Hz")
            down = soxr.resample(samples, sample_rate, self.value, quality="HQ")
            return soxr.resample(down, self.value, sample_rate, quality="HQ").astype(np.float32, copy=False)
        if self.kind in ("pitch", "stretch"):
            part = samples if samples.size <= self.seconds * sample_rate else excerpt(samples, sample_rate,
                                                                                      self.seconds, 0.5)
            stretch, semitones = (1.0, self.value) if self.kind == "pitch" else (self.value, 0.0)
            # the short FFT window: twice as fast as the default here, and a pure tone lands within 0.01 Hz
            return _pedalboard().time_stretch(part[None], sample_rate, stretch, semitones,
                                              use_long_fft_window=False)[0]
        if self.kind == "noise":
            power = float(np.mean(np.square(samples, dtype=np.float64)))
            rng = np.random.default_rng(_seed(self))
            noise = rng.standard_normal(samples.size, dtype=np.float32)
            noise *= np.float32(np.sqrt(power / 10 ** (self.value / 10)))
            noise += samples
            return noise
        if self.kind == "gain":
            return samples * np.float32(10 ** (self.value / 20))
        raise ValueError(f"Unknown kind of perturbation {self.kind!r}.")


def _seed(p: Perturbation) -> int:
    """The noise's seed: the perturbation's own, mixed with its name (two noisy perturbations differ)."""
    return int.from_bytes(hashlib.sha256(f"{p.name}:{p.seed}".encode()).digest()[:8], "little")


def excerpt(samples: np.ndarray, sample_rate: int, seconds: float, where: float) -> np.ndarray:
    """``seconds`` of ``samples`` starting at the ``where`` point (0: the start, 0.5: the middle, 1: the end).

    Raises :class:`PerturbationSkipped` when the track is shorter than the excerpt.
    """
    n = int(round(seconds * sample_rate))
    if samples.size < n:
        raise PerturbationSkipped(f"the track ({samples.size / sample_rate:.1f} s) is shorter than a "
                                  f"{seconds:g} s excerpt")
    start = int(round(min(max(where, 0.0), 1.0) * (samples.size - n)))
    return samples[start:start + n].copy()


def _codec(samples: np.ndarray, sample_rate: int, fmt: str, quality: int | str, channels: int = 1) -> np.ndarray:
    """``samples`` encoded by ``pedalboard`` (``fmt`` "mp3" or "ogg") at ``quality`` in ``channels`` identical
    channels, decoded again and down-mixed. Both ways stream in blocks, so a long track is never held as
    ``channels`` full-length copies."""
    pb = _pedalboard()
    rate = sample_rate if fmt != "mp3" or sample_rate in _MP3_RATES else 48000
    work = samples if rate == sample_rate else soxr.resample(samples, sample_rate, rate, quality="HQ")
    buffer = io.BytesIO()
    with pb.io.AudioFile(buffer, "w", rate, channels, format=fmt, quality=quality) as f:
        for start in range(0, work.size, _BLOCK):
            block = work[start:start + _BLOCK]
            f.write(np.broadcast_to(block, (channels, block.size)))
    del work
    buffer.seek(0)
    parts = []
    with pb.io.AudioFile(buffer) as f:
        while f.tell() < f.frames:
            block = f.read(_BLOCK)
            if block.shape[-1] == 0:
                break
            parts.append(block[0] if channels == 1 else block.mean(axis=0, dtype=np.float32))
    decoded = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    del parts
    if rate != sample_rate:
        decoded = soxr.resample(decoded, rate, sample_rate, quality="HQ")
    return np.ascontiguousarray(decoded, dtype=np.float32)


STANDARD: tuple[Perturbation, ...] = (
    Perturbation("mp3-128", "mp3", 128),
    Perturbation("mp3-64", "mp3", 64),
    Perturbation("vorbis-64", "vorbis", 64),
    Perturbation("resample-32k", "resample", 32000),
    Perturbation("pitch+1", "pitch", 1),
    Perturbation("pitch-1", "pitch", -1),
    Perturbation("pitch+2", "pitch", 2),
    Perturbation("pitch-2", "pitch", -2),
    Perturbation("stretch-0.9", "stretch", 0.9),
    Perturbation("stretch-1.1", "stretch", 1.1),
    Perturbation("noise-30db", "noise", 30),
    Perturbation("gain+6db", "gain", 6),
    Perturbation("gain-6db", "gain", -6),
    Perturbation("excerpt-start", "excerpt", 0.0),
    Perturbation("excerpt-middle", "excerpt", 0.5),
    Perturbation("excerpt-end", "excerpt", 1.0),
)
"""The issue's set: MP3 at 128 and 64 kbps, Vorbis at about 64 kbps (pedalboard's lowest), 32 kHz and back,
pitch +-1 and +-2 semitones, time stretch to 0.9x and 1.1x speed, white noise at 30 dB SNR, +-6 dB, and 30 s excerpts
from the start, the middle and the end."""
PERTURBATIONS = {p.name: p for p in STANDARD}
"""The standard perturbations by name."""


def perturbation_set(names: tuple[str, ...] | list[str] | None = None) -> tuple[Perturbation, ...]:
    """The standard perturbations called ``names``, in the standard order (``None``: all of them).

    Raises ``ValueError`` for an unknown name, listing the known ones.
    """
    if names is None:
        return STANDARD
    unknown = sorted(set(names) - set(PERTURBATIONS))
    if unknown:
        raise ValueError(f"Unknown perturbation(s): {', '.join(unknown)}. Known: {', '.join(PERTURBATIONS)}.")
    return tuple(p for p in STANDARD if p.name in set(names))


def set_name(perturbations: tuple[Perturbation, ...]) -> str:
    """A short name of a perturbation set: ``"standard"``, else its names joined (a custom one: with a digest)."""
    if tuple(perturbations) == STANDARD:
        return "standard"
    if all(PERTURBATIONS.get(p.name) == p for p in perturbations):
        return ",".join(p.name for p in perturbations)
    digest = hashlib.sha256(repr(tuple(perturbations)).encode()).hexdigest()[:8]
    return ",".join(p.name for p in perturbations) + f"#{digest}"


__all__ = ["EXCERPT_SECONDS", "PERTURBATIONS", "STANDARD", "Kind", "Perturbation", "PerturbationSkipped", "excerpt",
           "perturbation_set", "set_name"]
