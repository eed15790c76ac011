"""The Models page shows what the server's caches hold, in entries and bytes (logic in detector.lru)."""

from conftest import encode, noise, tone
from streamlit.testing.v1 import AppTest


def test_models_page_shows_the_feature_cache_in_bytes():
    at = AppTest.from_file("../dashboard.py", default_timeout=120).run()
    at.file_uploader[0].upload("cached.wav", encode(tone(440.0, 6.0) + noise(6.0, amp=0.02)), "audio/wav").run()
    assert not at.exception
    at.switch_page("pages/models.py").run()
    assert not at.exception
    caption = next(c.value for c in at.caption if c.value.startswith("Analysed tracks"))
    # the feature cache is shared by the server (st.cache_resource): at least this track, never zero bytes
    entries = int(caption.split(": ", 1)[1].split(" of at most ")[0])
    assert entries >= 1 and " 0.0 MiB of 512 MiB" not in caption and "MiB of 512 MiB" in caption
