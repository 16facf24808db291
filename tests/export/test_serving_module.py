"""The served decode/preprocess (header checks + eval_image) on bad and hostile bytes: a fuzz test.

Every input must give a float32 [S, S, 3] of finite values or raise tf.errors.InvalidArgumentError
(what TF-Serving returns as INVALID_ARGUMENT / HTTP 400); nothing may crash the process.
"""

import io
import struct

import numpy as np
import pytest
import tensorflow as tf

from kclass.data import transforms
from kclass.export.serving_module import ServingSpec, preprocess

SIZE = 16
SPEC = ServingSpec(image_size=SIZE, class_names=[str(i) for i in range(6)])


def bmp(pixels):
    """24-bit bottom-up BMP bytes of uint8 [H, W, 3] (TF has no BMP encoder)."""
    h, w, _ = pixels.shape
    row = (w * 3 + 3) // 4 * 4
    data = b"".join(pixels[::-1][i, :, ::-1].tobytes().ljust(row, b"\0") for i in range(h))
    return (b"BM" + struct.pack("<IHHI", 54 + len(data), 0, 0, 54)
            + struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, len(data), 2835, 2835, 0, 0) + data)


def seed_images(rng):
    rgb = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
    images = [tf.io.encode_png(rgb).numpy(), tf.io.encode_jpeg(rgb).numpy(), bmp(rgb),
              tf.io.encode_png(rgb[..., :1]).numpy(),                                    # grayscale
              tf.io.encode_png(np.concatenate([rgb, rgb[..., :1]], -1)).numpy(),         # RGBA
              tf.io.encode_png(rgb.astype(np.uint16) * 257).numpy()]                     # 16-bit
    try:
        from PIL import Image
        buffer = io.BytesIO()
        Image.fromarray(rgb).save(buffer, "GIF")
        images.append(buffer.getvalue())
    except ImportError:  # Pillow is optional: GIF cases are skipped without it
        pass
    return images


def mutate(data, rng):
    data = bytearray(data)
    kind = rng.integers(0, 4)
    if kind == 0:  # flip bytes
        for _ in range(rng.integers(1, 8)):
            data[rng.integers(0, len(data))] = rng.integers(0, 256)
    elif kind == 1:  # truncate
        data = data[:rng.integers(0, len(data))]
    elif kind == 2:  # overwrite 4 header bytes (sizes live there)
        i = rng.integers(0, min(40, len(data) - 4))
        data[i:i + 4] = rng.integers(0, 256, 4, dtype=np.uint8).tobytes()
    else:  # insert junk
        i = rng.integers(0, len(data))
        data = data[:i] + rng.integers(0, 256, rng.integers(1, 64), dtype=np.uint8).tobytes() + data[i:]
    return bytes(data)


def fuzz_cases(seed=0):
    rng = np.random.default_rng(seed)
    seeds = seed_images(rng)
    cases = [rng.integers(0, 256, rng.integers(0, 300), dtype=np.uint8).tobytes() for _ in range(150)]
    for magic in (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"BM"):
        cases += [magic + rng.integers(0, 256, rng.integers(0, 100), dtype=np.uint8).tobytes() for _ in range(25)]
    cases += [mutate(seeds[i % len(seeds)], rng) for i in range(420)]
    return seeds, cases


def _runner(fn):
    return tf.function(fn, input_signature=[tf.TensorSpec([], tf.string)])


def _outcome(fn, data):
    try:
        out = fn(tf.constant(data)).numpy()
    except tf.errors.InvalidArgumentError:
        return None
    assert out.shape == (SIZE, SIZE, 3) and out.dtype == np.float32 and np.isfinite(out).all()
    return out


def test_fuzz_served_and_eval_preprocessing():
    seeds, cases = fuzz_cases()
    assert len(cases) >= 500
    served = _runner(lambda e: preprocess(e, SPEC))
    evaluated = _runner(lambda e: transforms.eval_image(e, SIZE))
    for image in seeds:  # the real images, grayscale/RGBA/16-bit included, all convert
        np.testing.assert_array_equal(_outcome(served, image), _outcome(evaluated, image))
    accepted = refused = 0
    for data in cases:
        a, b = _outcome(served, data), _outcome(evaluated, data)
        if a is None:
            refused += 1
        else:  # what serving accepts, eval accepts identically (serving only adds header checks)
            accepted += 1
            np.testing.assert_array_equal(a, b)
    assert accepted > 20 and refused > 300, (accepted, refused)


@pytest.mark.parametrize("data, message", [
    (b"", "not an image"),
    (b"<html>hello</html>", "not an image"),
    (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\1\x86\xa0\0\1\x86\xa0\x08\x02\0\0\0", "max_pixels"),  # 100k x 100k
    (b"GIF89a\x01\x00\xff\xff" + b"\0" * 20, "resized to more than"),  # 1 x 65535 -> 18 x 1.2M
    (b"BM" + b"\0" * 60, "empty size"),
])
def test_documented_refusals(data, message):
    spec = ServingSpec(image_size=SIZE, class_names=["a"], max_pixels=10_000_000)
    served = _runner(lambda e: preprocess(e, spec))
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        served(tf.constant(data))
