"""Inference copy of a model with every conv -> BatchNormalization pair folded into the conv.

At inference BN is y = a * x + b per channel (a = gamma / sqrt(var + eps), b = beta - mean * a), so
kernel * a and bias * a + b give the same outputs with one op fewer per conv. Grappler folds BN into
oneDNN's native convs by itself, but not into kclass's matmul convs (pointwise and tiny-map), where the
unfolded BNs were ~38% of MobileNetV3's eval op time at 32x32 (`tools/bench/ops.py`-style profile).
"""

import keras
import numpy as np
from keras.src.models.functional import Functional  # Keras 3 exports no public name for it

_CONVS = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)


@keras.saving.register_keras_serializable(package="kclass")
class FoldedBatchNorm(keras.layers.Layer):
    """Where a BN was: passes its input on (the conv before it carries the affine map)."""

    def call(self, inputs, training=None, mask=None):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape


def _producer(tensor):
    return tensor._keras_history.operation


def foldable_pairs(model):
    """{bn layer name: conv layer}: BNs (not synchronized, scale/center on, last axis) fed by a conv
    without activation whose output nothing else reads."""
    readers = {}
    for layer in model.layers:
        for node in layer._inbound_nodes:
            for tensor in node.input_tensors:
                readers.setdefault(id(_producer(tensor)), []).append(layer)
    for tensor in model.outputs:
        readers.setdefault(id(_producer(tensor)), []).append(None)
    pairs = {}
    for layer in model.layers:
        if not isinstance(layer, keras.layers.BatchNormalization) or len(layer._inbound_nodes) != 1:
            continue
        conv = _producer(layer._inbound_nodes[0].input_tensors[0])
        if (isinstance(conv, _CONVS) and len(readers.get(id(conv), [])) == 1 and len(conv._inbound_nodes) == 1
                and conv.activation in (None, keras.activations.linear) and layer.scale and layer.center
                and not getattr(layer, "synchronized", False) and layer.axis in (-1, [-1], [3], 3)
                and conv.data_format == "channels_last"):
            pairs[layer.name] = conv
    return pairs


def fold_batch_norms(model):
    """A new functional model computing `model(x, training=False)` with BNs folded into their convs; the
    original is untouched. Models that are not functional are returned as they are."""
    if not isinstance(model, Functional):
        return model
    pairs = foldable_pairs(model)
    if not pairs:
        return model
    convs = {conv.name: name for name, conv in pairs.items()}

    def clone(layer):
        config = layer.get_config()
        if layer.name in pairs:  # the BN's policy: a float32 one would round a float64 model's activations
            return FoldedBatchNorm(name=layer.name, dtype=layer.dtype_policy)
        if layer.name in convs:
            config["use_bias"] = True
        return layer.__class__.from_config(config)

    folded = keras.models.clone_model(model, clone_function=clone)
    refold(model, folded)
    return folded


def refold(model, folded):
    """Sets `folded` (a `fold_batch_norms(model)`) to `model`'s current weights, BNs folded again: an
    evaluation during training reuses one folded copy (and its traced function) instead of a new one."""
    if folded is model:
        return
    convs = {conv.name: name for name, conv in foldable_pairs(model).items()}
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization) and layer.name in convs.values():
            continue
        if not layer.weights:  # (the clone may rename the input layer)
            continue
        target = folded.get_layer(layer.name)
        if layer.name not in convs:
            target.set_weights(layer.get_weights())
            continue
        bn = model.get_layer(convs[layer.name])
        gamma, beta, mean, var = (np.asarray(w, np.float64) for w in bn.get_weights())
        scale = gamma / np.sqrt(var + bn.epsilon)
        kernel = np.asarray(layer.kernel, np.float64)
        # Conv kernels end in C_out; depthwise kernels are [k, k, C, 1] with the channel third.
        kernel = kernel * (scale[:, None] if isinstance(layer, keras.layers.DepthwiseConv2D) else scale)
        bias = np.asarray(layer.bias, np.float64) if layer.use_bias else 0.0
        dtype = keras.backend.standardize_dtype(target.kernel.dtype)  # float64 models keep float64 folds
        target.set_weights([kernel.astype(dtype), (bias * scale + beta - mean * scale).astype(dtype)])
