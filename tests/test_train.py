"""python -m kclass.train end to end: the demo learns; user mistakes are one line before any work."""

import json
import os
import random
import re
import signal
import time

import numpy as np
import pytest

from tests.clitools import demo_params, last_json, run, start

DEMO = "gin/quick_start/demo.gin"


@pytest.mark.slow
def test_demo_recipe_learns_and_evaluates(tmp_path):
    params = demo_params(tmp_path / "data", tmp_path / "run")
    done = run("train", "--gin_file", DEMO, gin_params=params)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "op threads: intra-op 1, inter-op TF's default" in done.stdout  # 32 images of 32x32 a step
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


# ---- nothing lost: SIGKILL, then the same command resumes ----------------------------------------
# Two epochs of 6 steps, a checkpoint every 2 steps, op determinism: resumed runs are bit-identical.
RESUME_ARGS = ("--gin_file", DEMO, "--deterministic")
RESUME_STEPS = 12


def _resume_params(data, run_dir):
    return demo_params(data, run_dir, epochs=2, per_class=32) + [
        "Experiment.checkpoint_every_steps=2", "Experiment.steps_per_loop=1"]


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    """An uninterrupted run of the resume recipe (and the demo data the killed runs share)."""
    root = tmp_path_factory.mktemp("reference")
    done = run("train", *RESUME_ARGS, gin_params=_resume_params(root / "data", root / "run"))
    assert done.returncode == 0, done.stderr[-3000:]
    return root


def _final_weights(run_dir):
    import tensorflow as tf
    reader = tf.train.load_checkpoint(str(run_dir / "checkpoints"))
    names = [n for n in reader.get_variable_to_shape_map() if n.startswith("model/")]
    return {n: reader.get_tensor(n) for n in names}, int(reader.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE"))


def _assert_same_final_weights(reference, got):
    ref, ref_step = _final_weights(reference)
    weights, step = _final_weights(got)
    assert ref_step == step == RESUME_STEPS
    for name, value in ref.items():
        np.testing.assert_allclose(weights[name], value, rtol=1e-6, atol=1e-7, err_msg=name)


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_loses_nothing(tmp_path, reference_run):
    params = _resume_params(reference_run / "data", tmp_path / "killed")
    # The same command, killed with SIGKILL right after its first mid-epoch checkpoint, then re-run.
    proc = start("train", *RESUME_ARGS, gin_params=params)
    index = tmp_path / "killed" / "checkpoints" / "checkpoint"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if index.exists() and "ckpt-2" in index.read_text():
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = _final_weights(tmp_path / "killed")[1]
    assert 0 < killed_at < RESUME_STEPS, killed_at  # really interrupted mid-run
    resumed = run("train", *RESUME_ARGS, gin_params=params)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed from" in resumed.stdout
    _assert_same_final_weights(reference_run / "run", tmp_path / "killed")


def _latest_step(run_dir):
    """The step of the checkpoint the index names (0 before the first)."""
    index = run_dir / "checkpoints" / "checkpoint"
    found = re.search(r'^model_checkpoint_path: "ckpt-(\d+)"', index.read_text(), re.M) if index.exists() else None
    return int(found.group(1)) if found else 0


def _written_since(path, since):
    try:
        return os.path.getmtime(path) >= since
    except FileNotFoundError:  # a temp file renamed or deleted meanwhile
        return False


def _fresh_files(folder, since):
    """Files under `folder` written after `since` (older ones are debris of earlier attempts)."""
    paths = [os.path.join(parent, name) for parent, _, names in os.walk(folder) for name in names]
    return [path for path in paths if _written_since(path, since)]


def _checkpoint_being_written(run_dir, since):
    """A checkpoint newer than the index names has files (TF's `ckpt-N_temp/`, then `ckpt-N.*`), or the
    index's own temp file exists: a save is under way."""
    latest = _latest_step(run_dir)
    for path in _fresh_files(run_dir / "checkpoints", since):
        step = re.search(r"ckpt-(\d+)", path)
        if ".tmp" in os.path.basename(path) or (step and int(step.group(1)) > latest):
            return True
    return False


def _best_model_write_started(run_dir, since):
    """Any new file in best_model/: whatever the writer's way, a kill now lands inside its write."""
    return bool(_fresh_files(run_dir / "best_model", since))


def _best_model_being_written(run_dir, since):
    return any(os.path.basename(path).startswith(".tmp-") for path in _fresh_files(run_dir / "best_model", since))


def _kill_at(kind, proc, run_dir, rng, since):
    """SIGKILLs `proc` at a moment of `kind`; returns whether a write was under way.

    checkpoint / best_model: a random instant (0-30 ms) into the attempt's first checkpoint /
    best_model write; anytime: a random instant (0-1.5 s) after the attempt's first new checkpoint.
    """
    writes = {"checkpoint": _checkpoint_being_written, "best_model": _best_model_write_started}
    first = _latest_step(run_dir)
    deadline = time.time() + 300
    while proc.poll() is None and time.time() < deadline:
        if kind in writes and writes[kind](run_dir, since):
            time.sleep(rng.uniform(0, 0.03))
            break
        if kind == "anytime" and _latest_step(run_dir) > first:
            time.sleep(rng.uniform(0, 1.5))
            break
        time.sleep(0.003)
    assert proc.poll() is None, f"the run ended (status {proc.returncode}) before the {kind} kill"
    during_write = _checkpoint_being_written(run_dir, since) or _best_model_being_written(run_dir, since)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return during_write


def _h5_arrays(path):
    import h5py

    arrays = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda key, obj: arrays.update({key: obj[()]}) if isinstance(obj, h5py.Dataset) else None)
    return arrays


def _assert_everything_loads(run_dir):
    """Every checkpoint the index lists and best_model read back whole: no half-written file is current."""
    import tensorflow as tf

    state = tf.train.get_checkpoint_state(str(run_dir / "checkpoints"))
    for prefix in state.all_model_checkpoint_paths if state else []:
        reader = tf.train.load_checkpoint(prefix)
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    best = run_dir / "best_model"
    if (best / "model.weights.h5").exists():
        assert _h5_arrays(best / "model.weights.h5")
    if (best / "best.json").exists():  # written just after the weights: a kill between leaves none yet
        assert json.loads((best / "best.json").read_text())["metric"] == "top1"


@pytest.mark.slow
def test_sigkill_at_random_moments_repeatedly_loses_nothing(tmp_path, reference_run):
    """Killed four times at seeded random moments, three aimed inside a checkpoint or best_model write;
    after each kill all on disk loads and the run goes on; it ends equal to the uninterrupted run."""
    import kclass.models as km
    from kclass.weights import load_weights

    rng = random.Random(10)
    run_dir = tmp_path / "run"
    params = _resume_params(reference_run / "data", run_dir)
    kills, reached = [], 0
    # best_model is written at the end of epoch 1 (step 6): the first two kills come before it.
    for kind in ("checkpoint", "best_model", "anytime", "checkpoint"):
        since = time.time()
        during_write = _kill_at(kind, start("train", *RESUME_ARGS, gin_params=params), run_dir, rng, since)
        _assert_everything_loads(run_dir)
        assert _latest_step(run_dir) >= reached, "a kill lost a checkpoint that was already current"
        reached = _latest_step(run_dir)
        kills.append(f"{kind}{' (inside a write)' if during_write else ''} -> resumes from step {reached}")
    print("\nkills: " + "; ".join(kills))
    assert sum("inside" in kill for kill in kills) >= 2, kills  # the writes were really hit, not only missed
    done = run("train", *RESUME_ARGS, gin_params=params)
    assert done.returncode == 0 and "resumed from" in done.stdout, done.stderr[-3000:]
    _assert_everything_loads(run_dir)
    _assert_same_final_weights(reference_run / "run", run_dir)
    # best_model loads with kclass's loader, and is the uninterrupted run's, file and metric.
    load_weights(km.build("ResNet18_vd", num_classes=6, input_shape=(32, 32, 3)), run_dir / "best_model")
    ref_dir = reference_run / "run" / "best_model"
    ref_arrays = _h5_arrays(ref_dir / "model.weights.h5")
    arrays = _h5_arrays(run_dir / "best_model" / "model.weights.h5")
    assert arrays.keys() == ref_arrays.keys()
    for name, value in ref_arrays.items():
        np.testing.assert_allclose(arrays[name], value, rtol=1e-6, atol=1e-7, err_msg=name)
    ref_best = json.loads((ref_dir / "best.json").read_text())
    best = json.loads((run_dir / "best_model" / "best.json").read_text())
    assert (best["epoch"], best["step"]) == (ref_best["epoch"], ref_best["step"]), (best, ref_best)
    assert best["value"] == pytest.approx(ref_best["value"], abs=1e-6)


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
