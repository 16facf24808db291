"""Confusion matrix and the per-class scores read from it."""

from typing import Dict, List

import numpy as np


def confusion_matrix(labels, pred, num_classes: int) -> np.ndarray:
    """Counts int64 [C, C]: row = true class, column = predicted class; labels and pred int [N]."""
    labels, pred = np.asarray(labels, np.int64), np.asarray(pred, np.int64)
    return np.bincount(labels * num_classes + pred, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes)


def per_class(cm: np.ndarray) -> Dict[str, np.ndarray]:
    """precision, recall, f1 float64 [C] and support int64 [C] of a confusion matrix.

    A score whose denominator is 0 (a class never predicted, or absent) is 0, as scikit-learn's
    zero_division=0.
    """
    cm = np.asarray(cm, np.int64)
    tp = np.diag(cm).astype(np.float64)
    predicted, support = cm.sum(0).astype(np.float64), cm.sum(1)
    fn_fp = predicted + support  # tp + fp + tp + fn

    def ratio(num, den):
        return np.divide(num, den, out=np.zeros_like(num), where=den > 0)

    return {"precision": ratio(tp, predicted), "recall": ratio(tp, support.astype(np.float64)),
            "f1": ratio(2 * tp, fn_fp), "support": support}


def macro(cm: np.ndarray) -> Dict[str, float]:
    """Macro precision/recall/F1 over the classes that occur as a label or a prediction (the classes
    scikit-learn's average='macro' sees; a class absent from both says nothing about the model)."""
    cm = np.asarray(cm)
    seen = (cm.sum(0) + cm.sum(1)) > 0
    scores = per_class(cm)
    return {f"{k}_macro": float(scores[k][seen].mean()) if seen.any() else 0.0
            for k in ("precision", "recall", "f1")}


def most_confused(cm: np.ndarray, count: int = 10) -> List[Dict[str, float]]:
    """The `count` largest off-diagonal cells, largest first (ties: lower true, then predicted id):
    [{"true": id, "predicted": id, "count": n, "share_of_true": n / support}], zero cells left out."""
    cm = np.asarray(cm, np.int64)
    off = cm.copy()
    np.fill_diagonal(off, 0)
    order = np.argsort(-off, axis=None, kind="stable")[:count]
    support = cm.sum(1)
    pairs = []
    for flat in order:
        true, predicted = divmod(int(flat), cm.shape[1])
        if off[true, predicted] == 0:
            break
        pairs.append({"true": true, "predicted": predicted, "count": int(off[true, predicted]),
                      "share_of_true": float(off[true, predicted] / support[true])})
    return pairs
