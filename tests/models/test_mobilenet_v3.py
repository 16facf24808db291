"""MobileNetV3 details that differ from Keras's own and from the paper, as PaddleClas has them."""

import keras
import numpy as np
import pytest

import kclass.models as km
from kclass.models.mobilenet_v3 import DownscaleInInferDropout, make_divisible, paddle_hard_sigmoid


@pytest.fixture(scope="module")
def large():
    return km.build("MobileNetV3_large_x1_0", num_classes=10, input_shape=(32, 32, 3))


def test_make_divisible_like_paddle():
    assert [make_divisible(v) for v in (16 * 0.35, 72 * 0.35, 960 * 0.35, 88 * 0.75, 3)] == [8, 24, 336, 64, 8]
    assert make_divisible(0.35 * 40) == 16  # 14 rounds to 16: never below 90% of the value


def test_hard_sigmoid_is_paddles_not_keras():
    x = np.array([-3.0, -2.5, 0.0, 1.0, 2.5, 3.0], "float32")
    np.testing.assert_allclose(paddle_hard_sigmoid(x), np.clip(0.2 * x + 0.5, 0, 1), atol=1e-7)
    assert float(paddle_hard_sigmoid(np.float32(1.0))) != pytest.approx(float(keras.activations.hard_sigmoid(1.0)))


def test_every_block_has_an_expand_conv_and_head_is_1280_without_bias(large):
    names = {layer.name for layer in large.layers}
    assert all(f"blocks_{i}_expand_conv_conv" in names for i in range(15))
    assert large.get_layer("blocks_0_expand_conv_conv").kernel.shape == (1, 1, 16, 16)
    last = large.get_layer("last_conv")
    assert last.kernel.shape == (1, 1, 960, 1280) and not last.use_bias
    # The 1280-d head is not scaled with the width.
    small = km.build("MobileNetV3_small_x0_35", num_classes=10, input_shape=(32, 32, 3))
    assert small.get_layer("last_conv").kernel.shape == (1, 1, 200, 1280)  # make_divisible(0.35 * 576)


def test_se_squeeze_is_floor_quarter_without_rounding():
    # x0_35, block 3: mid = make_divisible(0.35 * 72) = 24 -> SE squeeze 24 // 4 = 6 (not 8).
    model = km.build("MobileNetV3_large_x0_35", num_classes=10, input_shape=(32, 32, 3))
    assert model.get_layer("blocks_3_mid_se_conv1").filters == 6


def test_depthwise_kernels_start_with_paddles_std_over_all_input_channels(large):
    # Paddle's default conv init: Normal(0, sqrt(2 / (k * k * in_channels))), the groups not counted.
    # A per-group He init (sqrt(2 / (k * k))) starts these kernels 4-31x larger.
    for layer in large.layers:
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            kernel = layer.kernel.numpy()
            k, channels = kernel.shape[0], kernel.shape[2]
            assert kernel.std() == pytest.approx(np.sqrt(2.0 / (k * k * channels)), rel=0.2), layer.name


def test_stride2_convs_pad_symmetrically(large):
    assert large.get_layer("conv_conv_pad").padding == ((1, 1), (1, 1))
    assert large.get_layer("blocks_12_bottleneck_conv_conv_pad").padding == ((2, 2), (2, 2))
    assert large.get_layer("blocks_12_bottleneck_conv_conv").padding == "valid"


def test_dropout_downscales_in_inference_only():
    layer = DownscaleInInferDropout(0.2, seed=3)
    x = np.ones((64, 1280), "float32")
    np.testing.assert_allclose(layer(x, training=False), 0.8 * x)
    y = np.asarray(layer(x, training=True))
    assert set(np.unique(y)) <= {0.0, 1.0}  # kept units are not rescaled at training time
    assert 0.15 < (y == 0).mean() < 0.25
    clone = DownscaleInInferDropout.from_config(layer.get_config())
    assert clone.rate == 0.2


def test_model_config_round_trips(large):
    clone = keras.Model.from_config(large.get_config())
    # The L2 exemptions come from the registered spec, found by name: a restored model keeps them.
    assert len(km.no_decay_variables(clone)) == len(km.no_decay_variables(large)) == 2 * 47
    x = np.random.default_rng(0).standard_normal((1, 32, 32, 3)).astype("float32")
    clone.set_weights(large.get_weights())
    np.testing.assert_allclose(clone(x), large(x), atol=1e-6)


def test_no_weight_decay_on_mv3_bn_only(large):
    bn = [layer for layer in large.layers if isinstance(layer, keras.layers.BatchNormalization)]
    exempt = km.no_decay_variables(large)
    assert {v.path for v in exempt} == {v.path for b in bn for v in (b.gamma, b.beta)}
    assert len(km.decayed_variables(large)) == len(large.trainable_variables) - len(exempt)
    exclude = km.l2_exclude_fn(large)
    assert exclude(bn[0].gamma) and not exclude(large.get_layer("fc").kernel)
    resnet = km.build("ResNet18_vd", num_classes=10, input_shape=(32, 32, 3))
    assert km.no_decay_variables(resnet) == []
    # A wrapper holding both (as SSLD does) exempts the student's BN only.
    image = keras.Input((32, 32, 3))
    both = keras.Model(image, [resnet(image), large(image)])
    assert {v.path for v in km.no_decay_variables(both)} == {v.path for v in exempt}
