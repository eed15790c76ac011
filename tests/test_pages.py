"""The dashboard driven through Streamlit's AppTest (real script runs, no browser)."""

from conftest import chirp, encode, noise, tone
from streamlit.testing.v1 import AppTest

from detector import Thresholds
from detector.history.profiles import to_query

TIMEOUT = 120


def _dashboard(**query):
    at = AppTest.from_file("../dashboard.py", default_timeout=TIMEOUT)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def _song(seconds=6.0, freq=440.0, seed=0):
    return encode(tone(freq, seconds) + noise(seconds, amp=0.02, seed=seed))


def test_analyse_upload_shows_score_verdict_and_every_section():
    at = _dashboard()
    assert not at.exception
    assert "Drop a track" in at.info[0].value
    at.file_uploader[0].upload("song.wav", _song(), "audio/wav").run()
    assert not at.exception and not at.error
    metric = at.metric[0]
    assert metric.label == "AI-likeness score" and 0.1 <= float(metric.value) <= 0.95
    assert any("Likely" in h.value for h in at.subheader)
    assert any("CLAP layer did not run" in i.value and "How to enable" in i.value for i in at.info)
    assert {"Decoder fingerprint", "Each feature against its threshold bands", "Where in the track"} <= \
        {h.value for h in at.subheader}
    assert any("No decoder fingerprint found.**]" in m.value and "not proof" in m.value for m in at.markdown)
    assert len(at.get("plotly_chart")) >= 5  # gauge, waterfall, fakeprint, feature bands, overview
    assert {b.label for b in at.get("download_button")} >= {"Download JSON report", "Download segments (CSV)"}


def test_analyse_shows_a_decoder_fingerprint_as_the_deciding_evidence():
    from detector.synthetic import DecoderSpec, encode as encode_audio, song, through_decoder

    fake = through_decoder(song(12.0, 44100), 44100, DecoderSpec((4, 4, 2), 24000))
    at = _dashboard()
    at.file_uploader[0].upload("decoded.wav", encode_audio(fake, 44100, "WAV"), "audio/wav").run()
    assert not at.exception
    assert any(h.value == "Likely AI-generated" for h in at.subheader)
    assert any("Decoder fingerprint found.**] peaks every 750 Hz" in m.value for m in at.markdown)
    assert any("Decided by the **artifacts** layer" in c.value for c in at.caption)


def test_analyse_bad_file_shows_a_friendly_error():
    at = _dashboard()
    at.file_uploader[0].upload("fake.mp3", b"definitely not audio" * 10, "audio/mpeg").run()
    assert not at.exception
    assert "fake.mp3" in at.error[0].value and "not a readable audio file" in at.error[0].value


def test_analyse_uses_the_profile_in_the_link():
    strict = Thresholds(decision=0.05)  # everything above 0.05 is "AI"
    at = _dashboard(p=to_query(strict))
    at.file_uploader[0].upload("song.wav", _song(), "audio/wav").run()
    assert any(h.value == "Likely AI-generated" for h in at.subheader)
    assert at.query_params["p"] == to_query(strict)


def test_a_damaged_link_falls_back_to_defaults_with_a_warning():
    at = _dashboard(p="garbage!!")
    assert not at.exception
    assert "damaged" in at.warning[0].value


def _tune_with_tracks():
    at = _dashboard()
    at.switch_page("pages/tune.py").run()
    assert not at.exception
    human = at.file_uploader(key="tune:human")
    human.upload("human-1.wav", encode(noise(4.0, seed=1)), "audio/wav")
    human.upload("human-2.wav", encode(noise(4.0, seed=2) + chirp(4.0)), "audio/wav")
    ai = at.file_uploader(key="tune:ai")
    ai.upload("ai-1.wav", encode(tone(330.0, 4.0)), "audio/wav")
    ai.upload("broken.wav", b"RIFF nonsense", "audio/wav")
    return at.run()


def test_tune_rescoring_labelled_tracks_live():
    at = _tune_with_tracks()
    assert not at.exception
    assert "broken.wav" in at.warning[0].value  # skipped, with its reason
    table = at.dataframe[0].value
    assert sorted(table["track"]) == ["ai-1.wav", "human-1.wav", "human-2.wav"]
    assert (table["before"] == table["after"]).all()
    assert {m.label for m in at.metric} >= {"Accuracy", "ROC AUC", "Labelled tracks"}

    # Lower the decision line: scores stay, verdicts move. Raise the start: every score moves up.
    at.slider(key="tune:base").set_value(0.7).run()
    assert not at.exception and not at.error
    moved = at.dataframe[0].value
    assert (moved["after"] > moved["before"]).all()
    assert (moved["change"] <= 0.2 + 1e-9).all()  # the start moved by 0.2; clipping can only take some back
    assert "p" in at.query_params  # the link now carries the profile


def test_tune_invalid_order_is_explained_and_ignored():
    at = _tune_with_tracks()
    at.slider(key="tune:mfcc_variance:ai_threshold").set_value(5000.0).run()  # above human_threshold 200
    assert not at.exception
    assert "not valid" in at.error[0].value and "must not be above" in at.error[0].value
    assert (at.dataframe[0].value["change"] == 0).all()


def test_tune_profiles_save_load_reset(data_dir):
    at = _tune_with_tracks()
    at.slider(key="tune:decision").set_value(0.3).run()
    at.text_input(key="tune:name").input("lenient").run()
    at.button[1].click().run()  # Save
    assert not at.exception
    assert "Saved profile **lenient**" in at.success[0].value
    assert (data_dir / "profiles" / "lenient.json").is_file()
    assert Thresholds.load(data_dir / "profiles" / "lenient.json").decision == 0.3
    at.button[2].click().run()  # Reset
    assert at.slider(key="tune:decision").value == 0.5
    at.selectbox(key="tune:saved").select("lenient").run()
    at.button[0].click().run()  # Load
    assert "Loaded profile **lenient**" in at.success[0].value
    assert at.slider(key="tune:decision").value == 0.3


def test_batch_history_open_compare_and_survive_a_restart():
    at = _dashboard()
    at.switch_page("pages/history.py").run()
    assert not at.exception
    assert "No analyses yet" in at.info[0].value
    files = at.file_uploader(key="batch:files")
    files.upload("one.wav", _song(freq=330.0), "audio/wav")
    files.upload("two.wav", encode(noise(5.0, seed=3)), "audio/wav")
    files.upload("broken.flac", b"fLaC" + b"\0" * 100, "audio/flac")
    at.run()
    at.button[0].click().run()
    assert not at.exception
    assert "broken.flac" in at.error[0].value
    table = at.dataframe[0].value
    assert sorted(table["source_name"]) == ["one.wav", "two.wav"]
    assert list(table["artifacts"]) == ["no fingerprint"] * 2

    # A fresh app (as after a server restart) reads the same history file.
    at = _dashboard()
    at.switch_page("pages/history.py").run()
    assert len(at.dataframe[0].value) == 2
    at.text_input(key="history:search").input("two").run()
    assert list(at.dataframe[0].value["source_name"]) == ["two.wav"]
    at.text_input(key="history:search").input("").run()
    ids = at.selectbox(key="history:open").options
    at.selectbox(key="history:open").select_index(1).run()
    assert not at.exception and at.metric[0].label == "AI-likeness score"
    at.multiselect(key="history:compare").select(at.multiselect(key="history:compare").options[0]) \
        .select(at.multiselect(key="history:compare").options[1]).run()
    assert not at.exception
    compared = at.dataframe[-1].value
    assert compared.shape[1] == 2 and "spectral: mfcc_variance" in compared.index
    assert len(ids) == 3  # "—" and two analyses


def test_analyse_keeps_the_report_in_the_history(data_dir):
    from detector.history import HistoryStore

    at = _dashboard()
    at.file_uploader[0].upload("kept.wav", _song(), "audio/wav").run()
    rows = HistoryStore(data_dir / "history.sqlite3").rows()
    assert [r.source_name for r in rows] == ["kept.wav"]


def _labelled_folder(root, n=4):
    for i in range(n):
        (root / "ai").mkdir(parents=True, exist_ok=True)
        (root / "human").mkdir(parents=True, exist_ok=True)
        (root / "ai" / f"ai-{i}.wav").write_bytes(encode(tone(220.0 * (i + 1), 2.0) + tone(440.0 * (i + 1), 2.0)))
        (root / "human" / f"human-{i}.wav").write_bytes(encode(noise(2.0, seed=i) + 0.3 * chirp(2.0)))
    (root / "human" / "broken.wav").write_bytes(b"RIFF????WAVEfmt nothing")
    return root


def test_models_train_activate_and_analyse_with_the_classifier(tmp_path):
    at = _dashboard()
    at.switch_page("pages/models.py").run()
    assert not at.exception
    assert any("No classifier is active" in i.value for i in at.info)
    at.text_input(key="models:data").input(str(tmp_path / "missing"))
    at.button[0].click().run()  # the form's Train button
    assert not at.exception and "missing" in at.error[0].value

    at.text_input(key="models:data").input(str(_labelled_folder(tmp_path / "data")))
    at.number_input(key="models:folds").set_value(2)
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert "broken.wav" in at.warning[0].value  # skipped, with the reason
    assert {m.label for m in at.metric} >= {"ROC AUC", "Accuracy", "F1 (AI)"}
    at.button(key="models:activate-trained").click().run()
    assert "Now using **my-model.skops**" in at.success[0].value

    at.switch_page("pages/analyse.py").run()
    at.file_uploader[0].upload("song.wav", _song(), "audio/wav").run()
    assert not at.exception
    assert any("Decided by the **classifier** layer" in c.value for c in at.caption)
