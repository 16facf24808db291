"""docs/quick_start.md runs: every block marked `<!-- kclass: run -->` is executed, in order.

Only data paths, image sizes and epochs are rewritten: the commands run in a workspace holding a tiny
CIFAR-100 / NUS-WIDE-SCENE layout, a class-per-folder tree (`dataset/my_images`, for tools/make_lists.py)
and random-weight `.pdparams` files under the tutorial's names, with
EPOCHS=1, 32x32 images and batch 8. A command that stops working fails this test.
"""

import os
import re
import subprocess
import sys

import numpy as np
import pytest

from tests.clitools import ROOT

DOC = os.path.join(ROOT, "docs", "quick_start.md")
# `run`: executed; `skip <reason>`: not run here, for that reason; `serve <text>`: a server, started until
# it prints <text>, then stopped.
MARK = re.compile(r"<!-- kclass: (run|skip|serve)([^\n]*?)-->\n```bash\n(.*?)```", re.S)
_TRAILING_COMMENT = re.compile(r"\s+#\s.*$")  # `cmd  # why`: the rewrite appends after `cmd`
TRAIN_PARAMS = ["EPOCHS=1", "BATCH_SIZE=8", "EVAL_BATCH_SIZE=8", "IMAGE_SIZE=32", "val/DataConfig.resize_short=36"]
GIN_PARAMS = ["EVAL_BATCH_SIZE=8", "IMAGE_SIZE=32", "val/DataConfig.resize_short=36"]


def blocks(doc=DOC):
    with open(doc, encoding="utf-8") as f:
        text = f.read()
    found = [(kind, reason.strip(), body) for kind, reason, body in MARK.findall(text)]
    assert len(found) == text.count("```bash"), "every bash block needs a `<!-- kclass: run|skip ... -->` mark"
    return found


def commands(body):
    """Shell commands of a block, continuation lines joined, comments dropped."""
    lines = [_TRAILING_COMMENT.sub("", c).strip() for c in body.replace("\\\n", " ").splitlines()]
    return [c for c in lines if c and not c.startswith("#")]


def rewrite(command):
    """Adds the tiny-run bindings to kclass commands that read a recipe."""
    params = TRAIN_PARAMS if "kclass.train" in command else GIN_PARAMS
    if "--gin_file" not in command:
        return command
    return command + "".join(f" --gin_param '{p}'" for p in params)


def _png(path, rng, size=32):
    import tensorflow as tf
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tf.io.write_file(path, tf.io.encode_png(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)))


def _jpeg(path, rng):
    import tensorflow as tf
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tf.io.write_file(path, tf.io.encode_jpeg(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)))


def make_workspace(ws):
    """Tiny data in the tutorial's layout and random ImageNet-shaped weights under its file names."""
    rng = np.random.default_rng(0)
    cifar = ws / "dataset" / "CIFAR100"
    for split, count in (("train", 32), ("test", 8)):
        lines = []
        for i in range(count):
            _png(str(cifar / split / f"{i}.png"), rng)
            lines.append(f"{split}/{i}.png {i % 4}\n")
        (cifar / f"{split}_list.txt").write_text("".join(lines))
    nus = ws / "dataset" / "NUS-WIDE-SCENE" / "NUS-SCENE-dataset"
    for split, count in (("train", 16), ("test", 8)):
        lines = []
        for i in range(count):
            name = f"{split}_{i:04d}.jpg"
            _jpeg(str(nus / "images" / name), rng)
            flags = (rng.random(33) < 0.2).astype(int)
            lines.append(name + "\t" + ",".join(map(str, flags)) + "\n")
        (nus / f"multilabel_{split}_list.txt").write_text("".join(lines))
    (nus / "label_list.txt").write_text("".join(f"{i} scene{i}\n" for i in range(33)))
    for name in ("bird", "cat", "dog"):  # "your own images", one folder per class, for tools/make_lists.py
        for i in range(5):
            _png(str(ws / "dataset" / "my_images" / name / f"{i}.png"), rng)
    from kclass import models
    from kclass.weights import mapping, pdparams
    os.makedirs(ws / "pretrained")
    for name, arch in (("ResNet50_vd", "ResNet50_vd"), ("ResNet50_vd_ssld", "ResNet50_vd"),
                       ("MobileNetV3_large_x1_0", "MobileNetV3_large_x1_0")):
        model = models.build(arch, num_classes=1000, input_shape=(32, 32, 3))
        pdparams.write_pdparams(mapping.paddle_state_dict(model), str(ws / "pretrained" / f"{name}_pretrained.pdparams"))
    for folder in ("gin", "tools"):
        os.symlink(os.path.join(ROOT, folder), ws / folder)


def test_every_bash_block_is_marked():
    kinds = [kind for kind, _, _ in blocks()]
    assert kinds.count("run") >= 5
    assert all(reason for kind, reason, _ in blocks() if kind == "skip")


@pytest.mark.slow
def test_quick_start_runs(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    make_workspace(ws)
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2", PYTHON=sys.executable)
    ran = 0
    for kind, reason, body in blocks():
        if kind != "run":
            continue
        for command in commands(body):
            command = rewrite(command).replace("python ", f"{sys.executable} ", 1) if command.startswith(
                "python ") else rewrite(command)
            done = subprocess.run(["bash", "-c", command], cwd=ws, env=env, capture_output=True, text=True,
                                  timeout=600)
            assert done.returncode == 0, f"$ {command}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
            ran += 1
    assert ran >= 12
    assert (ws / "mixup.png").is_file()
    assert (ws / "dataset" / "my_images" / "label_list.txt").read_text() == "0 bird\n1 cat\n2 dog\n"
    assert (ws / "output" / "my_images_check" / "class_counts.png").is_file()
    for run, files in (("ResNet50_vd_CIFAR100_finetune", ("confusion_matrix.png", "most_confused.png")),
                       ("ResNet50_vd_multilabel", ("pr_curves.png",))):
        for name in files + ("per_class.csv", "report.json"):
            assert (ws / "output" / run / "report" / name).is_file(), (run, name)
    assert list((ws / "serving" / "models" / "cifar100").glob("*/saved_model.pb"))
