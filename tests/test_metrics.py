"""Metrics against scikit-learn (tolerance 1e-6), on random and on heavily tied scores."""

import numpy as np
import pytest
import tensorflow as tf
from sklearn import metrics as skm

from kclass import metrics


def _data(seed, tied):
    rng = np.random.default_rng(seed)
    labels = (rng.random((64, 7)) < 0.3).astype(np.float64)
    labels[:, 5] = 0  # a class without positives: excluded from mAP and counted
    scores = rng.random((64, 7))
    if tied:
        scores = np.round(scores * 4) / 4  # 5 distinct values: ties everywhere
    return labels, scores


@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_map_and_auc_match_sklearn(seed, tied):
    labels, scores = _data(seed, tied)
    report = metrics.multilabel_report(labels, scores)
    valid = [c for c in range(7) if labels[:, c].any()]
    want_map = np.mean([skm.average_precision_score(labels[:, c], scores[:, c]) for c in valid])
    assert report["mAP"] == pytest.approx(want_map, abs=1e-6)
    assert report["classes_without_positive"] == 1
    want_auc = np.mean([skm.roc_auc_score(labels[:, c], scores[:, c]) for c in valid])
    assert report["auc_macro"] == pytest.approx(want_auc, abs=1e-6)
    assert report["auc_micro"] == pytest.approx(skm.roc_auc_score(labels.ravel(), scores.ravel()), abs=1e-6)
    pred = scores >= 0.5
    assert report["hamming_loss"] == pytest.approx(skm.hamming_loss(labels, pred), abs=1e-6)
    assert report["label_accuracy"] == pytest.approx(1 - skm.hamming_loss(labels, pred), abs=1e-6)
    p, r, f, _ = skm.precision_recall_fscore_support(labels, pred, average=None, zero_division=0)
    np.testing.assert_allclose(report["per_class"]["precision"], p, atol=1e-6)
    np.testing.assert_allclose(report["per_class"]["recall"], r, atol=1e-6)
    np.testing.assert_allclose(report["per_class"]["f1"], f, atol=1e-6)


def test_fitted_thresholds_maximise_f1():
    labels, scores = _data(3, tied=False)
    thresholds = metrics.fit_thresholds(labels, scores)
    for c in range(7):
        if not labels[:, c].any():
            assert thresholds[c] == 0.5
            continue
        best = skm.f1_score(labels[:, c], scores[:, c] >= thresholds[c])
        every = max(skm.f1_score(labels[:, c], scores[:, c] >= t) for t in np.unique(scores[:, c]))
        assert best == pytest.approx(every, abs=1e-12)


def test_in_graph_sums_match_report():
    labels, scores = _data(4, tied=False)
    logits = np.log(scores) - np.log1p(-scores)
    sums = metrics.multilabel_sums(tf.constant(labels, tf.float32), tf.constant(logits, tf.float32),
                                   tf.ones([64]))
    report = metrics.multilabel_report(labels, scores)
    assert float(sums["hamming_loss"]) / 64 == pytest.approx(report["hamming_loss"], abs=1e-6)


def test_topk_ties_are_not_all_hits():
    sums = metrics.topk_sums((1, 2))(tf.constant([0, 1, 2]), tf.zeros([3, 5]), tf.ones([3]))
    assert float(sums["top1"]) == 1.0 and float(sums["top2"]) == 2.0  # ties broken by index


@pytest.mark.parametrize("topk, num_classes, expected", [
    (5, 100, (1, 5)), (5, 6, (1, 5)), (5, 5, (1,)), (5, 3, (1,)), (2, 3, (1, 2)), (1, 10, (1,)), (3, 1, (1,))])
def test_topk_ks_leave_out_k_that_every_image_hits(topk, num_classes, expected):
    assert metrics.topk_ks(topk, num_classes) == expected


def test_thresholds_stay_probabilities_on_saturated_scores():
    labels = np.array([[1, 0], [1, 1], [0, 1]], np.float64)
    scores = np.array([[0.0, 1.0], [0.0, 1.0], [0.0, 1.0]])  # sigmoids saturated at exactly 0 and 1
    thresholds = metrics.fit_thresholds(labels, scores)
    assert np.all((0 <= thresholds) & (thresholds <= 1)), thresholds


def _brute_force_reject(probs, labels, target):
    """Every max probability tried as the threshold: the lowest t reaching `target` (else the lowest of
    the highest precision), moved halfway down to the next lower max probability; its precision, coverage."""
    top, correct = probs.max(1), probs.argmax(1) == labels
    values = sorted(set(top.tolist()))
    fits = [(i, correct[top >= t].mean(), (top >= t).mean()) for i, t in enumerate(values)]
    reached = [f for f in fits if f[1] >= target]
    i, precision, coverage = reached[0] if reached else next(f for f in fits if f[1] == max(g[1] for g in fits))
    lower = values[i - 1] if i else values[0] - 1e-4
    return (values[i] + lower) / 2, precision, coverage


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("target", [0.5, 0.8, 0.95, 1.0])
def test_reject_threshold_is_the_brute_force_one(seed, target):
    rng = np.random.default_rng(seed)
    n, c = 60, 4
    labels = rng.integers(0, c, n)
    logits = rng.normal(size=(n, c)) + 2.5 * np.eye(c)[labels] * rng.random((n, 1))
    if seed % 2:  # ties: rounded probabilities share max values across right and wrong images
        logits = np.round(logits, 1)
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    got = metrics.fit_reject_threshold(probs, labels, target)
    np.testing.assert_allclose(got, _brute_force_reject(probs, labels, target), rtol=0, atol=1e-12)


def test_reject_threshold_edges():
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    labels = np.array([0, 1, 1, 0])  # the 0.8 image is wrong
    fit = metrics.fit_reject_threshold
    np.testing.assert_allclose(fit(probs, labels, 0.75), (0.6 - 5e-5, 0.75, 1.0))  # all accepted: 3 of 4
    np.testing.assert_allclose(fit(probs, labels, 0.9), (0.85, 1.0, 0.25))  # only above the mistake
    wrong = fit(probs, 1 - probs.argmax(1), 0.5)  # every prediction wrong: out of reach, all accepted
    np.testing.assert_allclose(wrong, (0.6 - 5e-5, 0.0, 1.0))
