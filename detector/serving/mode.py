"""Whom the workbench serves, decided before anything else runs: this machine, a team, or nobody.

=============  ======================================================================
``local``      bound to loopback and reached from this machine: no sign-in, no limits
``team``       bound beyond loopback, asked for (``DETECTOR_SERVE=team``) or reached
               through a proxy: sign-in with the configured identity provider
``open``       as ``team``, without sign-in, because the operator said
               ``DETECTOR_ALLOW_OPEN=i-understand``; every page carries a banner
``refused``    shared, but sign-in is not configured (or a setting is wrong): only the
               message that says what to configure is shown, and the launcher exits
=============  ======================================================================
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from .settings import ALLOW_OPEN_ENV, ALLOW_OPEN_VALUE, LOCAL, TEAM, ServeSettings, env_name

LOCAL_MODE, TEAM_MODE, OPEN_MODE, REFUSED = "local", "team", "open", "refused"
FORWARDING_HEADERS = ("x-forwarded-for", "x-forwarded-host", "forwarded", "x-real-ip")


def is_loopback(address: str | None) -> bool:
    """Whether a server address (``server.address``) accepts connections from this machine only.

    No address means every interface (Streamlit's default), so it is not loopback.
    """
    if not address or not address.strip():
        return False
    host = address.strip().lower()
    if host.startswith("[") and "]" in host:
        host = host[1:host.index("]")]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_name(host: str) -> str:
    """``"example.org:8501"`` -> ``"example.org"``; ``"[::1]:8501"`` -> ``"::1"``."""
    host = host.strip()
    if host.startswith("["):
        return host[1:host.index("]")] if "]" in host else host[1:]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def via_proxy(headers: Mapping[str, str] | None) -> bool:
    """Whether a request reached the server through something else than this machine's own browser.

    True when a proxy's forwarding header is present, or the ``Host`` the browser asked for
    is not a loopback name (a reverse proxy, a tunnel, or a DNS-rebinding page). No headers
    at all (a test, a bare run) is no evidence of a proxy.
    """
    if not headers:
        return False
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    if any(name in lowered for name in FORWARDING_HEADERS):
        return True
    host = lowered.get("host")
    return bool(host) and not is_loopback(host_name(host))


@dataclass(frozen=True)
class Mode:
    """How this server serves, and the words to show about it."""

    kind: str
    """:data:`LOCAL_MODE`, :data:`TEAM_MODE`, :data:`OPEN_MODE` or :data:`REFUSED`."""
    address: str
    message: str = ""
    """For ``refused``: why, and what to configure. For ``open``: the banner."""

    @property
    def shared(self) -> bool:
        """Whether other people may reach it (so limits apply and browser paths are refused)."""
        return self.kind != LOCAL_MODE


def _where(address: str | None, proxied: bool, serve: str) -> str:
    if proxied:
        return "is being reached through a proxy or from another machine"
    if not address:
        return "listens on every network interface (no server.address is set)"
    if is_loopback(address):
        return (f"is set to serve a team ({env_name('serve')}={TEAM})" if serve == TEAM
                else f"listens on {address}")
    return f"listens on {address}, which other machines can reach"


def decide(settings: ServeSettings, address: str | None, *, proxied: bool = False) -> Mode:
    """The mode for ``settings`` on a server bound to ``address`` (``server.address``).

    Parameters
    ----------
    settings : ServeSettings
        From :func:`~detector.serving.settings.read_settings`.
    address : str or None
        Where the server listens; None or empty means every interface.
    proxied : bool
        Whether this request came through a proxy or from another host (:func:`via_proxy`).
    """
    shown = address or "every interface"
    if settings.serve == LOCAL and is_loopback(address) and not proxied:
        return Mode(LOCAL_MODE, shown)
    where = _where(address, proxied, settings.serve)
    if settings.problems:
        text = (f"This workbench {where}, but its settings cannot be used:\n\n"
                + "\n".join(f"- {p}" for p in settings.problems)
                + "\n\nFix them (SECURITY.md lists every setting), then start it again.")
        if not settings.auth.ready and not settings.allow_open:
            text += f"\n\nSign-in is not configured either: {sign_in_help(settings)}"
        return Mode(REFUSED, shown, text)
    if settings.auth.ready:
        return Mode(TEAM_MODE, shown)
    if settings.allow_open:
        return Mode(OPEN_MODE, shown, f"**Open server, no sign-in.** Anyone who can reach it can analyse files, read "
                    f"the whole history and train models. {ALLOW_OPEN_ENV}={ALLOW_OPEN_VALUE} allowed this for a "
                    "trusted network; configure sign-in (README, \"Serving to a team\") to end it.")
    return Mode(REFUSED, shown, refusal(where, settings))


def refusal(where: str, settings: ServeSettings) -> str:
    """What a person reads when a shared server has no sign-in: what is missing and the three ways out."""
    return f"This workbench {where}, so it requires sign-in, and sign-in is not configured: {sign_in_help(settings)}"


def sign_in_help(settings: ServeSettings) -> str:
    """What is missing from the sign-in configuration, how to add it, and the other two ways out."""
    missing = "\n".join(f"- {p}" for p in settings.auth.problems)
    return (f"\n\n{missing}\n\n"
            "To serve a team, add an OpenID Connect provider (Google, Microsoft Entra, Okta, Keycloak, ...) to "
            "`.streamlit/secrets.toml`:\n\n"
            "```toml\n[auth]\nredirect_uri = \"https://YOUR-HOST/oauth2callback\"\n"
            "cookie_secret = \"...64 random hex characters...\"\nclient_id = \"...\"\nclient_secret = \"...\"\n"
            "server_metadata_url = \"https://YOUR-PROVIDER/.well-known/openid-configuration\"\n```\n\n"
            "To use it on this machine only: `make run` (it listens on 127.0.0.1).\n\n"
            f"On a trusted network only, `{ALLOW_OPEN_ENV}={ALLOW_OPEN_VALUE}` serves it without sign-in, "
            "with a warning on every page.")


__all__ = ["LOCAL_MODE", "OPEN_MODE", "REFUSED", "TEAM_MODE", "Mode", "decide", "host_name", "is_loopback",
           "refusal", "sign_in_help", "via_proxy"]
