"""Gin registration of the library's plain classes and functions: the only place Gin meets kclass.

Recipes bind these names (`Experiment.epochs = %EPOCHS`, `train/DataConfig.source = %TRAIN_LIST`).
"""

import gin

from kclass import experiment, optim
from kclass.data import demo, pipeline

Experiment = gin.external_configurable(experiment.Experiment, module="kclass")
DataConfig = gin.external_configurable(pipeline.DataConfig, module="kclass")
OptimizerConfig = gin.external_configurable(optim.OptimizerConfig, module="kclass")
make_demo_dataset = gin.external_configurable(demo.make_demo_dataset, module="kclass")
