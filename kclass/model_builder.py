"""A recipe's network: built in its precision from its seed, with its weights loaded.

What training, evaluation, threshold fitting and export all start from; `kclass.tasks` adds what
training alone builds (a distiller's frozen teacher).
"""

from kclass import models
from kclass.errors import ConfigError

PRECISIONS = ("fp32", "float64", "mixed_bfloat16", "mixed_float16")


def build_model(exp, load_pretrained: bool = True, seed=None):
    """The recipe's (`kclass.experiment.Experiment`) Keras model, with `exp.pretrained` loaded when set
    (call inside strategy.scope()).

    Initial weights are drawn from `exp.seed` (PaddleClas seeds its framework RNG too), so every
    worker, and every re-run, starts from the same weights: those `keras.utils.set_random_seed(exp.seed)`
    + a build gave, with no global RNG reseeded. `seed`: a `kclass.models.Seeds` to draw from instead
    (one stream for two networks, as a distiller's student and teacher).
    """
    model = build_network(exp, exp.model, exp.sync_bn, exp.model_kwargs, exp.seed if seed is None else seed)
    if load_pretrained and exp.pretrained:
        load_weights(model, exp.pretrained, finetune=True)  # another class count: a fresh classifier
    return model


def build_network(exp, name, sync_bn, kwargs, seed=None):
    """Registry model `name` for the recipe's classes, image size and precision (its layers' dtype
    policy; Keras's global one is left as it is); `seed` as `models.build` takes it; no weights."""
    if exp.precision not in PRECISIONS:
        raise ConfigError(f"precision {exp.precision!r}: expected one of {', '.join(PRECISIONS)}")
    return models.build(name, num_classes=exp.num_classes, input_shape=(exp.image_size, exp.image_size, 3),
                        sync_bn=sync_bn, seed=seed, dtype=dtype_policy(exp.precision), **kwargs)


def dtype_policy(precision: str) -> str:
    """The Keras dtype policy name of a recipe's `precision` (one of PRECISIONS)."""
    return "float32" if precision == "fp32" else precision


def load_weights(model, path, finetune=False):
    """Any weights kclass loads; a distillation run's checkpoint gives its student.

    A classifier of another class count is refused unless `finetune` (PRETRAINED), which skips it.
    """
    from kclass import weights  # imported late: TF-free CLIs stay fast to start
    from kclass.models.distiller import restore_student
    if path and restore_student(model, path):
        return
    weights.load_weights(model, path, finetune=finetune)


def model_with_weights(exp, weights, strategy):
    """The recipe's model built in `strategy.scope()` with `weights` loaded when given (no PRETRAINED)."""
    with strategy.scope():
        model = build_model(exp, load_pretrained=False)
        if weights:
            load_weights(model, weights)
    return model
