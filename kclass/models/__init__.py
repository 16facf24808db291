"""Models: `build(name, num_classes=..., input_shape=...)` over a registry of PaddleClas names."""

from kclass.models import resnet_vd  # noqa: F401  (registers the ResNet_vd family)
from kclass.models.registry import build, list_models, register_model  # noqa: F401
