"""``python -m detector.bench --scan``: a catalogue scan's throughput on Ray against a plain loop, side by side.

The benchmark writes its own catalogue (``--tracks`` stereo 44.1 kHz MP3s at 128 kbps of
``--duration`` seconds, :func:`detector.synthetic.signals.song`), then in one process and one run:

* a plain loop of :func:`detector.analysis.analyze` over the files (no Ray, warm);
* :func:`~detector.jobs.scan.run_scan` with 1 and 2 workers on one embedded local Ray cluster
  (started once; its start is timed apart), each into a fresh output folder;
* the same three with the CLAP layer on a random HTSAT-base checkpoint (``--clap-tracks`` files).

Reported per run: wall seconds (a scan's include starting its actors and loading the models
in them), tracks per minute, hours of audio per hour, and the ratios that matter: Ray with
one worker against the loop (Ray's overhead) and two workers against one (the scaling).
From the one-worker cost per track it estimates what 1 million 3-minute tracks need.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

MILLION = 1_000_000


def _catalogue(folder: Path, tracks: int, duration: float) -> list[Path]:
    import soundfile as sf

    from .synthetic import signals
    from .synthetic.codecs import encode

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(tracks):
        path = folder / f"track{i:03d}.mp3"
        path.write_bytes(encode(signals.song(duration, 44100, seed=i, stereo=True), 44100, "MP3", kbps=128))
        paths.append(path)
    assert sf.info(paths[0]).duration > 0.9 * duration
    return paths


def _loop(paths: list[Path], clap=None) -> float:
    from .analysis import analyze

    t0 = time.perf_counter()
    for path in paths:
        analyze(path, clap=clap)
    return time.perf_counter() - t0


def _scan(paths: list[Path], out: Path, workers: int, checkpoint: str | None) -> tuple[float, float, float]:
    """Wall seconds, seconds to the first row (workers up, models loaded, one file), steady seconds per track."""
    from .jobs.scan import ScanConfig, ScanItem, run_scan

    t0 = time.perf_counter()
    summary = run_scan([ScanItem(str(p)) for p in paths], out, ScanConfig(clap_checkpoint=checkpoint), workers=workers)
    seconds = time.perf_counter() - t0
    p = summary.progress
    assert p.analysed == len(paths), summary.lines()
    steady = len(paths) - workers  # files after each worker's first: the workers' start and first files are excluded
    per_track = (p.elapsed - p.first) / steady if steady > 0 and p.first is not None else seconds / len(paths)
    return seconds, p.first or 0.0, per_track


def _line(name: str, per_track: float, duration: float, note: str = "") -> str:
    return (f"  {name:<32} {per_track:6.2f} s/track  {60.0 / per_track:6.1f} tracks/min  "
            f"{duration / per_track:6.0f} audio h/h  {note}")


def _block(title: str, paths: list[Path], duration: float, work: Path, checkpoint: str | None, clap) -> dict:
    print(title)
    _loop(paths[:1], clap)  # warm: librosa's first calls, the first CLAP pass
    loop = _loop(paths, clap) / len(paths)
    print(_line("plain loop (analyze, 1 process)", loop, duration, "model loaded before, not timed"))
    if clap is None:  # a worker runs on one thread: Ray's own overhead is against a one-thread loop
        os.environ["OMP_NUM_THREADS"] = "1"  # what Ray gives a 1-CPU actor (detector.config.cpu_threads)
        try:
            single = _loop(paths, clap) / len(paths)
        finally:
            del os.environ["OMP_NUM_THREADS"]
        print(_line("plain loop, one thread", single, duration, "as a worker runs"))
    wall1, start1, one = _scan(paths, work / f"{title[:4]}-1", 1, checkpoint)
    against = f"{one / single:.2f}x the one-thread loop's time per track" if clap is None else \
        f"{one / loop:.2f}x the loop's time per track (the loop's CLAP uses both cores)"
    print(_line("Ray, 1 worker (steady)", one, duration,
                f"{against}; {start1:.1f} s to the first row, {wall1:.1f} s wall"))
    wall2, start2, two = _scan(paths, work / f"{title[:4]}-2", 2, checkpoint)
    print(_line("Ray, 2 workers (steady)", two, duration,
                f"{one / two:.2f}x one worker's throughput; {start2:.1f} s to the first row, {wall2:.1f} s wall "
                f"({wall1 / wall2:.2f}x with start-up)"))
    return {"loop": loop, "one": one, "two": two, "tracks": len(paths)}


def _estimate(name: str, seconds_per_track: float, cores: int = 32) -> str:
    core_hours = MILLION * seconds_per_track / 3600.0
    return (f"  {name}: {seconds_per_track:.2f} core-seconds per 3-minute track -> 1 million tracks take "
            f"{core_hours:,.0f} core-hours: {core_hours / (10 * cores):,.1f} h on 10 nodes of {cores} cores, "
            f"{core_hours / (100 * cores):,.1f} h on 100")


def scan_main(args: argparse.Namespace) -> int:
    """Run the benchmark (``args``: ``tracks``, ``clap_tracks``, ``duration``)."""
    import ray

    from .layers.clap import load_encoder, write_random_checkpoint

    print(f"Catalogue scan benchmark on {platform.machine()}, {os.cpu_count()} cores; {args.tracks} tracks "
          f"(spectral) and {args.clap_tracks} (with CLAP) of {args.duration:.0f} s, stereo 44.1 kHz MP3 128 kbps")
    with tempfile.TemporaryDirectory(prefix="scan-bench-") as tmp:
        work = Path(tmp)
        paths = _catalogue(work / "catalogue", max(args.tracks, args.clap_tracks), args.duration)
        t0 = time.perf_counter()
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, logging_level="ERROR", log_to_driver=False)
        print(f"Ray's local cluster started in {time.perf_counter() - t0:.1f} s (once; not in the figures below)")
        try:
            spectral = _block("spectral and artifact layers", paths[:args.tracks], args.duration, work, None, None)
            checkpoint = str(write_random_checkpoint(work / "htsat-base.pt", "HTSAT-base"))
            clap = None
            if args.clap_tracks:
                clap = load_encoder(checkpoint)
                with_clap = _block("with CLAP (random HTSAT-base)", paths[:args.clap_tracks], args.duration, work,
                                   checkpoint, clap)
        finally:
            ray.shutdown()
    scale = 180.0 / args.duration
    print("Estimate for 1 million 3-minute tracks, from the 2-worker scan's steady cost per track (x2 cores):")
    print(_estimate("spectral + artifacts", 2 * spectral["two"] * scale))
    if clap is not None:
        print(_estimate("with CLAP on CPU", 2 * with_clap["two"] * scale))
    print("  (linear in tracks; it assumes the files are on storage every node reads as fast as a local disk, and "
          "no GPU: the CLAP encoder runs on CPU)")
    return 0


__all__ = ["scan_main"]
