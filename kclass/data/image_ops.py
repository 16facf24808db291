"""Batched uint8 image ops for the policy augmentations (AutoAugment, RandAugment), pure TF.

Every op takes images uint8 [N, H, W, 3] (N may be unknown) and per-image parameters as vectors [N],
and runs as a handful of batched ops: look-up tables gathered per image and channel, one blend with a
per-image degenerate image, one ImageProjectiveTransformV3 with a per-image matrix. No map_fn, no loop
over images or pixels.

Semantics follow PIL, which PaddleClas's policies call (ImageOps / ImageEnhance / Image.transform):
LUT ops are exact; blends truncate like PIL's Image.blend; geometric ops use PIL's pixel-centre
convention and fill (128, 128, 128). One deviation: PIL's BICUBIC shear is done bilinearly here
(ImageProjectiveTransformV3 has no bicubic).
"""

import math

import tensorflow as tf

FILL = 128.0

# Order is part of the contract of `apply_ops`: ids index this tuple, -1 means "leave the image".
OP_NAMES = ("shearX", "shearY", "translateX", "translateY", "rotate", "color", "posterize", "solarize",
            "contrast", "sharpness", "brightness", "autocontrast", "equalize", "invert")
OP_ID = {name: i for i, name in enumerate(OP_NAMES)}
IDENTITY = -1

# Ops whose magnitude gets a random sign per image, as PaddleClas's `random.choice([-1, 1])`.
# PaddleClas's rotate has no sign: it always turns counter-clockwise.
SIGNED = ("shearX", "shearY", "translateX", "translateY", "color", "contrast", "sharpness", "brightness")


def _col(v):
    """[N] -> [N, 1, 1, 1] for broadcasting over images."""
    return tf.reshape(v, [-1, 1, 1, 1])


def to_uint8(x, round_half_up=False):
    """float [N, H, W, 3] -> uint8, clipped; truncates like PIL's blend unless `round_half_up`."""
    x = tf.clip_by_value(x, 0.0, 255.0)
    x = tf.floor(x + 0.5) if round_half_up else tf.floor(x)
    return tf.cast(x, tf.uint8)


# ----------------------------------------------------------------------------------------- LUT ops

def _lut_offsets(n):
    """[N, 1, 1, 3] offsets of each (image, channel) table in a flattened [N, 3, 256] LUT."""
    return tf.reshape((tf.range(n)[:, None] * 3 + tf.range(3)[None, :]) * 256, [-1, 1, 1, 3])


def apply_lut(images, lut):
    """images uint8 [N, H, W, 3], lut int [N, 3, 256] (per image and channel) -> uint8 [N, H, W, 3]."""
    offsets = _lut_offsets(tf.shape(images)[0])
    flat = tf.reshape(tf.cast(lut, tf.int32), [-1])
    return tf.cast(tf.gather(flat, tf.cast(images, tf.int32) + offsets), tf.uint8)


def _levels():
    return tf.range(256, dtype=tf.int32)


def identity_lut(n):
    """[N, 3, 256] int32 identity tables."""
    return tf.tile(tf.reshape(_levels(), [1, 1, 256]), tf.stack([n, 3, 1]))


def posterize_lut(bits):
    """PIL ImageOps.posterize: keep the top `bits` [N] bits (0 -> black, 8 -> identity)."""
    bits = tf.clip_by_value(tf.cast(bits, tf.int32), 0, 8)
    mask = 256 - tf.bitwise.left_shift(tf.ones_like(bits), 8 - bits)
    lut = tf.bitwise.bitwise_and(_levels()[None, :], mask[:, None])
    return tf.tile(lut[:, None, :], [1, 3, 1])


def solarize_lut(threshold):
    """PIL ImageOps.solarize: invert levels >= `threshold` [N] (float; 256 -> identity)."""
    levels = _levels()[None, :]
    lut = tf.where(tf.cast(levels, tf.float32) < tf.cast(threshold, tf.float32)[:, None], levels, 255 - levels)
    return tf.tile(lut[:, None, :], [1, 3, 1])


def invert_lut(n):
    return 255 - identity_lut(n)


def autocontrast_lut(images):
    """PIL ImageOps.autocontrast(cutoff=0) per image and channel: min -> 0, max -> 255, [N, 3, 256].

    Computed in float64 with PIL's formula (int(v * scale - lo * scale)) so table entries match.
    """
    lo = tf.cast(tf.reduce_min(images, axis=[1, 2]), tf.float64)[..., None]
    hi = tf.cast(tf.reduce_max(images, axis=[1, 2]), tf.float64)[..., None]
    levels = tf.cast(_levels(), tf.float64)[None, None, :]
    scale = 255.0 / tf.maximum(hi - lo, 1.0)
    stretched = tf.clip_by_value(tf.floor(levels * scale - lo * scale), 0.0, 255.0)
    return tf.where(hi > lo, tf.cast(stretched, tf.int32), tf.cast(levels, tf.int32))


def equalize_lut(images):
    """PIL ImageOps.equalize per image and channel, [N, 3, 256].

    step = (pixels - count of the last used level) // 255; lut[i] = (step // 2 + cumsum_exclusive[i]) // step;
    identity where fewer than two levels are used or step is 0 (PIL's rules).
    """
    n = tf.shape(images)[0]
    # One flat bincount over (image, channel, level): no transpose to channel-major needed.
    flat = tf.reshape(tf.cast(images, tf.int32) + _lut_offsets(n), [-1])
    hist = tf.math.bincount(flat, minlength=n * 768, maxlength=n * 768, dtype=tf.int32)
    hist = tf.reshape(hist, tf.stack([n, 3, 256]))
    used = hist > 0
    last_used = tf.reduce_max(tf.where(used, _levels(), 0), axis=-1)
    last_count = tf.gather(hist, last_used, batch_dims=2)
    total = tf.reduce_sum(hist, axis=-1)
    step = (total - last_count) // 255
    safe_step = tf.maximum(step, 1)[..., None]
    cum_excl = tf.cumsum(hist, axis=-1, exclusive=True)
    lut = tf.minimum((safe_step // 2 + cum_excl) // safe_step, 255)
    ok = (tf.reduce_sum(tf.cast(used, tf.int32), axis=-1) > 1) & (step > 0)
    return tf.where(ok[..., None], lut, identity_lut(n))


def posterize(images, bits):
    return apply_lut(images, posterize_lut(bits))


def solarize(images, threshold):
    return apply_lut(images, solarize_lut(threshold))


def invert(images):
    return 255 - images


def autocontrast(images):
    return apply_lut(images, autocontrast_lut(images))


def equalize(images):
    return apply_lut(images, equalize_lut(images))


# --------------------------------------------------------------------------------------- blend ops

def grayscale(images):
    """PIL convert('L') (ITU-R 601-2, integer rounding): uint8 [N, H, W, 3] -> int32 [N, H, W, 1]."""
    x = tf.cast(images, tf.int32)
    weighted = x[..., 0:1] * 19595 + x[..., 1:2] * 38470 + x[..., 2:3] * 7471 + 0x8000
    return tf.bitwise.right_shift(weighted, 16)


def contrast_degenerate(images):
    """PIL ImageEnhance.Contrast's degenerate: the rounded mean of the grayscale image, [N, 1, 1, 1]."""
    mean = tf.reduce_mean(tf.cast(grayscale(images), tf.float32), axis=[1, 2, 3], keepdims=True)
    return tf.floor(mean + 0.5)


def smooth(images):
    """PIL ImageFilter.SMOOTH (3x3 [1 1 1; 1 5 1; 1 1 1] / 13, rounded); border pixels are kept, as PIL.

    uint8 [N, H, W, 3] -> float32 [N, H, W, 3] (integer-valued).
    """
    x = tf.cast(images, tf.float32)
    h, w = tf.shape(x)[1], tf.shape(x)[2]
    # Nine shifted slices rather than depthwise_conv2d, which mis-shapes an empty batch.
    total = 4.0 * x[:, 1:h - 1, 1:w - 1]
    for dy in range(3):
        for dx in range(3):
            total += x[:, dy:h - 2 + dy, dx:w - 2 + dx]
    inner = tf.floor(total / 13.0 + 0.5)
    padded = tf.pad(inner, [[0, 0], [1, 1], [1, 1], [0, 0]])
    rows = tf.range(h)
    cols = tf.range(w)
    interior = ((rows > 0) & (rows < h - 1))[:, None] & ((cols > 0) & (cols < w - 1))[None, :]
    return tf.where(interior[None, :, :, None], padded, x)


def blend(degenerate, images, factor):
    """PIL Image.blend(degenerate, image, factor): degenerate + factor * (image - degenerate), truncated.

    degenerate float broadcastable to [N, H, W, 3], images uint8, factor [N] -> uint8.
    """
    x = tf.cast(images, tf.float32)
    return to_uint8(degenerate + _col(tf.cast(factor, tf.float32)) * (x - degenerate))


def color(images, factor):
    return blend(tf.cast(grayscale(images), tf.float32), images, factor)


def contrast(images, factor):
    return blend(contrast_degenerate(images), images, factor)


def brightness(images, factor):
    return blend(tf.zeros([], tf.float32), images, factor)


def sharpness(images, factor):
    return blend(smooth(images), images, factor)


# ---------------------------------------------------------------------------------- geometric ops

def pil_affine_to_tf(matrices):
    """PIL Image.AFFINE coefficients (a, b, c, d, e, f) [N, 6] -> ImageProjectiveTransform [N, 8].

    PIL maps the output pixel centre (x + .5, y + .5) to input coordinates whose pixel centres are at
    +.5; TF maps integer output indices to input indices. Same geometry, shifted offsets.
    """
    a, b, c, d, e, f = tf.unstack(tf.cast(matrices, tf.float32), axis=1)
    c_tf = 0.5 * a + 0.5 * b + c - 0.5
    f_tf = 0.5 * d + 0.5 * e + f - 0.5
    zeros = tf.zeros_like(a)
    return tf.stack([a, b, c_tf, d, e, f_tf, zeros, zeros], axis=1)


def affine(images, matrices, interpolation="NEAREST", fill=FILL):
    """Per-image PIL-style affine transform, images [N, H, W, C] any real dtype, matrices [N, 6]."""
    images = tf.convert_to_tensor(images)
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=pil_affine_to_tf(matrices), output_shape=tf.shape(images)[1:3],
        fill_value=tf.constant(fill, tf.float32), interpolation=interpolation, fill_mode="CONSTANT")
    out.set_shape(images.shape)  # the raw op forgets H and W; the pipeline and models want them
    return out


def shear_x_matrices(m):
    z, o = tf.zeros_like(m), tf.ones_like(m)
    return tf.stack([o, m, z, z, o, z], axis=1)


def shear_y_matrices(m):
    z, o = tf.zeros_like(m), tf.ones_like(m)
    return tf.stack([o, z, z, m, o, z], axis=1)


def translate_matrices(dx, dy):
    """Input = output + (dx, dy) in pixels, as PIL's (1, 0, dx, 0, 1, dy)."""
    z, o = tf.zeros_like(dx), tf.ones_like(dx)
    return tf.stack([o, z, dx, z, o, dy], axis=1)


def rotate_matrices(degrees, height, width):
    """PIL Image.rotate(degrees) about the image centre (counter-clockwise for positive degrees)."""
    theta = -tf.cast(degrees, tf.float32) * (math.pi / 180.0)
    cos, sin = tf.cos(theta), tf.sin(theta)
    cx = tf.cast(width, tf.float32) / 2.0
    cy = tf.cast(height, tf.float32) / 2.0
    c = cos * -cx + sin * -cy + cx
    f = -sin * -cx + cos * -cy + cy
    return tf.stack([cos, sin, c, -sin, cos, f], axis=1)


def _float_geometric(images, matrices, interpolation):
    return to_uint8(affine(tf.cast(images, tf.float32), matrices, interpolation), round_half_up=True)


def shear_x(images, m):
    """PIL shearX (1, m, 0, 0, 1, 0), bilinear (PIL: bicubic), fill 128. m [N]."""
    return _float_geometric(images, shear_x_matrices(tf.cast(m, tf.float32)), "BILINEAR")


def shear_y(images, m):
    return _float_geometric(images, shear_y_matrices(tf.cast(m, tf.float32)), "BILINEAR")


def translate_x(images, pixels):
    """PIL translateX by `pixels` [N] (nearest, fill 128)."""
    pixels = tf.cast(pixels, tf.float32)
    return affine(images, translate_matrices(pixels, tf.zeros_like(pixels)))


def translate_y(images, pixels):
    pixels = tf.cast(pixels, tf.float32)
    return affine(images, translate_matrices(tf.zeros_like(pixels), pixels))


def rotate(images, degrees):
    """PIL rotate (nearest) with the area outside filled 128, as PaddleClas's rotate_with_fill."""
    shape = tf.shape(images)
    return affine(images, rotate_matrices(degrees, shape[1], shape[2]))


# ------------------------------------------------------------------------- one op per image, batched

def _on_subset(images, selected, fn):
    """Run `fn(sub_images, index)` on the images where `selected` [N] is True and put them back.

    Each op family touches only its share of the batch (about k/14 of it under RandAugment), so the
    batch pays for every family once in total, not once per family.
    """
    index = tf.where(selected)[:, 0]
    sub = fn(tf.gather(images, index), index)
    out = tf.tensor_scatter_nd_update(images, index[:, None], sub)
    out.set_shape(images.shape)
    return out


def apply_ops(images, op_ids, magnitudes, seed, signs=None):
    """Apply to each image its own op from OP_NAMES (or none), batched.

    images uint8 [N, H, W, 3]; op_ids int32 [N] (index into OP_NAMES, -1 = identity); magnitudes
    float32 [N] in PaddleClas's units (shear factor, translate fraction of the side, rotate degrees,
    enhance delta (factor 1 +- m), posterize bits, solarize threshold). `seed` int [2] draws the signs
    of the SIGNED ops, unless `signs` (float [N] of +-1) gives them. Returns uint8 [N, H, W, 3].

    Four families (tables, blends, nearest geometry, bilinear shear), each run once on the images
    whose op belongs to it; every image is touched by at most one family.
    """
    images = tf.convert_to_tensor(images)
    op_ids = tf.cast(op_ids, tf.int32)
    magnitudes = tf.cast(magnitudes, tf.float32)
    shape = tf.shape(images)
    n, height, width = shape[0], shape[1], shape[2]
    signed = tf.reduce_any(tf.equal(op_ids[:, None], tf.constant([OP_ID[s] for s in SIGNED])[None, :]), axis=1)
    if signs is None:
        sign = tf.where(tf.random.stateless_uniform([n], seed) < 0.5, -1.0, 1.0)
    else:
        sign = tf.cast(signs, tf.float32)
    m = tf.where(signed, magnitudes * sign, magnitudes)

    def is_op(*names):
        return tf.reduce_any(tf.equal(op_ids[:, None], tf.constant([OP_ID[k] for k in names])[None, :]), axis=1)

    def tables(x, index):
        ops = tf.gather(op_ids, index)
        mags = tf.gather(magnitudes, index)
        k = tf.shape(x)[0]
        pick = lambda name, table, other: tf.where(tf.equal(ops, OP_ID[name])[:, None, None], table, other)  # noqa: E731
        lut = posterize_lut(tf.cast(mags, tf.int32))
        lut = pick("solarize", solarize_lut(mags), lut)
        lut = pick("invert", invert_lut(k), lut)
        lut = pick("autocontrast", autocontrast_lut(x), lut)
        lut = pick("equalize", equalize_lut(x), lut)
        return apply_lut(x, lut)

    def blends(x, index):
        ops = tf.gather(op_ids, index)
        xf = tf.cast(x, tf.float32)
        sel = lambda name: tf.reshape(tf.equal(ops, OP_ID[name]), [-1, 1, 1, 1])  # noqa: E731
        degenerate = tf.where(sel("color"), tf.cast(grayscale(x), tf.float32), tf.zeros_like(xf))
        degenerate = tf.where(sel("contrast"), contrast_degenerate(x), degenerate)
        degenerate = tf.where(sel("sharpness"), smooth(x), degenerate)
        return blend(degenerate, x, 1.0 + tf.gather(m, index))

    def nearest(x, index):
        ops = tf.gather(op_ids, index)
        mi = tf.gather(m, index)
        zeros = tf.zeros_like(mi)
        matrices = rotate_matrices(mi, height, width)
        matrices = tf.where(tf.equal(ops, OP_ID["translateX"])[:, None],
                            translate_matrices(mi * tf.cast(width, tf.float32), zeros), matrices)
        matrices = tf.where(tf.equal(ops, OP_ID["translateY"])[:, None],
                            translate_matrices(zeros, mi * tf.cast(height, tf.float32)), matrices)
        return affine(x, matrices, "NEAREST")

    def shear(x, index):
        ops = tf.gather(op_ids, index)
        mi = tf.gather(m, index)
        matrices = tf.where(tf.equal(ops, OP_ID["shearX"])[:, None], shear_x_matrices(mi), shear_y_matrices(mi))
        return _float_geometric(x, matrices, "BILINEAR")

    x = _on_subset(images, is_op("posterize", "solarize", "invert", "autocontrast", "equalize"), tables)
    x = _on_subset(x, is_op("color", "contrast", "brightness", "sharpness"), blends)
    x = _on_subset(x, is_op("translateX", "translateY", "rotate"), nearest)
    return _on_subset(x, is_op("shearX", "shearY"), shear)
