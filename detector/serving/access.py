"""Who is using the workbench, and what they may do: the sign-in gate's logic, without Streamlit.

The dashboard hands :func:`grant` the :class:`~detector.serving.mode.Mode` and the
signed-in user's claims (``st.user.to_dict()``: ``is_logged_in``, ``email``, ``sub``, ...)
and draws what the returned :class:`Access` says: the pages, the sign-in, or a refusal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .mode import LOCAL_MODE, OPEN_MODE, TEAM_MODE, Mode

LOCAL_USER = "local"
"""Who is recorded on one's own machine."""
ANONYMOUS = "anonymous"
"""Who is recorded on an open server (no sign-in)."""
IDENTITY_CLAIMS = ("email", "preferred_username", "sub")
"""The OpenID claims that name a signed-in user, in order of preference."""


@dataclass(frozen=True)
class Access:
    """What this browser session may do."""

    mode: Mode
    user: str | None
    """Who is recorded as doing things; None: nobody may use the pages (sign in first, or refused)."""
    is_admin: bool = False
    """May install or download a CLAP checkpoint (everyone on one's own machine)."""
    limit_key: str | None = None
    """Whose per-user limits apply; None: no limits (one's own machine)."""
    signed_in: bool = False
    """Signed in with the identity provider, but no claim names the user (then ``user`` is None)."""

    @property
    def allowed(self) -> bool:
        """Whether the pages may run."""
        return self.user is not None

    @property
    def needs_sign_in(self) -> bool:
        return self.mode.kind == TEAM_MODE and self.user is None and not self.signed_in


def identity(claims: Mapping[str, Any]) -> str | None:
    """The signed-in user's name for the records (their e-mail where the provider gives one), or None."""
    if claims.get("is_logged_in") is not True:
        return None
    for key in IDENTITY_CLAIMS:
        value = claims.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def is_admin(claims: Mapping[str, Any], admins: frozenset[str]) -> bool:
    """Whether the signed-in user is one of ``admins`` (lower-case e-mails), by a verified e-mail.

    An e-mail the provider marks unverified (``email_verified: false``) never makes an admin:
    some providers let anyone sign up under any address.
    """
    email = claims.get("email")
    if claims.get("is_logged_in") is not True or not isinstance(email, str) or claims.get("email_verified") is False:
        return False
    return email.strip().lower() in admins


def grant(mode: Mode, claims: Mapping[str, Any], *, admins: frozenset[str] = frozenset(),
          session: str = "") -> Access:
    """What a session may do under ``mode``, signed in as ``claims`` say.

    Parameters
    ----------
    mode : Mode
        From :func:`~detector.serving.mode.decide`.
    claims : mapping
        The user's OpenID claims (``st.user.to_dict()``); ignored on one's own machine.
    admins : frozenset of str
        Lower-case e-mails of the users allowed to install CLAP checkpoints.
    session : str
        A per-browser-session id: on an open server, limits apply per session.
    """
    if mode.kind == LOCAL_MODE:
        return Access(mode, LOCAL_USER, is_admin=True)
    if mode.kind == OPEN_MODE:
        return Access(mode, ANONYMOUS, limit_key=f"{ANONYMOUS}:{session}")
    if mode.kind == TEAM_MODE:
        user = identity(claims)
        if user is not None:
            return Access(mode, user, is_admin=is_admin(claims, admins), limit_key=user.lower(), signed_in=True)
        return Access(mode, None, signed_in=claims.get("is_logged_in") is True)
    return Access(mode, None)


__all__ = ["ANONYMOUS", "IDENTITY_CLAIMS", "LOCAL_USER", "Access", "grant", "identity", "is_admin"]
