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


def _verdict(at) -> str:
    """The verdict heading of the report on the page ("Likely AI-generated", "Inconclusive", ...)."""
    found = [m.value for m in at.markdown if m.value.startswith("#### :")]
    assert len(found) == 1, found
    return found[0].split("[", 1)[1].rstrip("]")


def test_analyse_upload_shows_score_verdict_and_every_section():
    at = _dashboard()
    assert not at.exception
    assert "Drop a track" in at.info[0].value
    at.file_uploader[0].upload("song.wav", _song(), "audio/wav").run()
    assert not at.exception and not at.error
    metric = at.metric[0]
    assert metric.label == "Rule score (not a probability)" and 0.1 <= float(metric.value) <= 0.95
    assert "not a probability" in metric.help and "inconclusive" in metric.help
    assert _verdict(at) == "Likely human-made"
    assert any("points from its rules, not a probability; below the inconclusive band (0.45-0.55)" in m.value
               for m in at.markdown)  # the plain-language summary
    glossary = {c.value: c.help for c in at.caption if c.help}
    assert {"MFCC variance", "Kurtosis", "Spectral contrast", "Flatness", "Sparsity", "Entropy"} <= set(glossary)
    assert any("CLAP layer did not run" in i.value and "How to enable" in i.value for i in at.info)
    assert {"Decoder fingerprint", "Each feature against its threshold bands", "Where in the track"} <= \
        {h.value for h in at.subheader}
    assert any("No decoder fingerprint found.**]" in m.value and "not proof" in m.value for m in at.markdown)
    assert len(at.get("plotly_chart")) >= 5  # gauge, waterfall, fakeprint, feature bands, overview
    assert len(at.get("audio")) == 1  # the player, once the track decoded
    assert {b.label for b in at.get("download_button")} >= {"Download JSON report", "Download segments (CSV)"}


def test_the_dashboard_warms_up_in_the_background_after_its_first_page(caplog):
    from pages._shared import preload

    at = _dashboard()
    assert not at.exception
    thread = preload()  # the thread the first run started (once per server)
    assert thread.name == "warm-up"
    thread.join(timeout=TIMEOUT)
    assert not thread.is_alive() and "warm-up analysis failed" not in caplog.text


def test_analyse_shows_a_decoder_fingerprint_as_the_deciding_evidence():
    from detector.synthetic import DecoderSpec, encode as encode_audio, song, through_decoder

    fake = through_decoder(song(12.0, 44100), 44100, DecoderSpec((4, 4, 2), 24000))
    at = _dashboard()
    at.file_uploader[0].upload("decoded.wav", encode_audio(fake, 44100, "WAV"), "audio/wav").run()
    assert not at.exception
    assert _verdict(at) == "Likely AI-generated"
    assert any("Decoder fingerprint found.**] Peaks every 750 Hz" in m.value for m in at.markdown)
    assert any("Decided by the **artifacts** layer" in c.value for c in at.caption)


def test_analyse_bad_file_shows_a_friendly_error():
    at = _dashboard()
    at.file_uploader[0].upload("fake.mp3", b"definitely not audio" * 10, "audio/mpeg").run()
    assert not at.exception
    assert "fake.mp3" in at.error[0].value and "not a readable audio file" in at.error[0].value
    assert not at.get("audio")  # no dead 0:00 player above the error


def test_analyse_says_when_the_decoder_skipped_damaged_data():
    data = bytearray(encode(tone(440.0, 8.0) + noise(8.0, amp=0.05), fmt="MP3"))
    middle = len(data) // 2
    data[middle:middle + 300] = bytes(range(256)) + bytes(44)  # not MPEG frames: mpg123 skips past them
    at = _dashboard()
    at.file_uploader[0].upload("damaged.mp3", bytes(data), "audio/mpeg").run()
    assert not at.exception and not at.error
    assert any(w.value.startswith("The decoder skipped damaged data in this file (about ") for w in at.warning)
    assert at.metric and len(at.get("audio")) == 1


def test_analyse_uses_the_profile_in_the_link():
    strict = Thresholds(decision=0.05)  # everything above 0.05 is "AI"
    at = _dashboard(p=to_query(strict))
    at.file_uploader[0].upload("song.wav", _song(), "audio/wav").run()
    assert _verdict(at) == "Likely AI-generated"
    assert at.query_params["p"] == to_query(strict)


def test_a_score_inside_the_inconclusive_band_says_inconclusive_everywhere():
    wide = Thresholds(inconclusive=0.9)  # 0.05-0.95: every rule score is inside
    at = _dashboard(p=to_query(wide))
    # (AppTest keeps the sidebar of a session's first run only, so it is read here)
    assert "**Profile:** unsaved changes to the defaults" in [m.value for m in at.sidebar.markdown]
    assert any("inconclusive from 0.05 to 0.95" in c.value for c in at.sidebar.caption)
    at.file_uploader[0].upload("song.wav", _song(), "audio/wav").run()
    assert not at.exception
    assert _verdict(at) == "Inconclusive"
    assert any(m.value.startswith("Score 0.") and "neither side is claimed" in m.value for m in at.markdown)


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
    at.select_slider(key="tune:base:slider").set_value(0.7).run()
    assert not at.exception and not at.error and at.number_input(key="tune:base:exact").value == 0.7
    moved = at.dataframe[0].value
    assert (moved["after"] > moved["before"]).all()
    assert (moved["change"] <= 0.2 + 1e-9).all()  # the start moved by 0.2; clipping can only take some back
    assert "p" in at.query_params  # the link now carries the profile


def test_tune_invalid_order_is_explained_and_ignored():
    at = _tune_with_tracks()
    at.select_slider(key="tune:mfcc_variance:ai_threshold:slider").set_value(5000.0).run()  # above "human" 200
    assert not at.exception
    assert "'strong AI beyond' (5,000) must not be above 'human beyond' (200)" in at.error[0].value
    assert "last valid settings" in at.error[0].value
    assert (at.dataframe[0].value["change"] == 0).all()


def test_tune_profiles_save_load_reset(data_dir):
    at = _tune_with_tracks()
    at.select_slider(key="tune:decision:slider").set_value(0.3).run()
    at.text_input(key="tune:name").input("lenient").run()
    at.button[1].click().run()  # Save
    assert not at.exception
    assert "Saved profile **lenient**" in at.success[0].value
    assert (data_dir / "profiles" / "lenient.json").is_file()
    assert Thresholds.load(data_dir / "profiles" / "lenient.json").decision == 0.3
    at.button[2].click().run()  # Reset
    assert at.select_slider(key="tune:decision:slider").value == 0.5
    at.selectbox(key="tune:saved").select("lenient").run()
    at.button[0].click().run()  # Load
    assert "Loaded profile **lenient**" in at.success[0].value
    assert at.select_slider(key="tune:decision:slider").value == 0.3
    assert at.number_input(key="tune:decision:exact").value == 0.3


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
    assert not at.exception and at.metric and any(h.value.startswith("Analysis ") for h in at.subheader)
    at.multiselect(key="history:compare").select(at.multiselect(key="history:compare").options[0]) \
        .select(at.multiselect(key="history:compare").options[1]).run()
    assert not at.exception
    compared = at.dataframe[-1].value
    assert compared.shape[1] == 3 and "MFCC variance (spectral layer)" in compared.index
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
    at.button(key="models:train").click().run()  # the form's Train button
    assert not at.exception and "missing" in at.error[0].value

    at.text_input(key="models:data").input(str(_labelled_folder(tmp_path / "data")))
    at.number_input(key="models:folds").set_value(2)
    at.button(key="models:train").click().run()
    assert not at.exception, at.exception
    assert "broken.wav" in at.warning[0].value  # skipped, with the reason
    assert {m.label for m in at.metric} >= {"ROC AUC", "Accuracy", "F1 (AI)"}
    at.button(key="models:activate-trained").click().run()
    assert "Now using **my-model.skops**" in at.success[0].value

    at.switch_page("pages/analyse.py").run()
    at.file_uploader[0].upload("song.wav", _song(), "audio/wav").run()
    assert not at.exception
    assert any("Decided by the **classifier** layer" in c.value for c in at.caption)


# -- History (issue 13): reopened as made, links, labels, rescoring, compare, export ----------------------------------

def _kept(data_dir, *entries):
    """Analyse real audio and keep each report in the pages' history: ``(name, thresholds, profile name, seed)``."""
    from detector import analyze
    from detector.analysis import analysis_profile
    from detector.history import HistoryStore

    store = HistoryStore(data_dir / "history.sqlite3")
    ids = [store.put(analyze(_song(seed=seed), t, name=name), analysis_profile(t), profile_name)
           for name, t, profile_name, seed in entries]
    return store, ids


def _history(**query):
    return _dashboard(**query).switch_page("pages/history.py").run()


def _has_heatmap(chart) -> bool:
    """Whether a plotly chart on the page draws a heatmap (the track overview's mel spectrogram)."""
    import json

    return any(trace.get("type") == "heatmap" for trace in json.loads(chart.proto.spec)["data"])


def test_history_reopens_an_analysis_with_its_own_thresholds_and_rescores_on_request(data_dir):
    from detector.analysis import rescore

    strict = Thresholds(decision=0.2, inconclusive=0.0)
    store, (row_id,) = _kept(data_dir, ("strict.wav", strict, "strict", 0))
    made = store.get_by_id(row_id)
    assert made.call == "ai" and Thresholds().call(made.score) == "human"  # the profile decides the call
    at = _history(a=str(row_id))
    assert not at.exception and not at.error
    assert any(c.value.startswith("As analysed on ") and "with profile **strict**" in c.value
               and "decision line 0.20, no inconclusive band" in c.value for c in at.caption)
    assert _verdict(at) == "Likely AI-generated"  # drawn with its own thresholds, not the active defaults

    at.button(key="history:rescore").click().run()
    assert not at.exception and not at.error
    after = rescore(made, Thresholds())
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["score: as analysed → rescored"] == f"{made.score:.2f} → {after.score:.2f}"
    assert metrics["Call: as analysed → rescored"] == "AI → human"
    assert {"As analysed (profile strict)", "Rescored with the active profile (defaults)"} <= {t.label for t in at.tabs}
    assert any("Rescored with the active profile, defaults" in m.value for m in at.markdown)
    assert store.get_by_id(row_id) == made  # rescoring saves nothing
    at.button(key="history:rescore").click().run()  # "Hide the rescored view"
    assert not at.tabs or "Rescored" not in " ".join(t.label for t in at.tabs)


def test_history_link_opens_the_analysis_and_follows_the_selection(data_dir):
    _, (first, second) = _kept(data_dir, ("one.wav", Thresholds(), "defaults", 0),
                               ("two.wav", Thresholds(), "defaults", 1))
    token = to_query(Thresholds(decision=0.3))
    at = _history(a=str(first), p=token)  # the analysis link and the profile link together
    assert not at.exception and not at.error
    assert at.selectbox(key="history:open").value == first
    assert f"Analysis {first}: one.wav" in [h.value for h in at.subheader]
    assert at.query_params["a"] == str(first) and at.query_params["p"] == token
    assert any(c.value.endswith(f"?a={first}") for c in at.code)
    at.selectbox(key="history:open").select(second).run()
    assert f"Analysis {second}: two.wav" in [h.value for h in at.subheader]
    assert at.query_params["a"] == str(second) and at.query_params["p"] == token
    at.selectbox(key="history:open").select_index(0).run()  # "—"
    assert "a" not in at.query_params and at.query_params["p"] == token


def test_history_bad_links_are_explained(data_dir):
    at = _history(a="7")
    assert not at.exception and "no analysis with id 7" in at.error[0].value
    assert "No analyses yet" in at.info[0].value
    _kept(data_dir, ("one.wav", Thresholds(), None, 0))
    for bad, words in (("12abc", "not an analysis number"), ("-1", "not an analysis number"),
                       ("99999999999999999999", "not an analysis number"), ("999", "no analysis with id 999")):
        at = _history(a=bad)
        assert not at.exception, bad
        assert words in at.error[0].value and "Choose an analysis below" in at.error[0].value
        assert at.selectbox(key="history:open").value is None
    at = _history(a="*<b>x</b>*")
    assert "\\*\\<b\\>x\\</b\\>\\*" in at.error[0].value  # shown as typed, never as markup


def test_history_label_is_kept_in_the_database_and_listed(data_dir):
    store, (row_id,) = _kept(data_dir, ("one.wav", Thresholds(), None, 0))
    at = _history(a=str(row_id))
    assert [list(v) for v in at.dataframe[0].value["label"]] == [[]]
    at.segmented_control(key=f"history:label:{row_id}").set_value("ai").run()
    assert not at.exception and not at.error
    sha = store.row(row_id).sha256
    assert store.labels() == {sha: "ai"}
    assert [list(v) for v in at.dataframe[0].value["label"]] == [["ai"]]
    at = _history(a=str(row_id))  # a new session reads it back
    assert at.segmented_control(key=f"history:label:{row_id}").value == "ai"


def test_history_table_names_profiles_and_colours_by_call(data_dir):
    import json

    from detector.analysis import analysis_profile

    strict = Thresholds(decision=0.2, inconclusive=0.0)
    _kept(data_dir, ("same.wav", Thresholds(), "defaults", 0), ("same.wav", strict, None, 0))
    at = _history()
    table = at.dataframe[0].value
    unnamed = f"unnamed ({analysis_profile(strict)[:4]}…)"
    assert sorted(table["profile"]) == sorted(["defaults", unnamed])  # one track twice, two profiles
    assert sorted(v[0] for v in table["verdict"]) == ["ai", "human"]
    columns = json.loads(at.dataframe[0].proto.columns)
    assert columns["score"]["type_config"]["color"] == "blue"  # no red bar for a human call
    verdicts = {o["value"]: o["color"] for o in columns["verdict"]["type_config"]["options"]}
    assert verdicts["human"] != verdicts["ai"]
    options = at.selectbox(key="history:open").options
    assert any("profile defaults" in o for o in options) and any(f"profile {unnamed}" in o for o in options)
    assert "Export these rows (CSV)" in [b.proto.label for b in at.get("download_button")]
    at.selectbox(key="history:verdict").select("AI").run()
    assert list(at.dataframe[0].value["profile"]) == [unnamed]


def test_history_compare_shows_profiles_thresholds_and_the_difference(data_dir):
    strict = Thresholds(decision=0.2, inconclusive=0.0)
    _kept(data_dir, ("same.wav", Thresholds(), "defaults", 0), ("same.wav", strict, "strict", 0))
    at = _history()
    pick = at.multiselect(key="history:compare")
    pick.select(pick.options[0]).select(pick.options[1]).run()
    assert not at.exception and not at.error
    compared = at.dataframe[-1].value
    assert list(compared.columns)[-1] == "difference (2 − 1)"
    assert sorted(compared.loc["profile"].iloc[:2]) == ["defaults", "strict"]
    assert compared.loc["profile", "difference (2 − 1)"] == ""
    assert compared.loc["decision line", "difference (2 − 1)"] in ("+0.3", "-0.3")
    assert compared.loc["MFCC variance (spectral layer)", "difference (2 − 1)"] == "0"  # the same audio
    assert sum("profile **strict**: decision line 0.20, no inconclusive band" in c.value for c in at.caption) == 1
    assert sum("profile **defaults**: decision line 0.50, inconclusive from 0.45 to 0.55" in c.value
               for c in at.caption) == 1
    assert sum(m.value.startswith(("**1. same.wav**", "**2. same.wav**")) for m in at.markdown) == 2


def test_history_redraws_where_in_the_track_as_the_analyse_page_did(data_dir):
    from detector.history import HistoryStore

    at = _dashboard()
    at.file_uploader[0].upload("kept.wav", _song(), "audio/wav").run()
    assert any(c.value.startswith("Kept in the history as analysis 1; its link: [history?a=1]") for c in at.caption)
    store = HistoryStore(data_dir / "history.sqlite3")
    assert store.overview(store.row(1).sha256) is not None

    at = _history(a="1")  # a new session: the track is not in memory, its stored overview is drawn
    assert not at.exception
    assert "Where in the track" in [h.value for h in at.subheader]
    assert sum(map(_has_heatmap, at.get("plotly_chart"))) == 1  # waveform, mel spectrogram, segments
    assert not any("not stored" in c.value for c in at.caption)

    _, (old,) = _kept(data_dir, ("old.wav", Thresholds(), None, 3))  # as made before overviews were kept
    at.run().selectbox(key="history:open").select(old).run()
    assert not at.exception
    assert "Where in the track" in [h.value for h in at.subheader]
    assert not any(map(_has_heatmap, at.get("plotly_chart")))
    assert any("not stored for analyses made before this version" in c.value for c in at.caption)


# -- Tune: the history's tracks, labels in the table, scales, rule errors in words, intervals ----------------------

_GLOBALS = ("base", "decision", "inconclusive", "floor", "ceiling", "stability_width")


def _tune_controls(at) -> set[str]:
    """The keys of the Tune page's slider + exact-input pairs that are on the page."""
    sliders = {s.key.removesuffix(":slider") for s in at.select_slider}
    exact = {n.key.removesuffix(":exact") for n in at.number_input if n.key and n.key.endswith(":exact")}
    return sliders & exact


def _expected_tune_controls() -> set[str]:
    from detector.layers.heuristics import ALL_RULES, THRESHOLD_FIELDS

    default = Thresholds()
    return {f"tune:{g}" for g in _GLOBALS} | {f"tune:{name}:{field}" for name in ALL_RULES for field in THRESHOLD_FIELDS
                                            if getattr(default.rule(name), field) is not None}


def test_tune_shows_every_control_before_any_track():
    at = _dashboard()
    at.switch_page("pages/tune.py").run()
    assert not at.exception
    assert "No analysed tracks yet" in at.info[0].value
    assert _tune_controls(at) == _expected_tune_controls()
    assert at.select_slider(key="tune:inconclusive:slider").label == "Inconclusive band width"


def test_tune_reloaded_from_a_profile_link_keeps_the_history_tracks_labels_and_controls(data_dir):
    from detector.history import HistoryStore

    _tune_with_tracks()  # uploads: analysed, kept in the history and labelled there
    store = HistoryStore(data_dir / "history.sqlite3")
    assert sorted(r.source_name for r in store.rows()) == ["ai-1.wav", "human-1.wav", "human-2.wav"]
    assert sorted(store.labels().values()) == ["ai", "human", "human"]

    # A new session opening the Tune page's link directly, as after a reload.
    at = AppTest.from_file("../dashboard.py", default_timeout=TIMEOUT)
    at.query_params["p"] = to_query(Thresholds(decision=0.3))
    at.switch_page("pages/tune.py").run()
    assert not at.exception and not at.info
    table = at.dataframe[0].value
    assert dict(zip(table["track"], table["label"])) == {"human-1.wav": "human", "human-2.wav": "human",
                                                         "ai-1.wav": "ai"}
    assert _tune_controls(at) == _expected_tune_controls()
    assert at.select_slider(key="tune:decision:slider").value == 0.3 and at.session_state["tune:decision"] == 0.3
    assert {m.label for m in at.metric} >= {"Accuracy", "ROC AUC", "Labelled tracks", "Inconclusive"}

    at.radio(key="tune:include").set_value("labelled").run()
    assert len(at.dataframe[0].value) == 3
    at.number_input(key="tune:limit").set_value(2).run()
    assert len(at.dataframe[0].value) == 2


def test_tune_labels_edited_in_the_table_are_kept_in_the_history(data_dir):
    from detector.history import HistoryStore

    at = _tune_with_tracks()
    table = at.dataframe[0].value
    human, ai = list(table["track"]).index("human-1.wav"), list(table["track"]).index("ai-1.wav")
    # What the browser sends when the analyst picks labels in the table's label column.
    at.session_state["tune:labels:0"] = {"edited_rows": {human: {"label": "ai"}, ai: {"label": "unlabelled"}},
                                         "added_rows": [], "deleted_rows": []}
    at.run()
    assert not at.exception
    assert "Saved 2 labels in the history." in [s.value for s in at.success]
    labels = {r.source_name: r.label for r in HistoryStore(data_dir / "history.sqlite3").rows()}
    assert labels == {"human-1.wav": "ai", "human-2.wav": "human", "ai-1.wav": None}
    shown = at.dataframe[0].value
    assert dict(zip(shown["track"], shown["label"]))["human-1.wav"] == "ai"
    assert at.metric[2].value == "1 human · 1 AI"  # what the metrics count follows at once

    at.run()  # the edits are saved once: a rerun changes nothing
    assert not at.success
    assert len(HistoryStore(data_dir / "history.sqlite3").labels()) == 2


def test_tune_crossed_thresholds_are_explained_at_the_rule_in_words():
    at = _tune_with_tracks()
    at.number_input(key="tune:mfcc_variance:human_threshold:exact").set_value(20.0).run()  # below "strong AI" 50
    assert not at.exception
    errors = {e.label: [x.value for x in e.error] for e in at.expander}
    spectral = errors.pop("Spectral rules")
    assert len(spectral) == 1 and not any(errors.values())  # at the rule's controls, nowhere else
    message = spectral[0]
    assert message.startswith("'strong AI beyond' (50) must not be above 'human beyond' (20) for MFCC variance: "
                              "AI is *below*")
    assert "last valid settings" in message
    assert not any(word in message for word in ("ai_threshold", "human_threshold", "mfcc_variance", "Traceback"))
    assert (at.dataframe[0].value["change"] == 0).all()  # scored with the last valid settings
    assert at.session_state["thresholds"].mfcc_variance.human_threshold == 200.0

    at.number_input(key="tune:mfcc_variance:human_threshold:exact").set_value(300.0).run()
    assert not at.exception and not at.error
    assert at.session_state["thresholds"].mfcc_variance.human_threshold == 300.0


def test_tune_small_labelled_set_shows_intervals_and_a_warning():
    at = _tune_with_tracks()
    assert not at.exception
    notes = " ".join(c.value for c in at.caption)
    assert "95% interval" in notes and "(Wilson)" in notes and "stratified bootstrap" in notes
    warning = " ".join(w.value for w in at.warning)
    assert "Only 2 human and 1 AI tracks are labelled" in warning and "fewer than 30 of each class" in warning
    assert any("inconclusive" in c.proto.spec for c in at.get("plotly_chart"))  # the band on the score chart

    # A band that holds every score: nothing is decided, and the page says so instead of an accuracy.
    at.number_input(key="tune:inconclusive:exact").set_value(0.9).run()
    assert not at.exception
    assert at.metric[0].value == "—" and at.metric[3].value == "3 of 3"
    assert "Every labelled track is inconclusive" in " ".join(c.value for c in at.caption)


def test_tune_saved_and_loaded_profiles_are_named_in_the_sidebar_and_the_history(data_dir):
    from detector.history import HistoryStore

    # (AppTest keeps the sidebar of a session's first run only: the name is read where the sidebar reads it)
    at = _dashboard()
    at.switch_page("pages/tune.py").run()
    at.number_input(key="tune:decision:exact").set_value(0.42).run()
    assert "profile_named" not in at.session_state
    at.text_input(key="tune:name").input("careful").run()
    at.button[1].click().run()  # Save
    assert not at.exception
    assert at.session_state["profile_named"] == ("careful", Thresholds(decision=0.42))
    assert "careful" in HistoryStore(data_dir / "history.sqlite3").profile_names().values()
    at.button[2].click().run()  # Reset
    assert at.session_state["thresholds"] == Thresholds()
    at.selectbox(key="tune:saved").select("careful").run()
    at.button[0].click().run()  # Load
    assert at.session_state["profile_named"] == ("careful", Thresholds(decision=0.42))
    assert at.session_state["tune:decision"] == 0.42


def test_tune_with_an_unreadable_history_explains_and_keeps_the_controls(tmp_path, monkeypatch):
    bad = tmp_path / "not-a-history.sqlite3"
    bad.write_bytes(b"not a database at all" * 100)
    monkeypatch.setenv("DETECTOR_DB", str(bad))
    at = AppTest.from_file("../dashboard.py", default_timeout=TIMEOUT)
    at.switch_page("pages/tune.py").run()
    assert not at.exception
    assert "The analysis history cannot be read" in at.error[0].value and "not a readable SQLite" in at.error[0].value
    assert _tune_controls(at) == _expected_tune_controls()


STABILITY_QUICK = ["mp3-64", "pitch+2", "gain+6db", "excerpt-end"]


def test_analyse_stability_panel_runs_on_demand_and_is_kept(data_dir):
    from detector.history import HistoryStore

    at = _dashboard()
    at.file_uploader[0].upload("steady.wav", _song(freq=392.0, seed=4), "audio/wav").run()
    assert "Stability" in [h.value for h in at.subheader]
    charts = len(at.get("plotly_chart"))
    assert at.button(key="report-stability").label == "Check stability"  # on demand: nothing ran yet
    store = HistoryStore(data_dir / "history.sqlite3")
    (row,) = store.rows()
    assert store.stability_summaries([row.id]) == {}
    at.multiselect(key="report-perturbations").set_value(STABILITY_QUICK).run()
    at.button(key="report-stability").click().run()
    assert not at.exception and not at.error
    summary = [m.value for m in at.markdown if m.value.startswith(("**:green[Stable.]**", "**:red[Fragile.]**",
                                                                  "**:gray[Inconclusive.]**"))]
    assert len(summary) == 1 and "30 s excerpt from the end (the track (6.0 s) is shorter" in summary[0]
    assert len(at.get("plotly_chart")) == charts + 1  # the dot plot
    assert any(e.label == "Every perturbation in numbers" for e in at.expander)
    kept = store.get_by_id(row.id).stability
    assert kept is not None and kept.perturbation_set == ",".join(STABILITY_QUICK)
    at.run()  # a rerun shows the check again, without its button
    assert "report-stability" not in [b.key for b in at.button]
    assert len(at.get("plotly_chart")) == charts + 1

    # A new session with the same perturbations finds the check made for this audio and profile
    fresh = _dashboard()
    fresh.session_state["report:stability-set"] = STABILITY_QUICK
    fresh.file_uploader[0].upload("steady.wav", _song(freq=392.0, seed=4), "audio/wav").run()
    assert "report-stability" not in [b.key for b in fresh.button]
    assert any(m.value == summary[0] for m in fresh.markdown)


def test_history_batch_checks_stability_and_lists_it(data_dir):
    at = _dashboard()
    at.switch_page("pages/history.py").run()
    at.file_uploader(key="batch:files").upload("batched.wav", _song(freq=294.0, seed=6), "audio/wav")
    at.run()
    at.checkbox(key="batch:stability").check().run()
    at.button[0].click().run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert list(table["stability"]) in (["stable"], ["fragile"], ["inconclusive"])
    at.selectbox(key="history:open").select_index(1).run()  # reopened: its stored check is drawn
    assert not at.exception
    assert "Stability" in [h.value for h in at.subheader]
    assert "history-stability" not in [b.key for b in at.button]  # the history shows, it does not run checks
