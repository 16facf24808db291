"""A recipe's network: built under its precision from its seed, with its weights loaded.

What training, evaluation, threshold fitting and export all start from; `kclass.tasks` adds what
training alone builds (a distiller's frozen teacher).
"""

import keras

from kclass import models
from kclass.errors import ConfigError

PRECISIONS = ("fp32", "float64", "mixed_bfloat16", "mixed_float16")


def build_model(exp, load_pretrained: bool = True):
    """The recipe's (`kclass.experiment.Experiment`) Keras model, with `exp.pretrained` loaded when set
    (call inside strategy.scope()).

    Initial weights are drawn from `exp.seed` (PaddleClas seeds its framework RNG too), so every
    worker, and every re-run, starts from the same weights.
    """
    keras.utils.set_random_seed(exp.seed)
    model = build_network(exp, exp.model, exp.sync_bn, exp.model_kwargs)
    if load_pretrained and exp.pretrained:
        load_weights(model, exp.pretrained, finetune=True)  # another class count: a fresh classifier
    return model


def build_network(exp, name, sync_bn, kwargs):
    """Registry model `name` for the recipe's classes, image size and precision; no seeding, no weights."""
    if exp.precision not in PRECISIONS:
        raise ConfigError(f"precision {exp.precision!r}: expected one of {', '.join(PRECISIONS)}")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32" if exp.precision == "fp32" else exp.precision)
    try:  # layers capture the policy when built; the global one is restored for whoever runs next
        return models.build(name, num_classes=exp.num_classes, input_shape=(exp.image_size, exp.image_size, 3),
                            sync_bn=sync_bn, **kwargs)
    finally:
        keras.config.set_dtype_policy(previous)


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
