"""End to end: a real `streamlit run` server, driven by Debian's headless Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import encode, noise, tone

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [pytest.mark.slow,  # a real streamlit server and Chromium
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (make test installs it)")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = _free_port()
    env = {**os.environ, "DETECTOR_DATA_DIR": str(tmp_path_factory.mktemp("data"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "dashboard.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
            break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("streamlit did not start: " + proc.stdout.read().decode(errors="replace")[-2000:])
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _upload_and_wait(page, server, track):
    page.goto(server)
    page.get_by_text("Drop a track above").wait_for(timeout=60_000)
    page.locator("input[type=file]").set_input_files(str(track))
    page.get_by_text("AI-likeness score").wait_for(timeout=120_000)
    page.get_by_text("Where in the track").wait_for(timeout=60_000)


def _screenshot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_timeout(1500)  # let plotly finish drawing
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_upload_a_wav_and_see_the_score(server, browser, tmp_path):
    track = tmp_path / "demo-track.wav"
    track.write_bytes(encode(tone(220.0, 30.0) + noise(30.0, amp=0.05)))
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    _upload_and_wait(page, server, track)
    _screenshot(page, "analyse.png")
    body = page.inner_text("body")
    assert "Likely" in body and "Traceback" not in body

    # Same session: the Tune page has the track; a slider moved by keyboard rescores it and updates the URL.
    page.get_by_role("link", name="Tune").click()
    page.get_by_text("Score before → after").wait_for(timeout=60_000)
    slider = page.get_by_role("slider").first  # "Starting score"
    slider.focus()
    for _ in range(10):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("() => window.location.search.includes('p=')", timeout=30_000)
    _screenshot(page, "tune.png")
    assert "Traceback" not in page.inner_text("body")
    page.close()


def test_two_sessions_analyse_at_the_same_time(server, browser, tmp_path):
    tracks = []
    for i, freq in enumerate((330.0, 550.0)):
        tracks.append(tmp_path / f"session-{i}.wav")
        tracks[-1].write_bytes(encode(tone(freq, 20.0) + noise(20.0, amp=0.05, seed=i)))
    contexts = [browser.new_context(viewport={"width": 1200, "height": 1000}) for _ in tracks]
    pages = [c.new_page() for c in contexts]
    for page in pages:
        page.goto(server)
        page.get_by_text("Drop a track above").wait_for(timeout=60_000)
    for page, track in zip(pages, tracks):  # both uploads start before either finishes
        page.locator("input[type=file]").set_input_files(str(track))
    for page, track in zip(pages, tracks):
        page.get_by_text("AI-likeness score").wait_for(timeout=120_000)
        body = page.inner_text("body")
        assert "Traceback" not in body
        assert f"session-{1 - int(track.stem[-1])}.wav" not in body  # no cross-talk between sessions
    for context in contexts:
        context.close()


def test_a_decoded_track_shows_its_fingerprint(server, browser, tmp_path):
    from detector.synthetic import DecoderSpec, song, through_decoder
    from detector.synthetic import encode as encode_audio

    track = tmp_path / "decoded-demo.wav"
    track.write_bytes(encode_audio(through_decoder(song(30.0, 44100, seed=2), 44100,
                                                   DecoderSpec((8, 4), 32000, steps=30, seed=1)), 44100, "WAV"))
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    console = []
    page.on("console", lambda msg: console.append(msg) if msg.type == "error" else None)
    _upload_and_wait(page, server, track)
    page.get_by_text("Decoder fingerprint found").wait_for(timeout=60_000)
    _screenshot(page, "analyse-fingerprint.png")
    body = page.inner_text("body")
    assert "Likely AI-generated" in body and "Traceback" not in body
    assert [m.text for m in console] == []
    page.close()
