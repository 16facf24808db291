"""Losses against NumPy references written from their definitions."""

import numpy as np
import pytest
import tensorflow as tf

from kclass import losses


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _logits(seed, n=5, c=7, scale=3.0):
    rng = np.random.default_rng(seed)
    return (rng.normal(0, scale, (n, c)).astype(np.float32), rng.normal(0, scale, (n, c)).astype(np.float32))


def test_ssld_jsdiv_is_paddleclas_jsdivloss():
    s, t = _logits(0)
    p_s, p_t = _softmax(s.astype(np.float64)), _softmax(t.astype(np.float64))
    eps = 1e-10
    # PaddleClas release/2.1 Loss._jsdiv: (kldiv(s, t) + kldiv(t, s)) / 2 with kldiv = t log((t+eps)/(s+eps)) * C,
    # then mean over N x C -- i.e. per example the sum over classes.
    kl_ts = p_t * np.log((p_t + eps) / (p_s + eps))
    kl_st = p_s * np.log((p_s + eps) / (p_t + eps))
    expected = 0.5 * (kl_ts + kl_st).sum(-1)
    got = losses.ssld_jsdiv(tf.constant(s), tf.constant(t)).numpy()
    assert got.shape == (5,)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)
    paddle_mean = np.mean((kl_ts + kl_st) / 2 * s.shape[1])
    np.testing.assert_allclose(got.mean(), paddle_mean, rtol=1e-5)


def test_ssld_jsdiv_is_zero_for_equal_and_symmetric():
    s, t = _logits(1)
    np.testing.assert_allclose(losses.ssld_jsdiv(s, s).numpy(), 0.0, atol=1e-7)
    np.testing.assert_allclose(losses.ssld_jsdiv(s, t).numpy(), losses.ssld_jsdiv(t, s).numpy(), rtol=1e-6)


def test_jensen_shannon():
    s, t = _logits(2, scale=8.0)  # peaked: tiny probabilities must not give log(0)
    p, q = _softmax(s.astype(np.float64)), _softmax(t.astype(np.float64))
    m = 0.5 * (p + q)
    expected = 0.5 * (p * np.log(p / m)).sum(-1) + 0.5 * (q * np.log(q / m)).sum(-1)
    got = losses.jensen_shannon(s, t).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
    assert np.all(got <= np.log(2) + 1e-6) and np.all(got >= 0)
    # Not the same thing as PaddleClas's "JSDivLoss".
    assert not np.allclose(got, losses.ssld_jsdiv(s, t).numpy(), rtol=1e-2)


@pytest.mark.parametrize("temperature", [1.0, 4.0])
def test_kl_with_temperature(temperature):
    s, t = _logits(3)
    p_s = _softmax(s.astype(np.float64) / temperature)
    p_t = _softmax(t.astype(np.float64) / temperature)
    expected = temperature ** 2 * (p_t * np.log(p_t / p_s)).sum(-1)
    np.testing.assert_allclose(losses.kl_divergence(s, t, temperature).numpy(), expected, rtol=1e-4, atol=1e-6)


def test_no_gradient_reaches_the_teacher():
    s, t = (tf.Variable(x) for x in _logits(4))
    for fn in (losses.ssld_jsdiv, losses.jensen_shannon, losses.kl_divergence):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(fn(s, t))
        g_s, g_t = tape.gradient(loss, [s, t])
        assert g_t is None and float(tf.reduce_max(tf.abs(g_s))) > 0


def test_hard_label_term_masks_unlabeled():
    s, t = _logits(5)
    labels = np.array([2, -1, 0, -1, 6], np.int64)
    p_s = _softmax(s.astype(np.float64))
    ce = np.where(labels >= 0, -np.log(p_s[np.arange(5), np.maximum(labels, 0)]), 0.0)
    soft = losses.ssld_jsdiv(s, t).numpy()
    got = losses.distillation_loss(tf.constant(labels), s, t, "jsdiv", hard_label_weight=0.3).numpy()
    np.testing.assert_allclose(got, soft + 0.3 * ce, rtol=1e-5, atol=1e-6)
    # Soft (e.g. mixed) targets: one_hot(-1) is a zero row, masked the same way.
    targets = tf.one_hot(labels, 7)
    got_soft = losses.distillation_loss(targets, s, t, "jsdiv", hard_label_weight=0.3).numpy()
    np.testing.assert_allclose(got_soft, got, rtol=1e-5, atol=1e-6)
    # Without a hard-label term the labels are not read at all.
    np.testing.assert_allclose(losses.distillation_loss(tf.constant(labels), s, t).numpy(), soft, rtol=1e-6)


def test_distillation_loss_kinds():
    s, t = _logits(6)
    np.testing.assert_allclose(losses.distillation_loss(None, s, t, "js").numpy(),
                               losses.jensen_shannon(s, t).numpy())
    np.testing.assert_allclose(losses.distillation_loss(None, s, t, "kl", temperature=2.0).numpy(),
                               losses.kl_divergence(s, t, 2.0).numpy())
    with pytest.raises(ValueError, match="distillation loss 'mse'"):
        losses.distillation_loss(None, s, t, "mse")


def _ce(targets, logits):
    z = logits.astype(np.float64)
    log_p = z - z.max(-1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(-1, keepdims=True))
    return -(targets * log_p).sum(-1)


def test_class_weights_scale_each_images_ce_by_its_classs_weight():
    logits, _ = _logits(5, n=4, c=3)
    weights = np.array([0.5, 2.0, 1.0])
    labels = np.array([0, 1, 2, 1])
    got = losses.softmax_cross_entropy(tf.constant(labels), logits, class_weights=weights).numpy()
    np.testing.assert_allclose(got, weights[labels] * _ce(np.eye(3)[labels], logits), rtol=1e-5)
    # PyTorch's CrossEntropyLoss(weight=w, reduction='sum') per image: w_y * CE; kclass divides by N.
    np.testing.assert_allclose(got.sum(), (weights[labels] * _ce(np.eye(3)[labels], logits)).sum(), rtol=1e-5)


def test_class_weights_with_mixed_targets_and_smoothing_use_the_expected_weight():
    logits, _ = _logits(6, n=3, c=3)
    weights = np.array([0.5, 2.0, 1.0])
    mixed = np.array([[0.3, 0.7, 0.0], [1.0, 0.0, 0.0], [0.0, 0.4, 0.6]], np.float32)  # Mixup/CutMix targets
    smoothed = mixed * 0.9 + 0.1 / 3
    got = losses.softmax_cross_entropy(tf.constant(mixed), logits, 0.1, weights).numpy()
    # The weight is the unsmoothed target's: row 0 weighs 0.3 * 0.5 + 0.7 * 2 = 1.55.
    np.testing.assert_allclose(got, (mixed @ weights) * _ce(smoothed, logits), rtol=1e-5)
    unweighted = losses.softmax_cross_entropy(tf.constant(mixed), logits, 0.1).numpy()
    np.testing.assert_allclose(losses.softmax_cross_entropy(tf.constant(mixed), logits, 0.1, np.ones(3)).numpy(),
                               unweighted, rtol=1e-6)
