"""kclass.predict: SavedModel, recipe + weights and TF-Serving (the loopback EMULATOR) predict alike;
images from files, folders and lists; bad images reported on their own line."""

import json
import shutil

import numpy as np
import pytest

from kclass import predictors
from kclass.errors import UserError
from tests.clitools import run
from tests.serving.emulator import Emulator, ModelRegistry
from tests.serving.exported import demo_experiment


@pytest.fixture(scope="module")
def emulator(exported):
    registry = ModelRegistry()
    registry.add_model("demo", exported.base)
    with Emulator(registry) as running:
        yield running


def _probabilities(results):
    return np.array([[r["probability"] for r in result["top_k"]] for result in results])


def test_local_recipe_and_remote_predict_the_same(exported, emulator):
    paths = exported.val_paths[:7]
    saved = predictors.SavedModelPredictor(exported.base)  # base dir: picks the highest version
    assert saved.path == exported.version_dir
    reference = predictors.predict_files(saved, paths, batch_size=4)
    assert [r["image"] for r in reference] == paths
    assert all(len(r["top_k"]) == 2 for r in reference)
    module = predictors.ModulePredictor(exported.exp, exported.weights)
    from_recipe = predictors.predict_files(module, paths, batch_size=4)
    assert [[t["class_id"] for t in r["top_k"]] for r in from_recipe] == \
        [[t["class_id"] for t in r["top_k"]] for r in reference]
    np.testing.assert_allclose(_probabilities(from_recipe), _probabilities(reference), atol=1e-6)
    text = [predictors.format_result(r) for r in reference]
    for url in (emulator.grpc_url("demo"), emulator.rest_url("demo")):
        remote = predictors.RemotePredictor(url, timeout=20)
        got = predictors.predict_files(remote, paths, batch_size=4)
        remote.close()
        assert [predictors.format_result(r) for r in got] == text


def test_bad_and_unreadable_images_are_reported_per_image(exported, emulator, tmp_path):
    good = exported.val_paths[:3]
    fake = tmp_path / "fake.png"
    fake.write_bytes(b"this is a text file named .png")
    missing = str(tmp_path / "gone.png")
    paths = [good[0], str(fake), good[1], missing, good[2]]
    for predictor in (predictors.SavedModelPredictor(exported.version_dir),
                      predictors.RemotePredictor(emulator.rest_url("demo"), timeout=20)):
        results = predictors.predict_files(predictor, paths, batch_size=8)
        assert [("error" in r) for r in results] == [False, True, False, True, False]
        assert "INVALID_ARGUMENT" in results[1]["error"] and "not an image" in results[1]["error"]
        assert "cannot read" in results[3]["error"]
        line = predictors.format_result(results[1])
        assert line.startswith(str(fake)) and "\n" not in line


def test_server_problems_are_errors_not_bad_images(exported):
    remote = predictors.RemotePredictor("http://127.0.0.1:9/demo", timeout=2, retries=0)
    with pytest.raises(UserError, match="connection refused"):
        predictors.predict_files(remote, exported.val_paths[:1])


def test_collect_images_from_folder_and_list(exported, tmp_path):
    folder = tmp_path / "imgs"
    (folder / "b").mkdir(parents=True)
    shutil.copy(exported.val_paths[0], folder / "b" / "x.png")
    shutil.copy(exported.val_paths[1], folder / "a.PNG")
    (folder / "notes.txt").write_text("not an image")
    assert predictors.collect_images(folder=str(folder)) == [str(folder / "a.PNG"), str(folder / "b" / "x.png")]
    listing = tmp_path / "list.txt"
    listing.write_text("imgs/a.PNG 3\nimgs/b/x.png\n\nimgs/a.PNG\t0,1,0\n")
    assert predictors.collect_images(list_file=str(listing)) == [
        str(tmp_path / "imgs/a.PNG"), str(tmp_path / "imgs/b/x.png"), str(tmp_path / "imgs/a.PNG")]
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no images"):
        predictors.collect_images(folder=str(tmp_path / "empty"))
    with pytest.raises(UserError, match="not a directory"):
        predictors.collect_images(folder=str(tmp_path / "missing"))


def test_multilabel_prints_labels_at_or_above_thresholds(exported, tmp_path):
    exp = demo_experiment(exported.data_root, multilabel=True)
    best = tmp_path / "best_model"
    best.mkdir()
    from kclass import model_builder
    model_builder.build_model(exp, load_pretrained=False).save_weights(str(best / "model.weights.h5"))
    (best / "thresholds.json").write_text(json.dumps({"thresholds": [0.0, 1.0, 1.0, 1.0, 1.0, 0.0]}))
    results = predictors.predict_files(predictors.ModulePredictor(exp, str(best)), exported.val_paths[:2])
    for result in results:
        assert sorted(r["name"] for r in result["labels"]) == ["circle", "stripes"]
        assert predictors.format_result(result).startswith(result["image"] + "  ")
    assert predictors.format_result({"image": "x", "labels": []}) == "x  (no label at or above its threshold)"


def _same_outputs(onnx, saved, images):
    """OnnxPredictor gives serving_default's output dict: same keys, dtypes, shapes, names; numbers 1e-4."""
    a, b = onnx.predict(images), saved.predict(images)
    assert set(a) == set(b)
    for key in b:
        assert a[key].dtype == b[key].dtype and a[key].shape == b[key].shape, key
        if b[key].dtype == np.float32:
            np.testing.assert_allclose(a[key], b[key], atol=1e-4)
        else:
            np.testing.assert_array_equal(a[key], b[key])


def test_onnxruntime_engine_predicts_as_the_saved_model(exported, tmp_path):
    onnx = predictors.OnnxPredictor(exported.base)
    saved = predictors.SavedModelPredictor(exported.base)
    assert onnx.path == saved.path and "model.onnx" in onnx.description
    _same_outputs(onnx, saved, exported.val_images[:7])
    fake = tmp_path / "fake.png"
    fake.write_bytes(b"this is a text file named .png")
    paths = exported.val_paths[:3] + [str(fake)]
    got, expected = (predictors.predict_files(p, paths, batch_size=4) for p in (onnx, saved))
    assert [[t["class_id"] for t in r["top_k"]] for r in got[:3]] == \
        [[t["class_id"] for t in r["top_k"]] for r in expected[:3]]
    np.testing.assert_allclose(_probabilities(got[:3]), _probabilities(expected[:3]), atol=1e-4)
    assert all("INVALID_ARGUMENT" in r[3]["error"] and "not an image" in r[3]["error"]  # same TF checks
               for r in (got, expected))


def test_onnxruntime_engine_multilabel(exported, tmp_path):
    from kclass import model_builder
    from kclass.export import commands

    exp = demo_experiment(exported.data_root, multilabel=True)
    best = tmp_path / "best_model"
    best.mkdir()
    model_builder.build_model(exp, load_pretrained=False).save_weights(str(best / "model.weights.h5"))
    scores = predictors.ModulePredictor(exp, str(best)).predict(exported.val_images[:6])["scores"]
    # Thresholds between the scores (not 0 or 1) so that labels really are decided per image.
    thresholds = np.median(scores, axis=0).astype(float).tolist()
    (best / "thresholds.json").write_text(json.dumps({"thresholds": thresholds}))
    base = str(tmp_path / "models" / "ml")
    commands.export_experiment(exp, str(best), base, onnx=True)
    onnx, saved = predictors.OnnxPredictor(base), predictors.SavedModelPredictor(base)
    _same_outputs(onnx, saved, exported.val_images[:6])
    assert 0 < onnx.predict(exported.val_images[:6])["labels"].sum() < 36


def test_onnxruntime_engine_needs_an_onnx_export(exported, tmp_path):
    copy = tmp_path / "demo" / "1"
    shutil.copytree(exported.version_dir, copy, ignore=shutil.ignore_patterns("model.onnx"))
    with pytest.raises(UserError) as error:
        predictors.OnnxPredictor(str(tmp_path / "demo"))
    message = str(error.value)
    assert "\n" not in message and str(copy / "model.onnx") in message
    assert "python -m kclass.export ... --onnx" in message


@pytest.mark.slow
def test_predict_cli_onnxruntime_engine(exported, tmp_path):
    def parsed(stdout):  # path, names and probabilities of each line
        return [(t[0], t[1::2], [float(v) for v in t[2::2]]) for t in (line.split() for line in stdout.splitlines())]

    args = ("predict", "--saved_model", exported.base, "--image", exported.val_paths[0], "--image",
            exported.val_paths[1])
    tf_run, ort_run = run(*args, timeout=300), run(*args, "--engine", "onnxruntime", timeout=300)
    assert tf_run.returncode == 0 and ort_run.returncode == 0, ort_run.stderr[-2000:]
    for (path, names, values), (tf_path, tf_names, tf_values) in zip(parsed(ort_run.stdout), parsed(tf_run.stdout)):
        assert (path, names) == (tf_path, tf_names)
        np.testing.assert_allclose(values, tf_values, atol=2e-4)  # 4 printed decimals
    wrong = run("predict", "--server", "grpc://localhost:8500/demo", "--engine", "onnxruntime", "--image",
                exported.val_paths[0], timeout=300)
    assert wrong.returncode != 0 and "--engine onnxruntime" in wrong.stderr


@pytest.mark.slow
def test_predict_cli_local_and_remote_print_the_same(exported, emulator, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, path in enumerate(exported.val_paths[:3]):
        shutil.copy(path, folder / f"{i}.png")
    local = run("predict", "--saved_model", exported.base, "--folder", str(folder), timeout=300)
    assert local.returncode == 0, local.stderr[-2000:]
    lines = local.stdout.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith(str(folder)) for line in lines)
    remote = run("predict", "--server", emulator.grpc_url("demo"), "--folder", str(folder), timeout=300)
    assert remote.returncode == 0, remote.stderr[-2000:]
    assert remote.stdout.strip().splitlines() == lines
    (folder / "3.png").write_bytes(b"garbage")
    as_json = run("predict", "--server", emulator.rest_url("demo"), "--folder", str(folder), "--json", timeout=300)
    assert as_json.returncode == 2 and "1 of 4 images could not be classified" in as_json.stderr
    results = json.loads(as_json.stdout.strip().splitlines()[-1])["results"]
    assert [("error" in r) for r in results] == [False, False, False, True]
