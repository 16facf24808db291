"""Metrics as sums that reduce exactly across replicas and workers (no averaging of averages)."""

import tensorflow as tf


def topk_sums(topk=(1, 5)):
    """metric_fn for single-label: {'top1': weighted hits, 'top5': ...} summed over the batch."""

    def metric_fn(labels, logits, weights):
        if labels.shape.rank == 2:
            labels = tf.argmax(labels, axis=-1)
        logits = tf.cast(logits, tf.float32)
        # top_k breaks ties by index; in_top_k would count every tied class a hit (a constant output
        # would score 100%).
        best = tf.math.top_k(logits, min(max(topk), logits.shape[-1])).indices
        hits = tf.cast(tf.equal(best, tf.cast(labels, tf.int32)[:, None]), tf.float32)
        return {f"top{k}": tf.reduce_sum(tf.reduce_sum(hits[:, :k], axis=1) * weights) for k in topk}

    return metric_fn
