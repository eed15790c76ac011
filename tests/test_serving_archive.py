"""A training set uploaded as a zip: unpacked only when safe, into a fresh folder, and removed afterwards."""

from __future__ import annotations

import io
import stat
import zipfile

import pytest
from conftest import encode, noise, tone

from detector.serving import ArchiveError, ZipLimits, extract_dataset, extracted_dataset, remove_stale
from detector.serving.archive import MIB, PREFIX
from detector.training import load_dataset

WAV = encode(tone(440.0, 0.2) + noise(0.2, amp=0.05))


def _zip(members: dict, *, links=(), compression=zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = compression
            if name in links:
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, data)
    return out.getvalue()


def _left(parent):
    return sorted(p.name for p in parent.iterdir()) if parent.exists() else []


def test_a_zip_of_human_and_ai_unpacks_into_a_fresh_folder(tmp_path):
    data = _zip({"human/a.wav": WAV, "human/deep/b.flac": WAV, "ai/c.mp3": WAV, "ai/notes.txt": b"hi",
                 "README.md": b"x", "__MACOSX/ai/._c.mp3": b"junk", "ai/.DS_Store": b"junk", "human/": b""})
    found = extract_dataset(data, tmp_path / "uploads")
    assert found.folder.parent == tmp_path / "uploads" and found.folder.name.startswith(PREFIX)
    assert found.files == 3 and set(found.left_out) == {"ai/notes.txt", "README.md", "__MACOSX/ai/._c.mp3",
                                                         "ai/.DS_Store"}
    assert (found.folder / "human" / "deep" / "b.flac").read_bytes() == WAV
    dataset = load_dataset(found.folder)
    assert dataset.counts() == {"human": 2, "ai": 1}


def test_one_wrapping_folder_is_fine(tmp_path):
    found = extract_dataset(_zip({"my set/human/a.wav": WAV, "my set/ai/b.wav": WAV}), tmp_path)
    assert (found.folder / "human" / "a.wav").is_file() and (found.folder / "ai" / "b.wav").is_file()


@pytest.mark.parametrize(("members", "says"), [
    ({"/etc/human/a.wav": WAV, "ai/b.wav": WAV}, "absolute path"),
    ({"C:/human/a.wav": WAV, "ai/b.wav": WAV}, "absolute path"),
    ({"human/../../escape.wav": WAV, "ai/b.wav": WAV}, "climbs out of its folder"),
    ({"human\\..\\..\\escape.wav": WAV, "ai/b.wav": WAV}, "climbs out of its folder"),
    ({"human/a.wav": WAV, "HUMAN/../human/a.wav": WAV, "ai/b.wav": WAV}, "climbs out"),
    ({"human/a.wav": WAV, "./human/a.wav": WAV, "ai/b.wav": WAV}, "lists './human/a.wav' twice"),
    ({"human/a.wav": WAV}, "needs audio files under both human/ and ai/"),
    ({"notes.txt": b"x"}, "needs audio files under both human/ and ai/"),
])
def test_unsafe_or_unusable_archives_are_refused_whole(tmp_path, members, says):
    with pytest.raises(ArchiveError, match=says.replace("(", r"\(")):
        extract_dataset(_zip(members), tmp_path / "uploads")
    assert _left(tmp_path / "uploads") == []  # nothing unpacked


def test_symbolic_links_and_encrypted_members_are_refused(tmp_path):
    linked = _zip({"human/a.wav": "/etc/passwd", "ai/b.wav": WAV}, links={"human/a.wav"})
    with pytest.raises(ArchiveError, match="symbolic link, 'human/a.wav'; links are refused"):
        extract_dataset(linked, tmp_path)
    locked = bytearray(_zip({"human/a.wav": WAV, "ai/b.wav": WAV}))
    central = locked.rindex(b"PK\x01\x02")  # the central directory's entry of ai/b.wav
    locked[central + 8] |= 0x1  # its "encrypted" flag, as a password-protected zip sets it
    locked = bytes(locked)
    with pytest.raises(ArchiveError, match="is encrypted"):
        extract_dataset(locked, tmp_path)
    assert _left(tmp_path) == []


def test_not_a_zip_is_said_in_words(tmp_path):
    with pytest.raises(ArchiveError, match="The upload is not a readable zip archive"):
        extract_dataset(b"PK\x03\x04 but not really", tmp_path)


def test_size_and_count_limits(tmp_path):
    many = _zip({**{f"human/{i}.wav": WAV for i in range(6)}, "ai/b.wav": WAV})
    with pytest.raises(ArchiveError, match="lists 7 members; at most 5 are accepted"):
        extract_dataset(many, tmp_path, limits=ZipLimits(max_members=5))
    big = _zip({"human/a.wav": WAV * 40, "ai/b.wav": WAV})
    with pytest.raises(ArchiveError, match="one file may be at most"):
        extract_dataset(big, tmp_path, limits=ZipLimits(max_file_bytes=len(WAV) * 10))
    with pytest.raises(ArchiveError, match="a training set may be at most"):
        extract_dataset(big, tmp_path, limits=ZipLimits(max_total_bytes=len(WAV) * 20))
    with pytest.raises(ArchiveError, match="not enough free disk space"):
        extract_dataset(big, tmp_path, limits=ZipLimits(min_free_bytes=2**62))
    assert _left(tmp_path) == []


def test_a_zip_bomb_is_refused_before_anything_is_written(tmp_path):
    bomb = _zip({"human/a.wav": bytes(64 * MIB), "ai/b.wav": WAV})
    assert len(bomb) < MIB
    with pytest.raises(ArchiveError, match="looks like a zip bomb"):
        extract_dataset(bomb, tmp_path)
    assert _left(tmp_path) == []


def test_a_header_that_understates_a_size_does_not_get_more_written(tmp_path):
    data = bytearray(_zip({"human/a.wav": WAV, "ai/b.wav": WAV}, compression=zipfile.ZIP_STORED))
    central = data.index(b"PK\x01\x02")  # the central directory's first entry: human/a.wav
    data[central + 24:central + 28] = (100).to_bytes(4, "little")  # claims 100 bytes uncompressed
    with pytest.raises(ArchiveError, match="could not be unpacked .* it may be damaged"):
        extract_dataset(bytes(data), tmp_path / "uploads")
    assert _left(tmp_path / "uploads") == []  # the half-written folder is gone


def test_the_unpacked_folder_lives_only_for_the_with_block(tmp_path):
    data = _zip({"human/a.wav": WAV, "ai/b.wav": WAV})
    with extracted_dataset(data, tmp_path) as found:
        assert (found.folder / "ai" / "b.wav").is_file()
    assert not found.folder.exists()
    with pytest.raises(RuntimeError):
        with extracted_dataset(data, tmp_path) as found:
            raise RuntimeError("training failed")
    assert _left(tmp_path) == []


def test_stale_unpacked_uploads_are_cleared(tmp_path):
    import os

    old, fresh, other = tmp_path / f"{PREFIX}old", tmp_path / f"{PREFIX}fresh", tmp_path / "keep-me"
    for folder in (old, fresh, other):
        folder.mkdir()
    os.utime(old, (0, 0))
    os.utime(other, (0, 0))
    assert remove_stale(tmp_path) == 1
    assert _left(tmp_path) == sorted([fresh.name, other.name])
