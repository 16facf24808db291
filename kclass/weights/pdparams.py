"""Reading and writing PaddlePaddle `.pdparams` files without running code from them.

A `.pdparams` file is a pickle of {structured_name: ndarray}. `pickle.load` would import and call
any global the file names (`os.system`, ...), so files are read with `kclass.safe_pickle`, which
resolves only the few globals numpy and `paddle.save` need to rebuild arrays (plus the tuple that
paddle.save wraps each tensor in); any other global is refused before it is imported.
"""

import os
import pickle

import numpy as np

from kclass import safe_pickle
from kclass.errors import WeightsError

# paddle.save writes this side table of static parameter names; it holds no weights.
NAME_TABLE_KEY = "StructuredToParameterName@@"


def read_pdparams(path) -> dict:
    """Returns {name: ndarray} from a `.pdparams` file; raises WeightsError for anything else."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise WeightsError(f"weights file not found: {path}")
    try:
        with open(path, "rb") as f:
            obj = safe_pickle.load(f)
    except safe_pickle.ForbiddenGlobal as e:
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
