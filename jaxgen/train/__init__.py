"""Training shared by every jaxgen model: state, pure steps, data order, host loop."""

from jaxgen.train._checks import check_config
from jaxgen.train._checks import check_data
from jaxgen.train._data_order import batch_indices
from jaxgen.train._data_order import steps_per_epoch
from jaxgen.train._gan import GAN_LOSSES
from jaxgen.train._gan import gan_updates
from jaxgen.train._loop import Hook
from jaxgen.train._loop import MetricsWriter
from jaxgen.train._loop import NonFiniteError
from jaxgen.train._loop import every
from jaxgen.train._loop import fit
from jaxgen.train._loop import read_metrics
from jaxgen.train._run import TrainingInterrupted
from jaxgen.train._run import data_seed_of
from jaxgen.train._run import run_training
from jaxgen.train._sharding import DataParallel
from jaxgen.train._sharding import data_mesh
from jaxgen.train._state import TrainState
from jaxgen.train._state import init_train_state
from jaxgen.train._state import merge_models
from jaxgen.train._state import split_models
from jaxgen.train._step import Objective
from jaxgen.train._step import Update
from jaxgen.train._step import compiler_options
from jaxgen.train._step import make_multi_step
from jaxgen.train._step import make_train_step

__all__ = [
    "DataParallel",
    "GAN_LOSSES",
    "Hook",
    "MetricsWriter",
    "NonFiniteError",
    "Objective",
    "TrainState",
    "TrainingInterrupted",
    "Update",
    "batch_indices",
    "check_config",
    "check_data",
    "compiler_options",
    "data_mesh",
    "data_seed_of",
    "every",
    "fit",
    "gan_updates",
    "init_train_state",
    "make_multi_step",
    "make_train_step",
    "merge_models",
    "read_metrics",
    "run_training",
    "split_models",
    "steps_per_epoch",
]
