"""Where predictions come from (a SavedModel in TF or its model.onnx in ONNX Runtime, a recipe + weights,
a TF-Serving URL) and how they read.

Every predictor maps encoded images to the outputs of the exported SERVING_SIGNATURE, so
local and remote predictions are the same numbers printed the same way:
single-label `probabilities` [N, C], `top_k_classes` [N, k], `top_k_names` [N, k] (and `unknown` [N]
when the model has a reject threshold);
multi-label `scores` [N, C], `labels` [N, C] (0/1), `label_names` [N, C].
"""

import os
from typing import Dict, List, Optional, Sequence

import numpy as np

from kclass.data.lists import IMAGE_EXTENSIONS, read_list_paths
from kclass.errors import DataError, UserError
from kclass.export.signatures import (LABEL_NAMES, LABELS, PROBABILITIES, SCORES, SERVING_SIGNATURE, TOP_K_CLASSES,
                                      TOP_K_NAMES, UNKNOWN, scores_name)
from kclass.serving_client.client import text_outputs


class Predictor:
    """`predict(images: list of encoded bytes) -> {output name: numpy [N, ...]}` (text as str)."""
    description = ""

    def predict(self, images: List[bytes]) -> Dict[str, np.ndarray]:
        raise NotImplementedError

    def close(self):
        pass


def resolve_saved_model(path: str) -> str:
    """A version directory, or a model base directory (its highest version)."""
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        return path
    if os.path.isdir(path):
        versions = sorted(int(d) for d in os.listdir(path) if d.isdigit()
                          and os.path.isfile(os.path.join(path, d, "saved_model.pb")))
        if versions:
            return os.path.join(path, str(versions[-1]))
    raise UserError(f"--saved_model {path}: no saved_model.pb there nor in a numbered version directory below")


class SavedModelPredictor(Predictor):
    """An exported version, run in-process by TensorFlow."""

    def __init__(self, path: str):
        import tensorflow as tf

        self.path = resolve_saved_model(path)
        self.description = f"SavedModel {self.path}"
        self._tf = tf
        self._signature = tf.saved_model.load(self.path).signatures[SERVING_SIGNATURE]

    def predict(self, images):
        outputs = self._signature(images=self._tf.constant(list(images), self._tf.string))
        return {k: text_outputs(k, v.numpy()) for k, v in outputs.items()}


def read_export_spec(version_dir: str):
    """The ServingSpec an export recorded in `version_dir`/assets.extra/kclass.json."""
    import json

    from kclass.export.saved_model import METADATA_FILE
    from kclass.export.serving_module import ServingSpec

    path = os.path.join(version_dir, "assets.extra", METADATA_FILE)
    try:
        with open(path) as f:
            return ServingSpec.from_json(json.load(f))
    except (OSError, ValueError, TypeError) as e:
        raise UserError(f"{path}: cannot read the export's metadata ({e}); re-export with python -m kclass.export") \
            from None


class OnnxPredictor(Predictor):
    """An exported version's model.onnx (`kclass.export --onnx`) in ONNX Runtime (CPU), between the
    SavedModel's own TF preprocessing and head: same inputs, same outputs as SERVING_SIGNATURE."""

    def __init__(self, path: str):
        import onnxruntime
        import tensorflow as tf

        from kclass.export.saved_model import ONNX_FILE
        from kclass.export.serving_module import head, preprocess_batch

        self.path = resolve_saved_model(path)
        onnx_path = os.path.join(self.path, ONNX_FILE)
        if not os.path.isfile(onnx_path):
            raise UserError(f"{onnx_path}: not found, the model was exported without --onnx; "
                            "re-export it with `python -m kclass.export ... --onnx`")
        spec = read_export_spec(self.path)
        self.description = f"ONNX Runtime {onnx_path}"
        self._tf = tf
        self._session = onnxruntime.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        self._output = scores_name(spec.multilabel)
        self._preprocess = tf.function(lambda images: preprocess_batch(images, spec),
                                       input_signature=[tf.TensorSpec([None], tf.string)])
        self._head = tf.function(lambda scores: head(scores, spec),
                                 input_signature=[tf.TensorSpec([None, spec.num_classes], tf.float32)])

    def predict(self, images):
        floats = self._preprocess(self._tf.constant(list(images), self._tf.string)).numpy()
        (scores,) = self._session.run([self._output], {self._input: floats})
        return {k: text_outputs(k, v.numpy()) for k, v in self._head(self._tf.constant(scores)).items()}


class ModulePredictor(Predictor):
    """A recipe's model with `weights`, wrapped exactly as `kclass.export` would export it."""

    def __init__(self, exp, weights: Optional[str], top_k: Optional[int] = None):
        import tensorflow as tf

        from kclass.export.commands import build_serving_module

        self._tf = tf
        self.module = build_serving_module(exp, weights, top_k=top_k)
        self.description = f"{exp.model} with {weights}"

    def predict(self, images):
        outputs = self.module.serve(self._tf.constant(list(images), self._tf.string))
        return {k: text_outputs(k, v.numpy()) for k, v in outputs.items()}


class RemotePredictor(Predictor):
    """A model served by TF-Serving (gRPC or REST URL, see kclass.serving_client)."""

    def __init__(self, url: str, timeout: float = 30.0, retries: int = 2):
        from kclass import serving_client

        self.client = serving_client.connect(url, timeout=timeout, retries=retries)
        self.description = f"TF-Serving {self.client.endpoint.url}"

    def predict(self, images):
        return self.client.predict(list(images))

    def close(self):
        self.client.close()


def bad_input_message(error: Exception) -> Optional[str]:
    """The one-line message when `error` means "this image is bad" (INVALID_ARGUMENT), else None."""
    from kclass import serving_client

    if isinstance(error, serving_client.ServingError):
        return f"{error.code}: {error.message}" if error.code == "INVALID_ARGUMENT" else None
    try:
        import tensorflow as tf
    except ImportError:  # pragma: no cover
        return None
    if isinstance(error, tf.errors.InvalidArgumentError):
        return f"INVALID_ARGUMENT: {serving_client.clean_message(error.message)}"
    return None


def collect_images(images: Sequence[str] = (), folder: Optional[str] = None, list_file: Optional[str] = None,
                   data_root: Optional[str] = None) -> List[str]:
    """Paths from --image, --folder (recursive, sorted) and --list (PaddleClas list; labels ignored)."""
    paths = list(images)
    if folder:
        if not os.path.isdir(folder):
            raise DataError(f"--folder {folder}: not a directory")
        for top, dirs, files in os.walk(folder):
            dirs.sort()
            paths += [os.path.join(top, f) for f in sorted(files) if f.lower().endswith(IMAGE_EXTENSIONS)]
    if list_file:
        if not os.path.isfile(list_file):
            raise DataError(f"--list {list_file}: list file not found")
        paths += read_list_paths(list_file, data_root)
    if not paths:
        raise DataError("no images: give --image, --folder or --list"
                        + (f" ({folder} holds no {', '.join(IMAGE_EXTENSIONS)} files)" if folder else ""))
    return paths


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read(), None
    except OSError as e:
        return None, f"cannot read: {e.strerror or e}"


def predict_files(predictor: Predictor, paths: Sequence[str], batch_size: int = 32,
                  top_k: Optional[int] = None) -> List[dict]:
    """One result dict per path, in order; a bad image gets {"image", "error"} and the rest go on.

    A batch refused as INVALID_ARGUMENT is re-run one image at a time to find the culprit(s); any
    other failure (server down, model missing) raises.
    """
    results = []
    for start in range(0, len(paths), batch_size):
        chunk = list(paths[start:start + batch_size])
        loaded = [(p,) + _read(p) for p in chunk]
        good = [(p, data) for p, data, err in loaded if err is None]
        by_path = {p: {"image": p, "error": err} for p, _, err in loaded if err is not None}
        try:
            outputs = predictor.predict([d for _, d in good]) if good else None
            for i, (p, _) in enumerate(good):
                by_path[p] = dict(image=p, **_row(outputs, i, top_k))
        except Exception as e:  # noqa: BLE001  (only bad-input errors are handled; others re-raised)
            if bad_input_message(e) is None:
                raise
            for p, data in good:
                try:
                    by_path[p] = dict(image=p, **_row(predictor.predict([data]), 0, top_k))
                except Exception as single:  # noqa: BLE001
                    message = bad_input_message(single)
                    if message is None:
                        raise
                    by_path[p] = {"image": p, "error": message}
        results += [by_path[p] for p in chunk]
    return results


def _row(outputs, i, top_k=None):
    if SCORES in outputs:
        scores = outputs[SCORES][i]
        names = outputs[LABEL_NAMES][i]
        picked = np.flatnonzero(outputs[LABELS][i])
        picked = picked[np.argsort(-scores[picked], kind="stable")]
        return {"labels": [{"class_id": int(c), "name": str(names[c]), "score": float(scores[c])} for c in picked]}
    probabilities = outputs[PROBABILITIES][i]
    classes = outputs[TOP_K_CLASSES][i][:top_k]
    names = outputs[TOP_K_NAMES][i]
    row = {"top_k": [{"class_id": int(c), "name": str(n), "probability": float(probabilities[c])}
                     for c, n in zip(classes, names)]}
    if UNKNOWN in outputs:
        row["unknown"] = bool(outputs[UNKNOWN][i])
    return row


def format_result(result: dict) -> str:
    """`path  name 0.9312  name 0.0401` (top-k, or the labels at or above their thresholds);
    `path  unknown  (name 0.4120  name 0.3011)` when the top probability is under the reject threshold."""
    if "error" in result:
        return f"{result['image']}  error: {result['error']}"
    if "labels" in result:
        found = "  ".join(f"{r['name']} {r['score']:.4f}" for r in result["labels"])
        return f"{result['image']}  {found or '(no label at or above its threshold)'}"
    top_k = "  ".join(f"{r['name']} {r['probability']:.4f}" for r in result["top_k"])
    return f"{result['image']}  " + (f"unknown  ({top_k})" if result.get("unknown") else top_k)
