"""Tune the heuristic thresholds and watch every loaded track's score move."""

import streamlit as st

from detector import AudioError, ProfileError, Thresholds, plots
from detector.analysis.tuning import compare_profiles, evaluate, slider_range
from detector.history import ProfileLibrary
from detector.layers.heuristics import (ALL_RULES, ARTIFACT_RULES, EMBEDDING_RULES, SPECTRAL_RULES, STEP_FIELDS,
                                       THRESHOLD_FIELDS, Rule)
from detector.report.tables import feature_label, feature_table
from pages._shared import (AUDIO_TYPES, load_track, md_text, read_upload, session_tracks, set_thresholds,
                           thresholds)

GLOBALS = {"base": "Starting score", "decision": "Decision line (AI above)", "floor": "Lowest score",
           "ceiling": "Highest score"}
FIELDS = THRESHOLD_FIELDS + STEP_FIELDS
library = ProfileLibrary()


def _key(rule: str, field: str = "") -> str:
    return f"tune:{rule}:{field}" if field else f"tune:{rule}"


def _show(t: Thresholds) -> None:
    """Put ``t``'s numbers into the widgets (only safe in callbacks or before the widgets are drawn)."""
    for name in GLOBALS:
        st.session_state[_key(name)] = float(getattr(t, name))
    for name in ALL_RULES:
        rule = t.rule(name)
        for field in FIELDS:
            if getattr(rule, field) is not None:
                st.session_state[_key(name, field)] = float(getattr(rule, field))


def _from_widgets(active: Thresholds) -> Thresholds:
    data = active.to_dict()
    for name in GLOBALS:
        data[name] = st.session_state[_key(name)]
    for name in ALL_RULES:
        for field in FIELDS:
            if data[name][field] is not None:
                data[name][field] = st.session_state[_key(name, field)]
    return Thresholds.from_dict(data)


def _activate(t: Thresholds, message: str) -> None:
    set_thresholds(t, baseline=True)
    _show(t)
    st.session_state["tune:message"] = message


def _load_saved() -> None:
    name = st.session_state.get("tune:saved")
    try:
        _activate(library.load(name), f"Loaded profile **{md_text(name)}**.")
    except ProfileError as exc:
        st.session_state["tune:error"] = str(exc)


def _load_file() -> None:
    upload = st.session_state.get("tune:file")
    if upload is None:
        return
    try:
        _activate(Thresholds.from_json(upload.getvalue().decode("utf-8", errors="replace")),
                  f"Loaded profile file **{md_text(upload.name)}**.")
    except ProfileError as exc:
        st.session_state["tune:error"] = f"{md_text(upload.name)}: {exc}"


def _save() -> None:
    name = st.session_state.get("tune:name", "")
    try:
        path = library.save(name, st.session_state["thresholds"])
        st.session_state["baseline"] = st.session_state["thresholds"]
        st.session_state["tune:message"] = f"Saved profile **{path.stem}**."
    except (ProfileError, OSError) as exc:
        st.session_state["tune:error"] = f"Could not save: {exc}"


st.title("Tune the thresholds")
st.caption("Every loaded track is rescored from its cached features as you move a control: nothing is decoded again. "
           "The active profile lives in this page's URL, so a link reproduces it.")
active = thresholds()
if _key("base") not in st.session_state:
    _show(active)
for kind, show in (("tune:message", st.success), ("tune:error", st.error)):
    if text := st.session_state.pop(kind, None):
        show(text)

with st.expander("Profiles: load, save, reset", expanded=False):
    c1, c2, c3 = st.columns(3)
    with c1:
        names = library.names()
        st.selectbox("Saved profiles", names, key="tune:saved", placeholder="none saved yet")
        st.button("Load", on_click=_load_saved, disabled=not names)
    with c2:
        st.text_input("Save the active profile as", key="tune:name", max_chars=64)
        st.button("Save", on_click=_save)
    with c3:
        st.file_uploader("Load a profile file (JSON)", type=["json"], key="tune:file", on_change=_load_file)
        st.button("Reset to the original defaults", on_click=_activate, args=(Thresholds(), "Reset to the defaults."))

with st.expander("Add labelled tracks (for accuracy, confusion matrix and ROC)", expanded=not session_tracks()):
    h, a = st.columns(2)
    labelled = [(h.file_uploader("Human-made tracks", type=AUDIO_TYPES, accept_multiple_files=True, key="tune:human"),
                 "human"),
                (a.file_uploader("AI-generated tracks", type=AUDIO_TYPES, accept_multiple_files=True, key="tune:ai"),
                 "ai")]
    skipped = []
    with st.spinner("Computing features of the new tracks…"):
        for uploads, label in labelled:
            for upload in uploads or []:
                data = read_upload(upload)
                if data is None:
                    continue
                try:
                    load_track(data, upload.name, label)
                except AudioError as exc:
                    skipped.append(f"**{md_text(upload.name)}**: {exc}")
    if skipped:
        st.warning("Skipped:\n\n" + "\n\n".join(f"- {s}" for s in skipped))

loaded = session_tracks()
if not loaded:
    st.info("No tracks yet. Analyse a track on the Analyse page, or add labelled tracks above.")
    st.stop()


def _rule_controls(name: str, rule: Rule, active: Thresholds) -> None:
    lo, hi, step = slider_range(name, active)
    st.markdown(f"**{feature_label(name)}** · AI when *{rule.ai_when}*")
    for field, text in (("ai_threshold", "strong AI beyond"), ("mild_threshold", "mild AI beyond"),
                        ("human_threshold", "human beyond")):
        if getattr(rule, field) is not None:
            st.slider(text, lo, hi, step=step, key=_key(name, field))
    cols = st.columns(3 if rule.mild_threshold is not None else 2)
    steps = [("ai_step", "+AI"), *([("mild_step", "+mild")] if rule.mild_threshold is not None else []),
             ("human_step", "−human")]
    for col, (field, text) in zip(cols, steps):
        col.number_input(text, 0.0, 1.0, step=0.01, key=_key(name, field), format="%.2f")


@st.fragment
def tuner() -> None:
    controls, results = st.columns([1, 2])
    active = thresholds()
    with controls:
        for name, text in GLOBALS.items():
            st.slider(text, 0.0, 1.0, step=0.01, key=_key(name))
        layers = {"Decoder fingerprint (artifact layer)": ARTIFACT_RULES, "Spectral rules": SPECTRAL_RULES,
                  "CLAP embedding rules": EMBEDDING_RULES}
        for title, names in layers.items():
            with st.expander(title, expanded=title.startswith("Decoder")):
                for name in names:
                    _rule_controls(name, active.rule(name), active)
        try:
            active = _from_widgets(active)
            set_thresholds(active)
        except ProfileError as exc:
            st.error(f"These settings are not valid, so the scores still use the last valid ones: {exc}")
        st.download_button("Download this profile (JSON)", active.to_json(), "thresholds.json", "application/json")

    with results:
        tracks = list(loaded.values())
        table, after = compare_profiles([t.track for t in tracks], [t.label for t in tracks],
                                        st.session_state.get("baseline", Thresholds()), active)
        st.plotly_chart(plots.score_changes(table["track"], table["before"], table["after"], active.decision),
                        width="stretch")
        st.dataframe(table, hide_index=True, width="stretch",
                     column_config={c: st.column_config.NumberColumn(format="%.3f") for c in ("before", "after", "change")})
        is_labelled = table["label"] != "unlabelled"
        if is_labelled.any():
            result = evaluate(table.loc[is_labelled, "after"], table.loc[is_labelled, "label"], active.decision)
            m1, m2, m3 = st.columns(3)
            m1.metric("Accuracy", f"{result.accuracy:.0%}")
            m2.metric("ROC AUC", "needs both classes" if result.roc_auc is None else f"{result.roc_auc:.3f}")
            m3.metric("Labelled tracks", f"{result.class_counts['human']} human · {result.class_counts['ai']} AI")
            c1, c2 = st.columns(2)
            c1.plotly_chart(plots.confusion_figure(result.confusion_matrix), width="stretch")
            if result.roc_auc is not None:
                c2.plotly_chart(plots.roc_figure(result.roc_fpr, result.roc_tpr, result.roc_auc), width="stretch")
        else:
            st.caption("Label tracks (upload them as human-made or AI-generated above) to see accuracy, "
                       "a confusion matrix and a ROC curve.")
        features = feature_table(after, [t.label for t in tracks])
        shown = [f for f in ALL_RULES if f in features.columns]
        st.plotly_chart(plots.class_distributions(features, shown, active), width="stretch")


tuner()
