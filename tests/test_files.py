"""detector.files and detector.types: atomic writes, hashing, the progress protocol, the error root."""

import hashlib
import os
import stat

import pytest

from detector import AudioError, DetectorError, ProfileError
from detector.files import atomic_write, atomic_write_text, sha256_file
from detector.history import StoreError
from detector.layers.clap import ClapUnavailable
from detector.layers.classifier import ModelError
from detector.training import DatasetError
from detector.types import progress_span


def test_atomic_write_replaces_whole_and_readable(tmp_path):
    path = tmp_path / "sub" / "card.json"
    atomic_write_text(path, "old")
    atomic_write_text(path, "new")
    assert path.read_text() == "new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # not mkstemp's 0600
    assert sorted(p.name for p in path.parent.iterdir()) == ["card.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "model.skops"
    path.write_text("old")

    def fail(tmp):
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, fail)
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["model.skops"]


def test_sha256_file_matches_hashlib(tmp_path):
    data = os.urandom(3 * 2**20 + 5)
    (tmp_path / "x").write_bytes(data)
    assert sha256_file(tmp_path / "x") == hashlib.sha256(data).hexdigest()


def test_progress_span_maps_a_sub_task_onto_its_share():
    calls = []
    part = progress_span(lambda f, m: calls.append((f, m)), 0.2, 0.6)
    part(0.0, "a")
    part(0.5, "b")
    part(1.5, "c")  # clamped: a sub-task never overruns its share
    assert calls == [(0.2, "a"), (pytest.approx(0.4), "b"), (pytest.approx(0.6), "c")]
    progress_span(None, 0, 1)(0.5, "nowhere")  # no callback: nothing to call


def test_every_user_facing_error_is_a_detector_error():
    for cls in (AudioError, ProfileError, StoreError, ModelError, ClapUnavailable, DatasetError):
        assert issubclass(cls, DetectorError), cls
    assert issubclass(AudioError, ValueError) and issubclass(StoreError, RuntimeError)  # as before
