"""The dashboard served to others, through AppTest: the sign-in gate, who is recorded, admin actions, limits.

``st.user`` is set at the boundary with ``AppTest.user`` and the ``[auth]`` section with ``AppTest.secrets``;
everything between them and the history is the real code.
"""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from conftest import chirp, encode, noise, tone
from streamlit import config
from streamlit.testing.v1 import AppTest

from detector.history import HistoryStore

TIMEOUT = 120
AUTH = {"redirect_uri": "https://detector.example.org/oauth2callback", "cookie_secret": "c0ffee" * 11,
        "client_id": "workbench", "client_secret": "s3cret",
        "server_metadata_url": "https://idp.example.org/.well-known/openid-configuration"}
ANA = {"is_logged_in": True, "email": "ana@example.org", "name": "Ana"}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("DETECTOR_SERVE", "DETECTOR_ALLOW_OPEN", "DETECTOR_ADMINS", "DETECTOR_DATA_ROOT",
                 "DETECTOR_CONCURRENT_ANALYSES", "DETECTOR_UPLOAD_MIB_PER_HOUR", "DETECTOR_TRAINING_JOBS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def everywhere():
    """The server bound to every interface (``streamlit run --server.address 0.0.0.0``), for one test."""
    before = config.get_option("server.address")
    config.set_option("server.address", "0.0.0.0")
    yield
    config.set_option("server.address", before)


def _app(*, user=None, auth=True, **query) -> AppTest:
    at = AppTest.from_file("../dashboard.py", default_timeout=TIMEOUT)
    if auth:
        at.secrets["auth"] = AUTH
    if user is not None:
        at.user = user
    for key, value in query.items():
        at.query_params[key] = value
    return at


def _team(monkeypatch, user=None, **query) -> AppTest:
    monkeypatch.setenv("DETECTOR_SERVE", "team")
    return _app(user={"is_logged_in": False} if user is None else user, **query).run()


def _song(seconds=4.0, seed=0) -> bytes:
    return encode(tone(440.0, seconds) + noise(seconds, amp=0.02, seed=seed))


def _shows_no_page(at) -> None:
    assert not at.exception
    assert not at.get("file_uploader") and not at.get("plotly_chart") and not at.get("dataframe")
    assert not any(m.value.startswith("**Profile:**") for m in at.sidebar.markdown)


# -- on one's own machine ------------------------------------------------------------------------------------------

def test_on_loopback_nobody_signs_in_and_analyses_are_recorded_as_local(data_dir):
    at = _app(auth=False).run()
    assert not at.exception and not any(b.label.startswith("Sign") for b in at.button)
    at.file_uploader[0].upload("mine.wav", _song(), "audio/wav").run()
    assert not at.exception and not at.error
    (row,) = HistoryStore(data_dir / "history.sqlite3").rows()
    assert row.user == "local"
    at.switch_page("pages/history.py").run()
    table = at.dataframe[0].value
    assert list(table["user"]) == ["local"]


# -- a team server ---------------------------------------------------------------------------------------------------

def test_a_team_server_shows_only_the_sign_in_until_signed_in(monkeypatch, data_dir):
    at = _team(monkeypatch)
    _shows_no_page(at)
    assert [t.value for t in at.title] == ["AI music detector"]
    assert [b.label for b in at.button] == ["Sign in"]
    assert any("Sign in** to analyse tracks" in m.value for m in at.markdown)
    # no page script is registered at all: every address draws the sign-in (the browser test opens them)
    with pytest.raises(ValueError, match=r"Could not find a navigation page for '.*pages/models.py'"):
        at.switch_page("pages/models.py")
    linked = _team(monkeypatch, a="1")
    _shows_no_page(linked)


@pytest.mark.parametrize("page", ["analyse", "tune", "history", "models"])
def test_a_page_run_on_its_own_is_gated_too(monkeypatch, page):
    """Streamlit runs ``pages/<page>.py`` directly, without the dashboard, for an address like ``/history`` until a
    session has run the dashboard's navigation: the page itself lets nobody in unsigned."""
    monkeypatch.setenv("DETECTOR_SERVE", "team")
    at = AppTest.from_file(f"../pages/{page}.py", default_timeout=TIMEOUT)
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": False}
    at.run()
    _shows_no_page(at)
    assert [t.value for t in at.title] == ["AI music detector"] and [b.label for b in at.button] == ["Sign in"]
    at.user = ANA
    at.run()
    assert not at.exception and [t.value for t in at.title] != ["AI music detector"]


def test_each_configured_provider_gets_its_button(monkeypatch):
    monkeypatch.setenv("DETECTOR_SERVE", "team")
    at = AppTest.from_file("../dashboard.py", default_timeout=TIMEOUT)
    provider = {k: AUTH[k] for k in ("client_id", "client_secret", "server_metadata_url")}
    at.secrets["auth"] = {"redirect_uri": AUTH["redirect_uri"], "cookie_secret": AUTH["cookie_secret"],
                          "google": provider, "microsoft": provider}
    at.user = {"is_logged_in": False}
    at.run()
    assert [b.label for b in at.button] == ["Sign in with Google", "Sign in with Microsoft"]


def test_a_signed_in_user_is_recorded_for_analyses_labels_and_profiles(monkeypatch, data_dir):
    at = _team(monkeypatch, ANA)
    assert not at.exception
    assert any(c.value == "Signed in as **ana@example.org**" for c in at.sidebar.caption)
    assert any(b.label == "Sign out" for b in at.sidebar.button)
    at.file_uploader[0].upload("ana's take.wav", _song(seed=1), "audio/wav").run()
    assert not at.exception and not at.error
    store = HistoryStore(data_dir / "history.sqlite3")
    (row,) = store.rows()
    assert row.user == "ana@example.org"
    label = next(s for s in at.segmented_control if s.key.startswith("analyse:label:"))
    label.set_value("ai").run()
    with store._connect() as conn:
        assert conn.execute("SELECT label, user FROM labels").fetchall() == [("ai", "ana@example.org")]

    at.switch_page("pages/tune.py").run()
    at.text_input(key="tune:name").input("ana-strict").run()
    next(b for b in at.button if b.label == "Save").click().run()
    assert not at.exception and any("Saved profile **ana-strict**" in s.value for s in at.success)
    assert "ana@example.org" in store.profile_users().values()


def test_a_sign_in_that_names_nobody_is_explained(monkeypatch):
    at = _team(monkeypatch, {"is_logged_in": True, "name": "Somebody"})
    _shows_no_page(at)
    assert "did not say who you are" in at.error[0].value and [b.label for b in at.button] == ["Sign out"]


def test_served_beyond_loopback_without_sign_in_shows_only_what_to_configure(everywhere):
    at = _app(auth=False).run()
    _shows_no_page(at)
    text = at.error[0].value
    assert "listens on 0.0.0.0" in text and "requires sign-in" in text and ".streamlit/secrets.toml" in text
    assert "DETECTOR_ALLOW_OPEN=i-understand" in text and "Traceback" not in text
    assert not at.button


def test_an_open_server_warns_and_records_anonymous(everywhere, monkeypatch, data_dir):
    monkeypatch.setenv("DETECTOR_ALLOW_OPEN", "i-understand")
    at = _app(auth=False).run()
    assert not at.exception and "Open server, no sign-in" in at.warning[0].value
    at.file_uploader[0].upload("open.wav", _song(seed=2), "audio/wav").run()
    assert HistoryStore(data_dir / "history.sqlite3").rows()[0].user == "anonymous"
    # (AppTest keeps only the page's own elements after switch_page; the browser test sees the banner on every page)


# -- the Models page on a team server ---------------------------------------------------------------------------------

def test_clap_installs_are_for_admins_and_no_server_path_can_be_typed(monkeypatch):
    at = _team(monkeypatch, ANA).switch_page("pages/models.py").run()
    assert not at.exception
    keys = {w.key for w in [*at.button, *at.get("file_uploader"), *at.text_input]}
    assert not keys & {"models:clap-download", "models:clap-upload", "models:data"}
    assert any("installing a CLAP checkpoint (download or upload) is for its admins" in c.value for c in at.caption)
    assert [u.key for u in at.get("file_uploader")] == ["models:zip"]  # training data: an upload

    monkeypatch.setenv("DETECTOR_ADMINS", "someone@example.org, ANA@example.org")
    at = _team(monkeypatch, ANA)
    assert any("· admin" in c.value for c in at.sidebar.caption)  # (AppTest keeps the first run's sidebar only)
    at.switch_page("pages/models.py").run()
    assert any(b.key == "models:clap-download" for b in at.button)


def _labelled(n=3) -> dict[str, bytes]:
    tracks = {}
    for i in range(n):
        tracks[f"ai/ai-{i}.wav"] = encode(tone(220.0 * (i + 1), 2.0) + tone(440.0 * (i + 1), 2.0))
        tracks[f"human/human-{i}.wav"] = encode(noise(2.0, seed=i) + 0.3 * chirp(2.0))
    return tracks


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


def test_a_team_member_trains_from_an_uploaded_zip_and_the_card_says_who(monkeypatch, data_dir):
    at = _team(monkeypatch, ANA).switch_page("pages/models.py").run()
    at.file_uploader(key="models:zip").upload("set.zip", _zip({**_labelled(), "set-notes.txt": b"hi"}),
                                              "application/zip").run()
    at.number_input(key="models:folds").set_value(2)
    at.number_input(key="models:test").set_value(0.0)
    at.button(key="models:train").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("left out: set-notes.txt" in i.value for i in at.info)
    card = json.loads((data_dir / "models" / "my-model.card.json").read_text())
    assert card["trained_by"] == "ana@example.org" and card["dataset"] == "upload set.zip"
    assert not list((data_dir / "uploads").iterdir())  # the unpacked upload is gone
    at.run()  # the list of saved models is drawn above the training
    at.selectbox(key="models:choice").select("my-model.skops").run()
    assert any("by ana@example.org" in c.value for c in at.caption)


def test_a_team_member_trains_from_a_folder_of_the_data_root_only(monkeypatch, tmp_path, data_dir):
    root = tmp_path / "datasets"
    for name, data in _labelled().items():
        (root / "set-1" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "set-1" / name).write_bytes(data)
    outside = tmp_path / "elsewhere"
    for label in ("human", "ai"):
        (outside / label).mkdir(parents=True)
    (root / "linked").symlink_to(outside, target_is_directory=True)
    monkeypatch.setenv("DETECTOR_DATA_ROOT", str(root))
    at = _team(monkeypatch, ANA).switch_page("pages/models.py").run()
    at.segmented_control(key="models:source").set_value("root").run()
    box = at.selectbox(key="models:root-folder")
    assert box.options == ["set-1"]  # the link out of the root is not offered
    at.number_input(key="models:folds").set_value(2)
    at.number_input(key="models:test").set_value(0.0)
    at.button(key="models:train").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    card = json.loads((data_dir / "models" / "my-model.card.json").read_text())
    assert card["dataset"] == "data root: set-1" and str(root) not in json.dumps(card)


# -- per-user limits, as the pages show them --------------------------------------------------------------------------

def test_an_upload_over_the_hourly_volume_is_refused_in_words(monkeypatch, data_dir):
    monkeypatch.setenv("DETECTOR_UPLOAD_MIB_PER_HOUR", "1")
    at = _team(monkeypatch, {**ANA, "email": "volume@example.org"})
    at.file_uploader[0].upload("long.wav", _song(seconds=14.0), "audio/wav").run()  # about 1.2 MiB
    assert not at.exception
    assert "**long.wav** was not used." in at.error[0].value
    assert "the limit on this server is 1 MiB per hour per person" in at.error[0].value
    assert HistoryStore(data_dir / "history.sqlite3").count() == 0


def test_a_user_at_their_analysis_limit_is_told_to_wait_and_others_are_not(monkeypatch, data_dir):
    from pages._serving import _limiter

    monkeypatch.setenv("DETECTOR_CONCURRENT_ANALYSES", "1")
    shared = _limiter(1, 1024, 1)  # the server's own limiter for these limits (st.cache_resource)
    with shared.analysis("busy@example.org"):
        at = _team(monkeypatch, {**ANA, "email": "busy@example.org"})
        at.file_uploader[0].upload("third.wav", _song(seed=3), "audio/wav").run()
        assert not at.exception
        assert "You already have an analysis running on this server" in at.error[0].value
        other = _team(monkeypatch, {**ANA, "email": "free@example.org"})
        other.file_uploader[0].upload("third.wav", _song(seed=3), "audio/wav").run()
        assert not other.exception and not other.error
    assert shared.running("busy@example.org", "analysis") == 0


def test_a_second_training_job_is_refused(monkeypatch, data_dir):
    from pages._serving import _limiter

    shared = _limiter(2, 1024, 1)
    with shared.training("trainer@example.org"):
        at = _team(monkeypatch, {**ANA, "email": "trainer@example.org"}).switch_page("pages/models.py").run()
        at.file_uploader(key="models:zip").upload("set.zip", _zip(_labelled(2)), "application/zip").run()
        at.button(key="models:train").click().run()
        assert not at.exception
        assert "You are already training a classifier on this server" in at.error[0].value
    assert not (data_dir / "models" / "my-model.skops").exists()


def test_a_team_member_opens_only_the_scans_of_the_data_root(monkeypatch, tmp_path, data_dir):
    """On a shared server the scan view offers the data root's scans (no folder can be typed), and a row whose
    file lies outside the root opens from its stored report without that file being read."""
    import numpy as np

    from detector.jobs.scan import ScanConfig, ScanOutput, ScanWorker

    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "tracks").mkdir(parents=True)
    outside.mkdir()
    (root / "tracks" / "inside.wav").write_bytes(_song(seed=1))
    (outside / "private.wav").write_bytes(_song(seed=2))
    paths = [str(root / "tracks" / "inside.wav"), str(outside / "private.wav")]
    rows = [json.loads(r) for r in ScanWorker(ScanConfig())({"path": np.array(paths),
                                                             "label": np.array(["", ""])})["row"]]
    with ScanOutput(root / "scans" / "week1") as output:
        output.write(rows)
    monkeypatch.setenv("DETECTOR_DATA_ROOT", str(root))
    at = _team(monkeypatch, ANA, scan="/etc").switch_page("pages/history.py").run()
    assert not at.exception
    assert [t for t in at.text_input if t.key == "scan:out"] == []  # nothing to type a server path into
    assert at.selectbox(key="scan:root").options == ["scans/week1"]
    assert {m.label: m.value for m in at.metric}["Files"] == "2"
    at.text_input(key="scan:search").input("private").run()
    at.selectbox(key="scan:open").select_index(1).run()
    assert not at.exception and not at.error
    assert any("outside the data root" in c.value for c in at.caption)  # drawn from the stored report only
