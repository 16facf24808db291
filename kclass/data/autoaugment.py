"""AutoAugment, ImageNet policy (PaddleClas ops/autoaugment.py ImageNetPolicy), batched.

Per image: one of the 25 sub-policies uniformly; each of its two (probability, op, magnitude index)
stages runs with its probability. Magnitude index i maps to PaddleClas's tables (linspace over 10
levels: shear 0..0.3, translate 0..150/331 of the side, rotate 0..30 deg, color/contrast/sharpness/
brightness 0..0.9 as factor 1 +- m, posterize round(linspace(8, 4)) bits, solarize linspace(256, 0)).
Signs are random per image where PaddleClas draws them; rotate always turns counter-clockwise, as
PaddleClas's rotate_with_fill. Fill (128, 128, 128).

images uint8 [N, H, W, 3] -> uint8 [N, H, W, 3] (a `pre_norm_ops` entry). Each stage is one batched
`image_ops.apply_ops` pass, not a per-image map. No Keras layer is used: Keras core has no AutoAugment.
"""

import numpy as np
import tensorflow as tf

from kclass.data import image_ops, rng

# (p1, op1, magnitude index 1, p2, op2, magnitude index 2), PaddleClas's ImageNetPolicy list.
IMAGENET_POLICY = (
    (0.4, "posterize", 8, 0.6, "rotate", 9),
    (0.6, "solarize", 5, 0.6, "autocontrast", 5),
    (0.8, "equalize", 8, 0.6, "equalize", 3),
    (0.6, "posterize", 7, 0.6, "posterize", 6),
    (0.4, "equalize", 7, 0.2, "solarize", 4),
    (0.4, "equalize", 4, 0.8, "rotate", 8),
    (0.6, "solarize", 3, 0.6, "equalize", 7),
    (0.8, "posterize", 5, 1.0, "equalize", 2),
    (0.2, "rotate", 3, 0.6, "solarize", 8),
    (0.6, "equalize", 8, 0.4, "posterize", 6),
    (0.8, "rotate", 8, 0.4, "color", 0),
    (0.4, "rotate", 9, 0.6, "equalize", 2),
    (0.0, "equalize", 7, 0.8, "equalize", 8),
    (0.6, "invert", 4, 1.0, "equalize", 8),
    (0.6, "color", 4, 1.0, "contrast", 8),
    (0.8, "rotate", 8, 1.0, "color", 2),
    (0.8, "color", 8, 0.8, "solarize", 7),
    (0.4, "sharpness", 7, 0.6, "invert", 8),
    (0.6, "shearX", 5, 1.0, "equalize", 9),
    (0.4, "color", 0, 0.6, "equalize", 3),
    (0.4, "equalize", 7, 0.2, "solarize", 4),
    (0.6, "solarize", 5, 0.6, "autocontrast", 5),
    (0.6, "invert", 4, 1.0, "equalize", 8),
    (0.6, "color", 4, 1.0, "contrast", 8),
    (0.8, "equalize", 8, 0.6, "equalize", 3),
)

RANGES = {
    "shearX": np.linspace(0, 0.3, 10),
    "shearY": np.linspace(0, 0.3, 10),
    "translateX": np.linspace(0, 150 / 331, 10),
    "translateY": np.linspace(0, 150 / 331, 10),
    "rotate": np.linspace(0, 30, 10),
    "color": np.linspace(0.0, 0.9, 10),
    "posterize": np.round(np.linspace(8, 4, 10), 0).astype(np.int64),
    "solarize": np.linspace(256, 0, 10),
    "contrast": np.linspace(0.0, 0.9, 10),
    "sharpness": np.linspace(0.0, 0.9, 10),
    "brightness": np.linspace(0.0, 0.9, 10),
    "autocontrast": [0] * 10,
    "equalize": [0] * 10,
    "invert": [0] * 10,
}


def _stage_tables(policy, stage):
    probs = [p[3 * stage] for p in policy]
    ops = [image_ops.OP_ID[p[3 * stage + 1]] for p in policy]
    mags = [float(RANGES[p[3 * stage + 1]][p[3 * stage + 2]]) for p in policy]
    return (np.array(probs, np.float32), np.array(ops, np.int32), np.array(mags, np.float32))


class AutoAugment:
    """PaddleClas AutoAugment (ImageNetPolicy, fillcolor (128, 128, 128)); no parameters."""

    def __init__(self, policy=IMAGENET_POLICY):
        self.policy = tuple(tuple(p) for p in policy)
        # numpy, not tensors: the op is traced into several graphs (tf.data, tf.function, eager).
        self._stages = [_stage_tables(self.policy, s) for s in range(2)]

    def sample(self, n, seed):
        """Per image: sub-policy index int32 [N] and, per stage, (op id with -1 where skipped, magnitude)."""
        seeds = rng.split(seed, 3)
        index = rng.randint([n], seeds[0], 0, len(self.policy))
        stages = []
        for s, (probs, ops, mags) in enumerate(self._stages):
            run = tf.random.stateless_uniform([n], seeds[1 + s]) < tf.gather(probs, index)
            stages.append((tf.where(run, tf.gather(ops, index), image_ops.IDENTITY), tf.gather(mags, index)))
        return index, stages

    def __call__(self, images, seed):
        images = tf.convert_to_tensor(images)
        seeds = rng.split(seed, 3)
        _, stages = self.sample(tf.shape(images)[0], seeds[0])
        for s, (ops, mags) in enumerate(stages):
            images = image_ops.apply_ops(images, ops, mags, seeds[1 + s])
        return images
