"""Every registered model builds at 32x32, runs, has PaddleClas's exact parameter counts, and builds
from an explicit seed and dtype policy without touching Keras's, Python's or NumPy's global state."""

import random

import keras
import numpy as np
import pytest

import kclass.models as km

# (trainable, total incl. BN running statistics) for (100, 1000) classes, measured with the real
# PaddleClas (pip paddleclas 2.6.0, paddlepaddle 2.6.2; ppcls legendary_models) at class_num=100/1000.
# ResNet50_vd 100 classes = 23.73M and MobileNetV3_large_x1_0 = 4.33M match PaddleClas's published sizes.
PADDLECLAS_PARAMS = {
    "ResNet18_vd": ((11251268, 11261124), (11712968, 11722824)),
    "ResNet34_vd": ((21359428, 21376708), (21821128, 21838408)),
    "ResNet50_vd": ((23732164, 23785412), (25576264, 25629512)),
    "ResNet101_vd": ((42724292, 42829764), (44568392, 44673864)),
    "ResNet152_vd": ((58367940, 58519492), (60212040, 60363592)),
    "ResNet200_vd": ((72894404, 73088964), (74738504, 74933064)),
    "MobileNetV3_large_x0_35": ((951428, 960020), (2104328, 2112920)),
    "MobileNetV3_large_x0_5": ((1520522, 1532890), (2673422, 2685790)),
    "MobileNetV3_large_x0_75": ((2759348, 2777796), (3912248, 3930696)),
    "MobileNetV3_large_x1_0": ((4327306, 4351738), (5480206, 5504638)),
    "MobileNetV3_large_x1_25": ((6290408, 6321048), (7443308, 7473948)),
    "MobileNetV3_small_x0_35": ((513054, 517326), (1665954, 1670226)),
    "MobileNetV3_small_x0_5": ((749636, 755796), (1902536, 1908696)),
    "MobileNetV3_small_x0_75": ((1222206, 1231438), (2375106, 2384338)),
    "MobileNetV3_small_x1_0": ((1787058, 1799202), (2939958, 2952102)),
    "MobileNetV3_small_x1_25": ((2474470, 2489750), (3627370, 3642650)),
}


def _counts(model):
    return sum(int(np.prod(v.shape)) for v in model.trainable_variables), model.count_params()


def test_every_registered_model_is_checked():
    # Tests may register their own tiny models, named Test*; every product model must be listed here.
    assert sorted(PADDLECLAS_PARAMS) == [m for m in km.list_models() if not m.startswith("Test")]


@pytest.mark.parametrize("name", sorted(PADDLECLAS_PARAMS))
def test_builds_runs_and_counts_like_paddleclas(name):
    model = km.build(name, num_classes=100, input_shape=(32, 32, 3))
    logits = model(np.random.default_rng(0).standard_normal((2, 32, 32, 3)).astype("float32"))
    assert logits.shape == (2, 100) and np.isfinite(np.asarray(logits)).all()
    assert _counts(model) == PADDLECLAS_PARAMS[name][0]
    # Only the classifier depends on the class count: fan_in * C weights + C biases.
    fan_in = model.get_layer("fc").kernel.shape[0]
    trainable, total = PADDLECLAS_PARAMS[name][1]
    extra = 900 * (fan_in + 1)
    assert (trainable - extra, total - extra) == PADDLECLAS_PARAMS[name][0]


@pytest.mark.parametrize("name", sorted(PADDLECLAS_PARAMS))
def test_spec_is_found_from_the_built_model(name):
    spec = km.spec_of(km.build(name, num_classes=10, input_shape=(32, 32, 3)))
    assert spec is km.spec(name)
    family, no_decay = ("resnet_vd", None) if name.startswith("ResNet") else ("mobilenet_v3", "batch_norm")
    assert (spec.family, spec.no_decay) == (family, no_decay)


@pytest.mark.parametrize("name", ["ResNet18_vd", "MobileNetV3_small_x0_35"])
def test_thousand_class_build(name):
    model = km.build(name, num_classes=1000, input_shape=(32, 32, 3))
    assert _counts(model) == PADDLECLAS_PARAMS[name][1]


def test_default_input_is_224():
    model = km.build("MobileNetV3_small_x0_35", num_classes=5)
    assert model.input_shape == (None, 224, 224, 3) and model.output_shape == (None, 5)


POLICIES = ("float32", "float64", "mixed_bfloat16", "mixed_float16")


# Each model with one policy in turn, so both families meet all four without four builds per model.
@pytest.mark.parametrize("name, policy", [(name, POLICIES[i % len(POLICIES)])
                                          for i, name in enumerate(sorted(PADDLECLAS_PARAMS))])
def test_seed_and_dtype_build_what_global_seeding_and_policy_built(name, policy):
    # The reference is how kclass built before: reseed everything, swap the global policy, build unseeded.
    keras.utils.set_random_seed(3)
    keras.config.set_dtype_policy(policy)
    try:
        reference = km.build(name, num_classes=10, input_shape=(32, 32, 3))
    finally:
        keras.config.set_dtype_policy("float32")
    random.seed(99)
    np.random.seed(99)
    python_state, numpy_state = random.getstate(), np.random.get_state()
    model = km.build(name, num_classes=10, input_shape=(32, 32, 3), seed=3, dtype=policy)
    assert random.getstate() == python_state
    assert all(np.array_equal(a, b) for a, b in zip(np.random.get_state(), numpy_state))
    assert keras.config.dtype_policy().name == "float32"
    # Bit for bit, the dropout's seed state included (`variables`, not just `weights`; a seed generator's
    # path is numbered per process, so the weights' paths are compared).
    assert [v.path for v in model.weights] == [v.path for v in reference.weights]
    assert len(model.variables) == len(reference.variables)
    for ours, theirs in zip(model.variables, reference.variables):
        ours, theirs = keras.ops.convert_to_numpy(ours), keras.ops.convert_to_numpy(theirs)
        assert ours.dtype == theirs.dtype and ours.tobytes() == theirs.tobytes()
    assert ([(layer.name, layer.dtype_policy.name) for layer in model.layers[1:]]
            == [(layer.name, layer.dtype_policy.name) for layer in reference.layers[1:]])
    assert model.get_layer("fc").compute_dtype == ("float64" if policy == "float64" else "float32")
