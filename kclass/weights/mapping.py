"""Keras variable <-> PaddleClas parameter name and layout, for ResNet_vd and MobileNetV3.

Each weighted Keras layer maps to one Paddle sublayer under two naming styles:
- "2.6": pip paddleclas 2.6 legendary models (`stem.0.conv.weight`, `blocks.3.conv0.bn._mean`, `fc`);
- "2.1": PaddleClas release/2.1 (`conv1_1._conv.weight`, `bb_0_0.conv0._batch_norm._mean`, `out`).
Layouts: conv [O, I, kh, kw] <-> Keras [kh, kw, I, O]; depthwise [C, 1, kh, kw] <-> [kh, kw, C, 1];
Linear [in, out] as Keras Dense.
"""

import re
from dataclasses import dataclass

import keras
import numpy as np

from kclass.errors import WeightsError
import kclass.models.registry as registry

STYLES = ("2.6", "2.1")

_TO_KERAS = {"conv": (2, 3, 1, 0), "depthwise": (2, 3, 0, 1)}
_TO_PADDLE = {"conv": (3, 2, 0, 1), "depthwise": (2, 3, 0, 1)}


@dataclass
class Slot:
    """One Keras variable and the Paddle tensor that fills it."""
    variable: object
    names: dict          # style -> Paddle structured name
    kind: str            # "conv", "depthwise" or "plain" (Linear weights and vectors)
    classifier: bool

    def paddle_shape(self):
        shape = tuple(self.variable.shape)
        return tuple(shape[i] for i in _TO_PADDLE[self.kind]) if self.kind in _TO_PADDLE else shape


def to_keras(array, kind):
    return array.transpose(_TO_KERAS[kind]) if kind in _TO_KERAS else array


def to_paddle(array, kind):
    return array.transpose(_TO_PADDLE[kind]) if kind in _TO_PADDLE else array


def _resnet_rules(layer_names):
    # pip 2.6 numbers blocks across stages; release/2.1 names them bb_{stage}_{index}.
    pairs = sorted({(int(m[1]), int(m[2])) for m in
                    (re.match(r"bb_(\d+)_(\d+)_", n) for n in layer_names) if m})
    flat = {pair: i for i, pair in enumerate(pairs)}
    sub = {"conv": ("conv", "_conv"), "bn": ("bn", "_batch_norm")}

    def rule(name):
        if m := re.fullmatch(r"conv1_(\d)_(conv|bn)", name):
            new, old = sub[m[2]]
            return f"stem.{int(m[1]) - 1}.{new}", f"conv1_{m[1]}.{old}"
        if m := re.fullmatch(r"bb_(\d+)_(\d+)_(conv\d|short)_(conv|bn)", name):
            new, old = sub[m[4]]
            return (f"blocks.{flat[(int(m[1]), int(m[2]))]}.{m[3]}.{new}",
                    f"bb_{m[1]}_{m[2]}.{m[3]}.{old}")
        if name == "fc":
            return "fc", "out"
        return None
    return rule


def _mv3_rule(name):
    if m := re.fullmatch(r"conv_(conv|bn)", name):
        return f"conv.{m[1]}", f"conv1.{m[1]}"
    if m := re.fullmatch(r"blocks_(\d+)_(expand_conv|bottleneck_conv|linear_conv)_(conv|bn)", name):
        return f"blocks.{m[1]}.{m[2]}.{m[3]}", f"conv{int(m[1]) + 2}.{m[2]}.{m[3]}"
    if m := re.fullmatch(r"blocks_(\d+)_mid_se_(conv[12])", name):
        return f"blocks.{m[1]}.mid_se.{m[2]}", f"conv{int(m[1]) + 2}.mid_se.{m[2]}"
    if m := re.fullmatch(r"last_second_conv_(conv|bn)", name):
        return f"last_second_conv.{m[1]}", f"last_second_conv.{m[1]}"
    if name == "last_conv":
        return "last_conv", "last_conv"
    if name == "fc":
        return "fc", "out"
    return None


def family(model: keras.Model) -> str:
    """The registered family of `model` (its ModelSpec), which fixes its Paddle parameter names."""
    spec = registry.spec_of(model)
    if spec is None or spec.family is None:
        known = [name for name in registry.list_models() if registry.spec(name).family]
        raise WeightsError(f"model {model.name!r} has no PaddleClas counterpart; PaddleClas weights map "
                           f"onto {', '.join(known)}")
    return spec.family


def classifier_layer(model: keras.Model):
    """The classification head: the Dense named `fc`, else the model's last Dense layer."""
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    named = [layer for layer in dense if layer.name == "fc"]
    if named or dense:
        return (named or dense)[-1]
    raise WeightsError(f"model {model.name!r} has no Dense classifier")


def slots(model: keras.Model) -> list:
    """Every Keras variable of `model` with its Paddle names (both styles), in model order."""
    fam = family(model)
    rule = _resnet_rules([layer.name for layer in model.layers]) if fam == "resnet_vd" else _mv3_rule
    head = classifier_layer(model)
    out = []
    for layer in model.layers:
        if not layer.weights:
            continue
        bases = rule(layer.name)
        if bases is None:
            raise WeightsError(f"layer {layer.name!r} of {model.name!r} has no PaddleClas counterpart")
        if isinstance(layer, keras.layers.BatchNormalization):
            parts = [(layer.gamma, "weight", "plain"), (layer.beta, "bias", "plain"),
                     (layer.moving_mean, "_mean", "plain"), (layer.moving_variance, "_variance", "plain")]
        elif isinstance(layer, keras.layers.DepthwiseConv2D):
            parts = [(layer.kernel, "weight", "depthwise")]
        elif isinstance(layer, keras.layers.Conv2D):
            parts = [(layer.kernel, "weight", "conv")]
        elif isinstance(layer, keras.layers.Dense):
            parts = [(layer.kernel, "weight", "plain")]
        else:
            raise WeightsError(f"layer {layer.name!r} ({type(layer).__name__}) cannot take Paddle weights")
        if getattr(layer, "use_bias", False) and not isinstance(layer, keras.layers.BatchNormalization):
            parts.append((layer.bias, "bias", "plain"))
        for variable, suffix, kind in parts:
            names = {style: f"{base}.{suffix}" for style, base in zip(STYLES, bases)}
            out.append(Slot(variable, names, kind, classifier=layer is head))
    return out


def paddle_state_dict(model: keras.Model, style: str = "2.6") -> dict:
    """The model's weights as a PaddleClas state dict {name: ndarray} in Paddle layout."""
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")
    return {s.names[style]: np.ascontiguousarray(to_paddle(np.asarray(s.variable.numpy()), s.kind))
            for s in slots(model)}
