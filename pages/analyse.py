"""Analyse one track: score, verdict, why, and where in the track."""

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from detector import AudioError, Thresholds, extract, score
from detector.audio import sha256_of

st.title("Is this track machine-made?")
st.caption("Upload a track (WAV, FLAC, OGG/Vorbis, Opus or MP3, 1 s to 20 min). Nothing leaves this server.")


@st.cache_data(max_entries=32, show_spinner=False)
def _features(sha: str, _data: bytes, name: str):
    """Decode + features once per audio hash (``_data`` is not hashed again); rescoring reuses them."""
    return extract(_data, name=name)


upload = st.file_uploader("Track", type=["wav", "flac", "ogg", "opus", "mp3"])
if upload is None:
    st.info("Drop a track above to see its score and the evidence behind it.")
    st.stop()

data = upload.getvalue()
st.audio(data)
try:
    with st.spinner("Decoding and computing spectral features…"):
        track = _features(sha256_of(data), data, upload.name)
except AudioError as exc:
    st.error(f"**{upload.name}** could not be analysed. {exc}")
    st.stop()

thresholds = Thresholds()
report = score(track, thresholds)
for warning in report.warnings:
    st.warning(warning)

left, right = st.columns([1, 2])
with left:
    st.metric("AI-likeness score", f"{report.score:.2f}", help="0.1 = clearly human … 0.95 = clearly machine-made")
    st.subheader(report.verdict)
    st.caption(f"Decided by the **{report.decided_by}** layer · {report.duration:.1f} s · {report.format}")
    for skipped in report.skipped:
        st.info(f"**{skipped.name.upper()} layer did not run.** {skipped.reason} {skipped.how_to_enable}")

with right:
    layer = report.layers[report.decided_by]
    labels = ["base"] + [c.feature for c in layer.contributions] + (["clip"] if layer.clip_adjustment else [])
    deltas = [layer.base] + [c.delta for c in layer.contributions] + ([layer.clip_adjustment] if layer.clip_adjustment else [])
    fig = go.Figure(go.Waterfall(x=labels + ["score"], y=deltas + [0],
                                 measure=["absolute"] + ["relative"] * (len(deltas) - 1) + ["total"],
                                 increasing={"marker": {"color": "#ef553b"}},  # towards "AI"
                                 decreasing={"marker": {"color": "#00cc96"}},  # towards "human"
                                 totals={"marker": {"color": "#636efa"}}))
    fig.update_layout(title="How the score adds up (red: towards AI, green: towards human)", height=320,
                      margin=dict(t=40, b=10), yaxis_range=[0, 1])
    st.plotly_chart(fig, width="stretch")

rows = []
for c in layer.contributions:
    rule = thresholds.rule(c.feature)
    rows.append({"feature": c.feature, "value": round(c.value, 4), "AI when": f"{rule.ai_when} {rule.ai_threshold}",
                 "human when": f"{'above' if rule.ai_when == 'below' else 'below'} {rule.human_threshold}",
                 "band": c.band, "delta": c.delta})
st.subheader("Features against their thresholds")
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")

segments = pd.DataFrame([{"start_s": s.start, "end_s": s.end, "score": s.score, **s.features} for s in report.segments])
timeline = go.Figure(go.Bar(x=(segments.start_s + segments.end_s) / 2, y=segments.score,
                            width=segments.end_s - segments.start_s))
timeline.add_hline(y=thresholds.decision, line_dash="dash")
timeline.update_layout(title="Score per segment", xaxis_title="time (s)", yaxis_range=[0, 1], height=280)
st.plotly_chart(timeline, width="stretch")

c1, c2 = st.columns(2)
c1.download_button("Download JSON report", report.to_json(), f"{upload.name}.report.json", "application/json")
c2.download_button("Download segments (CSV)", segments.to_csv(index=False), f"{upload.name}.segments.csv", "text/csv")
