"""Model registry: PaddleClas names -> Keras model factories and what kclass knows about each.

As timm's `@register_model` with its `default_cfgs`: every model is registered with a `ModelSpec`
(its family, which fixes its Paddle weight names, and PaddleClas's L2-decay exemption for it). A
built model keeps its registered name, so `spec_of(model)` finds the spec again, also for a model
restored from a Keras config (whose Python attributes are gone).
"""

import dataclasses
import difflib
from typing import Callable, Dict, Optional

import keras

from kclass.errors import ConfigError

FAMILIES = (None, "resnet_vd", "mobilenet_v3")
NO_DECAY_RULES = (None, "batch_norm")


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """One registered model: `factory(num_classes=..., input_shape=..., seed=..., dtype=..., **kw)` -> keras.Model."""
    name: str
    factory: Callable[..., keras.Model]
    family: Optional[str] = None  # how its layers map to PaddleClas names (None: no Paddle weights)
    no_decay: Optional[str] = None  # 'batch_norm': PaddleClas gives BN scale/offset L2Decay(0.0)


_SPECS: Dict[str, ModelSpec] = {}


def register_model(factory: Callable[..., keras.Model], family: Optional[str] = None,
                   no_decay: Optional[str] = None) -> Callable[..., keras.Model]:
    """Registers `factory` under its own name; the models it builds must carry that name."""
    if factory.__name__ in _SPECS:
        raise ValueError(f"model {factory.__name__!r} registered twice")
    if family not in FAMILIES or no_decay not in NO_DECAY_RULES:
        raise ValueError(f"model {factory.__name__!r}: family {family!r} / no_decay {no_decay!r} unknown")
    _SPECS[factory.__name__] = ModelSpec(factory.__name__, factory, family, no_decay)
    return factory


def list_models() -> list:
    return sorted(_SPECS)


def check_name(name: str) -> None:
    """ConfigError naming the closest registered names when `name` is not one (a typo in a recipe)."""
    if name not in _SPECS:
        close = difflib.get_close_matches(str(name), list(_SPECS), n=3, cutoff=0.4)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(list_models())}"
        raise ConfigError(f"unknown model {name!r}{hint}")


def spec(name: str) -> ModelSpec:
    check_name(name)
    return _SPECS[name]


def spec_of(model: keras.Model) -> Optional[ModelSpec]:
    """The spec of a model `build` made (or restored from its config); None for any other model."""
    return _SPECS.get(model.name)


def build(name: str, num_classes: int = 1000, input_shape=(224, 224, 3), seed=None, dtype=None,
          **kwargs) -> keras.Model:
    """Builds the registered model `name` with a `num_classes`-way classifier.

    `seed` (int, or a `kclass.models.seeds.Seeds` to continue) seeds every random initializer and layer:
    the weights are those `keras.utils.set_random_seed(seed)` + a build without one gives, and Python's,
    NumPy's and TF's global RNGs are left alone. None draws from Python's global `random` (Keras's
    default). `dtype`: the layers' Keras dtype policy ("float32", "float64", "mixed_bfloat16",
    "mixed_float16"); None takes the global one.
    """
    model = spec(name).factory(num_classes=num_classes, input_shape=tuple(input_shape), seed=seed, dtype=dtype,
                               **kwargs)
    if model.name != name:
        raise ValueError(f"factory {name!r} built a model named {model.name!r}")
    return model
