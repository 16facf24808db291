"""Validated samples -> tf.data pipelines for training and evaluation.

Training is one endless, resumable stream: epoch `e` visits a permutation drawn from (SEED, e) (or, with
`sampling='balanced'`, a class-balanced draw of as many images, from the same seed; with
`sampling='paddleclas'`, the permutation PaddleClas's sampler draws for pass e, whatever the seed), every
image's random crop/flip is drawn from (SEED, its position in the stream), and every batch op from
(SEED, step). Starting at step k therefore reproduces exactly what an uninterrupted run sees at step k,
which is what makes resume-after-kill lossless, on any number of replicas or workers.
"""

import dataclasses
from typing import Callable, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
from absl import logging

from kclass.data import balance, decoded_cache, transforms
from kclass.data.lists import Samples
from kclass.errors import ConfigError, DataError

AUTOTUNE = tf.data.AUTOTUNE
SAMPLINGS = ("uniform", "balanced", "paddleclas")


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
    drop_last: bool = False  # PaddleClas 2.6's engine: every image once per epoch, a smaller last batch
    # Training: decode every image once and keep the uint8 pixels in memory when they fit this many MB
    # (0: read and decode the files every epoch). Same stream either way (`decoded_cache`).
    cache_mb: float = 0.0
    # Training: 'uniform' visits every image once per epoch; 'balanced' (single-label) draws as many
    # images with every class equally often (`balance.balanced_draw`): minority images repeat;
    # 'paddleclas' visits every image once per epoch in PaddleClas 2.6's order (`paddleclas_order`).
    sampling: str = "uniform"


def _options(autotune=True):
    options = tf.data.Options()
    options.deterministic = True
    options.autotune.enabled = autotune
    return options


def without_autograph(fn):
    """`fn` for tf.data to trace as written. tf.data runs every function through AutoGraph first; the
    pipeline's (transforms, augmentations, mixes) branch with tf.cond and loop in Python only, so the
    conversion changes nothing but start-up time (0.5-1.6 s of a run's first epoch, RESULTS.md)."""
    return tf.autograph.experimental.do_not_convert(fn)


def per_replica_batch(global_batch, input_context):
    """Global batch -> the batch each replica sees; refuses a batch that does not divide."""
    replicas = input_context.num_replicas_in_sync if input_context else 1
    if global_batch % replicas:
        raise ConfigError(f"BATCH_SIZE={global_batch} is not divisible by the {replicas} replicas")
    return global_batch // replicas


def epoch_layout(num_images, global_batch, replicas=1, drop_last=False):
    """(steps, images used) of one epoch: PaddleClas's sampler, drop_last False by default.

    Without drop_last every image is seen once per epoch and the last step has the remaining
    N - (steps - 1) * B images, split over the replicas; when fewer remain than there are replicas
    (so one would get none), those few wait for the next epoch's shuffle instead.
    """
    full, rest = divmod(num_images, global_batch)
    if full < 1:
        raise DataError(f"{num_images} training images is fewer than one batch (BATCH_SIZE={global_batch})")
    if drop_last or rest < replicas:
        return full, full * global_batch
    return full + 1, num_images


def steps_per_epoch(num_images, global_batch, replicas=1, drop_last=False):
    """Training steps per epoch: ceil(N / B) (N // B with drop_last; see `epoch_layout`)."""
    return epoch_layout(num_images, global_batch, replicas, drop_last)[0]


def _batch_slices(used, global_batch, steps, replicas):
    """(start, size) int64 [steps, replicas] of each replica's batch within an epoch's permutation."""
    step_start = np.arange(steps, dtype=np.int64) * global_batch
    step_size = np.minimum(global_batch, used - step_start)
    cut = step_start[:, None] + (np.arange(replicas + 1)[None, :] * step_size[:, None]) // replicas
    return cut[:, :-1], np.diff(cut, axis=1)


def train_dataset(cfg: DataConfig, samples: Samples, image_size: int, global_batch: int, num_classes: int,
                  seed: int, start_step: int = 0, input_context=None) -> tf.data.Dataset:
    """Endless stream of (images float32 [b, S, S, 3], labels) per-replica batches from `start_step`.

    Labels: int64 [b] (single-label, no mix op) or float32 [b, C] (mixed targets or multi-label).
    Every batch holds B / replicas images except each epoch's last (see `epoch_layout`). Replica r of
    the global layout gets slice r of each global batch; this pipeline yields, step after step, the
    batches of its own replicas.
    """
    n = len(samples)
    per_replica_batch(global_batch, input_context)  # refuses a batch that does not divide
    replicas = input_context.num_replicas_in_sync if input_context else 1
    pipelines = input_context.num_input_pipelines if input_context else 1
    pipeline_id = input_context.input_pipeline_id if input_context else 0
    local = replicas // pipelines
    spe, used = epoch_layout(n, global_batch, replicas, cfg.drop_last)
    starts, sizes = _batch_slices(used, global_batch, spe, replicas)
    mine = slice(pipeline_id * local, (pipeline_id + 1) * local)
    starts, sizes = tf.constant(starts[:, mine].reshape(-1)), tf.constant(sizes[:, mine].reshape(-1))
    paths = tf.constant(samples.paths)
    labels = tf.constant(samples.labels)
    seed = int(seed)
    start_epoch, offset = divmod(int(start_step), spe)
    multilabel = samples.labels.ndim == 2
    epoch_order = _epoch_order(cfg.sampling, samples)

    def epoch_elements(epoch):
        # (batch key, stream position, image index) for each image of this pipeline's batches.
        order = epoch_order(tf.stack([tf.constant(seed, tf.int64), epoch]))
        first = tf.where(epoch == start_epoch, tf.constant(offset * local, tf.int64), tf.constant(0, tf.int64))
        in_epoch = tf.ragged.range(starts[first:], starts[first:] + sizes[first:])
        keys = epoch * spe * local + first + in_epoch.value_rowids()
        within = in_epoch.flat_values
        positions = epoch * n + within
        # Each image's crop and flip draws, from its seed (seed, stream position), for the whole epoch at once.
        bits = transforms.train_crop_bits(tf.stack([tf.fill(tf.shape(positions), tf.constant(seed, tf.int64)),
                                                    positions], axis=1))
        return tf.data.Dataset.from_tensor_slices((keys, positions, tf.gather(order, within), bits))

    ds = tf.data.Dataset.range(start_epoch, np.iinfo(np.int64).max).flat_map(without_autograph(epoch_elements))

    cache = decoded_cache.decode_all(samples.paths, cfg.cache_mb) if cfg.cache_mb else None
    if cfg.cache_mb and cache is None:
        logging.warning("%s: decoded images exceed DataConfig.cache_mb=%s; decoding every epoch",
                        samples.source, cfg.cache_mb)

    def load(key, position, index, bits):
        image = transforms.decode(tf.io.read_file(paths[index])) if cache is None else cache.image(index)
        image = transforms.train_crop_from_bits(image, image_size, bits, cfg.scale, cfg.ratio, cfg.flip)
        return key, position, image, labels[index]

    ds = ds.map(without_autograph(load), num_parallel_calls=AUTOTUNE)
    # One window per batch key: full batches of B / replicas and the smaller ones of an epoch's end.
    ds = ds.group_by_window(key_func=lambda key, *_: key,
                            reduce_func=lambda key, window: window.batch(tf.cast(sizes[key % (spe * local)], tf.int64)),
                            window_size_func=lambda key: tf.cast(sizes[key % (spe * local)], tf.int64))

    def batch_ops(keys, positions, images, batch_labels):
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

    ds = ds.map(without_autograph(batch_ops), num_parallel_calls=AUTOTUNE)
    # No autotuning model: deleting an iterator that has one waited for the model thread's sleep to
    # end (0-60 s, growing with the run; TF's OptimizeLoop), so runs now and then hung for up to a
    # minute after their last checkpoint. Without it, AUTOTUNE maps run one call per pool thread and prefetch keeps its
    # own buffer tuning: the same rate (tools/bench/recipe.py, MobileNetV3 at 32 px).
    return ds.prefetch(AUTOTUNE).with_options(_options(autotune=False))


def _epoch_order(sampling, samples):
    """seed int64 [2] -> the image indices int64 [N] of one epoch, a pure function of the seed."""
    if sampling == "uniform":
        indices = tf.range(len(samples), dtype=tf.int64)
        return lambda seed: tf.random.experimental.stateless_shuffle(indices, seed=seed)
    if sampling == "paddleclas":
        n = len(samples)
        return lambda seed: tf.ensure_shape(
            tf.numpy_function(paddleclas_order, [seed[1], n], tf.int64, stateful=False), [n])
    if sampling != "balanced":
        raise ConfigError(f"train/DataConfig.sampling = {sampling!r}: expected one of {', '.join(SAMPLINGS)}")
    if samples.labels.ndim != 1:
        raise ConfigError("train/DataConfig.sampling = 'balanced' is for single-label lists "
                          "(multi-label recipes weigh positives with Experiment.pos_weight)")
    return balance.balanced_draw(samples.labels)


def paddleclas_order(epoch, num_images):
    """int64 [N]: the order PaddleClas's DistributedBatchSampler visits in pass `epoch` (from 0).

    It shuffles with np.random.RandomState(epoch), so every seed of a PaddleClas run sees the same
    orders; replaying them makes kclass's batches hold the images of PaddleClas's, step for step (on
    one replica; on several, kclass splits each global batch of this order between them).
    """
    return np.random.RandomState(int(epoch)).permutation(int(num_images)).astype(np.int64)


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

    ds = ds.map(without_autograph(load), num_parallel_calls=AUTOTUNE).batch(batch, drop_remainder=True)
    return ds.prefetch(AUTOTUNE).with_options(_options())
