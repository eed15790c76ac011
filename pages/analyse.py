"""Analyse one track: score, verdict, why, where in the track, and (on demand) how the verdict holds up."""

import streamlit as st

from detector import AudioError, score
from pages._shared import (AUDIO_TYPES, active_model, audio_error, known_stability, label_control, load_track,
                           read_upload, remember, render_report, thresholds)
from pages._serving import page_access

page_access()  # only for a session that may use the pages (the sign-in gate)

st.title("Is this track machine-made?")
st.caption("Upload a track (WAV, FLAC, OGG/Vorbis, Opus or MP3, 1 s to 20 min, up to 256 MB). "
           "It is analysed on this server and never sent anywhere else.")

upload = st.file_uploader("Track", type=AUDIO_TYPES)
if upload is None:
    st.info("Drop a track above to see its score and the evidence behind it.")
    st.stop()

data = read_upload(upload)
if data is None:
    st.stop()
try:
    track = load_track(data, upload.name)
except AudioError as exc:
    audio_error(upload.name, exc)
    st.stop()
st.audio(data)  # only once it decoded: a file that didn't would show a dead 0:00 player

active = thresholds()
report = known_stability(score(track, active, model=active_model()))
if (row_id := remember(report, track)) is not None:
    st.caption(f"Kept in the history as analysis {row_id}; its link: [history?a={row_id}](history?a={row_id})")
label_control(report.sha256, report.source_name, key=f"analyse:label:{report.sha256}")
render_report(report, active, track, audio=data)
