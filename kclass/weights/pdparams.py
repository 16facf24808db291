"""Reading and writing PaddlePaddle `.pdparams` files without running code from them.

A `.pdparams` file is a pickle of {structured_name: ndarray}. `pickle.load` would import and call
any global the file names (`os.system`, ...), so files are read with an unpickler that resolves
only the few globals numpy and `paddle.save` need to rebuild arrays; any other global is refused
before it is imported.
"""

import io
import os
import pickle

import numpy as np

from kclass.errors import WeightsError

# paddle.save writes this side table of static parameter names; it holds no weights.
NAME_TABLE_KEY = "StructuredToParameterName@@"

# Everything a pdparams pickle (numpy 1.x or 2.x writer, protocols 2-5) needs: array
# reconstruction, dtypes, numpy scalars, and containers paddle.save may emit. None of them can
# reach the file system, the network or a subprocess.
_NUMPY_CORE = ("numpy.core.multiarray", "numpy._core.multiarray", "numpy.core.numeric",
               "numpy._core.numeric")
_ALLOWED = {
    ("builtins", "dict"), ("builtins", "tuple"), ("builtins", "list"),
    ("collections", "OrderedDict"),
    ("_codecs", "encode"),  # protocol-2 pickles spell bytes as _codecs.encode(str, "latin1")
    ("numpy", "ndarray"), ("numpy", "dtype"),
} | {(m, f) for m in _NUMPY_CORE for f in ("_reconstruct", "scalar", "_frombuffer")}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _ALLOWED:
            raise _Forbidden(f"{module}.{name}")
        if module.startswith("numpy.core") and hasattr(np, "_core"):
            # numpy 2 keeps numpy.core only as a deprecated alias of numpy._core.
            module = "numpy._core" + module[len("numpy.core"):]
        return super().find_class(module, name)

    def persistent_load(self, pid):
        raise _Forbidden(f"persistent id {pid!r}")


class _Forbidden(Exception):
    pass


def read_pdparams(path) -> dict:
    """Returns {name: ndarray} from a `.pdparams` file; raises WeightsError for anything else."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise WeightsError(f"weights file not found: {path}")
    try:
        with open(path, "rb") as f:
            obj = _RestrictedUnpickler(io.BufferedReader(f)).load()
    except _Forbidden as e:
        raise WeightsError(
            f"{path}: refused to unpickle: it asks for the global {e}, which a .pdparams file never "
            "needs (only a dict of numpy arrays); the file may be malicious") from None
    except Exception as e:  # truncated, not a pickle, wrong protocol...
        raise WeightsError(f"{path}: not a readable .pdparams file ({type(e).__name__}: {e})") from None
    if not isinstance(obj, dict):
        raise WeightsError(f"{path}: expected a dict of arrays, found {type(obj).__name__}")
    state = {}
    for key, value in obj.items():
        if key == NAME_TABLE_KEY:
            continue
        # paddle.save pickles each Tensor as a (name, ndarray) tuple.
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], np.ndarray):
            value = value[1]
        if not isinstance(key, str) or not isinstance(value, np.ndarray) or value.dtype == object:
            raise WeightsError(f"{path}: entry {key!r} is a {type(value).__name__}, not a numeric array")
        state[key] = value
    return state


def write_pdparams(state: dict, path) -> None:
    """Writes {name: ndarray} the way `paddle.save(state_dict)` does (protocol 4)."""
    with open(path, "wb") as f:
        pickle.dump({k: np.ascontiguousarray(v) for k, v in state.items()}, f, protocol=4)
