"""Validated samples -> tf.data pipelines for training and evaluation.

Training is one endless, resumable stream: epoch `e` visits a permutation drawn from (SEED, e), every
image's random crop/flip is drawn from (SEED, its position in the stream), and every batch op from
(SEED, step). Starting at step k therefore reproduces exactly what an uninterrupted run sees at step k,
which is what makes resume-after-kill lossless, on any number of replicas or workers.
"""

import dataclasses
from typing import Callable, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
from absl import logging

from kclass.data import decoded_cache, transforms
from kclass.data.lists import Samples
from kclass.errors import ConfigError, DataError

AUTOTUNE = tf.data.AUTOTUNE


@dataclasses.dataclass
class DataConfig:
    """One split of a recipe. `source` is a list file or a class-per-folder directory.

    Batch ops, applied after batching in this order: `pre_norm_ops` (uint8 images, e.g. RandAugment),
    normalisation, `post_norm_ops` (normalised float images, e.g. Cutout), `mix_op` (images and
    one-hot labels, e.g. Mixup). Each op is `op(images, seed)` / `op(images, labels, seed)`.
    """
    source: str = ""
    data_root: Optional[str] = None
    label_list: Optional[str] = None
    resize_short: Optional[int] = None  # eval only; default image_size * 8 / 7 (36 for 32, 256 for 224)
    scale: Tuple[float, float] = (0.08, 1.0)
    ratio: Tuple[float, float] = (3.0 / 4.0, 4.0 / 3.0)
    flip: bool = True
    mean: Tuple[float, float, float] = transforms.IMAGENET_MEAN
    std: Tuple[float, float, float] = transforms.IMAGENET_STD
    pre_norm_ops: Sequence[Callable] = ()
    post_norm_ops: Sequence[Callable] = ()
    mix_op: Optional[Callable] = None
    batch_size: Optional[int] = None  # global; None means the recipe's BATCH_SIZE
    # Training: decode every image once and keep the uint8 pixels in memory when they fit this many MB
    # (0: read and decode the files every epoch). Same stream either way (`decoded_cache`).
    cache_mb: float = 0.0


def _options():
    options = tf.data.Options()
    options.deterministic = True
    options.autotune.enabled = True
    return options


def per_replica_batch(global_batch, input_context):
    """Global batch -> the batch each replica sees; refuses a batch that does not divide."""
    replicas = input_context.num_replicas_in_sync if input_context else 1
    if global_batch % replicas:
        raise ConfigError(f"BATCH_SIZE={global_batch} is not divisible by the {replicas} replicas")
    return global_batch // replicas


def steps_per_epoch(num_images, global_batch):
    """Training steps per epoch with drop_last (PaddleClas release/2.1): N // B."""
    steps = num_images // global_batch
    if steps < 1:
        raise DataError(f"{num_images} training images is fewer than one batch (BATCH_SIZE={global_batch})")
    return steps


def train_dataset(cfg: DataConfig, samples: Samples, image_size: int, global_batch: int, num_classes: int,
                  seed: int, start_step: int = 0, input_context=None) -> tf.data.Dataset:
    """Endless stream of (images float32 [b, S, S, 3], labels) per-replica batches from `start_step`.

    Labels: int64 [b] (single-label, no mix op) or float32 [b, C] (mixed targets or multi-label).
    """
    n = len(samples)
    batch = per_replica_batch(global_batch, input_context)
    spe = steps_per_epoch(n, global_batch)
    used = spe * global_batch
    paths = tf.constant(samples.paths)
    labels = tf.constant(samples.labels)
    seed = int(seed)
    start_epoch, offset = divmod(int(start_step), spe)
    multilabel = samples.labels.ndim == 2

    def epoch_order(epoch):
        order = tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64),
                                                         seed=tf.stack([tf.constant(seed, tf.int64), epoch]))
        return tf.data.Dataset.from_tensor_slices(order[:used])

    ds = tf.data.Dataset.range(start_epoch, np.iinfo(np.int64).max).flat_map(epoch_order)
    ds = ds.skip(offset * global_batch).enumerate(start=start_step * global_batch)
    if input_context and input_context.num_input_pipelines > 1:
        ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)

    cache = decoded_cache.decode_all(samples.paths, cfg.cache_mb) if cfg.cache_mb else None
    if cfg.cache_mb and cache is None:
        logging.warning("%s: decoded images exceed DataConfig.cache_mb=%s; decoding every epoch",
                        samples.source, cfg.cache_mb)

    def load(position, index):
        image_seed = tf.stack([tf.constant(seed, tf.int64), position])
        if cache is None:
            image = transforms.train_image(tf.io.read_file(paths[index]), image_size, image_seed,
                                           cfg.scale, cfg.ratio, cfg.flip)
        else:
            image = transforms.train_crop(cache.image(index), image_size, image_seed, cfg.scale, cfg.ratio, cfg.flip)
        return position, image, labels[index]

    ds = ds.map(load, num_parallel_calls=AUTOTUNE).batch(batch, drop_remainder=True)

    def batch_ops(positions, images, batch_labels):
        # Distinct per batch, identical for the same step whatever the replica layout.
        batch_seed = tf.stack([tf.constant(seed + 1, tf.int64), positions[0]])
        op_seeds = tf.random.experimental.stateless_split(batch_seed, 2 + len(cfg.pre_norm_ops)
                                                          + len(cfg.post_norm_ops))
        i = 0
        for op in cfg.pre_norm_ops:
            images, i = op(images, op_seeds[i]), i + 1
        images = transforms.normalize(images, cfg.mean, cfg.std)
        for op in cfg.post_norm_ops:
            images, i = op(images, op_seeds[i]), i + 1
        if cfg.mix_op is not None:
            targets = batch_labels if multilabel else tf.one_hot(batch_labels, num_classes)
            images, batch_labels = cfg.mix_op(images, tf.cast(targets, tf.float32), op_seeds[i])
        return images, batch_labels

    ds = ds.map(batch_ops, num_parallel_calls=AUTOTUNE)
    return ds.prefetch(AUTOTUNE).with_options(_options())


def eval_dataset(cfg: DataConfig, samples: Samples, image_size: int, global_batch: int,
                 input_context=None) -> tf.data.Dataset:
    """Every image once, in list order: (images float32 [b, S, S, 3], labels, weights float32 [b]).

    The set is padded to a whole number of global batches with weight-0 copies, so every replica of
    every worker runs the same number of full steps (uneven shards would deadlock collectives).
    """
    batch = per_replica_batch(global_batch, input_context)
    n = len(samples)
    padded = -(-n // global_batch) * global_batch
    pad = np.arange(padded) % n
    weights = (np.arange(padded) < n).astype(np.float32)
    ds = tf.data.Dataset.from_tensor_slices((np.array(samples.paths)[pad], samples.labels[pad], weights))
    if input_context and input_context.num_input_pipelines > 1:
        ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)

    def load(path, label, weight):
        image = transforms.eval_image(tf.io.read_file(path), image_size, cfg.resize_short, cfg.mean, cfg.std)
        return image, label, weight

    ds = ds.map(load, num_parallel_calls=AUTOTUNE).batch(batch, drop_remainder=True)
    return ds.prefetch(AUTOTUNE).with_options(_options())
