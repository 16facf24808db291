"""MultiWorkerMirroredStrategy with 2 worker processes on 127.0.0.1: sync, chief-only writes, restart."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.clitools import ROOT, demo_params

pytestmark = pytest.mark.slow


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _start_cluster(tmp_path, params, ports, tag):
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for index in range(2):
        env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2",
                   TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        cmd = [sys.executable, "-m", "kclass.train", "--gin_file", "gin/quick_start/demo.gin",
               "--strategy", "multi_worker"]
        for p in params:
            cmd += ["--gin_param", p]
        log = open(tmp_path / f"{tag}-worker{index}.log", "w")
        procs.append(subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
    return procs


def _wait(procs, timeout=420):
    deadline = time.time() + timeout
    for p in procs:
        p.wait(timeout=max(1, deadline - time.time()))
    return [p.returncode for p in procs]


def _checksums(tmp_path, tag):
    found = {}
    for index in range(2):
        text = (tmp_path / f"{tag}-worker{index}.log").read_text()
        match = re.search(r"worker (\d) finished at step (\d+), weights checksum ([0-9.]+)", text)
        assert match, text[-3000:]
        found[int(match.group(1))] = (int(match.group(2)), float(match.group(3)))
    return found


def test_two_workers_stay_in_sync_and_survive_a_kill(tmp_path):
    run_dir = tmp_path / "run"
    params = demo_params(tmp_path / "data", run_dir, epochs=2, per_class=32) + [
        "Experiment.checkpoint_every_steps=2", "Experiment.steps_per_loop=1"]
    total = 2 * (6 * 32 // 32)
    from kclass.data.demo import make_demo_dataset
    make_demo_dataset(str(tmp_path / "data"), train_per_class=32, val_per_class=20)  # as demo_params sizes it
    # First run: killed (SIGKILL) on worker 1 once a mid-run checkpoint exists; the chief follows.
    procs = _start_cluster(tmp_path, params, _free_ports(2), "first")
    index = run_dir / "checkpoints" / "checkpoint"
    deadline = time.time() + 300
    while time.time() < deadline and all(p.poll() is None for p in procs):
        if index.exists() and re.search(r'all_model_checkpoint_paths: "ckpt-[2-9]"', index.read_text()):
            break
        time.sleep(0.05)
    assert all(p.poll() is None for p in procs), (tmp_path / "first-worker0.log").read_text()[-3000:]
    procs[1].send_signal(signal.SIGKILL)
    procs[0].send_signal(signal.SIGKILL)
    _wait(procs, 60)
    # Restart the cluster with the same command: it resumes and finishes.
    procs = _start_cluster(tmp_path, params, _free_ports(2), "second")
    codes = _wait(procs)
    logs = [(tmp_path / f"second-worker{i}.log").read_text() for i in range(2)]
    assert codes == [0, 0], logs[0][-3000:] + logs[1][-3000:]
    assert "resumed from" in logs[0]
    sums = _checksums(tmp_path, "second")
    assert sums[0][0] == sums[1][0] == total
    assert sums[0][1] == pytest.approx(sums[1][1], rel=1e-9)  # identical weights on both workers
    # Only the chief wrote: one checkpoint directory without worker scratch, one best_model, one log tree.
    assert not [p for p in (run_dir / "checkpoints").iterdir() if p.name.startswith(".worker")]
    assert (run_dir / "best_model" / "model.weights.h5").exists()
    assert "worker" not in {p.name for p in (run_dir / "logs").iterdir()}
