"""kclass.atomic_write: the old or the new version, never half of one, and no temp names left behind."""

import os

import pytest

from kclass import atomic_write


def test_file_keeps_the_old_content_when_the_writer_fails(tmp_path):
    path = tmp_path / "model.weights.h5"
    atomic_write.text(str(path), "old")
    with pytest.raises(RuntimeError), atomic_write.file(str(path)) as tmp:
        assert tmp.endswith("-model.weights.h5") and os.path.dirname(tmp) == str(tmp_path)
        with open(tmp, "w") as f:
            f.write("half")
        raise RuntimeError("killed")
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["model.weights.h5"]
    with atomic_write.file(str(path)) as tmp, open(tmp, "w") as f:
        f.write("new")
    assert path.read_text() == "new" and os.listdir(tmp_path) == ["model.weights.h5"]


def test_text_creates_missing_folders(tmp_path):
    atomic_write.text(str(tmp_path / "a" / "b" / "lists.txt"), "x 0\n")
    assert (tmp_path / "a" / "b" / "lists.txt").read_text() == "x 0\n"


def _fill(folder, name):
    with open(os.path.join(folder, name), "w") as f:
        f.write(name)


def test_directory_appears_whole_or_not_at_all(tmp_path):
    final = tmp_path / "1"
    with pytest.raises(RuntimeError), atomic_write.directory(str(final)) as tmp:
        _fill(tmp, "saved_model.pb")
        raise RuntimeError("export failed")
    assert os.listdir(tmp_path) == []
    with atomic_write.directory(str(final)) as tmp:
        assert os.path.basename(tmp).startswith(".")  # TF-Serving loads all-digit names only
        _fill(tmp, "saved_model.pb")
    assert os.listdir(final) == ["saved_model.pb"] and os.listdir(tmp_path) == ["1"]


def test_directory_on_an_existing_target_fails_replaces_or_keeps(tmp_path):
    final = tmp_path / "data"
    final.mkdir()
    _fill(str(final), "old")
    with pytest.raises(FileExistsError), atomic_write.directory(str(final)) as tmp:
        _fill(tmp, "new")
    assert os.listdir(final) == ["old"]
    with atomic_write.directory(str(final), keep_existing=lambda p: True, replace=True) as tmp:
        _fill(tmp, "new")
    assert os.listdir(final) == ["old"]
    with atomic_write.directory(str(final), keep_existing=lambda p: False, replace=True) as tmp:
        _fill(tmp, "new")
    assert os.listdir(final) == ["new"] and os.listdir(tmp_path) == ["data"]
