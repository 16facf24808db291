"""Writes `<base>/<version>/` for TF-Serving: SavedModel, warm-up records, metadata, optional ONNX.

Everything is written into a hidden temp directory beside the version (TF-Serving only loads
all-digit directory names) and renamed into place at the end, so a failed or killed export never
leaves a half version that the server would try to load.
"""

import dataclasses
import json
import os
from typing import Callable, Optional

import tensorflow as tf

from kclass import atomic_write
from kclass.errors import UserError
from kclass.export.serving_module import ServingModule
from kclass.export.signatures import FLOAT_SIGNATURE, INPUT_NAME, LOGITS, SERVING_SIGNATURE, scores_name
from kclass.export.warmup import WARMUP_FILE, write_warmup

METADATA_FILE = "kclass.json"
ONNX_FILE = "model.onnx"


@dataclasses.dataclass
class ExportResult:
    path: str
    version: int
    onnx: Optional[str] = None
    onnx_max_diff: Optional[float] = None  # logits, relative to their scale (onnx_export.check_onnx)
    trt: Optional[str] = None


def existing_versions(base: str):
    if not os.path.isdir(base):
        return []
    return sorted(int(d) for d in os.listdir(base) if d.isdigit() and os.path.isdir(os.path.join(base, d)))


def next_version(base: str) -> int:
    """1 for a new model, else one more than the highest version directory."""
    versions = existing_versions(base)
    return versions[-1] + 1 if versions else 1


def _check_version_free(base, version):
    final = os.path.join(base, str(version))
    if os.path.exists(final):
        raise UserError(f"{final} already exists: TF-Serving may be serving it; export to a new "
                        f"--version (next free: {next_version(base)}) or remove it first")
    return final


def export_version(module: ServingModule, base: str, version: Optional[int] = None, model_name: Optional[str] = None,
                   onnx: bool = False, extra_steps: Optional[Callable[[str], dict]] = None) -> ExportResult:
    """Writes `module` to `base/<version>/` (default: the next integer) atomically.

    `extra_steps(tmp_dir)` runs on the finished temp directory before the rename (TF-TRT conversion
    replaces the SavedModel there) and returns fields for the ExportResult.
    """
    base = os.path.abspath(base)
    version = int(version) if version is not None else next_version(base)
    if version < 1:
        raise UserError(f"--version must be a positive integer, got {version}")
    final = _check_version_free(base, version)
    model_name = model_name or os.path.basename(base)
    result = ExportResult(path=final, version=version)
    try:
        with atomic_write.directory(final, prefix=f".tmp-{version}-") as tmp:
            _write(module, tmp, result, model_name, onnx, extra_steps)
    except FileExistsError:  # a concurrent export of the same version got there first
        raise UserError(f"{final}: could not move the export into place (it exists now); "
                        "another export of this version?") from None
    return result


def _write(module: ServingModule, folder: str, result: ExportResult, model_name: str, onnx: bool, extra_steps):
    """The version's files into `folder`: SavedModel, warm-up, kclass.json, model.onnx, `extra_steps`."""
    tf.saved_model.save(module, folder, signatures=module.signatures())
    extra = os.path.join(folder, "assets.extra")
    os.makedirs(extra, exist_ok=True)
    write_warmup(os.path.join(extra, WARMUP_FILE), model_name, module.spec.image_size)
    size = module.spec.image_size
    info = dict(module.spec.to_json(), model_name=model_name, version=result.version,
                signatures={SERVING_SIGNATURE: "encoded images (tf.string [N])",
                            FLOAT_SIGNATURE: f"preprocessed float32 [N, {size}, {size}, 3]"})
    if onnx:
        from kclass.export import onnx_export
        result.onnx_max_diff = onnx_export.export_onnx(module, os.path.join(folder, ONNX_FILE))
        result.onnx = os.path.join(result.path, ONNX_FILE)
        info["onnx"] = {"file": ONNX_FILE, "input": INPUT_NAME,
                        "outputs": [scores_name(module.spec.multilabel), LOGITS],
                        "max_diff_vs_tf": result.onnx_max_diff,
                        "max_diff_of": "logits: max |ONNX - TF| / max |TF logit|"}
        if module.spec.reject_threshold is not None:  # the file keeps the numeric head only
            info["onnx"]["unknown"] = "not an output: max(probabilities) < reject_threshold, as kclass.json"
    if extra_steps is not None:
        for key, value in (extra_steps(folder) or {}).items():
            setattr(result, key, value)
            info[key] = value
    with open(os.path.join(extra, METADATA_FILE), "w") as f:
        json.dump(info, f, indent=1)
