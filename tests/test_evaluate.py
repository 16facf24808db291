"""python -m kclass.evaluate: exact multi-label metrics, fitted thresholds, JSON, and the --report folder."""

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


DEMO = "gin/quick_start/demo.gin"
REPORT_FILES = {"confusion_matrix.csv", "confusion_matrix.png", "per_class.csv", "reliability_diagram.png",
                "most_confused.png", "report.json"}


@pytest.mark.slow
def test_report_of_a_trained_demo_model_equals_evaluate_on_one_and_two_devices(tmp_path):
    from tests.clitools import demo_params
    params = demo_params(tmp_path / "data", tmp_path / "run", epochs=1, per_class=8, batch=16) + ["IMAGE_SIZE=16"]
    done = run("train", "--gin_file", DEMO, gin_params=params)
    assert done.returncode == 0, done.stderr[-3000:]
    weights = str(tmp_path / "run" / "best_model")
    reports = {}
    for devices in ("1", "2"):
        out = tmp_path / f"report{devices}"
        result = run("evaluate", "--gin_file", DEMO, "--weights", weights, "--json", "--report", str(out),
                     "--cpu_devices", devices, gin_params=params)
        assert result.returncode == 0, result.stderr[-3000:]
        metrics = last_json(result.stdout)
        assert {p.name for p in out.iterdir()} == REPORT_FILES
        report = json.loads((out / "report.json").read_text())
        # 120 images in global batches of 16: 8 padding rows that must not be counted.
        assert metrics["images"] == report["images"] == 120
        assert report["top1"] == metrics["top1"]
        assert sum(row["support"] for row in report["per_class"]) == 120
        assert report["per_class"][0]["name"] == "circle"  # LABEL_LIST's names
        reports[devices] = report
    assert reports["1"]["top1"] == reports["2"]["top1"]
    assert reports["1"]["ece"] == pytest.approx(reports["2"]["ece"], abs=1e-5)


@pytest.mark.slow
def test_multilabel_report_has_ap_table_and_pr_curves_and_evaluates_map(tmp_path):
    params = _params(tmp_path) + ["make_multilabel_demo_dataset.train_images=8",
                                  "make_multilabel_demo_dataset.val_images=40"]
    out = tmp_path / "report"
    # Untrained weights: the report must agree with evaluate whatever the model, on 2 replicas.
    result = run("evaluate", "--gin_file", RECIPE, "--json", "--report", str(out), "--cpu_devices", "2",
                 gin_params=params)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = last_json(result.stdout)
    assert {p.name for p in out.iterdir()} == {"per_class.csv", "pr_curves.png", "report.json"}
    report = json.loads((out / "report.json").read_text())
    assert report["images"] == metrics["images"] == 40
    assert report["mAP"] == metrics["mAP"] and report["auc_macro"] == metrics["auc_macro"]
    assert [row["name"] for row in report["per_class"]] == ["circle", "square", "triangle", "cross", "stripes"]


def test_report_into_an_unusable_folder_is_one_line(tmp_path):
    (tmp_path / "file").write_text("x")
    done = run("evaluate", "--gin_file", DEMO, "--report", str(tmp_path / "file" / "report"),
               gin_params=[f"MODEL_DIR='{tmp_path}'"])
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1, done.stderr[-3000:]
    assert lines[0].startswith("kclass: error: report folder ") and "cannot write there" in lines[0]
