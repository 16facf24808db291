"""The recipe's network: the precision it is built in, from its seed, without global state."""

import random

import keras
import numpy as np
import pytest

from kclass import experiment, model_builder, models


def test_unknown_precision_is_refused(tmp_path):
    with pytest.raises(Exception, match="precision 'fp8'"):
        model_builder.build_model(experiment.Experiment(model="ResNet18_vd", num_classes=2, image_size=16,
                                                        precision="fp8"))


def _weights(model):
    return [keras.ops.convert_to_numpy(v) for v in model.variables]


def test_seeded_build_leaves_global_state_alone_and_repeats_its_weights():
    exp = experiment.Experiment(model="MobileNetV3_small_x0_35", num_classes=3, image_size=16, seed=21)
    keras.utils.set_random_seed(21)
    reference = models.build(exp.model, num_classes=3, input_shape=(16, 16, 3))  # how build_model seeded before
    random.seed(5)
    np.random.seed(5)
    python_state, numpy_state = random.getstate(), np.random.get_state()
    first, second = model_builder.build_model(exp), model_builder.build_model(exp)
    assert random.getstate() == python_state
    assert all(np.array_equal(a, b) for a, b in zip(np.random.get_state(), numpy_state))
    assert keras.config.dtype_policy().name == "float32"
    for ours, again, theirs in zip(_weights(first), _weights(second), _weights(reference)):
        assert ours.tobytes() == again.tobytes() == theirs.tobytes()


def test_mixed_bfloat16_recipe_computes_in_bfloat16_without_setting_the_global_policy(monkeypatch):
    swaps = []
    monkeypatch.setattr(keras.config, "set_dtype_policy", swaps.append)
    exp = experiment.Experiment(model="ResNet18_vd", num_classes=3, image_size=16, precision="mixed_bfloat16")
    model = model_builder.build_model(exp)
    assert swaps == [] and keras.config.dtype_policy().name == "float32"
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert convs and all(layer.compute_dtype == "bfloat16" for layer in convs)
    assert all(layer.variable_dtype == "float32" for layer in model.layers[1:])
    images = np.random.default_rng(0).uniform(size=(2, 16, 16, 3)).astype("float32")
    conv = keras.Model(model.input, model.get_layer("bb_3_1_conv1_conv").output)
    assert conv(images).dtype == "bfloat16"
    assert model(images).dtype == "float32"  # the classifier stays float32
