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


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    """The demo recipe's model exported once per session (SavedModel + ONNX; tests/serving/exported.py)."""
    from tests.serving.exported import exported_demo
    return exported_demo(tmp_path_factory)


@pytest.fixture(scope="session")
def real_data():
    """`real_data(name)` -> path of a real-image data set folder (cifar10-mini, coco-multilabel-mini).

    The folders live outside the repo: KCLASS_REAL_DATA, default <repo>/../shared/data. A test that
    asks for a missing one is skipped.
    """
    base = os.environ.get("KCLASS_REAL_DATA", os.path.join(os.path.dirname(ROOT), "shared", "data"))

    def find(name):
        path = os.path.join(base, name)
        if not os.path.isdir(path):
            pytest.skip(f"real data {path} missing (set KCLASS_REAL_DATA)")
        return path
    return find
