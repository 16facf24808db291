"""Test session setup: 2 logical CPU devices (for MirroredStrategy tests), quiet TF logs."""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

# Must happen before TF initialises its devices, i.e. before any test touches TF.
_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(_cpu, [tf.config.LogicalDeviceConfiguration()] * 2)


@pytest.fixture
def demo_data(tmp_path_factory):
    """A tiny demo data set (6 classes, 16x16) shared by the tests that train."""
    from kclass.data.demo import make_demo_dataset
    root = tmp_path_factory.getbasetemp() / "demo16"
    return make_demo_dataset(str(root), train_per_class=24, val_per_class=8, image_size=16)
