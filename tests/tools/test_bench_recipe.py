import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from kclass.cli import REPO_ROOT
from kclass.data import lists


def load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(REPO_ROOT, "tools", "bench", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_photo_set_resizes_each_photo_to_the_short_side_and_lists_it(tmp_path):
    source = tmp_path / "coco"
    rng = np.random.default_rng(0)
    for split, sizes in (("train2017", [(64, 48), (40, 80)]), ("val2017", [(50, 50)])):
        (source / split).mkdir(parents=True)
        lines = []
        for i, (w, h) in enumerate(sizes):
            Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(source / split / f"{i}.jpg")
            flags = ["0"] * 80
            flags[7 + i] = "1"
            lines.append(f"{split}/{i}.jpg\t{','.join(flags)}\n")
        (source / ("train_list.txt" if split == "train2017" else "val_list.txt")).write_text("".join(lines))
    made = load("photo_set").make(str(tmp_path / "out"), str(source), short=24, repeat=3)
    train = open(made["train"]).read().split("\n")[:-1]
    assert train == ["train2017/0.jpg 7", "train2017/1.jpg 8", "train2017/0_r1.jpg 7", "train2017/1_r1.jpg 8",
                     "train2017/0_r2.jpg 7", "train2017/1_r2.jpg 8"]
    assert (tmp_path / "out" / "train2017" / "1_r2.jpg").read_bytes() == (tmp_path / "out" / "train2017" / "1.jpg").read_bytes()
    assert len(lists.read_samples(made["train"], str(tmp_path / "out"), 80)) == 6  # kclass refuses a file named twice
    assert open(made["val"]).read() == "val2017/0.jpg 7\n"
    with Image.open(tmp_path / "out" / "train2017" / "1.jpg") as image:
        assert image.size == (24, 48)  # short side 24, aspect kept
    with Image.open(tmp_path / "out" / "val2017" / "0.jpg") as image:
        assert image.size == (24, 24)


@pytest.mark.slow
def test_recipe_bench_times_the_cli_path_and_the_in_memory_step(demo_data):
    done = subprocess.run([sys.executable, "tools/bench/recipe.py", "--model", "MobileNetV3_small_x0_35",
                           "--image_size", "16", "--data", demo_data, "--epochs", "2", "--batch", "8",
                           "--steps_per_loop", "3", "--bench_steps", "2", "--bench_repeats", "1", "--json"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["num_classes"] == 6 and report["steps_per_epoch"] == 6 * 24 // 8
    epochs = report["epochs_detail"]
    assert [e["epoch"] for e in epochs] == [1, 2]
    for e in epochs:
        assert e["images"] == report["steps_per_epoch"] * 8
        assert e["eval_s"] > 0 and e["save_s"] > 0 and e["train_s"] > 0
        assert e["eval_summary_s"] > 0  # the confusion-matrix figure, timed apart from training
        assert e["wall_s"] == pytest.approx(e["train_s"] + e["eval_s"] + e["eval_summary_s"] + e["save_s"], abs=0.05)
    assert report["train_images_per_s"] > 0 and report["eval_images_per_s"] > 0 and not report["includes_warm_up"]
    assert report["run_wall_s"] >= sum(report["epoch_wall_s"]) - 0.5
    assert report["in_memory_images_per_s"] > 0
    assert report["cli_over_in_memory"] == pytest.approx(
        report["train_images_per_s"] / report["in_memory_images_per_s"], abs=0.01)
