"""TF's op pools: one intra-op thread for a small CPU step, set before TF starts, never half-applied."""

import json
import os
import subprocess
import sys

import pytest
import tensorflow as tf

from kclass.cli import REPO_ROOT
from kclass.engine import op_threads


@pytest.mark.parametrize("batch, size, on_gpu, threads", [
    (64, 32, False, 1),   # MobileNetV3's ~20 % case
    (32, 32, False, 1),
    (16, 64, False, 1),   # the same pixels per step
    (128, 32, False, 0),
    (64, 64, False, 0),
    (64, 224, False, 0),
    (8, 32, True, 0),     # on a GPU the pool serves host-side work only
])
def test_auto_picks_one_thread_for_small_cpu_steps_only(batch, size, on_gpu, threads):
    assert op_threads.auto_intra_op_threads(batch, size, on_gpu) == threads


def test_a_running_tf_keeps_its_pools_and_says_so():
    tf.constant(1.0) + 1.0  # TF runs in this process from here on
    current = (tf.config.threading.get_intra_op_parallelism_threads(),
               tf.config.threading.get_inter_op_parallelism_threads())
    assert op_threads.set_op_threads(*current)  # what runs already is no change
    assert not op_threads.set_op_threads(current[0] + 3, current[1] + 5)
    assert (tf.config.threading.get_intra_op_parallelism_threads(),
            tf.config.threading.get_inter_op_parallelism_threads()) == current
    assert "not applied" in op_threads.describe(current[0] + 3, current[1] + 5, False)


_CHILD = """
import json, sys
import tensorflow as tf
from kclass.engine import op_threads
chosen = op_threads.configure(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
tf.reduce_sum(tf.ones([8, 8]))  # TF starts here, with the pools set above
print(json.dumps([chosen, tf.config.threading.get_intra_op_parallelism_threads()]))
"""


@pytest.mark.parametrize("batch, size, replicas, env, expected", [
    (64, 32, 1, {}, 1),
    (256, 32, 4, {}, 1),  # 64 images per replica
    (256, 32, 1, {}, 0),
    (64, 32, 1, {"TF_NUM_INTRAOP_THREADS": "2"}, 0),  # the user's setting wins
])
def test_configure_sets_the_pool_before_tf_starts(batch, size, replicas, env, expected):
    child_env = {k: v for k, v in os.environ.items() if k != "TF_NUM_INTRAOP_THREADS"}
    child_env.update(env, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    done = subprocess.run([sys.executable, "-c", _CHILD, str(batch), str(size), str(replicas)], cwd=REPO_ROOT,
                          env=child_env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    (intra, inter, applied), running = json.loads(done.stdout.strip().splitlines()[-1])
    assert (intra, inter, applied, running) == (expected, 0, True, expected)
