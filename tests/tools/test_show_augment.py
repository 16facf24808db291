import importlib.util
import os
import subprocess
import sys

import numpy as np
import tensorflow as tf

from kclass.cli import REPO_ROOT

TOOL = os.path.join(REPO_ROOT, "tools", "show_augment.py")


def _tool():
    spec = importlib.util.spec_from_file_location("show_augment", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _params(root):
    # The CIFAR-100 recipe's Mixup variant, pointed at the 16 px, 6-class demo set.
    return [f"DATA_ROOT = '{root}'", f"TRAIN_LIST = '{root}/train_list.txt'",
            f"VAL_LIST = '{root}/val_list.txt'", f"LABEL_LIST = '{root}/label_list.txt'",
            "NUM_CLASSES = 6", "IMAGE_SIZE = 16", "Mixup.alpha = 1.0"]


def test_grid_png_shows_mixed_training_images(demo_data, tmp_path):
    out = str(tmp_path / "grid.png")
    lines = _tool().show(["gin/DataAugment/Mixup.gin"], _params(demo_data), out, num=8, cols=4, scale=2)
    grid = tf.io.decode_png(tf.io.read_file(out)).numpy()
    # 4 x 2 tiles of max(16 * 2, 96) px plus 2 caption lines of 12 px, 4 px gaps.
    assert grid.shape == (2 * (32 + 24 + 4 + 4) + 4, 4 * (96 + 4) + 4, 3)
    assert len(lines) == 8
    names = {"circle", "square", "triangle", "cross", "ring", "stripes"}
    mixed = 0
    for caption in lines:
        weights = [float(line.rsplit(" ", 1)[1]) for line in caption]
        assert {line.rsplit(" ", 1)[0] for line in caption} <= names
        assert abs(sum(weights) - 1.0) < 0.02
        mixed += len(caption) == 2
    assert mixed > 0
    first_tile = grid[4:36, 4:36]
    assert first_tile.std() > 5  # an image, not an empty tile
    caption = grid[36:60, 4:100]
    assert (caption.min(axis=-1) < 100).any()  # text was drawn


def test_cli_writes_the_png(demo_data, tmp_path):
    out = tmp_path / "cli.png"
    args = [sys.executable, TOOL, "--gin_file", "gin/DataAugment/Cutout.gin", "--out", str(out),
            "--num", "4", "--gin_param", "Cutout.length = 8"]
    for p in _params(demo_data)[:-1]:
        args += ["--gin_param", p]
    result = subprocess.run(args, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"wrote {out}" in result.stdout
    grid = tf.io.decode_png(tf.io.read_file(str(out))).numpy()
    assert grid.shape[0] > 64 and grid.shape[2] == 3
    # Cutout on normalised images shows as mean-grey squares (0 after de-normalising -> ImageNet mean).
    mean_grey = np.round(np.array([0.485, 0.456, 0.406]) * 255).astype(np.uint8)
    assert np.all(grid == mean_grey, axis=-1).sum() >= 4 * 8 * 8


def test_bad_recipe_is_one_line_error(tmp_path):
    result = subprocess.run([sys.executable, TOOL, "--gin_file", "gin/DataAugment/Nope.gin",
                             "--out", str(tmp_path / "x.png")], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 2 and "recipe file not found" in result.stderr
