"""What the pages share: the active profile, the session's loaded tracks, cached work, the report view.

UI glue only; every number comes from the ``detector`` package.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import streamlit as st

from detector import AudioError, ProfileError, Thresholds, extract, plots
from detector.analysis import analysis_profile
from detector.audio import UPLOAD_TYPES, sha256_of
from detector.features import TrackFeatures
from detector.history import HistoryStore, StoreError, default_path, from_query, to_query
from detector.layers import clap
from detector.layers.clap import ClapEncoder
from detector.layers.classifier import ModelError, TrainedModel, active_model_path, load_model
from detector.lru import LruCache
from detector.report import DetectionReport
from detector.report.tables import contributions_table, segments_table

AUDIO_TYPES = list(UPLOAD_TYPES)
MAX_SESSION_TRACKS = 64  # tracks one browser session keeps in memory for tuning


_MARKDOWN = re.compile(r"([\\`*_\[\]<>!|~$#])")


def md_text(text: str) -> str:
    """``text`` (a file name, say) with Streamlit's markdown, colour and LaTeX markup escaped, so it shows as typed."""
    return _MARKDOWN.sub(r"\\\1", str(text))


@dataclass
class Loaded:
    """A track this session has analysed: its features and an optional label."""

    track: TrackFeatures
    label: str | None = None


@st.cache_resource(show_spinner="Loading the CLAP model (once per server)…", max_entries=2)
def _clap(path: str, size: int, mtime_ns: int) -> ClapEncoder:
    return clap.get_encoder(path)


def clap_encoder() -> ClapEncoder | None:
    """The shared CLAP encoder when a checkpoint is configured and loads, else None (reports say why)."""
    try:
        path = clap.find_checkpoint()
        stat = path.stat()
        return _clap(str(path), stat.st_size, stat.st_mtime_ns)
    except (clap.ClapUnavailable, OSError):
        return None


FEATURE_CACHE_SIZE = 32  # analysed tracks the server keeps (a 10-minute track's features take about 16 MiB)


@st.cache_resource(show_spinner=False)
def feature_cache() -> LruCache[TrackFeatures]:
    """Features by (audio SHA-256, name, CLAP checkpoint SHA-256), shared by every session, in memory only."""
    return LruCache(FEATURE_CACHE_SIZE)


def load_track(data: bytes, name: str, label: str | None = None) -> TrackFeatures:
    """Features for an upload (cached by SHA-256 and CLAP checkpoint), remembered in this session for tuning.

    A track not analysed before shows a progress bar: decoding, spectral features, and
    with CLAP each window embedded. Raises :class:`AudioError` with a message for the user.
    """
    encoder = clap_encoder()
    sha256 = sha256_of(data)

    def compute() -> TrackFeatures:
        bar = st.progress(0.0, text="Decoding…")
        try:
            return extract(data, name=name, clap=encoder, sha256=sha256, progress=progress_bar(bar))
        finally:
            bar.empty()

    track = feature_cache().get_or_compute((sha256, name, encoder.sha256 if encoder else None), compute)
    loaded = st.session_state.setdefault("tracks", {})
    if track.sha256 in loaded:
        loaded[track.sha256].label = label or loaded[track.sha256].label
    else:
        while len(loaded) >= MAX_SESSION_TRACKS:
            loaded.pop(next(iter(loaded)))
        loaded[track.sha256] = Loaded(track, label)
    return track


@st.cache_resource(show_spinner=False)
def _history(path: str) -> HistoryStore:
    return HistoryStore(path)


def history() -> HistoryStore:
    """The analysis history (one SQLite file in the data directory), shared by every session."""
    return _history(str(default_path()))


@st.cache_resource(show_spinner=False, max_entries=4)
def _model(path: str, mtime_ns: int) -> TrainedModel:
    return load_model(path)


def active_model() -> TrainedModel | None:
    """The active trained classifier, or None. A model that can't be used is explained, never fatal."""
    path = active_model_path()
    if path is None:
        return None
    try:
        return _model(str(path.resolve()), path.stat().st_mtime_ns)
    except OSError as exc:
        st.warning(f"The active classifier {path} cannot be read ({exc.strerror}), so it is not used. "
                   "Choose another on the Models page.")
    except ModelError as exc:
        st.warning(f"The active classifier is not used: {exc}")
    return None


def progress_bar(bar):
    """A :class:`detector.types.Progress` that moves ``bar`` (an ``st.progress``)."""
    return lambda fraction, message: bar.progress(min(max(fraction, 0.0), 1.0), text=message[:120])


def active_profile() -> str:
    """The history key of the active settings: the thresholds and the identity of the active models."""
    return analysis_profile(thresholds(), clap=clap_encoder(), model=active_model())


def remember(report: DetectionReport) -> None:
    """Keep ``report`` in the history once per session; a history problem is shown, never fatal."""
    done = st.session_state.setdefault("stored", set())
    key = (report.sha256, active_profile())
    if key in done:
        return
    try:
        history().put(report, key[1])
        done.add(key)
    except StoreError as exc:
        st.warning(f"This analysis could not be saved to the history: {exc}")


def session_tracks() -> dict[str, Loaded]:
    return st.session_state.setdefault("tracks", {})


def thresholds() -> Thresholds:
    """The active profile: from the link on a session's first run, then from the session."""
    if "thresholds" not in st.session_state:
        token = st.query_params.get("p")
        active = Thresholds()
        if token:
            try:
                active = from_query(token)
            except ProfileError as exc:
                st.session_state["profile_warning"] = str(exc)
        st.session_state["thresholds"] = active
        st.session_state.setdefault("baseline", active)
    return st.session_state["thresholds"]


def set_thresholds(active: Thresholds, *, baseline: bool = False) -> None:
    """Make ``active`` the session's profile and put it in the URL, so a link reproduces it."""
    st.session_state["thresholds"] = active
    if baseline:
        st.session_state["baseline"] = active
    token = to_query(active)
    if token:
        st.query_params["p"] = token
    elif "p" in st.query_params:
        del st.query_params["p"]


def sync_query() -> None:
    """Keep the URL's profile in step with the session (page switches drop query params)."""
    set_thresholds(thresholds())


def read_upload(upload) -> bytes | None:
    """The upload's bytes, or ``None`` after showing why they can't be read."""
    try:
        return upload.getvalue()
    except (OSError, MemoryError) as exc:
        st.error(f"**{md_text(upload.name)}** could not be read: {exc}")
        return None


def audio_error(name: str, exc: AudioError) -> None:
    st.error(f"**{md_text(name)}** could not be analysed. {exc}")


def render_report(report: DetectionReport, active: Thresholds, track: TrackFeatures | None = None,
                  key: str = "report") -> None:
    """The full explanation of one report: score, layers, features vs bands, timeline, downloads."""
    for warning in report.warnings:
        st.warning(warning)
    left, right = st.columns([2, 3])
    with left:
        st.metric("AI-likeness score", f"{report.score:.2f}",
                  help="0 = certainly human-made … 1 = certainly machine-made; above the decision line means AI.")
        st.plotly_chart(plots.score_gauge(report, active.decision), width="stretch", key=f"{key}-gauge")
        st.subheader(report.verdict)
        ran = ", ".join(f"**{name}** ({layer.score:.2f})" for name, layer in report.layers.items())
        st.caption(f"Decided by the **{report.decided_by}** layer. Layers that ran: {ran}. "
                   f"{report.duration:.1f} s · {report.format} · SHA-256 {report.sha256[:12]}…")
        if report.skipped:
            names = ", ".join(s.name for s in report.skipped)
            with st.expander(f"Layers that did not run: {names}"):
                for skipped in report.skipped:
                    st.info(f"**{skipped.name.upper()} layer did not run.** {skipped.reason}\n\n*How to enable:* "
                            f"{skipped.how_to_enable}")
    with right:
        ordered = sorted(report.layers.values(), key=lambda layer: layer.name != report.decided_by)
        tabs = st.tabs([f"{layer.name} layer" + (" (decides)" if layer.name == report.decided_by else "")
                        for layer in ordered])
        for tab, layer in zip(tabs, ordered):
            with tab:
                if layer.contributions:
                    st.plotly_chart(plots.contributions_chart(layer), width="stretch", key=f"{key}-wf-{layer.name}")
                else:
                    st.write(f"The {layer.name} layer gives P(AI) = {layer.score:.3f} directly.")

    if report.artifacts is not None:
        st.subheader("Decoder fingerprint")
        finding = report.artifacts
        with st.container(border=True):
            colour = "red" if finding.found else "green"
            st.markdown(f":{colour}[**{finding.headline}.**] {finding.detail}")
        st.caption("Neural decoders built from strided transposed convolutions leave narrow spectral lines at "
                   "evenly spaced frequencies, fixed by the architecture and not by the music. The chart is the "
                   "track's long-term spectrum at its native rate minus its smooth floor; the dotted lines are the "
                   "most regular comb found.")
        st.plotly_chart(plots.fakeprint_chart(finding), width="stretch", key=f"{key}-fakeprint")

    heuristic = [c for layer in report.layers.values() for c in layer.contributions]
    if heuristic:
        st.subheader("Each feature against its threshold bands")
        st.caption("Green: looks human · grey: neutral · orange: mildly AI · red: strongly AI. "
                   "The diamond is this track. Tune the bands on the Tune page.")
        st.plotly_chart(plots.feature_bands(heuristic, active), width="stretch", key=f"{key}-bands")
        st.dataframe(contributions_table(report), hide_index=True, width="stretch")
    if track is not None:
        st.subheader("Where in the track")
        st.plotly_chart(plots.track_overview(track.frames, report.segments, active.decision), width="stretch",
                        key=f"{key}-overview")
    segments = segments_table(report)
    if track is None and not segments.empty:
        st.subheader("Score per segment")
        st.bar_chart(segments, x="start_s", y="score")
    c1, c2 = st.columns(2)
    stem = report.source_name or "track"
    c1.download_button("Download JSON report", report.to_json(), f"{stem}.report.json", "application/json",
                       key=f"{key}-json")
    c2.download_button("Download segments (CSV)", segments.to_csv(index=False), f"{stem}.segments.csv", "text/csv",
                       key=f"{key}-csv")


__all__ = ["AUDIO_TYPES", "Loaded", "active_model", "active_profile", "audio_error", "clap_encoder", "history",
           "load_track", "md_text", "progress_bar", "read_upload", "remember", "render_report", "session_tracks",
           "set_thresholds", "sync_query", "thresholds"]
