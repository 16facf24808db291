"""A recipe's own mistakes are refused with a line naming the macro and the field."""

import dataclasses

import pytest

from kclass import experiment, optim, recipe_check
from kclass.data.pipeline import DataConfig
from kclass.errors import ConfigError


def _recipe(**changes):
    exp = experiment.Experiment(model="ResNet18_vd", num_classes=6, image_size=32, batch_size=8,
                                train_data=DataConfig(source="t.txt"), val_data=DataConfig(source="v.txt"))
    return dataclasses.replace(exp, **changes)


@pytest.mark.parametrize("changes, message", [
    (dict(optimizer=optim.OptimizerConfig(lr=-1)), "LR (OptimizerConfig.lr) = -1: expected a number > 0"),
    (dict(optimizer=optim.OptimizerConfig(lr=0.0)), "LR (OptimizerConfig.lr) = 0.0: expected a number > 0"),
    (dict(optimizer=optim.OptimizerConfig(lr=float("nan"))), "LR (OptimizerConfig.lr) = nan"),
    (dict(epochs=0), "EPOCHS (Experiment.epochs) = 0: expected a whole number > 0"),
    (dict(epochs=2.5), "EPOCHS (Experiment.epochs) = 2.5: expected a whole number > 0"),
    (dict(batch_size=-16), "BATCH_SIZE (Experiment.batch_size) = -16"),
    (dict(batch_size="16"), "BATCH_SIZE (Experiment.batch_size) = '16'"),
    (dict(eval_batch_size=0), "EVAL_BATCH_SIZE (Experiment.eval_batch_size) = 0: expected a whole number > 0 or None"),
    (dict(image_size=0), "IMAGE_SIZE (Experiment.image_size) = 0"),
    (dict(num_classes=0), "NUM_CLASSES (Experiment.num_classes) = 0"),
    (dict(num_classes=True), "NUM_CLASSES (Experiment.num_classes) = True"),
    (dict(label_smoothing=-0.1), "Experiment.label_smoothing = -0.1: expected a number in [0, 1)"),
    (dict(label_smoothing=1.0), "Experiment.label_smoothing = 1.0"),
    (dict(topk=0), "Experiment.topk = 0"),
    (dict(steps_per_loop=0), "Experiment.steps_per_loop = 0"),
    (dict(keep_checkpoints=0), "Experiment.keep_checkpoints = 0"),
    (dict(checkpoint_every_steps=0), "Experiment.checkpoint_every_steps = 0"),
    (dict(optimizer=optim.OptimizerConfig(momentum=-0.5)), "OptimizerConfig.momentum = -0.5: expected a number in [0, 1)"),
    (dict(optimizer=optim.OptimizerConfig(l2=-1e-4)), "OptimizerConfig.l2 = -0.0001: expected a number >= 0"),
    (dict(optimizer=optim.OptimizerConfig(warmup_epochs=-1)), "OptimizerConfig.warmup_epochs = -1"),
    (dict(optimizer=optim.OptimizerConfig(reference_batch=0)), "OptimizerConfig.reference_batch = 0"),
    (dict(teacher="ResNet18_vd", distill_temperature=0), "Experiment.distill_temperature = 0"),
    (dict(teacher="ResNet18_vd", distill_loss="mse"), "DISTILL_LOSS='mse': expected one of"),
    (dict(hard_label_weight=-1), "HARD_LABEL_WEIGHT (Experiment.hard_label_weight) = -1"),
    (dict(pos_weight=[1.0, 2.0]), "Experiment.pos_weight = [1.0, 2.0]: expected 6 numbers > 0 (one per class)"),
    (dict(class_weights=[1.0, 2.0]), "Experiment.class_weights = [1.0, 2.0]: expected 'balanced' or 6 numbers >= 0"),
    (dict(class_weights=[1, -1, 1, 1, 1, 1]), "Experiment.class_weights = [1, -1, 1, 1, 1, 1]: expected"),
    (dict(class_weights="inverse"), "Experiment.class_weights = 'inverse': expected 'balanced' or 6 numbers"),
    (dict(class_weights="balanced", multilabel=True), "Experiment.class_weights = 'balanced': single-label recipes"),
    (dict(class_weights=[1.0] * 6, teacher="ResNet18_vd"), "Experiment.class_weights = [1.0, 1.0, 1.0, 1.0, 1.0, "
                                                          "1.0]: not with distillation"),
    (dict(train_data=DataConfig(source="t.txt", sampling="oversample")),
     "train/DataConfig.sampling = 'oversample': expected 'uniform' or 'balanced'"),
    (dict(train_data=DataConfig(source="t.txt", sampling="balanced"), multilabel=True),
     "train/DataConfig.sampling = 'balanced': single-label recipes only"),
    (dict(train_data=DataConfig(source="t.txt", sampling="balanced"), teacher="ResNet18_vd"),
     "train/DataConfig.sampling = 'balanced': not with distillation"),
    (dict(val_data=DataConfig(source="v.txt", sampling="balanced")), "val/DataConfig.sampling = 'balanced'"),
    (dict(train_data=DataConfig(source="t.txt", sampling="balanced"), class_weights="balanced"),
     "Experiment.class_weights = 'balanced' with train/DataConfig.sampling = 'balanced' corrects the imbalance twice"),
    (dict(train_data=DataConfig(source="t.txt", scale=(0.0, 1.0))), "train/DataConfig.scale = (0.0, 1.0)"),
    (dict(train_data=DataConfig(source="t.txt", ratio=(2.0, 1.0))), "train/DataConfig.ratio = (2.0, 1.0)"),
    (dict(val_data=DataConfig(source="v.txt", resize_short=-36)), "val/DataConfig.resize_short = -36"),
    (dict(intra_op_threads=-1), "Experiment.intra_op_threads = -1: expected a whole number >= 0"),
    (dict(inter_op_threads=None), "Experiment.inter_op_threads = None: expected a whole number >= 0"),
    (dict(precision="fp8"), "precision 'fp8': expected one of"),
    (dict(num_classes=3, best_metric="top5"), "Experiment.best_metric = 'top5': expected one of top1 ("),
])
def test_check_refuses_impossible_numbers_naming_macro_and_field(changes, message):
    recipe_check.check(_recipe())  # the unchanged recipe passes
    with pytest.raises(ConfigError) as e:
        recipe_check.check(_recipe(**changes))
    assert str(e.value).startswith(message), str(e.value)
