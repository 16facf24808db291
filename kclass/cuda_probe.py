"""Keeps TensorFlow's CUDA probe (and its import-time notes) off the console of machines without CUDA.

TensorFlow's Linux wheel is built with CUDA. Loading it runs a CUDA module constructor that looks for
libcudart and logs "Could not find cuda drivers on your machine" (from a static initialiser, before
TF reads TF_CPP_MIN_LOG_LEVEL, so that variable cannot hide it), and listing devices logs "failed call
to cuInit" at ERROR level. On a CPU-only machine both are expected, yet they are the first lines a new
user sees, and they read as failures. Lines TF logs while it loads, before absl's logging is
initialised, ignore TF_CPP_MIN_LOG_LEVEL (on CPUs where oneDNN is on by default, e.g. with AMX or
AVX512_BF16, "oneDNN custom operations are on" is printed at INFO twice): in the same window, lines below
that level are dropped as TF would have dropped them.

`install()` (called by every CLI before anything imports TensorFlow) arranges that, when this machine
has no CUDA device node, the first `import tensorflow` and TF's device listing run with file
descriptor 2 (where TF's C++ logs go) pointed at a temporary file; afterwards every line except the
probe's is copied to the real stderr. Hosts with /dev/nvidia* (or WSL's /dev/dxg) are left alone, so
GPU machines see TF's logs unchanged; TF_CPP_MIN_LOG_LEVEL=0 (asking for every log line) disables it.
"""

import contextlib
import importlib.abc
import importlib.util
import os
import sys
import re
import tempfile

# What the probe writes on a machine without CUDA (TF 2.21: cudart_stub.cc, cuda_platform.cc).
PROBE_LINES = (b"cudart_stub.cc", b"Could not find cuda drivers", b"failed call to cuInit")
# absl's note before its first line logged before initialisation: dropped with the line it introduces.
_ABSL_NOTE = b"All log messages before absl::InitializeLog() is called are written to STDERR"


def cuda_device_present(dev: str = "/dev") -> bool:
    """True if the machine exposes a CUDA device node (NVIDIA driver, or WSL 2's GPU paravirtualisation)."""
    try:
        names = os.listdir(dev)
    except OSError:
        return True  # cannot tell: leave TF's logs alone
    return any(name.startswith("nvidia") or name == "dxg" for name in names)


# absl/glog's prefix: severity letter, MMDD, time ("I0000 00:00:1796284220.616171   14723 port.cc:153] ...").
_SEVERITY = re.compile(rb"^([IWEF])\d{4} ")
_LEVELS = {b"I": 0, b"W": 1, b"E": 2, b"F": 3}


def min_log_level() -> int:
    """TF_CPP_MIN_LOG_LEVEL as TF reads it (0: everything)."""
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        return 0


def keep_line(line: bytes, level: int = 0) -> bool:
    """False for the probe's lines and for absl-formatted lines below `level`."""
    if any(marker in line for marker in PROBE_LINES):
        return False
    severity = _SEVERITY.match(line)
    return not severity or _LEVELS[severity.group(1)] >= level


def filter_lines(data: bytes, level: int = 0) -> bytes:
    """`data` without the probe's lines and lines below `level` (and absl's note introducing each)."""
    lines = data.splitlines(keepends=True)
    kept = []
    for i, line in enumerate(lines):
        if not keep_line(line, level):
            continue
        if _ABSL_NOTE in line and i + 1 < len(lines) and not keep_line(lines[i + 1], level):
            continue
        kept.append(line)
    return b"".join(kept)


@contextlib.contextmanager
def stderr_without_probe():
    """Runs the block with fd 2 in a temporary file, then writes its lines, bar the probe's, to stderr.

    A file, not a pipe: a pipe's reader needs the GIL, which the import holds while TF's C++ writes.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            data = filter_lines(capture.read(), min_log_level())
            if data:
                os.write(2, data)


class _QuietTensorFlowFinder(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` as usual, but loads it (and lists its devices) inside `stderr_without_probe`."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once: TF's own imports and any later one go the usual way
        spec = importlib.util.find_spec(name)  # whichever finder would have found it
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        module.__spec__.loader = module.__loader__ = self.loader  # TF sees its usual loader
        with stderr_without_probe():
            self.loader.exec_module(module)
            # cuInit runs when devices are first listed; listing physical devices does not fix the
            # logical ones, so --cpu_devices can still split the CPU afterwards.
            module.config.list_physical_devices("GPU")

    def __getattr__(self, name):
        return getattr(self.loader, name)


def install(dev: str = "/dev") -> bool:
    """Hides the probe of the first `import tensorflow` on machines without a CUDA device; True if so."""
    if "tensorflow" in sys.modules or os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "0" or cuda_device_present(dev):
        return False
    if not any(isinstance(f, _QuietTensorFlowFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowFinder())
    return True
