"""Evaluating a threshold profile on labelled tracks, and the figures built from results."""

from dataclasses import replace

import numpy as np
import pytest
from conftest import encode, noise, tone

from detector import Thresholds, extract, plots, score
from detector.analysis import rescore
from detector.analysis.tuning import (DOMAINS, GLOBAL_LABELS, compare_profiles, evaluate, feature_values,
                                      format_number, globals_problem, rule_problem, settle, slider_scale)
from detector.layers.heuristics import ALL_RULES, GLOBALS, Rule
from detector.report.tables import feature_table
from detector.types import LayerResult


def test_evaluate_known_answers():
    result = evaluate([0.2, 0.4, 0.6, 0.9], ["human", "ai", "ai", "ai"], Thresholds(inconclusive=0.0))
    assert result.class_counts == {"human": 1, "ai": 3} and result.inconclusive == {"human": 0, "ai": 0}
    assert result.accuracy == pytest.approx(0.75) and (result.correct, result.decided) == (3, 4)
    assert result.confusion_matrix == [[1, 0], [1, 2]]  # rows true human/ai, columns predicted
    assert result.roc_auc == pytest.approx(1.0)  # every AI track scores above every human one
    assert result.roc_auc_ci == (1.0, 1.0)  # so does every resample
    assert result.roc_fpr[0] == 0 and result.roc_tpr[-1] == 1
    assert result.accuracy_ci == pytest.approx((0.3006, 0.9544), abs=1e-4)  # Wilson, 3 of 4
    assert result.small_sample


def test_evaluate_counts_inconclusive_tracks_apart():
    # The band 0.4-0.6 holds 0.45 (human) and 0.55 (AI): accuracy is over the four decided tracks.
    scores = [0.1, 0.45, 0.7, 0.55, 0.9, 0.3]
    labels = ["human", "human", "human", "ai", "ai", "ai"]
    result = evaluate(scores, labels, Thresholds(decision=0.5, inconclusive=0.2))
    assert result.inconclusive == {"human": 1, "ai": 1}
    assert (result.correct, result.decided) == (2, 4) and result.accuracy == 0.5
    assert result.confusion_matrix == [[1, 1], [1, 1]]
    assert sum(map(sum, result.confusion_matrix)) == result.decided
    everything_inside = evaluate([0.5, 0.5], ["human", "ai"], Thresholds())
    assert everything_inside.accuracy is None and everything_inside.accuracy_ci is None
    assert everything_inside.roc_auc == 0.5


def test_evaluate_one_class_has_no_roc_and_bad_labels_are_refused():
    result = evaluate([0.7, 0.8], ["ai", "ai"], Thresholds())
    assert result.accuracy == 1.0 and result.roc_auc is None and result.roc_fpr is None and result.roc_auc_ci is None
    with pytest.raises(ValueError, match="'robot'"):
        evaluate([0.5], ["robot"], Thresholds())
    with pytest.raises(ValueError, match="No labelled"):
        evaluate([], [], Thresholds())


def test_evaluate_is_not_a_small_sample_with_thirty_of_each_class():
    scores = [0.1] * 30 + [0.9] * 30
    result = evaluate(scores, ["human"] * 30 + ["ai"] * 30, Thresholds())
    assert not result.small_sample and result.accuracy == 1.0
    assert result.accuracy_ci[0] == pytest.approx(60 / (60 + 1.959964 ** 2), abs=1e-6)  # Wilson's lower bound at 100 %


def test_flatness_slider_is_logarithmic_and_reaches_real_values():
    scale = slider_scale("flatness_mean", Thresholds(), [0.0003, 0.0021, 0.012])
    assert scale.log and scale.low <= 0.0003 and scale.high >= 0.2
    stops = scale.stops()
    assert 0.0003 in stops and 0.05 in stops and 0.2 in stops  # the defaults and a real track are stops
    assert format_number(scale.snap(0.0003)) == "0.0003"
    assert scale.snap(0.000305) == 0.0003 and scale.snap(0.000318) == 0.00032  # by ratio
    ratios = [b / a for a, b in zip(stops, stops[1:])]
    assert max(ratios) <= 1.11 and min(ratios) > 1.0  # at most about 10 % apart, all distinct
    assert len({format_number(v) for v in stops}) == len(stops)  # every stop prints differently


def test_mfcc_variance_slider_covers_real_tracks_and_the_defaults():
    scale = slider_scale("mfcc_variance", Thresholds(), [1650.0, 7500.0, 17000.0])
    assert scale.log and scale.low <= 50 and scale.high >= 17000
    stops = scale.stops()
    assert {50.0, 200.0, 1600.0, 17000.0} <= set(stops)
    # Neither default is jammed at an end: each sits well inside the slider.
    for default in (50.0, 200.0):
        assert 0.1 < stops.index(default) / (len(stops) - 1) < 0.9
    assert format_number(17000.0) == "17,000"


def test_slider_scales_hold_the_profile_and_the_data():
    for feature in ALL_RULES:
        rule = Thresholds().rule(feature)
        scale = slider_scale(feature, Thresholds())
        stops = scale.stops()
        assert 20 <= len(stops) <= 400, feature
        for value in (rule.ai_threshold, rule.human_threshold, rule.mild_threshold):
            if value is not None:
                assert stops[0] <= value <= stops[-1], feature
                assert abs(scale.snap(value) - value) <= 0.05 * abs(value) + scale.step, feature
    wide = Thresholds().with_rule("mfcc_variance", ai_threshold=15000.0, human_threshold=30000.0)
    assert slider_scale("mfcc_variance", wide).high >= 30000
    neg = Thresholds().with_rule("kurtosis", human_threshold=-5.0)
    assert slider_scale("kurtosis", neg).low <= -5.0
    assert slider_scale("contrast_std", Thresholds(), [3.0, 55.0]).high >= 55.0  # the data widens a linear one
    zero = Thresholds().with_rule("flatness_mean", ai_threshold=0.0, human_threshold=0.0)
    assert not slider_scale("flatness_mean", zero).log  # 0 has no place on a log scale
    assert set(DOMAINS) == set(ALL_RULES) and set(GLOBAL_LABELS) == set(GLOBALS)


def test_rule_problems_are_in_words():
    crossed = Rule("below", 400.0, 0.08, 200.0, 0.06)
    text = rule_problem("mfcc_variance", crossed)
    assert text.startswith("'strong AI beyond' (400) must not be above 'human beyond' (200) for MFCC variance")
    assert "*below*" in text and "_threshold" not in text and "mfcc_variance" not in text
    mild = Rule("above", 3.0, 0.1, 0.5, 0.08, 4.0, 0.05)
    assert "'mild AI beyond' (4) must not be above 'strong AI beyond' (3)" in rule_problem("kurtosis", mild)
    negative = Rule("above", 3.0, -0.1, 0.5, 0.08)
    assert rule_problem("kurtosis", negative) == "Embedding kurtosis: '+AI' must not be negative (-0.1)."
    assert rule_problem("kurtosis", Thresholds().kurtosis) is None
    floor = globals_problem({**Thresholds().to_dict(), "floor": 0.6, "ceiling": 0.5})
    assert floor.startswith("'Lowest score' (0.6) must be below 'Highest score' (0.5)")
    assert globals_problem(Thresholds().to_dict()) is None


def test_settle_keeps_the_last_valid_settings_of_a_broken_rule_only():
    last = Thresholds()
    pending = Thresholds(base=0.6).with_rule("mfcc_variance", ai_threshold=5000.0).with_rule("std", ai_threshold=0.1)
    active, problems = settle(pending, last)
    assert set(problems) == {"mfcc_variance"}
    assert active.mfcc_variance == last.mfcc_variance  # the crossed rule keeps its last valid settings
    assert active.base == 0.6 and active.std.ai_threshold == 0.1  # the rest applies
    active, problems = settle({**pending.to_dict(), "floor": 0.99}, last)
    assert set(problems) == {"globals", "mfcc_variance"} and active.base == last.base


def test_rescore_moves_scores_and_figures_build():
    tracks = [extract(encode(tone(330.0, 4.0)), name="tone.wav"),
              extract(encode(noise(4.0)), name="noise.wav")]
    default = [score(t, Thresholds()) for t in tracks]
    # Raise the "AI" threshold of contrast std past both tracks' values: both scores rise by its step.
    values = [r.layers["spectral"].features["contrast_std"] for r in default]
    shifted = Thresholds().with_rule("contrast_std", ai_threshold=max(values) + 1, human_threshold=max(values) + 2)
    moved = [rescore(r, shifted, classifier=False) for r in default]
    for d, m in zip(default, moved):
        before, after = d.layers["spectral"].score, m.layers["spectral"].score
        assert after > before or after == Thresholds().ceiling
    table = feature_table(moved, ["human", None])
    assert list(table["label"]) == ["human", "unlabelled"] and "mfcc_variance" in table
    table["label"] = ["human", "ai"]
    figs = [plots.score_gauge(moved[0], Thresholds()), plots.contributions_chart(moved[0].layers["spectral"]),
            plots.feature_bands(moved[0].layers["spectral"].contributions, shifted, {"mfcc_variance": values}),
            plots.track_overview(tracks[0].frames, moved[0].segments, Thresholds()),
            plots.class_distributions(table, ["mfcc_variance", "flatness_mean"], shifted),
            plots.score_changes(["a", "b"], [0.4, 0.5], [0.6, 0.5], 0.5, band=(0.45, 0.55)),
            plots.confusion_figure(np.array([[1, 0], [0, 1]]))]
    for fig in figs:
        assert fig.to_dict()["data"]
    assert len(figs[2].to_dict()["layout"]["shapes"]) >= 4 * 3  # every rule's bands are drawn
    overview = figs[3].to_dict()["data"]
    assert any(trace["type"] == "heatmap" for trace in overview)


def test_compare_profiles_rescores_stored_reports_without_the_classifier():
    track = extract(encode(tone(330.0, 4.0) + noise(4.0, amp=0.05)), name="stored.wav")
    stored = score(track, Thresholds())
    stricter = Thresholds(base=0.7)
    table, after = compare_profiles([stored, track], ["ai", None], Thresholds(), stricter)
    assert list(table["track"]) == ["stored.wav"] * 2 and list(table["label"]) == ["ai", "unlabelled"]
    # A stored report rescored equals scoring its features afresh.
    assert table["after"][0] == table["after"][1] == score(track, stricter).score
    assert after[0].call == stricter.call(after[0].score)
    # A classifier's P(AI) is left out: Tune tunes the rules.
    judged = replace(stored, layers={**stored.layers, "classifier": LayerResult("classifier", 0.99, {}, 0.0, ())},
                     decided_by="classifier", score=0.99)
    table, after = compare_profiles([judged], ["ai"], Thresholds(), stricter)
    assert "classifier" not in after[0].layers and table["after"][0] == score(track, stricter).score
    values = feature_values([stored])
    assert values["mfcc_variance"][0] == stored.layers["spectral"].features["mfcc_variance"]
    assert len(values["mfcc_variance"]) == 1 + len(stored.segments) > 1  # the track's and every segment's
