"""Analyse one track: score, verdict, why, and where in the track."""

import streamlit as st

from detector import AudioError, score
from pages._shared import (AUDIO_TYPES, active_model, audio_error, load_track, read_upload, remember, render_report,
                           thresholds)

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
st.audio(data)
try:
    track = load_track(data, upload.name)
except AudioError as exc:
    audio_error(upload.name, exc)
    st.stop()

active = thresholds()
report = score(track, active, model=active_model())
remember(report)
render_report(report, active, track)
