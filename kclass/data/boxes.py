"""Rectangle masks, shared by the ops that erase or paste boxes (Cutout, RandomErasing, CutMix)."""

import tensorflow as tf


def boxes_mask(y1, y2, x1, x2, height, width):
    """Union of per-image boxes [y1, y2) x [x1, x2); each int [N, K] -> bool [N, H, W, 1]."""
    rows = tf.range(height)
    cols = tf.range(width)
    in_rows = (rows[None, None, :] >= y1[..., None]) & (rows[None, None, :] < y2[..., None])
    in_cols = (cols[None, None, :] >= x1[..., None]) & (cols[None, None, :] < x2[..., None])
    inside = in_rows[:, :, :, None] & in_cols[:, :, None, :]
    return tf.reduce_any(inside, axis=1)[..., None]
