"""The ONNX export check compares logits: on a model whose softmax/sigmoid saturates, a corrupted
ONNX file passes a probabilities comparison but fails the export's check."""

import keras
import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from kclass.errors import UserError
from kclass.export import onnx_export
from kclass.export.serving_module import ServingModule, ServingSpec

SIZE, CLASSES, FAR = 8, 4, -1000.0


def saturating_module(multilabel):
    """Conv -> pool -> Dense whose bias puts classes 1.. at -1000: softmax/sigmoid give them exactly 0."""
    model = keras.Sequential([keras.Input((SIZE, SIZE, 3)), keras.layers.Conv2D(5, 3),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(CLASSES)])
    kernel, bias = model.layers[-1].get_weights()
    model.layers[-1].set_weights([kernel, np.array([0.0] + [FAR] * (CLASSES - 1), np.float32)])
    spec = ServingSpec(image_size=SIZE, class_names=list("abcd"), multilabel=multilabel)
    return ServingModule(model, spec)


def perturb_bias(path, cls, delta):
    """Adds `delta` to the converted Dense bias of class `cls`, in place."""
    proto = onnx.load(path)
    for init in proto.graph.initializer:
        value = numpy_helper.to_array(init)
        if value.shape == (CLASSES,) and value[1] == FAR:
            value = value.copy()
            value[cls] += delta
            init.CopyFrom(numpy_helper.from_array(value, init.name))
            break
    else:
        raise AssertionError("no Dense bias among the initializers")
    onnx.save(proto, path)


@pytest.mark.parametrize("multilabel", [False, True])
def test_check_compares_logits_not_saturated_probabilities(tmp_path, multilabel):
    module = saturating_module(multilabel)
    key = "scores" if multilabel else "probabilities"
    path = str(tmp_path / "model.onnx")
    assert onnx_export.export_onnx(module, path) <= onnx_export.LOGITS_RTOL
    outputs = onnx_export.run_onnx_outputs(path, np.zeros((1, SIZE, SIZE, 3), np.float32))
    assert list(outputs) == [key, "logits"]  # the documented output stays first

    images = np.random.default_rng(3).normal(size=(4, SIZE, SIZE, 3)).astype(np.float32)
    function = module.scores_function()
    expected = function(images)
    assert np.all(expected[key].numpy()[:, 1:] == 0.0)  # saturated
    perturb_bias(path, cls=2, delta=5.0)  # a wrong conversion: logit 2 off by 0.5% of the scale
    got = onnx_export.run_onnx_outputs(path, images)
    # The old check (probabilities within 1e-4) cannot see it ...
    assert np.max(np.abs(got[key] - expected[key].numpy())) <= onnx_export.TOLERANCE
    assert np.max(np.abs(got["logits"] - expected["logits"].numpy())) == pytest.approx(5.0, rel=1e-3)
    # ... the logits check does.
    with pytest.raises(UserError, match=r"logits differ from TensorFlow's by 5\.0\de-03"):
        onnx_export.check_onnx(function, path, images)
