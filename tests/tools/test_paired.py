import json
import os
import subprocess
import sys

import pytest

from kclass.cli import REPO_ROOT
from tests.paddle_venv import require_paddle_python


@pytest.mark.slow
def test_both_engines_start_from_the_same_weights_on_the_same_batches(demo_data, tmp_path):
    venv = os.path.dirname(os.path.dirname(require_paddle_python()))
    done = subprocess.run([sys.executable, "tools/fidelity/paired.py", "--data", demo_data, "--num_classes", "6",
                           "--image_size", "16", "--model", "ResNet18_vd", "--seeds", "3", "--batch", "16",
                           "--steps", "3", "--out", str(tmp_path)], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=900, env={**os.environ, "KCLASS_PADDLE_VENV": venv})
    assert done.returncode == 0, done.stderr[-3000:]
    losses = json.loads(done.stdout.strip().splitlines()[-1])["losses"]
    kclass, paddle = losses["kclass"]["3"], losses["paddle"]["3"]
    assert len(kclass) == len(paddle) == 3
    # Same weights, same batch, nothing updated yet: the first losses are one forward apart.
    assert kclass[0] == pytest.approx(paddle[0], rel=1e-4)
    assert kclass == pytest.approx(paddle, rel=0.05)  # three steps: still the same trajectory
