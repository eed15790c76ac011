"""Plotly figures for the dashboard, built from detector results (no Streamlit here).

Colours carry one meaning everywhere: red pushes towards "AI", green towards
"human", grey is neutral.

No figure forces a template, so ``st.plotly_chart``'s default Streamlit theme draws
them to match the light or the dark theme; fixed colours are ones that read on both
backgrounds (mid grey, not white, for reference lines). Two traps of that theme:
it replaces the placeholder colours ``#000001``-``#000040`` anywhere in a figure with
its own palette, and its plotly.js warns once per bar about a numeric ``marker.color``,
so colour scales avoid those values and bars get colour strings.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale, sequential
from plotly.subplots import make_subplots

from .features.spectral import SpectralFrames
from .layers.heuristics import Thresholds
from .report import DetectionReport, Segment, Stability
from .report.tables import feature_label
from .types import ArtifactFinding, Contribution, LayerResult

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd  # imported where used: over 0.3 s, which the dashboard's first page has no use for

BAND_COLOURS = {"strong AI": "#ef553b", "mild AI": "#ffa15a", "neutral": "#8c8c8c", "human": "#00cc96"}
CLASS_COLOURS = {"human": "#00cc96", "ai": "#ef553b", "unlabelled": "#8c8c8c"}
_LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10))
_LINE = "#888888"  # reference lines (the decision threshold): visible on a light and a dark background
_SCORE_SCALE = [[0, BAND_COLOURS["human"]], [0.5, "#cccccc"], [1, BAND_COLOURS["strong AI"]]]
MEL_RANGE_DB = 80.0
"""The spectrogram's colour scale spans this many dB below its loudest value (librosa's ``top_db``)."""
# plotly's Magma starts at "#000004", one of the Streamlit theme's placeholders (it painted the floor red)
_MEL_SCALE = [[i / (len(sequential.Magma) - 1), "#000000" if i == 0 else colour]
              for i, colour in enumerate(sequential.Magma)]


CALL_COLOURS = {"ai": BAND_COLOURS["strong AI"], "human": BAND_COLOURS["human"], "inconclusive": BAND_COLOURS["neutral"]}


def score_gauge(report: DetectionReport, thresholds: Thresholds) -> go.Figure:
    """The deciding score on a 0-1 dial: green below the inconclusive band, grey inside, red above.

    The needle-line marks the decision line; the number says what the score is
    (``P(AI)`` from a trained classifier, else the rules' ``score``).
    """
    low, high = thresholds.band
    fig = go.Figure(go.Indicator(
        mode="gauge+number", value=report.score, number={"valueformat": ".2f", "prefix": f"{report.score_name} "},
        title={"text": f"{report.verdict}<br><sup>decided by the {report.decided_by} layer</sup>"},
        gauge={
            "axis": {"range": [0, 1], "tickvals": [0, low, thresholds.decision, high, 1],
                     "ticktext": ["0", f"{low:.2f}", "", f"{high:.2f}", "1"]},
            "bar": {"color": CALL_COLOURS[report.call], "thickness": 0.3},
            "steps": [{"range": [0, max(low, 0)], "color": "rgba(0,204,150,0.18)"},
                      {"range": [max(low, 0), min(high, 1)], "color": "rgba(140,140,140,0.30)"},
                      {"range": [min(high, 1), 1], "color": "rgba(239,85,59,0.18)"}],
            "threshold": {"line": {"color": "#888888", "width": 3}, "value": thresholds.decision},
        },
    ))
    return fig.update_layout(height=270, **{**_LAYOUT, "margin": dict(l=40, r=40, t=70, b=10)})


def fakeprint_chart(finding: ArtifactFinding) -> go.Figure:
    """The fakeprint: the residual above the spectrum's floor against frequency, with the comb.

    The comb's expected positions are dotted lines (red where a peak sits, grey where
    none does); the residual is max-pooled so narrow peaks stay visible.
    """
    fig = go.Figure()
    khz = [f / 1000 for f in finding.chart_hz]
    fig.add_trace(go.Scatter(x=khz, y=list(finding.chart_db), mode="lines", name="residual above the floor",
                             line={"color": "#636efa", "width": 1},
                             hovertemplate="%{x:.3f} kHz: %{y:.1f} dB<extra></extra>"))
    top = max([*finding.chart_db, 6.0]) * 1.08
    colour = BAND_COLOURS["strong AI"] if finding.found else ("#ffa15a" if not finding.harmonic else "#8c8c8c")
    for hit in (True, False):
        xs = [f / 1000 for f, h in zip(finding.positions_hz, finding.hits) if h == hit]
        if not xs:
            continue
        fig.add_trace(go.Scatter(
            x=[v for x in xs for v in (x, x, None)], y=[v for _ in xs for v in (0, top, None)], mode="lines",
            line={"color": colour if hit else "#8c8c8c", "width": 1, "dash": "dot"}, hoverinfo="skip",
            name=f"comb every {finding.spacing_hz:,.0f} Hz: " + ("peak present" if hit else "no peak"),
        ))
        fig.add_trace(go.Scatter(x=xs, y=[top] * len(xs), mode="markers", showlegend=False,
                                 marker={"symbol": "triangle-down", "size": 8, "color": colour if hit else "#8c8c8c"},
                                 hovertemplate="expected at %{x:.3f} kHz<extra></extra>"))
    title = ("Decoder fingerprint: evenly spaced narrow peaks" if finding.found
             else "Fakeprint: no regular comb of narrow peaks" if not finding.positions_hz
             else "Fakeprint: a note's harmonics, not a decoder" if finding.harmonic
             else "Fakeprint: the most regular comb is too weak to count")
    fig.update_layout(title=title, height=330, xaxis_title="frequency (kHz)", yaxis_title="dB above the floor",
                      yaxis_range=[0, top * 1.05], legend={"orientation": "h", "y": -0.3}, **_LAYOUT)
    return fig


def contributions_chart(layer: LayerResult) -> go.Figure:
    """A waterfall: the base, each rule's step and any clipping add up to the layer's score."""
    names = ["base"] + [feature_label(c.feature) for c in layer.contributions] + (["clipped"] if layer.clip_adjustment else [])
    deltas = [layer.base] + [c.delta for c in layer.contributions] + ([layer.clip_adjustment] if layer.clip_adjustment else [])
    fig = go.Figure(go.Waterfall(
        x=names + ["score"], y=deltas + [0], measure=["absolute"] + ["relative"] * (len(deltas) - 1) + ["total"],
        text=[f"{layer.base:.2f}"] + [f"{d:+.2f}" for d in deltas[1:]] + [f"{layer.score:.2f}"], textposition="outside",
        increasing={"marker": {"color": BAND_COLOURS["strong AI"]}},
        decreasing={"marker": {"color": BAND_COLOURS["human"]}},
        totals={"marker": {"color": "#636efa"}},
    ))
    return fig.update_layout(title=f"How the {layer.name} score adds up (red: towards AI, green: towards human)",
                             height=330, yaxis_range=[0, 1.05], showlegend=False, **_LAYOUT)


def _axis(points: Sequence[float]) -> tuple[float, float, bool]:
    """An x range that shows every point with some margin; log when the points span decades."""
    lo, hi = min(points), max(points)
    if lo > 0 and hi / lo > 30:
        return math.log10(lo) - 0.2, math.log10(hi) + 0.2, True
    pad = (hi - lo) * 0.15 or abs(hi) * 0.15 or 1.0
    return lo - pad, hi + pad, False


def feature_bands(contributions: Sequence[Contribution], thresholds: Thresholds,
                  others: Mapping[str, Sequence[float]] | None = None) -> go.Figure:
    """Each feature's value against its rule's bands, one row per feature.

    ``others`` optionally adds, per feature, more values (e.g. other tracks) as small ticks.
    """
    n = len(contributions)
    fig = make_subplots(rows=n, cols=1, vertical_spacing=0.6 / max(n, 1),
                        subplot_titles=[f"{feature_label(c.feature)} = {c.value:.4g} → {c.band} ({c.delta:+.2f})"
                                        for c in contributions])
    for row, c in enumerate(contributions, start=1):
        rule = thresholds.rule(c.feature)
        edges = [b for lo, hi, _ in rule.bands() for b in (lo, hi) if math.isfinite(b)]
        extra = list((others or {}).get(c.feature, ()))
        x0, x1, log = _axis(edges + [c.value] + extra)
        to_axis = (lambda v: math.log10(v) if v > 0 else x0) if log else (lambda v: v)
        for lo, hi, band in rule.bands():
            a = x0 if not math.isfinite(lo) else max(to_axis(lo), x0)
            b = x1 if not math.isfinite(hi) else min(to_axis(hi), x1)
            if a < b:
                fig.add_vrect(x0=10 ** a if log else a, x1=10 ** b if log else b, fillcolor=BAND_COLOURS[band],
                              opacity=0.35, line_width=0, layer="below", row=row, col=1,
                              exclude_empty_subplots=False)
        if extra:
            fig.add_trace(go.Scatter(x=extra, y=[0] * len(extra), mode="markers", showlegend=False,
                                     marker={"symbol": "line-ns-open", "size": 14, "color": "#bbbbbb"},
                                     hoverinfo="x"), row=row, col=1)
        fig.add_trace(go.Scatter(x=[c.value], y=[0], mode="markers", showlegend=False, name=feature_label(c.feature),
                                 marker={"symbol": "diamond", "size": 16, "color": "white",
                                         "line": {"color": "black", "width": 1}}), row=row, col=1)
        fig.update_xaxes(type="log" if log else "linear", range=[x0, x1], row=row, col=1)
        fig.update_yaxes(visible=False, range=[-1, 1], row=row, col=1)
    return fig.update_layout(height=95 * n + 40, **_LAYOUT)


def _reduce(values: np.ndarray, bins: int, how) -> np.ndarray:
    """Reduce the last axis to at most ``bins`` columns with ``how`` (e.g. np.max) per block."""
    size = values.shape[-1]
    step = max(1, math.ceil(size / bins))
    pad = -size % step
    if pad:
        values = np.concatenate([values, np.repeat(values[..., -1:], pad, axis=-1)], axis=-1)
    return how(values.reshape(*values.shape[:-1], -1, step), axis=-1)


def _band(fig: go.Figure, thresholds: Thresholds, **where) -> None:
    """Shade the inconclusive band and draw the decision line (dashed) on a 0-1 score axis."""
    low, high = thresholds.band
    if high > low:
        fig.add_hrect(y0=low, y1=high, fillcolor=BAND_COLOURS["neutral"], opacity=0.22, line_width=0, **where)
    fig.add_hline(y=thresholds.decision, line_dash="dash", line_color=_LINE, **where)


def track_overview(frames: SpectralFrames, segments: Sequence[Segment], thresholds: Thresholds,
                   max_columns: int = 900) -> go.Figure:
    """Waveform, mel spectrogram and per-segment scores on one shared time axis."""
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.04, row_heights=[0.22, 0.43, 0.35],
                        subplot_titles=["Waveform", "Mel spectrogram (dB)", "Score per segment"])
    if frames.envelope is not None:
        lo = _reduce(frames.envelope[0], 2 * max_columns, np.min)
        hi = _reduce(frames.envelope[1], 2 * max_columns, np.max)
        step = frames.hop * math.ceil(frames.envelope.shape[1] / (2 * max_columns)) / frames.sample_rate
        t = (np.arange(lo.size) + 0.5) * step
        fig.add_trace(go.Scatter(x=t, y=hi, mode="lines", line={"width": 0.5, "color": "#636efa"},
                                 showlegend=False, hoverinfo="skip"), row=1, col=1)
        fig.add_trace(go.Scatter(x=t, y=lo, mode="lines", fill="tonexty", line={"width": 0.5, "color": "#636efa"},
                                 showlegend=False, hoverinfo="skip"), row=1, col=1)
    mel = _reduce(frames.mel_db, max_columns, np.mean)
    step = frames.hop * math.ceil(frames.n_frames / max_columns) / frames.sample_rate
    finite = mel[np.isfinite(mel)]
    top = float(finite.max()) if finite.size else 0.0
    low, high = fig.layout.yaxis2.domain
    fig.add_trace(go.Heatmap(z=mel, x=np.arange(mel.shape[1]) * step, colorscale=_MEL_SCALE,
                             zmin=top - MEL_RANGE_DB, zmax=top,
                             colorbar={"title": {"text": "dB"}, "y": (low + high) / 2, "len": high - low,
                                       "thickness": 12},
                             hovertemplate="%{x:.1f} s, mel band %{y}: %{z:.0f} dB<extra></extra>"), row=2, col=1)
    if segments:
        starts = np.array([s.start for s in segments])
        ends = np.array([s.end for s in segments])
        scores = np.array([s.score for s in segments])
        fig.add_trace(go.Bar(x=(starts + ends) / 2, y=scores, width=(ends - starts) * 0.95, showlegend=False,
                             marker={"color": sample_colorscale(_SCORE_SCALE, np.clip(scores, 0, 1).tolist())},
                             customdata=np.stack([starts, ends], axis=1),
                             hovertemplate="%{customdata[0]:.1f}-%{customdata[1]:.1f} s: %{y:.2f}<extra></extra>"),
                      row=3, col=1)
        layer_names = sorted({name for s in segments for name in getattr(s, "layer_scores", {})})
        if len(layer_names) > 1:
            for name in layer_names:
                fig.add_trace(go.Scatter(x=(starts + ends) / 2, y=[s.layer_scores.get(name) for s in segments],
                                         mode="lines+markers", name=f"{name} layer"), row=3, col=1)
        _band(fig, thresholds, row=3, col=1)
    fig.update_yaxes(range=[0, 1], title_text="score", row=3, col=1)
    fig.update_yaxes(showticklabels=False, row=1, col=1)
    fig.update_xaxes(title_text="time (s)", row=3, col=1)
    return fig.update_layout(height=560, **_LAYOUT)


def compare_segments(reports: Sequence[DetectionReport], thresholds: Sequence[Thresholds]) -> go.Figure:
    """Per-segment scores of several reports on one time axis, each report's decision line and band with it.

    ``thresholds[i]`` is what ``reports[i]`` was scored with; lines and bands that several
    reports share are drawn once.
    """
    fig = go.Figure()
    for i, report in enumerate(reports, start=1):
        fig.add_trace(go.Scatter(x=[(s.start + s.end) / 2 for s in report.segments], y=[s.score for s in report.segments],
                                 mode="lines+markers", line_shape="hvh", name=f"{i}. {report.source_name}"))
    drawn = set()
    for t in thresholds:
        if (t.decision, t.band) not in drawn:
            drawn.add((t.decision, t.band))
            _band(fig, t)
    return fig.update_layout(title="Score per segment", xaxis_title="time (s)", yaxis_range=[0, 1], height=320,
                             **_LAYOUT)


def class_distributions(table: pd.DataFrame, features: Sequence[str], thresholds: Thresholds) -> go.Figure:
    """Per-class strip plots of each feature, with the rule's thresholds drawn on them."""
    features = [f for f in features if f in table.columns]
    fig = make_subplots(rows=len(features), cols=1, vertical_spacing=0.5 / max(len(features), 1),
                        subplot_titles=[feature_label(f) for f in features])
    for row, feature in enumerate(features, start=1):
        for cls, part in table.groupby("label"):
            fig.add_trace(go.Box(x=part[feature], name=cls, boxpoints="all", jitter=0.4, pointpos=0,
                                 marker_color=CLASS_COLOURS.get(cls, "#8c8c8c"), fillcolor="rgba(0,0,0,0)",
                                 line={"width": 1}, text=part["track"], showlegend=row == 1, legendgroup=cls,
                                 orientation="h"), row=row, col=1)
        rule = thresholds.rule(feature)
        for lo, hi, band in rule.bands():
            for edge in (lo, hi):
                if math.isfinite(edge):
                    fig.add_vline(x=edge, line_dash="dot", line_color=BAND_COLOURS[band], row=row, col=1)
    return fig.update_layout(height=170 * len(features) + 40, **_LAYOUT)


def scan_scores(scores: Sequence[float], calls: Sequence[str], thresholds: Thresholds | None,
                bins: int = 40) -> go.Figure:
    """A scan's score distribution: a histogram stacked by call, with the profile's band and decision line.

    ``thresholds`` is the profile the scores were made with (None where rows of several profiles are mixed:
    then no line is drawn).
    """
    fig = go.Figure()
    scores, calls = np.asarray(scores, float), np.asarray(calls, object)
    for call in ("human", "inconclusive", "ai"):
        picked = scores[calls == call]
        if not picked.size:  # an empty histogram trace makes plotly.js warn about its bins' calendar
            continue
        fig.add_trace(go.Histogram(x=picked, name=f"{call} ({picked.size})", marker_color=CALL_COLOURS[call],
                                   xbins=dict(start=0.0, end=1.0, size=1.0 / bins),
                                   hovertemplate="score %{x}<br>%{y} tracks<extra>" + call + "</extra>"))
    if thresholds is not None:
        low, high = thresholds.band
        if high > low:
            fig.add_vrect(x0=low, x1=high, fillcolor=BAND_COLOURS["neutral"], opacity=0.18, line_width=0)
        fig.add_vline(x=thresholds.decision, line_dash="dash", line_color=_LINE)
    fig.update_layout(barmode="stack", title="Score distribution", xaxis_title="score (0 human-like … 1 AI-like)",
                      yaxis_title="tracks", height=300, legend=dict(orientation="h", y=-0.3), **_LAYOUT)
    fig.update_xaxes(range=[0, 1])
    return fig


def roc_figure(fpr: np.ndarray, tpr: np.ndarray, auc: float) -> go.Figure:
    fig = go.Figure(go.Scatter(x=fpr, y=tpr, mode="lines+markers", name=f"AUC {auc:.3f}", line_shape="hv"))
    fig.add_shape(type="line", x0=0, y0=0, x1=1, y1=1, line={"dash": "dash", "color": "#888"})
    return fig.update_layout(title=f"ROC curve (AUC {auc:.3f})", xaxis_title="false positive rate (human called AI)",
                             yaxis_title="true positive rate (AI caught)", height=360, **_LAYOUT)


def confusion_figure(matrix: np.ndarray, labels: Sequence[str] = ("human", "ai")) -> go.Figure:
    fig = go.Figure(go.Heatmap(z=matrix, x=[f"predicted {x}" for x in labels], y=[f"true {x}" for x in labels],
                               text=matrix, texttemplate="%{text}", colorscale="Blues", showscale=False))
    return fig.update_layout(title="Confusion matrix", height=360, yaxis_autorange="reversed", **_LAYOUT)


def calibration_figure(prob_pred: Sequence[float], prob_true: Sequence[float], *,
                       title: str = "Calibration (out-of-fold)") -> go.Figure:
    """Reliability diagram: mean predicted P(AI) per bin against the observed share of AI tracks.

    ``title`` names where the predictions come from ("Calibration (held-out)" for a
    held-out split).
    """
    fig = go.Figure(go.Scatter(x=list(prob_pred), y=list(prob_true), mode="lines+markers", name="model"))
    fig.add_shape(type="line", x0=0, y0=0, x1=1, y1=1, line={"dash": "dash", "color": "#888"})
    return fig.update_layout(title=title, xaxis_title="predicted P(AI)",
                             yaxis_title="observed share of AI tracks", xaxis_range=[0, 1], yaxis_range=[0, 1],
                             height=360, **_LAYOUT)


def score_changes(names: Sequence[str], before: Sequence[float], after: Sequence[float], decision: float,
                  band: tuple[float, float] | None = None) -> go.Figure:
    """Each track's score before and after a change of thresholds, as a dumbbell chart.

    ``band`` (``Thresholds.band``) shades the inconclusive band around the decision line.
    """
    fig = go.Figure()
    if band is not None and band[1] > band[0]:
        fig.add_vrect(x0=band[0], x1=band[1], fillcolor=BAND_COLOURS["neutral"], opacity=0.25, line_width=0,
                      layer="below", annotation_text="inconclusive", annotation_position="top left")
    for name, b, a in zip(names, before, after):
        fig.add_trace(go.Scatter(x=[b, a], y=[name, name], mode="lines", line={"color": "#888"}, showlegend=False,
                                 hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=list(before), y=list(names), mode="markers", name="before",
                             marker={"color": "#8c8c8c", "size": 10}))
    fig.add_trace(go.Scatter(x=list(after), y=list(names), mode="markers", name="after",
                             marker={"color": "#636efa", "size": 12, "symbol": "diamond"}))
    fig.add_vline(x=decision, line_dash="dash", line_color=_LINE)
    return fig.update_layout(title="Score before → after", xaxis_range=[0, 1], height=80 + 32 * len(names), **_LAYOUT)


_LAYER_SYMBOLS = {"spectral": "circle-open", "clap": "square-open", "artifacts": "diamond-open",
                  "classifier": "star-open"}


def stability_chart(stability: Stability) -> go.Figure:
    """A dot plot: the deciding score (filled, coloured by its call) and every layer's score (open symbols, the
    deciding layer's around the dot) of the original and of each perturbed copy, with the decision line and the
    inconclusive band it was judged with. Perturbations that did not run are listed, without dots."""
    rows = [("<b>as analysed</b>", stability.score, stability.call, stability.decided_by, stability.layers)]
    rows += [(p.description + ("" if p.ran else " (did not run)"), p.score, p.call, p.decided_by, p.layers)
             for p in stability.perturbations]
    labels = [row[0] for row in rows]
    fig = go.Figure()
    low, high = stability.band
    if high > low:
        fig.add_vrect(x0=low, x1=high, fillcolor=BAND_COLOURS["neutral"], opacity=0.22, line_width=0, layer="below")
    fig.add_vline(x=stability.decision, line_dash="dash", line_color=_LINE)
    fig.add_trace(go.Scatter(x=[stability.decision] * len(labels), y=labels, mode="markers", showlegend=False,
                             marker={"opacity": 0}, hoverinfo="skip"))  # every row, those without dots included
    for call in ("human", "inconclusive", "ai"):
        mine = [row for row in rows if row[1] is not None and row[2] == call]
        if mine:
            fig.add_trace(go.Scatter(
                x=[row[1] for row in mine], y=[row[0] for row in mine], mode="markers", name=f"verdict: {call}",
                marker={"size": 13, "color": CALL_COLOURS[call], "line": {"width": 0}},
                customdata=[row[3] for row in mine],
                hovertemplate=f"%{{y}}: %{{x:.2f}}, {call} (decided by the %{{customdata}} layer)<extra></extra>"))
    order = list(_LAYER_SYMBOLS)
    for name in sorted({n for row in rows for n in row[4]}, key=lambda n: order.index(n) if n in order else len(order)):
        shown = [(row[0], row[4][name]) for row in rows if name in row[4]]
        fig.add_trace(go.Scatter(
            x=[v for _, v in shown], y=[label for label, _ in shown], mode="markers", name=f"{name} layer",
            marker={"symbol": _LAYER_SYMBOLS.get(name, "circle-open"), "size": 17 if name == stability.decided_by
                    else 9, "color": BAND_COLOURS["neutral"], "line": {"width": 1.5}},
            hovertemplate=f"%{{y}}: {name} layer %{{x:.2f}}<extra></extra>"))
    fig.update_yaxes(categoryorder="array", categoryarray=labels[::-1], type="category")
    return fig.update_layout(
        title=f"{stability.title}: the deciding score under each change (spread {stability.spread:.2f})",
        xaxis={"range": [0, 1], "title": "score (dashed: decision line; shaded: inconclusive band)"},
        height=110 + 24 * len(rows), legend={"orientation": "h", "y": -0.12 - 2.5 / (len(rows) + 4)}, **_LAYOUT)


__all__ = [
    "BAND_COLOURS", "CALL_COLOURS", "CLASS_COLOURS", "calibration_figure", "class_distributions", "compare_segments", "confusion_figure",
    "contributions_chart", "fakeprint_chart", "feature_bands", "roc_figure", "scan_scores", "score_changes", "score_gauge",
    "drivers_chart", "stability_chart", "track_overview",
]


def drivers_chart(drivers: Sequence[tuple[str, float]], *, std: Sequence[float] | None = None,
                  values: Mapping[str, float] | None = None) -> go.Figure:
    """What drove a trained model: each input's permutation importance, largest on top.

    Parameters
    ----------
    drivers
        ``(feature, importance)`` pairs, largest first, as :attr:`LayerResult.drivers`
        carries them; the importance is the accuracy drop (0-1) when the feature is
        shuffled, drawn in percentage points.
    std
        Optional spread of each importance over the shuffles, drawn as error bars.
    values
        Optional values of the features for one track (the classifier layer's
        ``features``), shown on hover.
    """
    names = [name for name, _ in drivers][::-1]
    drops = [100 * value for _, value in drivers][::-1]
    hover = [f"{name}: accuracy drops {drop:.1f} points when shuffled"
             + (f"<br>this track: {values[name]:.4g}" if values and name in values else "")
             for name, drop in zip(names, drops)]
    fig = go.Figure(go.Bar(
        x=drops, y=names, orientation="h", marker={"color": "#636efa"}, hovertext=hover, hoverinfo="text",
        error_x={"type": "data", "array": [100 * s for s in std][::-1], "visible": True} if std is not None else None,
    ))
    return fig.update_layout(title="What the model relies on (permutation importance)",
                             xaxis_title="accuracy drop when shuffled (percentage points)",
                             height=120 + 26 * len(names), showlegend=False, margin=dict(l=10, r=10, t=40, b=10))
