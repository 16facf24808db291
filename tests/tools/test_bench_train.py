import json
import subprocess
import sys

import pytest

from kclass.cli import REPO_ROOT


def bench(*args):
    done = subprocess.run([sys.executable, "tools/bench/train.py", "--model", "MobileNetV3_small_x0_35", "--batch", "4",
                           "--image_size", "16", "--num_classes", "5", "--steps", "2", "--repeats", "1", "--json", *args],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("precision,dtype", [("fp32", "float32"), ("mixed_bfloat16", "bfloat16")])
def test_train_bench_builds_the_model_in_the_precision_it_reports(precision, dtype):
    report = bench("--precision", precision)
    assert report["precision"] == precision
    assert list(report["conv_compute_dtypes"]) == [dtype]  # every conv layer, not some
    assert report["conv_compute_dtypes"][dtype] > 10
    assert report["images_per_s"] > 0
    assert isinstance(report["voluntary_switches_per_step"], int) and report["voluntary_switches_per_step"] >= 0
