"""Export a trained kclass model for serving: SavedModel (TF-Serving), ONNX, TF-TRT.

`ServingSpec` says what the served model does (preprocessing, class names, top-k or thresholds);
`ServingModule` is the tf.Module with the signatures; `export_version` writes `<base>/<version>/`
atomically with warm-up records (and `model.onnx` when asked).
"""

from kclass.export_lib.serving_module import (DEFAULT_MAX_PIXELS, ServingModule, ServingSpec,  # noqa: F401
                                              check_image, preprocess, preprocess_batch)
from kclass.export_lib.spec import spec_from_experiment  # noqa: F401
from kclass.export_lib.saved_model import ExportResult, export_version, next_version  # noqa: F401
