"""Writes `<base>/<version>/` for TF-Serving: SavedModel, warm-up records, metadata, optional ONNX.

Everything is written into a hidden temp directory beside the version (TF-Serving only loads
all-digit directory names) and renamed into place at the end, so a failed or killed export never
leaves a half version that the server would try to load.
"""

import dataclasses
import json
import os
import shutil
import tempfile
from typing import Callable, Optional

import numpy as np
import tensorflow as tf

from kclass.errors import UserError
from kclass.export_lib.serving_module import FLOAT_SIGNATURE, INPUT_NAME, LOGITS, SERVING_SIGNATURE, ServingModule

METADATA_FILE = "kclass.json"
WARMUP_FILE = "tf_serving_warmup_requests"
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


def warmup_images(image_size: int):
    """Encoded test images (PNG and JPEG, two sizes): the decoders and shapes requests will use."""
    rng = np.random.default_rng(0)
    images = []
    for i, size in enumerate((image_size, image_size * 2 + 3)):
        pixels = rng.integers(0, 256, (size, size + 5 * i, 3), dtype=np.uint8)
        images.append(tf.io.encode_png(pixels).numpy())
        images.append(tf.io.encode_jpeg(pixels, quality=90).numpy())
    return images


def write_warmup(path: str, model_name: str, image_size: int, float_signature: bool = True):
    """A few PredictionLog records for TF-Serving to replay on load (batch 1 and a mixed batch)."""
    from kclass import serving

    images = warmup_images(image_size)
    floats = np.zeros([1, image_size, image_size, 3], np.float32)
    requests = [serving.predict_request(model_name, {INPUT_NAME: np.array(images[:1], object)}),
                serving.predict_request(model_name, {INPUT_NAME: np.array(images, object)})]
    if float_signature:
        requests.append(serving.predict_request(model_name, {INPUT_NAME: floats}, signature=FLOAT_SIGNATURE))
    serving.write_warmup_requests(path, requests)
    return len(requests)


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
    os.makedirs(base, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=base)
    result = ExportResult(path=final, version=version)
    try:
        tf.saved_model.save(module, tmp, signatures=module.signatures())
        extra = os.path.join(tmp, "assets.extra")
        os.makedirs(extra, exist_ok=True)
        write_warmup(os.path.join(extra, WARMUP_FILE), model_name, module.spec.image_size)
        info = dict(module.spec.to_json(), model_name=model_name, version=version,
                    signatures={SERVING_SIGNATURE: "encoded images (tf.string [N])",
                                FLOAT_SIGNATURE: f"preprocessed float32 [N, {module.spec.image_size}, "
                                                 f"{module.spec.image_size}, 3]"})
        if onnx:
            from kclass.export_lib import onnx_export
            result.onnx_max_diff = onnx_export.export_onnx(module, os.path.join(tmp, ONNX_FILE))
            result.onnx = os.path.join(final, ONNX_FILE)
            info["onnx"] = {"file": ONNX_FILE, "input": INPUT_NAME,
                            "outputs": ["scores" if module.spec.multilabel else "probabilities", LOGITS],
                            "max_diff_vs_tf": result.onnx_max_diff,
                            "max_diff_of": "logits: max |ONNX - TF| / max |TF logit|"}
            if module.spec.reject_threshold is not None:  # the file keeps the numeric head only
                info["onnx"]["unknown"] = "not an output: max(probabilities) < reject_threshold, as kclass.json"
        if extra_steps is not None:
            for key, value in (extra_steps(tmp) or {}).items():
                setattr(result, key, value)
                info[key] = value
        with open(os.path.join(extra, METADATA_FILE), "w") as f:
            json.dump(info, f, indent=1)
        # A concurrent export of the same version loses here (rename onto a non-empty directory fails).
        try:
            os.rename(tmp, final)
        except OSError as e:
            raise UserError(f"{final}: could not move the export into place ({e.strerror}); "
                            "another export of this version?") from None
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return result
