"""`load_weights(model, path)`: one entry point for every kind of weights kclass accepts.

`path` may be a PaddleClas `.pdparams` (release/2.1 or pip 2.6 names), a Keras `.weights.h5`, a kclass
run's `best_model/` directory (holding `model.weights.h5`), a tf.train checkpoint prefix
(`.../checkpoints/ckpt-3`) or checkpoint directory (its latest checkpoint), or None (nothing to load).

A classifier trained for another class count is a WeightsError naming both counts, unless
`finetune=True` (a recipe's PRETRAINED): then, as PaddleClas fine-tunes, it is skipped with one warning
line naming it and keeps its fresh initialisation. Any other missing, extra or mis-shaped tensor is a
WeightsError naming it, and the model is left unchanged.
"""

import gc
import logging
import os
import warnings
from dataclasses import dataclass, field

import keras
import numpy as np

from kclass.engine.checkpoints import BEST_WEIGHTS  # what best_model/ holds: the writer names it
from kclass.errors import WeightsError
from kclass.weights import mapping
from kclass.weights.pdparams import read_pdparams

log = logging.getLogger("kclass.weights")

_MAX_LISTED = 8


@dataclass
class LoadResult:
    """What was loaded: `kind` in {"pdparams", "h5", "checkpoint"}, the file, skipped tensors."""
    kind: str
    path: str
    skipped: list = field(default_factory=list)
    style: str = ""  # pdparams naming style, "2.6" or "2.1"


def load_weights(model: keras.Model, path, finetune: bool = False):
    """Loads `path` into the built `model` in place; returns a LoadResult, or None for None.

    `finetune`: skip (with a warning) a classifier of another class count instead of refusing it.
    """
    if path is None:
        return None
    kind, resolved = resolve(os.fspath(path))
    if kind == "pdparams":
        return load_pdparams(model, resolved, finetune)
    return _load_keras(model, resolved, kind, finetune)


def resolve(path: str):
    """(kind, concrete path) for any accepted weights location; WeightsError if none fits."""
    import tensorflow as tf

    if os.path.isdir(path):
        if os.path.isfile(os.path.join(path, BEST_WEIGHTS)):
            return "h5", os.path.join(path, BEST_WEIGHTS)
        latest = tf.train.latest_checkpoint(path)
        if latest:
            return "checkpoint", latest
        raise WeightsError(f"{path}: directory holds neither {BEST_WEIGHTS} (a best_model/ "
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


def load_pdparams(model: keras.Model, path: str, finetune: bool = False) -> LoadResult:
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
    if skip_head and not finetune:
        _refuse_classifier(path, state[head[0].names[style]].shape[-1], head[0].paddle_shape()[-1])
    for variable, value in updates:
        variable.assign(value.astype(variable.dtype))
    skipped = [s.names[style] for s in head] if skip_head else []
    if skip_head:  # head[0] is the classifier's weight ([in, classes] in both layouts)
        _warn_classifier(path, skipped, state[head[0].names[style]].shape, head[0].paddle_shape())
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


def _refuse_classifier(path, file_classes, model_classes):
    raise WeightsError(f"{path}: its classifier is for {file_classes} classes, the model has {model_classes} "
                       "(NUM_CLASSES); only PRETRAINED, when fine-tuning, may start from another class count")


def _warn_classifier(path, names, file_shape, model_shape):
    """The fine-tuning case, in one line: which file, which layer, the weight's shape in each."""
    log.warning("%s: skipped the classifier %s, weight %s in the file, %s in the model (%d classes in the "
                "file, the model has %d); it keeps its fresh initialisation", path, ", ".join(names),
                list(file_shape), list(model_shape), file_shape[-1], model_shape[-1])


def _load_keras(model: keras.Model, path: str, kind: str, finetune: bool = False) -> LoadResult:
    head = mapping.classifier_layer(model)
    classes = _stored_classes(path, kind, head) or head.units
    if kind == "h5":
        _check_h5_shapes(model, path, skip=None if classes == head.units else head)
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
    if classes != head.units and not finetune:  # the body fits: the class count is the one problem
        _refuse_classifier(path, classes, head.units)
    for layer in model.layers:
        if layer.weights and (layer is not head or classes == head.units):
            layer.set_weights(twin.get_layer(layer.name).get_weights())
    if classes == head.units:
        return LoadResult(kind, path)
    _warn_classifier(path, [head.name], (head.kernel.shape[0], classes), head.kernel.shape)
    return LoadResult(kind, path, [v.path for v in head.weights])


def _check_h5_shapes(model, path, skip=None):
    """WeightsError naming the first tensor of a Keras `.weights.h5` whose shape does not fit `model`.

    Keras alone would report it as a multi-line dump of the variable's values, or load without a word
    the first layers of a deeper model's file. `skip` (a classifier of another class count) is not compared.
    """
    import h5py

    groups = _h5_groups(model)
    if groups is None:
        return
    try:
        f = h5py.File(path, "r")
    except OSError as e:  # truncated or not HDF5
        raise WeightsError(f"{path}: not a readable .weights.h5 file ({e})") from None
    with f:
        if "layers" not in f:  # a legacy (Keras 2) layout: Keras's own check applies
            return
        problems = [_h5_layer_misfit(f, group, layer) for group, layer in groups if layer is not skip]
        extra = sorted(set(f["layers"]) - {group.split("/", 1)[1] for group, _ in groups})
    problems = [p for p in problems if p]
    if extra:
        problems.append(f"the file has {len(extra)} layer(s) the model lacks (layers/{extra[0]}, ...)")
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise WeightsError(f"{path} does not fit {model.name!r}: {problems[0]}{more}; "
                           "are these the weights of another model?")


def _h5_groups(model):
    """[(h5 group, layer)]: where Keras's saving_lib puts each layer's variables, or None if unknown.

    Functional and Sequential models file their layers by class and position (`layers/conv2d_3`),
    not by layer name, so a file of another architecture can fill the same groups with other shapes.
    """
    from keras.src.utils.naming import to_snake_case  # the rule saving_lib names the groups by

    if model._obj_type() not in ("Functional", "Sequential"):
        return None
    seen, groups = {}, []
    for layer in model.layers:
        base = to_snake_case(type(layer).__name__)
        seen[base] = seen.get(base, -1) + 1
        groups.append((f"layers/{base}_{seen[base]}" if seen[base] else f"layers/{base}", layer))
    return groups


def _h5_layer_misfit(f, group, layer):
    """How `layer`'s own variables differ from those the file keeps in `group`, or None."""
    own = layer._trainable_variables + layer._non_trainable_variables  # what Layer.save_own_variables writes
    stored = f[group]["vars"] if group in f and "vars" in f[group] else {}
    shapes = [tuple(stored[str(i)].shape) for i in range(len(stored))]
    if sorted(shapes) == sorted(tuple(v.shape) for v in own):  # order-free: no false alarm on a layout detail
        return None
    if len(shapes) != len(own):
        return f"{len(shapes)} weights for layer {layer.name} at {group} (model expects {len(own)})"
    variable, shape = next((v, s) for v, s in zip(own, shapes) if tuple(v.shape) != s)
    return f"shape mismatch: {variable.path} {list(shape)} (model expects {list(variable.shape)})"


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
