"""The single-label task: class weights weigh the training loss only."""

import numpy as np
import tensorflow as tf

from kclass import recipe_check, tasks
from kclass.data import lists
from tests.test_recipe_check import _recipe


def test_class_weights_weigh_the_training_loss_only():
    exp = _recipe(num_classes=3, class_weights="balanced")
    recipe_check.check(exp)
    recipe_check.check(_recipe(class_weights=[0.0, 1.0, 2.0, 0.5, 1.0, 3.0]))
    samples = lists.Samples(["x.png"] * 12, np.array([0] * 8 + [1] * 2 + [2] * 2), "t.txt")
    weights = tasks.train_class_weights(exp, samples)
    np.testing.assert_allclose(weights, [12 / (3 * 8), 12 / (3 * 2), 12 / (3 * 2)])
    task = tasks.for_experiment(exp, weights)
    labels, logits = tf.constant([0, 1]), tf.zeros([2, 3])
    np.testing.assert_allclose(task.loss(labels, logits).numpy(), np.log(3) * np.array([0.5, 2.0]), rtol=1e-6)
    np.testing.assert_allclose(task.eval_loss(labels, logits).numpy(), np.log(3) * np.ones(2), rtol=1e-6)
    plain = tasks.for_experiment(exp)  # unweighted: evaluation reports `loss`
    np.testing.assert_array_equal(plain.eval_loss(labels, logits).numpy(), plain.loss(labels, logits).numpy())
    assert tasks.train_class_weights(_recipe(), samples) is None
