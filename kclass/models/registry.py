"""Model registry: PaddleClas names -> Keras model factories (timm's `@register_model`)."""

import difflib
from typing import Callable, Dict

import keras

from kclass.errors import ConfigError

_MODELS: Dict[str, Callable[..., keras.Model]] = {}


def register_model(fn: Callable[..., keras.Model]) -> Callable[..., keras.Model]:
    """Registers `fn` under its own name; `fn(num_classes=..., input_shape=..., **kw)`."""
    if fn.__name__ in _MODELS:
        raise ValueError(f"model {fn.__name__!r} registered twice")
    _MODELS[fn.__name__] = fn
    return fn


def list_models() -> list:
    return sorted(_MODELS)


def check_name(name: str) -> None:
    """ConfigError naming the closest registered names when `name` is not one (a typo in a recipe)."""
    if name not in _MODELS:
        close = difflib.get_close_matches(str(name), list(_MODELS), n=3, cutoff=0.4)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(list_models())}"
        raise ConfigError(f"unknown model {name!r}{hint}")


def build(name: str, num_classes: int = 1000, input_shape=(224, 224, 3), **kwargs) -> keras.Model:
    """Builds the registered model `name` with a `num_classes`-way classifier."""
    check_name(name)
    return _MODELS[name](num_classes=num_classes, input_shape=tuple(input_shape), **kwargs)
