import os

import numpy as np
import pytest

from kclass.data import lists
from kclass.errors import DataError


def _tree(tmp_path, names=("a.png", "b.png", "c.png")):
    for name in names:
        (tmp_path / name).write_bytes(b"\x89PNG\r\n\x1a\n")  # the magic is all the list check reads
    return tmp_path


def test_reads_single_label_list_with_bom_and_crlf(tmp_path):
    _tree(tmp_path)
    (tmp_path / "list.txt").write_bytes("\ufeffa.png 0\r\nb.png 2\r\n\r\n".encode("utf-8"))
    samples = lists.read_list(str(tmp_path / "list.txt"), str(tmp_path), num_classes=3)
    assert [os.path.basename(p) for p in samples.paths] == ["a.png", "b.png"]
    np.testing.assert_array_equal(samples.labels, [0, 2])


def test_reports_every_bad_line_with_file_and_line(tmp_path):
    _tree(tmp_path)
    (tmp_path / "list.txt").write_text("a.png 0\nmissing.png 1\nb.png cat\nc.png 5\nonlypath\n")
    with pytest.raises(DataError) as err:
        lists.read_list(str(tmp_path / "list.txt"), str(tmp_path), num_classes=3)
    text = str(err.value)
    assert "list.txt:2: image not found" in text
    assert "list.txt:3: label 'cat' is not an integer" in text
    assert "list.txt:4: label 5 out of range [0, 3)" in text
    assert "list.txt:5: expected 'path label_id'" in text
    assert "list.txt:1" not in text


def test_multilabel_flags_are_checked(tmp_path):
    _tree(tmp_path)
    (tmp_path / "ml.txt").write_text("a.png\t0,1,1\nb.png\t0,1\nc.png\t0,2,1\n")
    with pytest.raises(DataError) as err:
        lists.read_list(str(tmp_path / "ml.txt"), str(tmp_path), num_classes=3, multilabel=True)
    assert "ml.txt:2: 2 label flags, expected NUM_CLASSES=3" in str(err.value)
    assert "ml.txt:3: label flags must be 0 or 1" in str(err.value)
    (tmp_path / "ok.txt").write_text("a.png\t0,1,1\n")
    samples = lists.read_list(str(tmp_path / "ok.txt"), str(tmp_path), 3, multilabel=True)
    np.testing.assert_array_equal(samples.labels, [[0, 1, 1]])


def test_class_per_folder_tree(tmp_path):
    for cls in ("dog", "cat"):
        (tmp_path / cls).mkdir()
        _tree(tmp_path / cls, ("1.jpg", "2.png", "notes.txt"))
    samples = lists.read_samples(str(tmp_path), None, num_classes=2)
    assert len(samples) == 4
    np.testing.assert_array_equal(samples.labels, [0, 0, 1, 1])  # cat=0, dog=1: sorted names
    with pytest.raises(DataError, match="2 class folders but NUM_CLASSES=1"):
        lists.read_samples(str(tmp_path), None, num_classes=1)


def test_label_names(tmp_path):
    (tmp_path / "label_list.txt").write_text("0 apple\n1 aquarium fish\n")
    assert lists.read_label_names(str(tmp_path / "label_list.txt")) == ["apple", "aquarium fish"]


def test_bad_files_duplicates_and_escapes_are_reported(tmp_path):
    import tensorflow as tf
    root = tmp_path / "root"
    root.mkdir()
    (root / "ok.png").write_bytes(tf.io.encode_png(tf.zeros([2, 2, 3], tf.uint8)).numpy())
    (root / "empty.jpg").write_bytes(b"")
    (root / "notes.png").write_text("hello")
    (tmp_path / "outside.png").write_bytes((root / "ok.png").read_bytes())
    (root / "list.txt").write_text("ok.png 0\nempty.jpg 0\nnotes.png 1\n../outside.png 1\nok.png 1\n/etc/passwd 0\n")
    with pytest.raises(DataError) as err:
        lists.read_list(str(root / "list.txt"), str(root), num_classes=2)
    text = str(err.value)
    assert "list.txt:2: empty file (0 bytes)" in text
    assert "list.txt:3: not a JPEG/PNG/BMP/GIF image" in text
    assert "list.txt:4: path '../outside.png' leaves the dataset root" in text
    assert "list.txt:5: duplicate of line 1 (ok.png)" in text
    assert "list.txt:6: path '/etc/passwd' leaves the dataset root" in text


def test_empty_list(tmp_path):
    (tmp_path / "list.txt").write_text("\n\n")
    with pytest.raises(DataError, match="list.txt: no images listed"):
        lists.read_list(str(tmp_path / "list.txt"), str(tmp_path), num_classes=2)


def test_read_list_paths_ignores_labels_of_every_line_kind(tmp_path):
    (tmp_path / "list.txt").write_bytes("\ufeffa.png 3\r\nmy photo.png\n\nb.png\t0,1,0\nc d.png -1\n".encode("utf-8"))
    paths = lists.read_list_paths(str(tmp_path / "list.txt"))
    assert paths == [str(tmp_path / name) for name in ("a.png", "my photo.png", "b.png", "c d.png")]
    assert lists.read_list_paths(str(tmp_path / "list.txt"), "/data")[0] == "/data/a.png"
