"""Batch mixing ops: Mixup, CutMix, and PaddleClas's OpSampler choice between them (MixupCutMix).

Contract (kclass.data.pipeline, `mix_op`): `op(images, labels, seed) -> (images, labels)` with images
[N, H, W, C] float32/bfloat16/float16 (kept in their dtype), labels float32 [N, K] one-hot or multi-hot,
seed int [2]. Returned labels are the mixed targets float32 [N, K]; loss is CE against them.

PaddleClas (release/2.1 batch_operators.py) draws ONE lambda ~ Beta(alpha, alpha) and ONE permutation
per batch; so does kclass. Keras core's MixUp/CutMix layers are not used: they draw per-sample
lambdas and CutMix boxes, which is not PaddleClas's per-batch semantics.
"""

import tensorflow as tf

from kclass.data import rng
from kclass.data.boxes import boxes_mask
from kclass.errors import ConfigError


def _check_alpha(name, alpha):
    if not alpha > 0:
        raise ConfigError(f"{name}: alpha must be > 0, got {alpha}")
    return float(alpha)


def sample_beta(alpha, seed):
    """One draw of Beta(alpha, alpha) as a float32 scalar, via two stateless gammas (float64, so small
    alphas do not underflow both draws to 0)."""
    g = tf.random.stateless_gamma([2], seed, alpha=tf.constant(alpha, tf.float64), dtype=tf.float64)
    total = g[0] + g[1]
    return tf.cast(tf.where(total > 0, g[0] / tf.where(total > 0, total, 1.0), 0.5), tf.float32)


def sample_permutation(batch_size, seed):
    """A permutation of range(batch_size), int32 [N]."""
    return tf.random.experimental.stateless_shuffle(tf.range(batch_size), seed)


def mix_labels(labels, perm, lam):
    """lam * y + (1 - lam) * y[perm]; labels [N, K] -> float32 [N, K]."""
    labels = tf.cast(labels, tf.float32)
    return lam * labels + (1.0 - lam) * tf.gather(labels, perm)


class Mixup:
    """PaddleClas MixupOperator(alpha=0.2): x = lam x + (1 - lam) x[perm], y likewise, per batch."""

    def __init__(self, alpha=0.2):
        self.alpha = _check_alpha("Mixup", alpha)

    def sample(self, batch_size, seed):
        """(lam float32 scalar, perm int32 [N]) for this seed; what __call__ uses."""
        seeds = rng.split(seed, 2)
        return sample_beta(self.alpha, seeds[0]), sample_permutation(batch_size, seeds[1])

    def __call__(self, images, labels, seed):
        images = tf.convert_to_tensor(images)
        lam, perm = self.sample(tf.shape(images)[0], seed)
        lam_x = tf.cast(lam, images.dtype)
        mixed = lam_x * images + (tf.cast(1.0, images.dtype) - lam_x) * tf.gather(images, perm)
        return mixed, mix_labels(labels, perm, lam)


class CutMix:
    """PaddleClas CutmixOperator(alpha=0.2): paste one box of x[perm] into every image of the batch.

    Box side = int(side * sqrt(1 - lam)) per axis, centre uniform over the image, clipped at the borders
    (half-sides rounded down, as PaddleClas); labels use lam = 1 - (pasted area / image area).
    """

    def __init__(self, alpha=0.2):
        self.alpha = _check_alpha("CutMix", alpha)

    def sample(self, height, width, batch_size, seed):
        """(box int32 [4] = y1, y2, x1, x2, lam float32 corrected by the box area, perm int32 [N])."""
        seeds = rng.split(seed, 3)
        lam = sample_beta(self.alpha, seeds[0])
        perm = sample_permutation(batch_size, seeds[1])
        cut_rat = tf.sqrt(1.0 - lam)
        cut_h = tf.cast(tf.cast(height, tf.float32) * cut_rat, tf.int32)
        cut_w = tf.cast(tf.cast(width, tf.float32) * cut_rat, tf.int32)
        centre = rng.split(seeds[2], 2)
        cy = rng.randint([], centre[0], 0, height)
        cx = rng.randint([], centre[1], 0, width)
        y1 = tf.clip_by_value(cy - cut_h // 2, 0, height)
        y2 = tf.clip_by_value(cy + cut_h // 2, 0, height)
        x1 = tf.clip_by_value(cx - cut_w // 2, 0, width)
        x2 = tf.clip_by_value(cx + cut_w // 2, 0, width)
        area = tf.cast((y2 - y1) * (x2 - x1), tf.float32)
        lam = 1.0 - area / tf.cast(height * width, tf.float32)
        return tf.stack([y1, y2, x1, x2]), lam, perm

    def __call__(self, images, labels, seed):
        images = tf.convert_to_tensor(images)
        shape = tf.shape(images)
        box, lam, perm = self.sample(shape[1], shape[2], shape[0], seed)
        inside = boxes_mask(*[tf.reshape(edge, [1, 1]) for edge in tf.unstack(box)], shape[1], shape[2])
        mixed = tf.where(inside, tf.gather(images, perm), images)  # one box for the batch: [1, H, W, 1]
        return mixed, mix_labels(labels, perm, lam)


class MixupCutMix:
    """PaddleClas OpSampler over MixupOperator and CutmixOperator: per batch, Mixup with probability
    `mixup_prob`, CutMix with `cutmix_prob`, unchanged otherwise (labels then pass through as given).

    Defaults are PaddleClas's documented DataAugment setting (Mixup alpha 0.8 / CutMix alpha 1.0,
    0.5 each).
    """

    def __init__(self, mixup_alpha=0.8, cutmix_alpha=1.0, mixup_prob=0.5, cutmix_prob=0.5):
        if mixup_prob < 0 or cutmix_prob < 0 or mixup_prob + cutmix_prob > 1.0 + 1e-9:
            raise ConfigError(f"MixupCutMix: probabilities must be >= 0 and sum to <= 1, got "
                              f"mixup_prob={mixup_prob}, cutmix_prob={cutmix_prob}")
        self.mixup = Mixup(mixup_alpha)
        self.cutmix = CutMix(cutmix_alpha)
        self.mixup_prob = float(mixup_prob)
        self.cutmix_prob = float(cutmix_prob)

    def choose(self, seed):
        """0 = none, 1 = Mixup, 2 = CutMix (int32 scalar) for this batch seed."""
        u = tf.random.stateless_uniform([], rng.split(seed, 3)[0])
        return tf.where(u < self.mixup_prob, 1, tf.where(u < self.mixup_prob + self.cutmix_prob, 2, 0))

    def __call__(self, images, labels, seed):
        images = tf.convert_to_tensor(images)
        labels = tf.cast(labels, tf.float32)
        seeds = rng.split(seed, 3)
        choice = self.choose(seed)
        return tf.switch_case(choice, [
            lambda: (images, labels),
            lambda: self.mixup(images, labels, seeds[1]),
            lambda: self.cutmix(images, labels, seeds[2]),
        ])
