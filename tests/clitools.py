"""Running the CLIs in subprocesses, as users do, on tiny demo data."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def demo_params(data_root, model_dir, epochs=6, per_class=80, batch=32):
    """--gin_param overrides that shrink demo.gin to a few hundred steps at most."""
    data_root, model_dir = str(data_root), str(model_dir)
    return [f"EPOCHS={epochs}", f"BATCH_SIZE={batch}", f"EVAL_BATCH_SIZE={batch}",
            f"DATA_ROOT={data_root!r}", f"TRAIN_LIST='{data_root}/train_list.txt'",
            f"VAL_LIST='{data_root}/val_list.txt'", f"LABEL_LIST='{data_root}/label_list.txt'",
            f"MODEL_DIR={model_dir!r}", f"make_demo_dataset.train_per_class={per_class}",
            "make_demo_dataset.val_per_class=20"]


def _command(verb, args, gin_params):
    cmd = [sys.executable, "-m", f"kclass.{verb}", *args]
    for p in gin_params:
        cmd += ["--gin_param", p]
    return cmd


def _env():
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=ROOT)


def run(verb, *args, gin_params=(), timeout=600, **popen):
    return subprocess.run(_command(verb, args, gin_params), cwd=ROOT, env=_env(), capture_output=True, text=True,
                          timeout=timeout, **popen)


def start(verb, *args, gin_params=()):
    """The command `run` runs, started in the background with its output discarded (a test kills it)."""
    return subprocess.Popen(_command(verb, args, gin_params), cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def last_json(stdout):
    return json.loads(stdout.strip().splitlines()[-1])
