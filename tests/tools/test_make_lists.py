"""tools/make_lists.py on class-per-folder trees the test writes (file contents do not matter to it)."""

import os
import subprocess
import sys

import pytest

from kclass.data import lists
from tests.clitools import ROOT

TOOL = os.path.join(ROOT, "tools", "make_lists.py")
SIZES = {"cat": 20, "dog": 7, "eel": 2, "fox": 1}


def _tree(root, sizes=SIZES):
    for name, n in sizes.items():
        os.makedirs(root / name)
        for i in range(n):
            (root / name / f"{i:03d}.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes([i]))
    return root


def _run(*args):
    return subprocess.run([sys.executable, TOOL, *map(str, args)], capture_output=True, text=True, timeout=120)


def _lines(path):
    return path.read_text().splitlines()


def test_stratified_split_paddleclas_lists(tmp_path):
    root = _tree(tmp_path / "data")
    done = _run(root, "--val", "0.25", "--seed", "3")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("22 train and 8 val images of 4 classes")
    assert _lines(root / "label_list.txt") == ["0 cat", "1 dog", "2 eel", "3 fox"]
    train, val = _lines(root / "train_list.txt"), _lines(root / "val_list.txt")
    # per class: round(n / 4), at least one when n >= 2, never the whole class
    per_class = {name: sum(line.startswith(name + "/") for line in val) for name in SIZES}
    assert per_class == {"cat": 5, "dog": 2, "eel": 1, "fox": 0}
    assert sorted(train + val) == sorted(f"{name}/{i:03d}.png {label}" for label, (name, n) in
                                         enumerate(SIZES.items()) for i in range(n))
    assert train == sorted(train, key=lambda line: (int(line.rsplit(" ", 1)[1]), line))  # class, then file
    # kclass reads them back, relative to the folder, with the tree's class ids
    samples = lists.read_list(str(root / "val_list.txt"), str(root), num_classes=4)
    assert samples.paths[0] == os.path.join(str(root), val[0].split(" ")[0])


def test_same_seed_same_lists_other_seed_other_split(tmp_path):
    root = _tree(tmp_path / "data")
    runs = {}
    for seed, out in ((1, "a"), (1, "b"), (2, "c")):
        assert _run(root, "--val", "0.3", "--seed", seed, "--out", tmp_path / out).returncode == 0
        runs[out] = _lines(tmp_path / out / "val_list.txt")
    assert runs["a"] == runs["b"]
    assert runs["a"] != runs["c"]
    assert not (root / "val_list.txt").exists()  # --out: the tree is left as it was


def test_one_class_split_does_not_depend_on_the_others(tmp_path):
    a = _tree(tmp_path / "a")
    b = _tree(tmp_path / "b", dict(SIZES, dog=30))
    for root in (a, b):
        assert _run(root, "--seed", "0").returncode == 0
    cats = [[line for line in _lines(root / "val_list.txt") if line.startswith("cat/")] for root in (a, b)]
    assert cats[0] == cats[1] and len(cats[0]) == 2  # default --val 0.1


@pytest.mark.parametrize("args, message", [
    (["--val", "0"], "--val 0.0: expected a fraction strictly between 0 and 1"),
    (["--val", "1"], "--val 1.0: expected a fraction strictly between 0 and 1"),
])
def test_bad_val_is_one_line(tmp_path, args, message):
    done = _run(_tree(tmp_path / "data"), *args)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"kclass: error: {message} (e.g. 0.1)"]


def test_empty_or_classless_folders_are_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    done = _run(tmp_path / "empty")
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [
        f"kclass: error: {tmp_path / 'empty'}: no class sub-folders"]
    (tmp_path / "noimages" / "cat").mkdir(parents=True)
    done = _run(tmp_path / "noimages")
    assert done.returncode == 2 and "no images" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    done = _run(tmp_path / "absent")
    assert done.returncode == 2
    assert done.stderr.strip() == f"kclass: error: {tmp_path / 'absent'}: image folder not found"
