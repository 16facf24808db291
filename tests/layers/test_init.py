"""The kernels are found by their registered names, not their module paths: a `.keras` file saved while
they lived in `kclass.models` loads as one saved now, into the same classes, with the same outputs."""

import json
import zipfile

import keras
import numpy as np

from kclass.layers.batch_norm import BatchNormalization
from kclass.layers.conv import Conv2D
from kclass.layers.depthwise import DepthwiseConv2D
from kclass.layers.fold_batch_norm import FoldedBatchNorm


def _net():
    x = keras.Input((4, 4, 3))
    y = BatchNormalization(momentum=0.9, epsilon=1e-5)(Conv2D(5, 3, padding="same")(x))
    y = FoldedBatchNorm()(DepthwiseConv2D(3, padding="same")(y))
    return keras.Model(x, y)


def _with_old_module_paths(src, dst):
    """A copy of the .keras file `src` whose config names the kernels' modules as kclass.models.*."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "config.json":
                text = data.decode("utf-8")
                assert '"kclass.layers.conv"' in text
                data = text.replace('"kclass.layers.', '"kclass.models.').encode("utf-8")
            zout.writestr(item, data)


def test_registered_names_are_package_kclass_and_the_class_name():
    for cls in (Conv2D, DepthwiseConv2D, BatchNormalization, FoldedBatchNorm):
        assert keras.saving.get_registered_name(cls) == f"kclass>{cls.__name__}"


def test_a_model_saved_under_the_old_module_paths_loads(tmp_path):
    net = _net()
    x = np.random.default_rng(0).normal(size=(2, 4, 4, 3)).astype(np.float32)
    net.save(tmp_path / "new.keras")
    _with_old_module_paths(tmp_path / "new.keras", tmp_path / "old.keras")
    loaded = keras.saving.load_model(tmp_path / "old.keras")
    kinds = [type(layer) for layer in loaded.layers[1:]]
    assert kinds == [Conv2D, BatchNormalization, DepthwiseConv2D, FoldedBatchNorm]
    np.testing.assert_allclose(loaded(x), net(x), rtol=1e-6, atol=1e-6)
