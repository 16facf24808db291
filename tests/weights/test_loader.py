"""load_weights on every accepted kind of file, on small models at 32x32 (no paddle needed)."""

import csv
import functools
import logging
import os

import numpy as np
import pytest
import tensorflow as tf

import kclass.models as km
from kclass.errors import WeightsError
from kclass.weights import load_weights, paddle_state_dict, read_pdparams, write_pdparams
from kclass.weights import mapping

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
SMALL = ("MobileNetV3_small_x0_35", "ResNet18_vd")
X = np.random.default_rng(0).standard_normal((2, 32, 32, 3)).astype("float32")


def _build(name, classes=10):
    return km.build(name, num_classes=classes, input_shape=(32, 32, 3))


@functools.lru_cache(maxsize=None)
def _randomized(name, classes=10, seed=1):
    """A model whose every variable, BN statistics included, holds distinct random values.

    Shared between tests (building costs seconds): tests only read it.
    """
    model = _build(name, classes)
    rng = np.random.default_rng(seed)
    for v in model.weights:
        if "seed_generator" in v.path:
            continue
        low = 0.5 if v.path.endswith(("moving_variance", "gamma")) else -0.3
        v.assign(rng.uniform(low, low + 1.0, v.shape).astype(v.dtype))
    return model


def _values(model, skip=()):
    return {v.path: v.numpy() for v in model.weights if not v.path.startswith(skip)}


def _same(a, b):
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


# ---- names --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["ResNet50_vd", "MobileNetV3_large_x1_0"])
def test_names_and_shapes_equal_paddleclas_tables(name):
    """Both naming styles, in order, with Paddle layouts, as listed from PaddleClas itself."""
    with open(os.path.join(DATA, f"param_names_{name}.tsv")) as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    model = km.build(name, num_classes=1000, input_shape=(32, 32, 3))
    ours = {s.names["2.1"]: (s.names["2.6"], list(s.paddle_shape())) for s in mapping.slots(model)}
    theirs = {r["release2.1_structured_name"]: (r["pip2.6_legendary_name"], eval(r["shape"]))
              for r in rows}
    assert len(ours) == len(rows) == len(theirs)
    assert ours == theirs


@pytest.mark.parametrize("name", SMALL)
def test_both_name_styles_load_the_same_weights(tmp_path, name):
    source = _randomized(name)
    for style in ("2.6", "2.1"):
        write_pdparams(paddle_state_dict(source, style), tmp_path / f"{style}.pdparams")
    loaded = {}
    for style in ("2.6", "2.1"):
        model = _build(name)
        result = load_weights(model, tmp_path / f"{style}.pdparams")
        assert (result.kind, result.style, result.skipped) == ("pdparams", style, [])
        loaded[style] = model
        assert _same(_values(model, skip="seed"), _values(source, skip="seed"))
    np.testing.assert_array_equal(loaded["2.6"](X), loaded["2.1"](X))
    np.testing.assert_array_equal(loaded["2.6"](X), source(X))


def test_layouts_are_transposed_as_paddle_stores_them():
    model = _randomized("MobileNetV3_small_x0_35")
    state = paddle_state_dict(model)
    conv = model.get_layer("conv_conv").kernel.numpy()                      # [kh, kw, in, out]
    assert np.array_equal(state["conv.conv.weight"], conv.transpose(3, 2, 0, 1))   # [out, in, kh, kw]
    dw = model.get_layer("blocks_0_bottleneck_conv_conv").kernel.numpy()     # [kh, kw, C, 1]
    assert np.array_equal(state["blocks.0.bottleneck_conv.conv.weight"], dw.transpose(2, 3, 0, 1))
    assert np.array_equal(state["fc.weight"], model.get_layer("fc").kernel.numpy())  # [in, out]
    assert np.array_equal(state["conv.bn._variance"], model.get_layer("conv_bn").moving_variance.numpy())


# ---- fine-tuning rule: classifier skipped (PRETRAINED only), anything else is an error ------------

@pytest.mark.parametrize("name", SMALL)
def test_classifier_with_other_class_count_is_skipped_with_one_warning(tmp_path, name, caplog):
    source = _randomized(name, classes=10)
    write_pdparams(paddle_state_dict(source, "2.1"), tmp_path / "w.pdparams")
    model = _build(name, classes=7)
    head_before = _values(model)["fc/kernel"].copy()
    with caplog.at_level(logging.WARNING, logger="kclass.weights"):
        result = load_weights(model, tmp_path / "w.pdparams", finetune=True)
    assert result.skipped == ["out.weight", "out.bias"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    fan_in = model.get_layer("fc").kernel.shape[0]
    assert len(warnings) == 1 and "\n" not in warnings[0]
    assert warnings[0].startswith(f"{tmp_path}/w.pdparams: skipped the classifier out.weight, out.bias, "
                                  f"weight [{fan_in}, 10] in the file, [{fan_in}, 7] in the model")
    assert "10 classes in the file, the model has 7" in warnings[0]
    assert _same(_values(model, skip=("fc", "seed")), _values(source, skip=("fc", "seed")))
    np.testing.assert_array_equal(_values(model)["fc/kernel"], head_before)


def test_classifier_with_other_class_count_is_refused_unless_fine_tuning(tmp_path):
    """--weights for evaluate/predict/export and TEACHER_WEIGHTS: a skipped head would answer at random."""
    source = _randomized("MobileNetV3_small_x0_35", classes=10)
    write_pdparams(paddle_state_dict(source), tmp_path / "w.pdparams")
    (tmp_path / "best_model").mkdir()
    source.save_weights(tmp_path / "best_model" / "model.weights.h5")
    prefix = tf.train.CheckpointManager(tf.train.Checkpoint(model=source), str(tmp_path / "ckpt"), 1).save()
    for path in (tmp_path / "w.pdparams", tmp_path / "best_model", prefix):
        _expect_error(_build("MobileNetV3_small_x0_35", classes=7), path,
                      "its classifier is for 10 classes, the model has 7 (NUM_CLASSES); only PRETRAINED")


def _expect_error(model, path, *fragments):
    before = _values(model)
    with pytest.raises(WeightsError) as info:
        load_weights(model, path)
    for fragment in fragments:
        assert fragment in str(info.value)
    assert _same(_values(model), before), "a failed load must leave the model untouched"


def test_shape_mismatch_names_the_tensor(tmp_path):
    state = paddle_state_dict(_randomized("ResNet18_vd"))
    state["blocks.2.conv1.conv.weight"] = np.zeros((128, 128, 1, 1), "float32")
    write_pdparams(state, tmp_path / "w.pdparams")
    _expect_error(_build("ResNet18_vd"), tmp_path / "w.pdparams", "shape mismatch",
                  "blocks.2.conv1.conv.weight [128, 128, 1, 1] (model expects [128, 128, 3, 3])")


def test_missing_and_unexpected_tensors_are_named(tmp_path):
    state = paddle_state_dict(_randomized("MobileNetV3_small_x0_35"), "2.1")
    del state["conv5.mid_se.conv2.bias"]
    state["conv5.extra.weight"] = np.zeros(3, "float32")
    write_pdparams(state, tmp_path / "w.pdparams")
    _expect_error(_build("MobileNetV3_small_x0_35"), tmp_path / "w.pdparams",
                  "missing: conv5.mid_se.conv2.bias", "unexpected: conv5.extra.weight")


def test_classifier_of_other_width_is_an_error_not_a_skip(tmp_path):
    state = paddle_state_dict(_randomized("MobileNetV3_small_x0_35"))
    state["fc.weight"] = np.zeros((1000, 10), "float32")
    write_pdparams(state, tmp_path / "w.pdparams")
    _expect_error(_build("MobileNetV3_small_x0_35"), tmp_path / "w.pdparams", "fc.weight [1000, 10]")


def test_other_architecture_is_refused(tmp_path):
    write_pdparams(paddle_state_dict(_randomized("ResNet18_vd")), tmp_path / "r18.pdparams")
    _expect_error(_build("MobileNetV3_small_x0_35"), tmp_path / "r18.pdparams",
                  "none of its tensors", "another architecture")
    _expect_error(_build("ResNet34_vd"), tmp_path / "r18.pdparams", "missing: blocks.")


# ---- Keras files, best_model/, checkpoints ------------------------------------------------------

def test_keras_h5_and_best_model_dir(tmp_path, caplog):
    source = _randomized("MobileNetV3_small_x0_35")
    (tmp_path / "best_model").mkdir()
    source.save_weights(tmp_path / "best_model" / "model.weights.h5")
    for path in (tmp_path / "best_model" / "model.weights.h5", tmp_path / "best_model"):
        model = _build("MobileNetV3_small_x0_35")
        result = load_weights(model, path)
        assert result.kind == "h5" and result.skipped == []
        assert _same(_values(model), _values(source))
    other = _build("MobileNetV3_small_x0_35", classes=3)
    with caplog.at_level(logging.WARNING, logger="kclass.weights"):
        result = load_weights(other, tmp_path / "best_model", finetune=True)
    assert result.skipped == ["fc/kernel", "fc/bias"]
    assert len(caplog.records) == 1
    assert caplog.records[0].getMessage().startswith(
        f"{tmp_path}/best_model/model.weights.h5: skipped the classifier fc, "
        "weight [1280, 10] in the file, [1280, 3] in the model")
    assert _same(_values(other, skip=("fc", "seed")), _values(source, skip=("fc", "seed")))
    _expect_error(_build("ResNet18_vd"), tmp_path / "best_model", "does not fit 'ResNet18_vd'")


def _edited_h5(tmp_path, name, edit):
    """`name`'s `.weights.h5` (random weights, 10 classes) after `edit(h5py.File)`."""
    import h5py

    path = tmp_path / f"{name}.weights.h5"
    _randomized(name).save_weights(path)
    with h5py.File(path, "r+") as f:
        edit(f)
    return path


def _dataset_of_shape(f, shape):
    found = []
    f.visititems(lambda key, obj: found.append(key) if getattr(obj, "shape", None) == shape else None)
    assert len(found) == 1, found
    return found[0]


def test_h5_backbone_mismatch_names_the_first_weight_and_both_shapes(tmp_path):
    def narrow_conv1_2(f):  # as if the stem's second conv had 16 filters
        key = _dataset_of_shape(f, (3, 3, 32, 32))
        del f[key]
        f[key] = np.zeros((3, 3, 32, 16), "float32")
    path = _edited_h5(tmp_path, "ResNet18_vd", narrow_conv1_2)
    with pytest.raises(WeightsError) as info:
        load_weights(_build("ResNet18_vd"), path)
    assert str(info.value) == (f"{path} does not fit 'ResNet18_vd': shape mismatch: conv1_2_conv/kernel "
                               "[3, 3, 32, 16] (model expects [3, 3, 32, 32]); are these the weights of "
                               "another model?")
    _expect_error(_build("ResNet18_vd"), path, "conv1_2_conv/kernel")  # and nothing assigned


def test_h5_of_another_model_is_refused_before_keras_assigns_anything(tmp_path):
    other = _edited_h5(tmp_path, "MobileNetV3_small_x0_35", lambda f: None)
    _expect_error(_build("ResNet18_vd"), other, f"{other} does not fit 'ResNet18_vd': shape mismatch: "
                  "conv1_1_conv/kernel [3, 3, 3, 8] (model expects [3, 3, 3, 32]) (and ",
                  "weights of another model?")
    # A deeper model's file fills every group of the model; its extra layers are what give it away.
    deeper = _edited_h5(tmp_path, "ResNet18_vd", lambda f: f.copy(f["layers/dense"], "layers/dense_1"))
    _expect_error(_build("ResNet18_vd"), deeper, "the file has 1 layer(s) the model lacks (layers/dense_1, ...)")
    (tmp_path / "cut.weights.h5").write_bytes(deeper.read_bytes()[:5000])
    _expect_error(_build("ResNet18_vd"), tmp_path / "cut.weights.h5", "not a readable .weights.h5 file")


def test_checkpoint_prefix_and_directory(tmp_path, caplog):
    source = _randomized("ResNet18_vd")
    manager = tf.train.CheckpointManager(
        tf.train.Checkpoint(model=source, step=tf.Variable(5)), str(tmp_path / "checkpoints"), 2)
    prefix = manager.save()
    for path in (prefix, prefix + ".index", tmp_path / "checkpoints"):
        model = _build("ResNet18_vd")
        result = load_weights(model, path)
        assert (result.kind, result.path) == ("checkpoint", prefix)
        assert _same(_values(model), _values(source))
    other = _build("ResNet18_vd", classes=4)
    with caplog.at_level(logging.WARNING, logger="kclass.weights"):
        assert load_weights(other, prefix, finetune=True).skipped == ["fc/kernel", "fc/bias"]
    assert len(caplog.records) == 1
    assert _same(_values(other, skip="fc"), _values(source, skip="fc"))
    _expect_error(_build("MobileNetV3_small_x0_35"), prefix, "does not fit")


def test_none_missing_and_unknown_paths(tmp_path):
    model = _build("ResNet18_vd")
    assert load_weights(model, None) is None
    _expect_error(model, tmp_path / "nothing.weights.h5", f"weights file not found: {tmp_path}/nothing")
    _expect_error(model, tmp_path / "pretrained" / "ResNet50_vd_pretrained.pdparams",
                  "not found", "tools/prepare_dataset.py weights --out")
    _expect_error(model, tmp_path, "neither model.weights.h5", "nor a tf.train checkpoint")
    (tmp_path / "notes.txt").write_text("hello")
    _expect_error(model, tmp_path / "notes.txt", "not a .pdparams, .weights.h5 or tf.train checkpoint")


def test_pdparams_read_back_matches_keras_values(tmp_path):
    """paddle_state_dict -> file -> read: the file holds Paddle layout, float32."""
    source = _randomized("ResNet18_vd")
    write_pdparams(paddle_state_dict(source), tmp_path / "w.pdparams")
    state = read_pdparams(tmp_path / "w.pdparams")
    assert state["stem.0.conv.weight"].shape == (32, 3, 3, 3)
    assert state["fc.weight"].shape == (512, 10) and state["fc.weight"].dtype == np.float32
