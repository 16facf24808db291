import json
import math
import os
import subprocess
import sys

import pytest

from kclass.cli import REPO_ROOT


@pytest.mark.slow
def test_teacher_then_students_give_a_table_and_a_gain(demo_data, tmp_path):
    # Small models keep it short; the phases are the script's, the teacher of the first is reused.
    common = ["--data", demo_data, "--val_list", "val_list.txt", "--num_classes", "6", "--image_size", "16",
              "--teacher", "ResNet18_vd", "--student", "MobileNetV3_small_x0_35", "--teacher_epochs", "1",
              "--batch", "32", "--out", str(tmp_path)]
    run = lambda *extra: subprocess.run([sys.executable, "tools/fidelity/ssld_gain.py", *common, *extra],
                                        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    early = run("--phase", "students")
    assert early.returncode != 0 and "--phase teacher first" in early.stderr
    assert run("--phase", "teacher").returncode == 0
    done = run("--phase", "students", "--epochs", "1", "--seeds", "1")
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert 0 <= result["teacher"]["top1"] <= 1
    assert set(result["summary"]) == {"alone", "distilled"}
    assert all(result["summary"][kind]["1"]["n"] == 1 for kind in ("alone", "distilled"))
    assert math.isfinite(result["gain_points"]["1"])
    assert "| 1 |" in done.stdout
    assert "kclass seed 42:" not in done.stderr  # the teacher (seed 42) was kept, not trained again
    # The distilled student learnt from path-only lines, with the teacher (its `agree` metric).
    with open(tmp_path / "unlabeled_list.txt") as f:
        lines = f.read().split("\n")[:-1]
    assert len(lines) == 6 * 24 and all(len(line.split()) == 1 for line in lines)
    with open(os.path.join(tmp_path, "distilled_1ep", "kclass_seed1", "history.jsonl")) as f:
        assert "agree" in json.loads(f.readline())["train"]
