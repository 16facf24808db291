"""python -m kclass.check_data, run as users run it, on small sets with planted problems."""

import json
import os

import pytest

from tests import clitools
from tests.data.planted import list_labels, multilabel_set, planted_set

KEYS = {"class_counts", "class_names", "imbalance_ratio", "sizes", "undecodable", "duplicates", "leaks",
        "near_leaks", "images"}


def _params(root, num_classes=None):
    root = str(root)
    params = [f"DATA_ROOT={root!r}", f"TRAIN_LIST='{root}/train_list.txt'", f"VAL_LIST='{root}/val_list.txt'",
              f"LABEL_LIST='{root}/label_list.txt'", f"MODEL_DIR='{root}/run'"]
    return params + ([f"NUM_CLASSES={num_classes}"] if num_classes else [])


@pytest.mark.slow
def test_planted_problems_json_png_and_strict(tmp_path):
    files = planted_set(tmp_path / "data")
    out = tmp_path / "report"
    done = clitools.run("check_data", "--gin_file", "gin/quick_start/demo.gin", "--json", "--out", str(out),
                        "--strict", gin_params=_params(tmp_path / "data"))
    assert done.returncode == 1, done.stderr[-2000:]
    error = done.stderr.strip().splitlines()
    assert error[-1] == ("kclass: check_data --strict: 1 train/val leak(s) (same file bytes); "
                         "2 undecodable file(s)"), done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    report = clitools.last_json(done.stdout)
    assert KEYS <= set(report)
    assert report["leaks"] == [[files["leak"], files["val_copied"]]]
    assert report["duplicates"] == [[files["original"], files["duplicate"]]]
    assert sorted(report["undecodable"]) == sorted([files["corrupt"], files["missing"]])
    assert {(t, v) for t, v, _ in report["near_leaks"]} == {
        (files["near_jpeg"], files["val_reencoded"]), (files["near_resized"], files["val_resized"])}
    assert report["class_counts"]["train"] == [4, 5, 5, 5, 5, 7]
    assert report["class_names"][5] == "stripes"
    # the console: the class table with names, and each finding with its paths
    assert "stripes" in done.stdout and f"{files['leak']} = {files['val_copied']}" in done.stdout
    with open(out / "class_counts.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    with open(out / "report.json") as f:
        assert json.load(f)["leaks"] == report["leaks"]
    assert (out / "class_counts.csv").read_text().splitlines()[1] == "0,circle,4,2"


@pytest.mark.slow
def test_clean_multilabel_lists_pass_strict_and_count_positives(tmp_path):
    root = multilabel_set(tmp_path / "ml")
    done = clitools.run("check_data", "--gin_file", "gin/quick_start/ResNet50_vd_multilabel.gin", "--json",
                        "--strict", gin_params=_params(root, num_classes=5))
    assert done.returncode == 0, done.stderr[-2000:]
    report = clitools.last_json(done.stdout)
    expected = list_labels(os.path.join(root, "train_list.txt"), multilabel=True).sum(0)
    assert report["multilabel"] and report["class_counts"]["train"] == expected.tolist()
    assert report["class_names"] == ["circle", "square", "triangle", "cross", "stripes"]
    assert report["leaks"] == report["undecodable"] == report["duplicates"] == []
    assert os.path.isfile(os.path.join(root, "run", "data_check", "class_counts.png"))  # default --out


@pytest.mark.slow
def test_a_missing_list_is_one_line(tmp_path):
    done = clitools.run("check_data", "--gin_file", "gin/quick_start/demo.gin",
                        gin_params=_params(tmp_path) + ["Experiment.prepare=None"])
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"kclass: error: {tmp_path}/train_list.txt: list file not found"]
