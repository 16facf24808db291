"""kclass's real training step on random in-memory data, shared by `train.py` and `ops.py`."""

import tempfile


def build(model, batch, image_size, num_classes, steps, precision="fp32"):
    """(train_fn, iterator, steps_tensor, keras_model): `train_fn(iterator, steps_tensor)` runs `steps` steps.

    The engine's compiled loop with the recipe's Momentum + L2 + CE; images N(0, 1) [batch, size, size, 3].
    `precision` goes into the Experiment, as `python -m kclass.train --precision` does: the model is
    built under that dtype policy (a global policy set beforehand would be overridden by it).
    """
    import tensorflow as tf

    from kclass import experiment, optim

    exp = experiment.Experiment(model=model, num_classes=num_classes, image_size=image_size,
                                batch_size=batch, epochs=1000, model_dir=tempfile.mkdtemp(prefix="kclass-bench-"),
                                optimizer=optim.OptimizerConfig(lr=0.01, l2=1e-4), verbose=False,
                                steps_per_loop=steps, precision=precision)
    trainer = experiment.make_trainer(exp, tf.distribute.get_strategy(), steps_per_epoch=1000)
    rng = tf.random.Generator.from_seed(0)
    images = rng.normal([batch, image_size, image_size, 3])
    labels = rng.uniform([batch], 0, num_classes, dtype=tf.int64)
    iterator = iter(tf.data.Dataset.from_tensors((images, labels)).repeat())
    return trainer.train_function(), iterator, tf.constant(steps, tf.int64), trainer.model


def conv_compute_dtypes(model):
    """{compute dtype: number of conv layers} over every (nested) conv layer of `model`."""
    import keras

    counts = {}
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)):  # kclass's subclass them
            counts[layer.compute_dtype] = counts.get(layer.compute_dtype, 0) + 1
    return counts
