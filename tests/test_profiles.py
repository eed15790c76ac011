"""Named profiles on disk and the compact profile token in URLs."""

import base64
import json
import zlib

import pytest

from detector import ProfileError, Thresholds
from detector.history.profiles import MAX_QUERY_CHARS, ProfileLibrary, check_name, from_query, to_query


def test_defaults_need_no_token_and_a_change_round_trips():
    assert to_query(Thresholds()) is None
    t = Thresholds(decision=0.6).with_rule("mfcc_variance", ai_threshold=1500.0, human_threshold=4000.0)
    token = to_query(t)
    assert len(token) < 200 and from_query(token) == t


def _token(raw: bytes) -> str:
    return base64.urlsafe_b64encode(zlib.compress(raw)).decode()


@pytest.mark.parametrize("token, message", [
    ("!!!not base64!!!", "damaged"),
    (_token(b"hello world"), "damaged"),  # not JSON
    (_token(b"[1, 2]"), "not a set of thresholds"),
    ("x" * (MAX_QUERY_CHARS + 1), "too long"),
])
def test_bad_tokens_are_refused_with_a_message(token, message):
    with pytest.raises(ProfileError, match=message):
        from_query(token)


def test_a_token_with_bad_numbers_is_validated():
    with pytest.raises(ProfileError, match="must not be above"):  # above human_threshold 200
        from_query(_token(json.dumps({"mfcc_variance": {"ai_threshold": 500.0}}).encode()))
    with pytest.raises(ProfileError, match="Unknown key"):
        from_query(_token(json.dumps({"nonsense": 1}).encode()))


def test_library_save_load_list_delete(tmp_path):
    lib = ProfileLibrary(tmp_path)
    assert lib.names() == []
    t = Thresholds(base=0.45)
    lib.save("club mixes", t)
    lib.save("default", Thresholds())
    assert lib.names() == ["club mixes", "default"]
    assert lib.load("club mixes") == t
    lib.delete("club mixes")
    assert lib.names() == ["default"]
    with pytest.raises(ProfileError, match="no saved profile"):
        lib.load("club mixes")
    assert not list(tmp_path.glob(".profile-*"))  # no temp files left


@pytest.mark.parametrize("name", ["", " ", "../etc/passwd", "a/b", ".hidden", "x" * 65, "name."])
def test_unsafe_names_are_refused(name):
    with pytest.raises(ProfileError, match="profile name"):
        check_name(name)
