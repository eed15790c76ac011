"""What the operator configured for serving: the mode, sign-in, admins, the data root, per-user limits.

Every setting is read from the environment first (``DETECTOR_<NAME>``), then from the
``[detector]`` section of Streamlit's ``secrets.toml``; sign-in is Streamlit's own
``[auth]`` section there. Reading never raises: a value that cannot be used becomes one
of :attr:`ServeSettings.problems`, which :func:`~detector.serving.mode.decide` turns into
a refusal to serve others (a workbench used on one's own machine ignores them).

=================================  =======================================================
``DETECTOR_SERVE`` / ``serve``     ``local`` (default) or ``team``: sign-in required
``DETECTOR_ALLOW_OPEN``            ``i-understand``: serve others without sign-in (banner)
``DETECTOR_ADMINS`` / ``admins``   e-mails allowed to install a CLAP checkpoint
``DETECTOR_DATA_ROOT``             the one server folder training data may come from
``DETECTOR_CONCURRENT_ANALYSES``   per user, at once (default 2)
``DETECTOR_UPLOAD_MIB_PER_HOUR``   per user (default 1024)
``DETECTOR_TRAINING_JOBS``         per user, at once (default 1)
=================================  =======================================================
"""

from __future__ import annotations

import importlib.util
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..config import PROJECT_ROOT

LOCAL, TEAM = "local", "team"
ALLOW_OPEN_ENV = "DETECTOR_ALLOW_OPEN"
ALLOW_OPEN_VALUE = "i-understand"
"""The one value of :data:`ALLOW_OPEN_ENV` that serves others without sign-in."""
MIN_COOKIE_SECRET = 32
"""Characters a sign-in cookie secret needs at least (``secrets.token_hex(32)`` gives 64)."""
PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")
SECRETS_HINT = ("python -c \"import secrets; print(secrets.token_hex(32))\"")


def env_name(name: str) -> str:
    """The environment variable of setting ``name``: ``admins`` -> ``DETECTOR_ADMINS``."""
    return f"DETECTOR_{name.upper()}"


@dataclass(frozen=True)
class UserLimits:
    """What one person may use at once on a shared server (nothing is limited on one's own machine)."""

    concurrent_analyses: int = 2
    """Analyses (a track, or a batch) running at once."""
    upload_mib_per_hour: int = 1024
    """MiB of uploads accepted in any 60 minutes."""
    training_jobs: int = 1
    """Classifier trainings running at once."""


@dataclass(frozen=True)
class AuthConfig:
    """The ``[auth]`` section as Streamlit's ``st.login`` reads it, checked before anyone needs it."""

    problems: tuple[str, ...]
    """What is missing or wrong; empty when sign-in will work."""
    providers: tuple[str | None, ...] = ()
    """The providers to offer: None is the default (``[auth]`` itself), a name an ``[auth.NAME]`` section."""
    warnings: tuple[str, ...] = ()

    @property
    def ready(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class ServeSettings:
    """Everything :func:`read_settings` found, already checked."""

    serve: str = LOCAL
    allow_open: bool = False
    auth: AuthConfig = field(default_factory=lambda: AuthConfig(("there is no [auth] section",)))
    admins: frozenset[str] = frozenset()
    """Lower-cased e-mails."""
    data_root: Path | None = None
    limits: UserLimits = UserLimits()
    problems: tuple[str, ...] = ()
    """Settings that cannot be used; serving others is refused until they are fixed."""
    warnings: tuple[str, ...] = ()


def secret_files(project: Path = PROJECT_ROOT) -> list[Path]:
    """Where Streamlit looks for ``secrets.toml`` by default, in the order it reads them (later wins)."""
    return [Path.home() / ".streamlit" / "secrets.toml", project / ".streamlit" / "secrets.toml"]


def read_secrets(paths: list[Path]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The merged contents of the ``secrets.toml`` files that exist, and a problem for each one unreadable."""
    merged: dict[str, Any] = {}
    problems = []
    for path in paths:
        if not path.is_file():
            continue
        try:
            merged.update(tomllib.loads(path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            problems.append(f"{path} cannot be read ({exc}); fix it, or sign-in cannot be configured")
    return merged, tuple(problems)


def authlib_installed() -> bool:
    """Whether Authlib, which ``st.login`` needs, can be imported."""
    return importlib.util.find_spec("authlib") is not None


def check_auth(auth: Any, *, authlib: bool = True) -> AuthConfig:
    """Check an ``[auth]`` section (a mapping, or None when absent) the way ``st.login`` will use it."""
    if not isinstance(auth, Mapping) or not auth:
        return AuthConfig(("there is no [auth] section in .streamlit/secrets.toml",))
    problems, warnings = [], []
    redirect = auth.get("redirect_uri")
    if not isinstance(redirect, str) or not redirect.strip():
        problems.append('[auth] needs redirect_uri = "https://YOUR-HOST/oauth2callback" (the address people open, '
                        "plus /oauth2callback; register the same one with the identity provider)")
    elif not redirect.rstrip("/").endswith("/oauth2callback"):
        problems.append(f"[auth] redirect_uri must end with /oauth2callback (it is {redirect!r})")
    elif redirect.startswith("http://") and not re.match(r"^http://(localhost|127\.[0-9.]+|\[::1\])(:|/)", redirect):
        warnings.append(f"[auth] redirect_uri {redirect!r} is plain http: sign-in cookies would cross the network "
                        "unencrypted. Put a TLS reverse proxy in front and use https (SECURITY.md).")
    secret = auth.get("cookie_secret")
    if not isinstance(secret, str) or len(secret) < MIN_COOKIE_SECRET:
        problems.append(f"[auth] needs cookie_secret, a random string of at least {MIN_COOKIE_SECRET} characters "
                        f"(make one with: {SECRETS_HINT})")
    providers: list[str | None] = []
    named = any(key in auth for key in PROVIDER_KEYS) or any(isinstance(s, Mapping) for s in auth.values())
    if any(key in auth for key in PROVIDER_KEYS):
        missing = [key for key in PROVIDER_KEYS if not auth.get(key)]
        if missing:
            problems.append(f"[auth] names a provider but lacks {', '.join(missing)}")
        else:
            providers.append(None)
    for name, section in auth.items():
        if not isinstance(section, Mapping):
            continue
        missing = [key for key in PROVIDER_KEYS if not section.get(key)]
        if "_" in name:
            problems.append(f"[auth.{name}]: a provider name cannot contain an underscore")
        elif missing:
            problems.append(f"[auth.{name}] lacks {', '.join(missing)}")
        else:
            providers.append(name)
    if not named:
        problems.append("[auth] configures no identity provider: add client_id, client_secret and "
                        "server_metadata_url (your provider's /.well-known/openid-configuration URL), in [auth] "
                        "or in an [auth.NAME] section per provider")
    if not authlib:
        problems.append("the Authlib package is not installed (it is in requirements.txt: reinstall with make run)")
    return AuthConfig(tuple(problems), tuple(providers), tuple(warnings))


def _setting(name: str, env: Mapping[str, str], section: Mapping[str, Any]) -> Any:
    value = env.get(env_name(name))
    return value if value not in (None, "") else section.get(name)


def _admins(value: Any) -> frozenset[str]:
    if isinstance(value, str):
        value = re.split(r"[,\s]+", value)
    if not isinstance(value, (list, tuple)):
        return frozenset()
    return frozenset(str(v).strip().lower() for v in value if str(v).strip())


def _limits(env: Mapping[str, str], section: Mapping[str, Any], problems: list[str]) -> UserLimits:
    values = {}
    for f in fields(UserLimits):
        raw = _setting(f.name, env, section)
        if raw is None:
            continue
        try:
            number = int(str(raw).strip())
        except ValueError:
            number = 0
        if number < 1:
            problems.append(f"{env_name(f.name)} / [detector] {f.name} must be a whole number of at least 1, "
                            f"not {raw!r}")
        else:
            values[f.name] = number
    return UserLimits(**values)


def read_settings(env: Mapping[str, str], secrets: Mapping[str, Any], *, authlib: bool | None = None,
                  problems: tuple[str, ...] = ()) -> ServeSettings:
    """The serving settings from ``env`` (``os.environ``) and ``secrets`` (the parsed ``secrets.toml``).

    Parameters
    ----------
    env : mapping
        Environment variables; ``DETECTOR_<NAME>`` wins over ``[detector] <name>``.
    secrets : mapping
        ``secrets.toml`` as a dict: its ``[auth]`` and ``[detector]`` sections are read.
    authlib : bool, optional
        Whether Authlib is installed; default: look.
    problems : tuple of str
        Problems found before (an unreadable ``secrets.toml``, see :func:`read_secrets`), kept.
    """
    section = secrets.get("detector") if isinstance(secrets.get("detector"), Mapping) else {}
    found: list[str] = list(problems)
    warnings: list[str] = []
    serve = str(_setting("serve", env, section) or LOCAL).strip().lower()
    if serve not in (LOCAL, TEAM):
        found.append(f"{env_name('serve')} must be {LOCAL!r} or {TEAM!r}, not {serve!r}")
    opened = env.get(ALLOW_OPEN_ENV, "")
    if opened and opened != ALLOW_OPEN_VALUE:
        found.append(f"{ALLOW_OPEN_ENV} is {opened!r}, which opens nothing: the only value that serves others "
                        f"without sign-in is {ALLOW_OPEN_VALUE!r}")
    root = _setting("data_root", env, section)
    data_root = None
    if root:
        data_root = Path(str(root)).expanduser()
        data_root = data_root if data_root.is_absolute() else PROJECT_ROOT / data_root
        if not data_root.is_dir():
            warnings.append(f"the data root {data_root} is not a folder; training from the server is off")
            data_root = None
    limits = _limits(env, section, found)
    return ServeSettings(
        serve=serve, allow_open=opened == ALLOW_OPEN_VALUE,
        auth=check_auth(secrets.get("auth"), authlib=authlib_installed() if authlib is None else authlib),
        admins=_admins(_setting("admins", env, section)), data_root=data_root,
        limits=limits, problems=tuple(found), warnings=tuple(warnings),
    )


__all__ = ["ALLOW_OPEN_ENV", "ALLOW_OPEN_VALUE", "LOCAL", "MIN_COOKIE_SECRET", "TEAM", "AuthConfig", "ServeSettings",
           "UserLimits", "authlib_installed", "check_auth", "env_name", "read_secrets", "read_settings",
           "secret_files"]
