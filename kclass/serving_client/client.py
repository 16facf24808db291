"""What both protocols share: the `Client` interface with retries, and the conversions of its answers."""

import time
from typing import Dict, List

import numpy as np

from kclass.export.signatures import INPUT_NAME, SERVING_SIGNATURE
from kclass.serving_client.endpoint import Endpoint
from kclass.serving_client.errors import ServingUnavailable


def tensor_to_array(proto) -> np.ndarray:
    """TensorProto -> numpy; DT_STRING becomes an object array of bytes."""
    import tensorflow as tf
    return tf.make_ndarray(proto)


def text_outputs(name: str, array: np.ndarray) -> np.ndarray:
    """Strings as `str`, except outputs named `*_bytes` (binary, as TF-Serving's REST API has it)."""
    if array.dtype == object and not name.endswith("_bytes"):
        return np.vectorize(lambda v: v.decode("utf-8", "replace") if isinstance(v, bytes) else v,
                            otypes=[object])(array) if array.size else array
    return array


class Client:
    """Shared by both protocols: retries with exponential backoff on UNAVAILABLE only."""

    def __init__(self, endpoint: Endpoint, timeout: float = 30.0, retries: int = 2, backoff: float = 0.2):
        self.endpoint, self.timeout, self.retries, self.backoff = endpoint, float(timeout), int(retries), backoff

    def _with_retries(self, call):
        for attempt in range(self.retries + 1):
            try:
                return call()
            except ServingUnavailable:
                if attempt == self.retries:
                    raise
                time.sleep(min(self.backoff * 2 ** attempt, 5.0))

    def predict(self, images: List[bytes], signature: str = SERVING_SIGNATURE) -> Dict[str, np.ndarray]:
        """Encoded images -> the signature's outputs, e.g. probabilities float32 [N, C]."""
        return self.predict_tensors({INPUT_NAME: np.array(list(images), dtype=object)}, signature)

    def predict_tensors(self, inputs: Dict[str, np.ndarray], signature: str = SERVING_SIGNATURE):
        return self._with_retries(lambda: self._predict(inputs, signature))

    def status(self) -> List[dict]:
        """[{"version": int, "state": "AVAILABLE", "error_code": "OK", "error_message": ""}, ...]."""
        return self._with_retries(self._status)

    def metadata(self) -> Dict[str, dict]:
        """signature name -> {"inputs"/"outputs": {name: {"dtype": "DT_FLOAT", "shape": [-1, ...]}}}."""
        return self._with_retries(self._metadata)

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def signature_dict(signature_def_map: dict) -> Dict[str, dict]:
    """SignatureDefMap as JSON (proto field names) -> the compact form `Client.metadata` returns."""
    def tensors(infos):
        out = {}
        for name, info in (infos or {}).items():
            shape = info.get("tensor_shape", {})
            dims = None if shape.get("unknown_rank") else [int(d.get("size", -1)) for d in shape.get("dim", [])]
            out[name] = {"dtype": info.get("dtype", "DT_INVALID"), "shape": dims}
        return out
    return {name: {"inputs": tensors(sig.get("inputs")), "outputs": tensors(sig.get("outputs")),
                   "method_name": sig.get("method_name", "")}
            for name, sig in signature_def_map.get("signature_def", {}).items()}
