"""python -m kclass.predict (--saved_model DIR [--engine onnxruntime] | --gin_file F --weights W | --server URL)
                          (--image I ... | --folder D | --list L [--data_root R]) [--json]

Classifies images with an exported SavedModel (a version directory or the model's base directory),
a recipe's weights, or a model served by TF-Serving (grpc://HOST:8500/NAME, http://HOST:8501/NAME,
optionally /versions/N or /labels/L); `--engine onnxruntime` runs the SavedModel's model.onnx (from
`kclass.export --onnx`) between the same TF preprocessing and head. All print the same: top-k names and
probabilities (single-label) or the labels at or above their thresholds with scores (multi-label).
A single-label model with a reject threshold (reject_threshold.json beside --weights, or exported with
it) prints `unknown` before the top-k of an image whose top probability is under it. A bad image is
reported on its line and the others go on; the exit status is then 2.
"""

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags, logging  # noqa: E402

from kclass import cli  # noqa: E402

cli.define_gin_flags()
cli.define_device_flags()
flags.DEFINE_string("saved_model", None, "Exported model: serving/models/NAME or serving/models/NAME/<version>.")
flags.DEFINE_string("weights", None, "With --gin_file: best_model/ dir, checkpoint, .weights.h5 or .pdparams.")
flags.DEFINE_enum("engine", "tensorflow", ["tensorflow", "onnxruntime"],
                  "--saved_model: run it in TensorFlow, or its model.onnx (export --onnx) in ONNX Runtime.")
flags.DEFINE_string("server", None, "TF-Serving model URL: grpc://HOST:8500/NAME or http://HOST:8501/NAME.")
flags.DEFINE_multi_string("image", [], "Image file(s).")
flags.DEFINE_string("folder", None, "Folder of images (searched recursively).")
flags.DEFINE_string("list", None, "PaddleClas list file (`path [label]` lines; labels are ignored).")
flags.DEFINE_string("data_root", None, "Root of the --list paths (default: the list's folder).")
flags.DEFINE_integer("batch_size", 32, "Images per request.")
flags.DEFINE_integer("top_k", None, "Show at most K classes (single-label).")
flags.DEFINE_float("timeout", 30.0, "--server: seconds per request.")
flags.DEFINE_bool("json", False, "Print one JSON object on the last line.")
FLAGS = flags.FLAGS


def _predictor():
    from kclass import predictors
    from kclass.errors import ConfigError

    sources = [s for s in ("saved_model", "gin_file", "server") if getattr(FLAGS, s)]
    if len(sources) != 1:
        raise ConfigError("give exactly one model: --saved_model DIR, --gin_file F --weights W, or --server URL")
    if FLAGS.engine == "onnxruntime" and not FLAGS.saved_model:
        raise ConfigError("--engine onnxruntime runs an exported model: give it with --saved_model DIR")
    if FLAGS.server:
        return predictors.RemotePredictor(FLAGS.server, timeout=FLAGS.timeout)
    if FLAGS.cpu_devices or FLAGS.gpus:  # local models only: TF-Serving has its own devices
        from kclass.engine.strategy import configure_devices
        configure_devices(FLAGS.cpu_devices, FLAGS.gpus)
    if FLAGS.saved_model and FLAGS.engine == "onnxruntime":
        return predictors.OnnxPredictor(FLAGS.saved_model)
    if FLAGS.saved_model:
        return predictors.SavedModelPredictor(FLAGS.saved_model)
    if not FLAGS.weights:
        raise ConfigError("--gin_file needs --weights (a run's best_model/ directory, a checkpoint, ...)")
    cli.parse_gin(FLAGS.gin_file, FLAGS.gin_param, FLAGS.model_dir)
    from kclass import configurables, recipe_check
    exp = configurables.Experiment()
    recipe_check.check(exp)
    return predictors.ModulePredictor(exp, FLAGS.weights, top_k=FLAGS.top_k)


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)

    def run():
        from kclass import predictors
        from kclass.errors import UserError

        paths = predictors.collect_images(FLAGS.image, FLAGS.folder, FLAGS.list, FLAGS.data_root)
        predictor = _predictor()
        try:
            results = predictors.predict_files(predictor, paths, FLAGS.batch_size, FLAGS.top_k)
        finally:
            predictor.close()
        for result in results:
            if not FLAGS.json:
                print(predictors.format_result(result))
        if FLAGS.json:
            print(json.dumps({"model": predictor.description, "results": results}))
        failed = sum("error" in r for r in results)
        if failed:
            raise UserError(f"{failed} of {len(results)} images could not be classified (see their lines)")

    cli.run_main(run)


if __name__ == "__main__":
    app.run(main)
