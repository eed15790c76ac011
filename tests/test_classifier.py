"""The trained classifier end to end, on synthetic tracks whose classes really differ.

"ai" tracks are steady harmonic stacks with almost no noise; "human" tracks are
vibrato tones under a moving envelope buried in broadband noise. Ten of each (3 s,
22,050 Hz, WAV and FLAC, some in a nested folder) plus one broken file.
"""

import contextlib
import io
import json
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
import soundfile as sf

import detector.analysis.extraction
from detector import AudioError, analyze, extract, score
from detector.cli import main
from detector.layers.classifier import (
    ALLOWED_TYPES, ModelError, activate, active_model_path, build_pipeline, card_path, load_model,
)
from detector.training import evaluate, extract_vectors, save_model, train, train_dataset
from detector.training.dataset import load_dataset
from detector.analysis import NO_CLASSIFIER
from detector.features.vectors import CLAP, SPECTRAL, FeatureSetUnavailable
from detector.training import VectorCache

SR = 22050


def ai_track(seed: int, seconds: float = 3.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    f0 = rng.uniform(110, 330)
    y = sum((0.5 / k) * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi)) for k in range(1, 7))
    y = y + 0.002 * rng.standard_normal(t.size)
    return (0.5 * y / np.max(np.abs(y))).astype(np.float32)


def human_track(seed: int, seconds: float = 3.0) -> np.ndarray:
    rng = np.random.default_rng(1000 + seed)
    t = np.arange(int(seconds * SR)) / SR
    f = rng.uniform(150, 400) * (1 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.3, 2) * t))
    env = 0.5 + 0.5 * np.abs(np.sin(2 * np.pi * rng.uniform(1, 4) * t))
    y = env * np.sin(2 * np.pi * np.cumsum(f) / SR) + rng.uniform(0.2, 0.5) * rng.standard_normal(t.size)
    return (0.5 * y / np.max(np.abs(y))).astype(np.float32)


def write_dataset(root: Path, n: int = 10, seed0: int = 0) -> Path:
    for label, make in (("ai", ai_track), ("human", human_track)):
        for i in range(n):
            folder = root / label / ("nested" if i % 3 == 0 else "")
            folder.mkdir(parents=True, exist_ok=True)
            sf.write(folder / f"{label}{i:02d}.{'flac' if i % 2 else 'wav'}", make(seed0 + i), SR)
    return root


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    root = write_dataset(tmp_path_factory.mktemp("dataset"))
    (root / "ai" / "broken.wav").write_bytes(b"RIFF but not a wave file at all" * 8)
    return root


def run_main(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(argv))
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def trained(data_env, dataset_dir, tmp_path_factory):
    model = tmp_path_factory.mktemp("model") / "model.skops"
    rc, out, err = run_main("train", str(dataset_dir), "--out", str(model), "--json")
    assert rc == 0, err
    return model, json.loads(out), err


def test_training_through_the_cli(trained, dataset_dir):
    model, metrics, err = trained
    assert metrics["feature_set"] == "spectral-v1" and metrics["folds"] == 5
    assert metrics["class_counts"] == {"human": 10, "ai": 10}
    cv = metrics["cv"]
    assert cv["roc_auc"] > 0.8 and cv["accuracy"] > 0.8 and len(cv["fold_roc_auc"]) == 5
    assert sum(map(sum, cv["confusion_matrix"])) == 20
    assert len(cv["calibration"]["prob_pred"]) == len(cv["calibration"]["prob_true"]) >= 2
    assert metrics["holdout"]["n_samples"] == 4 and metrics["holdout"]["class_counts"] == {"human": 2, "ai": 2}
    # the broken file is skipped, reported with its reason, and not fatal
    assert [Path(s["path"]).name for s in metrics["skipped"]] == ["broken.wav"]
    assert "not a readable audio file" in metrics["skipped"][0]["reason"]
    assert "1 file(s) skipped" in err and "broken.wav" in err
    assert "21/21: features of" in err and "CLAP is not available" in err


def test_model_card(trained):
    model, metrics, _ = trained
    card = json.loads(card_path(model).read_text())
    assert card_path(model).name == "model.card.json"
    import hashlib

    assert card["model_sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
    assert card["feature_set"]["version"] == "spectral-v1"
    assert card["feature_set"]["names"] == list(SPECTRAL.names) and len(SPECTRAL.names) == 62
    assert card["clap"] is None and card["class_counts"] == {"human": 10, "ai": 10}
    assert card["metrics"]["cv"] == metrics["cv"] and card["metrics"]["holdout"] == metrics["holdout"]
    assert {"scikit-learn", "skops", "numpy", "detector"} <= set(card["versions"])
    assert card["trained_at"].endswith("+00:00")
    assert model.stat().st_mode & 0o777 == 0o644 and model.stat().st_size < 3_000_000  # deflated skops archive


def test_allowlist_is_exactly_what_a_model_holds(trained):
    assert sorted(sio.get_untrusted_types(file=trained[0])) == sorted(ALLOWED_TYPES)


def test_retraining_reads_the_cache_and_reloads_identically(trained, dataset_dir, data_env, monkeypatch, tmp_path):
    calls = []

    def no_decode(*args, **kwargs):
        calls.append(args)
        raise AudioError("decode was called")

    monkeypatch.setattr(detector.analysis.extraction, "decode_rates", no_decode)
    ds = load_dataset(dataset_dir)
    vectors = extract_vectors(ds, SPECTRAL)
    assert vectors.cache_hits == 20 and len(calls) == 1  # only the broken file, which is never cached
    assert len(list((data_env / "features" / "spectral-v1").glob("*.npy"))) == 20
    result = train_dataset(ds, SPECTRAL, folds=2, test_size=0)  # fewer fits; the final fit is the CLI's
    assert len(calls) == 2
    # the same data and seeds give the same model as the CLI's, and saving/loading changes nothing
    loaded = load_model(trained[0])
    p_fresh = result.model.predict_proba(vectors.X)[:, 1]
    assert np.array_equal(loaded.predict_proba(vectors.X), p_fresh)
    save_model(result, tmp_path / "again.skops")
    assert np.array_equal(load_model(tmp_path / "again.skops").predict_proba(vectors.X), p_fresh)


@pytest.mark.slow
def test_training_in_a_subprocess(trained, dataset_dir, data_env, tmp_path):
    import os

    out = subprocess.run(
        [sys.executable, "-m", "detector", "train", str(dataset_dir), "--out", str(tmp_path / "m.skops"),
         "--folds", "2", "--test-size", "0"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "DETECTOR_DATA_DIR": str(data_env)},
    )
    assert out.returncode == 0, out.stderr
    assert "cross-validation, 2 folds" in out.stdout and "ROC AUC" in out.stdout and "held-out" not in out.stdout
    assert "broken.wav" in out.stderr
    assert card_path(tmp_path / "m.skops").is_file()


def test_evaluate_and_service_on_unseen_tracks(trained, data_env, tmp_path):
    model = load_model(trained[0])
    unseen = write_dataset(tmp_path / "unseen", n=3, seed0=500)
    result = evaluate(model, load_dataset(unseen))
    assert result.metrics.n_samples == 6 and result.metrics.roc_auc > 0.8
    rc, out, err = run_main("evaluate", str(unseen), "--model", str(trained[0]), "--json")
    assert rc == 0, err
    assert json.loads(out)["metrics"] == result.metrics.to_dict()

    for label, y in (("ai", ai_track(900)), ("human", human_track(900))):
        wav = tmp_path / f"{label}.wav"
        sf.write(wav, y, SR)
        report = analyze(wav, model=model)
        assert report.decided_by == "classifier" and set(report.layers) == {"spectral", "artifacts", "classifier"}
        layer = report.layers["classifier"]
        assert report.score == layer.score == layer.base and layer.contributions == ()
        assert len(layer.features) == 5 and set(layer.features) <= set(SPECTRAL.names)
        assert report.is_ai == (label == "ai")
        assert [s.name for s in report.skipped] == ["clap"]
        assert report.versions["classifier_sha256"] == model.sha256
        assert report.versions["classifier_model"] == "model.skops"
        assert report.versions["classifier_feature_set"] == "spectral-v1"
        assert json.loads(report.to_json())["decided_by"] == "classifier"
    plain = analyze(wav)
    assert plain.decided_by == "artifacts" and NO_CLASSIFIER in plain.skipped
    assert "python -m detector train" in NO_CLASSIFIER.how_to_enable

    rc, out, _ = run_main("analyze", str(wav), "--model", str(trained[0]))
    assert rc == 0 and "decided by classifier" in out and "P(AI)" in out


@pytest.fixture()
def model_copy(trained, tmp_path):
    target = tmp_path / "copy.skops"
    shutil.copy(trained[0], target)
    shutil.copy(card_path(trained[0]), card_path(target))
    return target


def test_tampered_model_is_refused(model_copy):
    data = bytearray(model_copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model_copy.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="Refusing to load the model"):
        load_model(model_copy)
    model_copy.write_bytes(bytes(data[: len(data) // 2]))  # truncated
    with pytest.raises(ModelError, match="not a skops model file, or it is damaged"):
        load_model(model_copy)
    rc, _, err = run_main("evaluate", str(model_copy.parent), "--model", str(model_copy))
    assert rc == 2 and "Refusing to load" in err


def test_changed_model_with_intact_zip_fails_the_checksum(model_copy):
    model_copy.write_bytes(model_copy.read_bytes() + b"appended")
    with pytest.raises(ModelError, match=r"does not match its model card \(.*\): the file changed after training"):
        load_model(model_copy)


def test_untrusted_types_are_refused_without_loading(trained, tmp_path, monkeypatch):
    evil = tmp_path / "evil.skops"
    sio.dump({"model": load_model(trained[0]).pipeline, "payload": Fraction(1, 3)}, evil)
    shutil.copy(card_path(trained[0]), card_path(evil))

    def never(*args, **kwargs):
        raise AssertionError("skops.io.load must not be reached")

    monkeypatch.setattr(sio, "load", never)
    with pytest.raises(ModelError, match=r"contains types that a detector model never holds \(fractions.Fraction\)"):
        load_model(evil)


def test_non_skops_and_missing_files_are_refused(model_copy, tmp_path):
    text = tmp_path / "notes.skops"
    text.write_text("this is not a model")
    with pytest.raises(ModelError, match="not a skops model file"):
        load_model(text)
    with pytest.raises(ModelError, match="No model file at"):
        load_model(tmp_path / "absent.skops")
    card_path(model_copy).unlink()
    with pytest.raises(ModelError, match="model card copy.card.json is missing"):
        load_model(model_copy)
    rc, _, err = run_main("analyze", str(text), "--model", str(text))
    assert rc == 2 and "not a skops model file" in err


def test_scikit_learn_version_change_warns(model_copy):
    card = json.loads(card_path(model_copy).read_text())
    card["versions"]["scikit-learn"] = "0.1.0"
    card_path(model_copy).write_text(json.dumps(card))
    with pytest.warns(UserWarning, match="trained with scikit-learn 0.1.0"):
        model = load_model(model_copy)
    assert model.warnings and "Retrain" in model.warnings[0]


@pytest.mark.slow
def test_clap_model_needs_clap_features(tmp_path, trained):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, 512))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = np.array([0, 1] * 4)
    result = train(X, y, CLAP, folds=2, test_size=0)
    assert result.holdout is None
    save_model(result, tmp_path / "clap.skops")
    model = load_model(tmp_path / "clap.skops")
    assert model.feature_set is CLAP and model.predict_proba(X).shape == (8,)
    track = extract(tone_wav(tmp_path))
    with pytest.raises(FeatureSetUnavailable, match="trained on CLAP embeddings .* did not run for this track"):
        model.probability(track)
    report = score(track, model=model)  # the layer is skipped with that reason, never raised
    assert report.decided_by == "artifacts"
    skipped = {s.name: s for s in report.skipped}["classifier"]
    assert "CLAP embeddings" in skipped.reason and "--feature-set spectral" in skipped.how_to_enable
    # and the spectral model scores the same track
    assert score(track, model=load_model(trained[0])).decided_by == "classifier"
    # with CLAP features of the training checkpoint the clap model scores; with another it is skipped
    from dataclasses import replace

    save_model(replace(result, clap_checkpoint={"checkpoint": "music.pt", "checkpoint_sha256": "c" * 64}),
               tmp_path / "clap.skops")
    model = load_model(tmp_path / "clap.skops")
    report = score(fake_clap(track), model=model)
    layer = report.layers["classifier"]
    assert report.decided_by == "classifier" and all(n.startswith("embedding dim ") for n, _ in layer.drivers)
    assert set(layer.features) <= ({n for n, _ in layer.drivers} if layer.drivers else set(CLAP.names))
    assert report.score == pytest.approx(model.predict_proba(fake_clap(track).clap.aggregate)[0])
    report = score(fake_clap(track, checkpoint_sha256="d" * 64), model=model)
    assert report.decided_by == "artifacts"  # the classifier is skipped; "no fingerprint" decides
    assert "embeddings of the CLAP checkpoint music.pt" in {s.name: s for s in report.skipped}["classifier"].reason


def tone_wav(tmp_path):
    path = tmp_path / "tone.wav"
    sf.write(path, ai_track(42), SR)
    return path


def test_clap_feature_set_unavailable_in_the_cli(dataset_dir, tmp_path, data_env):
    rc, _, err = run_main("train", str(dataset_dir), "--out", str(tmp_path / "m.skops"), "--feature-set", "clap")
    assert rc == 2 and "needs the CLAP layer" in err and not (tmp_path / "m.skops").exists()


def test_manifest_input_and_fewer_folds(dataset_dir, tmp_path, data_env):
    manifest = dataset_dir / "manifest.csv"
    rows = ["path,label", "ai/ai01.flac,ai", "ai/ai02.wav,AI", "ai/nested/ai03.flac,ai",
            "human/human01.flac,human", "human/human02.wav,human", "human/nested/human03.flac,human",
            "human/absent.wav,human", "ai/ai04.wav,robot", "ai/ai01.flac,ai"]
    manifest.write_text("\n".join(rows) + "\n")
    try:
        rc, out, err = run_main("train", str(manifest), "--out", str(tmp_path / "m.skops"), "--json")
    finally:
        manifest.unlink()
    assert rc == 0, err
    metrics = json.loads(out)
    assert metrics["class_counts"] == {"human": 3, "ai": 3} and metrics["folds"] == 3
    assert "Only 3 files in the smaller class, so 3-fold cross-validation instead of 5-fold." in err
    reasons = " | ".join(s["reason"] for s in metrics["skipped"])
    assert "no such file" in reasons and "'robot' is not human or ai" in reasons and "listed twice" in reasons


def test_too_few_files_and_bad_paths_exit_two(tmp_path, data_env):
    write_dataset(tmp_path / "tiny", n=1)
    rc, _, err = run_main("train", str(tmp_path / "tiny"), "--out", str(tmp_path / "m.skops"))
    assert rc == 2 and "at least 2 audio files per class" in err and "human has 1 and ai has 1" in err
    write_dataset(tmp_path / "small", n=2)
    (tmp_path / "small" / "ai" / "ai01.flac").write_bytes(b"fLaC but broken")
    rc, _, err = run_main("train", str(tmp_path / "small"), "--out", str(tmp_path / "m.skops"))
    assert rc == 2 and "at least 2 usable files per class" in err and "ai has 1" in err
    assert "1 file(s) skipped:" in err and "ai01.flac: This is not a readable audio file" in err
    rc, _, err = run_main("train", str(tmp_path / "nowhere"), "--out", str(tmp_path / "m.skops"))
    assert rc == 2 and "No such file or folder" in err
    rc, _, err = run_main("train", str(tmp_path / "tiny"), "--out", str(tmp_path))
    assert rc == 2 and "is a folder" in err
    with pytest.raises(SystemExit) as exc, contextlib.redirect_stderr(io.StringIO()):
        main(["train", str(tmp_path / "tiny"), "--out", "m.skops", "--folds", "1"])
    assert exc.value.code == 2


def test_active_model(trained, data_env, monkeypatch, tmp_path):
    monkeypatch.delenv("DETECTOR_MODEL", raising=False)
    activate(None)
    assert active_model_path() is None
    assert activate(trained[0]) == trained[0].resolve()
    assert active_model_path() == trained[0].resolve()
    bad = tmp_path / "bad.skops"
    bad.write_text("nope")
    with pytest.raises(ModelError):
        activate(bad)
    assert active_model_path() == trained[0].resolve()  # unchanged by the failed activation
    monkeypatch.setenv("DETECTOR_MODEL", str(bad))
    assert active_model_path() == bad
    monkeypatch.delenv("DETECTOR_MODEL")
    assert activate(None) is None and active_model_path() is None


def test_vector_cache_is_atomic_and_ignores_damaged_files(tmp_path):
    cache = VectorCache(tmp_path)
    sha = "ab" * 32
    vec = np.arange(SPECTRAL.size, dtype=np.float64)
    path = cache.put("spectral-v1", sha, vec)
    assert path == tmp_path / "spectral-v1" / f"{sha}.npy" and list(path.parent.iterdir()) == [path]
    assert np.array_equal(cache.get("spectral-v1", sha, SPECTRAL.size), vec)
    assert cache.get("spectral-v1", sha, 3) is None  # wrong length
    path.write_bytes(b"garbage")
    assert cache.get("spectral-v1", sha, SPECTRAL.size) is None
    with pytest.raises(ValueError, match="Not a SHA-256"):
        cache.path("spectral-v1", "../../etc")


def test_pipeline_shape():
    pipe = build_pipeline()
    assert list(pipe.named_steps) == ["scale", "vote"]
    vote = pipe.named_steps["vote"]
    assert vote.voting == "soft" and [n for n, _ in vote.estimators] == ["rf", "svm"]
    assert vote.estimators[0][1].random_state == 0 and vote.estimators[1][1].probability


def test_spectral_vector_follows_its_names(tmp_path):
    from detector.features.vectors import spectral_vector

    track = extract(tone_wav(tmp_path))
    vec = dict(zip(SPECTRAL.names, spectral_vector(track)))
    assert vec["mfcc_variance"] == track.spectral["mfcc_variance"]
    assert vec["mfcc_mean_03"] == pytest.approx(track.frames.mfcc[3].mean())
    assert vec["mfcc_std_19"] == pytest.approx(track.frames.mfcc[19].std())
    assert vec["contrast_mean_6"] == pytest.approx(track.frames.contrast[6].mean())
    assert vec["flatness_p50"] == pytest.approx(np.median(track.frames.flatness))


def fake_clap(track, checkpoint_sha256="c" * 64, seed=0):
    from dataclasses import replace

    from detector.features import embedding_stats
    from detector.features import ClapFeatures

    v = np.random.default_rng(seed).standard_normal(512).astype(np.float32)
    v /= np.linalg.norm(v)
    stats = embedding_stats(v)
    clap = ClapFeatures("music.pt", checkpoint_sha256, "HTSAT-base", v, v[None], ((0.0, track.duration),), stats,
                        (stats,))
    return replace(track, clap=clap)


def test_clap_vectors_are_extracted_with_the_encoder_and_cached_per_checkpoint(dataset_dir, tmp_path, monkeypatch):
    import detector.training.vectors as clf

    class Encoder:  # the seam's real types: ClapEncoder.checkpoint is a Path, .name its file name
        checkpoint, checkpoint_sha256 = Path("/models/music.pt"), "c" * 64
        name = checkpoint.name

    seen, base = [], extract(tone_wav(tmp_path))

    def extract_with_clap(path, clap=None):  # the CLAP layer's extract(..., clap=encoder), faked
        seen.append(clap)
        if path.name == "broken.wav":
            raise AudioError("not audio")
        return fake_clap(base, seed=len(seen))

    monkeypatch.setattr(clf, "extract", extract_with_clap)
    ds = load_dataset(dataset_dir)
    cache = VectorCache(tmp_path / "cache")
    first = extract_vectors(ds, CLAP, clap=Encoder(), cache=cache)
    assert first.X.shape == (20, 512) and first.cache_hits == 0 and all(isinstance(e, Encoder) for e in seen)
    assert first.clap_checkpoint == {"checkpoint": "music.pt", "checkpoint_sha256": "c" * 64, "precision": "fp32"}
    assert len(list((tmp_path / "cache" / ("clap-512-v1@" + "c" * 16)).glob("*.npy"))) == 20
    again = extract_vectors(ds, CLAP, clap=Encoder(), cache=cache)
    assert again.cache_hits == 20 and np.array_equal(again.X, first.X)


def test_duplicate_audio_is_skipped(tmp_path, data_env):
    write_dataset(tmp_path / "d", n=2)
    shutil.copy(tmp_path / "d" / "ai" / "ai01.flac", tmp_path / "d" / "human" / "copy.flac")
    vectors = extract_vectors(load_dataset(tmp_path / "d"), SPECTRAL)
    assert vectors.counts() == {"human": 3, "ai": 1}  # human/ is listed first, so the ai copy is the duplicate
    (dup,) = vectors.skipped
    assert dup.path.endswith("ai01.flac") and "the same audio as copy.flac" in dup.reason


@pytest.mark.slow
def test_training_twice_with_a_real_clap_encoder_saves_both_times(encoder, tmp_path, data_env):
    """Regression: with every CLAP vector cached, the card got the encoder's Path and json.dumps failed."""
    data = write_dataset(tmp_path / "d", n=3)
    card_files = []
    for run in range(2):
        result = train_dataset(load_dataset(data), CLAP, clap=encoder, folds=2, test_size=0)
        card = save_model(result, tmp_path / f"clap-{run}.skops")
        card_files.append(json.loads(card_path(tmp_path / f"clap-{run}.skops").read_text()))
        assert card["clap"] == {"checkpoint": encoder.name, "checkpoint_sha256": encoder.sha256, "precision": "fp32"}
    assert card_files[0]["clap"] == card_files[1]["clap"]
    assert load_model(tmp_path / "clap-1.skops").feature_set is CLAP
