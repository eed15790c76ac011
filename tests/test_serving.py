"""Serving safely: loopback by default, the launcher's refusal without sign-in, the mode and the gate's logic."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from detector.cli import main
from detector.cli import serve as serve_command
from detector.serving import (
    ALLOW_OPEN_ENV, ALLOW_OPEN_VALUE, ANONYMOUS, LOCAL_MODE, LOCAL_USER, OPEN_MODE, REFUSED, TEAM_MODE, Mode,
    UserLimits, check_auth, decide, grant, identity, is_admin, is_loopback, read_secrets, read_settings, via_proxy,
)

ROOT = Path(__file__).resolve().parent.parent
AUTH = {"redirect_uri": "https://detector.example.org/oauth2callback", "cookie_secret": "c0ffee" * 11,
        "client_id": "workbench", "client_secret": "s3cret",
        "server_metadata_url": "https://idp.example.org/.well-known/openid-configuration"}
SECRETS_TOML = """
[auth]
redirect_uri = "https://detector.example.org/oauth2callback"
cookie_secret = "{secret}"

[auth.google]
client_id = "workbench"
client_secret = "s3cret"
server_metadata_url = "https://accounts.google.com/.well-known/openid-configuration"

[detector]
admins = ["Ana@Example.org"]
""".format(secret="c0ffee" * 11)


# -- loopback by default ----------------------------------------------------------------------------------------------

def test_the_shipped_config_binds_loopback_and_keeps_streamlits_request_checks():
    server = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]
    assert server["address"] == "127.0.0.1" and is_loopback(server["address"])
    assert server["enableXsrfProtection"] is True and server["enableCORS"] is True
    assert server["maxUploadSize"] == 256 and server["headless"] is True  # the keys that were there stay


def test_make_run_binds_loopback_and_make_serve_is_the_launcher():
    makefile = (ROOT / "Makefile").read_text()
    run = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "--server.address 127.0.0.1" in run
    serve = makefile.split("\nserve:", 1)[1].split("\n\n", 1)[0]
    assert "-m detector serve" in serve  # checks sign-in before starting streamlit
    assert ".streamlit/secrets.toml" in (ROOT / ".gitignore").read_text()  # credentials never committed


@pytest.mark.parametrize(("address", "loopback"), [
    ("127.0.0.1", True), ("127.3.2.1", True), ("localhost", True), ("::1", True), ("[::1]", True),
    ("0.0.0.0", False), ("::", False), ("", False), (None, False), ("192.168.1.20", False), ("myhost", False),
])
def test_what_counts_as_loopback(address, loopback):
    assert is_loopback(address) is loopback


@pytest.mark.parametrize(("headers", "proxied"), [
    (None, False), ({}, False), ({"Host": "localhost:8501"}, False), ({"Host": "127.0.0.1:8501"}, False),
    ({"Host": "[::1]:8501"}, False), ({"Host": "detector.example.org"}, True),
    ({"Host": "localhost:8501", "X-Forwarded-For": "10.0.0.7"}, True), ({"host": "127.0.0.1", "Forwarded": "x"}, True),
    ({"Host": "evil.example:8501"}, True),  # a DNS-rebinding page that resolves to 127.0.0.1
])
def test_a_request_through_a_proxy_or_another_name_is_not_local(headers, proxied):
    assert via_proxy(headers) is proxied


# -- sign-in configuration ----------------------------------------------------------------------------------------------

def test_a_complete_auth_section_is_ready_with_its_providers():
    assert check_auth(AUTH).ready and check_auth(AUTH).providers == (None,)
    named = {**{k: AUTH[k] for k in ("redirect_uri", "cookie_secret")},
             "google": {k: AUTH[k] for k in ("client_id", "client_secret", "server_metadata_url")},
             "microsoft": {k: AUTH[k] for k in ("client_id", "client_secret", "server_metadata_url")}}
    assert check_auth(named).ready and check_auth(named).providers == ("google", "microsoft")


@pytest.mark.parametrize(("auth", "says"), [
    (None, "there is no [auth] section"),
    ({}, "there is no [auth] section"),
    ({**AUTH, "redirect_uri": ""}, "needs redirect_uri"),
    ({**AUTH, "redirect_uri": "https://x.example/callback"}, "must end with /oauth2callback"),
    ({**AUTH, "cookie_secret": "short"}, "at least 32 characters"),
    ({k: v for k, v in AUTH.items() if k != "client_secret"}, "lacks client_secret"),
    ({"redirect_uri": AUTH["redirect_uri"], "cookie_secret": AUTH["cookie_secret"]}, "configures no identity provider"),
    ({"redirect_uri": AUTH["redirect_uri"], "cookie_secret": AUTH["cookie_secret"], "my_idp": {"client_id": "x"}},
     "cannot contain an underscore"),
    ({"redirect_uri": AUTH["redirect_uri"], "cookie_secret": AUTH["cookie_secret"], "okta": {"client_id": "x"}},
     "[auth.okta] lacks client_secret, server_metadata_url"),
])
def test_an_incomplete_auth_section_says_what_is_missing(auth, says):
    found = check_auth(auth)
    assert not found.ready and any(says in p for p in found.problems), found.problems


def test_sign_in_without_authlib_or_tls_is_explained():
    assert "Authlib package is not installed" in check_auth(AUTH, authlib=False).problems[0]
    plain = check_auth({**AUTH, "redirect_uri": "http://detector.example.org/oauth2callback"})
    assert plain.ready and "plain http" in plain.warnings[0] and "TLS" in plain.warnings[0]
    assert check_auth({**AUTH, "redirect_uri": "http://localhost:8501/oauth2callback"}).warnings == ()


def test_settings_come_from_the_environment_first_then_the_detector_section(tmp_path):
    secrets = {"auth": AUTH, "detector": {"admins": ["Ana@Example.org", "bo@example.org"], "serve": "team",
                                          "concurrent_analyses": 3, "data_root": str(tmp_path)}}
    found = read_settings({}, secrets)
    assert found.serve == "team" and found.auth.ready and found.data_root == tmp_path and not found.problems
    assert found.admins == {"ana@example.org", "bo@example.org"}
    assert found.limits == UserLimits(concurrent_analyses=3)
    env = {"DETECTOR_ADMINS": "cy@example.org, dee@example.org", "DETECTOR_CONCURRENT_ANALYSES": "1",
           "DETECTOR_UPLOAD_MIB_PER_HOUR": "64", "DETECTOR_TRAINING_JOBS": "2", "DETECTOR_SERVE": "local"}
    found = read_settings(env, secrets)
    assert found.serve == "local" and found.admins == {"cy@example.org", "dee@example.org"}
    assert found.limits == UserLimits(1, 64, 2)


@pytest.mark.parametrize(("env", "says"), [
    ({"DETECTOR_SERVE": "tema"}, "DETECTOR_SERVE must be 'local' or 'team'"),
    ({ALLOW_OPEN_ENV: "yes"}, "the only value that serves others without sign-in is 'i-understand'"),
    ({"DETECTOR_CONCURRENT_ANALYSES": "0"}, "DETECTOR_CONCURRENT_ANALYSES / [detector] concurrent_analyses must be"),
    ({"DETECTOR_UPLOAD_MIB_PER_HOUR": "lots"}, "must be a whole number of at least 1, not 'lots'"),
])
def test_unusable_settings_are_problems_not_crashes(env, says):
    found = read_settings(env, {"auth": AUTH})
    assert any(says in p for p in found.problems), found.problems


def test_a_data_root_that_is_not_a_folder_is_off_with_a_warning(tmp_path):
    found = read_settings({"DETECTOR_DATA_ROOT": str(tmp_path / "nowhere")}, {})
    assert found.data_root is None and "is not a folder" in found.warnings[0]


def test_unreadable_secret_files_are_problems(tmp_path):
    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text(SECRETS_TOML)
    bad.write_text("[auth\nbroken")
    merged, problems = read_secrets([tmp_path / "missing.toml", good, bad])
    assert merged["auth"]["redirect_uri"].startswith("https://") and len(problems) == 1 and "bad.toml" in problems[0]


# -- the mode -----------------------------------------------------------------------------------------------------------

def _settings(env=None, secrets=None):
    return read_settings(env or {}, secrets if secrets is not None else {}, authlib=True)


def test_loopback_without_anything_configured_is_local():
    assert decide(_settings(), "127.0.0.1").kind == LOCAL_MODE
    assert decide(_settings(secrets={"auth": AUTH}), "localhost").kind == LOCAL_MODE  # sign-in only when shared


def test_every_interface_without_sign_in_is_refused_with_what_to_configure():
    for address in ("0.0.0.0", None, "192.168.1.20"):
        mode = decide(_settings(), address)
        assert mode.kind == REFUSED and mode.shared
        assert "requires sign-in" in mode.message and "[auth]" in mode.message and "secrets.toml" in mode.message
        assert "make run" in mode.message and f"{ALLOW_OPEN_ENV}={ALLOW_OPEN_VALUE}" in mode.message


def test_team_mode_is_asked_for_or_implied():
    assert decide(_settings({"DETECTOR_SERVE": "team"}), "127.0.0.1").kind == REFUSED  # behind a proxy: still sign-in
    assert decide(_settings({"DETECTOR_SERVE": "team"}, {"auth": AUTH}), "127.0.0.1").kind == TEAM_MODE
    assert decide(_settings(secrets={"auth": AUTH}), "0.0.0.0").kind == TEAM_MODE
    reached = decide(_settings(), "127.0.0.1", proxied=True)
    assert reached.kind == REFUSED and "through a proxy" in reached.message


def test_the_open_opt_out_is_explicit_and_loud():
    mode = decide(_settings({ALLOW_OPEN_ENV: ALLOW_OPEN_VALUE}), "0.0.0.0")
    assert mode.kind == OPEN_MODE and "no sign-in" in mode.message and "Anyone who can reach it" in mode.message
    wrong = decide(_settings({ALLOW_OPEN_ENV: "true"}), "0.0.0.0")
    assert wrong.kind == REFUSED and "opens nothing" in wrong.message and "Sign-in is not configured" in wrong.message


def test_bad_settings_refuse_a_shared_server_even_with_sign_in():
    mode = decide(_settings({"DETECTOR_TRAINING_JOBS": "-1"}, {"auth": AUTH}), "0.0.0.0")
    assert mode.kind == REFUSED and "DETECTOR_TRAINING_JOBS" in mode.message
    assert decide(_settings({"DETECTOR_TRAINING_JOBS": "-1"}), "127.0.0.1").kind == LOCAL_MODE  # ignored locally


# -- the gate's logic ---------------------------------------------------------------------------------------------------

TEAM = Mode(TEAM_MODE, "0.0.0.0")


def test_on_ones_own_machine_everyone_is_local_and_an_admin_without_limits():
    access = grant(Mode(LOCAL_MODE, "127.0.0.1"), {"is_logged_in": False})
    assert access.allowed and access.user == LOCAL_USER and access.is_admin and access.limit_key is None


def test_a_team_server_lets_nobody_in_until_signed_in():
    for claims in ({}, {"is_logged_in": False}, {"email": "ana@example.org"}):  # no is_logged_in: not signed in
        access = grant(TEAM, claims)
        assert not access.allowed and access.needs_sign_in and not access.is_admin
    access = grant(TEAM, {"is_logged_in": True, "email": "ana@example.org"})
    assert access.allowed and access.user == "ana@example.org" and access.limit_key == "ana@example.org"
    assert not access.is_admin


def test_admins_are_named_by_a_verified_email():
    admins = frozenset({"ana@example.org"})
    assert grant(TEAM, {"is_logged_in": True, "email": "Ana@Example.org"}, admins=admins).is_admin
    assert not is_admin({"is_logged_in": True, "email": "ana@example.org", "email_verified": False}, admins)
    assert not is_admin({"is_logged_in": False, "email": "ana@example.org"}, admins)


def test_a_sign_in_that_names_nobody_is_not_let_in():
    assert identity({"is_logged_in": True, "sub": "abc123"}) == "abc123"
    access = grant(TEAM, {"is_logged_in": True, "name": "Ana"})
    assert not access.allowed and access.signed_in and not access.needs_sign_in


def test_an_open_server_records_anonymous_and_limits_each_session():
    one = grant(Mode(OPEN_MODE, "0.0.0.0", "banner"), {}, session="s1")
    two = grant(Mode(OPEN_MODE, "0.0.0.0", "banner"), {}, session="s2")
    assert one.user == two.user == ANONYMOUS and one.limit_key != two.limit_key and not one.is_admin


def test_a_refused_server_lets_nobody_in():
    assert not grant(Mode(REFUSED, "0.0.0.0", "why"), {"is_logged_in": True, "email": "a@b.c"}).allowed


# -- the launcher -------------------------------------------------------------------------------------------------------

@pytest.fixture
def secrets_at(tmp_path, monkeypatch):
    """Point the launcher at a secrets.toml of the test's own, never the project's or the user's."""
    path = tmp_path / "secrets.toml"
    monkeypatch.setattr(serve_command, "secret_files", lambda: [path])
    for name in ("DETECTOR_SERVE", ALLOW_OPEN_ENV, "DETECTOR_ADMINS", "DETECTOR_DATA_ROOT"):
        monkeypatch.delenv(name, raising=False)
    return path


def test_the_launcher_refuses_to_serve_without_sign_in(secrets_at, capsys, monkeypatch):
    monkeypatch.setattr(os, "execve", lambda *a: pytest.fail("started without sign-in"))
    assert main(["serve", "--address", "0.0.0.0", "--port", "8599"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: not starting.") and "requires sign-in" in err and "[auth]" in err
    assert main(["serve", "--address", "127.0.0.1"]) == 2  # team mode behind a proxy needs sign-in too


def test_the_launcher_starts_streamlit_in_team_mode_when_sign_in_is_configured(secrets_at, capsys, monkeypatch):
    secrets_at.write_text(SECRETS_TOML)
    started = []
    monkeypatch.setattr(os, "execve", lambda exe, argv, env: started.append((argv, env)))
    monkeypatch.setattr(os, "chdir", lambda path: None)
    assert main(["serve", "--check"]) == 0 and not started
    assert "Sign-in required (provider: google)" in capsys.readouterr().err
    assert main(["serve", "--address", "0.0.0.0", "--port", "8599"]) == 0
    (argv, env), = started
    assert argv[1:4] == ["-m", "streamlit", "run"] and argv[4].endswith("dashboard.py")
    assert argv[5:] == ["--server.address", "0.0.0.0", "--server.port", "8599"]
    assert env["DETECTOR_SERVE"] == "team"


def test_the_launcher_serves_open_only_when_told_so_loudly(secrets_at, capsys, monkeypatch):
    monkeypatch.setenv(ALLOW_OPEN_ENV, ALLOW_OPEN_VALUE)
    assert main(["serve", "--check"]) == 0
    err = capsys.readouterr().err
    assert "!" * 78 in err and "Open server, no sign-in" in err
    monkeypatch.setenv(ALLOW_OPEN_ENV, "yes")
    assert main(["serve", "--check"]) == 2 and "opens nothing" in capsys.readouterr().err


def test_the_real_launcher_refuses_in_a_fresh_process(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DETECTOR_")}
    env["HOME"] = str(tmp_path)  # no ~/.streamlit/secrets.toml
    done = subprocess.run([sys.executable, "-m", "detector", "serve", "--port", "8599"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    if (ROOT / ".streamlit" / "secrets.toml").exists():
        pytest.skip("this checkout has its own .streamlit/secrets.toml")
    assert done.returncode == 2 and "requires sign-in" in done.stderr and "Traceback" not in done.stderr
