"""SSLD: the Distiller model, unlabelled lists, the wiring in `experiment`, make_unlabeled_list, and a
slow end-to-end check that distillation really transfers the teacher's knowledge (the task itself:
tests/tasks/test_distillation.py)."""

import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from kclass import experiment, model_builder, models, optim, splits
from kclass.data import lists
from kclass.data.pipeline import DataConfig
from kclass.errors import DataError
from kclass.models.distiller import Distiller
from kclass.models.blocks import classifier, conv_bn
from kclass.models.seeds import seeds_from
from tests.engine.test_trainer import small_cnn, train_steps

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _pair(teacher_bn_frozen=True):
    teacher = small_cnn()
    # A teacher with non-trivial BN state, so "unchanged" cannot pass by accident.
    for layer in teacher.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_mean.assign(np.linspace(-0.5, 0.5, layer.moving_mean.shape[0]))
            layer.moving_variance.assign(np.linspace(0.5, 2.0, layer.moving_variance.shape[0]))
    return Distiller(teacher, small_cnn(), teacher_bn_frozen=teacher_bn_frozen)


def _tiny_cnn(width):
    """Registers (once) and names a 4-conv CNN: the registry's ResNet18_vd / MobileNetV3_small are slow
    to build and checkpoint, and learn too slowly from scratch on 2 CPU cores for the end-to-end test
    (ResNet18_vd: top-1 0.65 after 100 s; MobileNetV3_small_x0_35: chance after 150 steps)."""
    def factory(num_classes=1000, input_shape=(16, 16, 3), sync_bn=False, seed=None, dtype=None):
        seeds = seeds_from(seed)
        inputs = keras.Input(input_shape)
        x = inputs
        for i, (mult, stride) in enumerate(((1, 1), (2, 2), (4, 2), (4, 1))):
            x = conv_bn(x, width * mult, 3, strides=stride, act="relu", name=f"c{i}", sync_bn=sync_bn,
                        dtype=dtype, seeds=seeds)
        x = keras.layers.GlobalAveragePooling2D(dtype=dtype)(x)
        outputs = classifier(x, num_classes, dtype=dtype, seeds=seeds)
        return keras.Model(inputs, outputs, name=f"TestTinyCNN_w{width}")
    factory.__name__ = f"TestTinyCNN_w{width}"
    if factory.__name__ not in models.list_models():
        models.register_model(factory)
    return factory.__name__


def _unlabeled_list(demo_data, tmp_path, mixed=False):
    """The demo train list with labels removed (every other line kept labelled when `mixed`)."""
    out = tmp_path / ("mixed.txt" if mixed else "unlabeled.txt")
    with open(f"{demo_data}/train_list.txt") as f:
        lines = f.read().splitlines()
    out.write_text("".join((line if mixed and i % 2 else line.split()[0]) + "\n" for i, line in enumerate(lines)))
    return str(out)


def _exp(demo_data, tmp_path, name, source=None, **kw):
    """A distillation recipe on the demo data (the teacher name is unused when the test builds the pair)."""
    args = dict(num_classes=6, image_size=16, batch_size=8, epochs=1, seed=3, model_dir=str(tmp_path / name),
                verbose=False, teacher="small_cnn", optimizer=optim.OptimizerConfig(lr=0.05, l2=1e-4),
                train_data=DataConfig(source=source or f"{demo_data}/train_list.txt", data_root=str(demo_data)))
    return experiment.Experiment(**dict(args, **kw))


def _train_steps(exp, strategy, model, steps):
    """Per-step losses [steps] of the engine's compiled loop; `agree` is a count within the batch."""
    sums = train_steps(exp, strategy, model, steps)
    assert all(0.0 <= s["agree"] <= s["count"] for s in sums)
    return np.array([s["loss"] / s["count"] for s in sums])


# ---- the model ----------------------------------------------------------------------------------

def test_only_the_student_is_trainable():
    d = _pair()
    ids = {id(v) for v in d.trainable_variables}
    assert ids == {id(v) for v in d.student.trainable_variables} and ids
    assert not d.teacher.trainable_variables
    d.trainable = True  # Keras's setter recurses into sub-models: the teacher must stay frozen
    assert {id(v) for v in d.trainable_variables} == ids
    drift = _pair(teacher_bn_frozen=False)
    assert {id(v) for v in drift.trainable_variables} == {id(v) for v in drift.student.trainable_variables}


def test_outputs_and_config_round_trip():
    d = _pair(teacher_bn_frozen=False)
    x = np.random.default_rng(0).normal(size=(4, 16, 16, 3)).astype("float32")
    out = d(x, training=True)
    assert set(out) == {"student", "teacher"} and out["student"].shape == (4, 6)
    np.testing.assert_allclose(d(x).numpy(), d.student(x).numpy(), rtol=1e-6)  # inference: the student
    config = d.get_config()
    assert config["teacher_bn_frozen"] is False and {"name", "teacher", "student"} <= set(config)
    clone = Distiller.from_config(config)
    assert clone.teacher_bn_frozen is False and len(clone.trainable_variables) == len(d.trainable_variables)
    assert not clone.teacher.trainable_variables


def test_l2_exemptions_are_the_students():
    student = models.build("MobileNetV3_small_x0_35", num_classes=6, input_shape=(16, 16, 3))
    d = Distiller(small_cnn(), student)
    exempt = [v for v in d.trainable_variables if d.l2_exclude(v)]
    assert {v.path for v in exempt} == {v.path for v in models.no_decay_variables(student)} and exempt


def test_teacher_unchanged_by_training_student_trained(demo_data, tmp_path):
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    exp = _exp(demo_data, tmp_path, "frozen", source=_unlabeled_list(demo_data, tmp_path))
    with strategy.scope():
        d = _pair()
    teacher0 = [w.copy() for w in d.teacher.get_weights()]  # kernels, gamma/beta AND moving statistics
    student0 = [w.copy() for w in d.student.get_weights()]
    losses = _train_steps(exp, strategy, d, 5)
    assert np.all(np.isfinite(losses))
    for before, after in zip(teacher0, d.teacher.get_weights()):
        np.testing.assert_array_equal(after, before)
    assert max(np.max(np.abs(a - b)) for a, b in zip(d.student.get_weights(), student0)) > 1e-3


def test_paddleclas_drift_option_moves_only_teacher_bn_statistics(demo_data, tmp_path):
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    exp = _exp(demo_data, tmp_path, "drift", source=_unlabeled_list(demo_data, tmp_path))
    with strategy.scope():
        d = _pair(teacher_bn_frozen=False)
    before = {v.path: v.numpy().copy() for v in d.teacher.weights}
    _train_steps(exp, strategy, d, 3)
    moved = {v.path for v in d.teacher.weights if np.max(np.abs(v.numpy() - before[v.path])) > 0}
    assert moved and all(p.endswith(("moving_mean", "moving_variance")) for p in moved), moved


def test_two_replicas_match_one_device(demo_data, tmp_path):
    source = _unlabeled_list(demo_data, tmp_path, mixed=True)
    initial = _pair().get_weights()
    runs = []
    for name, strategy in (("one", tf.distribute.OneDeviceStrategy("/cpu:0")),
                           ("two", tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))):
        # A hard-label term too, so masking of the unlabelled lines runs under both layouts.
        exp = _exp(demo_data, tmp_path, name, source=source, hard_label_weight=0.5)
        with strategy.scope():
            d = _pair()
        d.set_weights(initial)
        runs.append((_train_steps(exp, strategy, d, 6), d.student.get_weights(), d.teacher.get_weights()))
    (loss1, s1, t1), (loss2, s2, t2) = runs
    assert loss1[0] > 0 and not np.allclose(loss1, loss1[0])
    np.testing.assert_allclose(loss2, loss1, rtol=1e-5, atol=1e-6)
    for a, b in zip(s1, s2):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)
    for a, b in zip(t1, t2):
        np.testing.assert_array_equal(b, a)


# ---- lists ----------------------------------------------------------------------------------------

def test_unlabeled_lines_only_on_request(demo_data, tmp_path):
    path = _unlabeled_list(demo_data, tmp_path, mixed=True)
    samples = lists.read_list(path, demo_data, 6, allow_unlabeled=True)
    assert len(samples) == 144 and np.sum(samples.labels == lists.UNLABELED) == 72
    assert samples.labels.dtype == np.int64 and np.all(samples.labels[1::2] >= 0)
    with pytest.raises(DataError, match=r"mixed.txt:1: expected 'path label_id'"):
        lists.read_list(path, demo_data, 6)
    # Bad labels and missing images are still reported line by line.
    bad = tmp_path / "bad.txt"
    bad.write_text("train/circle/0000.png\ntrain/circle/0001.png 9\nnope.png\n")
    with pytest.raises(DataError) as e:
        lists.read_list(str(bad), demo_data, 6, allow_unlabeled=True)
    assert "bad.txt:2: label 9 out of range" in str(e.value) and "bad.txt:3: image not found" in str(e.value)


def test_distillation_recipe_reads_unlabeled_train_but_labelled_val(demo_data, tmp_path):
    exp = _exp(demo_data, tmp_path, "split", source=_unlabeled_list(demo_data, tmp_path))
    exp.val_data = DataConfig(source=exp.train_data.source, data_root=str(demo_data))
    assert np.all(splits.read_split(exp, exp.train_data).labels == -1)
    with pytest.raises(DataError):  # validation measures the student against labels
        splits.read_split(exp, exp.val_data)
    exp.teacher = None
    with pytest.raises(DataError):
        splits.read_split(exp, exp.train_data)


# ---- wiring: train, best_model, evaluate with the student's recipe, resume ------------------------

@pytest.fixture
def teacher_weights(tmp_path):
    keras.utils.set_random_seed(0)
    path = str(tmp_path / "teacher.weights.h5")
    models.build(_tiny_cnn(16), num_classes=6, input_shape=(16, 16, 3)).save_weights(path)
    return path


def test_train_keeps_student_in_best_model_and_resumes(demo_data, tmp_path, teacher_weights):
    val = DataConfig(source=f"{demo_data}/val_list.txt")
    exp = _exp(demo_data, tmp_path, "run", source=_unlabeled_list(demo_data, tmp_path, mixed=True),
               model=_tiny_cnn(8), teacher=_tiny_cnn(16), teacher_weights=teacher_weights,
               batch_size=16, val_data=val)
    first = experiment.train(exp)
    assert first["images"] == 48 and "top1" in first
    best = tmp_path / "run" / "best_model" / "model.weights.h5"
    student_recipe = experiment.Experiment(model=_tiny_cnn(8), num_classes=6, image_size=16,
                                           batch_size=16, val_data=val, verbose=False)
    # The student alone, loadable with the student's recipe (no teacher in the file).
    plain = model_builder.build_model(student_recipe, load_pretrained=False)
    plain.load_weights(str(best))
    again = experiment.evaluate(student_recipe, str(best.parent))
    np.testing.assert_allclose(again["top1"], first["top1"])
    np.testing.assert_allclose(again["loss"], first["loss"], rtol=1e-5)
    # A checkpoint holds the pair; its student loads too, with either recipe.
    ckpt = str(tmp_path / "run" / "checkpoints")
    np.testing.assert_allclose(experiment.evaluate(student_recipe, ckpt)["loss"], first["loss"], rtol=1e-5)
    np.testing.assert_allclose(experiment.evaluate(exp, ckpt)["loss"], first["loss"], rtol=1e-5)
    # Resume: one more epoch from the pair's checkpoint.
    exp.epochs = 2
    experiment.train(exp)
    assert tf.train.latest_checkpoint(ckpt).endswith("ckpt-18")


def test_recipe_parses():
    from kclass import cli, configurables

    cli.parse_gin(["gin/quick_start/R50_vd_distill_MV3_large_x1_0_CIFAR100.gin"], [])
    exp = configurables.Experiment()
    assert (exp.model, exp.teacher, exp.distill_loss, exp.hard_label_weight) == (
        "MobileNetV3_large_x1_0", "ResNet50_vd", "jsdiv", 0.0)
    assert exp.teacher_weights == "pretrained/CIFAR100_R50_vd_final/" and exp.teacher_bn_frozen
    assert exp.pretrained == "pretrained/MobileNetV3_large_x1_0_pretrained.pdparams"
    assert (exp.batch_size, exp.epochs, exp.optimizer.lr, exp.optimizer.l2) == (1024, 100, 0.04, 1e-4)


# ---- tools/make_unlabeled_list.py ------------------------------------------------------------------

def _tool(*args):
    return subprocess.run([sys.executable, "tools/make_unlabeled_list.py", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_make_unlabeled_list_and_its_leak_check(demo_data, tmp_path):
    extra = tmp_path / "pool" / "extra"
    extra.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(3):
        tf.io.write_file(str(extra / f"{i}.png"), tf.io.encode_png(rng.integers(0, 255, (16, 16, 3), np.uint8)))
    done = _tool(extra, "--root", extra.parent, "--val_list", f"{demo_data}/val_list.txt")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["extra/0.png", "extra/1.png", "extra/2.png"]
    samples = lists.read_list(_write(tmp_path / "l.txt", done.stdout), str(extra.parent), 6, allow_unlabeled=True)
    assert np.all(samples.labels == -1)
    # A validation image re-encoded (other bytes, same pixels) is caught ...
    val_rel = open(f"{demo_data}/val_list.txt").readline().split()[0]
    pixels = tf.io.decode_png(tf.io.read_file(f"{demo_data}/{val_rel}"))
    tf.io.write_file(str(extra / "copy.png"), tf.io.encode_png(pixels, compression=0))
    done = _tool(extra, "--val_list", f"{demo_data}/val_list.txt")
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and "also in the validation list" in done.stderr
    assert "copy.png" in done.stderr and "Traceback" not in done.stderr
    # ... but only the identical bytes with --bytes_only.
    assert _tool(extra, "--val_list", f"{demo_data}/val_list.txt", "--bytes_only").returncode == 0


def _write(path, text):
    path.write_text(text)
    return str(path)


# ---- it really distils ------------------------------------------------------------------------------

def _copies(root, lines, copies, name, labelled=True):
    """A list naming `copies` byte-identical files per image, so one epoch is `copies` passes over the
    images: the loop evaluates and checkpoints once per epoch, which would dominate a tiny model's time.
    (Lists refuse duplicate lines, hence files.)"""
    out = []
    for line in lines:
        rel, label = line.split()
        for k in range(copies):
            copy = f"copies/{k}/{rel}"
            if not os.path.isfile(os.path.join(root, copy)):
                os.makedirs(os.path.dirname(os.path.join(root, copy)), exist_ok=True)
                shutil.copyfile(os.path.join(root, rel), os.path.join(root, copy))
            out.append(f"{copy} {label}" if labelled else copy)
    with open(os.path.join(root, name), "w") as f:
        f.write("\n".join(out) + "\n")
    return os.path.join(root, name)


@pytest.mark.slow
def test_distilled_student_matches_or_beats_student_alone(tmp_path):
    """Teacher trained with labels on 600 images; then the same small student, same seed and steps, on
    120 other images: alone with their labels (CE), distilled without them (SSLD's JSDiv only)."""
    from kclass.data.demo import make_demo_dataset

    root = make_demo_dataset(str(tmp_path / "data"), train_per_class=120, val_per_class=50, image_size=16, seed=1)
    with open(os.path.join(root, "train_list.txt")) as f:
        lines = f.read().splitlines()  # shuffled by the maker: the classes are mixed in both parts
    student_lines, teacher_lines = lines[:120], lines[120:]
    teacher, student = _tiny_cnn(32), _tiny_cnn(8)
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")

    def run(name, model, source, epochs, **kw):
        exp = experiment.Experiment(
            model=model, num_classes=6, image_size=16, batch_size=32, eval_batch_size=100, epochs=epochs,
            seed=2, model_dir=str(tmp_path / name), verbose=False, steps_per_loop=50, topk=1,
            train_data=DataConfig(source=source, data_root=root, scale=(0.8, 1.0)),
            val_data=DataConfig(source=os.path.join(root, "val_list.txt")),
            optimizer=optim.OptimizerConfig(lr=0.1, l2=1e-4), **kw)
        return experiment.train(exp, strategy)["top1"]

    teacher_top1 = run("teacher", teacher, _copies(root, teacher_lines, 5, "teacher.txt"), 2)
    alone = run("alone", student, _copies(root, student_lines, 16, "alone.txt"), 3)  # 180 steps
    distilled = run("distilled", student, _copies(root, student_lines, 16, "distill.txt", labelled=False), 3,
                    teacher=teacher, teacher_weights=str(tmp_path / "teacher" / "best_model"))
    print(f"teacher top1 {teacher_top1:.3f}; student alone {alone:.3f}, distilled {distilled:.3f} (chance 0.167)")
    assert teacher_top1 > 0.6
    assert distilled >= alone
    assert distilled > 0.35  # chance is 1/6; seeds 1-3 gave alone 0.29-0.36, distilled 0.42-0.48
