import json
import os
import subprocess
import sys

from kclass.cli import REPO_ROOT


def test_train_image_parts_reports_each_stage_and_the_whole_costs_most(demo_data):
    script = os.path.join(REPO_ROOT, "tools", "bench", "train_image_parts.py")
    out = subprocess.run([sys.executable, script, "--data", str(demo_data), "--images", "120", "--size", "16"],
                         capture_output=True, text=True, timeout=300, check=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["images"] == 120
    read, whole = result["read_file"], result["train_image (read, decode, crop, resize, flip)"]
    assert 0 < read < whole  # the whole transform reads the file and does more
    cached, cropped = result["decoded image from the cache"], result["cache + train_crop_from_bits (crop, resize, flip)"]
    assert 0 < cached < cropped
