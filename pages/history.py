"""Analyse many tracks at once, and browse, reopen, compare and export every past analysis."""

import streamlit as st

from detector import plots
from detector.history import StoreError, export_csv, rows_table
from detector.jobs import analyze_batch
from detector.report.tables import compare_table
from pages._shared import (AUDIO_TYPES, active_model, active_profile, clap_encoder, history, md_text, progress_bar,
                           read_upload, render_report, session_tracks, thresholds)

st.title("Batch & history")
active = thresholds()
try:
    store = history()
except StoreError as exc:
    st.error(f"The analysis history cannot be opened: {exc}")
    st.stop()

st.subheader("Analyse many tracks")
uploads = st.file_uploader("Tracks", type=AUDIO_TYPES, accept_multiple_files=True, key="batch:files")
if st.button("Analyse and add to the history", disabled=not uploads, type="primary"):
    items = [(u.name, data) for u in uploads if (data := read_upload(u)) is not None]
    bar = st.progress(0.0, text="Starting…")
    result = analyze_batch(items, store=store, thresholds=active, profile=active_profile(), model=active_model(),
                           clap=clap_encoder(), progress=progress_bar(bar))
    bar.progress(1.0, text=f"Done: {result.analysed} analysed, {result.reused} already in the history, "
                           f"{len(result.failures)} could not be analysed.")
    for name, message in result.failures:
        st.error(f"**{md_text(name)}** could not be analysed. {message}")

st.subheader("History")
total = store.count()
if not total:
    st.info("No analyses yet. Every track analysed on any page is kept here, and survives a server restart.")
    st.stop()
f1, f2, f3 = st.columns([2, 1, 2])
search = f1.text_input("Search names", key="history:search", placeholder="part of a file name")
verdict = f2.selectbox("Verdict", ["any", "AI", "human"], key="history:verdict")
low, high = f3.slider("Score between", 0.0, 1.0, (0.0, 1.0), step=0.01, key="history:score")
rows = store.rows(search=search or None, verdict=None if verdict == "any" else verdict, min_score=low,
                  max_score=high)
table = rows_table(rows)
st.caption(f"{len(rows)} of {total} analyses. Click a column header to sort.")
if table.empty:
    st.stop()
st.dataframe(table, hide_index=True, width="stretch",
             column_config={"score": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="%.2f"),
                            "sha256": st.column_config.TextColumn(width="small")})
st.download_button("Export these rows (CSV)", export_csv(rows), "history.csv", "text/csv")

ids = {f"#{r.id} {r.source_name} ({r.score:.2f}, {r.created_at[:16].replace('T', ' ')})": r.id for r in rows}
opened = st.selectbox("Open an analysis", ["—", *ids], key="history:open")
if opened != "—":
    open_id = ids[opened]
    try:
        report = store.get_by_id(open_id)
    except StoreError as exc:
        st.error(str(exc))
    else:
        loaded = session_tracks().get(report.sha256)
        render_report(report, active, loaded.track if loaded else None, key="history")

pair = [ids[label] for label in st.multiselect("Compare two analyses side by side", list(ids), max_selections=2,
                                              key="history:compare")]
if len(pair) == 2:
    try:
        reports = [store.get_by_id(i) for i in pair]
    except StoreError as exc:
        st.error(str(exc))
        st.stop()
    columns = st.columns(2)
    for column, report, row_id in zip(columns, reports, pair):
        with column:
            st.markdown(f"**{md_text(report.source_name)}** · {report.verdict}")
            st.plotly_chart(plots.score_gauge(report, active.decision), width="stretch", key=f"cmp-{row_id}")
    st.plotly_chart(plots.compare_segments(reports, active.decision), width="stretch")
    st.dataframe(compare_table(reports), width="stretch")
