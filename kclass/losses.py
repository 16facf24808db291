"""Losses as per-example tensors [N]; the engine sums them and divides by the global batch."""

import tensorflow as tf


def softmax_cross_entropy(labels, logits, label_smoothing=0.0):
    """CE per example [N]. `labels`: int ids [N] or soft/one-hot targets [N, C]; logits [N, C].

    PaddleClas smoothing: target * (1 - eps) + eps / C. Computed in float32 whatever the logits' dtype.
    """
    logits = tf.cast(logits, tf.float32)
    num_classes = tf.shape(logits)[-1]
    if labels.shape.rank == 1:
        labels = tf.one_hot(tf.cast(labels, tf.int32), num_classes)
    labels = tf.cast(labels, tf.float32)
    if label_smoothing:
        labels = labels * (1.0 - label_smoothing) + label_smoothing / tf.cast(num_classes, tf.float32)
    return tf.nn.softmax_cross_entropy_with_logits(labels, logits)


def sigmoid_cross_entropy(labels, logits, label_smoothing=0.0, pos_weight=None):
    """Multi-label BCE per example [N]: mean over the C classes of labels [N, C] vs logits [N, C].

    PaddleClas smoothing t * (1 - eps) + eps / C; `pos_weight` [C] scales the positive term per class
    (class imbalance). The mean over N x C, as PaddleClas, is this [N] summed over the batch / N.
    """
    logits = tf.cast(logits, tf.float32)
    labels = tf.cast(labels, tf.float32)
    num_classes = tf.cast(tf.shape(logits)[-1], tf.float32)
    if label_smoothing:
        labels = labels * (1.0 - label_smoothing) + label_smoothing / num_classes
    if pos_weight is None:
        per_slot = tf.nn.sigmoid_cross_entropy_with_logits(labels, logits)
    else:
        per_slot = tf.nn.weighted_cross_entropy_with_logits(labels, logits, tf.constant(pos_weight, tf.float32))
    return tf.reduce_mean(per_slot, axis=-1)
