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
from tests.serving.exported import demo_experiment, exported_demo


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return exported_demo(tmp_path_factory)


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
    from kclass import experiment
    experiment.build_model(exp, load_pretrained=False).save_weights(str(best / "model.weights.h5"))
    (best / "thresholds.json").write_text(json.dumps({"thresholds": [0.0, 1.0, 1.0, 1.0, 1.0, 0.0]}))
    results = predictors.predict_files(predictors.ModulePredictor(exp, str(best)), exported.val_paths[:2])
    for result in results:
        assert sorted(r["name"] for r in result["labels"]) == ["circle", "stripes"]
        assert predictors.format_result(result).startswith(result["image"] + "  ")
    assert predictors.format_result({"image": "x", "labels": []}) == "x  (no label at or above its threshold)"


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
