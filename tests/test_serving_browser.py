"""End to end: a real `streamlit run` in team mode, on loopback, in Debian's headless Chromium.

The servers here listen on 127.0.0.1 only; team mode is asked for with ``DETECTOR_SERVE=team``, as behind a
reverse proxy on the same machine. Nobody signs in (that needs a real identity provider): what is checked is
that nothing but the sign-in, or the message saying what to configure, reaches the browser.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_browser import CHROMIUM, _complaints, browser, streamlit_server  # noqa: F401 - browser is a fixture

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")]

SECRETS = """
[auth]
redirect_uri = "http://localhost:{port}/oauth2callback"
cookie_secret = "{secret}"
client_id = "workbench"
client_secret = "s3cret"
server_metadata_url = "https://idp.example.org/.well-known/openid-configuration"
"""


def _body(page) -> str:
    return page.inner_text("body")


def test_a_team_server_without_sign_in_shows_only_what_to_configure(tmp_path, browser):  # noqa: F811
    with streamlit_server(tmp_path, {"DETECTOR_SERVE": "team"}) as url:
        page = browser.new_page()
        console = _complaints(page)
        for path in ("", "/history", "/models?x=1"):
            page.goto(url + path)
            page.get_by_text("so it requires sign-in").first.wait_for(timeout=60_000)
            body = _body(page)
            assert "[auth]" in body and "make run" in body
            assert "Drop a track" not in body and "Train a classifier" not in body and "Traceback" not in body
        assert console == [], console[:5]


def test_a_fresh_servers_first_visit_to_a_page_address_is_gated(tmp_path, browser):  # noqa: F811
    """Until a session has run the dashboard, Streamlit sends ``/models`` straight to ``pages/models.py``."""
    with streamlit_server(tmp_path, {"DETECTOR_SERVE": "team"}, SECRETS) as url:
        page = browser.new_page()
        page.goto(url + "/models")  # the first visit of all
        page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
        body = _body(page)
        assert "Train a classifier" not in body and "CLAP embedding layer" not in body


def test_a_team_server_with_sign_in_shows_only_the_sign_in(tmp_path, browser):  # noqa: F811
    with streamlit_server(tmp_path, {"DETECTOR_SERVE": "team"}, SECRETS) as url:
        page = browser.new_page()
        for path in ("", "/models"):
            page.goto(url + path)
            page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
            body = _body(page)
            assert "This workbench is shared" in body
            assert "Drop a track" not in body and "Train a classifier" not in body and "Profile:" not in body


def test_an_open_server_warns_on_every_page(tmp_path, browser):  # noqa: F811
    with streamlit_server(tmp_path, {"DETECTOR_SERVE": "team", "DETECTOR_ALLOW_OPEN": "i-understand"}) as url:
        page = browser.new_page()
        page.goto(url)
        page.get_by_text("Drop a track above").wait_for(timeout=60_000)
        assert "Open server, no sign-in" in _body(page)
        page.get_by_role("link", name="Batch & history").click()
        page.get_by_text("Analyse many tracks").wait_for(timeout=60_000)
        assert "Open server, no sign-in" in _body(page)


def test_a_local_server_reached_through_a_proxy_asks_for_sign_in(tmp_path, browser):  # noqa: F811
    with streamlit_server(tmp_path, {}) as url:
        page = browser.new_page()
        page.goto(url)
        page.get_by_text("Drop a track above").wait_for(timeout=60_000)  # from this machine: open, no sign-in
        proxied = browser.new_page(extra_http_headers={"X-Forwarded-For": "203.0.113.9"})
        proxied.goto(url)
        proxied.get_by_text("is being reached through a proxy").first.wait_for(timeout=60_000)
        assert "Drop a track" not in _body(proxied)
