import numpy as np
import pytest
import tensorflow as tf

from kclass.data import image_ops as io

N, S = 6, 32


def _images():
    rng = np.random.default_rng(0)
    imgs = rng.integers(30, 220, size=(N, S, S, 3)).astype(np.uint8)
    imgs[1] = (imgs[1] // 64) * 64  # few levels: equalize's step rules
    imgs[2, ..., 0] = 7  # a flat channel: autocontrast/equalize leave it
    yy, xx = np.mgrid[0:S, 0:S]
    imgs[3] = np.stack([xx * 4 + 40, yy * 4 + 40, (xx + yy) * 2 + 40], -1)  # smooth, for shear
    return imgs


def _pil_batch(imgs, fn):
    from PIL import Image
    return np.stack([np.asarray(fn(Image.fromarray(im))) for im in imgs])


def _pil_rotate(im, degrees):
    from PIL import Image
    rot = im.convert("RGBA").rotate(degrees)
    return Image.composite(rot, Image.new("RGBA", rot.size, (128,) * 4), rot).convert(im.mode)


def _pil_cases():
    from PIL import Image, ImageEnhance, ImageOps
    fill = (128, 128, 128)
    cases = [("autocontrast", lambda x: io.autocontrast(x), ImageOps.autocontrast),
             ("equalize", lambda x: io.equalize(x), ImageOps.equalize),
             ("invert", lambda x: io.invert(x), ImageOps.invert)]
    for bits in (1, 2, 5, 8):  # Pillow >= 10 refuses 0 bits (we return black, as older Pillow)
        cases.append((f"posterize{bits}", lambda x, b=bits: io.posterize(x, tf.fill([N], b)),
                      lambda im, b=bits: ImageOps.posterize(im, b)))
    for t in (256.0, 199.1, 128.0, 0.0):
        cases.append((f"solarize{t}", lambda x, t=t: io.solarize(x, tf.fill([N], t)),
                      lambda im, t=t: ImageOps.solarize(im, t)))
    for f in (0.1, 0.55, 1.0, 1.9):
        for name, ours, enh in (("color", io.color, ImageEnhance.Color),
                                ("contrast", io.contrast, ImageEnhance.Contrast),
                                ("brightness", io.brightness, ImageEnhance.Brightness),
                                ("sharpness", io.sharpness, ImageEnhance.Sharpness)):
            cases.append((f"{name}{f}", lambda x, o=ours, f=f: o(x, tf.fill([N], f)),
                          lambda im, e=enh, f=f: e(im).enhance(f)))
    for deg in (15.0, 30.0, -9.0):
        cases.append((f"rotate{deg}", lambda x, d=deg: io.rotate(x, tf.fill([N], d)),
                      lambda im, d=deg: _pil_rotate(im, d)))
    for t in (0.2, -0.45):
        cases.append((f"translateX{t}", lambda x, t=t: io.translate_x(x, tf.fill([N], t * S)),
                      lambda im, t=t: im.transform(im.size, Image.AFFINE, (1, 0, t * S, 0, 1, 0), fillcolor=fill)))
        cases.append((f"translateY{t}", lambda x, t=t: io.translate_y(x, tf.fill([N], t * S)),
                      lambda im, t=t: im.transform(im.size, Image.AFFINE, (1, 0, 0, 0, 1, t * S), fillcolor=fill)))
    return cases


def test_ops_match_pil_exactly():
    pytest.importorskip("PIL")
    imgs = _images()
    x = tf.constant(imgs)
    for name, ours, ref in _pil_cases():
        out = ours(x)
        assert out.dtype == tf.uint8 and out.shape == x.shape, name
        np.testing.assert_array_equal(out.numpy(), _pil_batch(imgs, ref), err_msg=name)


def test_shear_follows_pil_geometry():
    # PIL shears bicubically, we bilinearly: on a smooth image they agree to rounding away from edges.
    pytest.importorskip("PIL")
    from PIL import Image
    imgs = _images()[3:4]
    for m in (0.3, -0.15):
        ref = _pil_batch(imgs, lambda im: im.transform(im.size, Image.AFFINE, (1, m, 0, 0, 1, 0),
                                                        Image.BICUBIC, fillcolor=(128,) * 3))
        ours = io.shear_x(tf.constant(imgs), tf.constant([m])).numpy()
        diff = np.abs(ours.astype(int) - ref.astype(int))
        assert np.mean(diff <= 1) > 0.95 and np.median(diff) <= 1
        # Fill lands on the same side: the sheared-out corner is grey in both.
        corner = (S - 1, S - 1) if m > 0 else (S - 1, 0)
        assert np.all(ours[0][corner] == 128) and np.all(ref[0][corner] == 128)


def _individual(name, x, m):
    table = {
        "shearX": lambda: io.shear_x(x, m), "shearY": lambda: io.shear_y(x, m),
        "translateX": lambda: io.translate_x(x, m * S), "translateY": lambda: io.translate_y(x, m * S),
        "rotate": lambda: io.rotate(x, m), "color": lambda: io.color(x, 1 + m),
        "posterize": lambda: io.posterize(x, m), "solarize": lambda: io.solarize(x, m),
        "contrast": lambda: io.contrast(x, 1 + m), "sharpness": lambda: io.sharpness(x, 1 + m),
        "brightness": lambda: io.brightness(x, 1 + m), "autocontrast": lambda: io.autocontrast(x),
        "equalize": lambda: io.equalize(x), "invert": lambda: io.invert(x),
    }
    return table[name]().numpy()


def test_apply_ops_applies_each_image_its_own_op():
    imgs = np.random.default_rng(1).integers(20, 230, size=(len(io.OP_NAMES) + 1, S, S, 3)).astype(np.uint8)
    ops = np.array(list(range(len(io.OP_NAMES))) + [io.IDENTITY], np.int32)
    mags = {"shearX": 0.2, "shearY": 0.25, "translateX": 0.3, "translateY": 0.2, "rotate": 20.0,
            "color": 0.6, "posterize": 3, "solarize": 100.0, "contrast": 0.7, "sharpness": 0.8,
            "brightness": 0.5}
    m = np.array([mags.get(name, 0.0) for name in io.OP_NAMES] + [0.0], np.float32)
    out = io.apply_ops(tf.constant(imgs), ops, m, tf.constant([1, 2], tf.int64)).numpy()
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out[-1], imgs[-1])
    for i, name in enumerate(io.OP_NAMES):
        x = tf.constant(imgs[i:i + 1])
        candidates = [_individual(name, x, tf.constant([s * m[i]]))[0]
                      for s in ((1, -1) if name in io.SIGNED else (1,))]
        assert any(np.array_equal(out[i], c) for c in candidates), name
        if name not in ("autocontrast", "equalize"):  # these may be no-ops on some images
            assert not np.array_equal(out[i], imgs[i]), name


def test_posterize_zero_bits_is_black():
    np.testing.assert_array_equal(io.posterize(tf.constant(_images()), tf.zeros([N])).numpy(), 0)


def test_signs_are_random_per_image():
    x = tf.constant(np.repeat(_images()[3:4], 64, axis=0))
    out = io.apply_ops(x, tf.fill([64], io.OP_ID["translateX"]), tf.fill([64], 0.25),
                       tf.constant([0, 9], tf.int64)).numpy()
    left = np.all(out[:, :, -1] == 128, axis=(1, 2))
    right = np.all(out[:, :, 0] == 128, axis=(1, 2))
    assert np.all(left ^ right) and 0.25 < left.mean() < 0.75


def test_apply_ops_in_tf_data_with_unknown_batch():
    imgs = _images()

    def fn(step, x):
        n = tf.shape(x)[0]
        ops = tf.math.floormod(tf.range(n) + tf.cast(step, tf.int32), len(io.OP_NAMES))
        return io.apply_ops(x, ops, tf.fill([n], 0.3), tf.stack([tf.constant(1, tf.int64), step]))

    ds = tf.data.Dataset.from_tensor_slices(imgs).batch(4).enumerate().map(fn)
    assert ds.element_spec.shape.as_list() == [None, S, S, 3] and ds.element_spec.dtype == tf.uint8
    assert [int(b.shape[0]) for b in ds] == [4, 2]


def test_apply_ops_with_families_absent_or_alone():
    x = tf.constant(_images())
    same = io.apply_ops(x, tf.fill([N], io.IDENTITY), tf.zeros([N]), tf.constant([0, 1], tf.int64))
    np.testing.assert_array_equal(same.numpy(), x.numpy())
    sharp = io.apply_ops(x, tf.fill([N], io.OP_ID["sharpness"]), tf.fill([N], 0.5), tf.constant([0, 1], tf.int64),
                         signs=tf.ones([N]))
    np.testing.assert_array_equal(sharp.numpy(), io.sharpness(x, tf.fill([N], 1.5)).numpy())
