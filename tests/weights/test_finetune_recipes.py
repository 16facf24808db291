"""The three fine-tuning recipes: PaddleClas's hyper-parameters, the tutorial's file names, a clear offline failure."""

import os

import pytest

from tests.clitools import ROOT, run

RECIPES = {
    "ResNet50_vd_CIFAR100_finetune": ("ResNet50_vd", "ResNet50_vd_pretrained"),
    "ResNet50_vd_ssld_CIFAR100_finetune": ("ResNet50_vd", "ResNet50_vd_ssld_pretrained"),
    "MobileNetV3_large_x1_0_CIFAR100_finetune": ("MobileNetV3_large_x1_0", "MobileNetV3_large_x1_0_pretrained"),
}


@pytest.fixture(autouse=True)
def _fresh_gin():
    import gin
    yield
    gin.clear_config()


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_recipe_binds_paddleclas_hyperparameters(recipe):
    from kclass import cli, configurables

    cli.parse_gin([os.path.join(ROOT, "gin", "quick_start", f"{recipe}.gin")], [])
    exp = configurables.Experiment()
    model, weights = RECIPES[recipe]
    assert (exp.model, exp.pretrained) == (model, f"pretrained/{weights}.pdparams")
    assert (exp.num_classes, exp.image_size, exp.epochs, exp.batch_size) == (100, 32, 100, 1024)
    assert (exp.optimizer.lr, exp.optimizer.momentum, exp.optimizer.l2) == (0.04, 0.9, 1e-4)
    assert exp.optimizer.schedule == "cosine" and exp.label_smoothing == 0.0
    assert exp.model_dir == f"output/{recipe}"


@pytest.mark.slow
def test_missing_pretrained_file_names_path_and_download_command(tmp_path):
    from kclass.data.demo import make_demo_dataset

    data = make_demo_dataset(str(tmp_path / "data"), train_per_class=2, val_per_class=1, image_size=32)
    missing = tmp_path / "pretrained" / "MobileNetV3_large_x1_0_pretrained.pdparams"
    done = run("train", "--gin_file", "gin/quick_start/MobileNetV3_large_x1_0_CIFAR100_finetune.gin", gin_params=[
        f"DATA_ROOT='{data}'", f"TRAIN_LIST='{data}/train_list.txt'", f"VAL_LIST='{data}/val_list.txt'",
        "NUM_CLASSES=6", "BATCH_SIZE=4", f"MODEL_DIR='{tmp_path / 'run'}'", f"PRETRAINED='{missing}'"])
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"weights file not found: {missing}" in done.stderr
    assert f"python tools/prepare_dataset.py weights --out {missing.parent}" in done.stderr
    assert "Traceback" not in done.stderr
