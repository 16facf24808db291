"""kclass: PaddleClas's quick-start workflow as a Keras 3 / TensorFlow application."""

__version__ = "0.1.0"
