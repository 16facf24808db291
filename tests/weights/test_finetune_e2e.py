"""Fine-tuning end to end, through the CLI: weights trained on one task lift another task's start.

A ResNet18_vd learns the 6-shape demo set; its best_model then seeds a 3-class task (three of the
shapes, relabelled). After the same few steps, the fine-tuned run must clearly beat the same recipe
from scratch, and the 6-class classifier must be skipped with one warning line. Weights of another
architecture stop the run before its first step.
"""

import re

import pytest

from tests.clitools import demo_params, run

DEMO = "gin/quick_start/demo.gin"
# 16 px images; evaluation resizes to 18 (8/7 of the size) instead of the CIFAR recipe's fixed 36.
COMMON = ["IMAGE_SIZE=16", "BATCH_SIZE=32", "EVAL_BATCH_SIZE=60", "LR=0.02", "LABEL_LIST=None",
          "val/DataConfig.resize_short=None"]


def _data(root, train_list, val_list):
    return [f"DATA_ROOT='{root}'", f"TRAIN_LIST='{root}/{train_list}'", f"VAL_LIST='{root}/{val_list}'"]


def _relabel(root, src, dst, keep):
    """Writes a list with only the classes in `keep`, renumbered by it."""
    lines = []
    for line in (root / src).read_text().splitlines():
        path, label = line.rsplit(" ", 1)
        if int(label) in keep:
            lines.append(f"{path} {keep[int(label)]}\n")
    (root / dst).write_text("".join(lines))
    return len(lines)


def _top1(done):
    assert done.returncode == 0, done.stderr[-3000:]
    final = [line for line in done.stdout.splitlines() if line.startswith("final:")][-1]
    return float(re.search(r"\btop1 ([0-9.]+)", final).group(1))


@pytest.mark.slow
def test_finetuning_from_own_weights_beats_scratch(tmp_path):
    from kclass.data.demo import make_demo_dataset

    data = tmp_path / "shapes"
    make_demo_dataset(str(data), train_per_class=150, val_per_class=20, image_size=16, seed=0)
    keep = {0: 0, 3: 1, 5: 2}  # circle, cross, stripes: a 3-class task on the same kind of images
    assert _relabel(data, "train_list.txt", "task_train.txt", keep) == 450
    assert _relabel(data, "val_list.txt", "task_val.txt", keep) == 60

    pre_dir = tmp_path / "pretrain"
    pre = run("train", "--gin_file", DEMO, gin_params=COMMON + _data(data, "train_list.txt", "val_list.txt") + [
        "NUM_CLASSES=6", "EPOCHS=10", f"MODEL_DIR='{pre_dir}'"])
    assert _top1(pre) > 0.25, pre.stdout[-2000:]  # chance is 1/6

    task = COMMON + _data(data, "task_train.txt", "task_val.txt") + ["NUM_CLASSES=3", "EPOCHS=1"]
    tuned = run("train", "--gin_file", DEMO, gin_params=task + [
        f"MODEL_DIR='{tmp_path / 'finetune'}'", f"PRETRAINED='{pre_dir / 'best_model'}'"])
    scratch = run("train", "--gin_file", DEMO, gin_params=task + [
        f"MODEL_DIR='{tmp_path / 'scratch'}'", "PRETRAINED=None"])
    tuned_top1, scratch_top1 = _top1(tuned), _top1(scratch)
    skipped = [line for line in tuned.stderr.splitlines() if "skipped the classifier" in line]
    assert len(skipped) == 1 and "6 classes in the file, the model has 3" in skipped[0]
    print(f"\npretrained 6-class top1 {_top1(pre):.3f}; 3-class task after the same 14 steps: "
          f"fine-tuned {tuned_top1:.3f}, from scratch {scratch_top1:.3f}")
    assert tuned_top1 >= scratch_top1 + 0.2


@pytest.mark.slow
def test_pretrained_of_another_model_stops_before_any_step(tmp_path):
    import kclass.models as km

    other = tmp_path / "mobilenet.weights.h5"  # e.g. the best_model of another run
    km.build("MobileNetV3_small_x0_35", num_classes=6, input_shape=(32, 32, 3)).save_weights(other)
    params = demo_params(tmp_path / "data", tmp_path / "run", epochs=1, per_class=8) + [f"PRETRAINED='{other}'"]
    done = run("train", "--gin_file", DEMO, gin_params=params)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-3000:]
    errors = [line for line in done.stderr.splitlines() if str(other) in line]
    assert len(errors) == 1 and errors[0].startswith(
        f"kclass: error: {other} does not fit 'ResNet18_vd': shape mismatch: conv1_1_conv/kernel "
        "[3, 3, 3, 8] (model expects [3, 3, 3, 32])"), done.stderr[-3000:]
    assert "epoch 1/" not in done.stdout and not (tmp_path / "run" / "checkpoints").exists()
