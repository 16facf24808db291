"""Models: `build(name, num_classes=..., input_shape=...)` over a registry of PaddleClas names.

`no_decay_variables(model)` lists the variables PaddleClas exempts from L2 decay (MobileNetV3's
BN scale/offset; nothing for ResNet_vd); `decayed_variables(model)` is the complement, and
`l2_exclude_fn(model)` the same rule as the predicate the optimizer takes. `spec(name)` /
`spec_of(model)` give a registered model's `ModelSpec` (its family and no-decay rule). `Seeds(seed)`
hands out a build's initializer seeds (`build(..., seed=...)` takes an int or one to continue).
"""

from kclass.models import mobilenet_v3  # noqa: F401  (registers MobileNetV3 large/small)
from kclass.models import resnet_vd  # noqa: F401  (registers the ResNet_vd family)
from kclass.models.decay import decayed_variables, l2_exclude_fn, no_decay_variables  # noqa: F401
from kclass.models.registry import (ModelSpec, build, check_name, list_models, register_model,  # noqa: F401
                                    spec, spec_of)
from kclass.models.seeds import Seeds  # noqa: F401
