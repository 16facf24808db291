"""python -m kclass.export --gin_file F --weights W --export_dir serving/models/NAME [--version N]
                         [--onnx] [--trt fp32|fp16|int8] [--top_k K] [--max_pixels P]
                         [--thresholds FILE | --reject_threshold FILE] [--json]

Writes NAME/<N>/ (default: the next integer) for TF-Serving: a SavedModel whose `serving_default`
takes encoded images (JPEG/PNG/BMP/GIF, tf.string [N]) and runs the recipe's eval preprocessing
in-graph, a `predict_images` signature on preprocessed float images, warm-up records and
assets.extra/kclass.json. --onnx adds model.onnx (checked in onnxruntime); --trt converts with TF-TRT
where TensorFlow has TensorRT and refuses at once elsewhere. A single-label model whose weights have
reject_threshold.json beside them (`kclass.evaluate --fit_reject`) also outputs `unknown` per image.
"""

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags, logging  # noqa: E402

from kclass import cli  # noqa: E402

cli.define_gin_flags()
cli.define_device_flags()
flags.DEFINE_string("weights", None, "best_model/ dir, checkpoint, .weights.h5 or .pdparams.")
flags.DEFINE_string("export_dir", None, "Model base directory, e.g. serving/models/demo; versions go below.")
flags.DEFINE_integer("version", None, "Version number (default: one more than the highest present).")
flags.DEFINE_string("model_name", None, "Name TF-Serving serves it under (default: basename of --export_dir).")
flags.DEFINE_bool("onnx", False, "Also write model.onnx (float input) and check it in onnxruntime.")
flags.DEFINE_string("trt", None, "TF-TRT precision: fp32, fp16 or int8 (needs TF 2.17 + TensorRT).")
flags.DEFINE_integer("top_k", None, "Classes in top_k_* outputs (default: the recipe's topk).")
flags.DEFINE_integer("max_pixels", None, "Refuse larger images (default 50,000,000).")
flags.DEFINE_string("thresholds", None, "Multi-label thresholds.json (default: beside --weights).")
flags.DEFINE_string("reject_threshold", None, "Single-label reject_threshold.json from evaluate --fit_reject: "
                    "adds the `unknown` output (default: the file beside --weights, if any).")
flags.DEFINE_integer("calibration_images", 500, "int8: how many VAL_LIST images calibrate TF-TRT.")
flags.DEFINE_bool("json", False, "Print one JSON object on the last line.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)

    def run():
        from kclass.errors import ConfigError

        if FLAGS.trt:  # before any work: TensorRT is absent from most installs
            from kclass.export import trt
            trt.require_tensorrt(FLAGS.trt)
        if not FLAGS.export_dir:
            raise ConfigError("give --export_dir (e.g. serving/models/demo)")
        if not FLAGS.weights:
            raise ConfigError("give --weights (a run's best_model/ directory, a checkpoint, .weights.h5 or "
                              ".pdparams): exporting untrained weights is never what you want")
        cli.parse_gin(FLAGS.gin_file, FLAGS.gin_param, FLAGS.model_dir)
        from kclass import configurables, recipe_check
        from kclass.engine.strategy import configure_devices
        from kclass.export import commands

        exp = configurables.Experiment()
        recipe_check.check(exp)
        configure_devices(FLAGS.cpu_devices, FLAGS.gpus)
        result = commands.export_experiment(
            exp, FLAGS.weights, FLAGS.export_dir, version=FLAGS.version, model_name=FLAGS.model_name,
            onnx=FLAGS.onnx, trt_precision=FLAGS.trt, top_k=FLAGS.top_k, max_pixels=FLAGS.max_pixels,
            thresholds_file=FLAGS.thresholds, calibration_count=FLAGS.calibration_images,
            reject_file=FLAGS.reject_threshold)
        if FLAGS.json:
            print(json.dumps(result))
        else:
            print(f"exported version {result['version']} to {result['path']}")
            for key in ("onnx", "trt"):
                if result.get(key):
                    print(f"{key}: {result[key]}")

    cli.run_main(run)


if __name__ == "__main__":
    app.run(main)
