import json

import pytest

from detector.layers.heuristics import (
    EMBEDDING_RULES,
    SPECTRAL_RULES,
    ProfileError,
    Rule,
    Thresholds,
    score_features,
)


def test_defaults_are_the_original_detectors_values():
    t = Thresholds()
    assert (t.base, t.floor, t.ceiling, t.decision) == (0.5, 0.1, 0.95, 0.5)
    assert t.mfcc_variance == Rule("below", 50.0, 0.08, 200.0, 0.06)
    assert t.mfcc_kurtosis == Rule("above", 2.0, 0.07, 0.5, 0.05)
    assert t.contrast_std == Rule("below", 5.0, 0.06, 12.0, 0.05)
    assert t.flatness_mean == Rule("below", 0.05, 0.05, 0.2, 0.04)
    assert t.kurtosis == Rule("above", 3.0, 0.10, 0.5, 0.08, 1.5, 0.05)
    assert t.sparsity == Rule("above", 0.15, 0.08, 0.03, 0.06, 0.08, 0.03)
    assert t.entropy == Rule("below", 0.75, 0.10, 0.92, 0.07, 0.85, 0.04)
    assert t.std == Rule("below", 0.15, 0.06, 0.35, 0.05)


@pytest.mark.parametrize(
    "value,band,delta",
    [(3.5, "strong AI", 0.10), (2.0, "mild AI", 0.05), (1.0, "neutral", 0.0), (0.2, "human", -0.08),
     (3.0, "mild AI", 0.05), (0.5, "neutral", 0.0)],
)
def test_bands_follow_the_original_elif_chain(value, band, delta):
    assert Thresholds().kurtosis.band(value)[:2] == (band, delta)


def test_spectral_score_known_answer():
    # every spectral rule votes AI: 0.5 + 0.08 + 0.07 + 0.06 + 0.05 = 0.76
    feats = {"mfcc_variance": 10, "mfcc_kurtosis": 5, "contrast_std": 1, "flatness_mean": 0.01}
    result = score_features(feats, SPECTRAL_RULES, Thresholds(), "spectral")
    assert result.score == pytest.approx(0.76)
    assert [c.band for c in result.contributions] == ["strong AI"] * 4
    # a typical real human track: MFCC variance 3000 -> -0.06, others neutral
    feats = {"mfcc_variance": 3000, "mfcc_kurtosis": 1.0, "contrast_std": 8, "flatness_mean": 0.1}
    assert score_features(feats, SPECTRAL_RULES, Thresholds(), "spectral").score == pytest.approx(0.44)


def test_contributions_and_clipping_add_up_to_the_score():
    t = Thresholds(ceiling=0.6)
    feats = {"kurtosis": 9, "sparsity": 0.5, "entropy": 0.1, "std": 0.01}
    r = score_features(feats, EMBEDDING_RULES, t, "clap")
    assert r.score == 0.6
    assert r.base + sum(c.delta for c in r.contributions) + r.clip_adjustment == pytest.approx(r.score)
    assert r.clip_adjustment == pytest.approx(0.6 - (0.5 + 0.10 + 0.08 + 0.10 + 0.06))


def test_profile_round_trip(tmp_path):
    t = Thresholds().with_rule("mfcc_variance", ai_threshold=1500.0, human_threshold=4000.0)
    path = tmp_path / "p.json"
    t.save(path)
    assert Thresholds.load(path) == t
    assert json.loads(path.read_text())["mfcc_variance"]["ai_threshold"] == 1500.0


def _bad(mutate, match):
    data = Thresholds().to_dict()
    mutate(data)
    with pytest.raises(ProfileError, match=match):
        Thresholds.from_dict(data)


def test_bad_profiles_get_clear_errors():
    _bad(lambda d: d.pop("floor"), r"Missing key\(s\) in profile: floor")
    _bad(lambda d: d["std"].pop("ai_step"), r"Missing key\(s\) in std: ai_step")
    _bad(lambda d: d.update(bogus=1), r"Unknown key\(s\) in profile: bogus")
    _bad(lambda d: d.update(base="high"), "base must be a finite number, not 'high'")
    _bad(lambda d: d["kurtosis"].update(ai_step="x"), "kurtosis.ai_step must be a finite number")
    _bad(lambda d: d["mfcc_variance"].update(ai_threshold=500.0),
         r"mfcc_variance: ai_threshold \(500.0\) must not be above human_threshold \(200.0\)")
    _bad(lambda d: d["kurtosis"].update(mild_threshold=4.0),
         r"kurtosis: mild_threshold \(4.0\) must not be above ai_threshold \(3.0\)")
    _bad(lambda d: d["flatness_mean"].update(human_step=-1), "must not be negative")
    _bad(lambda d: d.update(floor=0.9, ceiling=0.2), "floor .* must be below ceiling")
    _bad(lambda d: d["std"].update(ai_when="sideways"), 'ai_when must be "above" or "below"')
    _bad(lambda d: d.update(std=[1, 2]), "std must be an object")
    with pytest.raises(ProfileError, match="not valid JSON"):
        Thresholds.from_json("{nope")
    with pytest.raises(ProfileError, match="must be a JSON object"):
        Thresholds.from_json("[1, 2]")
    with pytest.raises(ProfileError, match="Cannot read the profile"):
        Thresholds.load("/does/not/exist.json")
