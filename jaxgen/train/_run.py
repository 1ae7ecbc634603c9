"""A whole training run in a workdir: config and versions saved, checkpoints, resume, signals.

:func:`run_training` is what experiments call. Everything a run needs to
continue lives in ``workdir``: ``config.json`` (which also lets
``python -m jaxgen.sample`` rebuild the networks), ``versions.json``,
``checkpoints/<step>/`` (orbax), ``metrics.jsonl`` and ``loss_curves.png``.
Starting the same command again resumes from the newest checkpoint; because
the randomness of step ``s`` is ``fold_in(key, s)`` and the data order is a
function of ``(data_seed, s)``, the resumed run ends bit-identical to one that
never stopped.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np
import optax
from flax import nnx

from jaxgen import plot

from jaxgen.objectives import Forward, Update
from jaxgen.train import _checkpoint as ckpt
from jaxgen.train._ema import EmaSchedule, as_schedule
from jaxgen.train._loop import Hook
from jaxgen.train._loop import NonFiniteError
from jaxgen.train._loop import fit
from jaxgen.train._loop import read_metrics
from jaxgen.train._state import TrainState
from jaxgen.train._sharding import DataParallel
from jaxgen.train._sharding import data_mesh
from jaxgen.train._state import init_train_state
from jaxgen.train._step import make_multi_step
from jaxgen.train._step import make_train_step
from jaxgen.train._streams import Streams
from jaxgen.train._workdir import WorkdirLock, claim_workdir, set_aside, truncate_records, write_json

_VERSIONED = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "numpy", "ml_collections", "jaxgen")


class TrainingInterrupted(SystemExit):
  """SIGINT or SIGTERM stopped the run after a checkpoint was saved.

  A ``SystemExit`` so that an uncaught one ends the program quietly with the
  conventional status ``128 + signal number``; the message is in ``message``.
  """

  def __init__(self, signum: int, message: str):
    super().__init__(128 + signum)
    self.signum = signum
    self.message = message

  def __str__(self):
    return self.message


def data_seed_of(seed: int) -> int:
  """The data-order seed of a run, derived from its seed (independent of the PRNG key stream)."""
  return int(np.random.SeedSequence([int(seed), 0x5EED]).generate_state(1)[0])


def library_versions() -> dict[str, str]:
  """Versions of python, the libraries a run depends on, and the device kind."""
  out = {"python": platform.python_version()}
  for name in _VERSIONED:
    try:
      out[name] = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
      out[name] = "not installed"
  devices = jax.devices()
  out["backend"] = jax.default_backend()
  out["device_kind"] = devices[0].device_kind
  out["device_count"] = str(len(devices))
  return out


def _check_positive(name: str, value, *, integer: bool = True, what: str = "") -> None:
  bad = value is None or (integer and (isinstance(value, bool) or int(value) != value)) or value <= 0
  if bad:
    kind = "a positive integer" if integer else "a positive number"
    raise ValueError(f"{name} must be {kind}, got {value!r}{what}")


def _validate(*, models, optimizers, updates, num_steps, ema_networks, ema_decay, steps_per_call,
              checkpoint_every, keep_checkpoints) -> None:
  _check_positive("num_steps", num_steps, what=": set the number of training steps")
  _check_positive("steps_per_call", steps_per_call)
  _check_positive("checkpoint_every", checkpoint_every)
  if keep_checkpoints is not None:  # None keeps every checkpoint
    _check_positive("keep_checkpoints", keep_checkpoints)
  as_schedule(ema_decay)  # a bad constant decay fails here, in one line
  if ema_networks and ema_decay is None:
    raise ValueError(f"ema_networks {tuple(ema_networks)} need an ema_decay (e.g. 0.999)")
  if not models:
    raise ValueError("models is empty: pass {name: nnx.Module}")
  for name, opt in optimizers.items():
    if name not in models:
      raise ValueError(f"optimizer given for unknown network '{name}'; networks: {sorted(models)}")
    if not isinstance(opt, optax.GradientTransformation):
      raise ValueError(f"optimizers['{name}'] must be an optax.GradientTransformation, got {type(opt).__name__}")
  if not updates:
    raise ValueError("updates is empty: pass at least one train.Update")
  for u in updates:
    if isinstance(u, Forward):
      continue
    if not isinstance(u, Update):
      raise ValueError(f"updates must be train.Update (or train.Forward) objects, got {type(u).__name__}")
    for network in u.networks:
      if network not in optimizers:
        raise ValueError(f"update '{u.name}' moves '{network}', which has no optimizer; optimizers: {sorted(optimizers)}")
  if not any(isinstance(u, Update) for u in updates):
    raise ValueError("updates holds only train.Forward objects: pass at least one train.Update")


def run_devices(num_devices: int | None = None) -> list[jax.Device]:
  """The devices a run trains on.

  ``None``: every local accelerator, or one device on CPU (the host platform's
  extra devices, forced with ``--xla_force_host_platform_device_count``, share
  the same cores: they are for testing sharded programs, not for speed).
  An integer n: the first n local devices.
  """
  devices = jax.local_devices()
  if num_devices is None:
    return devices[:1] if devices[0].platform == "cpu" else devices
  if isinstance(num_devices, bool) or int(num_devices) != num_devices or not 1 <= num_devices <= len(devices):
    raise ValueError(f"num_devices must be an integer in [1, {len(devices)}] (the local devices), got {num_devices!r}")
  return devices[: int(num_devices)]


class _Stopper:
  """Turns SIGINT/SIGTERM into a flag read between chunks; a second signal stops at once."""

  def __init__(self):
    self.signum: int | None = None
    self._previous: dict[int, Any] = {}

  def _handle(self, signum, frame):
    if self.signum is not None:
      # Second signal: the user insists; give up on the clean stop.
      self.restore()
      raise KeyboardInterrupt
    self.signum = signum
    print(
        f"\n{signal.Signals(signum).name} received: stopping after the current chunk and saving a checkpoint "
        "(send it again to stop without saving).",
        file=sys.stderr,
        flush=True,
    )

  def install(self) -> None:
    if threading.current_thread() is not threading.main_thread():
      return  # signal handlers can only be set from the main thread
    for s in (signal.SIGINT, signal.SIGTERM):
      self._previous[s] = signal.signal(s, self._handle)

  def restore(self) -> None:
    for s, handler in self._previous.items():
      signal.signal(s, handler)
    self._previous.clear()


def run_training(
    *,
    workdir: str | os.PathLike,
    config: Any,
    models: Mapping[str, nnx.Module],
    optimizers: Mapping[str, optax.GradientTransformation],
    updates: Sequence[Update | Forward],
    data: Any,
    num_steps: int,
    batch_shape: tuple[int, ...],
    seed: int,
    aux: Any = None,
    ema_networks: Sequence[str] = (),
    ema_decay: float | EmaSchedule | None = None,
    skip_nonfinite: bool = False,
    steps_per_call: int = 100,
    unroll_steps: bool = False,
    compiler_options: dict[str, Any] | None = None,
    num_devices: int | None = None,
    checkpoint_every: int = 1000,
    checkpoint_every_minutes: float | None = 10.0,
    keep_checkpoints: int | None = 3,
    hooks: Sequence[Hook] = (),
    description: str = "train",
    progress: bool = True,
    resume: bool = True,
    allow_config_change: bool = False,
) -> tuple[dict[str, Any], TrainState]:
  """Trains ``models`` in ``workdir``, resuming from its newest checkpoint.

  Args:
    workdir: directory of the run (created); see the module docstring.
    config: the run's ConfigDict (or dict), saved to ``workdir/config.json``.
    models: network name -> initialized NNX module.
    optimizers: network name -> optax transformation.
    updates: the :class:`Update` s of one step, with any :class:`Forward` s
      they share.
    data: stream name -> a pytree of numpy arrays (leading axis = examples),
      a random-access source, or a :class:`Stream`; see :class:`Streams`.
      ``data={"x": images}`` is one stream; each stream has its own order.
    num_steps: total steps of the run.
    batch_shape: examples per step, e.g. ``(128,)`` or ``(k, 64)`` (the
      default of every stream).
    seed: seed of the PRNG key (``jax.random.key(seed)``) and of the data
      order (:func:`data_seed_of`).
    aux: the initial auxiliary state (a pytree of arrays the objectives read
      and replace), checkpointed with the rest.
    ema_networks: networks whose parameters get an EMA copy.
    ema_decay: the EMA decay, a float or a schedule (:func:`ema_start`,
      :func:`ema_rampup`); required with ``ema_networks``.
    skip_nonfinite: skip updates with a non-finite loss or gradient instead
      of stopping.
    steps_per_call: steps compiled into one dispatch.
    unroll_steps: unroll those steps instead of looping over them (see
      :func:`make_multi_step`: convolutional models on CPU).
    compiler_options: XLA options of the step program (default
      :func:`compiler_options`).
    num_devices: devices to train on, data-parallel (:func:`run_devices`;
      default every local accelerator, one device on CPU). The batch size
      must divide by it.
    checkpoint_every: save when a chunk crosses a multiple of this many
      steps (and at the end, and on SIGINT/SIGTERM).
    checkpoint_every_minutes: also save after a chunk that ends this many
      minutes of wall time after the last save, so that a killed run never
      loses more than that; ``None`` to save by steps only.
    keep_checkpoints: how many of the newest checkpoints to keep; None keeps all
      (to evaluate the run along its course).
    hooks: ``hook(state, step, metrics)`` after every chunk (after the
      checkpoint hook).
    description: label of the progress bar.
    progress: show the progress bar.
    resume: continue from ``workdir/checkpoints`` when it holds a checkpoint
      (otherwise a checkpoint there is an error, to avoid mixing runs). A
      corrupt newest checkpoint is reported in one line and the newest intact
      one is used; the corrupt ones are moved to ``corrupt_checkpoints/``.
    allow_config_change: resume even though ``config`` differs from the
      run's ``config.json`` (beyond its length and reporting settings); every
      config is kept in ``config_history.jsonl``.

  Returns:
    ``(graphdefs, state)`` at ``num_steps``.

  Raises:
    ValueError: bad arguments (before any compute), a workdir of another
      model family or config, or a checkpoint that does not fit the run.
    WorkdirInUseError: another live process is training in ``workdir``.
    NonFiniteError: a loss or gradient became non-finite; the last good
      checkpoint is kept and the message names the step and the term.
    TrainingInterrupted: SIGINT/SIGTERM; a checkpoint of the last completed
      chunk was saved. Uncaught, it exits with status 128 + signal number.
  """
  _validate(
      models=models, optimizers=optimizers, updates=updates, num_steps=num_steps, ema_networks=ema_networks,
      ema_decay=ema_decay, steps_per_call=steps_per_call, checkpoint_every=checkpoint_every,
      keep_checkpoints=keep_checkpoints,
  )
  if not isinstance(batch_shape, (tuple, list)) or not batch_shape:
    raise ValueError(f"batch_shape must be a non-empty tuple such as (batch_size,), got {batch_shape!r}")
  for d in batch_shape:
    _check_positive("every entry of batch_shape", d, what=f" in {tuple(batch_shape)}: set batch_size >= 1")
  batch_shape = tuple(int(d) for d in batch_shape)
  data_seed = data_seed_of(seed)
  streams = Streams(data, batch_shape=batch_shape, data_seed=data_seed, num_steps=num_steps)
  dp = DataParallel(data_mesh(run_devices(num_devices)))
  for shape in streams.batch_shapes.values():
    dp.check_batch(shape)
  workdir = os.path.abspath(os.fspath(workdir))
  os.makedirs(workdir, exist_ok=True)
  with WorkdirLock(workdir):
    return _run_locked(
        workdir=workdir, config=config, models=models, optimizers=optimizers, updates=updates, streams=streams,
        dp=dp, num_steps=num_steps, seed=seed, data_seed=data_seed, aux=aux, ema_networks=ema_networks,
        ema_decay=ema_decay, skip_nonfinite=skip_nonfinite, steps_per_call=steps_per_call,
        unroll_steps=unroll_steps, compiler_options=compiler_options, checkpoint_every=checkpoint_every,
        checkpoint_every_minutes=checkpoint_every_minutes, keep_checkpoints=keep_checkpoints, hooks=hooks,
        description=description, progress=progress, resume=resume, allow_config_change=allow_config_change,
    )


def _note(message: str) -> None:
  print(message, file=sys.stderr, flush=True)


def _restore_or_start(manager, template, *, workdir, num_steps, data_seed, resume):
  """The state to continue from: the newest intact checkpoint, or ``template`` at step 0."""
  ckpt_dir, metrics_path = manager.directory, os.path.join(workdir, "metrics.jsonl")
  latest = manager.latest_step()
  if latest is None:
    kept = set_aside(metrics_path)
    if kept is not None:
      _note(f"No checkpoint in {ckpt_dir}: starting from step 0 (the earlier metrics.jsonl is kept as "
            f"{os.path.basename(kept)}).")
    return template
  if not resume:
    raise ValueError(
        f"{ckpt_dir} already holds a checkpoint (step {latest}) and resume=False: "
        "use a new workdir, delete the checkpoints, or resume."
    )
  if latest > num_steps:
    raise ValueError(
        f"the checkpoint in {ckpt_dir} is at step {latest}, past num_steps={num_steps}: "
        "raise num_steps or use a new workdir."
    )

  def read(step):
    info = manager.info(step)
    if info.get("data_seed") is not None and info["data_seed"] != data_seed:
      raise ValueError(
          f"the checkpoint in {ckpt_dir} was written by a run with another seed: "
          "resume with the original seed or use a new workdir."
      )
    return manager.restore(template, step=step)

  try:
    step, state = manager.newest_intact(read, log=_note)
  except ckpt.CorruptCheckpointError as e:
    raise ValueError(str(e)) from None
  # Damaged checkpoints newer than the one restored go aside: the run will save those steps again.
  for bad in (s for s in manager.all_steps() if s > step):
    aside = os.path.join(workdir, "corrupt_checkpoints")
    os.makedirs(aside, exist_ok=True)
    os.replace(os.path.join(ckpt_dir, str(bad)), os.path.join(aside, str(bad)))
    _note(f"Moved the corrupt checkpoint {bad} to {aside}.")
  truncate_records(metrics_path, step)
  _note(f"Resuming from step {step} of {num_steps} ({ckpt_dir}).")
  return state


def _run_locked(*, workdir, config, models, optimizers, updates, streams, dp, num_steps, seed, data_seed, aux,
                ema_networks, ema_decay, skip_nonfinite, steps_per_call, unroll_steps, compiler_options,
                checkpoint_every, checkpoint_every_minutes, keep_checkpoints, hooks, description, progress,
                resume, allow_config_change):
  ckpt_dir = os.path.join(workdir, "checkpoints")
  metrics_path = os.path.join(workdir, "metrics.jsonl")
  claim_workdir(workdir, config, allow_config_change=allow_config_change)
  graphdefs, state = init_train_state(
      models, optimizers, jax.random.key(int(seed)), ema_networks=tuple(ema_networks), aux=aux
  )
  manager = ckpt.CheckpointManager(ckpt_dir, max_to_keep=keep_checkpoints)
  try:
    state = _restore_or_start(manager, state, workdir=workdir, num_steps=num_steps, data_seed=data_seed,
                              resume=resume)
    write_json(os.path.join(workdir, "versions.json"), library_versions())

    step_fn = make_train_step(graphdefs, optimizers, updates, ema_decay=ema_decay, skip_nonfinite=skip_nonfinite)
    multi = dp.compile(make_multi_step(step_fn, unroll=unroll_steps, compiler_options=compiler_options),
                       batch_ndims=streams.batch_ndims)
    device_data = dp.put_data(streams.resident)
    state = dp.put_state(state)

    stopper = _Stopper()
    last_saved = {"step": int(state.step), "time": time.monotonic()}

    def save(s):
      manager.save(s, data_seed=data_seed)
      last_saved.update(step=int(s.step), time=time.monotonic())

    def checkpoint_hook(s, step, _metrics):
      due = step // checkpoint_every > last_saved["step"] // checkpoint_every or step >= num_steps
      if checkpoint_every_minutes is not None:
        due = due or time.monotonic() - last_saved["time"] >= 60.0 * checkpoint_every_minutes
      if due:
        save(s)

    # Last, so that the caller's hooks have seen the chunk (and may have sent the signal).
    def stop_hook(s, step, _metrics):
      if stopper.signum is not None:
        if last_saved["step"] != step:
          save(s)
        name = signal.Signals(stopper.signum).name
        raise TrainingInterrupted(
            stopper.signum,
            f"{name}: stopped at step {step} of {num_steps}; checkpoint saved in {ckpt_dir}. "
            f"Run the same command with the same workdir to resume.",
        )

    stopper.install()
    try:
      state = fit(
          multi, state, device_data, streams,
          num_steps=num_steps, steps_per_call=steps_per_call, metrics_path=metrics_path,
          hooks=[checkpoint_hook, *hooks, stop_hook], progress=progress, description=description,
      )
    except NonFiniteError as e:
      kept = manager.latest_step()
      where = f"step {kept} in {ckpt_dir}" if kept is not None else "none (no checkpoint was saved yet)"
      raise NonFiniteError(f"{e} Last good checkpoint: {where}.") from None
    except TrainingInterrupted as e:
      print(e.message, file=sys.stderr, flush=True)
      raise
    finally:
      stopper.restore()
    if int(state.step) > last_saved["step"]:
      save(state)
  finally:
    manager.close()
  _save_loss_curves(workdir, metrics_path)
  return graphdefs, state


def _save_loss_curves(workdir: str, metrics_path: str) -> None:
  if not os.path.exists(metrics_path):
    return
  records = read_metrics(metrics_path)
  keys = sorted({k for r in records for k in r if k.startswith("loss/")})
  if not records or not keys:
    return
  plot.save_loss_curves(os.path.join(workdir, "loss_curves.png"), records, keys, title=os.path.basename(workdir))
