"""python -m kclass.train end to end: the demo learns; user mistakes are one line before any work."""

import numpy as np
import pytest

from tests.clitools import demo_params, last_json, run

DEMO = "gin/quick_start/demo.gin"


@pytest.mark.slow
def test_demo_recipe_learns_and_evaluates(tmp_path):
    params = demo_params(tmp_path / "data", tmp_path / "run")
    done = run("train", "--gin_file", DEMO, gin_params=params)
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = tmp_path / "run"
    for name in ("operative_config.gin", "config.gin", "best_model/model.weights.h5", "best_model/best.json",
                 "checkpoints/checkpoint"):
        assert (run_dir / name).exists(), name
    assert list((run_dir / "logs" / "train").iterdir()) and list((run_dir / "logs" / "eval").iterdir())
    result = run("evaluate", "--gin_file", DEMO, "--weights", str(run_dir / "best_model"), "--json",
                 gin_params=params)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = last_json(result.stdout)
    assert metrics["images"] == 120
    assert metrics["top1"] > 0.4, metrics  # chance is 1/6


def test_misspelt_macro_fails_before_any_work(tmp_path):
    done = run("train", "--gin_file", DEMO, gin_params=["EPOHCS=3", f"MODEL_DIR='{tmp_path}/run'"])
    assert done.returncode == 2
    assert "EPOHCS is not a macro" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "run").exists()


def test_unknown_parameter_gives_gins_message(tmp_path):
    done = run("train", "--gin_file", DEMO, gin_params=["Experiment.epohcs=3"])
    assert done.returncode == 2
    assert "doesn't have a parameter named 'epohcs'" in done.stderr and "Traceback" not in done.stderr


def test_bad_list_lines_stop_training(tmp_path):
    (tmp_path / "a.png").write_bytes(b"")
    (tmp_path / "train.txt").write_text("a.png 0\nb.png 1\na.png 9\n")
    params = ["MODEL='ResNet18_vd'", "NUM_CLASSES=6", f"DATA_ROOT='{tmp_path}'", f"TRAIN_LIST='{tmp_path}/train.txt'",
              f"VAL_LIST='{tmp_path}/train.txt'", f"MODEL_DIR='{tmp_path}/run'"]
    done = run("train", "--gin_file", "gin/quick_start/ResNet50_vd_CIFAR100.gin", gin_params=params)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "train.txt:2: image not found" in done.stderr
    assert "train.txt:3: label 9 out of range [0, 6)" in done.stderr
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_misspelt_model_names_the_closest_models_before_any_work(tmp_path):
    params = demo_params(tmp_path / "data", tmp_path / "run") + ["MODEL='ResNet50vd'"]
    done = run("train", "--gin_file", DEMO, gin_params=params)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-3000:]
    errors = [line for line in done.stderr.splitlines() if "ResNet50vd" in line]
    assert len(errors) == 1 and errors[0].startswith("kclass: error: unknown model 'ResNet50vd'; did you mean "
                                                     "ResNet50_vd, "), done.stderr[-3000:]
    assert not (tmp_path / "run").exists() and not (tmp_path / "data").exists()  # not even the demo data


def _final_weights(run_dir):
    import tensorflow as tf
    reader = tf.train.load_checkpoint(str(run_dir / "checkpoints"))
    names = [n for n in reader.get_variable_to_shape_map() if n.startswith("model/")]
    return {n: reader.get_tensor(n) for n in names}, int(reader.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE"))


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_loses_nothing(tmp_path):
    import signal
    import subprocess
    import time

    from tests.clitools import ROOT
    data = tmp_path / "data"
    extra = ["Experiment.checkpoint_every_steps=2", "Experiment.steps_per_loop=1"]
    args = ["train", "--gin_file", DEMO, "--deterministic"]

    def params(run_dir):
        return demo_params(data, tmp_path / run_dir, epochs=2, per_class=32) + extra

    # Uninterrupted reference.
    done = run(*args, gin_params=params("ref"))
    assert done.returncode == 0, done.stderr[-3000:]
    # Same command, killed with SIGKILL right after its first mid-epoch checkpoint, then re-run.
    import os
    import sys
    cmd = [sys.executable, "-m", "kclass.train", "--gin_file", DEMO, "--deterministic"]
    for p in params("killed"):
        cmd += ["--gin_param", p]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    index = tmp_path / "killed" / "checkpoints" / "checkpoint"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if index.exists() and "ckpt-2" in index.read_text():
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = _final_weights(tmp_path / "killed")[1]
    assert 0 < killed_at < 12, killed_at  # really interrupted mid-run (6 steps per epoch, 12 in all)
    resumed = run(*args, gin_params=params("killed"))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resumed from" in resumed.stdout
    ref, ref_step = _final_weights(tmp_path / "ref")
    got, got_step = _final_weights(tmp_path / "killed")
    assert ref_step == got_step == 12
    for name, value in ref.items():
        np.testing.assert_allclose(got[name], value, rtol=1e-6, atol=1e-7, err_msg=name)


def _corrupt_one(data_root):
    first = (data_root / "train_list.txt").read_text().splitlines()[0].split()[0]
    target = data_root / first
    target.write_bytes(target.read_bytes()[:40])  # a truncated PNG: the header passes, the decode fails
    return target


@pytest.mark.slow
def test_bad_image_policy(tmp_path):
    from kclass.data.demo import make_demo_dataset
    data = tmp_path / "data"
    make_demo_dataset(str(data), train_per_class=16, val_per_class=4)
    bad = _corrupt_one(data)
    params = demo_params(data, tmp_path / "run", epochs=1, per_class=16) + ["EVAL_BATCH_SIZE=8", "BATCH_SIZE=8"]
    done = run("train", "--gin_file", DEMO, gin_params=params)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert "could not be decoded" in done.stderr and "on_bad_image='skip'" in done.stderr
    done = run("train", "--gin_file", DEMO, gin_params=params + ["Experiment.on_bad_image='skip'",
                                                                  f"MODEL_DIR='{tmp_path}/run2'"])
    assert done.returncode == 0, done.stderr[-2000:]
    assert "1 undecodable train image(s) skipped" in done.stdout
    assert (tmp_path / "run2" / "skipped_images_train.txt").read_text().strip() == str(bad)
