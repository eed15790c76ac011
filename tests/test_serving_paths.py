"""No browser input makes a shared server read outside its data root: ``..``, absolute paths, links out."""

from __future__ import annotations

from pathlib import Path

import pytest

from detector.serving import PathRefused, confine, dataset_folder, dataset_folders, hide_folder, resolve_under
from detector.training import load_dataset


@pytest.fixture
def layout(tmp_path):
    """A data root with two training sets, and a secret folder beside it."""
    root = tmp_path / "root"
    for name in ("set-a", "nested/set-b"):
        for label in ("human", "ai"):
            (root / name / label).mkdir(parents=True)
            (root / name / label / f"{label}.wav").write_bytes(b"RIFF")
    (root / "notes").mkdir()
    secret = tmp_path / "secret"
    (secret / "human").mkdir(parents=True)
    (secret / "ai").mkdir()
    (secret / "human" / "unreleased.wav").write_bytes(b"RIFF")
    (secret / "ai" / "x.wav").write_bytes(b"RIFF")
    return root, secret


def test_a_folder_inside_the_root_resolves(layout):
    root, _ = layout
    assert resolve_under(root, "set-a") == (root / "set-a").resolve()
    assert resolve_under(root, " nested/set-b/ ") == (root / "nested" / "set-b").resolve()
    assert resolve_under(root, "./set-a") == (root / "set-a").resolve()
    assert resolve_under(root, ".") == root.resolve()


@pytest.mark.parametrize(("typed", "says"), [
    ("", "Choose a folder inside the data root"),
    ("../secret", "goes up out of its folder"),
    ("set-a/../../secret", "goes up out of its folder"),
    ("nested/..", "goes up out of its folder"),
    ("..\\secret", "goes up out of its folder"),
    ("/etc", "is an absolute path"),
    ("//server/share", "is an absolute path"),
    ("C:\\Windows", "is an absolute path"),
    ("~/secret", "is an absolute path"),
    ("~root", "is an absolute path"),
    ("set-a\0", "NUL"),
    ("no-such-folder", "There is no 'no-such-folder' in the data root"),
])
def test_paths_that_leave_or_miss_the_root_are_refused(layout, typed, says):
    root, _ = layout
    with pytest.raises(PathRefused, match=says.replace("(", r"\(")) as refused:
        resolve_under(root, typed)
    assert str(root) not in str(refused.value)  # the server's folders are never named


def test_a_link_out_of_the_root_is_refused_and_a_link_inside_it_is_not(layout):
    root, secret = layout
    (root / "shortcut").symlink_to(secret, target_is_directory=True)
    (root / "nested" / "up").symlink_to(root.parent, target_is_directory=True)
    (root / "alias").symlink_to(root / "set-a", target_is_directory=True)
    for typed in ("shortcut", "shortcut/human", "nested/up/secret", "nested/up"):
        with pytest.raises(PathRefused, match="is a link to somewhere outside the data root"):
            resolve_under(root, typed)
    assert resolve_under(root, "alias") == (root / "set-a").resolve()


def test_a_root_that_is_not_a_folder_is_refused(tmp_path):
    with pytest.raises(PathRefused, match="The data root configured on this server is not a folder"):
        resolve_under(tmp_path / "gone", "x")


def test_only_training_sets_inside_the_root_are_offered(layout):
    root, secret = layout
    (root / "shortcut").symlink_to(secret, target_is_directory=True)  # has human/ and ai/, but outside
    (root / ".hidden" / "human").mkdir(parents=True)
    (root / ".hidden" / "ai").mkdir()
    assert dataset_folders(root) == ["nested/set-b", "set-a"]
    assert dataset_folders(root, limit=1) == ["nested/set-b"]
    assert dataset_folders(root / "set-a") == ["."]


def test_a_training_set_must_be_a_folder_with_both_classes(layout):
    root, _ = layout
    (root / "list.csv").write_text("path,label\n/etc/passwd,human\n")
    assert dataset_folder(root, "set-a") == (root / "set-a").resolve()
    for typed in ("notes", "list.csv", "set-a/human"):
        with pytest.raises(PathRefused, match="is not a folder with human/ and ai/ subfolders"):
            dataset_folder(root, typed)


def test_files_linked_from_outside_the_root_are_skipped_unread(layout):
    root, secret = layout
    folder = root / "set-a"
    (folder / "ai" / "leak.wav").symlink_to(secret / "human" / "unreleased.wav")
    (folder / "human" / "readme.txt").write_text("notes")
    (folder / "ai" / "linked-dir").symlink_to(secret / "ai", target_is_directory=True)
    dataset = confine(load_dataset(folder), root)
    inside = {f.path.name for f in dataset.files}
    assert "leak.wav" not in inside and "x.wav" not in inside and {"human.wav", "ai.wav"} <= inside
    skipped = {s.path: s.reason for s in dataset.skipped}
    assert skipped["ai/leak.wav"] == "a link to somewhere outside the data root (not read)"
    assert "human/readme.txt" in skipped  # named relative to the set, not by its server path
    assert all(not s.path.startswith("/") for s in dataset.skipped)


def test_messages_lose_the_server_folders():
    root = Path("/srv/data/root")
    text = "2 file(s) skipped:\n  /srv/data/root/set/human/a.wav: broken\n  /srv/data/root/set/ai/b.wav: the same " \
           "audio as /srv/data/root/set/human/a.wav"
    hidden = hide_folder(text, root / "set", root, None)
    assert "/srv" not in hidden and "  human/a.wav: broken" in hidden and "the same audio as human/a.wav" in hidden


def test_only_scans_inside_the_root_are_offered_and_only_their_files_inside_it_are_read(layout):
    from detector.serving import file_inside, scan_folders

    root, secret = layout
    for folder in (root / "scans" / "march", root / "set-a" / "out", secret / "scan"):
        folder.mkdir(parents=True)
        (folder / "part-0001-00001.parquet").write_bytes(b"PAR1")
    (root / "elsewhere").symlink_to(secret, target_is_directory=True)
    assert scan_folders(root) == ["scans/march", "set-a/out"]
    assert file_inside(root, root / "set-a" / "human" / "human.wav") == (root / "set-a" / "human" / "human.wav").resolve()
    for outside in (secret / "human" / "unreleased.wav", root / "elsewhere" / "human" / "unreleased.wav"):
        with pytest.raises(PathRefused, match="outside the data root"):
            file_inside(root, outside)
    with pytest.raises(PathRefused, match="not reachable"):
        file_inside(root, root / "gone.wav")
    with pytest.raises(PathRefused, match="outside the data root"):
        file_inside(root, root / "set-a")  # a folder is not a file
