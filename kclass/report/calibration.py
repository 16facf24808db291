"""Calibration: does a confidence of 0.9 mean right 90% of the time?"""

from typing import Dict

import numpy as np


def reliability_bins(confidence, correct, bins: int = 15) -> Dict[str, np.ndarray]:
    """Equal-width confidence bins (lower, upper] over [0, 1]; confidence float [N], correct bool [N].

    Returns lower, upper float64 [B]; count int64 [B]; confidence and accuracy float64 [B], the means
    of the bin's images (0 in an empty bin).
    """
    confidence = np.asarray(confidence, np.float64)
    correct = np.asarray(correct, np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    # Counting the inner edges strictly below a confidence puts it in bin (edge[b], edge[b + 1]].
    which = np.searchsorted(edges[1:-1], confidence, side="left")
    count = np.bincount(which, minlength=bins)
    safe = np.maximum(count, 1)
    return {"lower": edges[:-1], "upper": edges[1:], "count": count,
            "confidence": np.bincount(which, confidence, bins) / safe,
            "accuracy": np.bincount(which, correct, bins) / safe}


def expected_calibration_error(confidence, correct, bins: int = 15) -> float:
    """ECE: sum over bins of |B|/N * |accuracy(B) - mean confidence(B)| (Guo et al. 2017, 15 bins)."""
    b = reliability_bins(confidence, correct, bins)
    total = b["count"].sum()
    if total == 0:
        return 0.0
    return float(np.sum(b["count"] / total * np.abs(b["accuracy"] - b["confidence"])))
