"""`load_weights(model, path)`: one entry point for every kind of weights kclass accepts.

`path` may be a PaddleClas `.pdparams` (release/2.1 or pip 2.6 names), a Keras `.weights.h5`, a kclass
run's `best_model/` directory (holding `model.weights.h5`), a tf.train checkpoint prefix
(`.../checkpoints/ckpt-3`) or checkpoint directory (its latest checkpoint), or None (nothing to load).

Fine-tuning rule, as PaddleClas: a classifier trained for another class count is skipped with one
warning line naming it and keeps its fresh initialisation; any other missing, extra or mis-shaped
tensor is a WeightsError naming it, and the model is left unchanged.
"""

import gc
import logging
import os
import warnings
from dataclasses import dataclass, field

import keras
import numpy as np

from kclass.errors import WeightsError
from kclass.weights import mapping
from kclass.weights.pdparams import read_pdparams

log = logging.getLogger("kclass.weights")

BEST_MODEL_FILE = "model.weights.h5"
_MAX_LISTED = 8


@dataclass
class LoadResult:
    """What was loaded: `kind` in {"pdparams", "h5", "checkpoint"}, the file, skipped tensors."""
    kind: str
    path: str
    skipped: list = field(default_factory=list)
    style: str = ""  # pdparams naming style, "2.6" or "2.1"


def load_weights(model: keras.Model, path):
    """Loads `path` into the built `model` in place; returns a LoadResult, or None for None."""
    if path is None:
        return None
    kind, resolved = resolve(os.fspath(path))
    if kind == "pdparams":
        return load_pdparams(model, resolved)
    if kind == "h5":
        return _load_keras(model, resolved, "h5")
    return _load_keras(model, resolved, "checkpoint")


def resolve(path: str):
    """(kind, concrete path) for any accepted weights location; WeightsError if none fits."""
    import tensorflow as tf

    if os.path.isdir(path):
        if os.path.isfile(os.path.join(path, BEST_MODEL_FILE)):
            return "h5", os.path.join(path, BEST_MODEL_FILE)
        latest = tf.train.latest_checkpoint(path)
        if latest:
            return "checkpoint", latest
        raise WeightsError(f"{path}: directory holds neither {BEST_MODEL_FILE} (a best_model/ "
                           "directory) nor a tf.train checkpoint")
    if os.path.isfile(path):
        if path.endswith(".pdparams"):
            return "pdparams", path
        if path.endswith(".h5"):
            return "h5", path
        if path.endswith(".index"):
            return "checkpoint", path[:-len(".index")]
        with open(path, "rb") as f:
            head = f.read(8)
        if head.startswith(b"\x89HDF"):
            return "h5", path
        if head[:1] == b"\x80":
            return "pdparams", path
        raise WeightsError(f"{path}: not a .pdparams, .weights.h5 or tf.train checkpoint")
    if os.path.isfile(path + ".index"):
        return "checkpoint", path
    message = f"weights file not found: {path}"
    if path.endswith(".pdparams"):
        from kclass.weights.pretrained import download_hint
        message += download_hint(path)
    raise WeightsError(message)


def load_pdparams(model: keras.Model, path: str) -> LoadResult:
    """Maps a PaddleClas state dict onto `model` (ResNet_vd or MobileNetV3), all or nothing."""
    state = read_pdparams(path)
    slots = mapping.slots(model)
    body = [slot for slot in slots if not slot.classifier]
    style = max(mapping.STYLES, key=lambda s: sum(slot.names[s] in state for slot in body))
    if not any(slot.names[style] in state for slot in body):
        example = ", ".join(sorted(state)[:3]) or "nothing"
        raise WeightsError(f"{path}: none of its tensors ({example}, ...) belong to {model.name!r}; "
                           "is it the file of another architecture?")
    head = [s for s in slots if s.classifier]
    skip_head = _classifier_mismatch(head, state, style)
    missing, mismatched, updates = [], [], []
    for slot in slots:
        name = slot.names[style]
        if skip_head and slot.classifier:
            continue
        if name not in state:
            missing.append(name)
            continue
        value = state[name]
        if tuple(value.shape) != slot.paddle_shape():
            mismatched.append(f"{name} {list(value.shape)} (model expects {list(slot.paddle_shape())})")
            continue
        updates.append((slot.variable, mapping.to_keras(value, slot.kind)))
    used = {s.names[style] for s in slots}
    extra = sorted(k for k in state if k not in used)
    problems = []
    for label, items in (("shape mismatch", mismatched), ("missing", missing), ("unexpected", extra)):
        if items:
            listed = "; ".join(items[:_MAX_LISTED]) + (f"; ... {len(items) - _MAX_LISTED} more"
                                                      if len(items) > _MAX_LISTED else "")
            problems.append(f"{label}: {listed}")
    if problems:
        raise WeightsError(f"{path} does not fit {model.name!r} ({style} names): " + " | ".join(problems))
    for variable, value in updates:
        variable.assign(value.astype(variable.dtype))
    skipped = [s.names[style] for s in head] if skip_head else []
    if skip_head:
        _warn_classifier(path, skipped, state[head[0].names[style]].shape[-1], head[0].variable.shape[-1])
    return LoadResult("pdparams", path, skipped, style)


def _classifier_mismatch(head, state, style) -> bool:
    """True when the file's classifier differs from the model's only in its class count."""
    weight = next((s for s in head if s.names[style].endswith(".weight")), None)
    bias = next((s for s in head if s.names[style].endswith(".bias")), None)
    if weight is None or weight.names[style] not in state:
        return False
    file_w = state[weight.names[style]].shape
    model_w = weight.paddle_shape()
    if len(file_w) != 2 or file_w[0] != model_w[0] or file_w[1] == model_w[1]:
        return False
    return bias is None or state.get(bias.names[style], np.empty(0)).shape == (file_w[1],)


def _warn_classifier(path, names, file_classes, model_classes):
    log.warning("%s: skipped the classifier %s (%d classes in the file, the model has %d); it keeps "
                "its fresh initialisation", path, ", ".join(names), file_classes, model_classes)


def _load_keras(model: keras.Model, path: str, kind: str) -> LoadResult:
    head = mapping.classifier_layer(model)
    classes = _stored_classes(path, kind, head) or head.units
    if kind == "h5" and classes == head.units:
        # The common case loads in place; Keras assigns layer by layer, so undo a partial load.
        before = model.get_weights()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # one warning per container of a mismatching file
                model.load_weights(path)
            return LoadResult(kind, path)
        except Exception as e:  # noqa: BLE001  reported as a WeightsError
            model.set_weights(before)
            raise WeightsError(f"{path} does not fit {model.name!r}: {_short(e)}") from None
    # Otherwise restore into a twin of `model` (its head sized for the file) and copy: a failed
    # tf.train restore leaves deferred state and hundreds of warnings in whatever it touched.
    twin, message = _restored_twin(model, head.name, classes, path, kind)
    if twin is None:
        extra = f" (with a {classes}-class classifier)" if classes != head.units else ""
        raise WeightsError(f"{path} does not fit {model.name!r}{extra}: {message}")
    for layer in model.layers:
        if layer.weights and (layer is not head or classes == head.units):
            layer.set_weights(twin.get_layer(layer.name).get_weights())
    if classes == head.units:
        return LoadResult(kind, path)
    _warn_classifier(path, [head.name], classes, head.units)
    return LoadResult(kind, path, [v.path for v in head.weights])


def _restored_twin(model, head_name, classes, path, kind):
    """(twin of `model` with `path` loaded, None), or (None, the error as one line)."""
    import tensorflow as tf

    logger = tf.get_logger()
    level = logger.level
    # A failed checkpoint restore leaves a reader whose finaliser logs one line per unmatched
    # value; it dies with the twin, inside this quiet window. The returned error says it all.
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            twin = _twin(model, head_name, classes)
            try:
                if kind == "h5":
                    twin.load_weights(path)
                else:
                    status = tf.train.Checkpoint(model=twin).restore(path).expect_partial()
                    status.assert_existing_objects_matched()
                return twin, None
            except Exception as e:  # noqa: BLE001  any mismatch is reported, not raised
                message = _short(e)
            del twin
            gc.collect()
            return None, message
    finally:
        logger.setLevel(level)


def _stored_classes(path, kind, head):
    """Class count of the file's classifier: its only 2-D tensor with the head's input width."""
    fan_in = head.kernel.shape[0]
    shapes = []
    try:
        if kind == "h5":
            import h5py

            with h5py.File(path, "r") as f:
                f.visititems(lambda _, obj: shapes.append(obj.shape)
                             if isinstance(obj, h5py.Dataset) else None)
        else:
            import tensorflow as tf

            shapes = [tuple(s) for name, s in tf.train.list_variables(path) if name.startswith("model/")]
    except Exception:
        return None
    found = {s[1] for s in shapes if len(s) == 2 and s[0] == fan_in}
    return found.pop() if len(found) == 1 else None


def _twin(model, head_name, classes):
    config = model.get_config()
    for layer in config["layers"]:
        if layer["config"].get("name") == head_name:
            layer["config"]["units"] = classes
    return model.__class__.from_config(config)


def _short(error):
    lines = [line.strip() for line in str(error).splitlines() if line.strip()][:2]
    return f"{type(error).__name__}: {' '.join(lines)}"[:600]
