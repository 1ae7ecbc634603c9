"""Networks restored from a run's workdir, without its data or training code.

For sampling and evaluation, and for systems built on another run's networks
(StackGAN's frozen stage I, Age-cGAN's generator under its encoder): the
networks are rebuilt from ``RUN/config.json`` through the model registry
(``config.model.name``), and only their parameters, other state and EMA are
read from the checkpoint (not the optimizer).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import ml_collections
from flax import nnx

from jaxgen.models import build_models
from jaxgen.train._checkpoint import CheckpointManager, CheckpointNotFoundError, CorruptCheckpointError, latest_step
from jaxgen.train._state import TrainState, merge_models, split_models


class RunNotFoundError(ValueError):
  """A workdir holds no run that can be restored (missing folder, config or checkpoint)."""


def load_config(workdir: str | os.PathLike) -> ml_collections.ConfigDict:
  """The ConfigDict saved in ``workdir/config.json`` by :func:`jaxgen.train.run_training`."""
  workdir = os.fspath(workdir)
  if not os.path.isdir(workdir):
    raise RunNotFoundError(f"no workdir {workdir}: pass the --workdir of a training run")
  path = os.path.join(workdir, "config.json")
  if not os.path.exists(path):
    raise RunNotFoundError(f"no config.json in {workdir}: it is written by train.run_training; pass the run's workdir")
  try:
    with open(path) as f:
      config = json.load(f)
  except (json.JSONDecodeError, UnicodeDecodeError) as e:
    raise RunNotFoundError(f"{path} is not valid JSON ({e}): restore it from a copy or retrain") from None
  if not isinstance(config, dict) or not isinstance(config.get("model"), dict) or "name" not in config["model"]:
    raise RunNotFoundError(f"{path} has no model.name: the config must name a registered model family")
  return ml_collections.ConfigDict(config)


def restore_models(
    workdir: str | os.PathLike, *, step: int | None = None, use_ema: bool = True
) -> tuple[dict[str, nnx.Module], Any, int]:
  """Rebuilds a run's networks from its config and latest (or ``step``) checkpoint.

  Args:
    workdir: the run's directory.
    step: checkpoint step; default the latest.
    use_ema: use the EMA parameters (and their BatchNorm statistics) of the
      networks that keep one.

  Returns:
    ``(models, config, step)``: network name -> NNX module, the run's config,
    and the checkpoint step read.

  Raises:
    RunNotFoundError: no workdir, config or intact checkpoint there (a
      corrupt newest checkpoint is reported on stderr and an older intact one
      used, unless ``step`` asks for that one).
  """
  config = load_config(workdir)
  models = build_models(config, nnx.Rngs(0))
  graphdefs, params, rest = split_models(models)
  ckpt_dir = os.path.join(os.fspath(workdir), "checkpoints")
  if latest_step(ckpt_dir) is None:
    raise RunNotFoundError(f"no checkpoint in {ckpt_dir}: train the run first (or pass another --workdir)")
  def read(s):
    info = mngr.info(s)
    ema_networks = [n for n in info.get("ema_networks", []) if n in params] if use_ema else []
    templates = {"params": params, "rest": rest,
                 "ema": {n: {"params": params[n], "rest": rest[n]} for n in ema_networks}}
    return mngr.restore_items(templates, step=s)

  with CheckpointManager(ckpt_dir, max_to_keep=None, create=False) as mngr:
    try:
      if step is None:  # the newest intact one, saying which were skipped
        step, parts = mngr.newest_intact(read, log=lambda m: print(m, file=sys.stderr, flush=True))
      else:
        mngr.info(step)  # a missing step: CheckpointNotFoundError with the available ones
        parts = read(step)
    except (CheckpointNotFoundError, CorruptCheckpointError) as e:
      raise RunNotFoundError(str(e)) from None
  state = TrainState(step=step, key=None, params=parts["params"], rest=parts["rest"], opt_state={}, ema=parts["ema"])
  return merge_models(graphdefs, state, use_ema=use_ema), config, int(step)
