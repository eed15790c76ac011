"""The sign-in gate, who is signed in, and per-user limits, drawn from what ``detector.serving`` decides.

UI glue only. :func:`_claims` is the one place that reads ``st.user``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import streamlit as st
from streamlit.navigation.page import StreamlitPage
from streamlit.runtime.pages_manager import PagesManager

from detector.serving import (
    LOCAL_USER, OPEN_MODE, TEAM_MODE, Access, LimitReached, Limiter, ServeSettings, UserLimits, decide, grant,
    read_settings, via_proxy,
)


def _secrets() -> tuple[dict, tuple[str, ...]]:
    """``secrets.toml`` as a dict (empty when there is none), and a problem when it cannot be read."""
    try:
        return st.secrets.to_dict(), ()
    except FileNotFoundError:
        return {}, ()
    except Exception as exc:  # noqa: BLE001 - a secrets.toml Streamlit cannot parse: said, never a traceback
        return {}, (f".streamlit/secrets.toml cannot be read ({type(exc).__name__}); fix it",)


def _claims() -> dict:
    """The signed-in user's claims (``st.user``): ``is_logged_in``, ``email``, ... (empty without sign-in)."""
    try:
        return dict(st.user.to_dict())
    except Exception:  # noqa: BLE001 - no user information at all is "not signed in"
        return {}


def _headers() -> dict:
    try:
        return dict(st.context.headers)
    except Exception:  # noqa: BLE001 - no request (a bare run): no evidence of a proxy
        return {}


def serve_settings() -> ServeSettings:
    """The operator's serving settings: the environment, then ``secrets.toml``."""
    secrets, problems = _secrets()
    return read_settings(os.environ, secrets, problems=problems)


def access() -> Access:
    """What this browser session may do: the mode, who is signed in, admin or not, whose limits apply."""
    settings = serve_settings()
    mode = decide(settings, st.get_option("server.address"), proxied=via_proxy(_headers()))
    session = st.session_state.setdefault("serving:session", uuid.uuid4().hex)
    return grant(mode, _claims(), admins=settings.admins, session=session)


def current_user() -> str:
    """Who is recorded as doing things in this session: the signed-in user, "anonymous" or "local"."""
    return access().user or LOCAL_USER


def is_shared() -> bool:
    """Whether others can reach this server: then browser input never names a server path."""
    return access().mode.shared


def data_root() -> Path | None:
    """The one server folder training data may come from on a shared server (``DETECTOR_DATA_ROOT``), or None."""
    return serve_settings().data_root


@st.cache_resource(show_spinner=False, max_entries=4)
def _limiter(analyses: int, upload_mib: int, training: int) -> Limiter:
    return Limiter(UserLimits(analyses, upload_mib, training))


def limiter() -> Limiter:
    """The server's one :class:`Limiter`, shared by every session."""
    limits = serve_settings().limits
    return _limiter(limits.concurrent_analyses, limits.upload_mib_per_hour, limits.training_jobs)


@contextmanager
def analysis_slot() -> Iterator[None]:
    """Hold one of the user's analysis slots for the ``with`` block; over the limit, say so and stop the page."""
    with _slot(lambda key: limiter().analysis(key)):
        yield


@contextmanager
def training_slot() -> Iterator[None]:
    """Hold the user's training slot for the ``with`` block; over the limit, say so and stop the page."""
    with _slot(lambda key: limiter().training(key)):
        yield


@contextmanager
def _slot(take: Callable[[str | None], AbstractContextManager[None]]) -> Iterator[None]:
    try:
        with take(access().limit_key):
            yield
    except LimitReached as exc:
        st.error(str(exc))
        st.stop()


def charge_upload(upload) -> str | None:
    """Count ``upload`` (an ``UploadedFile``) against the user's hourly volume, once per file.

    Returns None when it may be used, else why not (for the page to show).
    """
    try:
        limiter().charge_upload(access().limit_key, int(upload.size), str(upload.file_id))
    except LimitReached as exc:
        return str(exc)
    return None


def gate(pages: Sequence[StreamlitPage]) -> Access:
    """The session's access when it may use ``pages`` (the app's pages); otherwise only the sign-in or
    the refusal is drawn, at every page's address (so a deep link shows it too, and no page is reachable)."""
    current = access()
    if current.allowed:
        return current

    def sign_in() -> None:
        _closed(current)

    at = [st.Page(sign_in, title="Sign in", icon=":material/login:", url_path="sign-in", default=True)]
    at += [st.Page(sign_in, title=page.title, url_path=page.url_path) for page in pages if page.url_path]
    st.navigation(at, position="hidden").run()
    st.stop()


def page_access() -> Access:
    """The first call of every page: it draws only for a session that may use it.

    Until some session has run ``dashboard.py``'s ``st.navigation``, Streamlit routes an address such as
    ``/history`` straight to ``pages/history.py`` (its first multipage scheme, kept for apps with a ``pages/``
    folder), skipping the dashboard and its :func:`gate`. So each page checks again, and ends that scheme for
    the rest of the server's life, as ``st.navigation`` itself does.
    """
    PagesManager.uses_pages_directory = False
    current = access()
    if not current.allowed:
        _closed(current)
        st.stop()
    return current


def _closed(current: Access) -> None:
    """What a session that may not use the pages sees: the sign-in, or what to configure."""
    providers = serve_settings().auth.providers
    st.title("AI music detector")
    if current.mode.kind != TEAM_MODE:
        st.error(current.mode.message or "This workbench cannot be used from here.")
        return
    if current.signed_in:
        st.error("You are signed in, but the identity provider did not say who you are (no e-mail, user name or "
                 "subject), so nothing could be recorded under your name. Ask the operator to request the "
                 "`openid email` scopes from the provider.")
        st.button("Sign out", on_click=st.logout, key="serving:sign-out")
        return
    st.markdown("This workbench is shared. **Sign in** to analyse tracks, tune profiles and train models; what you "
                "do is recorded in the history under your name.")
    for provider in providers or (None,):
        label = "Sign in" if provider is None else f"Sign in with {provider.capitalize()}"
        st.button(label, type="primary", icon=":material/login:", on_click=st.login,
                  args=() if provider is None else (provider,), key=f"serving:sign-in:{provider or 'default'}")


def account(current: Access) -> None:
    """Who is signed in, in the sidebar, with Sign out; on an open server, the warning on every page."""
    from pages._shared import md_text  # at call time: _shared imports this module

    if current.mode.kind == TEAM_MODE:
        with st.sidebar:
            st.caption(f"Signed in as **{md_text(current.user)}**" + (" · admin" if current.is_admin else ""))
            st.button("Sign out", on_click=st.logout, key="serving:sign-out", icon=":material/logout:")
    elif current.mode.kind == OPEN_MODE:
        st.warning(current.mode.message, icon=":material/public:")


__all__ = ["access", "account", "analysis_slot", "charge_upload", "current_user", "data_root", "gate", "is_shared",
           "limiter", "page_access", "serve_settings", "training_slot"]
