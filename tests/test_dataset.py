import pytest

from detector.training.dataset import DatasetError, check_class_counts, load_dataset, skipped_summary
from detector.features.vectors import CLAP, SPECTRAL, FeatureSetUnavailable, get_feature_set, resolve_feature_set
from detector.training import cache_key


def touch(path, data=b"x"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_folder_lists_nested_audio_and_skips_other_files(tmp_path):
    touch(tmp_path / "human" / "a.wav")
    touch(tmp_path / "human" / "live" / "2019" / "b.MP3")
    touch(tmp_path / "ai" / "c.flac")
    touch(tmp_path / "ai" / "d.opus")
    touch(tmp_path / "ai" / "e.ogg")
    touch(tmp_path / "ai" / "cover.jpg")
    touch(tmp_path / "ai" / ".DS_Store")
    ds = load_dataset(tmp_path)
    assert ds.source == tmp_path.resolve()
    assert [(f.path.name, f.label, f.target) for f in ds.files] == [
        ("a.wav", "human", 0), ("b.MP3", "human", 0), ("c.flac", "ai", 1), ("d.opus", "ai", 1), ("e.ogg", "ai", 1)]
    assert ds.counts() == {"human": 2, "ai": 3}
    assert [s.path.endswith("cover.jpg") for s in ds.skipped] == [True]
    assert "not an audio file extension (.jpg)" in ds.skipped[0].reason
    assert "1 file(s) skipped" in skipped_summary(ds.skipped) and "cover.jpg" in skipped_summary(ds.skipped)
    assert skipped_summary(()) == "No files were skipped."


def test_folder_without_class_subfolders(tmp_path):
    (tmp_path / "Human").mkdir()
    with pytest.raises(DatasetError, match=r"needs the subfolders human/ and ai/; human/ and ai/ are missing "
                                           r"\(found: Human\)"):
        load_dataset(tmp_path)
    (tmp_path / "ai").mkdir()
    with pytest.raises(DatasetError, match="human/ is missing"):
        load_dataset(tmp_path)


def test_bad_dataset_paths(tmp_path):
    with pytest.raises(DatasetError, match="No such file or folder"):
        load_dataset(tmp_path / "absent")
    with pytest.raises(DatasetError, match="neither a folder nor a CSV manifest"):
        load_dataset(touch(tmp_path / "song.wav"))


def test_manifest_rows(tmp_path):
    touch(tmp_path / "audio" / "h1.wav")
    touch(tmp_path / "audio" / "a1.flac")
    touch(tmp_path / "audio" / "notes.txt")
    absolute = touch(tmp_path / "elsewhere" / "a2.mp3")
    (tmp_path / "m.csv").write_text(
        "path,label\n"
        "audio/h1.wav, Human \n"
        "audio/a1.flac,ai\n"
        f"{absolute},ai\n"
        "\n"
        "audio/missing.wav,human\n"
        "audio/notes.txt,ai\n"
        "audio/h1.wav,human\n"
        "audio/a1.flac,maybe\n"
        "lonely\n"
    )
    ds = load_dataset(tmp_path / "m.csv")
    assert [(f.path.name, f.label) for f in ds.files] == [("h1.wav", "human"), ("a1.flac", "ai"), ("a2.mp3", "ai")]
    reasons = [s.reason for s in ds.skipped]
    assert reasons[0].startswith("no such file") and "line 6" in ds.skipped[0].path
    assert "not an audio file extension (.txt)" in reasons[1]
    assert reasons[2] == "listed twice; the first row counts"
    assert reasons[3] == "label 'maybe' is not human or ai"
    assert reasons[4] == "expected two columns, path and label"


def test_manifest_header_is_required(tmp_path):
    (tmp_path / "m.csv").write_text("file,class\na.wav,ai\n")
    with pytest.raises(DatasetError, match="must start with the header line path,label"):
        load_dataset(tmp_path / "m.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DatasetError, match="header line"):
        load_dataset(tmp_path / "empty.csv")


def test_class_count_check():
    check_class_counts({"human": 2, "ai": 5})
    with pytest.raises(DatasetError, match="at least 2 usable files per class .* but ai has 0"):
        check_class_counts({"human": 4, "ai": 0})


def test_feature_sets():
    assert SPECTRAL.version == "spectral-v1" and SPECTRAL.size == 62 and len(set(SPECTRAL.names)) == 62
    assert SPECTRAL.names[:4] == ("mfcc_variance", "mfcc_kurtosis", "contrast_std", "flatness_mean")
    assert SPECTRAL.names[-4:] == ("flatness_std", "flatness_p10", "flatness_p50", "flatness_p90")
    assert CLAP.version == "clap-512-v1" and CLAP.size == 512
    assert get_feature_set("clap") is CLAP and get_feature_set("spectral") is SPECTRAL
    with pytest.raises(ValueError, match="Unknown feature set"):
        get_feature_set("mfcc")
    assert resolve_feature_set("auto", clap_available=True) == (CLAP, None)
    fs, note = resolve_feature_set("auto", clap_available=False)
    assert fs is SPECTRAL and "CLAP is not available" in note
    assert resolve_feature_set("spectral", clap_available=True) == (SPECTRAL, None)
    with pytest.raises(FeatureSetUnavailable, match="needs the CLAP layer"):
        resolve_feature_set("clap", clap_available=False)
    assert cache_key(SPECTRAL) == "spectral-v1"
    assert cache_key(CLAP, "f" * 64) == "clap-512-v1@" + "f" * 16
    with pytest.raises(ValueError, match="per checkpoint"):
        cache_key(CLAP)
