"""TF-TRT conversion of an exported SavedModel (fp32, fp16, or int8 calibrated on val images).

TensorRT support is compiled out of TensorFlow >= 2.18 wheels, and TF-Serving >= 2.18 cannot load
TF-TRT models. The conversion therefore runs only in the pinned toolchain of requirements-trt.txt
(TF 2.17 + TensorRT 8.6 on a CUDA GPU), and its output is served by tensorflow/serving:2.17.x-gpu.
Everywhere else `require_tensorrt()` refuses at once with one line saying so.
"""

from typing import Iterable, Optional

from kclass.errors import ConfigError
from kclass.export.signatures import SERVING_SIGNATURE

PRECISIONS = ("fp32", "fp16", "int8")
HELP = ("TF-TRT needs TensorFlow built with TensorRT on a CUDA GPU: TF 2.17 + TensorRT 8.6 "
        "(pip install -r requirements-trt.txt) and tensorflow/serving:2.17.x-gpu to serve it; "
        "see serving/README.md 'TF-TRT'. Without it, export plainly or with --onnx for TensorRT/onnxruntime-gpu")


def tensorrt_status():
    """(True, "") when this TensorFlow can run TF-TRT here, else (False, why not)."""
    import tensorflow as tf

    try:
        from tensorflow.compiler.tf2tensorrt import _pywrap_py_utils as trt_utils
    except ImportError:
        return False, f"this TensorFlow {tf.__version__} has no TF-TRT module"
    if not trt_utils.is_tensorrt_enabled():
        return False, f"this TensorFlow {tf.__version__} was built without TensorRT"
    if tuple(trt_utils.get_loaded_tensorrt_version()) == (0, 0, 0):
        linked = ".".join(map(str, trt_utils.get_linked_tensorrt_version()))
        return False, f"TensorRT {linked} libraries (libnvinfer) are not installed"
    if not tf.config.list_physical_devices("GPU"):
        return False, "no CUDA GPU is visible"
    return True, ""


def require_tensorrt(precision: str) -> None:
    """Raises ConfigError (one line) unless `precision` is valid and TF-TRT can run here."""
    if precision not in PRECISIONS:
        raise ConfigError(f"--trt {precision!r}: expected one of {', '.join(PRECISIONS)}")
    ok, why = tensorrt_status()
    if not ok:
        raise ConfigError(f"--trt {precision}: {why}. {HELP}")


def convert(saved_model_dir: str, output_dir: str, precision: str,
            calibration_images: Optional[Iterable[bytes]] = None, max_batch: int = 64,
            calibration_batch: int = 8) -> dict:
    """Converts `serving_default` of `saved_model_dir` into `output_dir` with TrtGraphConverterV2.

    Decoding and resizing stay TensorFlow ops; TensorRT takes over the network. int8 needs encoded
    `calibration_images` (the recipe's val images). Engines are built for batch 1 and `max_batch`
    so the first requests do not pay for it.
    """
    import numpy as np
    import tensorflow as tf
    from tensorflow.python.compiler.tensorrt import trt_convert as trt

    require_tensorrt(precision)
    mode = {"fp32": trt.TrtPrecisionMode.FP32, "fp16": trt.TrtPrecisionMode.FP16,
            "int8": trt.TrtPrecisionMode.INT8}[precision]
    converter = trt.TrtGraphConverterV2(input_saved_model_dir=saved_model_dir,
                                        input_saved_model_signature_key=SERVING_SIGNATURE,
                                        precision_mode=mode, use_calibration=precision == "int8",
                                        maximum_cached_engines=4)
    images = list(calibration_images or [])
    if precision == "int8":
        if not images:
            raise ConfigError("--trt int8 needs calibration images: the recipe's VAL_LIST")

        def calibration_input_fn():
            for i in range(0, len(images), calibration_batch):
                yield (tf.constant(np.array(images[i:i + calibration_batch], dtype=object)),)
        converter.convert(calibration_input_fn=calibration_input_fn)
    else:
        converter.convert()
    from kclass.export.warmup import warmup_images

    # Any encoded image will do: preprocessing fixes the network's input size.
    sample = images[:1] or warmup_images(32)[:1]

    def build_input_fn():
        for n in (1, max_batch):
            yield (tf.constant(np.array(sample * n, dtype=object)),)
    converter.build(input_fn=build_input_fn)
    converter.save(output_dir)
    return {"trt": precision}


def convert_in_place(export_dir: str, precision: str, calibration_images, model_name: str, image_size: int) -> dict:
    """Replaces the SavedModel in an export's temp directory by its TF-TRT conversion.

    The converted model has `serving_default` only, so the warm-up records are rewritten without
    the float signature (a warm-up request TF-Serving cannot run fails the whole version).
    """
    import os
    import shutil

    from kclass import atomic_write
    from kclass.export.saved_model import ONNX_FILE
    from kclass.export.warmup import WARMUP_FILE, write_warmup

    with atomic_write.directory(export_dir, prefix=".trt-", replace=True) as converted:
        info = convert(export_dir, converted, precision, calibration_images)
        for keep in ("assets.extra", ONNX_FILE):
            if os.path.exists(os.path.join(export_dir, keep)):
                shutil.move(os.path.join(export_dir, keep), os.path.join(converted, keep))
        write_warmup(os.path.join(converted, "assets.extra", WARMUP_FILE), model_name, image_size,
                     float_signature=False)
    return info
