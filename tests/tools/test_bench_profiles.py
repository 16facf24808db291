import json
import re
import subprocess
import sys

import pytest

from kclass.cli import REPO_ROOT


def run(script, *args):
    done = subprocess.run([sys.executable, f"tools/bench/{script}", *args], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()


@pytest.mark.slow
def test_ops_profile_names_the_step_ops_with_their_share():
    lines = run("ops.py", "--model", "MobileNetV3_small_x0_35", "--batch", "4", "--image_size", "16",
                "--num_classes", "5", "--steps", "2", "--top", "200")
    rows = [re.match(r"\s*([\d.]+)\s+([\d.]+)%\s+(\d+)\s+(\S+)$", line) for line in lines[2:]]
    assert rows and all(rows), lines
    ops = {m.group(4): float(m.group(2)) for m in rows}
    # Pointwise convs run as a MatMul (_MklMatMul where oneDNN is on, MatMul elsewhere); then the optimizer.
    assert any("MatMul" in op for op in ops) and "ResourceApplyMomentum" in ops, sorted(ops)
    assert 99.0 <= sum(ops.values()) <= 101.0


@pytest.mark.slow
def test_conv_paths_times_each_rerouted_layer_both_ways():
    lines = run("conv_paths.py", "--model", "MobileNetV3_small_x0_35", "--batch", "2", "--image_size", "16",
                "--repeats", "2")
    report = json.loads(lines[-1])
    layers = lines[1:-1]
    assert any("_bottleneck_conv_conv" in line for line in layers)  # tiny-map depthwise convs
    assert any("_expand_conv_conv" in line for line in layers)      # pointwise convs
    assert report["keras_ms"] > 0 and report["kclass_ms"] > 0 and report["speedup"] > 0
