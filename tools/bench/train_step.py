"""kclass's real training step on random in-memory data, shared by `train.py` and `ops.py`."""

import tempfile


def build(model, batch, image_size, num_classes, steps, precision="fp32"):
    """(train_fn, iterator, steps_tensor): `train_fn(iterator, steps_tensor)` runs `steps` engine steps.

    The engine's compiled loop with the recipe's Momentum + L2 + CE; images N(0, 1) [batch, size, size, 3].
    """
    import keras
    import tensorflow as tf

    from kclass import experiment, optim

    if precision != "fp32":
        keras.mixed_precision.set_global_policy(precision)
    exp = experiment.Experiment(model=model, num_classes=num_classes, image_size=image_size,
                                batch_size=batch, epochs=1000, model_dir=tempfile.mkdtemp(prefix="kclass-bench-"),
                                optimizer=optim.OptimizerConfig(lr=0.01, l2=1e-4), verbose=False,
                                steps_per_loop=steps)
    trainer = experiment.make_trainer(exp, tf.distribute.get_strategy(), steps_per_epoch=1000)
    rng = tf.random.Generator.from_seed(0)
    images = rng.normal([batch, image_size, image_size, 3])
    labels = rng.uniform([batch], 0, num_classes, dtype=tf.int64)
    iterator = iter(tf.data.Dataset.from_tensors((images, labels)).repeat())
    return trainer._build_train_fn(), iterator, tf.constant(steps, tf.int64)
