"""Which variables PaddleClas exempts from L2 weight decay, per model family.

PaddleClas sets `regularizer=L2Decay(0.0)` on MobileNetV3's BatchNorm scale and offset; ResNet_vd
decays every parameter, BN and biases included. The rule is the registered model's
`ModelSpec.no_decay`; a model kclass did not register decays everything. Nested models (a
distiller's teacher and student) are each judged by their own spec. `l2_exclude_fn(model)` is the
predicate the optimizer takes (`kclass.optim.build_optimizer(..., l2_exclude=...)`).
"""

import keras

from kclass.models.registry import spec_of


def _policy(model):
    spec = spec_of(model)
    return spec.no_decay if spec else None


def no_decay_variables(model: keras.Model) -> list:
    """Trainable variables of `model` that the optimizer must not decay (possibly empty).

    The engine applies L2/weight decay to `model.trainable_variables` minus this list.
    """
    found = []
    seen = set()

    def visit(m):
        exempt_bn = _policy(m) == "batch_norm"
        for layer in m.layers:
            if isinstance(layer, keras.Model):
                visit(layer)
            elif exempt_bn and isinstance(layer, keras.layers.BatchNormalization):
                for v in (layer.gamma, layer.beta):
                    if v is not None and v.trainable and id(v) not in seen:
                        seen.add(id(v))
                        found.append(v)

    visit(model)
    return found


def decayed_variables(model: keras.Model) -> list:
    """`model.trainable_variables` minus `no_decay_variables(model)`, in model order."""
    skip = {id(v) for v in no_decay_variables(model)}
    return [v for v in model.trainable_variables if id(v) not in skip]


def l2_exclude_fn(model: keras.Model):
    """Predicate `var -> bool` for `no_decay_variables(model)`, the form kclass.optim takes.

    Matches by variable path (`blocks_0_expand_conv_bn/gamma`), which distribution wrappers keep.
    """
    paths = frozenset(v.path for v in no_decay_variables(model))
    return lambda variable: getattr(variable, "path", None) in paths
