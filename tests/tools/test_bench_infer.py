import json
import subprocess
import sys

import pytest

from kclass.cli import REPO_ROOT


@pytest.mark.slow
def test_infer_bench_reports_every_engine():
    done = subprocess.run([sys.executable, "tools/bench/infer.py", "--models", "ResNet18_vd", "--image_size", "16",
                           "--num_classes", "6", "--batch", "2", "--repeats", "1", "--latency_calls", "2", "--json"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    engines = report["models"]["ResNet18_vd"]
    assert set(engines) == {"keras", "saved_model_float", "saved_model_encoded", "onnxruntime"}
    assert all(e["batch_images_per_s"] > 0 and e["batch1_ms"] > 0 for e in engines.values())
    assert engines["onnxruntime"]["max_diff_vs_tf"] <= 1e-4
