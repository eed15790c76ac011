"""A logistic regression on fakeprints (``--features fakeprint --model-kind logistic``), end to end.

"human" tracks are :func:`detector.synthetic.song` mixes; "ai" tracks are other mixes
passed through a random transposed-convolution decoder (strides 4x4x2 at 24 kHz, as
:mod:`detector.synthetic.decoders` builds them), which leaves narrow spectral lines the
fakeprint shows. Six of each, 8 s at 44.1 kHz, plus one 4 kHz file that has no
fakeprint at all.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soxr

from detector import extract, score
from detector.cli import main
from detector.features.fakeprint import VECTOR_HZ, fakeprint
from detector.features.track import segment_bounds
from detector.features.vectors import (
    FAKEPRINT, FEATURE_SET_VERSIONS, FEATURE_SETS, FeatureSetUnavailable, fakeprint_vector, get_feature_set,
    resolve_feature_set, vector_for,
)
from detector.layers.classifier import ALLOWED_TYPES, ModelError, card_path, card_summary, load_model, saved_models
from detector.layers.classifier.persistence import KIND_TYPES
from detector.layers.heuristics import Thresholds
from detector.layers.classifier.pipeline import (
    DEFAULT_KIND, ENSEMBLE, LOGISTIC, MODEL_KINDS, build_pipeline, kind_of, model_kind,
)
from detector.synthetic import DecoderSpec, encode, song, through_decoder
from detector.training import cache_key, extract_vectors, load_dataset, save_model, train

SR = 44100
SECONDS = 8.0
N = 6
LOW_RATE = 4000  # Nyquist 2 kHz: nothing above the fakeprint's 1 kHz start to take a floor from


def human_track(i: int) -> np.ndarray:
    return song(SECONDS, SR, seed=i)


def ai_track(i: int) -> np.ndarray:
    return through_decoder(song(SECONDS, SR, seed=100 + i), SR, DecoderSpec((4, 4, 2), 24000, steps=0, seed=i))


def low_rate_wav() -> bytes:
    """A short mix at 4 kHz (made at 16 kHz: the drum filters need more than a 2 kHz band)."""
    return encode(soxr.resample(song(3.0, 16000, seed=7), 16000, LOW_RATE), LOW_RATE, "WAV")


def run_main(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(argv))
    return rc, out.getvalue(), err.getvalue()


# -- quick checks: the feature set, the model kinds, the CLI's options ------------------------------------------

def test_the_feature_set_names_one_value_per_grid_cell():
    lo, hi, step = VECTOR_HZ
    assert FAKEPRINT.name == "fakeprint" and FAKEPRINT.version == "fakeprint-v1"
    assert FAKEPRINT.size == 1500 == round((hi - lo) / step)
    assert FAKEPRINT.names[:3] == ("fakeprint_01000hz", "fakeprint_01010hz", "fakeprint_01020hz")
    assert FAKEPRINT.names[-1] == "fakeprint_15990hz" and len(set(FAKEPRINT.names)) == FAKEPRINT.size
    assert FEATURE_SETS["fakeprint"] is FAKEPRINT and FEATURE_SET_VERSIONS["fakeprint-v1"] is FAKEPRINT
    assert get_feature_set("fakeprint") is FAKEPRINT
    assert resolve_feature_set("fakeprint", clap_available=False) == (FAKEPRINT, None)
    assert resolve_feature_set("auto", clap_available=False)[0] is not FAKEPRINT  # only when asked for
    # the names follow the fakeprint's own grid: a line at 3,005 Hz lands in fakeprint_03000hz
    t = np.arange(3 * SR) / SR
    y = (0.01 * np.random.default_rng(0).standard_normal(t.size) + 0.05 * np.sin(2 * np.pi * 3005.0 * t))
    vec = fakeprint(y.astype(np.float32), SR, segment_bounds(3.0, 10.0)).vector()
    assert vec.shape == (FAKEPRINT.size,)
    hot = {FAKEPRINT.names[i] for i in np.flatnonzero(vec >= vec.max() - 1e-6)}  # the window's main lobe
    assert "fakeprint_03000hz" in hot <= {"fakeprint_02990hz", "fakeprint_03000hz", "fakeprint_03010hz"}


def test_a_track_without_a_fakeprint_is_refused_with_a_reason():
    track = extract(low_rate_wav())
    assert track.fakeprint is None
    with pytest.raises(FeatureSetUnavailable, match=r"no fakeprint: at 4000 Hz and 3\.0 s"):
        fakeprint_vector(track)
    with pytest.raises(FeatureSetUnavailable, match="no fakeprint"):
        vector_for(track, FAKEPRINT)


def test_model_kinds():
    assert DEFAULT_KIND == "ensemble" and set(MODEL_KINDS) == {"ensemble", "logistic"}
    pipe = build_pipeline(kind="logistic")
    assert list(pipe.named_steps) == list(LOGISTIC.steps) == ["scale", "logistic"]
    lr = pipe.named_steps["logistic"]
    assert lr.class_weight == "balanced" and lr.max_iter >= 1000
    assert kind_of(pipe) is LOGISTIC and kind_of(build_pipeline()) is ENSEMBLE
    assert "LogisticRegression" in LOGISTIC.description and "balanced" in LOGISTIC.description
    with pytest.raises(ValueError, match="Unknown model kind 'svm'; choose one of ensemble, logistic"):
        model_kind("svm")
    # the logistic kind needs no type beyond those skops trusts; the allowlist stays the ensemble's
    assert KIND_TYPES["logistic"] == () and set(ALLOWED_TYPES) == set(KIND_TYPES["ensemble"])


def test_train_a_logistic_model_on_vectors():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((16, 40))
    y = np.array([0, 1] * 8)
    X[y == 1, :5] += 3.0
    result = train(X, y, FAKEPRINT, folds=2, test_size=0, kind="logistic")
    assert kind_of(result.model) is LOGISTIC and result.model_kind == "logistic"
    assert result.metrics_dict()["model_kind"] == "logistic" and result.cv.roc_auc > 0.9
    with pytest.raises(ValueError, match="Unknown model kind"):
        train(X, y, FAKEPRINT, kind="forest")


def test_card_summary_names_the_kind():
    card = {"feature_set": {"version": "fakeprint-v1"}, "model_kind": "logistic",
            "trained_at": "2026-01-02T03:04:05+00:00", "class_counts": {"human": 6, "ai": 6}}
    assert card_summary(card) == ("logistic regression on feature set fakeprint-v1 · trained 2026-01-02 03:04 UTC "
                                  "on 6 human and 6 AI tracks")
    assert card_summary({**card, "model_kind": ["x"]}).startswith("unknown model kind ['x'] on feature set")
    del card["model_kind"]  # a card from before there were kinds
    assert card_summary(card).startswith("random forest + SVM ensemble on feature set fakeprint-v1")


def test_cli_options(tmp_path):
    for argv in (["--model-kind", "svm"], ["--features", "mfcc"]):
        with pytest.raises(SystemExit) as exc, contextlib.redirect_stderr(io.StringIO()) as err:
            main(["train", str(tmp_path), "--out", str(tmp_path / "m.skops"), *argv])
        assert exc.value.code == 2 and "invalid choice" in err.getvalue()


# -- end to end on decoded audio ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("fakeprints")
    for label, make in (("human", human_track), ("ai", ai_track)):
        (root / label).mkdir()
        for i in range(N):
            (root / label / f"{label}{i:02d}.wav").write_bytes(encode(make(i), SR, "WAV"))
    (root / "ai" / "lowrate.wav").write_bytes(low_rate_wav())
    return root


@pytest.fixture(scope="module")
def trained(data_env, dataset_dir, tmp_path_factory):
    """``train DATA --out model.skops --features fakeprint --model-kind logistic`` (the issue's command)."""
    model = tmp_path_factory.mktemp("model") / "model.skops"
    rc, out, err = run_main("train", str(dataset_dir), "--out", str(model), "--features", "fakeprint",
                            "--model-kind", "logistic", "--folds", "3", "--json")
    assert rc == 0, err
    return model, json.loads(out), err


@pytest.mark.slow
def test_the_cli_trains_a_logistic_model_that_separates_the_classes(trained):
    model, metrics, err = trained
    assert metrics["feature_set"] == "fakeprint-v1" and metrics["model_kind"] == "logistic"
    assert metrics["class_counts"] == {"human": N, "ai": N} and metrics["folds"] == 3
    assert metrics["cv"]["roc_auc"] >= 0.9 and metrics["cv"]["accuracy"] >= 0.8
    # the 4 kHz file has no fakeprint: skipped with the reason, not fatal
    (skipped,) = metrics["skipped"]
    assert Path(skipped["path"]).name == "lowrate.wav" and "no fakeprint" in skipped["reason"]
    assert "lowrate.wav" in err and "CLAP is not available" not in err


@pytest.mark.slow
def test_the_card_names_the_kind_and_the_model_loads_with_trusted_types_only(trained, data_env):
    import skops.io as sio

    model_path, metrics, _ = trained
    card = json.loads(card_path(model_path).read_text())
    assert card["model_kind"] == "logistic" and card["model"] == LOGISTIC.description
    assert card["feature_set"]["version"] == "fakeprint-v1" and card["feature_set"]["names"] == list(FAKEPRINT.names)
    assert card["metrics"]["model_kind"] == "logistic" and card["metrics"]["cv"] == metrics["cv"]
    assert sio.get_untrusted_types(file=model_path) == []
    model = load_model(model_path)
    assert model.feature_set is FAKEPRINT and kind_of(model.pipeline) is LOGISTIC
    summary = card_summary(model.card)
    assert summary.startswith("logistic regression on feature set fakeprint-v1") and "6 human and 6 AI" in summary
    shutil.copy(model_path, data_env / "fp.skops")
    shutil.copy(card_path(model_path), data_env / "fp.card.json")
    assert [m.summary() for m in saved_models(data_env)] == [summary]


@pytest.mark.slow
def test_vectors_are_cached_under_the_versioned_key_and_reload_identically(trained, dataset_dir, data_env, tmp_path):
    assert cache_key(FAKEPRINT) == "fakeprint-v1"
    vectors = extract_vectors(load_dataset(dataset_dir), FAKEPRINT)
    assert vectors.cache_hits == 2 * N and vectors.X.shape == (2 * N, FAKEPRINT.size)
    assert len(list((data_env / "features" / "fakeprint-v1").glob("*.npy"))) == 2 * N
    loaded = load_model(trained[0])
    result = train(vectors.X, vectors.y, FAKEPRINT, folds=3, kind="logistic")
    assert np.array_equal(loaded.predict_proba(vectors.X), result.model.predict_proba(vectors.X)[:, 1])
    card = save_model(result, tmp_path / "again.skops")
    assert card["model_kind"] == "logistic"
    again = load_model(tmp_path / "again.skops")
    assert np.array_equal(again.predict_proba(vectors.X), loaded.predict_proba(vectors.X))


@pytest.mark.slow
def test_the_model_scores_unseen_tracks_and_skips_tracks_without_a_fakeprint(trained):
    model = load_model(trained[0])
    p = {}
    for label, make in (("human", human_track), ("ai", ai_track)):
        track = extract(encode(make(50), SR, "WAV"))
        report = score(track, model=model)
        # a firing artifact layer takes precedence over the classifier (see scoring.decider)
        assert report.decided_by == ("artifacts" if report.layers["artifacts"].score > Thresholds().decision
                                     else "classifier")
        layer = report.layers["classifier"]
        assert len(layer.features) == 5 and set(layer.features) <= set(FAKEPRINT.names)  # largest |weights|
        p[label] = layer.score
    assert p["ai"] > 0.5 > p["human"]
    low = score(extract(low_rate_wav()), model=model)
    skipped = {s.name: s for s in low.skipped}["classifier"]
    assert "trained on fakeprints" in skipped.reason and "4000 Hz" in skipped.reason
    assert low.decided_by != "classifier"


@pytest.mark.slow
def test_a_card_that_misnames_the_kind_is_refused(trained, tmp_path):
    target = tmp_path / "copy.skops"
    shutil.copy(trained[0], target)
    card = json.loads(card_path(trained[0]).read_text())
    for kind, why in (("ensemble", "does not hold a fitted detector pipeline of the kind its card describes"),
                      ("boosting", "its model kind 'boosting' is unknown"),
                      (["logistic"], r"its model kind \['logistic'\] is unknown")):
        card_path(target).write_text(json.dumps({**card, "model_kind": kind}))
        with pytest.raises(ModelError, match=why):
            load_model(target)
    # a logistic card on an ensemble's file: its tree types are not the logistic kind's
    ensemble = train(np.random.default_rng(1).standard_normal((8, FAKEPRINT.size)), np.array([0, 1] * 4), FAKEPRINT,
                     folds=2, test_size=0)
    save_model(ensemble, target)
    forged = json.loads(card_path(target).read_text())
    assert forged["model_kind"] == "ensemble" and forged["model"] == ENSEMBLE.description
    card_path(target).write_text(json.dumps({**forged, "model_kind": "logistic"}))
    with pytest.raises(ModelError, match="types that a logistic model never holds"):
        load_model(target)
