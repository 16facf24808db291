"""README.md runs: every command block is executed, in order, as docs/quick_start.md's are.

Blocks are marked like the tutorial's (`<!-- kclass: run|skip <reason>|serve <ready text> -->`, see
test_quick_start.MARK) and run in the same tiny workspace (recipes rewritten to 32x32 images, batch 8,
one epoch, a 96-image demo set). README's own lines need three more rewrites, each for a reason:
- `pip install ...` runs with `--dry-run --no-index`: a test must not change the Python it runs in nor
  reach the network, so the pinned requirements must already be satisfied, which is what it checks;
- `python -m pytest ... tests` runs with `--collect-only`: running the suite inside itself would recurse;
  collecting imports every test module (.ci/run runs the suite in full);
- a second `kclass.train` of a recipe gets one epoch more than the first, so it trains (here: on two
  CPU devices) instead of finding its run finished.
"""

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from tests.clitools import ROOT
from tests.docs import test_quick_start as quick_start

DOC = os.path.join(ROOT, "README.md")
DEMO_PARAMS = ["make_demo_dataset.train_per_class=16", "make_demo_dataset.val_per_class=4"]
_PYTHON = re.compile(r"(^|&& )python ")
_PIP = re.compile(r"(^|&& )pip install ")


def rewrite(command, trained):
    """`command` as the test runs it; `trained` counts the train commands seen per recipe."""
    recipe = re.search(r"--gin_file (\S+)", command)
    if "kclass.train" in command and recipe:
        trained[recipe.group(1)] = epochs = trained.get(recipe.group(1), 0) + 1
    command = quick_start.rewrite(command)
    if recipe and "kclass.train" in command:
        command = command.replace("--gin_param 'EPOCHS=1'", f"--gin_param 'EPOCHS={epochs}'")
    if recipe and recipe.group(1).endswith("demo.gin"):
        command += "".join(f" --gin_param '{p}'" for p in DEMO_PARAMS)
    if "-m pytest" in command:
        command += " --collect-only -p no:cacheprovider"
    command = _PIP.sub(rf"\g<1>{sys.executable} -m pip install --dry-run --no-index ", command)
    command = _PYTHON.sub(rf"\g<1>{sys.executable} ", command)
    if command.startswith("tensorboard "):
        command = f"{sys.executable} -m tensorboard.main " + command[len("tensorboard "):]
    return command


def _workspace(ws):
    quick_start.make_workspace(ws)  # tiny CIFAR-100 / NUS-WIDE layouts, gin/ and tools/ linked
    for name in ("requirements.txt", "requirements-dev.txt", "pytest.ini", "tests", "docs"):  # docs: tests read it
        os.symlink(os.path.join(ROOT, name), ws / name)


def _serve(command, ready, cwd, env, timeout=180):
    """Starts a server, waits for `ready` on its output, stops it; returns its output."""
    server = subprocess.Popen(["bash", "-c", command], cwd=cwd, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines, deadline = [], time.monotonic() + timeout
    try:
        for line in server.stdout:
            lines.append(line)
            if ready in line or time.monotonic() > deadline:
                break
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    return "".join(lines)


def test_every_readme_block_is_marked_and_every_skip_says_why():
    found = quick_start.blocks(DOC)
    kinds = [kind for kind, _, _ in found]
    assert kinds.count("run") >= 4 and kinds.count("serve") == 1
    assert all(reason for kind, reason, _ in found if kind in ("skip", "serve"))


@pytest.mark.slow
def test_readme_runs(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    _workspace(ws)
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2")
    trained, ran, outputs = {}, 0, []
    for kind, reason, body in quick_start.blocks(DOC):
        if kind == "skip":
            continue
        for command in quick_start.commands(body):
            command = rewrite(command, trained)
            if kind == "serve":
                output = _serve(command, reason, ws, env)
                assert reason in output, f"$ {command}\n{output[-3000:]}"
            else:
                done = subprocess.run(["bash", "-c", command], cwd=ws, env=env, capture_output=True, text=True,
                                      timeout=900)
                assert done.returncode == 0, f"$ {command}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
                output = done.stdout
            outputs.append(output)
            ran += 1
    assert ran == 10
    assert "MirroredStrategy: 2 replica(s) on CPU:0, CPU:1" in outputs[-1]  # the CPU-only line trained
    assert re.search(r"^final: top1 ", outputs[-1], re.M)
    assert list((ws / "serving" / "models" / "demo").glob("*/model.onnx"))
    assert (ws / "output" / "ResNet50_vd_CIFAR100" / "best_model" / "model.weights.h5").is_file()
