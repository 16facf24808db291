"""Class balance of a single-label train list: inverse-frequency loss weights and class-balanced epochs.

Two ways to stop a majority class from dominating training (`Experiment.class_weights='balanced'`,
`DataConfig.sampling='balanced'`). Classes with no train image take no part: weight 0, never drawn.
"""

from typing import Callable

import numpy as np
import tensorflow as tf

from kclass.errors import DataError


def _counts(labels: np.ndarray, num_classes: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise DataError("class balance needs single-label ids [N]; multi-label lists weigh positives "
                        "with Experiment.pos_weight")
    if len(labels) == 0 or labels.min() < 0:
        raise DataError("class balance needs a labelled train list (no unlabelled `path`-only lines)")
    return np.bincount(labels, minlength=num_classes)


def balanced_weights(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Inverse class frequency float64 [C]: w_c = N / (K n_c), K the classes with train images.

    Normalised so the weight averaged over the N train images is 1 (the loss keeps its scale, and so
    the learning rate keeps its meaning). A class with no train image gets 0: no target carries it.
    With every class present this is scikit-learn's `compute_class_weight('balanced')`.
    """
    counts = _counts(labels, num_classes)
    present = counts > 0
    weights = np.zeros(num_classes)
    weights[present] = len(labels) / (present.sum() * counts[present])
    return weights


def balanced_draw(labels: np.ndarray) -> Callable:
    """Single-label ids [N] -> `draw(seed)`: int64 [2] seed -> image indices int64 [N] of one epoch.

    The epoch holds N images, as many from each class with images as N allows (the N % K classes
    with one more change with the seed), in shuffled order. A class draws its images from a
    permutation of its own taken in turn: a minority class repeats each image about equally often,
    a majority class shows a different subset each epoch without repeats. Pure function of the seed.
    """
    labels = np.asarray(labels)
    counts = _counts(labels, int(labels.max()) + 1)
    present = np.flatnonzero(counts)
    k, n = len(present), len(labels)
    dense = np.searchsorted(present, labels)  # class id -> its rank among the present classes
    starts = tf.constant(np.concatenate([[0], np.cumsum(counts[present])[:-1]]), tf.int64)
    sizes = tf.constant(counts[present], tf.int64)
    dense = tf.constant(dense, tf.int64)
    slots = tf.range(n, dtype=tf.int64)

    def draw(seed):
        within, classes, order = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
        # Images grouped by class, each class in an order of its own: a shuffle, then a stable sort.
        shuffled = tf.random.experimental.stateless_shuffle(slots, seed=within)
        by_class = tf.gather(shuffled, tf.argsort(tf.gather(dense, shuffled), stable=True))
        # Slot i shows class (i + r) % K, its (i // K)-th image (cycling through a small class).
        first = tf.random.stateless_uniform([], classes, maxval=k, dtype=tf.int64)
        slot_class = (slots + first) % k
        picked = tf.gather(starts, slot_class) + (slots // k) % tf.gather(sizes, slot_class)
        return tf.random.experimental.stateless_shuffle(tf.gather(by_class, picked), seed=order)
    return draw
