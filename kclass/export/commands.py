"""Recipe + weights -> ServingModule -> exported version: what `python -m kclass.export` runs."""

import dataclasses
import os
from typing import Optional

from kclass.export.saved_model import export_version
from kclass.export.serving_module import ServingModule
from kclass.export.spec import spec_from_experiment


def build_serving_module(exp, weights: Optional[str], top_k=None, max_pixels=None, thresholds_file=None,
                         reject_file=None):
    """The recipe's model with `weights` loaded, wrapped with its eval preprocessing and head."""
    from kclass.model_builder import build_model

    if exp.prepare is not None and exp.val_data is not None and exp.val_data.label_list \
            and not os.path.isfile(exp.val_data.label_list):
        exp.prepare()  # the demo recipe writes its data (and label_list.txt) on first use
    spec = spec_from_experiment(exp, weights, top_k, max_pixels, thresholds_file, reject_file)
    model = build_model(exp, load_pretrained=False)
    if weights:
        from kclass.weights import load_weights

        load_weights(model, weights)  # a classifier of another class count is refused, never served at random
    return ServingModule(model, spec)


def calibration_images(exp, count: int):
    """Encoded bytes of the first `count` VAL_LIST images (TF-TRT int8 calibration)."""
    from kclass.splits import read_split

    samples = read_split(exp, exp.val_data)
    images = []
    for path in samples.paths[:count]:
        with open(path, "rb") as f:
            images.append(f.read())
    return images


def export_experiment(exp, weights, export_dir, version=None, model_name=None, onnx=False, trt_precision=None,
                      top_k=None, max_pixels=None, thresholds_file=None, calibration_count=500,
                      reject_file=None) -> dict:
    """Exports `weights` of recipe `exp` to `export_dir/<version>/`; returns the ExportResult as a dict."""
    extra = None
    if trt_precision:
        from kclass.export import trt
        trt.require_tensorrt(trt_precision)
    module = build_serving_module(exp, weights, top_k, max_pixels, thresholds_file, reject_file)
    name = model_name or os.path.basename(os.path.abspath(export_dir))
    if trt_precision:
        images = calibration_images(exp, calibration_count) if trt_precision == "int8" else []
        extra = lambda tmp: trt.convert_in_place(tmp, trt_precision, images, name,  # noqa: E731
                                                 module.spec.image_size)
    result = export_version(module, export_dir, version, name, onnx=onnx, extra_steps=extra)
    return dataclasses.asdict(result)
