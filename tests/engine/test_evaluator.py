"""The evaluator: metrics over a padded eval set, on the model or on its BN-folded copy."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kclass import experiment, tasks
from kclass.data import lists, pipeline
from kclass.data.pipeline import DataConfig
from kclass.engine.evaluator import Evaluator
from tests.engine.test_trainer import small_cnn


def test_folded_evaluation_follows_the_model_between_calls(demo_data):
    model = small_cnn(synchronized=False)
    strategy = tf.distribute.get_strategy()
    task = tasks.for_experiment(experiment.Experiment(num_classes=6))
    samples = lists.read_list(f"{demo_data}/val_list.txt", None, num_classes=6)
    data = lambda ctx: pipeline.eval_dataset(DataConfig(), samples, 16, 16, ctx)  # noqa: E731
    plain, folded = Evaluator(model, task, strategy), Evaluator(model, task, strategy, fold=True)
    results = []
    for round_ in range(2):
        if round_:  # what training does to the weights and the BN statistics between two evals
            rng = np.random.default_rng(0)
            model.set_weights([w + rng.normal(0, 0.3, w.shape).astype(np.float32) if w.ndim > 1
                               else rng.uniform(0.5, 2.0, w.shape).astype(np.float32)  # BN: variance > 0
                               for w in model.get_weights()])
        a, b = plain(data), folded(data)
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-4) and b["top1"] == a["top1"]
        results.append(a["loss"])
    assert abs(results[1] - results[0]) > 1e-3  # the second eval saw the new weights
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in folded._net.layers)
