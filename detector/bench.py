"""Benchmark the spectral path against the original detector's way, in one run.

``python -m detector.bench [--duration 300] [--repeats 3] [--formats MP3,VORBIS,OPUS,WAV]`` (the spectral path;
see :func:`spectral_main`)
``python -m detector.bench --startup [--repeats 3]`` (the dashboard's first page; see :func:`startup_main`)
``python -m detector.bench --clap [--duration 180] [--batch-size 4] [--threads N] [--precisions fp32,int8,bf16]``
(the CLAP layer; see :func:`clap_main`)
``python -m detector.bench --memory [--duration 600] [--format WAV]``
``python -m detector.bench --artifacts [--duration 180] [--format MP3]`` (the artifact layer; see
:func:`artifacts_main`)
``python -m detector.bench --stability [--duration 180] [--workers 2] [--clap]`` (the stability check; see
:func:`stability_main`)
``python -m detector.bench --scan [--tracks 12] [--clap-tracks 4] [--duration 180]`` (a catalogue scan on Ray; see
:mod:`detector.bench_scan`)

Every path starts from the same encoded file in memory; ours and the reference end with the same four
numbers:

* ours: :func:`detector.audio.decode` (streamed soxr; MP3, Vorbis, Opus and FLAC decoded on two cores) +
  :func:`spectral_frames` (one STFT, in blocks on two threads); also with the decoding kept serial;
* reference: ``librosa.load`` + four librosa feature calls (mfcc, spectral_contrast,
  spectral_flatness and the mel spectrogram the original computed but never used);
* the floor: libsndfile decoding the file on one core + one STFT, nothing else.

Each path is warmed once, then the paths are timed in turn, ``repeats`` rounds (best and median
reported, wall and CPU seconds). Peak memory is the ``tracemalloc`` peak of one warm call (numpy
reports its buffers to tracemalloc), so the two figures are measured the same way.

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

CLAP_DOC = """Benchmark the whole CLAP layer on a random HTSAT-base checkpoint.

A random HTSAT-base checkpoint in LAION's file layout is written to a temporary folder
(in a subprocess, so that this process's peak RSS is the loader's and the layer's), then
loaded through :func:`detector.layers.clap.load_encoder`. Timed: the CLAP layer of one track,
i.e. decode at 48 kHz + windows + batched inference + statistics
(:meth:`detector.layers.clap.ClapEncoder.features`). Reported: wall and CPU seconds (CPU time shows
how much of the wall time the machine actually gave us when it is shared), windows per
second, peak RSS (``ru_maxrss``; model included) and the ``tracemalloc`` peak (numpy
buffers only; torch's allocator is not traced).

The "straightforward" reference runs laion-clap's own forward window by window (batch 1,
``torch.no_grad``, torch's default threads) on the first ``--reference-windows`` windows;
the cosine similarity of its embeddings to the optimised ones (``detector.layers.clap.htsat`` on
worker threads) must stay above 1 - 1e-4.

``--precisions fp32,int8[,bf16]`` then loads the same checkpoint at each precision and, taking
turns so that other work on the machine hits each alike, times the CLAP layer and a whole
``analyze()`` by stage (decode, features, artifacts, clap, scoring); prints each reduced
precision's drift from fp32 (cosine per window, embedding statistics; tolerances in
:mod:`detector.layers.clap.drift`) on the track and on a labelled synthetic MP3 set
(``--agreement-per-kind``), and how many out-of-fold decisions of a classifier trained on
the fp32 embeddings the reduced ones keep (:mod:`detector.training.agreement`).
"""


def synthetic_track(duration: float, sr: int = 44100, seed: int = 0) -> np.ndarray:
    """A stereo 'song' (:func:`detector.synthetic.song`: chords, drums, a melody and hiss), float32 (frames, 2)."""
    from .synthetic import song

    return song(duration, sr, seed=seed, stereo=True)


def encode(samples: np.ndarray, sr: int, fmt: str) -> bytes:
    """``samples`` as a ``fmt`` file ("WAV", "FLAC", "MP3", "OGG" or "VORBIS": Ogg/Vorbis, "OPUS": needs 48 kHz)."""
    from .synthetic import encode as encode_audio

    return encode_audio(samples, sr, {"OGG": "VORBIS"}.get(fmt, fmt), 128 if fmt == "MP3" else None)


def ours(data: bytes) -> dict[str, float]:
    audio = decode(data, SAMPLE_RATE)
    return spectral_frames(audio.samples, SAMPLE_RATE).summary()


def ours_serial(data: bytes) -> dict[str, float]:
    """:func:`ours` with the decoding kept on one core (what ``decode`` did before the parallel decode)."""
    from .audio import decode as decode_module

    module = sys.modules[decode_module.__module__]
    eligible, module.eligible = module.eligible, lambda *args: False
    try:
        return ours(data)
    finally:
        module.eligible = eligible


def reference(data: bytes) -> dict[str, float]:
    y, sr = librosa.load(io.BytesIO(data), sr=SAMPLE_RATE, mono=True)
    return reference_spectral_summary(y, sr)


def floor(data: bytes) -> None:
    """The floor of any way: libsndfile decoding the whole file on one core, then one STFT of the result
    (at the file's rate: no down-mix, no resampling, no features)."""
    with sf.SoundFile(io.BytesIO(data)) as snd:
        y = snd.read(dtype="float32")[:, 0].copy()
    np.abs(librosa.stft(y, n_fft=2048, hop_length=512))


def spectral_main(args: argparse.Namespace) -> int:
    """Ours (parallel and serial decoding), the reference and the floor, on each format, side by side.

    The paths run interleaved (one timed run of each in turn, ``repeats`` rounds), so load from other
    work on a shared machine falls on all of them alike; best and median are reported, with the CPU
    seconds (all threads) of each: the work done, which load on a shared machine changes far less than
    the wall time (but which does not show what a second core gains).
    """
    formats = [f.upper() for f in args.formats.split(",")]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; load average "
          f"before: {os.getloadavg()[0]:.2f} (other work on the machine slows every figure)")
    tracks: dict[int, np.ndarray] = {}
    paths = {"ours": ours, "ours, serial decode": ours_serial, "reference": reference, "floor (decode + 1 STFT)": floor}
    for fmt in formats:
        sr = 48000 if fmt == "OPUS" else 44100  # Opus encodes only 8/12/16/24/48 kHz
        if sr not in tracks:
            tracks[sr] = synthetic_track(args.duration, sr, seed=1)
        data = encode(tracks[sr], sr, fmt)
        results = {name: fn(data) for name, fn in paths.items()}  # warm-up (librosa/numba first calls)
        times: dict[str, list[float]] = {name: [] for name in paths}
        cpus: dict[str, list[float]] = {name: [] for name in paths}
        for _ in range(args.repeats):
            for name, fn in paths.items():
                t0, c0 = time.perf_counter(), time.process_time()
                fn(data)
                times[name].append(time.perf_counter() - t0)
                cpus[name].append(time.process_time() - c0)
        print(f"{fmt}: {args.duration:.0f} s detector.synthetic.song, stereo {sr / 1000:g} kHz, "
              f"{len(data) / 2**20:.1f} MiB; {args.repeats} interleaved rounds")
        ref_best, ref_med = min(times["reference"]), statistics.median(times["reference"])
        for name, ts in times.items():
            print(f"  {name:<26} best {min(ts):6.3f} s  median {statistics.median(ts):6.3f} s  "
                  f"reference / this: {ref_best / min(ts):4.2f}x (best) {ref_med / statistics.median(ts):4.2f}x (median)"
                  f"; CPU best {min(cpus[name]):6.3f} s, reference / this {min(cpus['reference']) / min(cpus[name]):4.2f}x")
        print(f"  peak memory (tracemalloc): ours {traced_peak(ours, data):.0f} MiB, "
              f"reference {traced_peak(reference, data):.0f} MiB")
        o, r = results["ours"], results["reference"]
        same = results["ours"] == results["ours, serial decode"]
        err = max(abs(o[k] - r[k]) / max(abs(r[k]), 1e-12) for k in o)
        print(f"  speed-up: {ref_best / min(times['ours']):.2f}x (best), "
              f"{ref_med / statistics.median(times['ours']):.2f}x (median); ours / floor "
              f"{min(times['ours']) / min(times['floor (decode + 1 STFT)']):.2f} (best); parallel decoding gives "
              f"{'the same' if same else 'DIFFERENT'} features as serial; max relative feature difference {err:.1e}")
    return 0


def traced_peak(fn, data: bytes) -> float:
    """The ``tracemalloc`` peak of one call, in MiB (numpy reports its buffers to tracemalloc)."""
    tracemalloc.start()
    fn(data)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def _straightforward(encoder, batch: np.ndarray) -> np.ndarray:
    """laion-clap's own way: its forward, one window per pass, under ``torch.no_grad``."""
    import torch

    from .layers.clap.htsat import reference_embeddings

    branch, projection = encoder.modules["audio_branch"], encoder.modules["audio_projection"]
    with torch.no_grad():
        torch.set_num_threads(encoder.threads)
        return np.concatenate([reference_embeddings(branch, projection, torch.from_numpy(w[None])).numpy()
                               for w in batch])


def clap_main(args: argparse.Namespace) -> int:
    import resource
    import subprocess
    import sys
    import tempfile

    import torch

    from .layers import clap
    from .config import PROJECT_ROOT

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"torch {torch.__version__}, {args.threads or clap.default_threads()} inference worker(s); "
          f"load average before: {os.getloadavg()[0]:.2f} (other work on the machine slows every figure)")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "random-HTSAT-base.pt")
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import sys; from detector.layers.clap import write_random_checkpoint; "
                        "write_random_checkpoint(sys.argv[1], 'HTSAT-base', 0)", path],
                       check=True, cwd=PROJECT_ROOT)
        t1 = time.perf_counter()
        encoder = clap.load_encoder(path, batch_size=args.batch_size, threads=args.threads)
        t2 = time.perf_counter()
        print(f"checkpoint: random {encoder.architecture}, {os.path.getsize(path) / 2**20:.0f} MiB, "
              f"written in {t1 - t0:.1f} s, loaded in {t2 - t1:.1f} s; "
              f"RSS after load {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10:.0f} MiB")
        print(f"inference: {encoder.note}")
        reduced = {p: clap.load_encoder(path, batch_size=args.batch_size, threads=args.threads, precision=p)
                   for p in dict.fromkeys(args.precisions) if p != "fp32"}
        for p, other in reduced.items():
            print(f"inference in {p}: {other.note}")

    data = encode(synthetic_track(args.duration, 44100), 44100, args.format)

    def layer():
        audio = decode(data, clap.SAMPLE_RATE)
        return encoder.features(audio.samples)

    tracemalloc.start()
    layer()  # warm-up, and the tracemalloc peak
    traced = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    walls, cpus = [], []
    for _ in range(args.repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        result = layer()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    n = len(result.windows)
    best = min(walls)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    print(f"track: {args.duration:.0f} s synthetic stereo 44.1 kHz {args.format} -> {n} windows of 10 s")
    print(f"CLAP layer (decode 48k + windows + inference in batches of {encoder.batches(n)[0][1]} + stats): "
          f"best {best:.2f} s, median {statistics.median(walls):.2f} s wall; "
          f"CPU {min(cpus):.2f} s; {n / best:.2f} windows/s; "
          f"{best * 180.0 / args.duration:.2f} s per 3-minute track")
    print(f"peak memory: RSS {rss:.0f} MiB (process, model included); tracemalloc peak {traced:.0f} MiB")

    k = min(args.reference_windows, n)
    if k:
        samples = decode(data, clap.SAMPLE_RATE).samples
        w0, c0 = time.perf_counter(), time.process_time()
        ref = _straightforward(encoder, clap.windows(samples)[:k])
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        cos = np.sum(ref.astype(np.float64) * result.windows[:k], axis=1)
        print(f"straightforward (batch 1, no_grad) on {k} windows: {wall / k:.2f} s wall, {cpu / k:.2f} s CPU "
              f"per window (optimised: {best / n:.2f} s wall, {min(cpus) / n:.2f} s CPU per window incl. decode); "
              f"min cosine to optimised {cos.min():.7f} ({'ok' if cos.min() > 1 - 1e-4 else 'TOO FAR'})")
    if reduced:
        _precision_figures(args, data, {"fp32": encoder, **reduced})
    return 0


def _precision_figures(args: argparse.Namespace, data: bytes, encoders: dict) -> None:
    """fp32 against reduced precisions, side by side in one run (``--precisions``): the CLAP layer and a whole
    ``analyze()`` by stage, timed in turns; the embeddings' drift; a classifier's decisions."""
    from .analysis import analyze
    from .layers import clap
    from .layers.clap.drift import drift
    from .synthetic import labelled_set
    from .training.agreement import decision_agreement

    scale = 180.0 / args.duration
    layer = {p: [] for p in encoders}
    stages = {p: [] for p in encoders}
    features = {p: e.features(decode(data, clap.SAMPLE_RATE).samples) for p, e in encoders.items()}  # warm-up
    for _ in range(args.repeats):  # in turns, so that other work on the machine hits every precision alike
        for p, e in encoders.items():
            w0, c0 = time.perf_counter(), time.process_time()
            e.features(decode(data, clap.SAMPLE_RATE).samples)
            layer[p].append((time.perf_counter() - w0, time.process_time() - c0))
    for _ in range(args.repeats):
        for p, e in encoders.items():
            w0, c0 = time.perf_counter(), time.process_time()
            report = analyze(data, name="bench", clap=e)
            stages[p].append((time.perf_counter() - w0, time.process_time() - c0, report.timings))
    fp32 = min(w for w, _ in layer["fp32"])
    print(f"precisions side by side ({args.repeats} runs each, in turns; seconds per 3-minute track):")
    for p in encoders:
        wall, cpu = min(w for w, _ in layer[p]), min(c for _, c in layer[p])
        total, cpu_a, timings = min(stages[p], key=lambda r: r[0])
        parts = ", ".join(f"{k[:-2]} {timings.get(k, 0.0) * scale:.2f}"
                          for k in ("decode_s", "features_s", "artifacts_s", "clap_s", "scoring_s"))
        print(f"  {p:>4}: CLAP layer best {wall * scale:.2f} s wall (median "
              f"{statistics.median(w for w, _ in layer[p]) * scale:.2f}), CPU {cpu * scale:.2f} s, "
              f"{fp32 / wall:.2f}x fp32; whole analyze() best {total * scale:.2f} s wall, CPU {cpu_a * scale:.2f} s "
              f"({parts})")
    for p in encoders:
        if p != "fp32":
            print(f"  {p} drift on this track's {len(features[p].windows)} windows: "
                  f"{drift(features['fp32'].windows, features[p].windows).summary()}")
    if args.agreement_per_kind:
        t0 = time.perf_counter()
        tracks, y = labelled_set(args.agreement_per_kind, 10.0)
        windows = np.concatenate([clap.windows(decode(t, clap.SAMPLE_RATE).samples) for t in tracks])
        embedded = {p: e.embed_windows(windows) for p, e in encoders.items()}
        print(f"labelled set: {len(tracks)} synthetic 10 s MP3 tracks (128 kbps; human: music-like material, AI: "
              f"the same kinds through a transposed-convolution decoder, mixed back in), "
              f"{time.perf_counter() - t0:.0f} s")
        for p in encoders:
            if p == "fp32":
                continue
            print(f"  {p} drift: {drift(embedded['fp32'], embedded[p]).summary()}")
            for kind in ("logistic", "ensemble"):
                agreement = decision_agreement(embedded["fp32"], embedded[p], y, kind=kind)
                print(f"  {p} decisions of the {kind} model trained on fp32 (5-fold, out of fold): "
                      f"{agreement.summary()}")


def artifacts_main(args: argparse.Namespace) -> int:
    """The artifact layer's cost beyond decoding, on a music-like track and on the same track
    after a transposed-convolution decoder (more peaks for the comb search).

    Timed separately, warm, best and median of ``repeats``: the native-rate decode (which
    the analysis shares with the other layers), the fakeprint (one STFT at the native
    rate, per segment) and the comb search. The cost beyond decoding is the sum of the
    last two.
    """
    from .features.comb import find_comb
    from .features.fakeprint import fakeprint
    from .features.track import segment_bounds
    from .synthetic import DecoderSpec, song, through_decoder
    from .synthetic import encode as encode_audio

    sr = 44100
    music = song(args.duration, sr, seed=1)
    tracks = {"music": music, "decoded": through_decoder(music, sr, DecoderSpec((8, 4), 32000, steps=30, seed=1))}
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"track: {args.duration:.0f} s mono 44.1 kHz {args.format} (detector.synthetic.song, and the same through "
          f"a strides 8x4 / 32 kHz decoder)")
    for name, samples in tracks.items():
        data = encode_audio(samples, sr, "MP3" if args.format == "MP3" else "WAV", 128 if args.format == "MP3" else None)
        bounds = segment_bounds(args.duration, 10.0)
        stages = {"decode (native rate)": lambda: decode(data, None)}
        audio = decode(data, None)
        stages["fakeprint"] = lambda: fakeprint(audio.samples, audio.sample_rate, bounds)
        fp = fakeprint(audio.samples, audio.sample_rate, bounds)
        stages["comb search"] = lambda: find_comb(fp)
        best = {}
        for stage, fn in stages.items():
            fn()  # warm
            times = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
            best[stage] = min(times)
            print(f"  {name:<8} {stage:<22} best {min(times):6.3f} s  median {statistics.median(times):6.3f} s")
        comb = find_comb(fp)
        print(f"  {name:<8} cost beyond decoding: {best['fakeprint'] + best['comb search']:.3f} s (best); "
              f"finding: {comb.describe()[:90]}")
    return 0


def _stability_child(path: str, workers: int) -> None:
    """In a fresh process: RSS before, and peak RSS during, one stability check of the file at ``path`` (its
    report, made by the parent, next to it as ``path + ".json"``). The peak is reset first (``clear_refs``), so
    neither the warm-up nor the parent's peak (which ``ru_maxrss`` would carry over) counts."""
    from .analysis import analyze, check_stability
    from .report import DetectionReport

    warm = encode(synthetic_track(2.0), 44100, "WAV")
    check_stability(warm, analyze(warm))  # imports, librosa/numba and pedalboard warm-up
    with open(path, "rb") as fh:
        data = fh.read()
    with open(path + ".json", encoding="utf-8") as fh:
        report = DetectionReport.from_json(fh.read())
    with open("/proc/self/clear_refs", "w") as fh:  # resets VmHWM, the peak RSS, to the RSS now (Linux)
        fh.write("5")
    before = _status_mib("VmRSS")
    check_stability(data, report, workers=workers)
    print(json.dumps({"before_mib": before, "after_mib": _status_mib("VmHWM")}))


def _status_mib(key: str) -> float:
    """A ``/proc/self/status`` figure (``VmRSS``: resident now, ``VmHWM``: its peak) in MiB."""
    with open("/proc/self/status", encoding="ascii") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(key + ":")) / 1024


def stability_main(args: argparse.Namespace) -> int:
    """The stability check's cost on a music-like mono 44.1 kHz track (:func:`detector.synthetic.song`), warm.

    Side by side in one run (a shared machine slows every figure alike): the whole check
    (decode at the native rate + every standard perturbation + every copy's analysis) with
    ``--workers`` threads and with one, wall and CPU seconds, each perturbation's own time,
    and the peak RSS growth of one check in a fresh process. With ``--clap``, the same with a
    random HTSAT-base checkpoint (every copy is embedded again).
    """
    from .analysis import analyze, check_stability, extract, score
    from .analysis.stability import LONG_TRACK_SECONDS
    from .synthetic import encode as encode_audio
    from .synthetic import song

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; load average "
          f"before: {os.getloadavg()[0]:.2f} (other work on the machine slows every figure)")
    data = encode_audio(song(args.duration, 44100, seed=1), 44100, args.format)
    print(f"track: {args.duration:.0f} s detector.synthetic.song, mono 44.1 kHz {args.format}, "
          f"{len(data) / 2**20:.1f} MiB")
    report = analyze(data)
    warm = encode_audio(song(40.0, 44100, seed=1), 44100, "WAV")
    check_stability(warm, analyze(warm))  # warm-up: pedalboard, Rubber Band, librosa
    per, first = None, args.workers if args.duration <= LONG_TRACK_SECONDS else 1
    for workers in dict.fromkeys((first, 1)):
        walls, cpus = [], []
        for _ in range(args.repeats):
            w0, c0 = time.perf_counter(), time.process_time()
            result = check_stability(data, report, workers=workers)
            walls.append(time.perf_counter() - w0)
            cpus.append(time.process_time() - c0)
        print(f"spectral + artifacts, {workers} worker(s): best {min(walls):.2f} s, median "
              f"{statistics.median(walls):.2f} s wall; CPU {min(cpus):.2f} s; {len(result.ran)} of "
              f"{len(result.perturbations)} perturbations ran; {result.title.lower()}, spread {result.spread:.2f}")
        per = per or result
    print(f"  per perturbation (wall s, perturbing + analysing, {first} at a time): "
          + ", ".join(f"{p.name} {p.seconds:.2f}" for p in per.perturbations))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "track")
        with open(path, "wb") as fh:
            fh.write(data)
        with open(path + ".json", "w", encoding="utf-8") as fh:
            fh.write(report.to_json())
        child = json.loads(_python(f"b._stability_child({path!r}, {args.workers})").strip().splitlines()[-1])
    print(f"peak RSS growth of one check in a fresh process: {child['after_mib'] - child['before_mib']:.0f} MiB "
          f"(from {child['before_mib']:.0f} MiB with the track and its report loaded"
          + (", one copy at a time: longer than 10 minutes)" if args.duration > LONG_TRACK_SECONDS else ")"))
    if args.clap:
        from .layers import clap

        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "random-HTSAT-base.pt")
            _python(f"from detector.layers.clap import write_random_checkpoint; "
                    f"write_random_checkpoint({path!r}, 'HTSAT-base', 0)")
            encoder = clap.load_encoder(path)
        track = extract(data, clap=encoder)
        report = score(track)
        w0, c0 = time.perf_counter(), time.process_time()
        result = check_stability(data, report, clap=encoder, workers=args.workers)
        print(f"with CLAP (random HTSAT-base, {len(track.clap.windows)} windows per copy of the whole track): "
              f"{time.perf_counter() - w0:.1f} s wall, CPU {time.process_time() - c0:.1f} s, one run (the original "
              f"analysis with CLAP: {sum(track.timings.values()):.1f} s); {result.title.lower()}, spread "
              f"{result.spread:.2f}")
    return 0


FIRST_PAGE_TITLE = "Is this track machine-made?"
"""What the first page (Analyse) shows once it has run: its title."""


def first_page_seconds(port: int, browser_path: str = "/usr/bin/chromium", timeout: float = 60.0,
                       cwd: str | None = None) -> dict[str, float]:
    """Seconds from ``streamlit run dashboard.py`` (as ``make run`` starts it) to the first page shown in a browser.

    A headless Chromium is started first (not timed); then the server, and the clock. The page is
    loaded as soon as ``/_stcore/health`` answers, and the time is taken when the Analyse page's title
    is drawn, i.e. the script ran through its imports, the sidebar and the page. Also reported: when
    the health check first answered (the server up, before any script ran). ``cwd``: the app's folder
    (the project by default; :func:`startup_main` also times a one-line app, the floor).
    """
    import urllib.request

    from playwright.sync_api import sync_playwright

    from .config import PROJECT_ROOT

    streamlit = os.path.join(os.path.dirname(sys.executable), "streamlit")
    cwd = cwd or str(PROJECT_ROOT)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=browser_path, headless=True)
        page = browser.new_page()
        t0 = time.perf_counter()
        server = subprocess.Popen([streamlit, "run", "dashboard.py", "--server.address", "127.0.0.1",
                                   "--server.port", str(port), "--server.headless", "true"],
                                  cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if time.perf_counter() - t0 > timeout or server.poll() is not None:
                    raise RuntimeError("the dashboard did not start")
                time.sleep(0.02)
            health = time.perf_counter() - t0
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector(f"text={FIRST_PAGE_TITLE}", timeout=timeout * 1000)
            shown = time.perf_counter() - t0
        finally:
            server.terminate()
            server.wait(10)
            browser.close()
    return {"health_s": health, "first_page_s": shown}


def first_page_imports() -> dict[str, float]:
    """Seconds each top-level package takes to import with the dashboard's shared page modules, in a fresh
    interpreter (``python -X importtime``; a package is charged once, where it is first imported)."""
    from .config import PROJECT_ROOT

    err = subprocess.run([sys.executable, "-X", "importtime", "-c", "import streamlit, pages._serving, pages._shared"],
                         capture_output=True, text=True, check=True, cwd=PROJECT_ROOT).stderr
    totals: dict[str, float] = {}
    for line in err.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|")
        if not cumulative.strip().isdigit():
            continue
        root = name.strip().split(".")[0]
        totals[root] = max(totals.get(root, 0.0), int(cumulative) / 1e6)
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


def startup_main(args: argparse.Namespace) -> int:
    """``make run``'s start-up on a warm virtualenv: the first page shown, best and median of ``repeats`` starts,
    side by side with the floor: a one-line Streamlit app (the same title, the same server settings) started and
    loaded the same way, which is what Streamlit and the browser take whatever the app does."""
    import shutil
    import socket

    from .config import PROJECT_ROOT

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; load average "
          f"before: {os.getloadavg()[0]:.2f} (other work on the machine slows every figure)")
    runs: dict[str, list[dict[str, float]]] = {"dashboard": [], "floor": []}
    with tempfile.TemporaryDirectory() as floor:
        os.mkdir(os.path.join(floor, ".streamlit"))
        shutil.copy(os.path.join(PROJECT_ROOT, ".streamlit", "config.toml"), os.path.join(floor, ".streamlit"))
        with open(os.path.join(floor, "dashboard.py"), "w") as fh:
            fh.write(f"import streamlit as st\n\nst.title({FIRST_PAGE_TITLE!r})\n")
        for i in range(args.repeats + 1):  # the first round warms the file cache (a warm virtualenv), not counted
            for name, folder in (("dashboard", str(PROJECT_ROOT)), ("floor", floor)):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", 0))
                    port = sock.getsockname()[1]
                result = first_page_seconds(port, cwd=folder)
                if i:
                    runs[name].append(result)
    for name, label in (("dashboard", "streamlit run dashboard.py"), ("floor", "the floor, a one-line app")):
        shown, health = [r["first_page_s"] for r in runs[name]], [r["health_s"] for r in runs[name]]
        print(f"{label} -> first page shown in a headless Chromium: best {min(shown):.2f} s, median "
              f"{statistics.median(shown):.2f} s ({len(shown)} starts; server answering its health check after "
              f"{min(health):.2f} s best)")
    extra = [d["first_page_s"] - f["first_page_s"] for d, f in zip(runs["dashboard"], runs["floor"])]
    print(f"the dashboard's own share (each start minus the floor's start after it): median "
          f"{statistics.median(extra):.2f} s")
    imports = first_page_imports()
    print("imports on the first page's path (s, cumulative, fresh interpreter): "
          + ", ".join(f"{name} {sec:.2f}" for name, sec in list(imports.items())[:8]))
    return 0


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def write_track(path: str, duration: float, fmt: str) -> None:
    """Write the synthetic track to ``path`` (run in its own process, see :func:`memory`)."""
    with open(path, "wb") as fh:
        fh.write(encode(synthetic_track(duration), 44100, fmt))


def rss_child(path: str) -> None:
    """In a fresh process: peak RSS before and after one :func:`analyze` of the file at ``path``."""
    from .analysis import analyze

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
    from .analysis import analyze, extract

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
                        help="track length in seconds (default 300; 180 with --clap, 600 with --memory)")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs (default 3; 2 with --clap)")
    parser.add_argument("--format", default="WAV", choices=["WAV", "FLAC", "OGG", "MP3"],
                        help="the track's format for --memory, --artifacts, --stability and --clap")
    parser.add_argument("--formats", default="MP3,VORBIS,OPUS,WAV",
                        help="comma-separated formats for the spectral benchmark (WAV, FLAC, MP3, VORBIS, OPUS)")
    parser.add_argument("--memory", action="store_true",
                        help="measure the peak memory of one analyze() (tracemalloc and peak RSS) instead")
    parser.add_argument("--artifacts", action="store_true",
                        help="measure the artifact layer's cost beyond decoding instead (default 180 s)")
    parser.add_argument("--stability", action="store_true",
                        help="measure the stability check instead (default 180 s; with --clap, also with CLAP)")
    parser.add_argument("--workers", type=int, default=2, help="with --stability: perturbations analysed at once")
    parser.add_argument("--startup", action="store_true",
                        help="measure the dashboard's start-up to its first page in a headless browser instead")
    parser.add_argument("--scan", action="store_true",
                        help="measure a catalogue scan on Ray (1 and 2 workers) against a plain loop instead "
                             "(detector.bench_scan; default 180 s tracks)")
    parser.add_argument("--tracks", type=int, default=12, help="with --scan: tracks for the spectral runs")
    parser.add_argument("--clap-tracks", type=int, default=4, help="with --scan: tracks for the CLAP runs (0: skip)")
    clap_opts = parser.add_argument_group("CLAP layer", CLAP_DOC.split("\n")[0])
    clap_opts.add_argument("--clap", action="store_true", help="benchmark the CLAP layer instead")
    clap_opts.add_argument("--batch-size", type=int, default=None, help="windows per forward pass")
    clap_opts.add_argument("--threads", type=int, default=None,
                           help="inference workers, one torch thread each (default: detector.layers.clap.default_threads())")
    clap_opts.add_argument("--reference-windows", type=int, default=2,
                           help="windows to embed the straightforward way for the comparison (0: skip)")
    clap_opts.add_argument("--precisions", type=lambda t: tuple(x.strip() for x in t.split(",") if x.strip()),
                           default=("fp32", "int8"),
                           help="CLAP precisions to compare with fp32, side by side (default fp32,int8; also bf16)")
    clap_opts.add_argument("--agreement-per-kind", type=int, default=10,
                           help="labelled tracks per kind and class for the precision drift and classifier "
                                "agreement (0: skip)")
    args = parser.parse_args(argv)
    if args.scan:
        from .bench_scan import scan_main

        args.duration = args.duration or 180.0
        return scan_main(args)
    if args.memory:
        duration = args.duration or 600.0
        m = memory(duration, args.format)
        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
        print(f"track: {duration:.0f} s synthetic stereo 44.1 kHz {args.format}, {m['encoded_mib']:.1f} MiB encoded")
        print(f"analyze() peak: tracemalloc {m['tracemalloc_peak_mib']:.1f} MiB; peak RSS growth "
              f"{m['rss_growth_mib']:.1f} MiB in a fresh process (from {m['rss_before_mib']:.1f} MiB with the "
              f"upload loaded); cached TrackFeatures {m['cached_features_mib']:.1f} MiB")
        return 0
    if args.startup:
        args.repeats = args.repeats or 3
        return startup_main(args)
    if args.stability:
        args.duration = args.duration or 180.0
        args.repeats = args.repeats or 2
        return stability_main(args)
    if args.artifacts:
        args.duration = args.duration or 180.0
        args.repeats = args.repeats or 5
        return artifacts_main(args)
    if args.clap:
        from .layers.clap import DEFAULT_BATCH_SIZE

        args.duration = args.duration or 180.0
        args.repeats = args.repeats or 2
        args.batch_size = args.batch_size or DEFAULT_BATCH_SIZE
        return clap_main(args)
    args.duration = args.duration or 300.0
    args.repeats = args.repeats or 3
    return spectral_main(args)

if __name__ == "__main__":
    raise SystemExit(main())
