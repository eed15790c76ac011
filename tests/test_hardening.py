"""Hostile input, concurrent users, crash safety, fuzzing and resource bounds (issue 6).

The bad-input matrix lives in ``hostile.py``; each case runs once through the library and
once through the dashboard's Analyse page.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import sqlite3
import struct
import tempfile
import time
import tomllib
import tracemalloc
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import SR, chirp, clicks, encode, noise, tone
from hostile import CASES, HOUR, wav_header
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from detector import AudioError, DetectionReport, Thresholds, analyze
from detector.audio import DEFAULT_MAX_DURATION
from detector.batch import analyze_batch
from detector.store import HistoryStore, profile_id

PROJECT = Path(__file__).resolve().parent.parent
DEFAULTS = Thresholds()


def assert_sound_report(report: DetectionReport, thresholds: Thresholds = DEFAULTS) -> None:
    """A usable report: a finite score inside [floor, ceiling] and nothing NaN anywhere."""
    assert math.isfinite(report.score), f"score is {report.score}"
    assert thresholds.floor <= report.score <= thresholds.ceiling, f"score {report.score} outside the clip range"
    assert math.isfinite(report.duration) and report.duration > 0
    for layer in report.layers.values():
        bad = {k: v for k, v in layer.features.items() if not math.isfinite(v)}
        assert not bad, f"{layer.name} features not finite: {bad}"
        assert math.isfinite(layer.score)
    for segment in report.segments:
        assert math.isfinite(segment.score), f"segment {segment.index} score is {segment.score}"
        assert all(math.isfinite(v) for v in segment.features.values()), f"segment {segment.index}: {segment.features}"


def without_timings(report: DetectionReport) -> str:
    """The report's JSON without the wall-clock timings, which differ from run to run."""
    data = report.to_dict()
    data.pop("timings")
    return json.dumps(data, sort_keys=True)


# -- 1. the bad-input matrix ---------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_library_tells_the_user_what_is_wrong(case):
    data = case.build()
    if case.error:
        with pytest.raises(AudioError) as err:
            analyze(data, name=case.filename)
        message = str(err.value)
        assert case.error in message
        assert "Traceback" not in message and 'File "' not in message
        return
    report = analyze(data, name=case.filename)
    assert_sound_report(report)
    assert report.duration == pytest.approx(case.duration, abs=case.tolerance)
    if case.warning:
        assert any(case.warning in w for w in report.warnings), report.warnings
    else:
        assert report.warnings == ()


HOUR_CASE = next(c for c in CASES if c.id == "one-hour")


@pytest.mark.parametrize("kind", ["8 kHz mono 8-bit, in memory", "44.1 kHz stereo 16-bit, 606 MiB sparse file"])
def test_an_hour_is_refused_from_its_header_fast_and_small(kind, tmp_path):
    if kind.startswith("8 kHz"):
        source = HOUR_CASE.build()
    else:  # a CD-quality hour; the sparse file takes no disk space and is never read
        source = tmp_path / "hour.wav"
        frames = HOUR * 44100
        with open(source, "wb") as fh:
            fh.write(wav_header(44100, 2, 16, frames))
            fh.truncate(44 + frames * 4)
    tracemalloc.start()
    t0 = time.perf_counter()
    with pytest.raises(AudioError, match=HOUR_CASE.error):
        analyze(source)
    elapsed = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 0.5, f"took {elapsed:.2f} s: the file was read, not just its header"
    assert peak < 1 * 2**20, f"peak {peak / 2**20:.1f} MiB: audio was decoded"


def _dashboard():
    return AppTest.from_file("../dashboard.py", default_timeout=60).run()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_dashboard_tells_the_user_what_is_wrong(case):
    at = _dashboard()
    at.file_uploader[0].upload(case.filename, case.build(), case.mime).run()
    assert not at.exception, f"the page crashed: {at.exception}"
    errors = [e.value for e in at.error]
    for text in errors + [w.value for w in at.warning]:
        assert "Traceback" not in text and 'File "' not in text, f"a stack trace reached the user: {text}"
    if case.error:
        assert len(errors) == 1 and case.filename in errors[0] and case.error in errors[0], errors
        assert not at.metric, "a bad file must never get a score"
        return
    assert not errors, errors
    score = at.metric[0]
    assert score.label == "AI-likeness score"
    assert DEFAULTS.floor <= float(score.value) <= DEFAULTS.ceiling
    assert any(f"{case.duration:.1f} s" in c.value for c in at.caption), "the duration is shown"
    warnings = [w.value for w in at.warning]
    if case.warning:
        assert any(case.warning in w for w in warnings), warnings
    else:
        assert not warnings, warnings
