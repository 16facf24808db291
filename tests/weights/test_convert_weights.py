"""tools/convert_weights.py: .pdparams in, a Keras .weights.h5 that loads into the same model out."""

import os
import subprocess
import sys

import numpy as np

import kclass.models as km
from kclass.weights import paddle_state_dict, write_pdparams

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _tool(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, os.path.join(ROOT, "tools", "convert_weights.py"), *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=600)


def test_converts_with_the_class_count_of_the_file(tmp_path):
    source = km.build("MobileNetV3_small_x0_35", num_classes=7, input_shape=(32, 32, 3))
    for v in source.trainable_variables:
        v.assign(np.random.default_rng(len(v.path)).uniform(-0.5, 0.5, v.shape).astype("float32"))
    write_pdparams(paddle_state_dict(source, "2.1"), tmp_path / "mv3.pdparams")
    proc = _tool(tmp_path / "mv3.pdparams", tmp_path / "out" / "mv3.weights.h5", "--model", "MobileNetV3_small_x0_35")
    assert proc.returncode == 0, proc.stderr
    assert "7 classes" in proc.stdout and "2.1 names" in proc.stdout
    model = km.build("MobileNetV3_small_x0_35", num_classes=7, input_shape=(32, 32, 3))
    model.load_weights(tmp_path / "out" / "mv3.weights.h5")  # plain Keras, no kclass loader
    for a, b in zip(model.weights, source.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())

    bad = _tool(tmp_path / "mv3.pdparams", tmp_path / "x.h5", "--model", "MobileNetV3_small_x0_35")
    assert bad.returncode == 2 and "must end in .weights.h5" in bad.stderr
    missing = _tool(tmp_path / "nope.pdparams", tmp_path / "x.weights.h5", "--model", "ResNet18_vd")
    assert missing.returncode == 2 and "weights file not found" in missing.stderr
