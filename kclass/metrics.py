"""Metrics as sums that reduce exactly across replicas and workers (no averaging of averages)."""

import tensorflow as tf


def topk_correct(labels, logits, k):
    """Number of examples [scalar float32] whose label is in the top `k` logits; labels int [N] or [N, C]."""
    if labels.shape.rank == 2:
        labels = tf.argmax(labels, axis=-1)
    logits = tf.cast(logits, tf.float32)
    k = min(k, logits.shape[-1])
    hit = tf.math.in_top_k(tf.cast(labels, tf.int32), logits, k)
    return tf.reduce_sum(tf.cast(hit, tf.float32))
