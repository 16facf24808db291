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
# Without BFC, TF's default depends on the CPU: Eigen's allocator keeps no statistics ("default"); where
# oneDNN is on by default (AMX / AVX512_BF16 CPUs) its allocator reports a zero peak ("none").


@pytest.mark.parametrize("setting,allocators", [(None, ["bfc"]), ("false", ["default", "none"])])
def test_importing_kclass_picks_tfs_bfc_cpu_allocator_unless_told_not_to(setting, allocators):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPU_ALLOCATOR_USE_BFC"}
    if setting is not None:
        env["TF_CPU_ALLOCATOR_USE_BFC"] = setting
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() in allocators
