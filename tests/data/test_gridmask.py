import numpy as np
import pytest
import tensorflow as tf

from kclass.data.gridmask import GridMask
from kclass.errors import ConfigError

S = 32


def _seed(a, b=0):
    return tf.constant([a, b], tf.int64)


def _paddleclas_mask(h, w, d, st_h, st_w, angle, ratio, mode):
    """PaddleClas's GridMask mask drawn the way it does it (numpy stripes + PIL rotate)."""
    from PIL import Image
    hh, ww = int(1.5 * h), int(1.5 * w)
    stripe = int(d * ratio + 0.5)
    mask = np.ones((hh, ww), np.float32)
    for i in range(-1, hh // d + 1):
        s = min(max(d * i + st_h, 0), hh)
        t = min(max(d * i + st_h + stripe, 0), hh)
        mask[s:t, :] = 0
    for i in range(-1, ww // d + 1):
        s = min(max(d * i + st_w, 0), ww)
        t = min(max(d * i + st_w + stripe, 0), ww)
        mask[:, s:t] = 0
    mask = np.asarray(Image.fromarray(np.uint8(mask)).rotate(angle))
    mask = mask[(hh - h) // 2:(hh - h) // 2 + h, (ww - w) // 2:(ww - w) // 2 + w]
    return 1 - mask if mode == 1 else mask


@pytest.mark.parametrize("mode", [0, 1])
def test_mask_matches_paddleclas_drawing(mode):
    pytest.importorskip("PIL")
    op = GridMask(d1=6, d2=20, rotate=60, ratio=0.4, mode=mode, prob=1.0)
    n = 24
    params = op.sample(n, _seed(1, mode))
    ours = op.mask_from(*params, S, S).numpy()[..., 0]
    d, st_h, st_w, angle, _ = (p.numpy() for p in params)
    assert len(set(angle.tolist())) > 5
    for i in range(n):
        ref = _paddleclas_mask(S, S, int(d[i]), int(st_h[i]), int(st_w[i]), float(angle[i]), 0.4, mode)
        # float32 vs PIL's float64 can flip a nearest-neighbour tie on a pixel border.
        assert np.sum(ours[i] != ref) <= 2, i


def test_masked_fraction_is_plausible():
    x = tf.ones([200, S, S, 3])
    kept0 = GridMask(d1=8, d2=16, ratio=0.5, mode=0)(x, _seed(2)).numpy().mean()
    kept1 = GridMask(d1=8, d2=16, ratio=0.5, mode=1)(x, _seed(2)).numpy().mean()
    # mode 0 keeps about (1 - ratio)^2, mode 1 keeps the complement.
    assert 0.17 < kept0 < 0.33
    assert abs(kept0 + kept1 - 1.0) < 1e-6


def test_prob_skips_images():
    out = GridMask(d1=8, d2=16, prob=0.4)(tf.ones([400, S, S, 3]), _seed(3)).numpy()
    untouched = np.all(out == 1.0, axis=(1, 2, 3))
    assert abs(untouched.mean() - 0.6) < 0.07


def test_seeded_dtype_and_tf_data():
    op = GridMask(d1=8, d2=24, rotate=30)
    x = tf.random.stateless_normal([5, S, S, 3], _seed(0))
    np.testing.assert_array_equal(op(x, _seed(2)).numpy(), op(x, _seed(2)).numpy())
    assert not np.array_equal(op(x, _seed(2)).numpy(), op(x, _seed(3)).numpy())
    assert op(tf.cast(x, tf.bfloat16), _seed(2)).dtype == tf.bfloat16
    ds = tf.data.Dataset.from_tensor_slices(x).batch(2).enumerate()
    ds = ds.map(lambda step, b: op(b, tf.stack([tf.constant(3, tf.int64), step])))
    assert ds.element_spec.shape.as_list() == [None, S, S, 3]
    assert [int(b.shape[0]) for b in ds] == [2, 2, 1]


def test_rejects_bad_parameters():
    with pytest.raises(ConfigError):
        GridMask(d1=224, d2=96)
