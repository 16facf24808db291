"""Weights in and out of kclass models.

`load_weights(model, path)` takes a PaddleClas `.pdparams` (release/2.1 or pip 2.6 names), a Keras
`.weights.h5`, a run's `best_model/` directory, a tf.train checkpoint (prefix or directory) or None.
`paddle_state_dict(model, style)` and `write_pdparams` go the other way.
"""

from kclass.weights.loader import LoadResult, load_pdparams, load_weights, resolve  # noqa: F401
from kclass.weights.mapping import paddle_state_dict  # noqa: F401
from kclass.weights.pdparams import read_pdparams, write_pdparams  # noqa: F401
