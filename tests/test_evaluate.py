"""python -m kclass.evaluate on the multi-label recipe: exact metrics, fitted thresholds, JSON."""

import json

import pytest

from tests.clitools import last_json, run

RECIPE = "gin/quick_start/ResNet50_vd_multilabel.gin"


def _params(tmp_path):
    data = tmp_path / "data"
    return ["MODEL='ResNet18_vd'", "IMAGE_SIZE=32", "EPOCHS=8", "BATCH_SIZE=32", "EVAL_BATCH_SIZE=32", "LR=0.02",
            "NUM_CLASSES=5", "PRETRAINED=None", f"DATA_ROOT='{data}'", f"TRAIN_LIST='{data}/train_list.txt'",
            f"VAL_LIST='{data}/val_list.txt'", f"LABEL_LIST='{data}/label_list.txt'",
            f"MODEL_DIR='{tmp_path}/run'", "Experiment.prepare=@make_multilabel_demo_dataset",
            f"make_multilabel_demo_dataset.root='{data}'", "make_multilabel_demo_dataset.train_images=480",
            "make_multilabel_demo_dataset.val_images=96", "val/DataConfig.resize_short=None"]


@pytest.mark.slow
def test_multilabel_recipe_learns_and_reports_exact_metrics(tmp_path):
    params = _params(tmp_path)
    done = run("train", "--gin_file", RECIPE, gin_params=params)
    assert done.returncode == 0, done.stderr[-3000:]
    best = tmp_path / "run" / "best_model"
    thresholds = json.loads((best / "thresholds.json").read_text())["thresholds"]
    assert len(thresholds) == 5 and all(0 < t < 1 for t in thresholds)
    assert json.loads((best / "best.json").read_text())["metric"] == "label_accuracy"
    result = run("evaluate", "--gin_file", RECIPE, "--weights", str(best), "--json", gin_params=params)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = last_json(result.stdout)
    assert {"mAP", "auc_macro", "hamming_loss", "label_accuracy", "images"} <= set(metrics)
    assert metrics["images"] == 96
    # A constant predictor's AP is the positive rate (~0.4 here): learning must beat it clearly.
    assert metrics["mAP"] > 0.6, metrics
    assert metrics["label_accuracy"] == pytest.approx(1 - metrics["hamming_loss"])
    fitted = run("evaluate", "--gin_file", RECIPE, "--weights", str(best), "--json", "--fit_thresholds",
                 gin_params=params)
    assert fitted.returncode == 0, fitted.stderr[-3000:]
    assert last_json(fitted.stdout)["f1_macro"] >= metrics["f1_macro"] - 1e-9


def test_fit_thresholds_refused_on_single_label(tmp_path):
    done = run("evaluate", "--gin_file", "gin/quick_start/demo.gin", "--fit_thresholds",
               gin_params=[f"MODEL_DIR='{tmp_path}'"])
    assert done.returncode == 2 and "for multi-label recipes" in done.stderr
