"""End to end: a real `streamlit run` server, driven by Debian's headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
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


@contextmanager
def streamlit_server(tmp_path, env: dict | None = None, secrets: str | None = None):
    """A real `streamlit run dashboard.py` on a free loopback port, its data in ``tmp_path``; yields its URL.

    ``DETECTOR_*`` variables of this process are not passed on (``env`` sets them); its output goes to a file,
    never an unread pipe, and there is no file watcher (under heavy file activity it logs "Inotify queue
    overflowed" until the server blocks); it is killed if SIGTERM does not stop it."""
    port = _free_port()
    args = [sys.executable, "-m", "streamlit", "run", "dashboard.py", "--server.port", str(port),
            "--server.address", "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none"]
    if secrets is not None:
        path = tmp_path / "secrets.toml"
        path.write_text(secrets.format(port=port, secret="c0ffee" * 11))
        args += ["--secrets.files", str(path)]
    base = {k: v for k, v in os.environ.items() if not k.startswith("DETECTOR_")}
    log = (tmp_path / "server.log").open("wb")  # a file, not a pipe nobody reads: the server never blocks on it
    proc = subprocess.Popen(args, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            env={**base, "DETECTOR_DATA_DIR": str(tmp_path / "data"), **(env or {})})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.3)
        else:
            pytest.fail("streamlit did not start: " + (tmp_path / "server.log").read_text(errors="replace")[-2000:])
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with streamlit_server(tmp_path_factory.mktemp("server")) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


UPSTREAM_DEEP_LINK_404 = re.compile(r"/[a-z]+/_stcore/(health|host-config)$")
"""Opening a page's own URL (``/tune?p=...``) makes Streamlit's client probe ``/tune/_stcore/health`` and
``/tune/_stcore/host-config`` before the real ``/_stcore/...``: two 404s logged by the browser, a known Streamlit bug
(streamlit/streamlit#7074, open). Only those exact probes are ignored."""


def _complaints(page) -> list:
    """The console's errors and warnings, kept as they come. plotly.js logs its warnings with console.trace
    (type "trace"), e.g. one "Invalid color specifier: number 0.44" per bar given a number as its colour."""
    found = []

    def keep(msg) -> None:
        url = msg.location.get("url", "")
        if msg.type not in ("error", "warning", "trace") or UPSTREAM_DEEP_LINK_404.search(url):
            return
        found.append(f"{msg.type}: {msg.text} {url}")

    page.on("console", keep)
    return found


def _upload_and_wait(page, server, track):
    page.goto(server)
    page.get_by_text("Drop a track above").wait_for(timeout=60_000)
    page.locator("input[type=file]").set_input_files(str(track))
    page.get_by_test_id("stMetric").first.wait_for(timeout=120_000)  # the score, whatever its label
    page.get_by_text("Where in the track").wait_for(timeout=60_000)


def _screenshot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_timeout(1500)  # let plotly finish drawing
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def _shows(page, console, shot: str, *texts: str) -> None:
    """Wait for each of ``texts``, keep a screenshot, and check that no traceback and no console complaint came."""
    for text in texts:
        page.get_by_text(text).first.wait_for(timeout=60_000)
    _screenshot(page, shot)
    assert "Traceback" not in page.inner_text("body")
    assert console == [], console[:5]


def test_upload_a_wav_and_see_the_score(server, browser, tmp_path):
    track = tmp_path / "demo-track.wav"
    track.write_bytes(encode(tone(220.0, 30.0) + noise(30.0, amp=0.05)))
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    console = _complaints(page)
    _upload_and_wait(page, server, track)
    _screenshot(page, "analyse.png")
    body = page.inner_text("body")
    assert "Likely" in body and "Traceback" not in body
    assert console == [], console[:5]  # neither errors nor warnings on the Analyse page

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
        page.get_by_test_id("stMetric").first.wait_for(timeout=120_000)  # the score, whatever its label
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
    console = _complaints(page)
    _upload_and_wait(page, server, track)
    _shows(page, console, "analyse-fingerprint.png", "Decoder fingerprint found", "Likely AI-generated")
    page.close()


def test_a_tune_link_and_a_history_link_survive_a_new_session(server, browser, tmp_path):
    """What an analyst shares: a Tune URL with a profile, reloaded, keeps the tracks (they come from the history);
    a history link ``?a=N`` opens that analysis as it was made, in a fresh browser session."""
    from detector import Thresholds
    from detector.history import to_query

    track = tmp_path / "shared-track.wav"
    track.write_bytes(encode(tone(262.0, 20.0) + noise(20.0, amp=0.05, seed=7)))
    first = browser.new_context(viewport={"width": 1400, "height": 1600})
    page = first.new_page()
    _upload_and_wait(page, server, track)
    link = page.get_by_role("link", name="history?a=").first.get_attribute("href")
    assert link and "a=" in link
    row_id = link.split("a=")[1].split("&")[0]
    first.close()

    context = browser.new_context(viewport={"width": 1400, "height": 2400})
    page = context.new_page()
    console = _complaints(page)
    token = to_query(Thresholds(inconclusive=0.2))
    page.goto(f"{server}/tune?p={token}")
    page.get_by_text("Score before → after").wait_for(timeout=60_000)
    assert "shared-track.wav" in page.inner_text("body")  # drawn from the history, not the (new) session
    page.reload()
    page.get_by_text("Score before → after").wait_for(timeout=180_000)  # CI shares 2 cores with the other tests
    body = page.inner_text("body")
    assert "shared-track.wav" in body and "Traceback" not in body
    assert f"p={token}" in page.url

    page.goto(f"{server}/history?a={row_id}")
    _shows(page, console, "history-link.png", "As analysed on", "Where in the track", "shared-track.wav")
    context.close()


def test_the_stability_panel_runs_and_draws_its_dot_plot(server, browser, tmp_path):
    """The Analyse page's Stability panel: the button runs the check with a progress bar, then the summary in
    words, the dot plot and the table are drawn, with a clean console."""
    from detector.synthetic import encode as encode_audio
    from detector.synthetic import song

    track = tmp_path / "stability-demo.wav"
    track.write_bytes(encode_audio(song(35.0, 44100, seed=5), 44100, "WAV"))
    page = browser.new_page(viewport={"width": 1400, "height": 2000})
    console = _complaints(page)
    _upload_and_wait(page, server, track)
    page.get_by_role("button", name="Check stability").click()
    page.get_by_text("the deciding score under each change").first.wait_for(timeout=180_000)  # the dot plot's title
    _shows(page, console, "stability.png", "Every perturbation in numbers", "a stable verdict allows")
    assert page.get_by_role("button", name="Check stability").count() == 0
    page.close()


def test_a_catalogue_scan_opens_in_the_history_page(server, browser, tmp_path):
    """A scan's output folder (written as the Ray pipeline writes it) in a real browser: the counts, the score
    distribution, the table, and a row opened as a full analysis, with a clean console."""
    import json

    import numpy as np

    from detector.jobs.scan import ScanConfig, ScanOutput, ScanWorker

    for i, freq in enumerate((262.0, 330.0, 392.0)):
        (tmp_path / f"scanned-{i}.wav").write_bytes(encode(tone(freq, 8.0) + noise(8.0, amp=0.05, seed=i)))
    (tmp_path / "scanned-broken.mp3").write_bytes(b"junk" * 64)
    paths = sorted(str(p) for p in tmp_path.glob("scanned-*"))
    rows = [json.loads(r) for r in ScanWorker(ScanConfig())({"path": np.array(paths),
                                                             "label": np.array([""] * len(paths))})["row"]]
    with ScanOutput(tmp_path / "scan-out") as output:
        output.write(rows)
    context = browser.new_context(viewport={"width": 1400, "height": 2000})
    page = context.new_page()
    console = _complaints(page)
    page.goto(server)  # a fresh server's first request to a page's URL lists pages/ v1-style (upstream, see above)
    page.get_by_text("Drop a track above").wait_for(timeout=60_000)
    page.goto(f"{server}/history?scan={tmp_path / 'scan-out'}")
    _shows(page, console, "scan-view.png", "Could not be analysed", "Score distribution", "4 of 4 rows")
    page.get_by_test_id("stSelectbox").last.click()
    page.get_by_role("option").nth(1).click()
    _shows(page, console, "scan-row.png", "As scanned on", "Where in the track")
    context.close()
