"""The multi-label report: per-class AP/AUC as scikit-learn, mAP as kclass.metrics (evaluate's)."""

import csv
import json

import numpy as np
import pytest
from sklearn import metrics as skm

from kclass import metrics
from kclass.report import multi_label


def test_per_class_table_and_curves(tmp_path):
    rng = np.random.default_rng(0)
    labels = (rng.random((80, 4)) < 0.4).astype(np.float32)
    labels[:, 3] = 0  # a class without positives: AP/AUC undefined
    scores = np.clip(labels * 0.3 + rng.random((80, 4)) * 0.7, 0, 1)
    names = ["sky", "sea", "tree", "never"]
    report = multi_label.write(str(tmp_path), labels, scores, names)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["per_class.csv", "pr_curves.png", "report.json"]
    assert json.loads((tmp_path / "report.json").read_text()) == report
    with open(tmp_path / "per_class.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["name"] for r in rows] == names
    for c in range(3):
        assert float(rows[c]["ap"]) == pytest.approx(skm.average_precision_score(labels[:, c], scores[:, c]))
        assert float(rows[c]["auc"]) == pytest.approx(skm.roc_auc_score(labels[:, c], scores[:, c]))
        assert int(rows[c]["positives"]) == labels[:, c].sum()
    assert rows[3]["ap"] == "nan" and report["per_class"][3]["ap"] is None
    assert report["mAP"] == metrics.multilabel_report(labels, scores)["mAP"]
    assert report["classes_without_positive"] == 1 and report["thresholds"] == 0.5


def test_precision_recall_curve_sums_to_average_precision():
    rng = np.random.default_rng(3)
    y, s = rng.random(50) < 0.3, np.round(rng.random(50), 1)  # rounded: ties
    precision, recall, cut = metrics.precision_recall_curve(y, s)
    assert np.sum(np.diff(np.r_[0, recall]) * precision) == pytest.approx(skm.average_precision_score(y, s))
    sk_p, sk_r, sk_t = skm.precision_recall_curve(y, s)
    np.testing.assert_allclose(cut[::-1], sk_t[-len(cut):])
    np.testing.assert_allclose(precision[::-1], sk_p[:-1][-len(cut):])
