import json
import os
import subprocess
import sys

import pytest

from kclass.cli import REPO_ROOT
from tests.paddle_venv import require_paddle_python


@pytest.mark.slow
def test_both_engines_start_from_the_same_weights_on_the_same_batches(demo_data, tmp_path):
    venv = os.path.dirname(os.path.dirname(require_paddle_python()))
    done = subprocess.run([sys.executable, "tools/fidelity/paired.py", "--data", demo_data, "--num_classes", "6",
                           "--image_size", "16", "--model", "ResNet18_vd", "--seeds", "3", "--batch", "16",
                           "--steps", "3", "--out", str(tmp_path)], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=900, env={**os.environ, "KCLASS_PADDLE_VENV": venv})
    assert done.returncode == 0, done.stderr[-3000:]
    losses = json.loads(done.stdout.strip().splitlines()[-1])["losses"]
    kclass, paddle = losses["kclass"]["3"], losses["paddle"]["3"]
    assert len(kclass) == len(paddle) == 3
    # Same weights, same batch, nothing updated yet: the first losses are one forward apart.
    assert kclass[0] == pytest.approx(paddle[0], rel=1e-4)
    assert kclass == pytest.approx(paddle, rel=0.05)  # three steps: still the same trajectory


@pytest.mark.slow
def test_in_float64_both_engines_take_the_same_steps(demo_data, tmp_path):
    # Same weights, batches, optimizer and schedule: in float64 the trajectories agree to rounding. A float32
    # LR (kclass's cosine until it was computed in float64, off by ~1e-8) was enough to part them by 1%
    # of the loss on the third step on real CIFAR batches.
    venv = os.path.dirname(os.path.dirname(require_paddle_python()))
    done = subprocess.run([sys.executable, "tools/fidelity/paired.py", "--data", demo_data, "--num_classes", "6",
                           "--image_size", "16", "--model", "ResNet18_vd", "--seeds", "3", "--batch", "16",
                           "--steps", "6", "--dtype", "float64", "--out", str(tmp_path)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "KCLASS_PADDLE_VENV": venv})
    assert done.returncode == 0, done.stderr[-3000:]
    losses = json.loads(done.stdout.strip().splitlines()[-1])["losses"]
    kclass, paddle = losses["kclass"]["3"], losses["paddle"]["3"]
    assert len(kclass) == len(paddle) == 6
    assert kclass == pytest.approx(paddle, rel=1e-9, abs=0), (kclass, paddle)


@pytest.mark.slow
@pytest.mark.parametrize("dtype,steps,rtol", [("float64", 0, 1e-6), ("float32", 1, 2e-5)])
def test_bn_moving_statistics_equal_the_reference(demo_data, tmp_path, dtype, steps, rtol):
    # Same weights and batches: every BN's moving mean and variance must be the reference's, after a whole
    # epoch (9 steps) in float64 (Keras's BN path) and after one step in float32 (the fused kernel, whose
    # trajectory float32 rounding would part from the reference's within a few steps). Catches a momentum
    # convention (Paddle's 0.9 keeps 90 % of the old value, as Keras's) or the kernel's unbiased batch
    # variance in the running average (both engines average the biased one: 1/16 apart on 1x1 maps).
    import numpy as np

    import kclass.models as km
    from kclass.weights import load_weights
    venv = os.path.dirname(os.path.dirname(require_paddle_python()))
    done = subprocess.run([sys.executable, "tools/fidelity/paired.py", "--data", demo_data, "--num_classes", "6",
                           "--image_size", "16", "--model", "ResNet18_vd", "--seeds", "3", "--batch", "16",
                           "--dtype", dtype, "--steps", str(steps), "--save_final", "--out", str(tmp_path)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "KCLASS_PADDLE_VENV": venv})
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(json.loads(done.stdout.strip().splitlines()[-1])["losses"]["kclass"]["3"]) == (steps or 9)
    models = {}
    for engine, name in (("kclass", "kclass_final_s3.weights.h5"), ("paddle", "paddle_final_s3.pdparams")):
        models[engine] = km.build("ResNet18_vd", num_classes=6, input_shape=(16, 16, 3))
        load_weights(models[engine], tmp_path / name)
    stats = [(a.path, a.numpy(), b.numpy()) for a, b in zip(models["kclass"].weights, models["paddle"].weights)
             if "moving_" in a.path]
    assert len(stats) == 2 * sum(path.endswith("moving_mean") for path, *_ in stats) >= 2 * 20
    initial = km.build("ResNet18_vd", num_classes=6, input_shape=(16, 16, 3))
    load_weights(initial, tmp_path / "init_ResNet18_vd_s3.pdparams")
    moved = {w.path: w.numpy() for w in initial.weights}
    for path, ours, theirs in stats:
        assert not np.allclose(theirs, moved[path]), path  # the epoch did move it
        np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=rtol * np.abs(theirs).max(), err_msg=path)
