"""What the loop optimises and measures, independent of the model: loss, metric sums, exact metrics."""

import dataclasses
from typing import Callable, Dict, Optional


@dataclasses.dataclass
class Task:
    """Hooks the engine calls; tensors in, tensors out, all per replica.

    loss(labels, outputs) -> per-example loss [N] (the engine sums and divides by the global batch).
    eval_sums(labels, outputs, weights) -> {name: scalar sum}; reported as sum / number of images.
    train_sums: the same on training batches (None: only the loss, e.g. under Mixup).
    collect(labels, outputs) -> {name: [N, ...]}: gathered from every replica and worker for metrics
      that do not decompose into sums (mAP, AUC); `summarize({name: ndarray}) -> {metric: float}`
      computes them on the host, padding rows already removed.
    eval_loss: the loss evaluation reports, when it is not the one training minimises (None: `loss`);
      PaddleClas configures its Train and Eval losses apart too (class weights weigh training only).
    """
    loss: Callable
    eval_sums: Callable
    train_sums: Optional[Callable] = None
    collect: Optional[Callable] = None
    summarize: Optional[Callable[[Dict], Dict[str, float]]] = None
    eval_loss: Optional[Callable] = None
