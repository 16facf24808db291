"""What the chief writes to TensorBoard besides the loop's scalars, independent of the engine."""

import dataclasses
from typing import Callable, Dict, Optional

import numpy as np


@dataclasses.dataclass
class SummaryHooks:
    """Called by the chief inside the split's default summary writer; host-side NumPy in.

    first_batch(images float32 [N, H, W, 3], step): the first training batch of a fresh run (not of a
      resumed one) exactly as the model receives it, the chief's replicas' shares in replica order.
    eval_rows(rows {name: ndarray [N, ...]}, step): after each evaluation during training, the rows
      `Task.collect` gathered over every replica and worker, padding removed.
    """
    first_batch: Optional[Callable[[np.ndarray, int], None]] = None
    eval_rows: Optional[Callable[[Dict[str, np.ndarray], int], None]] = None
