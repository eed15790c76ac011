"""Benchmark the spectral path against the original detector's way, in one run.

``python -m detector.bench [--duration 300] [--repeats 3] [--format WAV]``
``python -m detector.bench --memory [--duration 600] [--format WAV]``

Both paths start from the same encoded file in memory and end with the same four
numbers:

* ours: :func:`detector.audio.decode` (streamed soxr) + :func:`spectral_frames` (one STFT);
* reference: ``librosa.load`` + four librosa feature calls (mfcc, spectral_contrast,
  spectral_flatness and the mel spectrogram the original computed but never used).

Each path is warmed once, then timed ``repeats`` times (best and median reported).
Peak memory is the ``tracemalloc`` peak of one warm call (numpy reports its buffers
to tracemalloc), so the two figures are measured the same way.

``--memory`` instead measures what one upload costs the server: the whole
:func:`detector.analyze` (decode, features, segments, report) of a stereo 44.1 kHz
track, as the ``tracemalloc`` peak in this process and as the growth of the peak
resident set size (``ru_maxrss``) in a fresh process that holds only the encoded
bytes before the call, and the size of the :class:`TrackFeatures` the dashboard caches.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pickle
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc

import librosa
import numpy as np
import soundfile as sf

from .audio import decode
from .features import SAMPLE_RATE, reference_spectral_summary, spectral_frames


def synthetic_track(duration: float, sr: int = 44100, seed: int = 0) -> np.ndarray:
    """A stereo 'song': chord tones with vibrato, a beat of noise bursts, and hiss."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration * sr)) / sr
    tones = sum(0.15 * np.sin(2 * np.pi * f * t + 3 * np.sin(2 * np.pi * 5 * t)) for f in (220.0, 277.2, 329.6))
    beat = (np.sin(2 * np.pi * 2 * t) > 0.95) * rng.standard_normal(t.size) * 0.3
    left = tones + beat + 0.01 * rng.standard_normal(t.size)
    right = np.roll(left, 100)
    return np.stack([left, right], axis=1).astype(np.float32)


def encode(samples: np.ndarray, sr: int, fmt: str) -> bytes:
    buf = io.BytesIO()
    subtype = {"OGG": "VORBIS"}.get(fmt)
    sf.write(buf, samples, sr, format=fmt, subtype=subtype)
    return buf.getvalue()


def ours(data: bytes) -> dict[str, float]:
    audio = decode(data, SAMPLE_RATE)
    return spectral_frames(audio.samples, SAMPLE_RATE).summary()


def reference(data: bytes) -> dict[str, float]:
    y, sr = librosa.load(io.BytesIO(data), sr=SAMPLE_RATE, mono=True)
    return reference_spectral_summary(y, sr)


def measure(fn, data: bytes, repeats: int) -> tuple[list[float], float, dict[str, float]]:
    result = fn(data)  # warm-up (librosa/numba first-call costs)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(data)
        times.append(time.perf_counter() - t0)
    tracemalloc.start()
    fn(data)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return times, peak / 2**20, result


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def write_track(path: str, duration: float, fmt: str) -> None:
    """Write the synthetic track to ``path`` (run in its own process, see :func:`memory`)."""
    with open(path, "wb") as fh:
        fh.write(encode(synthetic_track(duration), 44100, fmt))


def rss_child(path: str) -> None:
    """In a fresh process: peak RSS before and after one :func:`analyze` of the file at ``path``."""
    from .service import analyze

    analyze(encode(synthetic_track(2.0), 44100, "WAV"))  # imports, librosa/numba warm-up: not the upload's cost
    with open(path, "rb") as fh:
        data = fh.read()  # the upload, as the dashboard holds it
    before = _rss_mib()
    analyze(data)
    print(json.dumps({"before_mib": before, "after_mib": _rss_mib()}))


def _python(call: str) -> str:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return subprocess.run([sys.executable, "-c", f"import detector.bench as b; {call}"], capture_output=True,
                          text=True, check=True, cwd=root).stdout


def memory(duration: float, fmt: str) -> dict[str, float]:
    """Peak memory of one :func:`analyze` of a ``duration``-second stereo 44.1 kHz track (see the module doc).

    Linux carries a parent's peak RSS into a child it starts (``ru_maxrss`` survives the fork and exec), so this
    process must stay small until the child has measured: another process writes the track, then the child
    reads it, and only then is the track made here for the ``tracemalloc`` figure.
    """
    from .service import analyze, extract

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "track")
        _python(f"b.write_track({path!r}, {duration!r}, {fmt!r})")
        child = json.loads(_python(f"b.rss_child({path!r})").strip().splitlines()[-1])
        with open(path, "rb") as fh:
            data = fh.read()
    analyze(data)  # warm-up
    tracemalloc.start()
    analyze(data)
    traced = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    cached = len(pickle.dumps(extract(data), protocol=pickle.HIGHEST_PROTOCOL)) / 2**20
    return {"encoded_mib": len(data) / 2**20, "tracemalloc_peak_mib": traced,
            "rss_before_mib": child["before_mib"], "rss_growth_mib": child["after_mib"] - child["before_mib"],
            "cached_features_mib": cached}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m detector.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=None,
                        help="track length in seconds (default 300; 600 with --memory)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--format", default="WAV", choices=["WAV", "FLAC", "OGG", "MP3"])
    parser.add_argument("--memory", action="store_true",
                        help="measure the peak memory of one analyze() (tracemalloc and peak RSS) instead")
    args = parser.parse_args(argv)
    if args.memory:
        duration = args.duration or 600.0
        m = memory(duration, args.format)
        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
        print(f"track: {duration:.0f} s synthetic stereo 44.1 kHz {args.format}, {m['encoded_mib']:.1f} MiB encoded")
        print(f"analyze() peak: tracemalloc {m['tracemalloc_peak_mib']:.1f} MiB; peak RSS growth "
              f"{m['rss_growth_mib']:.1f} MiB in a fresh process (from {m['rss_before_mib']:.1f} MiB with the "
              f"upload loaded); cached TrackFeatures {m['cached_features_mib']:.1f} MiB")
        return 0
    args.duration = args.duration or 300.0

    data = encode(synthetic_track(args.duration), 44100, args.format)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"track: {args.duration:.0f} s synthetic stereo 44.1 kHz {args.format}, {len(data) / 2**20:.1f} MiB")
    rows = {}
    for label, fn in (("ours (1 STFT)", ours), ("reference (load + 4 calls)", reference)):
        times, peak, result = measure(fn, data, args.repeats)
        rows[label] = (min(times), statistics.median(times), peak, result)
        print(f"{label:<28} best {min(times):7.3f} s  median {statistics.median(times):7.3f} s  "
              f"peak {peak:7.1f} MiB")
    (o_best, o_med, o_peak, o_res), (r_best, r_med, r_peak, r_res) = rows.values()
    err = max(abs(o_res[k] - r_res[k]) / max(abs(r_res[k]), 1e-12) for k in o_res)
    print(f"speed-up: {r_best / o_best:.2f}x (best), {r_med / o_med:.2f}x (median); "
          f"memory: {r_peak / o_peak:.2f}x less; max relative feature difference {err:.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
