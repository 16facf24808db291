"""Export a trained kclass model for serving: SavedModel (TF-Serving), ONNX, TF-TRT.

`python -m kclass.export` (`__main__`) runs `commands.export_experiment`: `spec` reads what the served
model does from the recipe (preprocessing, class names, top-k or thresholds), `serving_module` wraps the
network in a tf.Module with the signatures `signatures` names, `saved_model` writes `<base>/<version>/`
atomically with `warmup` records, `onnx_export` and `trt` add model.onnx and TF-TRT.

Importing the package loads nothing heavy: the TF-Serving client takes `signatures` from here.
"""
