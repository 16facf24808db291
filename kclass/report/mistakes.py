"""The mistakes a model makes with the most confidence: the first images to look at."""

import numpy as np


def confident_mistakes(labels, pred, confidence, count: int = 16) -> np.ndarray:
    """Indices int64 [<= count] of wrong predictions, most confident first (ties: lower index)."""
    labels, pred = np.asarray(labels), np.asarray(pred)
    wrong = np.nonzero(labels != pred)[0]
    order = np.argsort(-np.asarray(confidence, np.float64)[wrong], kind="stable")
    return wrong[order][:count].astype(np.int64)
