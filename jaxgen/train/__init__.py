"""Training shared by every jaxgen model: state, pure steps, data streams, host loop, hooks, checkpoints, runs."""

from jaxgen.objectives import Context
from jaxgen.objectives import Forward
from jaxgen.objectives import GAN_LOSSES
from jaxgen.objectives import Objective
from jaxgen.objectives import Update
from jaxgen.objectives import gan_updates
from jaxgen.train._checkpoint import CheckpointManager
from jaxgen.train._checkpoint import CheckpointNotFoundError
from jaxgen.train._checkpoint import CorruptCheckpointError
from jaxgen.train._checkpoint import checkpoint_steps
from jaxgen.train._checkpoint import host_copy
from jaxgen.train._checkpoint import latest_step
from jaxgen.train._checks import check_config
from jaxgen.train._checks import check_data
from jaxgen.train._data_order import batch_indices
from jaxgen.train._data_order import stream_seed
from jaxgen.train._data_order import steps_per_epoch
from jaxgen.train._ema import ema_constant
from jaxgen.train._ema import ema_rampup
from jaxgen.train._ema import ema_start
from jaxgen.train._hooks import eval_hook
from jaxgen.train._hooks import sample_grid_hook
from jaxgen.train._loop import Hook
from jaxgen.train._loop import MetricsWriter
from jaxgen.train._loop import NonFiniteError
from jaxgen.train._loop import every
from jaxgen.train._loop import fit
from jaxgen.train._loop import read_metrics
from jaxgen.train._restore import RunNotFoundError
from jaxgen.train._restore import load_config
from jaxgen.train._restore import restore_models
from jaxgen.train._run import TrainingInterrupted
from jaxgen.train._run import data_seed_of
from jaxgen.train._run import run_devices
from jaxgen.train._run import run_training
from jaxgen.train._sharding import DataParallel
from jaxgen.train._sharding import data_mesh
from jaxgen.train._state import TrainState
from jaxgen.train._state import init_train_state
from jaxgen.train._state import merge_models
from jaxgen.train._state import split_models
from jaxgen.train._step import compiler_options
from jaxgen.train._step import make_multi_step
from jaxgen.train._step import make_train_step
from jaxgen.train._streams import Stream
from jaxgen.train._streams import Streams
from jaxgen.train._workdir import WorkdirInUseError
from jaxgen.train._workdir import claim_workdir
from jaxgen.train._workdir import write_json

__all__ = [
    "GAN_LOSSES",
    "CheckpointManager",
    "CheckpointNotFoundError",
    "CorruptCheckpointError",
    "Context",
    "Forward",
    "DataParallel",
    "Hook",
    "MetricsWriter",
    "NonFiniteError",
    "Objective",
    "RunNotFoundError",
    "Stream",
    "Streams",
    "TrainState",
    "TrainingInterrupted",
    "WorkdirInUseError",
    "Update",
    "batch_indices",
    "check_config",
    "check_data",
    "checkpoint_steps",
    "claim_workdir",
    "compiler_options",
    "data_mesh",
    "data_seed_of",
    "ema_constant",
    "ema_rampup",
    "ema_start",
    "eval_hook",
    "every",
    "fit",
    "gan_updates",
    "host_copy",
    "init_train_state",
    "latest_step",
    "load_config",
    "make_multi_step",
    "make_train_step",
    "merge_models",
    "read_metrics",
    "restore_models",
    "run_devices",
    "run_training",
    "sample_grid_hook",
    "split_models",
    "stream_seed",
    "steps_per_epoch",
    "write_json",
]
