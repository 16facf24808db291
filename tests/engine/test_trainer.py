"""The loop: 1 device vs MirroredStrategy on 2 logical CPUs give the same loss curve and weights."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kclass import experiment, optim, splits
from kclass.data import pipeline
from kclass.data.pipeline import DataConfig
from kclass.engine.trainer import LoopConfig


def small_cnn(num_classes=6, size=16, synchronized=True):
    """Conv-BN-ReLU x2 + classifier; synchronized BN so replicas see the global batch statistics."""
    inputs = keras.Input((size, size, 3))
    x = inputs
    for width in (8, 16):
        x = keras.layers.Conv2D(width, 3, strides=2, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, synchronized=synchronized)(x)
        x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(num_classes)(x))


def _exp(demo_data, tmp_path, name):
    return experiment.Experiment(
        num_classes=6, image_size=16, batch_size=8, epochs=1, seed=3, model_dir=str(tmp_path / name),
        verbose=False, train_data=DataConfig(source=f"{demo_data}/train_list.txt"),
        optimizer=optim.OptimizerConfig(lr=0.05, l2=1e-4))


def train_steps(exp, strategy, model, steps):
    """Runs `steps` single steps of the engine's compiled loop; returns each step's reduced sums."""
    samples = splits.read_split(exp, exp.train_data)
    trainer = experiment.make_trainer(exp, strategy, steps_per_epoch=steps, model=model)
    trainer.loop = LoopConfig(epochs=1, steps_per_epoch=steps, global_batch=8, steps_per_loop=1, verbose=False)
    iterator = iter(strategy.distribute_datasets_from_function(
        lambda ctx: pipeline.train_dataset(exp.train_data, samples, 16, 8, 6, exp.seed, 0, ctx)))
    train = trainer.train_function()
    return [{k: float(v) for k, v in train(iterator, tf.constant(1, tf.int64)).items()} for _ in range(steps)]


def _run(exp, strategy, initial, steps):
    with strategy.scope():
        model = small_cnn()
    model.set_weights(initial)
    sums = train_steps(exp, strategy, model, steps)
    return np.array([s["loss"] / s["count"] for s in sums]), model.get_weights()


def test_two_replicas_match_one_device(demo_data, tmp_path):
    initial = small_cnn().get_weights()
    one = tf.distribute.OneDeviceStrategy("/cpu:0")
    two = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    loss1, w1 = _run(_exp(demo_data, tmp_path, "one"), one, initial, 6)
    loss2, w2 = _run(_exp(demo_data, tmp_path, "two"), two, initial, 6)
    assert np.max(np.abs(w1[0] - initial[0])) > 1e-3  # it trained
    np.testing.assert_allclose(loss2, loss1, rtol=1e-5, atol=1e-6)
    for a, b in zip(w1, w2):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)


def _fit_small(exp, steps_per_loop):
    """Two epochs of `small_cnn` through Trainer.fit; returns the run's history rows."""
    from kclass.engine.history import read_history
    samples = splits.read_split(exp, exp.train_data)
    spe = pipeline.steps_per_epoch(len(samples), exp.batch_size)
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    with strategy.scope():
        keras.utils.set_random_seed(5)
        model = small_cnn()
    trainer = experiment.make_trainer(exp, strategy, spe, model=model)
    trainer.loop = LoopConfig(epochs=2, steps_per_epoch=spe, global_batch=8, steps_per_loop=steps_per_loop,
                              verbose=False)
    trainer.fit(lambda start, ctx: pipeline.train_dataset(exp.train_data, samples, 16, 8, 6, exp.seed, start, ctx),
                splits.eval_dataset_fn(exp, splits.read_split(exp, exp.val_data)))
    return read_history(exp.model_dir), spe


def test_history_holds_each_epochs_mean_training_loss_and_its_eval(demo_data, tmp_path):
    exp = _exp(demo_data, tmp_path, "a")
    exp.val_data = DataConfig(source=f"{demo_data}/val_list.txt")
    rows, spe = _fit_small(exp, steps_per_loop=1)
    assert [r["epoch"] for r in rows] == [1, 2]
    assert all(r["train_images"] == spe * 8 and r["eval"]["images"] == 48 for r in rows)
    # The epoch mean does not depend on how the loop chunks the steps.
    exp_b = _exp(demo_data, tmp_path, "b")
    exp_b.val_data = exp.val_data
    rows_b, _ = _fit_small(exp_b, steps_per_loop=4)
    for a, b in zip(rows, rows_b):
        np.testing.assert_allclose(b["train"]["loss"], a["train"]["loss"], rtol=1e-5)
    assert rows[0]["train"]["loss"] != rows[1]["train"]["loss"]


class _CountsTrainingTraces(keras.layers.Layer):
    """Identity that counts the Python runs of its training call: how often a graph around it is traced."""

    def __init__(self):
        super().__init__()
        self.traced = 0

    def call(self, x, training=None):
        self.traced += bool(training)
        return x


def test_the_compiled_loop_traces_the_model_once(demo_data, tmp_path):
    exp = _exp(demo_data, tmp_path, "traces")
    samples = splits.read_split(exp, exp.train_data)
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    with strategy.scope():
        counter, net = _CountsTrainingTraces(), small_cnn()
        inputs = keras.Input((16, 16, 3))
        model = keras.Model(inputs, net(counter(inputs)))
    trainer = experiment.make_trainer(exp, strategy, steps_per_epoch=6, model=model)
    trainer.loop = LoopConfig(epochs=2, steps_per_epoch=6, global_batch=8, steps_per_loop=4, verbose=False)
    trainer.fit(lambda start, ctx: pipeline.train_dataset(exp.train_data, samples, 16, 8, 6, exp.seed, start, ctx))
    assert int(trainer.step.numpy()) == 12
    # One trace serves the loop's first step and its body: a second would double the start-up time
    # (and the graph) of every run.
    assert counter.traced == 1


def _step_call_sites(graph_def):
    """Call ops, in the graph and its function library, of a function traced from `run_step`."""
    nodes = list(graph_def.node) + [n for f in graph_def.library.function for n in f.node_def]
    return [n for n in nodes if n.op in ("PartitionedCall", "StatefulPartitionedCall")
            and "run_step" in n.attr["f"].func.name]


def test_the_compiled_loop_calls_the_step_from_one_site(demo_data, tmp_path):
    # Grappler inlines and optimises every call site of the step: a second site (e.g. a first step
    # outside the loop) doubles the graph the first call of every run optimises.
    exp = _exp(demo_data, tmp_path, "sites")
    samples = splits.read_split(exp, exp.train_data)
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    with strategy.scope():
        model = small_cnn()
    trainer = experiment.make_trainer(exp, strategy, steps_per_epoch=6, model=model)
    iterator = iter(strategy.distribute_datasets_from_function(
        lambda ctx: pipeline.train_dataset(exp.train_data, samples, 16, 8, 6, exp.seed, 0, ctx)))
    graph = trainer.train_function().get_concrete_function(iterator, tf.constant(2, tf.int64)).graph
    assert len(_step_call_sites(graph.as_graph_def())) == 1


def test_summary_hooks_get_the_first_batch_of_a_fresh_run_only_and_every_evals_rows(demo_data, tmp_path):
    from kclass.engine.summary_hooks import SummaryHooks
    exp = _exp(demo_data, tmp_path, "hooks")
    exp.val_data = DataConfig(source=f"{demo_data}/val_list.txt")
    samples = splits.read_split(exp, exp.train_data)
    spe = pipeline.steps_per_epoch(len(samples), 8)
    train_fn = lambda start, ctx: pipeline.train_dataset(exp.train_data, samples, 16, 8, 6, exp.seed, start, ctx)  # noqa: E731
    val = splits.read_split(exp, exp.val_data)
    first, evals, results = [], [], []
    for epochs in (1, 2):  # the second fit resumes from the first one's checkpoint
        strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
        with strategy.scope():
            model = small_cnn()
        trainer = experiment.make_trainer(exp, strategy, spe, model=model)
        trainer.summaries = SummaryHooks(first_batch=lambda images, step: first.append((images, step)),
                                         eval_rows=lambda rows, step: evals.append((rows, step)))
        trainer.loop = LoopConfig(epochs=epochs, steps_per_epoch=spe, global_batch=8, verbose=False)
        results.append(trainer.fit(train_fn, splits.eval_dataset_fn(exp, val)))
    (images, step), = first  # not again on resume
    expected, _ = next(iter(train_fn(0, None)))
    assert step == 0
    np.testing.assert_array_equal(images, expected.numpy())  # the batch step 1 trains on, augmented
    assert [step for _, step in evals] == [spe, 2 * spe]
    for (rows, _), result in zip(evals, results):
        # Single-label training gathers each image's label and top-1: the confusion matrix's input.
        np.testing.assert_array_equal(rows["labels"], val.labels)
        assert np.mean(rows["labels"] == rows["pred"]) == pytest.approx(result["top1"])
