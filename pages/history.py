"""Analyse many tracks at once, and browse, reopen, compare and export every past analysis; open a catalogue scan.

A reopened analysis is drawn as it was made: with the thresholds it was scored with and,
where it was kept, the track's waveform overview. Rescoring it with the active profile
is a separate, labelled step. ``?a=<id>`` in the address opens analysis ``<id>``; ``?scan=<folder>`` opens
the catalogue scan written to that folder (``python -m detector scan``, drawn by :mod:`pages._scans`).
"""

import streamlit as st

from detector import DetectorError, Thresholds, plots
from detector.features.overview import Overview, OverviewError
from detector.history import (HistoryRow, StoreError, analysed_utc, export_csv, history_table, profile_title,
                              rescored)
from detector.jobs import analyze_batch
from detector.layers.heuristics import CALLS
from detector.report import CALL_WORDS
from detector.report.tables import compare_table
from pages._shared import (AUDIO_TYPES, LABEL_WORDS, active_model, active_profile, clap_encoder, history,
                           label_control, md_text, profile_label, progress_bar, read_upload, render_report,
                           saved_profile_name, session_tracks, thresholds, thresholds_of)
from pages._scans import SCAN_QUERY, scan_view
from pages._serving import analysis_slot, current_user, page_access

page_access()  # only for a session that may use the pages (the sign-in gate)

LINK = "a"  # the query parameter that names an analysis: ?a=12
CALL_COLOURS = {"ai": plots.BAND_COLOURS["strong AI"], "human": plots.BAND_COLOURS["human"],
                "inconclusive": plots.BAND_COLOURS["neutral"]}


def title(row: HistoryRow) -> str:
    """How an analysis is named in the pickers: id, track, score and call, profile, when."""
    return (f"#{row.id} {row.source_name} · {row.score:.2f} {CALL_WORDS.get(row.call, row.call)} · "
            f"profile {profile_title(row)} · {analysed_utc(row.created_at, seconds=False)}")


def settings(used: Thresholds) -> str:
    low, high = used.band
    band = f"inconclusive from {low:.2f} to {high:.2f}" if high > low else "no inconclusive band"
    return f"decision line {used.decision:.2f}, {band}"


def stored_overview(sha256: str) -> Overview | None:
    """The track's kept overview, or None (an analysis made before overviews were kept, or a damaged one)."""
    try:
        data = store.overview(sha256)
        return None if data is None else Overview.from_bytes(data)
    except (StoreError, OverviewError) as exc:
        st.caption(f"The track's waveform overview can't be read ({exc}).")
        return None


def follow_link() -> None:
    """On a visit with a new ``?a=``, preselect that analysis, or say why it can't be opened."""
    wanted = st.query_params.get(LINK)
    if wanted is None or wanted == st.session_state.get("history:linked"):
        return
    st.session_state["history:linked"] = wanted
    if not (wanted.isascii() and wanted.isdigit() and len(wanted) <= 18):
        st.error(f"The link asks for analysis “{md_text(wanted[:40])}”, which is not an analysis number "
                 f"(the link should end in ?{LINK}= and a number, as in ?{LINK}=12). Choose an analysis below.")
        return
    try:
        store.row(int(wanted))
    except StoreError as exc:  # RowNotFoundError included: its message says it may have been deleted
        st.error(f"The link's analysis can't be opened. {exc} Choose an analysis below.")
        return
    st.session_state["history:open"] = int(wanted)


def reopen(open_id: int) -> None:
    """Analysis ``open_id`` as it was made, its label, its link, and rescoring it with the active profile."""
    try:
        row, report = store.row(open_id), store.get_by_id(open_id)
    except StoreError as exc:
        st.error(str(exc))
        return
    st.subheader(f"Analysis {row.id}: {md_text(report.source_name)}")
    used = thresholds_of(report)
    st.caption(f"As analysed on {analysed_utc(row.created_at, seconds=False)} UTC with profile "
               f"**{md_text(profile_title(row))}** ({settings(used)}): drawn as it was made, not against the active "
               "profile.")
    link = f"{st.context.url or 'history'}?{LINK}={row.id}"
    st.code(link, language=None)
    st.caption("The link to this analysis (copy it with the button at the right).")
    label_control(report.sha256, report.source_name, key=f"history:label:{row.id}")
    loaded = session_tracks().get(report.sha256)
    track = loaded.track if loaded else None
    overview = None if track is not None else stored_overview(report.sha256)

    showing = st.session_state.get("history:rescored") == row.id
    if st.button("Hide the rescored view" if showing else "Rescore with the active profile", key="history:rescore",
                 help="Score this analysis's stored features again with the active profile's thresholds. Nothing is "
                      "decoded and nothing is saved."):
        showing = not showing
        st.session_state["history:rescored"] = row.id if showing else None
    change = None
    if showing:
        if active == used:
            st.info(f"The active profile (**{md_text(profile_label())}**) has the thresholds this analysis was made "
                    "with, so rescoring it changes nothing.")
        else:
            try:
                change = rescored(report, active)
            except DetectorError as exc:
                st.error(str(exc))
    if change is None:
        render_report(report, used, track, key="history", overview=overview)
        return
    before, after = change.before, change.after
    with st.container(border=True):
        st.markdown(f"**Rescored with the active profile, {md_text(profile_label())}** ({settings(active)}). "
                    "Not saved; a trained classifier's P(AI), if any, is kept as it was.")
        c1, c2 = st.columns(2)
        c1.metric(f"{before.score_name}: as analysed → rescored", f"{before.score:.2f} → {after.score:.2f}",
                  delta=f"{change.score_change:+.2f}", delta_color="off")
        c2.metric("Call: as analysed → rescored",
                  f"{CALL_WORDS.get(before.call, before.call)} → {CALL_WORDS.get(after.call, after.call)}",
                  delta="changed" if change.call_changed else "unchanged", delta_color="off")
    made, now = st.tabs([f"As analysed (profile {md_text(profile_title(row))})",  # tab labels are markdown
                         f"Rescored with the active profile ({md_text(profile_label())})"])
    with made:
        render_report(report, used, track, key="history", overview=overview)
    with now:
        render_report(after, active, track, key="history-rescored", overview=overview)


def compare(rows: list[HistoryRow]) -> None:
    """Two analyses side by side, each with the profile and thresholds it was made with."""
    try:
        reports = [store.get_by_id(r.id) for r in rows]
    except StoreError as exc:
        st.error(str(exc))
        return
    used = [thresholds_of(r) for r in reports]
    for i, (column, row, report, t) in enumerate(zip(st.columns(2), rows, reports, used), start=1):
        with column:
            st.markdown(f"**{i}. {md_text(report.source_name)}** · {report.verdict}")
            st.caption(f"Analysis {row.id}, {analysed_utc(row.created_at, seconds=False)} UTC · decided by the "
                       f"{report.decided_by} layer · profile **{md_text(profile_title(row))}**: {settings(t)}")
            gauge = plots.score_gauge(report, t)  # its title is the markdown above: a compact dial, nothing clipped
            gauge.update_traces(title={"text": ""}).update_layout(height=200, margin=dict(l=40, r=40, t=25, b=5))
            st.plotly_chart(gauge, width="stretch", key=f"cmp-{i}-{row.id}")
    chart = plots.compare_segments(reports, used)
    st.plotly_chart(chart, width="stretch", key="cmp-segments")
    st.caption("Dashed: the decision line; shaded: the inconclusive band (both, where the two analyses' profiles "
               "differ).")
    st.dataframe(compare_table(reports, [profile_title(r) for r in rows]), width="stretch")


st.title("Batch & history")
VIEWS = {"history": "Batch & history", "scan": "Catalogue scan"}
view = st.segmented_control("View", list(VIEWS), format_func=VIEWS.get, key="history:view",
                            default="scan" if SCAN_QUERY in st.query_params else "history",
                            label_visibility="collapsed") or "history"
if view == "scan":
    scan_view()
    st.stop()
if SCAN_QUERY in st.query_params:
    del st.query_params[SCAN_QUERY]
active = thresholds()
try:
    store = history()
except StoreError as exc:
    st.error(f"The analysis history cannot be opened: {exc}")
    st.stop()

st.subheader("Analyse many tracks")
uploads = st.file_uploader("Tracks", type=AUDIO_TYPES, accept_multiple_files=True, key="batch:files")
check = st.checkbox("Also check each verdict's stability", key="batch:stability",
                    help="Re-analyse every track re-encoded, resampled, pitch-shifted, time-stretched, with faint "
                         "noise, louder, quieter and trimmed, and keep how the verdict held up (a few seconds more "
                         "per 3-minute track without CLAP, about 16 CLAP passes more with it).")
if st.button("Analyse and add to the history", disabled=not uploads, type="primary"):
    items = [(u.name, data) for u in uploads if (data := read_upload(u)) is not None]
    bar = st.progress(0.0, text="Starting…")
    try:
        if name := saved_profile_name():  # so the history shows the profile's name beside these analyses
            store.name_profile(active_profile(), name, active.to_dict(), user=current_user())
        with analysis_slot():  # on a shared server: the user's analyses at once are limited; a batch is one
            result = analyze_batch(items, store=store, thresholds=active, profile=active_profile(),
                                   model=active_model(), clap=clap_encoder(), progress=progress_bar(bar),
                                   user=current_user(), stability=check)
    except StoreError as exc:
        st.error(f"The batch stopped: {exc}")
        st.stop()
    bar.progress(1.0, text=f"Done: {result.analysed} analysed, {result.reused} already in the history, "
                           f"{len(result.failures)} could not be analysed.")
    for name, message in result.failures:
        st.error(f"**{md_text(name)}** could not be analysed. {message}")

st.subheader("History")
follow_link()
total = store.count()
if not total:
    st.info("No analyses yet. Every track analysed on any page is kept here, and survives a server restart.")
    st.stop()
f1, f2, f3 = st.columns([2, 1, 2])
search = f1.text_input("Search names", key="history:search", placeholder="part of a file name")
verdict = f2.selectbox("Verdict", ["any", "AI", "human", "inconclusive"], key="history:verdict")
low, high = f3.slider("Score between", 0.0, 1.0, (0.0, 1.0), step=0.01, key="history:score")
rows = store.rows(search=search or None, verdict=None if verdict == "any" else verdict, min_score=low,
                  max_score=high)
st.caption(f"{len(rows)} of {total} analyses. Click a column header to sort.")
if rows:
    try:
        stable = store.stability_summaries(r.id for r in rows)
    except StoreError:
        stable = {}
    st.dataframe(history_table(rows, stable), hide_index=True, width="stretch", column_config={
        "id": st.column_config.NumberColumn("id", width="small"),
        "analysed": st.column_config.TextColumn("analysed (UTC)"),
        "user": st.column_config.TextColumn("by", help="Who ran it: the signed-in user on a shared server, \"local\" "
                                            "on one's own machine; empty where not recorded (older analyses, the CLI)."),
        "source_name": st.column_config.TextColumn("track"),
        "verdict": st.column_config.MultiselectColumn(
            "call", options=list(CALLS), color=[CALL_COLOURS[c] for c in CALLS], format_func=CALL_WORDS.get,
            help="The three-way verdict: AI above the inconclusive band, human below it."),
        "score": st.column_config.ProgressColumn(
            "score", min_value=0.0, max_value=1.0, format="%.2f", color="blue",
            help="0 = human-like … 1 = AI-like; the call column says which side of its profile's band it fell."),
        "stability": st.column_config.TextColumn(
            "stability", help="How the verdict held up under re-encoding, pitch, tempo, noise, loudness and trimming: "
                              "stable, fragile (the call changed) or inconclusive; empty where it was not checked "
                              "(the Analyse page's Stability panel, or the batch's checkbox)."),
        "label": st.column_config.MultiselectColumn(
            "your label", options=["human", "ai"], color=[CALL_COLOURS["human"], CALL_COLOURS["ai"]],
            format_func=LABEL_WORDS.get),
        "profile": st.column_config.TextColumn("profile", help="The profile the analysis was made with."),
        "decided_by": st.column_config.TextColumn("decided by"),
        "duration": st.column_config.NumberColumn("duration (s)", format="%.1f"),
        "sha256": st.column_config.TextColumn("SHA-256", width="small"),
    })

    def csv_text() -> str:  # built when the button is clicked: it reads every row's stored features
        try:
            return export_csv(rows, store.layer_features(r.id for r in rows), stable)
        except StoreError:
            return export_csv(rows)

    st.download_button("Export these rows (CSV)", csv_text, "history.csv", "text/csv", key="history:export",
                       help="Every column above, each layer's score and features, the label and the profile name; "
                            "times in UTC.")

by_id = {r.id: r for r in rows}
chosen = st.session_state.get("history:open")
if chosen is not None and chosen not in by_id:  # opened from a link, or filtered out since: keep it on offer
    try:
        by_id = {chosen: store.row(chosen), **by_id}
    except StoreError:
        st.session_state["history:open"] = None
open_id = st.selectbox("Open an analysis", [None, *by_id], key="history:open",
                       format_func=lambda i: "—" if i is None else title(by_id[i]))
if open_id is None:
    if LINK in st.query_params and st.session_state.get("history:linked") is not None:
        del st.query_params[LINK]
else:
    st.query_params[LINK] = str(open_id)
    st.session_state["history:linked"] = str(open_id)
    reopen(open_id)

labels = {title(r): r for r in rows}
pair = [labels[label] for label in st.multiselect("Compare two analyses side by side", list(labels),
                                                  max_selections=2, key="history:compare")]
if len(pair) == 2:
    compare(pair)
