"""kclass: PaddleClas's quick-start workflow as a Keras 3 / TensorFlow application.

Its packages, what each may import, and the file formats it keeps: docs/architecture.md.
"""

import os

__version__ = "0.1.0"

# TF's default CPU allocator gives large tensors back to the OS; with the input pipeline's threads
# allocating beside the training step, the step then page-faults its activations afresh (a third of
# the CPU time of a 2-core run was system time). TF's BFC allocator keeps and reuses the memory (system
# time 37.5 -> 12.5 s in `tools/bench/recipe.py`, RESULTS.md session 4). TF reads this when it makes
# its CPU allocator, at the first op, hence here; TF_CPU_ALLOCATOR_USE_BFC=false restores its default.
os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")
