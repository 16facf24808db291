"""Nothing lost: NaN stops with the step and keeps the last checkpoint; foreign checkpoints are refused;
a failing save (full disk) is reported and the previous checkpoint stays current."""

import errno
import os

import numpy as np
import pytest
import tensorflow as tf

from kclass import losses, metrics, optim
from kclass.engine import checkpoints
from kclass.engine.task import Task
from kclass.engine.trainer import LoopConfig, Trainer, TrainingDiverged
from kclass.errors import UserError
from tests.engine.test_trainer import small_cnn


def _data(batches=1000, classes=6, poison_after=None):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 16, 16, 3)).astype(np.float32)
    y = rng.integers(0, classes, 8)

    def fn(start, ctx):
        ds = tf.data.Dataset.from_tensors((x, y)).repeat()
        if poison_after is not None:
            # From global step `poison_after` on, images are NaN: the loss becomes NaN.
            ds = ds.enumerate(start).map(lambda i, b: (tf.where(i >= poison_after, np.nan, b[0]), b[1]))
        return ds
    return fn


class _Task(Task):
    def loss(self, labels, logits):
        return losses.softmax_cross_entropy(labels, logits)

    def eval_sums(self, labels, logits, weights):
        return metrics.topk_sums((1,))(labels, logits, weights)


def _trainer(run_dir, classes=6, steps_per_epoch=4, epochs=3):
    strategy = tf.distribute.get_strategy()
    model = small_cnn(num_classes=classes)
    optimizer = optim.Momentum(0.01, l2=1e-4)
    task = _Task()
    loop = LoopConfig(epochs=epochs, steps_per_epoch=steps_per_epoch, global_batch=8, steps_per_loop=2,
                      verbose=False)
    return Trainer(model, optimizer, task, strategy, str(run_dir), loop)


def test_nan_loss_stops_with_the_step_and_keeps_the_last_checkpoint(tmp_path):
    trainer = _trainer(tmp_path)
    with pytest.raises(TrainingDiverged, match=r"loss is nan at step 6;.*ckpt-4 is kept"):
        trainer.fit(_data(poison_after=5))
    assert trainer.store.latest.endswith("ckpt-4")


def test_nan_loss_before_the_first_checkpoint_says_none_is_kept(tmp_path):
    trainer = _trainer(tmp_path)
    with pytest.raises(TrainingDiverged, match=r"loss is nan at step 2;.*no checkpoint was written yet") as e:
        trainer.fit(_data(poison_after=0))
    assert "None" not in str(e.value) and trainer.store.latest is None


def test_resume_refuses_another_class_count(tmp_path):
    _trainer(tmp_path, classes=6, epochs=1).fit(_data())
    with pytest.raises(UserError, match="cannot resume from this checkpoint"):
        _trainer(tmp_path, classes=5, epochs=2).fit(_data(classes=5))


def test_full_disk_while_saving_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    trainer = _trainer(tmp_path, epochs=1)
    trainer.fit(_data())
    before = trainer.store.latest

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(trainer.store.manager, "save", disk_full)
    with pytest.raises(UserError, match=r"checkpoint at step 9 failed .*No space left.*ckpt-4 is kept"):
        trainer.store.save(9)
    assert trainer.store.latest == before and os.path.exists(before + ".index")


def test_best_model_files_are_replaced_atomically(tmp_path):
    model = small_cnn()
    checkpoints.save_best(model, str(tmp_path), {"metric": "top1", "value": 0.5})
    checkpoints.save_best(model, str(tmp_path), {"metric": "top1", "value": 0.7})
    assert checkpoints.read_best(str(tmp_path))["value"] == 0.7
    assert sorted(os.listdir(tmp_path)) == ["best.json", "model.weights.h5"]  # no temp files left behind
