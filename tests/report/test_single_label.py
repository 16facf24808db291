"""The single-label report's files agree with each other and with counts made here."""

import csv
import json

import numpy as np
import pytest
from sklearn import metrics as skm

from kclass.report import single_label


def _rows(n=60, c=4, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, c, n)
    logits = rng.normal(size=(n, c))
    logits[np.arange(n), labels] += 1.5
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return labels, probs.argmax(1), probs


def _images(tmp_path, n):
    from PIL import Image
    paths = []
    for i in range(n):
        paths.append(str(tmp_path / f"{i}.png"))
        Image.fromarray(np.full((6, 6, 3), i % 256, np.uint8)).save(paths[-1])
    return paths


def _csv(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_report_files_and_numbers(tmp_path):
    labels, pred, probs = _rows()
    names = ["cat", "dog, small", "car", "ship"]
    out = tmp_path / "report"
    report = single_label.write(str(out), labels, pred, probs, names, _images(tmp_path, len(labels)))
    assert sorted(p.name for p in out.iterdir()) == sorted(report["files"]) == sorted(
        ["confusion_matrix.csv", "confusion_matrix.png", "per_class.csv", "reliability_diagram.png",
         "most_confused.png", "report.json"])
    assert json.loads((out / "report.json").read_text()) == report

    table = _csv(out / "confusion_matrix.csv")
    assert table[0] == ["true \\ predicted", *names] and [r[0] for r in table[1:]] == names
    np.testing.assert_array_equal(np.array([r[1:] for r in table[1:]], int),
                                  skm.confusion_matrix(labels, pred, labels=range(4)))

    per_class = _csv(out / "per_class.csv")
    assert per_class[0] == ["id", "name", "precision", "recall", "f1", "support"]
    p, r, f, s = skm.precision_recall_fscore_support(labels, pred, labels=range(4), zero_division=0)
    np.testing.assert_allclose(np.array([row[2:5] for row in per_class[1:]], float), np.c_[p, r, f])
    assert [int(row[5]) for row in per_class[1:]] == s.tolist() and per_class[2][1] == "dog, small"

    assert report["top1"] == pytest.approx(np.mean(labels == pred)) and report["images"] == 60
    assert report["recall_macro"] == pytest.approx(skm.recall_score(labels, pred, average="macro"))
    assert report["f1_macro"] == pytest.approx(skm.f1_score(labels, pred, average="macro"))
    assert report["ece_bins"] == 15 and len(report["reliability"]) == 15
    assert sum(b["count"] for b in report["reliability"]) == 60
    assert report["worst_recall"][0]["recall"] == pytest.approx(r.min())

    wrong = np.nonzero(labels != pred)[0]
    shown = report["confident_mistakes"]
    assert len(shown) == min(24, len(wrong))
    confidence = [m["confidence"] for m in shown]
    assert confidence == sorted(confidence, reverse=True)
    first = shown[0]["index"]
    assert labels[first] != pred[first] and confidence[0] == pytest.approx(probs[wrong].max(1).max())
    assert shown[0]["image"].endswith(f"/{first}.png") and shown[0]["true"] == names[labels[first]]


def test_without_paths_there_is_no_gallery(tmp_path):
    labels, pred, probs = _rows(20, 3)
    report = single_label.write(str(tmp_path), labels, pred, probs, ["a", "b", "c"])
    assert "most_confused.png" not in report["files"] and not (tmp_path / "most_confused.png").exists()
    assert all(m["image"] is None for m in report["confident_mistakes"])
