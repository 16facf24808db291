import numpy as np
import pytest
import tensorflow as tf

from kclass.data import lists, pipeline
from kclass.data.autoaugment import AutoAugment
from kclass.data.cutout import Cutout
from kclass.data.gridmask import GridMask
from kclass.data.hide_and_seek import HideAndSeek
from kclass.data.mixup import CutMix, Mixup, MixupCutMix
from kclass.data.randaugment import RandAugment
from kclass.data.random_erasing import RandomErasing
from kclass.data.pipeline import DataConfig
from kclass.errors import ConfigError


def _samples(demo_data, split="train"):
    return lists.read_list(f"{demo_data}/{split}_list.txt", None, num_classes=6)


def _take(ds, n):
    return [(x.numpy(), y.numpy()) for x, y in ds.take(n)]


@pytest.mark.parametrize("sampling", ["uniform", "balanced", "paddleclas"])
def test_stream_from_step_k_equals_uninterrupted_stream(demo_data, sampling):
    samples, cfg = _samples(demo_data), DataConfig(sampling=sampling)
    spe = pipeline.steps_per_epoch(len(samples), 16)  # 144 images -> 9 steps; crosses an epoch below
    full = _take(pipeline.train_dataset(cfg, samples, 16, 16, 6, seed=5), spe + 3)
    resumed = _take(pipeline.train_dataset(cfg, samples, 16, 16, 6, seed=5, start_step=spe - 1), 4)
    for (xa, ya), (xb, yb) in zip(full[spe - 1:], resumed):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    other_seed = _take(pipeline.train_dataset(cfg, samples, 16, 16, 6, seed=6), 1)
    assert not np.array_equal(other_seed[0][0], full[0][0])  # the crops and flips follow the seed
    if sampling != "paddleclas":  # whose order is PaddleClas's, the same for every seed
        assert not np.array_equal(other_seed[0][1], full[0][1])


def test_each_epoch_is_a_permutation(demo_data):
    samples = _samples(demo_data)
    ds = pipeline.train_dataset(DataConfig(scale=(1, 1), ratio=(1, 1), flip=False), samples, 16, 16, 6, seed=1)
    spe = len(samples) // 16
    labels = np.concatenate([y for _, y in _take(ds, spe)])
    np.testing.assert_array_equal(np.bincount(labels, minlength=6), np.bincount(samples.labels, minlength=6))


def test_paddleclas_sampling_replays_paddleclas_order_whatever_the_seed(demo_data):
    # PaddleClas's sampler shuffles pass e with np.random.RandomState(e): the same for every seed.
    samples = _samples(demo_data)
    cfg = DataConfig(scale=(1, 1), ratio=(1, 1), flip=False, sampling="paddleclas")
    spe = len(samples) // 16
    expected = np.concatenate([samples.labels[np.random.RandomState(e).permutation(len(samples))] for e in (0, 1)])
    for seed in (3, 4):
        labels = np.concatenate([y for _, y in _take(pipeline.train_dataset(cfg, samples, 16, 16, 6, seed), 2 * spe)])
        np.testing.assert_array_equal(labels, expected)


def _imbalanced(demo_data):
    """The demo train split cut to 24 images of class 0 and 2 of each other class (ratio 12)."""
    samples = _samples(demo_data)
    rank = np.array([np.sum(samples.labels[:i] == label) for i, label in enumerate(samples.labels)])
    keep = np.flatnonzero((samples.labels == 0) | (rank < 2))
    assert np.array_equal(np.bincount(samples.labels[keep]), [24, 2, 2, 2, 2, 2])
    return lists.Samples([samples.paths[i] for i in keep], samples.labels[keep], samples.source)


def test_balanced_sampling_draws_every_class_equally_each_epoch_and_resumes_exactly(demo_data):
    samples = _imbalanced(demo_data)  # 34 images at batch 8: 5 steps, the last of 2 images
    cfg = DataConfig(scale=(1, 1), ratio=(1, 1), flip=False, sampling="balanced")
    stream = _take(pipeline.train_dataset(cfg, samples, 16, 8, 6, seed=3), 15)
    epochs = [np.concatenate([y for _, y in stream[e * 5:(e + 1) * 5]]) for e in range(3)]
    for labels in epochs:
        assert len(labels) == 34 and set(np.bincount(labels, minlength=6)) <= {5, 6}  # 34 = 6 x 5 + 4
    assert not np.array_equal(epochs[0], epochs[1])
    # A pure function of (seed, epoch): a stream started mid-epoch 1 (a resume) sees what this one saw.
    resumed = _take(pipeline.train_dataset(cfg, samples, 16, 8, 6, seed=3, start_step=7), 8)
    for (xa, ya), (xb, yb) in zip(stream[7:], resumed):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)


def test_unknown_or_multi_label_balanced_sampling_is_refused(demo_data):
    samples = _samples(demo_data)
    with pytest.raises(ConfigError, match="train/DataConfig.sampling = 'balance': expected one of uniform, balanced"):
        pipeline.train_dataset(DataConfig(sampling="balance"), samples, 16, 16, 6, seed=0)
    multi = lists.Samples(samples.paths, np.eye(6, dtype=np.float32)[samples.labels], samples.source)
    with pytest.raises(ConfigError, match="single-label"):
        pipeline.train_dataset(DataConfig(sampling="balanced"), multi, 16, 16, 6, seed=0)


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


def _numbered(demo_data):
    """The demo train split with label i for image i: labels tell which images a batch holds."""
    samples = _samples(demo_data)
    return lists.Samples(samples.paths, np.arange(len(samples)), samples.source)


@pytest.mark.parametrize("pipelines,replicas", [(1, 1), (1, 2), (2, 4)])
def test_every_image_once_per_epoch_with_a_smaller_last_batch(demo_data, pipelines, replicas):
    samples = _numbered(demo_data)  # 144 images at batch 20: 7 full steps and one of 4
    assert pipeline.epoch_layout(len(samples), 20, replicas) == (8, 144)
    cfg = DataConfig(scale=(1, 1), ratio=(1, 1), flip=False)
    seen = {}
    for worker in range(pipelines):
        ctx = tf.distribute.InputContext(pipelines, worker, replicas)
        batches = _take(pipeline.train_dataset(cfg, samples, 16, 20, 6, seed=4, input_context=ctx),
                        16 * replicas // pipelines)
        seen[worker] = [y for _, y in batches]
    for epoch in range(2):
        per_replica = [seen[w][epoch * 8 * replicas // pipelines:(epoch + 1) * 8 * replicas // pipelines]
                       for w in range(pipelines)]
        labels = np.concatenate([np.concatenate(p) for p in per_replica])
        np.testing.assert_array_equal(np.sort(labels), np.arange(144))
        last = [len(b) for p in per_replica for b in p[-replicas // pipelines:]]
        assert sum(last) == 4 and max(last) - min(last) <= 1
    assert not np.array_equal(seen[0][0], seen[0][8 * replicas // pipelines])  # reshuffled


def test_drop_last_and_a_remainder_smaller_than_the_replicas_skip_the_last_batch():
    assert pipeline.epoch_layout(144, 20, 1, drop_last=True) == (7, 140)
    assert pipeline.epoch_layout(141, 20, 2) == (7, 140)  # 1 image left for 2 replicas: next epoch
    assert pipeline.epoch_layout(140, 20, 2) == (7, 140)
    with pytest.raises(Exception, match="fewer than one batch"):
        pipeline.epoch_layout(19, 20)


def _mixed_size_list(tmp_path, count=20):
    """`count` images of differing sizes (PNG and JPEG) in a list file; returns the Samples."""
    from PIL import Image
    rng = np.random.default_rng(3)
    lines = []
    for i in range(count):
        h, w = int(rng.integers(12, 40)), int(rng.integers(12, 40))
        name = f"{i}.{'png' if i % 2 else 'jpg'}"
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(tmp_path / name)
        lines.append(f"{name} {i % 3}\n")
    (tmp_path / "list.txt").write_text("".join(lines))
    return lists.read_list(str(tmp_path / "list.txt"), str(tmp_path), num_classes=3)


@pytest.mark.parametrize("start_step", [0, 3])
def test_decoded_cache_gives_the_stream_of_the_files(tmp_path, start_step):
    samples = _mixed_size_list(tmp_path)
    files = _take(pipeline.train_dataset(DataConfig(), samples, 16, 4, 3, seed=7, start_step=start_step), 8)
    cached = _take(pipeline.train_dataset(DataConfig(cache_mb=1), samples, 16, 4, 3, seed=7,
                                          start_step=start_step), 8)
    for (xa, ya), (xb, yb) in zip(files, cached):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)


def test_decoded_cache_holds_every_image_or_none_over_budget(tmp_path):
    from kclass.data import decoded_cache, transforms
    samples = _mixed_size_list(tmp_path, 6)
    cache = decoded_cache.decode_all(samples.paths, budget_mb=1)
    for i, path in enumerate(samples.paths):
        np.testing.assert_array_equal(cache.image(tf.constant(i, tf.int64)).numpy(),
                                      transforms.decode(tf.io.read_file(path)).numpy())
    assert cache.nbytes == sum(transforms.decode(tf.io.read_file(p)).numpy().size for p in samples.paths)
    assert decoded_cache.decode_all(samples.paths, budget_mb=cache.nbytes / 2 ** 20 * 0.9) is None


def test_decoded_cache_names_a_file_that_does_not_decode(tmp_path):
    from kclass.data import decoded_cache
    from kclass.errors import DataError
    samples = _mixed_size_list(tmp_path, 4)
    with open(samples.paths[2], "wb") as f:
        f.write(b"not an image")
    with pytest.raises(DataError, match=r"2\.jpg: the image could not be decoded"):
        decoded_cache.decode_all(samples.paths, budget_mb=1)


@pytest.mark.parametrize("where, op", [
    ("pre_norm_ops", lambda: AutoAugment()), ("pre_norm_ops", lambda: RandAugment()),
    ("post_norm_ops", lambda: Cutout(length=8)), ("post_norm_ops", lambda: GridMask(d1=4, d2=12)),
    ("post_norm_ops", lambda: HideAndSeek(grid_sizes=(0, 4, 8))), ("post_norm_ops", lambda: RandomErasing()),
    ("mix_op", lambda: Mixup()), ("mix_op", lambda: CutMix()), ("mix_op", lambda: MixupCutMix()),
])
def test_every_augmentation_runs_in_the_pipeline(demo_data, where, op):
    # The pipeline's functions are traced without AutoGraph: a tensor-dependent Python branch in an
    # op would fail here, not in a user's run.
    ops = {where: op() if where == "mix_op" else [op()]}
    ds = pipeline.train_dataset(DataConfig(**ops), _samples(demo_data), 16, 16, 6, seed=3)
    images, labels = next(iter(ds))
    plain, _ = next(iter(pipeline.train_dataset(DataConfig(), _samples(demo_data), 16, 16, 6, seed=3)))
    assert images.shape == (16, 16, 16, 3) and np.isfinite(images).all()
    assert labels.shape == ((16, 6) if where == "mix_op" else (16,))
    assert not np.array_equal(images, plain)  # the op did change the batch


def test_train_stream_has_no_autotuning_model(demo_data):
    # Deleting an iterator whose autotuning model thread sleeps waits out the sleep (up to 60 s): runs
    # stalled after their last checkpoint. The eval pipeline's short-lived iterators keep autotuning.
    train = pipeline.train_dataset(DataConfig(), _samples(demo_data), 16, 16, 6, seed=0)
    evals = pipeline.eval_dataset(DataConfig(), _samples(demo_data, "val"), 16, 16)
    assert train.options().autotune.enabled is False
    assert evals.options().autotune.enabled is True
