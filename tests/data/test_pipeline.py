import numpy as np
import pytest
import tensorflow as tf

from kclass.data import lists, pipeline
from kclass.data.pipeline import DataConfig
from kclass.errors import ConfigError


def _samples(demo_data, split="train"):
    return lists.read_list(f"{demo_data}/{split}_list.txt", None, num_classes=6)


def _take(ds, n):
    return [(x.numpy(), y.numpy()) for x, y in ds.take(n)]


def test_stream_from_step_k_equals_uninterrupted_stream(demo_data):
    samples, cfg = _samples(demo_data), DataConfig()
    spe = pipeline.steps_per_epoch(len(samples), 16)  # 144 images -> 9 steps; crosses an epoch below
    full = _take(pipeline.train_dataset(cfg, samples, 16, 16, 6, seed=5), spe + 3)
    resumed = _take(pipeline.train_dataset(cfg, samples, 16, 16, 6, seed=5, start_step=spe - 1), 4)
    for (xa, ya), (xb, yb) in zip(full[spe - 1:], resumed):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    other_seed = _take(pipeline.train_dataset(cfg, samples, 16, 16, 6, seed=6), 1)
    assert not np.array_equal(other_seed[0][1], full[0][1])


def test_each_epoch_is_a_permutation(demo_data):
    samples = _samples(demo_data)
    ds = pipeline.train_dataset(DataConfig(scale=(1, 1), ratio=(1, 1), flip=False), samples, 16, 16, 6, seed=1)
    spe = len(samples) // 16
    labels = np.concatenate([y for _, y in _take(ds, spe)])
    np.testing.assert_array_equal(np.bincount(labels, minlength=6), np.bincount(samples.labels, minlength=6))


def test_eval_set_is_padded_with_zero_weights(demo_data):
    samples = _samples(demo_data, "val")  # 48 images
    batches = list(pipeline.eval_dataset(DataConfig(), samples, 16, 20, None))
    assert len(batches) == 3 and all(b[0].shape[0] == 20 for b in batches)
    weights = np.concatenate([b[2].numpy() for b in batches])
    assert weights.sum() == len(samples) and weights[len(samples):].sum() == 0
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches])[:48], samples.labels)


def test_batch_must_divide_over_replicas(demo_data):
    ctx = tf.distribute.InputContext(num_input_pipelines=1, input_pipeline_id=0, num_replicas_in_sync=3)
    with pytest.raises(ConfigError, match="BATCH_SIZE=16 is not divisible by the 3 replicas"):
        pipeline.train_dataset(DataConfig(), _samples(demo_data), 16, 16, 6, 0, 0, ctx)


def test_workers_split_each_global_batch(demo_data):
    samples, cfg = _samples(demo_data), DataConfig(flip=False)
    whole = _take(pipeline.train_dataset(cfg, samples, 16, 16, 6, seed=2), 2)
    parts = []
    for worker in range(2):
        ctx = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=worker, num_replicas_in_sync=2)
        parts.append(_take(pipeline.train_dataset(cfg, samples, 16, 16, 6, seed=2, input_context=ctx), 2))
    for step in range(2):
        together = np.sort(np.concatenate([parts[0][step][1], parts[1][step][1]]))
        np.testing.assert_array_equal(together, np.sort(whole[step][1]))


def test_mix_op_gets_one_hot_targets(demo_data):
    seen = {}

    def mix(images, labels, seed):
        seen["labels"] = labels
        return images, labels * 0.5

    ds = pipeline.train_dataset(DataConfig(mix_op=mix), _samples(demo_data), 16, 16, 6, seed=0)
    _, labels = next(iter(ds))
    assert labels.shape == (16, 6) and float(tf.reduce_sum(labels)) == pytest.approx(8.0)
