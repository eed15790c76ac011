"""The dashboard driven through Streamlit's AppTest (a real script run, no browser)."""

from conftest import encode, noise, tone
from streamlit.testing.v1 import AppTest


def _app():
    at = AppTest.from_file("../pages/analyse.py", default_timeout=120)
    at.run()
    return at


def test_upload_shows_score_and_verdict():
    at = _app()
    assert not at.exception
    at.file_uploader[0].upload("song.wav", encode(tone(440.0, 4.0) + noise(4.0, amp=0.02)), "audio/wav").run()
    assert not at.exception
    metric = at.metric[0]
    assert metric.label == "AI-likeness score" and 0.1 <= float(metric.value) <= 0.95
    assert any("Likely" in h.value for h in at.subheader)
    assert any("CLAP layer did not run" in i.value for i in at.info)


def test_bad_file_shows_a_friendly_error():
    at = _app()
    at.file_uploader[0].upload("fake.mp3", b"definitely not audio" * 10, "audio/mpeg").run()
    assert not at.exception
    assert "fake.mp3" in at.error[0].value and "not a readable audio file" in at.error[0].value
