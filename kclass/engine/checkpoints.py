"""Run-directory persistence: atomic checkpoints (resume) and best_model (weights + the metric won).

Layout: `checkpoints/` (tf.train.CheckpointManager: TF writes each checkpoint's files
first and only then atomically rewrites the `checkpoint` index, so a kill mid-write leaves the previous
checkpoint current), `best_model/model.weights.h5` + `best_model/best.json` (each written to a temp
file, then renamed).
"""

import json
import os
import shutil

import tensorflow as tf

from kclass import atomic_write
from kclass.errors import UserError

BEST_WEIGHTS = "model.weights.h5"
BEST_INFO = "best.json"


class CheckpointStore:
    """Saves/restores `objects` (model, optimizer, counters) under `directory`.

    Under MultiWorkerMirroredStrategy every worker must take part in a save; non-chief workers write
    into a scratch folder that is deleted at once, so only the chief's files remain.
    """

    def __init__(self, directory, objects, max_to_keep=3, chief=True, worker_id=0):
        self.directory = directory
        self.checkpoint = tf.train.Checkpoint(**objects)
        self.chief = chief
        target = directory if chief else os.path.join(directory, f".worker{worker_id}-scratch")
        self.manager = tf.train.CheckpointManager(self.checkpoint, target, max_to_keep=max_to_keep)
        self._chief_manager = self.manager if chief else tf.train.CheckpointManager(
            self.checkpoint, directory, max_to_keep=max_to_keep)

    @property
    def latest(self):
        return self._chief_manager.latest_checkpoint

    def restore_latest(self):
        """Restores the newest checkpoint; returns its path or None. Refuses a foreign checkpoint."""
        path = self.latest
        if path is None:
            return None
        try:
            self.checkpoint.restore(path).assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.InvalidArgumentError) as e:
            first = str(e).strip().splitlines()[0][:300]
            raise UserError(f"{path}: cannot resume from this checkpoint (another model or class count?): "
                            f"{first}. Use a new --model_dir or delete {self.directory}.") from None
        return path

    def save(self, step):
        try:
            path = self.manager.save(checkpoint_number=step)
        except (OSError, tf.errors.ResourceExhaustedError, tf.errors.UnknownError) as e:
            raise UserError(f"{self.directory}: checkpoint at step {step} failed ({e}); "
                            f"the previous checkpoint {self.latest} is kept") from None
        if not self.chief:
            shutil.rmtree(self.manager.directory, ignore_errors=True)
        return path


def save_best(model, directory, info):
    """Writes best_model/: weights, then `best.json` (metric, value, epoch, ...), each atomically."""
    os.makedirs(directory, exist_ok=True)
    with atomic_write.file(os.path.join(directory, BEST_WEIGHTS)) as tmp:
        model.save_weights(tmp)
    atomic_write.text(os.path.join(directory, BEST_INFO), json.dumps(info, indent=1, sort_keys=True) + "\n")


def read_best(directory):
    """best.json of a best_model/ directory, or None when there is none."""
    path = os.path.join(directory, BEST_INFO)
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)
