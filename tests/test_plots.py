"""The dashboard's figures: a fixed dB scale for the spectrogram, colours that suit both themes."""

from __future__ import annotations

import json
import re

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest
from conftest import encode, noise, tone
from plotly.utils import PlotlyJSONEncoder

from detector import Thresholds, extract, plots, score
from detector.features.spectral import SAMPLE_RATE, spectral_frames
from detector.report import PerturbedResult
from detector.report.stability import summarise

# Colours Streamlit's chart theme replaces anywhere in a figure's JSON with its own palette.
STREAMLIT_PLACEHOLDER = re.compile(r'"#0000(?:0[1-9]|[1-3][0-9]|40)"', re.IGNORECASE)


def test_mel_spectrogram_floor_sits_at_the_cold_end_of_a_fixed_80_db_scale():
    silence, sound = 3.0, 5.0
    y = np.concatenate([np.zeros(int(silence * SAMPLE_RATE), np.float32), tone(440.0, sound, SAMPLE_RATE)])
    frames = spectral_frames(y, SAMPLE_RATE)
    fig = plots.track_overview(frames, [], Thresholds())
    (heatmap,) = [t for t in fig.data if t.type == "heatmap"]
    assert heatmap.zmax == pytest.approx(float(frames.mel_db.max()))
    assert heatmap.zmin == pytest.approx(heatmap.zmax - plots.MEL_RANGE_DB)
    z = np.asarray(heatmap.z)
    quiet = z[:, np.asarray(heatmap.x) < silence - 0.5]  # well inside the silent intro
    assert quiet.size and np.all(quiet <= heatmap.zmin + 1e-3)  # the floor: the scale's cold end
    assert np.all(z[:, np.asarray(heatmap.x) > silence + 0.5].max(axis=0) > heatmap.zmin + 40)  # the tone's band
    cold_end = heatmap.colorscale[0][1]
    assert cold_end == "#000000" and not STREAMLIT_PLACEHOLDER.search(json.dumps(cold_end))
    assert heatmap.colorbar.title.text == "dB" and "dB" in heatmap.hovertemplate
    assert heatmap.showscale is not False


@pytest.fixture(scope="module")
def figures_under_a_probe_template():
    """Every figure of detector.plots, built while a recognisable template is plotly's default."""
    pio.templates["probe"] = go.layout.Template(layout={"paper_bgcolor": "#123456"})
    default = pio.templates.default
    pio.templates.default = "probe"
    try:
        song = np.concatenate([np.zeros(44100, np.float32), tone(330.0, 12.0) + noise(12.0, amp=0.05)])
        track = extract(encode(song), name="song.wav")
        other = extract(encode(noise(12.0)), name="noise.wav")
        reports = [score(track, Thresholds()), score(other, Thresholds())]
        spectral = reports[0].layers["spectral"]
        figures = {
            "score_gauge": plots.score_gauge(reports[0], Thresholds()),
            "contributions_chart": plots.contributions_chart(spectral),
            "feature_bands": plots.feature_bands(spectral.contributions, Thresholds()),
            "track_overview": plots.track_overview(track.frames, reports[0].segments, Thresholds()),
            "compare_segments": plots.compare_segments(reports, [Thresholds()] * len(reports)),
            "score_changes": plots.score_changes(["a", "b"], [0.4, 0.5], [0.6, 0.5], 0.5),
            "roc_figure": plots.roc_figure(np.array([0, 0.5, 1]), np.array([0, 1, 1]), 0.75),
            "calibration_figure": plots.calibration_figure([0.2, 0.8], [0.1, 0.9]),
            "confusion_figure": plots.confusion_figure(np.array([[1, 0], [0, 1]])),
            "stability_chart": plots.stability_chart(summarise(
                0.42, "human", "spectral", {"spectral": 0.42, "artifacts": 0.25},
                [PerturbedResult("mp3-64", "MP3 at 64 kbps", 0.6, "ai", "spectral", {"spectral": 0.6}),
                 PerturbedResult("excerpt-end", "30 s excerpt from the end", skipped="too short")], Thresholds())),
        }
        if reports[0].artifacts is not None:
            figures["fakeprint_chart"] = plots.fakeprint_chart(reports[0].artifacts)
        assert len(reports[0].segments) >= 2
        return figures
    finally:
        pio.templates.default = default
        del pio.templates["probe"]


def test_no_figure_forces_a_theme(figures_under_a_probe_template):
    # st.plotly_chart's Streamlit theme follows light/dark only where a figure leaves plotly's default template.
    for name, fig in figures_under_a_probe_template.items():
        assert fig.layout.template.layout.paper_bgcolor == "#123456", f"{name} forces its own template"


def test_reference_lines_read_on_light_and_dark_backgrounds(figures_under_a_probe_template):
    for name, fig in figures_under_a_probe_template.items():
        for shape in fig.layout.shapes:
            colour = str(shape.line.color or "").lower()
            assert colour not in {"white", "#fff", "#ffffff", "black", "#000", "#000000"}, f"{name}: {colour}"


def test_no_colour_a_browser_or_the_streamlit_theme_would_misread(figures_under_a_probe_template):
    for name, fig in figures_under_a_probe_template.items():
        spec = json.dumps(fig.to_plotly_json(), cls=PlotlyJSONEncoder)
        assert not STREAMLIT_PLACEHOLDER.search(spec), f"{name} holds a colour Streamlit's theme replaces"
        for trace in fig.data:
            # plotly.js 3 warns "Invalid color specifier: number 0.44" for every bar given a number as its colour
            colours = getattr(getattr(trace, "marker", None), "color", None)
            if colours is not None and not isinstance(colours, str):
                assert all(isinstance(c, str) for c in colours), f"{name}: numeric marker colours on a {trace.type}"
    bars = [t for t in figures_under_a_probe_template["track_overview"].data if t.type == "bar"]
    assert bars and len(bars[0].marker.color) == len(bars[0].y)  # one colour per segment, still green to red
