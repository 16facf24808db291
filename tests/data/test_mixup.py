import numpy as np
import pytest
import tensorflow as tf

from kclass.data.mixup import CutMix, Mixup, MixupCutMix, sample_beta
from kclass.errors import ConfigError

N, S, C = 8, 16, 10


def _batch(dtype=tf.float32):
    rng = np.random.default_rng(0)
    images = tf.constant(rng.normal(size=(N, S, S, 3)).astype(np.float32), dtype)
    # Image k has class k, so a mixed label row says which images a mixed image is made of.
    labels = tf.one_hot(tf.range(N), C)
    return images, labels


def _seed(a, b=0):
    return tf.constant([a, b], tf.int64)


def test_mixup_images_are_label_weighted_pairs():
    images, labels = _batch()
    op = Mixup(alpha=0.2)
    for s in range(5):
        mixed, targets = op(images, labels, _seed(s))
        lam, perm = op.sample(N, _seed(s))
        lam, perm = float(lam), perm.numpy()
        np.testing.assert_allclose(targets.numpy().sum(axis=1), 1.0, rtol=1e-6)
        expected = lam * images.numpy() + (1 - lam) * images.numpy()[perm]
        np.testing.assert_allclose(mixed.numpy(), expected, rtol=1e-5, atol=1e-5)
        # Independently of sample(): image i must be sum_k y_ik * x_k.
        recombined = np.einsum("nk,khwc->nhwc", targets.numpy()[:, :N], images.numpy())
        np.testing.assert_allclose(mixed.numpy(), recombined, rtol=1e-5, atol=1e-5)
        assert sorted(perm.tolist()) == list(range(N))


def test_mixup_lambda_is_beta_alpha_alpha():
    lams = np.array([float(sample_beta(0.2, _seed(s, 7))) for s in range(400)])
    assert np.all((lams >= 0) & (lams <= 1))
    assert abs(lams.mean() - 0.5) < 0.06
    # Var Beta(a, a) = 1 / (4 (2a + 1)): 0.179 for a = 0.2, 0.05 for a = 2.
    assert 0.14 < lams.var() < 0.22
    lams2 = np.array([float(sample_beta(2.0, _seed(s, 7))) for s in range(400)])
    assert 0.035 < lams2.var() < 0.065


def test_mixup_multilabel_and_low_precision_dtypes():
    images, _ = _batch()
    multi_hot = tf.constant(np.random.default_rng(1).integers(0, 2, size=(N, C)), tf.float32)
    op = Mixup(alpha=1.0)
    _, targets = op(images, multi_hot, _seed(3))
    lam, perm = op.sample(N, _seed(3))
    expected = float(lam) * multi_hot.numpy() + (1 - float(lam)) * multi_hot.numpy()[perm.numpy()]
    np.testing.assert_allclose(targets.numpy(), expected, rtol=1e-6)
    for dtype in (tf.bfloat16, tf.float16):
        x, y = _batch(dtype)
        mixed, t = op(x, y, _seed(3))
        assert mixed.dtype == dtype and t.dtype == tf.float32
        ref = float(lam) * x.numpy().astype(np.float32) + (1 - float(lam)) * x.numpy().astype(np.float32)[perm.numpy()]
        np.testing.assert_allclose(mixed.numpy().astype(np.float32), ref, atol=0.05)


def test_cutmix_label_weight_is_pasted_area():
    # Image k is the constant k + 1: every pixel tells which image it came from.
    images = tf.broadcast_to(tf.reshape(tf.range(1, N + 1, dtype=tf.float32), [N, 1, 1, 1]), [N, S, S, 3])
    labels = tf.one_hot(tf.range(N), C)
    op = CutMix(alpha=1.0)
    pasted_any = False
    for s in range(20):
        mixed, targets = op(images, labels, _seed(s))
        box, lam, perm = op.sample(S, S, N, _seed(s))
        y1, y2, x1, x2 = box.numpy()
        assert 0 <= y1 <= y2 <= S and 0 <= x1 <= x2 <= S
        np.testing.assert_allclose(float(lam), 1 - (y2 - y1) * (x2 - x1) / (S * S), rtol=1e-6)
        np.testing.assert_allclose(targets.numpy().sum(axis=1), 1.0, rtol=1e-6)
        source = mixed.numpy()[..., 0] - 1
        for i, j in enumerate(perm.numpy()):
            if i == j:
                assert np.all(source[i] == i)
                continue
            frac = np.mean(source[i] == j)
            np.testing.assert_allclose(targets.numpy()[i, j], frac, atol=1e-6)
            np.testing.assert_allclose(targets.numpy()[i, i], 1 - frac, atol=1e-6)
            pasted = source[i] == j
            if pasted.any():
                pasted_any = True
                rows, cols = np.nonzero(pasted)
                assert pasted.sum() == (np.ptp(rows) + 1) * (np.ptp(cols) + 1)  # a filled rectangle
    assert pasted_any


def test_cutmix_keeps_low_precision_dtype():
    x, y = _batch(tf.bfloat16)
    mixed, t = CutMix(1.0)(x, y, _seed(1))
    assert mixed.dtype == tf.bfloat16 and t.dtype == tf.float32


def test_mixup_cutmix_switch_frequencies():
    op = MixupCutMix(mixup_alpha=0.8, cutmix_alpha=1.0, mixup_prob=0.3, cutmix_prob=0.5)
    choices = np.array([int(op.choose(_seed(s, 1))) for s in range(600)])
    assert abs(np.mean(choices == 1) - 0.3) < 0.07
    assert abs(np.mean(choices == 2) - 0.5) < 0.07
    assert abs(np.mean(choices == 0) - 0.2) < 0.07
    images, labels = _batch()
    seen = set()
    for s in range(30):
        mixed, targets = op(images, labels, _seed(s, 1))
        choice = int(op.choose(_seed(s, 1)))
        seen.add(choice)
        if choice == 0:
            np.testing.assert_array_equal(mixed.numpy(), images.numpy())
            np.testing.assert_array_equal(targets.numpy(), labels.numpy())
        elif choice == 1:
            recombined = np.einsum("nk,khwc->nhwc", targets.numpy()[:, :N], images.numpy())
            np.testing.assert_allclose(mixed.numpy(), recombined, rtol=1e-5, atol=1e-5)
        else:
            # CutMix: every pixel of image i is the same pixel of i or of its partner.
            for i in range(N):
                sources = np.nonzero(targets.numpy()[i] > 0)[0]
                match = np.zeros((S, S), bool)
                for k in sources:
                    match |= np.all(mixed.numpy()[i] == images.numpy()[k], axis=-1)
                assert match.all()
    assert seen == {0, 1, 2}


def test_same_seed_same_output_different_seed_different():
    images, labels = _batch()
    for op in (Mixup(0.2), CutMix(1.0), MixupCutMix()):
        a = op(images, labels, _seed(5))
        b = op(images, labels, _seed(5))
        np.testing.assert_array_equal(a[0].numpy(), b[0].numpy())
        np.testing.assert_array_equal(a[1].numpy(), b[1].numpy())
        differs = any(not np.array_equal(op(images, labels, _seed(s))[1].numpy(), a[1].numpy())
                      for s in range(6, 12))
        assert differs


@pytest.mark.parametrize("op", [Mixup(0.2), CutMix(0.2), MixupCutMix()])
def test_runs_in_tf_data_with_unknown_batch(op):
    images, labels = _batch()
    ds = tf.data.Dataset.from_tensor_slices((images, labels)).batch(3)  # 3, 3, 2: batch dim unknown
    ds = ds.enumerate().map(lambda step, b: op(b[0], b[1], tf.stack([tf.constant(9, tf.int64), step])))
    assert ds.element_spec[0].shape.as_list() == [None, S, S, 3]
    out = list(ds)
    assert [int(x.shape[0]) for x, _ in out] == [3, 3, 2]
    for _, t in out:
        np.testing.assert_allclose(t.numpy().sum(axis=1), 1.0, rtol=1e-6)


def test_rejects_bad_parameters():
    with pytest.raises(ConfigError):
        Mixup(alpha=0)
    with pytest.raises(ConfigError):
        CutMix(alpha=-1)
    with pytest.raises(ConfigError):
        MixupCutMix(mixup_prob=0.7, cutmix_prob=0.6)
