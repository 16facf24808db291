import numpy as np
import pytest
import tensorflow as tf

from kclass.data import transforms


def _seed(i):
    return tf.constant([7, i], tf.int64)


def test_crop_box_follows_paddle_ranges():
    areas, aspects = [], []
    for i in range(300):
        y, x, h, w = (int(v) for v in transforms.crop_box(100, 150, _seed(i)))
        assert 0 <= y and y + h <= 100 and 0 <= x and x + w <= 150
        areas.append(h * w / (100 * 150))
        aspects.append(w / h)
    assert 0.08 * 0.9 <= min(areas) and max(areas) <= 1.0
    assert min(areas) < 0.2 and max(areas) > 0.6  # the range is really explored
    assert 0.70 <= min(aspects) and max(aspects) <= 1.42


def test_crop_box_clips_scale_so_box_fits():
    # aspect 4/3 on a tall image: scale 1 is impossible, PaddleClas clips it with `bound`.
    y, x, h, w = (int(v) for v in transforms.crop_box(200, 50, _seed(1), scale=(1.0, 1.0), ratio=(4 / 3, 4 / 3)))
    assert w <= 50 and h <= 200 and w > 40


def test_rand_crop_is_seeded():
    image = tf.random.stateless_uniform([40, 60, 3], [1, 2], 0, 255, dtype=tf.int32)
    image = tf.cast(image, tf.uint8)
    a = transforms.rand_crop(image, 32, _seed(3))
    b = transforms.rand_crop(image, 32, _seed(3))
    c = transforms.rand_crop(image, 32, _seed(4))
    assert a.shape == (32, 32, 3) and a.dtype == tf.uint8
    np.testing.assert_array_equal(a, b)
    assert np.any(a.numpy() != c.numpy())


@pytest.mark.parametrize("shape", [(32, 32), (480, 640), (640, 427), (7, 300)])
def test_train_crop_from_batched_draws_equals_the_per_seed_crop(shape):
    image = tf.constant(np.random.default_rng(1).integers(0, 256, shape + (3,)).astype(np.uint8))
    seeds = tf.stack([tf.fill([200], tf.constant(42, tf.int64)), tf.range(200, dtype=tf.int64) - 7], axis=1)
    bits = transforms.train_crop_bits(seeds)

    @tf.function
    def both(scale, ratio, flip):
        per_seed = tf.map_fn(lambda s: transforms.train_crop(image, 24, s, scale, ratio, flip), seeds,
                             fn_output_signature=tf.uint8)
        batched = tf.map_fn(lambda b: transforms.train_crop_from_bits(image, 24, b, scale, ratio, flip), bits,
                            fn_output_signature=tf.uint8)
        return per_seed, batched

    for scale, ratio, flip in [((0.08, 1.0), (3 / 4, 4 / 3), True), ((0.5, 0.9), (0.2, 5.0), False)]:
        per_seed, batched = both(scale, ratio, flip)
        np.testing.assert_array_equal(batched.numpy(), per_seed.numpy())
        assert len({crop.tobytes() for crop in per_seed.numpy()}) > 150  # the draws differ from seed to seed


def test_resize_short_and_center_crop():
    image = tf.zeros([40, 60, 3], tf.uint8)
    assert transforms.resize_short(image, 36).shape == (36, 54, 3)
    grid = tf.reshape(tf.range(9 * 11 * 3) % 251, [9, 11, 3])
    crop = transforms.center_crop(tf.cast(grid, tf.uint8), 4)
    np.testing.assert_array_equal(crop, grid.numpy()[2:6, 3:7].astype(np.uint8))


def test_normalize_matches_numpy():
    x = np.random.default_rng(0).integers(0, 256, (2, 4, 4, 3)).astype(np.uint8)
    want = (x / 255.0 - np.array(transforms.IMAGENET_MEAN)) / np.array(transforms.IMAGENET_STD)
    np.testing.assert_allclose(transforms.normalize(x), want, atol=1e-6)


@pytest.mark.parametrize("mode", ["gray", "rgba", "rgb16"])
def test_decode_converts_to_rgb8(mode):
    if mode == "gray":
        encoded = tf.io.encode_png(tf.fill([5, 6, 1], tf.constant(200, tf.uint8)))
    elif mode == "rgba":
        encoded = tf.io.encode_png(tf.fill([5, 6, 4], tf.constant(200, tf.uint8)))
    else:
        encoded = tf.io.encode_png(tf.fill([5, 6, 3], tf.constant(200 * 257, tf.uint16)))
    image = transforms.decode(encoded)
    assert image.dtype == tf.uint8 and image.shape == (5, 6, 3)
    assert int(tf.reduce_min(image)) == 200 and int(tf.reduce_max(image)) == 200


def test_eval_image_resizes_crops_and_normalises():
    encoded = tf.io.encode_png(tf.fill([40, 50, 3], tf.constant(255, tf.uint8)))
    out = transforms.eval_image(encoded, 32)
    assert out.shape == (32, 32, 3)
    want = (1.0 - np.array(transforms.IMAGENET_MEAN)) / np.array(transforms.IMAGENET_STD)
    np.testing.assert_allclose(out.numpy()[16, 16], want, atol=1e-5)
