"""RandAugment (PaddleClas ops/randaugment.py), batched.

Per image and layer: one op drawn uniformly from the 14 of image_ops.OP_NAMES (with replacement) and
always applied at the fixed level magnitude / 10: shear 0.3 l, translate 150/331 l of the side,
rotate 30 l degrees (counter-clockwise only, as PaddleClas), color/contrast/sharpness/brightness
factor 1 +- 0.9 l, posterize int(4 l) bits, solarize threshold 256 l; autocontrast/equalize/invert
take no magnitude. Fill (128, 128, 128).

PaddleClas's posterize level is int(4 l) bits, so magnitude 5 posterizes to 2 bits (stronger than the
paper's schedule); kept for fidelity. Below magnitude 2.5 that is 0 bits, a black image (what Pillow
< 10 returned; current Pillow raises there).

images uint8 [N, H, W, 3] -> uint8 [N, H, W, 3] (a `pre_norm_ops` entry); each layer is one batched
`image_ops.apply_ops` pass. Keras core's RandAugment is not used: its op set, magnitude scale and
per-op probability differ from PaddleClas's.
"""

import tensorflow as tf

from kclass.data import image_ops, rng
from kclass.errors import ConfigError


def level_map(magnitude, max_level=10):
    """PaddleClas's op -> magnitude table for a RandAugment magnitude."""
    level = magnitude / max_level
    return {
        "shearX": 0.3 * level,
        "shearY": 0.3 * level,
        "translateX": 150.0 / 331 * level,
        "translateY": 150.0 / 331 * level,
        "rotate": 30 * level,
        "color": 0.9 * level,
        "posterize": int(4.0 * level),
        "solarize": 256.0 * level,
        "contrast": 0.9 * level,
        "sharpness": 0.9 * level,
        "brightness": 0.9 * level,
        "autocontrast": 0,
        "equalize": 0,
        "invert": 0,
    }


class RandAugment:
    """PaddleClas RandAugment(num_layers=2, magnitude=5)."""

    def __init__(self, num_layers=2, magnitude=5):
        if int(num_layers) < 0:
            raise ConfigError(f"RandAugment: num_layers must be >= 0, got {num_layers}")
        if not 0 <= magnitude <= 10:
            raise ConfigError(f"RandAugment: magnitude must be in [0, 10], got {magnitude}")
        self.num_layers = int(num_layers)
        self.magnitude = magnitude
        self.levels = level_map(magnitude)

    def sample(self, n, seed):
        """Op ids int32 [num_layers, N] for this seed."""
        return rng.randint(tf.stack([self.num_layers, n]), seed, 0, len(image_ops.OP_NAMES))

    def __call__(self, images, seed):
        images = tf.convert_to_tensor(images)
        seeds = rng.split(seed, self.num_layers + 1)
        ops = self.sample(tf.shape(images)[0], seeds[0])
        mags = tf.constant([float(self.levels[name]) for name in image_ops.OP_NAMES], tf.float32)
        for layer in range(self.num_layers):
            images = image_ops.apply_ops(images, ops[layer], tf.gather(mags, ops[layer]), seeds[layer + 1])
        return images
