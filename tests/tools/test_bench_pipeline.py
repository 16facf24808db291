import importlib.util
import json
import os

from kclass.cli import REPO_ROOT


def test_pipeline_bench_reports_every_configuration():
    spec = importlib.util.spec_from_file_location("bench_pipeline", os.path.join(REPO_ROOT, "tools", "bench", "pipeline.py"))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    lines = []
    result = bench.run(images=48, batch=16, batches=2, warmup=1, rounds=2, log=lines.append)
    assert set(result["images_per_s"]) == {"baseline", "mixup_cutout", "autoaugment", "randaugment"}
    assert all(rate > 0 for rate in result["images_per_s"].values())
    assert json.loads(lines[-1]) == result  # the last line is the JSON summary
