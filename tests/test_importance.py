"""What drove the classifier: permutation importance from training to the card, the report and the pages.

Models are trained for real (scikit-learn, seeded) on synthetic vectors whose classes
differ in a few known inputs, saved with skops and loaded through the trusted-type
checks; the pages run in AppTest.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.inspection import permutation_importance as sklearn_permutation_importance
from streamlit.testing.v1 import AppTest

from conftest import encode, noise, tone
from detector import extract
from detector.analysis import score
from detector.features.vectors import CLAP, FAKEPRINT, SPECTRAL
from detector.layers.classifier import (
    IMPORTANCE_TOP, Importance, activate, card_path, feature_label, load_model, models_dir,
)
from detector.layers.classifier.pipeline import build_pipeline, fit
from detector.report import DetectionReport
from detector.training import permutation_importance, save_model, train

TIMEOUT = 120
SIGNAL = (0, 5, 17)  # the inputs that tell the classes apart


def vectors(n: int, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` standard-normal vectors; AI rows shifted by 1.5 in the :data:`SIGNAL` inputs."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    X = rng.standard_normal((n, size))
    X[np.ix_(y == 1, SIGNAL)] += 1.5
    return X, y


@pytest.fixture(scope="module")
def held_out():
    X, y = vectors(80, SPECTRAL.size)
    return train(X, y, SPECTRAL, folds=3, test_size=0.25)


@pytest.fixture(scope="module")
def model_file(held_out, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "drivers.skops"
    save_model(held_out, path, dataset="synthetic")
    return path


# ------------------------------------------------------------------------------------------------ the measurement


@pytest.mark.parametrize("kind", ["ensemble", "logistic"])
def test_the_batched_importance_is_sklearns(kind):
    """Same shuffles, same numbers as sklearn.inspection.permutation_importance, column subsets included."""
    X, y = vectors(60, 20, seed=1)
    model = fit(build_pipeline(0, kind), X[:40], y[:40])
    ours = permutation_importance(model, X[40:], y[40:], n_repeats=7, seed=3)
    theirs = sklearn_permutation_importance(model, X[40:], y[40:], scoring="accuracy", n_repeats=7,
                                            random_state=3).importances
    assert ours.shape == (20, 7) and np.array_equal(ours, theirs)
    assert np.array_equal(permutation_importance(model, X[40:], y[40:], columns=[5, 0], n_repeats=7, seed=3),
                          theirs[[5, 0]])


def test_training_measures_on_the_held_out_split(held_out):
    imp = held_out.importance
    assert imp.source == "held-out" and imp.n_samples == 20 and imp.inputs == imp.measured == 62
    assert imp.scoring == "accuracy" and imp.n_repeats == 10 and imp.screened_by is None
    assert 0 < len(imp.top) <= IMPORTANCE_TOP
    assert [f.mean for f in imp.top] == sorted((f.mean for f in imp.top), reverse=True) and imp.top[-1].mean > 0
    assert imp.top[0].feature in {SPECTRAL.names[i] for i in SIGNAL}  # the strongest driver is a real signal
    assert "20 held-out tracks, scored by the model trained on the rest" in imp.describe()


def test_without_a_held_out_split_it_is_measured_out_of_fold():
    X, y = vectors(40, SPECTRAL.size, seed=2)
    result = train(X, y, SPECTRAL, folds=4, test_size=0.0, kind="logistic")
    imp = result.importance
    assert result.holdout is None and imp.source == "out-of-fold" and imp.n_samples == 40
    assert "out-of-fold predictions for 40 tracks" in imp.describe()
    assert {f.feature for f in imp.top[:3]} & {SPECTRAL.names[i] for i in SIGNAL}


def test_large_feature_sets_measure_the_inputs_the_model_ranks_highest():
    X, y = vectors(60, CLAP.size, seed=3)
    imp = train(X, y, CLAP, folds=3, test_size=0.25).importance
    assert imp.inputs == 512 and 16 <= imp.measured <= 64
    assert imp.screened_by == "the random forest's impurity importance"
    assert f"{imp.measured} of the 512 inputs measured" in imp.describe()
    assert all(f.name == f"embedding dim {int(f.feature[5:])}" for f in imp.top)


def test_feature_labels():
    assert feature_label(SPECTRAL, "mfcc_mean_03") == "mfcc_mean_03"
    assert feature_label(CLAP, "clap_017") == "embedding dim 17"
    assert feature_label(FAKEPRINT, "fakeprint_05230hz") == "fakeprint 5.23 kHz"
    assert feature_label(FAKEPRINT, FAKEPRINT.names[0]) == "fakeprint 1.00 kHz"


def test_training_progress_runs_through_the_importance_and_saving_to_saved(tmp_path):
    X, y = vectors(40, SPECTRAL.size)
    seen = []
    result = train(X, y, SPECTRAL, folds=3, progress=lambda f, m: seen.append((f, m)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and seen[-1] == (1.0, "model trained")
    assert any(m.startswith("permutation importance: 62/62 inputs") for _, m in seen)
    saving = []
    save_model(result, tmp_path / "m.skops", progress=lambda f, m: saving.append((f, m)))
    assert [f for f, _ in saving] == sorted(f for f, _ in saving) and len(saving) >= 4
    assert saving[0][0] == 0.0 and saving[0][1].startswith("Saving the model m.skops: loading skops")
    assert saving[-1] == (1.0, "Saved m.skops.")


# ------------------------------------------------------------------------------------------------ card and report


def test_the_card_keeps_the_importance_and_the_model_reads_it(model_file, held_out):
    card = json.loads(card_path(model_file).read_text())
    entry = card["importance"]
    assert entry["source"] == "held-out" and entry["method"] == "permutation" and entry["n_samples"] == 20
    assert set(entry["top"][0]) == {"feature", "name", "mean", "std"}
    model = load_model(model_file)
    assert model.importance == held_out.importance


def test_the_classifier_layer_carries_the_drivers_and_the_tracks_values(model_file):
    model = load_model(model_file)
    track = extract(encode(tone(330.0, 3.0) + noise(3.0, amp=0.05)), name="t.wav")
    layer = model.layer(track)
    assert layer.drivers == model.importance.drivers and isinstance(layer.drivers[0], tuple)
    assert list(layer.features) == [name for name, _ in layer.drivers]  # the track's own value of each driver
    report = score(track, model=model)
    again = DetectionReport.from_json(report.to_json())
    assert again.layers["classifier"].drivers == layer.drivers  # a tuple of tuples again, as stored in the history
    old = json.loads(report.to_json())
    del old["layers"]["classifier"]["drivers"]  # a report stored before drivers existed
    assert DetectionReport.from_dict(old).layers["classifier"].drivers == ()


def test_a_card_without_importance_still_loads(model_file, tmp_path):
    old = tmp_path / "old.skops"
    old.write_bytes(model_file.read_bytes())
    card = json.loads(card_path(model_file).read_text())
    del card["importance"]
    card_path(old).write_text(json.dumps(card))
    model = load_model(old)
    track = extract(encode(tone(330.0, 3.0)), name="t.wav")
    layer = model.layer(track)
    assert model.importance is None and layer.drivers == () and len(layer.features) == 5
    card["importance"] = {"source": "held-out", "top": "damaged"}
    card_path(old).write_text(json.dumps(card))
    assert load_model(old).importance is None  # a damaged entry costs the explanation, not the model
    assert Importance.from_card({"importance": None}) is None


# ------------------------------------------------------------------------------------------------ pages


def _models_page(**state) -> AppTest:
    at = AppTest.from_file("../dashboard.py", default_timeout=TIMEOUT)
    at.run()
    for key, value in state.items():
        at.session_state[key] = value
    return at.switch_page("pages/models.py").run()


def test_activate_turns_into_active_and_the_active_model_shows_its_drivers(model_file):
    saved = models_dir() / "mine.skops"
    saved.parent.mkdir(parents=True)
    saved.write_bytes(model_file.read_bytes())
    card_path(saved).write_text(card_path(model_file).read_text())
    at = _models_page()
    assert not at.exception
    assert at.button(key="models:activate-saved").label == "Activate"
    at.button(key="models:activate-saved").click().run()
    assert not at.exception and "Now using **mine.skops**" in at.success[0].value
    active = at.button(key="models:saved-active")
    assert active.label == "Active" and active.disabled
    assert not [b for b in at.button if b.key == "models:activate-saved"]
    assert any("What the model relies on: permutation importance on 20 held-out tracks" in c.value
               for c in at.caption)
    assert len(at.get("plotly_chart")) == 1  # the drivers chart

    at.button(key="models:deactivate").click().run()  # the Activate button comes back
    assert "No classifier is active now." in at.success[0].value
    assert at.button(key="models:activate-saved").label == "Activate"


def test_the_trained_models_button_shows_it_is_active(model_file):
    saved = models_dir() / "fresh.skops"
    saved.parent.mkdir(parents=True)
    saved.write_bytes(model_file.read_bytes())
    card_path(saved).write_text(card_path(model_file).read_text())
    at = _models_page(**{"models:trained": str(saved)})
    at.button(key="models:activate-trained").click().run()
    assert not at.exception
    state = at.button(key="models:trained-active")
    assert state.label == "fresh.skops is active" and state.disabled
    assert not [b for b in at.button if b.key == "models:activate-trained"]


def test_an_old_model_without_importance_says_so(model_file):
    saved = models_dir() / "old.skops"
    saved.parent.mkdir(parents=True)
    saved.write_bytes(model_file.read_bytes())
    card = json.loads(card_path(model_file).read_text())
    del card["importance"]
    card_path(saved).write_text(json.dumps(card))
    activate(saved)
    at = _models_page()
    assert not at.exception
    assert any("not recorded for this model" in c.value for c in at.caption)
    at.switch_page("pages/analyse.py").run()
    at.file_uploader[0].upload("song.wav", encode(tone(440.0, 4.0) + noise(4.0, amp=0.02)), "audio/wav").run()
    assert not at.exception and not at.error
    assert any("P(AI) = " in m.value for m in at.markdown)
    assert any("not recorded for this model" in c.value for c in at.caption)


def test_the_report_shows_what_drove_the_classifier(model_file):
    activate(model_file)
    at = AppTest.from_file("../dashboard.py", default_timeout=TIMEOUT).run()
    at.file_uploader[0].upload("song.wav", encode(tone(440.0, 4.0) + noise(4.0, amp=0.02)), "audio/wav").run()
    assert not at.exception and not at.error
    assert any("Decided by the **classifier** layer" in c.value for c in at.caption)
    assert any("classifier layer gives P(AI) = " in m.value for m in at.markdown)
    assert any(c.value.startswith("Permutation importance at training time, on tracks held out from training")
               for c in at.caption)


def test_the_held_out_calibration_chart_says_held_out(tmp_path):
    from conftest import chirp

    root = tmp_path / "data"
    for i in range(5):
        for label in ("ai", "human"):
            (root / label).mkdir(parents=True, exist_ok=True)
        (root / "ai" / f"ai-{i}.wav").write_bytes(encode(tone(220.0 * (i + 1), 2.0) + tone(440.0 * (i + 1), 2.0)))
        (root / "human" / f"human-{i}.wav").write_bytes(encode(noise(2.0, seed=i) + 0.3 * chirp(2.0)))
    at = _models_page()
    at.text_input(key="models:data").input(str(root))
    at.number_input(key="models:folds").set_value(2)
    at.number_input(key="models:test").set_value(0.4)
    at.button(key="models:train").click().run()
    assert not at.exception and not at.error
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert "Calibration (out-of-fold)" in titles and "Calibration (held-out)" in titles
    assert at.button(key="models:activate-trained").label == "Activate my-model.skops"
