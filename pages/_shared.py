"""What the pages share: the active profile, the session's loaded tracks, cached work, the report view.

UI glue only; every number comes from the ``detector`` package.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass

import streamlit as st

from detector import AudioError, DetectorError, ProfileError, Thresholds, extract, plots
from detector.analysis import analysis_profile, check_stability, with_stability
from detector.analysis.warmup import warm_up
from detector.audio.perturb import PERTURBATIONS, perturbation_set, set_name
from detector.audio import UPLOAD_TYPES, sha256_of
from detector.features import TrackFeatures
from detector.features.overview import Overview
from detector.history import (LABELS, HistoryStore, ProfileLibrary, StoreError, default_path, from_query, made_with,
                              to_query)
from detector.layers import clap
from detector.layers.clap import ClapEncoder
from detector.layers.classifier import ModelError, TrainedModel, active_model_path, load_model
from detector.lru import LruCache
from detector.report import DetectionReport, Stability
from detector.report.summary import GLOSSARY, explain
from detector.report.tables import contributions_table, segments_table, stability_table
from pages._serving import analysis_slot, charge_upload, current_user

_log = logging.getLogger(__name__)
AUDIO_TYPES = list(UPLOAD_TYPES)
DEFAULTS_NAME = "defaults"
CALL_COLOURS = {"ai": "red", "human": "green", "inconclusive": "gray"}
SCORE_WORDS = {"P(AI)": "P(AI) from the classifier", "score": "Rule score (not a probability)"}
SCORE_HELP = {
    "P(AI)": "The trained classifier's probability that the track is AI-generated, calibrated on its training data "
             "(its reliability diagram is on the Models page). Above {high:.2f}: AI; below {low:.2f}: human; in "
             "between: inconclusive.",
    "score": "Points from the deciding layer's rules, between 0 and 1: each rule adds or subtracts a step. It is "
             "not a probability. Above {high:.2f}: AI; below {low:.2f}: human; in between: inconclusive (the band "
             "is part of the profile, set on the Tune page).",
}
LABEL_WORDS = {"human": "Human-made", "ai": "AI-generated"}
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


CLAP_PRECISION = "clap_precision"  # session state: the precision chosen on the Models page


def clap_precision() -> str:
    """The CLAP precision this session chose on the Models page (fp32 until it chooses one)."""
    value = st.session_state.get(CLAP_PRECISION, clap.DEFAULT_PRECISION)
    return value if value in clap.PRECISIONS else clap.DEFAULT_PRECISION


@st.cache_resource(show_spinner="Loading the CLAP model (once per server)…", max_entries=2)
def _clap(path: str, size: int, mtime_ns: int, precision: str = clap.DEFAULT_PRECISION) -> ClapEncoder:
    return clap.get_encoder(path, precision=precision)


PRELOAD_DELAY_S = 2.0
"""Seconds the background loading waits after the first page's script ends: importing and compiling hold
Python's GIL for long stretches, and would hold back the server thread that sends the page to the browser."""


@st.cache_resource(show_spinner=False)
def preload() -> threading.Thread:
    """Once per server, soon after the first page is drawn: in a background thread, a warm-up analysis (the
    imports and compiling that the first analysis would otherwise wait for, about a second) and then the
    configured CLAP checkpoint's load (:func:`detector.layers.clap.preload`). The first analysis finds both
    done, or does what is left itself (imports and loads are thread-safe). A failure is logged for the server;
    the analysis that meets it says why in words."""

    def run() -> None:
        try:
            warm_up()
        except Exception as exc:  # noqa: BLE001 - the real analysis reports the same fault to the user
            _log.warning("The warm-up analysis failed (%s: %s)", type(exc).__name__, exc)
        clap.preload()

    thread = threading.Timer(PRELOAD_DELAY_S, run)
    thread.name, thread.daemon = "warm-up", True
    thread.start()
    return thread


def thresholds_of(report: DetectionReport) -> Thresholds:
    """The thresholds ``report`` was made with; the defaults, with a warning, where they can't be read."""
    try:
        return made_with(report)
    except ProfileError as exc:
        st.warning(f"The thresholds stored with this analysis can't be read ({exc}); it is drawn against the "
                   "default profile.")
        return Thresholds()


def clap_encoder() -> ClapEncoder | None:
    """The shared CLAP encoder (at this session's precision) when a checkpoint is configured and loads, else
    None (reports say why)."""
    try:
        path = clap.find_checkpoint()
        stat = path.stat()
        return _clap(str(path), stat.st_size, stat.st_mtime_ns, clap_precision())
    except (clap.ClapUnavailable, OSError):
        return None


FEATURE_CACHE_SIZE = 32  # analysed tracks the server keeps (a 10-minute track's features take about 16 MiB)
FEATURE_CACHE_BYTES = 512 * 2**20  # and at most this many bytes of them (TrackFeatures.nbytes)


@st.cache_resource(show_spinner=False)
def feature_cache() -> LruCache[TrackFeatures]:
    """Features by (audio SHA-256, name, CLAP checkpoint SHA-256 and precision), shared by every session, in
    memory only."""
    return LruCache(FEATURE_CACHE_SIZE, max_bytes=FEATURE_CACHE_BYTES)


def load_track(data: bytes, name: str, label: str | None = None) -> TrackFeatures:
    """Features for an upload (cached by SHA-256 and CLAP checkpoint), remembered in this session for tuning.

    A track not analysed before shows a progress bar: decoding, spectral features, and
    with CLAP each window embedded. Raises :class:`AudioError` with a message for the user.
    """
    encoder = clap_encoder()
    sha256 = sha256_of(data)

    def compute() -> TrackFeatures:
        with analysis_slot():  # on a shared server: the user's analyses at once are limited
            bar = st.progress(0.0, text="Decoding…")
            try:
                return extract(data, name=name, clap=encoder, sha256=sha256, progress=progress_bar(bar))
            finally:
                bar.empty()

    key = (sha256, name, encoder.sha256 if encoder else None, encoder.precision if encoder else None)
    track = feature_cache().get_or_compute(key, compute)
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


def remember(report: DetectionReport, track: TrackFeatures | None = None) -> int | None:
    """Keep ``report`` in the history (once per session) and return its row id; a history problem is
    shown, never fatal (then None). With the ``track``, its waveform and spectrogram overview is kept
    too, so the history redraws the analysis with the same figures."""
    done = st.session_state.setdefault("stored", {})
    key = (report.sha256, active_profile())
    if key not in done:
        try:
            done[key] = history().put(report, key[1], saved_profile_name(), user=current_user())
        except StoreError as exc:
            st.warning(f"This analysis could not be saved to the history: {exc}")
            return None
        if track is not None:
            try:
                history().put_overview(report.sha256, Overview.from_frames(track.frames).to_bytes())
            except StoreError as exc:
                st.warning(f"The track's waveform overview could not be saved to the history: {exc}")
    return done[key]


def saved_profile_name() -> str | None:
    """The name of the active profile when it is saved as is (or is the defaults), else None."""
    active = thresholds()
    named = st.session_state.get("profile_named")
    if named is not None and named[1] == active:
        return named[0]
    return DEFAULTS_NAME if active == Thresholds() else None


def profile_label() -> str:
    """The active profile for people: its name, "defaults", or "unsaved changes (to NAME)"."""
    name = saved_profile_name()
    if name is not None:
        return name
    named = st.session_state.get("profile_named")
    return f"unsaved changes to {named[0]}" if named is not None else "unsaved changes to the defaults"


def profile_sidebar() -> None:
    """The active profile in the sidebar: its name, decision line and inconclusive band (every page shows it)."""
    text = _sidebar_text()
    st.session_state["sidebar:text"] = text
    with st.sidebar:
        st.markdown(text[0])
        st.caption(text[1])


def _sidebar_text() -> tuple[str, str]:
    active = thresholds()
    low, high = active.band
    return (f"**Profile:** {md_text(profile_label())}",
            f"Decision line {active.decision:.2f} · inconclusive from {low:.2f} to {high:.2f}. Change it on the Tune "
            "page; the link in the address bar reproduces it.")


def sidebar_is_stale() -> bool:
    """Whether the sidebar shows another profile than the active one (after a fragment changed it)."""
    return st.session_state.get("sidebar:text") != _sidebar_text()


def name_profile(name: str, active: Thresholds) -> None:
    """Record that the session's profile ``active`` is the saved profile ``name``, here and in the history."""
    st.session_state["profile_named"] = (name, active)
    try:
        history().name_profile(analysis_profile(active, clap=clap_encoder(), model=active_model()), name,
                               active.to_dict(), user=current_user())
    except StoreError as exc:
        st.warning(f"The profile name could not be recorded in the history: {exc}")


def label_control(sha256: str, source_name: str, key: str) -> None:
    """"Your label" for a track (human / AI / none), kept in the history's labels at once."""
    try:
        current = history().labels().get(sha256)
    except StoreError as exc:
        st.warning(f"Labels cannot be read: {exc}")
        return

    def save() -> None:
        try:
            history().set_label(sha256, st.session_state[key], source_name, user=current_user())
        except StoreError as exc:
            st.session_state[f"{key}:error"] = str(exc)

    st.segmented_control("Your label for this track", list(LABELS), default=current, key=key, on_change=save,
                         format_func=LABEL_WORDS.get,
                         help="Kept with the audio in the history (whatever profile analysed it). The Tune page "
                              "scores every labelled track against its label.")
    if error := st.session_state.pop(f"{key}:error", None):
        st.error(f"The label could not be saved: {error}")


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
            else:
                _recognise(active)
        st.session_state["thresholds"] = active
        st.session_state.setdefault("baseline", active)
    return st.session_state["thresholds"]


def _recognise(active: Thresholds) -> None:
    """Name a profile opened from a link when it equals a saved one."""
    library = ProfileLibrary()
    for name in library.names():
        try:
            if library.load(name) == active:
                st.session_state["profile_named"] = (name, active)
                return
        except ProfileError:
            continue


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
    """The upload's bytes, or ``None`` after showing why they can't be read (or are over the user's hourly
    upload volume on a shared server)."""
    if refusal := charge_upload(upload):
        st.error(f"**{md_text(upload.name)}** was not used. {refusal}")
        return None
    try:
        return upload.getvalue()
    except (OSError, MemoryError) as exc:
        st.error(f"**{md_text(upload.name)}** could not be read: {exc}")
        return None


def audio_error(name: str, exc: AudioError) -> None:
    st.error(f"**{md_text(name)}** could not be analysed. {exc}")


STABILITY_CACHE_SIZE = 64  # stability checks the server keeps (a few KiB each)
STABILITY_CACHE_BYTES = 16 * 2**20
STABILITY_COLOURS = {"stable": "green", "fragile": "red", "inconclusive": "gray"}


@st.cache_resource(show_spinner=False)
def stability_cache() -> LruCache[Stability]:
    """Stability checks by (audio SHA-256, profile, perturbation set), shared by every session, in memory only."""
    return LruCache(STABILITY_CACHE_SIZE, max_bytes=STABILITY_CACHE_BYTES)


def _stability_key(report: DetectionReport, names: list[str] | None) -> tuple[str, str, str]:
    return report.sha256, active_profile(), set_name(perturbation_set(names))


def known_stability(report: DetectionReport, key: str = "report") -> DetectionReport:
    """``report`` with the stability check already made for it with the active profile and the chosen
    perturbations (this server's cache, else the history), if there is one."""
    cache_key = _stability_key(report, st.session_state.get(f"{key}:stability-set"))
    found = stability_cache().get(cache_key)
    if found is None:
        try:
            stored = history().get(report.sha256, cache_key[1])
        except StoreError:
            stored = None
        if stored is not None and stored.stability is not None and stored.stability.perturbation_set == cache_key[2]:
            found = stability_cache().get_or_compute(cache_key, lambda: stored.stability)
    return report if found is None else with_stability(report, found)


def _check_stability(report: DetectionReport, audio: bytes, names: list[str], key: str) -> Stability | None:
    """Run (or take from the cache) the stability check, with a progress bar, and keep it in the history
    (a problem saving it is shown after the rerun that draws the check)."""

    def compute() -> Stability:
        with analysis_slot():
            bar = st.progress(0.0, text="Decoding the track at its own rate…")
            try:
                return check_stability(audio, report, thresholds=thresholds(), perturbations=perturbation_set(names),
                                       clap=clap_encoder(), model=active_model(), progress=progress_bar(bar))
            finally:
                bar.empty()

    try:
        stability = stability_cache().get_or_compute(_stability_key(report, names), compute)
    except DetectorError as exc:
        st.error(f"The stability check could not run: {exc}")
        return None
    try:
        history().put(with_stability(report, stability), active_profile(), saved_profile_name(), user=current_user())
    except StoreError as exc:
        st.session_state[f"{key}:stability-warning"] = f"The stability check could not be saved to the history: {exc}"
    return stability


def stability_section(report: DetectionReport, key: str, audio: bytes | None = None) -> None:
    """The Stability panel: the check's summary, dot plot and table when the report has one; with the track's
    ``audio``, a button that runs it (then the page is drawn again, with the check in its report)."""
    if report.stability is None and audio is None:
        return
    st.subheader("Stability")
    if warning := st.session_state.pop(f"{key}:stability-warning", None):
        st.warning(warning)
    stability = report.stability
    if stability is None:
        st.caption("Does the verdict survive harmless changes? The check re-encodes the track, resamples it, "
                   "shifts its pitch, stretches its tempo, adds faint noise, changes its loudness and trims it, then "
                   "analyses every copy with the same layers and profile: about 9 s for a 3-minute track on two "
                   "free cores, about 40 s with CLAP (every copy is embedded again).")
        names = st.multiselect("Perturbations", list(PERTURBATIONS), default=list(PERTURBATIONS),
                               format_func=lambda n: PERTURBATIONS[n].description, key=f"{key}-perturbations")
        if st.button("Check stability", key=f"{key}-stability", disabled=not names,
                     help="Analyse every perturbed copy; the result is kept in the history and the JSON report."):
            st.session_state[f"{key}:stability-set"] = names  # a widget's state goes once it is not drawn
            if _check_stability(report, audio, names, key) is not None:
                st.rerun()  # drawn from the cache by known_stability(), without the button
        return
    with st.container(border=True):
        words = stability.words.removeprefix(f"{stability.title}: ")
        colour = STABILITY_COLOURS[stability.summary]
        st.markdown(f"**:{colour}[{stability.title}.]** {md_text(words[:1].upper() + words[1:])}")
    st.plotly_chart(plots.stability_chart(stability), width="stretch", key=f"{key}-stability-chart")
    with st.expander("Every perturbation in numbers"):
        st.dataframe(stability_table(stability), hide_index=True, width="stretch")
    st.caption(f"Judged with a stable width of {stability.width:.2f} (the profile's stability_width): a spread above "
               "it without a change of call is inconclusive. The pitch and time stretch changes work on the middle "
               "30 s of a longer track; the codecs, resampling, noise and loudness on the whole track.")


def render_report(report: DetectionReport, active: Thresholds, track: TrackFeatures | None = None,
                  key: str = "report", *, overview: Overview | None = None, audio: bytes | None = None) -> None:
    """The full explanation of one report: summary, score, layers, stability, features vs bands, timeline,
    downloads. With the track's ``audio`` the Stability panel offers to run the check."""
    for warning in report.warnings:
        st.warning(warning)
    explanation = explain(report, active)
    with st.container(border=True):
        st.markdown(f"#### :{CALL_COLOURS[report.call]}[{report.verdict}]")
        st.markdown(explanation.headline)
        st.markdown(explanation.evidence)
        with st.container(horizontal=True, gap="medium"):
            st.caption("Glossary (hover a term):", width="content")
            for term, meaning in GLOSSARY.items():
                st.caption(term, help=meaning, width="content")
    left, right = st.columns([2, 3])
    with left:
        st.plotly_chart(plots.score_gauge(report, active), width="stretch", key=f"{key}-gauge")
        low, high = active.band
        st.metric(SCORE_WORDS[report.score_name], f"{report.score:.2f}",
                  help=SCORE_HELP[report.score_name].format(low=low, high=high))
        ran = ", ".join(f"**{name}** ({layer.score:.2f})" for name, layer in report.layers.items())
        precision = clap.recorded_precision(report.versions)  # None without CLAP; fp32 for older reports
        st.caption(f"Decided by the **{report.decided_by}** layer. Layers that ran: {ran}. "
                   f"{report.duration:.1f} s · {report.format} · SHA-256 {report.sha256[:12]}…"
                   + (f" · CLAP in {precision}" if precision else ""))
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
                    if layer.drivers:
                        st.plotly_chart(plots.drivers_chart(layer.drivers, values=layer.features), width="stretch",
                                        key=f"{key}-drivers-{layer.name}")
                        st.caption("Permutation importance at training time, on tracks held out from training: how "
                                   "much accuracy drops when this feature is shuffled. It describes the model, not "
                                   "this track (hover a bar for the track's value).")
                    elif layer.name == "classifier":
                        st.caption("Which features drove it: not recorded for this model (trained before the "
                                   "permutation importance was kept, or no single feature lowered its accuracy "
                                   "when shuffled). Its card is on the Models page.")

    stability_section(report, key, audio)
    if report.artifacts is not None:
        st.subheader("Decoder fingerprint")
        finding = report.artifacts
        with st.container(border=True):
            colour = "red" if finding.found else "green"
            detail = finding.detail
            st.markdown(f":{colour}[**{finding.headline}.**] {detail[:1].upper()}{detail[1:]}")
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
    frames = track.frames if track is not None else overview  # an Overview draws like the frames it came from
    if frames is not None:
        st.subheader("Where in the track")
        st.plotly_chart(plots.track_overview(frames, report.segments, active), width="stretch",
                        key=f"{key}-overview")
    elif report.segments:
        st.subheader("Where in the track")
        st.plotly_chart(plots.compare_segments([report], [active]), width="stretch", key=f"{key}-overview")
        st.caption("The waveform and mel spectrogram are not stored for analyses made before this version of the "
                   "detector; analyse the track again to see them here.")
    segments = segments_table(report)
    if explanation.segments is not None:
        (st.info if explanation.segments_disagree else st.caption)(explanation.segments)
    c1, c2 = st.columns(2)
    stem = report.source_name or "track"
    c1.download_button("Download JSON report", report.to_json(), f"{stem}.report.json", "application/json",
                       key=f"{key}-json")
    c2.download_button("Download segments (CSV)", segments.to_csv(index=False), f"{stem}.segments.csv", "text/csv",
                       key=f"{key}-csv")


__all__ = ["AUDIO_TYPES", "DEFAULTS_NAME", "LABEL_WORDS", "Loaded", "active_model", "active_profile", "audio_error",
           "clap_encoder", "history", "known_stability", "label_control", "load_track", "md_text", "name_profile", "profile_label",
           "profile_sidebar", "progress_bar", "read_upload", "remember", "render_report", "saved_profile_name", "session_tracks", "sidebar_is_stale",
           "set_thresholds", "sync_query", "thresholds"]
