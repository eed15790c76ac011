"""Measure the artifact layer on real recordings: false alarms on human music, detections after decoders.

    python -m detector.fingerprint_study HUMAN_DIR --split held-out --out study/

HUMAN_DIR holds real, human-made recordings. Each file is assigned to the ``dev``
split (used to tune the detector) or the ``held-out`` split (used only to report) by
its SHA-256, so the split is the same on every machine. For every track of the split:

- the original and a 128 kbps MP3 of it are analysed with the default profile: the
  share with an "AI" verdict is the false-positive rate;
- a 60 s excerpt is passed through two small transposed-convolution decoders
  (:mod:`detector.synthetic.decoders`; the split's own set of strides, internal rates,
  seeds and training) and analysed as is and after a 128 kbps MP3: the share the
  artifact layer flags is the detection rate.

The held-out decoders differ from the dev ones in every stride, rate and seed. No
real Suno or Udio output exists on this machine, so the detection rate is for these
stand-in decoders, not for any commercial generator.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf

from .analysis import analyze
from .audio import decode, iter_audio_files
from .layers import artifacts as artifacts_layer
from .layers.heuristics import Thresholds
from .synthetic import DecoderSpec, encode, through_decoder

DECODERS = {
    "dev": (
        DecoderSpec((4, 4, 2), 24000, steps=0, seed=0),
        DecoderSpec((8, 4), 32000, steps=40, seed=1),
        DecoderSpec((5, 4, 2), 16000, steps=40, seed=2),
        DecoderSpec((8, 8), 44100, steps=0, seed=3),
    ),
    "held-out": (
        DecoderSpec((2, 4, 5), 24000, steps=60, seed=7),
        DecoderSpec((4, 8), 16000, steps=0, seed=8),
        DecoderSpec((3, 5, 4), 48000, steps=40, seed=9),
        DecoderSpec((8, 5, 2), 22050, steps=40, seed=10),
        DecoderSpec((2, 2, 2, 4), 32000, steps=0, seed=11),
    ),
}
EXCERPT_SECONDS = 60.0


def split_of(path: Path) -> str:
    """``dev`` or ``held-out``, from the file's SHA-256 (even first byte: dev)."""
    digest = hashlib.sha256(path.read_bytes()).digest()
    return "dev" if digest[0] % 2 == 0 else "held-out"


def _row(kind: str, name: str, report) -> dict:
    art = report.layers.get("artifacts")
    fired = art is not None and artifacts_layer.fires(art, Thresholds.from_dict(report.thresholds))
    return {
        "kind": kind, "track": name, "verdict_ai": report.is_ai, "decided_by": report.decided_by,
        "score": report.score, "artifact_fired": fired,
        "evidence": art.features["comb_evidence"] if art else None,
        "consistency": art.features["comb_consistency"] if art else None,
        "summary": report.artifacts.summary if report.artifacts else "",
    }


def study_track(path: str, split: str, index: int) -> list[dict]:
    """Every measurement for one human track (run in a worker process)."""
    name = Path(path).name
    rows = [_row("human", name, analyze(path))]
    stereo, sr = sf.read(path, dtype="float32", always_2d=True)
    rows.append(_row("human mp3 128k", name, analyze(encode(stereo, sr, "MP3", 128), name=name)))
    native = decode(path, None).samples
    start = int(max(0.0, min(30.0, native.size / sr - EXCERPT_SECONDS)) * sr)
    excerpt = native[start:start + int(EXCERPT_SECONDS * sr)]
    specs = DECODERS[split]
    for spec in (specs[index % len(specs)], specs[(index + 1) % len(specs)]):
        fake = through_decoder(excerpt, sr, spec)
        label = f"{name} | {spec.name}"
        rows.append(_row("decoded", label, analyze(encode(fake, sr, "WAV"), name=label)))
        rows.append(_row("decoded mp3 128k", label, analyze(encode(fake, sr, "MP3", 128), name=label)))
    return rows


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson 95 % interval of a rate ``k / n``."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def summarise(rows: list[dict]) -> dict[str, dict]:
    out = {}
    for kind in ("human", "human mp3 128k", "decoded", "decoded mp3 128k"):
        sel = [r for r in rows if r["kind"] == kind]
        key = "verdict_ai" if kind.startswith("human") else "artifact_fired"
        k = sum(r[key] for r in sel)
        out[kind] = {"n": len(sel), "rate": k / len(sel) if sel else float("nan"), "count": k,
                     "ci95": wilson(k, len(sel)), "measure": "AI verdicts" if key == "verdict_ai" else "flagged"}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m detector.fingerprint_study", description=__doc__.split("\n")[0])
    parser.add_argument("human", type=Path, help="a folder of real, human-made recordings")
    parser.add_argument("--split", choices=("dev", "held-out"), default="held-out")
    parser.add_argument("--out", type=Path, help="write rows.json and summary.json here")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=0, help="at most this many tracks (0: all)")
    args = parser.parse_args(argv)
    files = [p for p in iter_audio_files([args.human]) if split_of(p) == args.split]
    files = files[: args.limit or None]
    rows: list[dict] = []
    with ProcessPoolExecutor(args.workers) as pool:
        futures = [pool.submit(study_track, str(p), args.split, i) for i, p in enumerate(files)]
        for i, (path, fut) in enumerate(zip(files, futures), 1):
            try:
                rows.extend(fut.result())
            except Exception as exc:  # a file the study cannot use is reported, not fatal
                print(f"skipped {path.name}: {exc}", file=sys.stderr)
            print(f"\r{i}/{len(files)} tracks", end="", file=sys.stderr)
    print(file=sys.stderr)
    summary = summarise(rows)
    for kind, s in summary.items():
        lo, hi = s["ci95"]
        print(f"{kind:<18} {s['measure']:<12} {s['count']:>4}/{s['n']:<4} = {s['rate']:6.1%}  (95 % CI {lo:.1%}-{hi:.1%})")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "rows.json").write_text(json.dumps(rows, indent=1))
        (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
