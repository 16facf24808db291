"""kclass.export: SavedModel layout and signatures, warm-up, train/serve parity, ONNX, versions, TF-TRT refusal."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from kclass.errors import ConfigError, UserError
from tests.clitools import run
from tests.serving.exported import demo_experiment

DEMO = "gin/quick_start/demo.gin"


@pytest.fixture(scope="module")
def loaded(exported):
    return tf.saved_model.load(exported.version_dir)


def test_layout_signatures_and_embedded_names(exported, loaded):
    v = exported.version_dir
    assert os.path.basename(v) == "1"
    for name in ("saved_model.pb", "variables/variables.index", "assets.extra/tf_serving_warmup_requests",
                 "assets.extra/kclass.json", "model.onnx"):
        assert os.path.exists(os.path.join(v, name)), name
    assert not [d for d in os.listdir(exported.base) if d.startswith(".tmp")]
    assert set(loaded.signatures) == {"serving_default", "predict_images"}
    serve = loaded.signatures["serving_default"]
    (spec,) = serve.structured_input_signature[1].values()
    assert spec.dtype == tf.string and spec.shape.as_list() == [None]
    floats = loaded.signatures["predict_images"].structured_input_signature[1]["images"]
    assert floats.dtype == tf.float32 and floats.shape.as_list() == [None, 16, 16, 3]
    out = serve(images=tf.constant(exported.val_images[:3]))
    assert set(out) == {"probabilities", "top_k_classes", "top_k_names"}
    assert out["probabilities"].shape == (3, 6) and out["top_k_classes"].shape == (3, 2)
    np.testing.assert_allclose(out["probabilities"].numpy().sum(axis=1), 1.0, atol=1e-5)
    names = ["circle", "square", "triangle", "cross", "ring", "stripes"]  # the demo's label_list.txt
    for ids, got in zip(out["top_k_classes"].numpy(), out["top_k_names"].numpy()):
        assert [g.decode() for g in got] == [names[i] for i in ids]
    info = json.load(open(os.path.join(v, "assets.extra", "kclass.json")))
    assert info["class_names"] == names and info["image_size"] == 16 and info["resize_short"] == 18
    assert info["reject_threshold"] is None  # no reject_threshold.json beside the weights: no `unknown` output


def test_warmup_records_parse_and_replay(exported, loaded):
    from kclass.export.warmup import read_warmup_requests

    logs = read_warmup_requests(os.path.join(exported.version_dir, "assets.extra", "tf_serving_warmup_requests"))
    assert 1 <= len(logs) <= 1000  # TF-Serving reads at most 1000 records
    for log in logs:
        request = log.predict_log.request
        assert request.model_spec.name == "demo"
        inputs = {k: tf.make_ndarray(t) for k, t in request.inputs.items()}
        out = loaded.signatures[request.model_spec.signature_name or "serving_default"](**inputs)
        assert out["probabilities"].shape[0] == len(inputs["images"])


def test_train_serve_parity(exported, loaded):
    """Exported probabilities == softmax of the Keras model on the eval pipeline's batches (1e-5)."""
    from kclass import experiment, model_builder, splits
    from kclass.data import pipeline

    exp = exported.exp
    model = model_builder.build_model(exp, load_pretrained=False)
    model_builder.load_weights(model, exported.weights)
    samples = splits.read_split(exp, exp.val_data)
    dataset = pipeline.eval_dataset(exp.val_data, samples, exp.image_size, 16)
    expected = np.concatenate([tf.nn.softmax(model(images, training=False)).numpy()
                               for images, _, _ in dataset])[:len(samples)]
    served = loaded.signatures["serving_default"](images=tf.constant(exported.val_images))["probabilities"].numpy()
    assert np.abs(served - expected).max() <= 1e-5
    # The same model on other preprocessing (one pixel more of resize) differs: the check can fail.
    drifted = dict(vars(exp.val_data), resize_short=19)
    other = pipeline.eval_dataset(pipeline.DataConfig(**drifted), samples, exp.image_size, 16)
    moved = np.concatenate([tf.nn.softmax(model(x, training=False)).numpy() for x, _, _ in other])[:len(samples)]
    assert np.abs(moved - expected).max() > 1e-4
    # And kclass.evaluate's top-1 is the exported model's top-1.
    top1 = experiment.evaluate(exp, exported.weights)["top1"]
    assert abs(top1 - float(np.mean(served.argmax(1) == samples.labels))) < 1e-9


def test_float_signature_is_the_string_signature_after_preprocessing(exported, loaded):
    from kclass.export.serving_module import preprocess_batch
    from kclass.export.spec import spec_from_experiment

    spec = spec_from_experiment(exported.exp)
    images = tf.constant(exported.val_images[:4])
    floats = tf.function(lambda x: preprocess_batch(x, spec))(images)
    a = loaded.signatures["serving_default"](images=images)
    b = loaded.signatures["predict_images"](images=floats)
    np.testing.assert_allclose(a["probabilities"], b["probabilities"], atol=1e-6)
    np.testing.assert_array_equal(a["top_k_names"], b["top_k_names"])


def test_onnx_matches_tensorflow(exported, loaded):
    from kclass.export import onnx_export

    rng = np.random.default_rng(1)
    images = rng.normal(size=(5, 16, 16, 3)).astype(np.float32)
    expected = loaded.signatures["predict_images"](images=tf.constant(images))["probabilities"].numpy()
    got = onnx_export.run_onnx(os.path.join(exported.version_dir, "model.onnx"), images)
    assert got.shape == (5, 6)
    assert np.abs(got - expected).max() <= 1e-4
    # The export's check compared the logits (second output), relative to their scale.
    info = json.load(open(os.path.join(exported.version_dir, "assets.extra", "kclass.json")))["onnx"]
    assert info["outputs"] == ["probabilities", "logits"]
    assert 0 <= info["max_diff_vs_tf"] <= onnx_export.LOGITS_RTOL


def test_bad_images_are_invalid_argument(exported, loaded):
    serve = loaded.signatures["serving_default"]
    png = exported.val_images[0]
    for bad in (b"", b"GET / HTTP/1.1", b"%PDF-1.4 not an image", png[:40], b"\x89PNG\r\n\x1a\n" + b"\xff" * 30):
        with pytest.raises(tf.errors.InvalidArgumentError):
            serve(images=tf.constant([png, bad]))
    assert serve(images=tf.constant([png]))["probabilities"].shape == (1, 6)  # still serving


def test_max_pixels_refuses_oversize_images(exported):
    from kclass.export.serving_module import ServingModule
    from kclass.export.spec import spec_from_experiment
    from kclass import model_builder

    spec = spec_from_experiment(exported.exp, max_pixels=64 * 64)
    module = ServingModule(model_builder.build_model(exported.exp, load_pretrained=False), spec)
    ok = tf.io.encode_png(np.zeros((64, 64, 3), np.uint8))
    assert module.serve(tf.stack([ok]))["probabilities"].shape == (1, 6)
    for shape in ((65, 64, 3), (1, 400, 3)):  # too many pixels; resize_short would blow a strip up
        with pytest.raises(tf.errors.InvalidArgumentError, match="max_pixels|resized"):
            module.serve(tf.stack([tf.io.encode_jpeg(np.zeros(shape, np.uint8))]))


def test_versions_are_atomic_and_never_overwritten(exported, tmp_path, monkeypatch):
    from kclass import model_builder
    from kclass.export import saved_model
    from kclass.export.saved_model import export_version, next_version
    from kclass.export.serving_module import ServingModule
    from kclass.export.spec import spec_from_experiment

    base = tmp_path / "models" / "m"
    assert next_version(str(base)) == 1
    os.makedirs(base / "3")
    os.makedirs(base / "stale-not-a-version")
    assert next_version(str(base)) == 4
    module = ServingModule(model_builder.build_model(exported.exp, load_pretrained=False),
                           spec_from_experiment(exported.exp))
    with pytest.raises(UserError, match="already exists"):
        export_version(module, str(base), version=3)

    def crash(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(saved_model, "write_warmup", crash)
    with pytest.raises(OSError, match="disk full"):
        export_version(module, str(base))
    assert sorted(os.listdir(base)) == ["3", "stale-not-a-version"]  # no 4/, no temp dir left


def test_multilabel_head_uses_thresholds_beside_the_weights(exported, tmp_path):
    from kclass import model_builder
    from kclass.export.serving_module import ServingModule
    from kclass.export.spec import spec_from_experiment

    exp = demo_experiment(exported.data_root, multilabel=True)
    best = tmp_path / "best_model"
    best.mkdir()
    thresholds = [0.0, 1.0, 0.5, 0.2, 0.9, 0.01]
    (best / "thresholds.json").write_text(json.dumps({"thresholds": thresholds, "rule": "score >= threshold"}))
    model = model_builder.build_model(exp, load_pretrained=False)
    model.save_weights(str(best / "model.weights.h5"))
    spec = spec_from_experiment(exp, str(best))
    assert spec.multilabel and spec.thresholds == thresholds
    out = ServingModule(model, spec).serve(tf.constant(exported.val_images[:3]))
    assert set(out) == {"scores", "labels", "label_names"}
    scores, labels, names = (out[k].numpy() for k in ("scores", "labels", "label_names"))
    np.testing.assert_array_equal(labels, (scores >= np.array(thresholds)).astype(np.int32))
    assert labels[:, 0].all() and not labels[:, 1].any()
    assert [n.decode() for n in names[0]] == [c if f else "" for c, f in zip(spec.class_names, labels[0])]
    (best / "thresholds.json").write_text(json.dumps({"thresholds": [0.5] * 5}))
    with pytest.raises(UserError, match="5 thresholds for NUM_CLASSES=6"):
        spec_from_experiment(exp, str(best))


def test_trt_is_refused_with_one_clear_line(tmp_path):
    from kclass.export import trt

    ok, why = trt.tensorrt_status()
    if ok:
        pytest.skip("this TensorFlow has TensorRT and a GPU")
    with pytest.raises(ConfigError, match="TensorRT") as e:
        trt.require_tensorrt("fp16")
    assert "\n" not in str(e.value) and "requirements-trt.txt" in str(e.value)
    with pytest.raises(ConfigError, match="expected one of fp32, fp16, int8"):
        trt.require_tensorrt("fp8")
    done = run("export", "--gin_file", DEMO, "--weights", "nowhere", "--export_dir", str(tmp_path / "m"),
               "--trt", "int8", timeout=120)
    assert done.returncode == 2, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("kclass: error:")]
    assert len(errors) == 1 and "TensorRT" in errors[0] and "Traceback" not in done.stderr
    assert not (tmp_path / "m").exists()


@pytest.mark.slow
def test_export_cli_writes_next_version(exported, tmp_path):
    import shutil

    base = tmp_path / "models" / "demo"
    shutil.copytree(exported.version_dir, base / "1")
    root = exported.data_root
    params = ["IMAGE_SIZE=16", f"DATA_ROOT={root!r}", f"VAL_LIST='{root}/val_list.txt'",
              f"TRAIN_LIST='{root}/train_list.txt'", f"LABEL_LIST='{root}/label_list.txt'"]
    done = run("export", "--gin_file", DEMO, "--weights", exported.weights, "--export_dir", str(base), "--json",
               gin_params=params)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["version"] == 2 and result["path"] == str(base / "2")
    assert (base / "2" / "saved_model.pb").exists() and (base / "2" / "assets.extra" / "kclass.json").exists()


def test_weights_with_another_classifier_are_refused(exported, tmp_path):
    """Fine-tuning may start from a 10-class .pdparams; exporting it for 6 classes would serve a random head."""
    from kclass import models
    from kclass.errors import WeightsError
    from kclass.export.commands import build_serving_module
    from kclass.weights import paddle_state_dict, write_pdparams

    other = models.build("ResNet18_vd", num_classes=10, input_shape=(16, 16, 3))
    path = str(tmp_path / "imagenet_like.pdparams")
    write_pdparams(paddle_state_dict(other, "2.6"), path)
    with pytest.raises(WeightsError, match="its classifier is for 10 classes, the model has 6 "):
        build_serving_module(exported.exp, path)
