import numpy as np
import pytest
import tensorflow as tf

from kclass.data.random_erasing import RandomErasing
from kclass.errors import ConfigError

S = 32


def _seed(a, b=0):
    return tf.constant([a, b], tf.int64)


def _erased(op, n=256, seed=1):
    out = op(tf.fill([n, S, S, 3], 5.0), _seed(seed)).numpy()
    return out, np.any(out != 5.0, axis=-1)


def test_area_and_aspect_stay_in_range():
    sl, sh, r1 = 0.02, 0.4, 0.3
    op = RandomErasing(EPSILON=1.0, sl=sl, sh=sh, r1=r1, mean=(0., 0., 0.))
    out, erased = _erased(op)
    assert erased.any(axis=(1, 2)).mean() > 0.95
    for mask in erased:
        if not mask.any():
            continue
        rows, cols = np.nonzero(mask)
        h, w = np.ptp(rows) + 1, np.ptp(cols) + 1
        assert mask.sum() == h * w and h < S and w < S
        # h, w are rounded from sqrt(T r), sqrt(T / r): allow exactly that rounding.
        slack = (0.5 * (h + w) + 0.25) / (S * S)
        assert sl - slack <= h * w / (S * S) <= sh + slack
        assert (h + 0.5) / (w - 0.5) >= r1 and (h - 0.5) / (w + 0.5) <= 1 / r1
    assert np.all(out[np.broadcast_to(erased[..., None], out.shape)] == 0.0)


def test_epsilon_is_the_erase_probability():
    _, erased = _erased(RandomErasing(EPSILON=0.3), n=600)
    assert abs(erased.any(axis=(1, 2)).mean() - 0.3) < 0.06
    _, none = _erased(RandomErasing(EPSILON=0.0), n=64)
    assert not none.any()


def test_fill_modes():
    mean = (0.5, -1.0, 2.0)
    out, erased = _erased(RandomErasing(EPSILON=1.0, mean=mean), n=16)
    np.testing.assert_array_equal(out[erased], np.broadcast_to(mean, (erased.sum(), 3)))
    out, erased = _erased(RandomErasing(EPSILON=1.0, mode="rand"), n=16)
    for img, m in zip(out, erased):
        if m.any():
            assert np.all(img[m] == img[m][0])  # one colour per image
    out, erased = _erased(RandomErasing(EPSILON=1.0, mode="pixel"), n=16)
    assert np.std(out[erased]) > 0.5  # per-pixel normal noise


def test_log_aspect_is_symmetric():
    op = RandomErasing(EPSILON=1.0, sl=0.05, sh=0.3, r1=0.3, use_log_aspect=True, attempt=10)
    _, erased = _erased(op, n=400)
    logs = []
    for m in erased:
        if m.any():
            rows, cols = np.nonzero(m)
            logs.append(np.log((np.ptp(rows) + 1) / (np.ptp(cols) + 1)))
    assert abs(np.mean(logs)) < 0.12 and np.std(logs) > 0.3


def test_string_fractions_as_paddleclas_configs_write_them():
    op = RandomErasing(EPSILON=0.25, sh="1.0/3.0")
    assert abs(op.sh - 1 / 3) < 1e-12


def test_seeded_dtype_and_tf_data():
    op = RandomErasing(EPSILON=1.0)
    x = tf.random.stateless_normal([6, S, S, 3], _seed(0))
    np.testing.assert_array_equal(op(x, _seed(1)).numpy(), op(x, _seed(1)).numpy())
    assert not np.array_equal(op(x, _seed(1)).numpy(), op(x, _seed(2)).numpy())
    assert op(tf.cast(x, tf.float16), _seed(1)).dtype == tf.float16
    ds = tf.data.Dataset.from_tensor_slices(x).batch(4).enumerate()
    ds = ds.map(lambda step, b: op(b, tf.stack([tf.constant(3, tf.int64), step])))
    assert ds.element_spec.shape.as_list() == [None, S, S, 3]
    assert [int(b.shape[0]) for b in ds] == [4, 2]


def test_rejects_bad_parameters():
    with pytest.raises(ConfigError):
        RandomErasing(sl=0.5, sh=0.1)
    with pytest.raises(ConfigError):
        RandomErasing(mode="noise")
