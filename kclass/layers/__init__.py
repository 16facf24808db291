"""Speed kernels: Keras layers with the same variables and numerics as Keras's own, run faster on CPU.

`conv.Conv2D` (pointwise and tiny-map convs as matmuls), `depthwise.DepthwiseConv2D` (tiny-map training
by broadcasting), `batch_norm.BatchNormalization` (TF's fused kernel), `tiny_maps` (the tap tables
both convs use) and `fold_batch_norm` (an inference copy with BNs folded into their convs). They are
registered for Keras serialization under `kclass>` and their class names, not their module paths, so
saved models load whatever package holds them.
"""
