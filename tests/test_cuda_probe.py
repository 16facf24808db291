"""TF's CUDA probe is hidden on machines without a CUDA device, and only it: other lines still reach stderr."""

import os
import subprocess
import sys

import pytest

from kclass import cuda_probe
from tests.clitools import ROOT

PROBE = ("cuInit", "cuda drivers", "cudart_stub")
IMPORT_TF = "import tensorflow as tf; tf.config.list_physical_devices('GPU'); print(tf.constant(2).numpy() * 21)"


def _python(code, **env):
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2", **env))


def _probe_lines(stderr):
    return [line for line in stderr.splitlines() if any(p in line for p in PROBE)]


def test_filter_drops_the_probe_and_absl_note_before_it_only():
    note = b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    data = (note + b"I0000 00:00:1.5  5 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will "
            b"not be used.\nsomething else\n" + note + b"E0000 cpu_thing.cc:1] a real problem\n"
            b"E0000 00:00:1.7  5 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error\nlast")
    assert cuda_probe.filter_lines(data) == (b"something else\n" + note + b"E0000 cpu_thing.cc:1] a real problem\n"
                                             b"last")


def test_filter_drops_lines_below_tfs_log_level_as_tf_would_have():
    # TF prints "oneDNN custom operations are on" at INFO while it loads, before absl reads the level.
    note = b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    info = b"I0000 00:00:1796284220.616171   14723 port.cc:153] oneDNN custom operations are on.\n"
    warning = b"W0000 00:00:1.2  7 thing.cc:9] a warning\n"
    data = note + info + warning + b"plain line\n"
    assert cuda_probe.filter_lines(data, level=2) == b"plain line\n"
    assert cuda_probe.filter_lines(data, level=1) == warning + b"plain line\n"
    assert cuda_probe.filter_lines(data, level=0) == data


def test_cuda_device_nodes_mean_hands_off(tmp_path):
    assert not cuda_probe.cuda_device_present(str(tmp_path))
    (tmp_path / "nvidia0").touch()
    assert cuda_probe.cuda_device_present(str(tmp_path))
    (tmp_path / "nvidia0").unlink()
    (tmp_path / "dxg").touch()  # WSL 2
    assert cuda_probe.cuda_device_present(str(tmp_path))
    assert cuda_probe.cuda_device_present(str(tmp_path / "missing"))  # cannot tell: leave TF alone


def test_install_is_a_no_op_on_gpu_hosts_or_when_every_log_is_asked_for(tmp_path):
    (tmp_path / "nvidiactl").touch()
    code = ("import sys; from kclass import cuda_probe; print(cuda_probe.install(sys.argv[1]), "
            "any(type(f).__name__ == '_QuietTensorFlowFinder' for f in sys.meta_path))")
    for dev, level, expected in ((str(tmp_path), "2", "False False"), ("/nonexistent-dir", "2", "False False"),
                                 (str(tmp_path / "empty"), "0", "False False"),
                                 (str(tmp_path / "empty"), "2", "True True")):  # no CUDA node: installed
        (tmp_path / "empty").mkdir(exist_ok=True)
        done = subprocess.run([sys.executable, "-c", code, dev], cwd=ROOT, capture_output=True, text=True,
                              env={"PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": level, "PATH": "/usr/bin:/bin"})
        assert done.stdout.split() == expected.split(), done.stderr


def test_window_keeps_every_other_line_and_restores_stderr():
    code = ("import os, sys; from kclass import cuda_probe\n"
            "with cuda_probe.stderr_without_probe():\n"
            "    os.write(2, b'kept 1\\nE0000 cuda_platform.cc:52] failed call to cuInit: x\\n')\n"
            "    print('kept 2', file=sys.stderr)\n"
            "os.write(2, b'after\\n')")
    done = _python(code)
    assert done.returncode == 0 and done.stderr == "kept 1\nkept 2\nafter\n"


@pytest.mark.slow
def test_import_tensorflow_shows_no_probe_on_this_machine():
    if cuda_probe.cuda_device_present():
        pytest.skip("this machine has a CUDA device: the probe is not hidden there, by design")
    raw = _python(IMPORT_TF)
    if not _probe_lines(raw.stderr):
        pytest.skip("this TensorFlow build prints no CUDA probe here: nothing to hide")
    quiet = _python("from kclass import cuda_probe; assert cuda_probe.install(); " + IMPORT_TF)
    assert quiet.returncode == 0 and quiet.stdout.strip() == "42", quiet.stderr
    assert _probe_lines(quiet.stderr) == []
