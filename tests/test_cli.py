import json
import subprocess
import sys

import pytest
from conftest import encode, noise, tone

from detector.layers.heuristics import Thresholds

pytestmark = pytest.mark.slow  # each test starts a Python subprocess


def run(*args):
    return subprocess.run([sys.executable, "-m", "detector", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    good = d / "good.flac"
    good.write_bytes(encode(tone(440.0, 4.0) + noise(4.0, amp=0.02), fmt="FLAC"))
    bad = d / "bad.mp3"
    bad.write_text("not audio at all" * 20)
    return good, bad


def test_text_output_and_exit_zero(files):
    good, _ = files
    out = run("analyze", str(good))
    assert out.returncode == 0, out.stderr
    assert "good.flac:" in out.stdout and "mfcc_variance" in out.stdout
    assert "[clap did not run]" in out.stdout


def test_bad_file_is_reported_and_the_others_still_run(files):
    good, bad = files
    out = run("analyze", str(bad), str(good), "--json")
    assert out.returncode == 1
    assert "bad.mp3: This is not a readable audio file" in out.stderr
    reports = json.loads(out.stdout)
    assert "not a readable audio file" in reports[0]["error"]
    assert reports[1]["source_name"] == "good.flac" and 0.1 <= reports[1]["score"] <= 0.95


def test_thresholds_profile_changes_the_score(files, tmp_path):
    good, _ = files
    default = json.loads(run("analyze", str(good), "--json").stdout)[0]
    profile = tmp_path / "p.json"
    Thresholds(base=0.7).save(profile)
    tuned = json.loads(run("analyze", str(good), "--json", "--thresholds", str(profile)).stdout)[0]
    assert tuned["score"] == pytest.approx(min(default["score"] + 0.2, 0.95))
    assert tuned["thresholds"]["base"] == 0.7


def test_bad_profile_and_bad_arguments_exit_two(files, tmp_path):
    good, _ = files
    profile = tmp_path / "bad.json"
    profile.write_text('{"base": 0.5}')
    out = run("analyze", str(good), "--thresholds", str(profile))
    assert out.returncode == 2 and "bad threshold profile: Missing key(s)" in out.stderr
    out = run("analyze", str(good), "--segment-seconds", "-1")
    assert out.returncode == 2 and "must be positive" in out.stderr


def test_benchmark_prints_its_ratio():
    out = subprocess.run([sys.executable, "-m", "detector.bench", "--duration", "5", "--repeats", "1"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "speed-up:" in out.stdout and "peak" in out.stdout
    diff = float(out.stdout.rsplit("max relative feature difference", 1)[1].split()[0])
    assert diff < 1e-5
