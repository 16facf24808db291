"""Gin registration of the library's plain classes and functions: the only place Gin meets kclass.

Recipes bind these names (`Experiment.epochs = %EPOCHS`, `train/DataConfig.source = %TRAIN_LIST`).
"""

import gin

from kclass import experiment, optim
from kclass.data import autoaugment, cutout, demo, gridmask, hide_and_seek, mixup, pipeline, randaugment, random_erasing

Experiment = gin.external_configurable(experiment.Experiment, module="kclass")
DataConfig = gin.external_configurable(pipeline.DataConfig, module="kclass")
OptimizerConfig = gin.external_configurable(optim.OptimizerConfig, module="kclass")
make_demo_dataset = gin.external_configurable(demo.make_demo_dataset, module="kclass")
make_multilabel_demo_dataset = gin.external_configurable(demo.make_multilabel_demo_dataset, module="kclass")

# augmentation
Mixup = gin.external_configurable(mixup.Mixup, module="kclass")
CutMix = gin.external_configurable(mixup.CutMix, module="kclass")
MixupCutMix = gin.external_configurable(mixup.MixupCutMix, module="kclass")
Cutout = gin.external_configurable(cutout.Cutout, module="kclass")
RandomErasing = gin.external_configurable(random_erasing.RandomErasing, module="kclass")
GridMask = gin.external_configurable(gridmask.GridMask, module="kclass")
HideAndSeek = gin.external_configurable(hide_and_seek.HideAndSeek, module="kclass")
AutoAugment = gin.external_configurable(autoaugment.AutoAugment, module="kclass")
RandAugment = gin.external_configurable(randaugment.RandAugment, module="kclass")
