import os
import subprocess
import sys

import pytest

from kclass.cli import REPO_ROOT

PROBE = """
import tensorflow as tf
import kclass
tf.matmul(tf.ones([64, 64]), tf.ones([64, 64]))
try:
    print("bfc" if tf.config.experimental.get_memory_info("CPU:0")["peak"] > 0 else "none")
except ValueError:  # TF's default CPU allocator keeps no statistics
    print("default")
"""


@pytest.mark.parametrize("setting,allocator", [(None, "bfc"), ("false", "default")])
def test_importing_kclass_picks_tfs_bfc_cpu_allocator_unless_told_not_to(setting, allocator):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPU_ALLOCATOR_USE_BFC"}
    if setting is not None:
        env["TF_CPU_ALLOCATOR_USE_BFC"] = setting
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == [allocator]
