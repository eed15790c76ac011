"""Tune the heuristic thresholds and watch every analysed track's score move.

The tracks are the history's (the newest analysis of each audio, with the labels kept
there), rescored from their stored features as a control moves: nothing is decoded, and
nothing is lost when the page is reloaded. Every number has a slider and an exact input,
both bound to one value in the session (``tune:RULE:FIELD``).
"""

import streamlit as st

from detector import AudioError, ProfileError, Thresholds, plots, score
from detector.analysis.tuning import (FIELD_LABELS, GLOBAL_LABELS, GLOBAL_SCALE, Scale, compare_profiles, evaluate,
                                      feature_values, format_number, settle, slider_scale)
from detector.history import LABELS, ProfileLibrary, StoreError
from detector.layers.heuristics import (ALL_RULES, ARTIFACT_RULES, EMBEDDING_RULES, GLOBALS, SPECTRAL_RULES,
                                       STEP_FIELDS, THRESHOLD_FIELDS, Rule)
from detector.metrics import MIN_PER_CLASS
from detector.report.tables import feature_label, feature_table
from pages._shared import (sidebar_is_stale, AUDIO_TYPES, active_model, history, load_track, md_text, name_profile, read_upload,
                           remember, set_thresholds, thresholds)
from pages._serving import current_user, page_access

page_access()  # only for a session that may use the pages (the sign-in gate)

FIELDS = THRESHOLD_FIELDS + STEP_FIELDS
UNLABELLED = "unlabelled"
INCLUDE = {"all": "All analysed tracks", "labelled": "Labelled tracks only"}
LAYERS = {"Decoder fingerprint (artifact layer)": ARTIFACT_RULES, "Spectral rules": SPECTRAL_RULES,
          "CLAP embedding rules": EMBEDDING_RULES}
library = ProfileLibrary()


def _key(rule: str, field: str = "") -> str:
    return f"tune:{rule}:{field}" if field else f"tune:{rule}"


def _show(t: Thresholds) -> None:
    """Make ``t``'s numbers the controls' values (the widgets follow on the next draw)."""
    for name in GLOBALS:
        st.session_state[_key(name)] = float(getattr(t, name))
    for name in ALL_RULES:
        rule = t.rule(name)
        for field in FIELDS:
            if getattr(rule, field) is not None:
                st.session_state[_key(name, field)] = float(getattr(rule, field))


def _pending(active: Thresholds) -> dict:
    """The controls' numbers as a profile mapping (not yet checked)."""
    data = active.to_dict()
    for name in GLOBALS:
        data[name] = st.session_state[_key(name)]
    for name in ALL_RULES:
        for field in FIELDS:
            if data[name][field] is not None:
                data[name][field] = st.session_state[_key(name, field)]
    return data


def _activate(t: Thresholds, message: str, name: str | None = None) -> None:
    set_thresholds(t, baseline=True)
    _show(t)
    if name is not None:
        name_profile(name, t)
    st.session_state["tune:message"] = message


def _load_saved() -> None:
    name = st.session_state.get("tune:saved")
    try:
        _activate(library.load(name), f"Loaded profile **{md_text(name)}**.", name)
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
    active = st.session_state["thresholds"]
    try:
        path = library.save(name, active)
    except (ProfileError, OSError) as exc:
        st.session_state["tune:error"] = f"Could not save: {exc}"
        return
    st.session_state["baseline"] = active
    name_profile(path.stem, active)
    st.session_state["tune:message"] = f"Saved profile **{md_text(path.stem)}**."


def _from_slider(key: str) -> None:
    st.session_state[key] = float(st.session_state[f"{key}:slider"])


def _from_exact(key: str) -> None:
    if st.session_state.get(f"{key}:exact") is not None:
        st.session_state[key] = float(st.session_state[f"{key}:exact"])


def _number(label: str, key: str, scale: Scale, **bounds) -> None:
    """A slider over ``scale``'s stops and an exact input beside it, both showing ``st.session_state[key]``."""
    value = float(st.session_state[key])
    st.session_state[f"{key}:slider"] = scale.snap(value)
    st.session_state[f"{key}:exact"] = value
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    left.select_slider(label, scale.stops(), key=f"{key}:slider", format_func=format_number, on_change=_from_slider,
                       args=(key,), help="Slide to the nearest round value, or type the exact one beside it.")
    right.number_input(f"{label} (exact)", key=f"{key}:exact", step=scale.step, format="%g", on_change=_from_exact,
                       args=(key,), label_visibility="collapsed", **bounds)


def _rule_controls(name: str, rule: Rule, values: list[float], problem: str | None) -> None:
    scale = slider_scale(name, Thresholds(**{name: rule}), values)
    kind = "log scale" if scale.log else "linear scale"
    st.markdown(f"**{feature_label(name)}** · AI when *{rule.ai_when}* · {kind}")
    for field in THRESHOLD_FIELDS:
        if getattr(rule, field) is not None:
            _number(FIELD_LABELS[field], _key(name, field), scale)
    if problem:
        st.error(f"{problem} The scores keep this rule's last valid settings until it is fixed.")
    steps = [f for f in STEP_FIELDS if f != "mild_step" or rule.mild_threshold is not None]
    for col, field in zip(st.columns(len(steps)), steps):
        key = _key(name, field)
        st.session_state[f"{key}:exact"] = float(st.session_state[key])
        col.number_input(FIELD_LABELS[field], 0.0, 1.0, step=0.01, key=f"{key}:exact", format="%.2f",
                         on_change=_from_exact, args=(key,))


def _add_labelled(active: Thresholds) -> None:
    """Analyse the uploads, keep them in the history and label them there (once per upload)."""
    h, a = st.columns(2)
    uploads = [(h.file_uploader("Human-made tracks", type=AUDIO_TYPES, accept_multiple_files=True, key="tune:human"),
                "human"),
               (a.file_uploader("AI-generated tracks", type=AUDIO_TYPES, accept_multiple_files=True, key="tune:ai"),
                "ai")]
    done = st.session_state.setdefault("tune:uploaded", set())
    skipped = []
    with st.spinner("Computing features of the new tracks…"):
        for files, label in uploads:
            for upload in files or []:
                if (upload.file_id, label) in done or (data := read_upload(upload)) is None:
                    continue
                try:
                    track = load_track(data, upload.name, label)
                except AudioError as exc:
                    skipped.append(f"**{md_text(upload.name)}**: {exc}")
                    continue
                remember(score(track, active, model=active_model()))
                try:
                    history().set_label(track.sha256, label, upload.name, user=current_user())
                except StoreError as exc:
                    skipped.append(f"**{md_text(upload.name)}**: the label could not be saved ({exc})")
                    continue
                done.add((upload.file_id, label))
    if skipped:
        st.warning("Skipped:\n\n" + "\n\n".join(f"- {s}" for s in skipped))


def _save_label_edits(editor: str) -> None:
    """Keep the label changes made in the table (``editor``'s state) in the history, then start a fresh table."""
    edits = (st.session_state.get(editor) or {}).get("edited_rows") or {}
    rows = st.session_state.get("tune:rows", [])
    changed = 0
    for index, change in edits.items():
        if "label" not in change or not 0 <= int(index) < len(rows):
            continue
        sha256, name = rows[int(index)]
        label = change["label"] if change["label"] in LABELS else None
        try:
            history().set_label(sha256, label, name, user=current_user())
        except StoreError as exc:
            st.error(f"The label of **{md_text(name)}** could not be saved: {exc}")
            continue
        changed += 1
    if edits:
        st.session_state["tune:editor"] = st.session_state.get("tune:editor", 0) + 1
    if changed:
        st.success(f"Saved {changed} label{'s' if changed > 1 else ''} in the history.")


def _evaluation(table, active: Thresholds) -> None:
    labelled = table["label"] != UNLABELLED
    if not labelled.any():
        st.caption("Label tracks (in the table's *label* column, or upload them as human-made or AI-generated "
                   "above) to see accuracy, a confusion matrix and a ROC curve.")
        return
    result = evaluate(table.loc[labelled, "after"], table.loc[labelled, "label"], active)
    counts, inconclusive = result.class_counts, sum(result.inconclusive.values())
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Accuracy", "—" if result.accuracy is None else f"{result.accuracy:.0%}",
              help="Share of the decided labelled tracks (called AI or human) that match their label.")
    m2.metric("ROC AUC", "needs both classes" if result.roc_auc is None else f"{result.roc_auc:.3f}")
    m3.metric("Labelled tracks", f"{counts['human']} human · {counts['ai']} AI")
    m4.metric("Inconclusive", f"{inconclusive} of {int(labelled.sum())}")
    level = f"{result.confidence:.0%}"
    notes = []
    if result.accuracy_ci is not None:
        lo, hi = result.accuracy_ci
        notes.append(f"Accuracy {result.accuracy:.0%} over {result.decided} decided tracks, {level} interval "
                     f"{lo:.0%} to {hi:.0%} (Wilson).")
    else:
        notes.append("Every labelled track is inconclusive, so there is no accuracy yet.")
    if result.roc_auc_ci is not None:
        lo, hi = result.roc_auc_ci
        notes.append(f"ROC AUC {result.roc_auc:.3f}, {level} interval {lo:.3f} to {hi:.3f} (stratified bootstrap, "
                     "1,000 resamples).")
    if inconclusive:
        notes.append(f"{inconclusive} inconclusive track{'s' if inconclusive > 1 else ''} "
                     f"({result.inconclusive['human']} human, {result.inconclusive['ai']} AI) fall inside the band "
                     "and are left out of the accuracy and the confusion matrix.")
    st.caption(" ".join(notes))
    if result.small_sample:
        st.warning(f"Only {counts['human']} human and {counts['ai']} AI tracks are labelled. With fewer than "
                   f"{MIN_PER_CLASS} of each class these numbers swing widely from one track to the next: read the "
                   "intervals, not the single numbers, and label more tracks before trusting this profile.")
    c1, c2 = st.columns(2)
    c1.plotly_chart(plots.confusion_figure(result.confusion_matrix), width="stretch")
    if result.roc_auc is not None:
        c2.plotly_chart(plots.roc_figure(result.roc_fpr, result.roc_tpr, result.roc_auc), width="stretch")


st.title("Tune the thresholds")
st.caption("Every analysed track in the history is rescored from its stored features as you move a control: nothing "
           "is decoded again. The active profile lives in this page's URL, so a link reproduces it.")
active = thresholds()
if any(_key(name) not in st.session_state for name in GLOBALS):
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

try:
    empty = history().count() == 0
except StoreError:
    empty = True
with st.expander("Add labelled tracks (for accuracy, confusion matrix and ROC)", expanded=empty):
    st.caption("Each upload is analysed, kept in the history and labelled there, like any other analysis.")
    _add_labelled(active)

f1, f2 = st.columns([3, 1])
include = f1.radio("Tracks", list(INCLUDE), format_func=INCLUDE.get, horizontal=True, key="tune:include")
limit = f2.number_input("At most (newest first)", 1, 5000, 500, step=50, key="tune:limit")
try:
    reports = [report for _, report in history().latest(limit=limit, labelled=include == "labelled")]
except StoreError as exc:
    st.error(f"The analysis history cannot be read, so there are no tracks to rescore: {exc}")
    reports = None


@st.fragment
def tuner(reports: list | None, labelled_only: bool) -> None:
    """The controls and, unless the history could not be read (``reports`` None), the rescored tracks."""
    controls, results = st.columns([1, 2])
    last_valid = thresholds()
    pending = _pending(last_valid)
    active, problems = settle(pending, last_valid)
    if active != last_valid:
        set_thresholds(active)
        if sidebar_is_stale():  # this fragment reruns alone; the sidebar must not show the old profile
            st.rerun()
    values = feature_values(reports or [])
    with controls:
        for name, text in GLOBAL_LABELS.items():
            _number(text, _key(name), GLOBAL_SCALE, min_value=0.0, max_value=1.0)
        if problem := problems.get("globals"):
            st.error(f"{problem} The scores keep the last valid global settings until it is fixed.")
        for title, names in LAYERS.items():
            with st.expander(title, expanded=title.startswith("Decoder") or any(n in problems for n in names)):
                for name in names:
                    _rule_controls(name, Rule(**pending[name]), values[name], problems.get(name))
        st.download_button("Download this profile (JSON)", active.to_json(), "thresholds.json", "application/json")

    with results:
        if reports is None:  # the history's error is shown above
            return
        _save_label_edits(f"tune:labels:{st.session_state.get('tune:editor', 0)}")  # may start a fresh table
        editor = f"tune:labels:{st.session_state.get('tune:editor', 0)}"
        if not reports:
            st.info("No analysed tracks yet" + (" with a label" if labelled_only else "") + ". Analyse tracks on the "
                    "Analyse or Batch & history page, or add labelled tracks above: every analysis is kept in the "
                    "history, and this page rescores them all.")
            return
        try:
            labels = history().labels()
        except StoreError as exc:
            st.warning(f"The labels cannot be read: {exc}")
            labels = {}
        items = [r for r in reports if r.sha256 in labels or not labelled_only]
        if not items:
            st.info("No labelled tracks are left. Choose *All analysed tracks* above to label some.")
            return
        baseline = st.session_state.get("baseline", Thresholds())
        table, after = compare_profiles(items, [labels.get(r.sha256) for r in items], baseline, active)
        st.plotly_chart(plots.score_changes(table["track"], table["before"], table["after"], active.decision,
                                            band=active.band), width="stretch")
        st.session_state["tune:rows"] = [(r.sha256, r.source_name) for r in after]
        st.data_editor(table, hide_index=True, width="stretch", key=editor,
                       disabled=[c for c in table.columns if c != "label"],
                       column_config={"label": st.column_config.SelectboxColumn(
                           "label", options=[*LABELS, UNLABELLED], required=True,
                           help="Your label for the audio, kept in the history: pick human, ai or unlabelled."),
                           **{c: st.column_config.NumberColumn(format="%.3f") for c in ("before", "after", "change")}})
        st.caption(f"{len(table)} track{'s' if len(table) > 1 else ''}: the newest analysis of each audio in the "
                   "history, rescored by the rules (a trained classifier is left out here). Before: the profile you "
                   "started from or last saved or loaded; after: the controls' settings. The shaded band is "
                   "inconclusive.")
        _evaluation(table, active)
        features = feature_table(after, [labels.get(r.sha256) for r in after])
        if shown := [f for f in ALL_RULES if f in features.columns]:
            st.plotly_chart(plots.class_distributions(features, shown, active), width="stretch")


tuner(reports, include == "labelled")
