"""ECE and reliability bins: 15 equal-width bins (lower, upper], against a hand count and a plain loop."""

import numpy as np
import pytest

from kclass.report import calibration


def _ece_by_loop(confidence, correct, bins):
    total, n = 0.0, len(confidence)
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        members = [i for i in range(n) if (lo < confidence[i] <= hi) or (b == 0 and confidence[i] == 0)]
        if members:
            accuracy = np.mean([correct[i] for i in members])
            mean_conf = np.mean([confidence[i] for i in members])
            total += len(members) / n * abs(accuracy - mean_conf)
    return total


def test_ece_by_hand():
    # Bins of width 1/15: 0.05 -> bin 0, 0.5 -> bin 7, 0.55 -> bin 8, 0.95 and 1.0 -> bin 14.
    confidence = [0.05, 0.5, 0.55, 0.95, 1.0]
    correct = [False, True, False, True, True]
    want = (0.05 + 0.5 + 0.55 + 2 * abs(1 - 0.975)) / 5
    assert calibration.expected_calibration_error(confidence, correct) == pytest.approx(want)
    bins = calibration.reliability_bins(confidence, correct)
    assert np.nonzero(bins["count"])[0].tolist() == [0, 7, 8, 14]
    assert bins["count"][14] == 2 and bins["accuracy"][14] == 1.0 and bins["confidence"][14] == pytest.approx(0.975)


def test_ece_matches_a_plain_loop_on_random_data():
    rng = np.random.default_rng(1)
    confidence = rng.uniform(0.1, 1.0, 500)
    correct = rng.random(500) < confidence ** 2  # overconfident
    got = calibration.expected_calibration_error(confidence, correct)
    assert got == pytest.approx(_ece_by_loop(confidence, correct, 15), abs=1e-12)
    assert got > 0.05


def test_bin_edges_belong_to_the_lower_bin_and_one_to_the_last():
    bins = calibration.reliability_bins([1 / 3, 1.0, 0.0], [True, True, False])
    assert bins["count"].tolist() == [1, 0, 0, 0, 1] + [0] * 9 + [1]  # (4/15, 5/15] holds 1/3


def test_perfectly_calibrated_bins_give_zero():
    confidence = np.repeat([0.2, 0.6, 1.0], 10)
    correct = np.r_[[1] * 2 + [0] * 8, [1] * 6 + [0] * 4, [1] * 10].astype(bool)
    assert calibration.expected_calibration_error(confidence, correct) == pytest.approx(0.0, abs=1e-12)
