"""The Batch & history page's catalogue-scan view: open a scan's output folder, filter, chart, export, open a row.

Draws only: reading, filtering, counting and the CSV come from :mod:`detector.jobs.scan`.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from detector import DetectorError, Thresholds, plots
from detector.audio import AudioError
from detector.history import made_with
from detector.jobs.scan import OutputError, read_scan
from detector.jobs.scan.output import PART_GLOB, read_report
from detector.jobs.scan.view import ScanFilter, counts, export_csv, profiles, table
from detector.layers.heuristics import CALLS
from detector.report import CALL_WORDS, DetectionReport
from detector.serving import PathRefused, file_inside, resolve_under, scan_folders
from pages._serving import data_root, is_shared
from pages._shared import label_control, load_track, md_text, render_report, thresholds_of

STATUS_WORDS = {"ok": "analysed", "failed": "could not be analysed", "missing": "file missing"}
MAX_OPEN_CHOICES = 500  # rows offered in the "open a row" picker (filter to reach the others)
SCAN_QUERY = "scan"  # ?scan=<folder> opens that scan (local use only)


@st.cache_data(show_spinner="Reading the scan…", max_entries=4)
def _read(folder: str, signature: tuple) -> tuple:
    """The scan's rows without the stored reports, cached until a part changes."""
    scan = read_scan(folder, reports=False)
    return scan.rows, scan.parts, tuple(scan.unreadable)


def _signature(folder: Path) -> tuple:
    return tuple(sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.glob(PART_GLOB)))


def _choose_folder() -> Path | None:
    """The scan folder the user picked: typed on this machine; from the data root's scans on a shared server."""
    if is_shared():
        root = data_root()
        if root is None:
            st.info("This shared server opens only scans written inside its data root (DETECTOR_DATA_ROOT), and none "
                    "is configured. Ask the operator.")
            return None
        try:
            folders = scan_folders(root)
        except PathRefused as exc:
            st.error(str(exc))
            return None
        chosen = st.selectbox("Scan in the data root", folders, index=0 if folders else None, key="scan:root",
                              placeholder="no scan output in the data root yet")
        if not chosen:
            return None
        try:
            return resolve_under(root, chosen)
        except PathRefused as exc:
            st.error(str(exc))
            return None
    default = st.query_params.get(SCAN_QUERY, "")
    text = st.text_input("Scan output folder (OUT)", value=default, key="scan:out",
                         placeholder="the folder given to --out, e.g. scans/catalogue")
    if not text.strip():
        return None
    st.query_params[SCAN_QUERY] = text.strip()
    return Path(text.strip()).expanduser()


def scan_view() -> None:
    """Open a scan's output and show it."""
    st.markdown("A catalogue is scanned from the command line, on Ray (all cores of this machine, or a cluster): "
                "`python -m detector scan FOLDER_OR_MANIFEST --out OUT`. Rerunning it skips every file already "
                "done. Open its OUT folder here; the view follows the scan as it writes.")
    folder = _choose_folder()
    if folder is None:
        return
    try:
        rows, parts, unreadable = _read(str(folder), _signature(folder) if folder.is_dir() else ())
    except OutputError as exc:
        st.error(str(exc))
        return
    for problem in unreadable:
        st.warning(f"A part of this scan can't be read and is left out: {md_text(problem)}")
    if not len(rows):
        st.info("This folder holds no scan rows yet. A scan writes its first rows within seconds of starting.")
        return
    found = profiles(rows)
    if len(found) > 1:
        chosen = st.selectbox("Profile", [p for p, _, _ in found], key="scan:profile",
                              format_func=lambda p: next(f"{name or 'unnamed'} ({p[:6]}…, {n} rows)"
                                                         for q, name, n in found if q == p),
                              help="The scan holds rows made with several profiles; counts and charts show one.")
        rows = rows[rows["profile"] == chosen]
    total = counts(rows)
    m = st.columns(6)
    m[0].metric("Files", f"{total.files:,}")
    m[1].metric("AI", f"{total.calls['ai']:,}")
    m[2].metric("Inconclusive", f"{total.calls['inconclusive']:,}")
    m[3].metric("Human", f"{total.calls['human']:,}")
    m[4].metric("Could not be analysed", f"{total.failed:,}")
    m[5].metric("Audio", f"{total.audio_hours:,.1f} h" if total.audio_hours >= 1 else f"{60 * total.audio_hours:.1f} min")
    if total.fingerprints:
        st.caption(f"A decoder fingerprint was found in {total.fingerprints:,} of {total.analysed:,} analysed tracks.")

    f1, f2, f3 = st.columns([2, 2, 2])
    search = f1.text_input("Search paths", key="scan:search", placeholder="part of a path")
    calls = f2.multiselect("Call", list(CALLS), key="scan:calls", format_func=CALL_WORDS.get)
    low, high = f3.slider("Score between", 0.0, 1.0, (0.0, 1.0), step=0.01, key="scan:score",
                          help="Rows that could not be analysed have no score: a narrower range hides them.")
    g1, g2, g3 = st.columns([2, 2, 2])
    statuses = g1.multiselect("Status", list(STATUS_WORDS), key="scan:status", format_func=STATUS_WORDS.get)
    label = g2.selectbox("Label", ["any", "human", "ai", "unlabelled", "disagrees"], key="scan:label",
                         format_func=lambda v: {"disagrees": "label disagrees with the call"}.get(v, v),
                         help="The labels come from the scan's manifest (a label column).")
    fingerprint = g3.toggle("Decoder fingerprint found", key="scan:fingerprint")
    shown = ScanFilter(tuple(calls), tuple(statuses), low, high, search.strip(), fingerprint, label).apply(rows)
    st.caption(f"{len(shown):,} of {len(rows):,} rows ({parts} part file{'s' if parts != 1 else ''}).")

    ok = shown[shown["status"] == "ok"]
    chart, reasons = st.columns([3, 1])
    with chart:
        st.plotly_chart(plots.scan_scores(ok["score"], ok["call"], _profile_thresholds(folder, ok)), width="stretch",
                        key="scan:histogram")
    with reasons:
        failed = counts(shown).reasons
        st.markdown("**Could not be analysed, by reason**")
        if failed:
            st.dataframe({"reason": list(failed), "files": list(failed.values())}, hide_index=True, width="stretch")
        else:
            st.caption("None.")
    st.dataframe(table(shown), hide_index=True, width="stretch", column_config={
        "name": st.column_config.TextColumn("track"),
        "call": st.column_config.MultiselectColumn("call", options=list(CALLS),
                                                   color=[plots.CALL_COLOURS[c] for c in CALLS],
                                                   format_func=CALL_WORDS.get),
        "score": st.column_config.ProgressColumn("score", min_value=0.0, max_value=1.0, format="%.2f", color="blue"),
        "decided_by": st.column_config.TextColumn("decided by"),
        "duration": st.column_config.NumberColumn("duration (s)", format="%.1f"),
        "analysed_utc": st.column_config.TextColumn("analysed (UTC)"),
        "error": st.column_config.TextColumn("why it could not be analysed"),
    })
    st.download_button("Export these rows (CSV)", lambda: export_csv(shown), "scan.csv", "text/csv", key="scan:export",
                       help="Every column of the scan but the stored reports: each layer's score and features, the "
                            "artifact finding, timings, versions.")
    _open_row(folder, ok)


def _profile_thresholds(folder: Path, ok) -> Thresholds | None:
    """The thresholds of the rows' profile (read from one stored report), for the chart's band."""
    if not len(ok) or ok["profile"].nunique() != 1:
        return None
    first = ok.iloc[0]
    try:
        text = read_report(folder, first["path"], first["sha256"], first["profile"])
        return made_with(DetectionReport.from_json(text)) if text else None
    except (DetectorError, ValueError):
        return None


def _open_row(folder: Path, ok) -> None:
    if not len(ok):
        return
    choices = list(ok.index[:MAX_OPEN_CHOICES])
    picked = st.selectbox("Open a row as a full analysis", [None, *choices], key="scan:open",
                          format_func=lambda i: "—" if i is None else
                          f"{os.path.basename(ok.at[i, 'path'])} · {ok.at[i, 'score']:.2f} "
                          f"{CALL_WORDS.get(ok.at[i, 'call'], ok.at[i, 'call'])} · {ok.at[i, 'path']}",
                          help=f"The first {MAX_OPEN_CHOICES} rows of the filtered table; filter to reach others.")
    if picked is None:
        return
    row = ok.loc[picked]
    try:
        text = read_report(folder, row["path"], row["sha256"], row["profile"])
        report = DetectionReport.from_json(text) if text else None
    except (DetectorError, ValueError) as exc:
        st.error(f"This row's stored report can't be read: {exc}")
        return
    if report is None:
        st.error("This row's stored report is not in the scan's files any more (was a part removed?).")
        return
    used = thresholds_of(report)
    st.subheader(f"{md_text(report.source_name)}")
    st.caption(f"As scanned on {str(row['analysed_utc']).replace('T', ' ')[:16]} UTC with profile "
               f"**{md_text(str(row['profile_name'] or row['profile']))}**: the scan's stored report, drawn with its "
               "own thresholds.")
    track = _reachable_track(row["path"], report.sha256)
    label_control(report.sha256, report.source_name, key=f"scan:label:{report.sha256[:12]}")
    render_report(report, used, track, key="scan-report")


def _reachable_track(path: str, sha256: str):
    """The track's features (for its waveform and spectrogram) when its file is reachable and unchanged."""
    try:
        where = file_inside(data_root(), path) if is_shared() else Path(path)
        limit = int(st.get_option("server.maxUploadSize")) * 1024 * 1024
        if where.stat().st_size > limit:
            st.caption("The file is larger than this server's upload limit, so its waveform is not drawn.")
            return None
        data = where.read_bytes()
    except (PathRefused, OSError) as exc:
        st.caption(f"The file is not reachable from this server ({exc}), so the waveform and spectrogram are not "
                   "drawn; everything else is the scan's stored report.")
        return None
    try:
        track = load_track(data, os.path.basename(path))
    except AudioError as exc:
        st.warning(f"The file can't be decoded any more: {exc}")
        return None
    if track.sha256 != sha256:
        st.warning("The file has changed since the scan (its SHA-256 differs), so its waveform is not drawn; the "
                   "report is the scan's.")
        return None
    return track
