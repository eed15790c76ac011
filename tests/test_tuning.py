"""Evaluating a threshold profile on labelled tracks, and the figures built from results."""

import numpy as np
import pytest
from conftest import encode, noise, tone

from detector import Thresholds, extract, plots
from detector.analysis.tuning import evaluate, rescore, slider_range
from detector.report.tables import feature_table


def test_evaluate_known_answers():
    result = evaluate([0.2, 0.4, 0.6, 0.9], ["human", "ai", "ai", "ai"], decision=0.5)
    assert result.class_counts == {"human": 1, "ai": 3}
    assert result.accuracy == pytest.approx(0.75)
    assert result.confusion_matrix == [[1, 0], [1, 2]]  # rows true human/ai, columns predicted
    assert result.roc_auc == pytest.approx(1.0)  # every AI track scores above every human one
    assert result.roc_fpr[0] == 0 and result.roc_tpr[-1] == 1 and result.threshold == 0.5


def test_evaluate_one_class_has_no_roc_and_bad_labels_are_refused():
    result = evaluate([0.7, 0.8], ["ai", "ai"], 0.5)
    assert result.accuracy == 1.0 and result.roc_auc is None and result.roc_fpr is None
    with pytest.raises(ValueError, match="'robot'"):
        evaluate([0.5], ["robot"], 0.5)
    with pytest.raises(ValueError, match="No labelled"):
        evaluate([], [], 0.5)


def test_slider_ranges_hold_the_profile():
    assert slider_range("flatness_mean", Thresholds()) == (0.0, 1.0, 0.005)
    wide = Thresholds().with_rule("mfcc_variance", ai_threshold=15000.0, human_threshold=30000.0)
    lo, hi, _ = slider_range("mfcc_variance", wide)
    assert lo <= 15000 and hi >= 30000
    neg = Thresholds().with_rule("kurtosis", human_threshold=-5.0)
    assert slider_range("kurtosis", neg)[0] <= -5.0


def test_rescore_moves_scores_and_figures_build():
    tracks = [extract(encode(tone(330.0, 4.0)), name="tone.wav"),
              extract(encode(noise(4.0)), name="noise.wav")]
    default = rescore(tracks, Thresholds())
    # Raise the "AI" threshold of contrast std past both tracks' values: both scores rise by its step.
    values = [r.layers["spectral"].features["contrast_std"] for r in default]
    shifted = Thresholds().with_rule("contrast_std", ai_threshold=max(values) + 1, human_threshold=max(values) + 2)
    moved = rescore(tracks, shifted)
    for d, m in zip(default, moved):
        before, after = d.layers["spectral"].score, m.layers["spectral"].score
        assert after > before or after == Thresholds().ceiling
    table = feature_table(moved, ["human", None])
    assert list(table["label"]) == ["human", "unlabelled"] and "mfcc_variance" in table
    table["label"] = ["human", "ai"]
    figs = [plots.score_gauge(moved[0], 0.5), plots.contributions_chart(moved[0].layers["spectral"]),
            plots.feature_bands(moved[0].layers["spectral"].contributions, shifted, {"mfcc_variance": values}),
            plots.track_overview(tracks[0].frames, moved[0].segments, 0.5),
            plots.class_distributions(table, ["mfcc_variance", "flatness_mean"], shifted),
            plots.score_changes(["a", "b"], [0.4, 0.5], [0.6, 0.5], 0.5),
            plots.confusion_figure(np.array([[1, 0], [0, 1]]))]
    for fig in figs:
        assert fig.to_dict()["data"]
    assert len(figs[2].to_dict()["layout"]["shapes"]) >= 4 * 3  # every rule's bands are drawn
    overview = figs[3].to_dict()["data"]
    assert any(trace["type"] == "heatmap" for trace in overview)
