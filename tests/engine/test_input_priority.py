"""The train pipeline's threads at nice 19: same stream, same run, the caller's priority untouched."""

import json
import os
import sys
import threading

import numpy as np
import pytest
import tensorflow as tf

from kclass import experiment, optim
from kclass.data.pipeline import DataConfig
from kclass.engine import input_priority

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")


def _threads():
    return set(os.listdir("/proc/self/task"))


def _nice(tid):
    with open(f"/proc/self/task/{tid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[16])  # field 19 of proc(5), counted after the name


def _busy_dataset():
    return tf.data.Dataset.range(400).map(lambda i: tf.reduce_sum(tf.random.stateless_uniform([64], [i, i])),
                                          num_parallel_calls=2)


@linux_only
def test_the_private_pool_runs_at_nice_19_and_the_caller_keeps_its_priority():
    list(_busy_dataset().take(2))  # threads TF starts on first use are not the iterator's
    caller = _nice(threading.get_native_id())
    before = _threads()
    iterator = input_priority.low_priority_iter(input_priority.with_private_threads(_busy_dataset(), threads=2))
    new = _threads() - before
    assert len(new) >= 2, new  # the pool's two threads, created with the iterator
    assert {_nice(t) for t in new} == {input_priority.LOWEST_PRIORITY}
    assert _nice(threading.get_native_id()) == caller
    plain = [float(x) for x in iter(_busy_dataset())]
    assert [float(x) for x in iterator] == plain


def test_an_error_creating_the_iterator_reaches_the_caller():
    class Broken:
        def __iter__(self):
            raise ValueError("no iterator here")

    with pytest.raises(ValueError, match="no iterator here"):
        input_priority.low_priority_iter(Broken())


@pytest.mark.slow
def test_a_run_at_low_input_priority_equals_a_run_without_it(demo_data, tmp_path):
    runs = {}
    for low in (True, False):
        exp = experiment.Experiment(
            model="ResNet18_vd", num_classes=6, image_size=16, batch_size=16, epochs=2, seed=5, verbose=False,
            model_dir=str(tmp_path / str(low)), low_priority_input=low, steps_per_loop=3,
            train_data=DataConfig(source=f"{demo_data}/train_list.txt"),
            val_data=DataConfig(source=f"{demo_data}/val_list.txt"),
            optimizer=optim.OptimizerConfig(lr=0.05, schedule="constant"))
        experiment.train(exp)
        with open(tmp_path / str(low) / "history.jsonl") as f:
            runs[low] = [json.loads(line) for line in f]
    assert runs[True] == runs[False]
    assert runs[True][-1]["train"]["loss"] != runs[True][0]["train"]["loss"]
    assert np.isfinite(runs[True][-1]["train"]["loss"])
