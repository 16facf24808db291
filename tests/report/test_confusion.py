"""Confusion matrix and per-class scores, against scikit-learn and hand counts."""

import numpy as np
import pytest
from sklearn import metrics as skm

from kclass.report import confusion

LABELS = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 3])
PRED = np.array([0, 1, 1, 1, 1, 2, 0, 2, 1, 1])  # class 3 never predicted; class 4 neither seen nor predicted


def test_rows_are_true_classes_and_columns_predictions():
    cm = confusion.confusion_matrix(LABELS, PRED, 5)
    assert cm.tolist() == [[1, 2, 0, 0, 0],
                           [0, 2, 0, 0, 0],
                           [1, 1, 2, 0, 0],
                           [0, 1, 0, 0, 0],
                           [0, 0, 0, 0, 0]]
    np.testing.assert_array_equal(cm, skm.confusion_matrix(LABELS, PRED, labels=range(5)))


def test_per_class_scores_match_sklearn_with_zero_division_0():
    scores = confusion.per_class(confusion.confusion_matrix(LABELS, PRED, 5))
    p, r, f, s = skm.precision_recall_fscore_support(LABELS, PRED, labels=range(5), zero_division=0)
    np.testing.assert_allclose(scores["precision"], p)
    np.testing.assert_allclose(scores["recall"], r)
    np.testing.assert_allclose(scores["f1"], f)
    np.testing.assert_array_equal(scores["support"], s)
    # By hand: class 1 is predicted 6 times, right twice; class 3 is never predicted.
    assert scores["precision"][1] == pytest.approx(2 / 6) and scores["recall"][1] == 1.0
    assert scores["precision"][3] == scores["recall"][3] == scores["f1"][3] == 0.0


def test_macro_skips_classes_neither_seen_nor_predicted_as_sklearn():
    got = confusion.macro(confusion.confusion_matrix(LABELS, PRED, 5))
    for name, average in (("precision", 0), ("recall", 1), ("f1", 2)):
        want = skm.precision_recall_fscore_support(LABELS, PRED, average="macro", zero_division=0)[average]
        assert got[f"{name}_macro"] == pytest.approx(want)
    assert got["recall_macro"] == pytest.approx((1 / 3 + 1 + 2 / 4 + 0) / 4)


def test_most_confused_are_the_largest_off_diagonal_cells():
    cm = confusion.confusion_matrix(LABELS, PRED, 5)
    pairs = confusion.most_confused(cm, 3)
    assert [(p["true"], p["predicted"], p["count"]) for p in pairs] == [(0, 1, 2), (2, 0, 1), (2, 1, 1)]
    assert pairs[0]["share_of_true"] == pytest.approx(2 / 3)
    assert len(confusion.most_confused(cm, 100)) == 4  # zero cells are not "confusions"
    assert confusion.most_confused(np.eye(3, dtype=int) * 5) == []
