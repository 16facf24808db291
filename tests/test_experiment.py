"""Recipe wiring: precision policies and what the model/optimizer get from an Experiment."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kclass import experiment, optim
from kclass.data import pipeline
from kclass.data.pipeline import DataConfig


@pytest.mark.parametrize("precision", ["fp32", "mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_policy_is_applied_and_training_learns(demo_data, tmp_path, precision):
    exp = experiment.Experiment(model="ResNet18_vd", num_classes=6, image_size=16, batch_size=16, epochs=1,
                                seed=0, model_dir=str(tmp_path), precision=precision, verbose=False,
                                train_data=DataConfig(source=f"{demo_data}/train_list.txt", scale=(1, 1)),
                                optimizer=optim.OptimizerConfig(lr=0.01, schedule="constant"))
    strategy = tf.distribute.get_strategy()
    trainer = experiment.make_trainer(exp, strategy, steps_per_epoch=100)
    model = trainer.model
    compute = "float32" if precision == "fp32" else precision.split("_")[1]
    assert model.get_layer("conv1_1_conv").compute_dtype == compute
    assert model.get_layer("fc").compute_dtype == "float32"
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored
    if precision == "mixed_float16":
        assert isinstance(trainer.optimizer, keras.optimizers.LossScaleOptimizer)
    samples = experiment.read_split(exp, exp.train_data)
    batch = next(iter(pipeline.train_dataset(exp.train_data, samples, 16, 16, 6, 0)))
    iterator = iter(tf.data.Dataset.from_tensors(batch).repeat())  # one batch: the loss must fall
    train = trainer._build_train_fn()
    losses = [float(s["loss"]) / float(s["count"]) for s in (train(iterator, tf.constant(6, tf.int64))
                                                            for _ in range(4))]
    assert np.isfinite(losses).all() and losses[-1] < losses[0], losses


def test_unknown_precision_is_refused(tmp_path):
    with pytest.raises(Exception, match="precision 'fp8'"):
        experiment.build_model(experiment.Experiment(model="ResNet18_vd", num_classes=2, image_size=16,
                                                     precision="fp8"))
