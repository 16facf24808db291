"""Unpickling without running code: only containers, numpy arrays and dtypes may be rebuilt.

`pickle.load` imports and calls whatever global a file names (`os.system`, ...). Weight files and the
official CIFAR-100 batches are pickles of arrays, so an allow-list of the globals numpy needs is enough.
"""

import pickle

import numpy as np

_NUMPY_CORE = ("numpy.core.multiarray", "numpy._core.multiarray", "numpy.core.numeric", "numpy._core.numeric")
ALLOWED = frozenset({
    ("builtins", "dict"), ("builtins", "tuple"), ("builtins", "list"), ("collections", "OrderedDict"),
    ("_codecs", "encode"),  # protocol-2 pickles spell bytes as _codecs.encode(str, "latin1")
    ("numpy", "ndarray"), ("numpy", "dtype"),
} | {(m, f) for m in _NUMPY_CORE for f in ("_reconstruct", "scalar", "_frombuffer")})


class ForbiddenGlobal(Exception):
    """The pickle asked for a global outside ALLOWED; nothing was imported or called."""


class _Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in ALLOWED:
            raise ForbiddenGlobal(f"{module}.{name}")
        if module.startswith("numpy.core") and hasattr(np, "_core"):
            module = "numpy._core" + module[len("numpy.core"):]  # numpy 2 renamed numpy.core
        return super().find_class(module, name)

    def persistent_load(self, pid):
        raise ForbiddenGlobal(f"persistent id {pid!r}")


def load(fileobj, encoding="ASCII"):
    """pickle's `load(fileobj, encoding=...)`, refusing every global but ALLOWED."""
    return _Unpickler(fileobj, encoding=encoding).load()
