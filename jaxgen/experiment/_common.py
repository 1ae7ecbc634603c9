"""What every experiment shares: the command line, the one reader of ``config.train``, timings."""

from __future__ import annotations

import functools
import hashlib
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import numpy as np
import optax
import ml_collections
from absl import app, flags, logging
from ml_collections import config_flags
from tqdm.auto import tqdm

from jaxgen import data, train

OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("constant", "exponential", "iwae", "linear_decay")
# A user's mistake: printed as one line with exit status 2. Anything else is a bug and keeps its traceback.
USER_ERRORS = (
    ValueError, data.DatasetNotFoundError, train.CheckpointNotFoundError, train.NonFiniteError, train.WorkdirInUseError
)


def define_flags(config_file: str) -> None:
  """Defines ``--config`` (default ``config_file``), ``--workdir``, ``--data_dir`` and ``--debug``."""
  config_flags.DEFINE_config_file("config", config_file, "Config file, optionally with a preset: config.py:<preset>.")
  flags.DEFINE_string("workdir", None, "Directory of the run (resumed when it holds checkpoints).", required=True)
  flags.DEFINE_string("data_dir", None, "Folder with local data files or tfds data (sets config.data.data_dir).")
  flags.DEFINE_bool("debug", False, "Raise errors with their traceback (also JAXGEN_DEBUG=1).")


def run_main(train_fn: Callable[[Any, str], Any], check_fn: Callable[[Any], None], config_file: str) -> None:
  """The ``main`` of an experiment: flags, the whole config checked, then ``train_fn(config, workdir)``.

  ``check_fn(config)`` runs before anything is loaded or compiled. An error of
  the user's (``ValueError`` and the library's error classes) prints as one
  line, ``<experiment>: <message>``, on stderr and exits with status 2; with
  ``--debug`` or ``JAXGEN_DEBUG=1`` it is raised with its traceback.

  Args:
    train_fn: the experiment, ``train_fn(config, workdir)``.
    check_fn: its config check, ``check_fn(config)``.
    config_file: the experiment's ``config.py`` (the default ``--config``).
  """
  name = os.path.basename(os.path.dirname(os.path.abspath(config_file)))
  try:
    # ml_collections applies the --config.* overrides here, at definition, not in app.run's parsing.
    define_flags(config_file)
  except (AttributeError, KeyError) as e:
    if _debug(sys.argv):
      raise
    message = e.args[0] if e.args else e
    while isinstance(message, BaseException) and message.args:
      message = message.args[0]
    _user_error(name, f"unknown field in a --config.* override: {message}")
  app.run(functools.partial(_main, train_fn, check_fn, name), flags_parser=functools.partial(_parse_flags, name))


def _debug(argv: Sequence[str] = ()) -> bool:
  return os.environ.get("JAXGEN_DEBUG") == "1" or "--debug" in argv or (flags.FLAGS.is_parsed() and flags.FLAGS.debug)


def _close_progress_bars() -> None:
  # A bar left open would redraw itself after the message, on the message's line.
  for bar in list(getattr(tqdm, "_instances", ())):
    bar.close()


def _user_error(name: str, error: BaseException) -> None:
  _close_progress_bars()
  print(f"{name}: {' '.join(str(error).split())}", file=sys.stderr, flush=True)
  sys.exit(2)


def _parse_flags(name: str, argv: Sequence[str]) -> list[str]:
  """absl's flag parsing, a bad flag or a config file's error (a bad preset) printed as one line."""
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    if _debug(argv):
      raise
    error = e
    # ml_collections re-raises get_config's error with its traceback in the message; the original is the context.
    if "Error whilst parsing config file" in str(e):
      while error.__context__ is not None:
        error = error.__context__
    _user_error(name, error)


def _main(train_fn, check_fn, name: str, argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  if not flags.FLAGS["verbosity"].present:
    # absl logs at INFO unless told otherwise, and orbax logs every save there; -v 0 brings it back.
    logging.set_verbosity(logging.WARNING)
  config = flags.FLAGS.config
  # SIGTERM outside training (loading, evaluation, pictures) ends like Ctrl-C, in one line; during
  # training run_training's own handler takes over and saves a checkpoint first.
  signal.signal(signal.SIGTERM, _terminate)
  try:
    if flags.FLAGS.data_dir is not None:
      if "data_dir" not in config.data:
        raise ValueError("--data_dir: this experiment reads no data files (config.data has no data_dir)")
      config.data.data_dir = flags.FLAGS.data_dir
    check_fn(config)
    train_fn(config, flags.FLAGS.workdir)
  except USER_ERRORS as e:
    if _debug():
      raise
    _user_error(name, e)
  except (KeyboardInterrupt, _Terminated) as e:
    # A second Ctrl-C (training's first one stops at a chunk end and saves), or a signal during
    # evaluation or sampling: whatever was saved stays resumable.
    if _debug():
      raise
    _close_progress_bars()
    print(f"{name}: interrupted; run the same command to resume from the last checkpoint.", file=sys.stderr,
          flush=True)
    sys.exit(128 + (signal.SIGTERM if isinstance(e, _Terminated) else signal.SIGINT))


class _Terminated(Exception):
  """SIGTERM arrived outside training."""


def _terminate(signum, frame):
  raise _Terminated()


def base_config(*, model: str, dataset: str = "digits") -> ml_collections.ConfigDict:
  """A config in the one layout every experiment shares, with the training defaults filled in.

  An experiment's ``get_config`` starts from it and sets what is its own
  (the model's hyperparameters, the data's options, the evaluation).

  Args:
    model: ``config.model.name``, a registered model family.
    dataset: ``config.data.name``.
  """
  placeholder = ml_collections.config_dict.placeholder
  config = ml_collections.ConfigDict()
  config.seed = 0
  # Resume a run whose config changed (beyond its length and reporting); recorded in config_history.jsonl.
  config.allow_config_change = False
  config.data = ml_collections.ConfigDict({"name": dataset, "data_dir": placeholder(str)})
  config.model = ml_collections.ConfigDict({"name": model})
  config.train = ml_collections.ConfigDict(dict(
      batch_size=64,
      num_steps=placeholder(int),  # None: num_epochs epochs
      num_epochs=placeholder(int),
      optimizer="adam", learning_rate=1e-3, b1=0.9, b2=0.999, eps=1e-8, momentum=0.9, schedule="constant",
      ema_decay=placeholder(float),
      steps_per_call=100,
      unroll_steps=False,
      checkpoint_every=100_000,
      checkpoint_every_minutes=10.0,  # also save after this much wall time
      keep_checkpoints=3,  # the newest this many are kept; 0 keeps every one (to evaluate along the run)
      num_devices=placeholder(int),  # None: every accelerator, one device on CPU
      skip_nonfinite=False,  # True: skip an update whose loss or gradient is not finite instead of stopping
  ))
  config.eval = ml_collections.ConfigDict()
  return config


def check_experiment_config(
    config,
    *,
    dataset_size: int | None = None,
    examples_per_step: int | None = None,
    known_datasets: Sequence[str] | None = None,
    known_losses: Sequence[str] | None = None,
) -> None:
  """Checks an experiment's whole config (``train.check_config``), its optimizer and its length.

  Args:
    config: the experiment's config.
    dataset_size: training examples, once the data is loaded (checks that a
      step's batch fits).
    examples_per_step: examples of one step when not ``train.batch_size``
      (times k).
    known_datasets: valid ``config.data.name`` (default ``jaxgen.data.DATASETS``).
    known_losses: valid ``config.train.loss``.
  """
  train.check_config(
      config, dataset_size=dataset_size, examples_per_step=examples_per_step, known_datasets=known_datasets,
      known_losses=known_losses,
      known={"train.optimizer": OPTIMIZERS, "train.schedule": SCHEDULES, "data.binarize": data.BINARIZATIONS},
  )
  # Built once now for its one-line errors (a missing field of the chosen optimizer), not to be used.
  make_optimizer(config.train, steps_per_epoch=1)
  if config.train.num_steps is None and num_epochs_of(config.train) is None:
    raise ValueError("config.train.num_steps and config.train.num_epochs are both unset: set one of them")


def num_epochs_of(t) -> int | None:
  """``t.num_epochs``; unset under the "iwae" schedule, all of its stages (sum of 3^i, i < num_stages)."""
  if t.num_epochs is None and t.schedule == "iwae":
    return sum(3**i for i in range(t.num_stages))
  return t.num_epochs


def num_steps_of(t, steps_per_epoch: int) -> int:
  """The run's steps: ``t.num_steps``, or ``num_epochs_of(t)`` epochs when it is ``None``."""
  if t.num_steps is not None:
    return int(t.num_steps)
  return int(num_epochs_of(t)) * steps_per_epoch


def learning_rate_schedule(t, steps_per_epoch: int):
  """The learning rate of ``config.train``: a float, or an optax schedule of the step.

  ``t.schedule``:

  * "constant": ``t.learning_rate``.
  * "exponential": ``learning_rate / lr_decay**step``, floored at
    ``min_learning_rate`` (pylearn2's ExponentialDecay in the 2014 GAN's
    mnist.yaml).
  * "iwae": stage i < ``num_stages`` lasts 3^i epochs at
    ``learning_rate * 10^(-i/7)`` (Burda et al. 2016, Section 5).
  * "linear_decay": constant for the first ``1 - decay_fraction`` of the run,
    then linearly down to 0 at its last step (CycleGAN and Pix2pix: 100
    epochs constant, 100 decaying, Zhu et al. 2017, Section 4).
  """
  lr = t.learning_rate
  if t.schedule == "constant":
    return lr  # A float: the optimizer then keeps no schedule in its state.
  if t.schedule == "exponential":
    return optax.exponential_decay(lr, transition_steps=1, decay_rate=1.0 / t.lr_decay, end_value=t.min_learning_rate)
  if t.schedule == "iwae":
    boundaries, epochs = {}, 0
    for i in range(1, t.num_stages):
      epochs += 3 ** (i - 1)
      boundaries[epochs * steps_per_epoch] = 10.0 ** (-1.0 / 7.0)
    return optax.piecewise_constant_schedule(lr, boundaries)
  if t.schedule == "linear_decay":
    if not 0 <= t.decay_fraction <= 1:
      raise ValueError(f"config.train.decay_fraction must be in [0, 1], got {t.decay_fraction}")
    total = num_steps_of(t, steps_per_epoch)
    decay = max(1, round(total * t.decay_fraction))
    return optax.linear_schedule(lr, 0.0, transition_steps=decay, transition_begin=total - decay)
  raise ValueError(f"unknown config.train.schedule {t.schedule!r}; choose one of {', '.join(SCHEDULES)}")


def make_optimizer(t, steps_per_epoch: int) -> optax.GradientTransformation:
  """The optimizer of ``config.train``, with :func:`learning_rate_schedule`.

  ``t.optimizer``: "adam" (``b1``, ``b2``, ``eps``) or "sgd" (``momentum``;
  with ``momentum_final`` set, the momentum rises linearly from ``momentum``
  to it over ``momentum_saturate_steps`` steps, pylearn2's MomentumAdjustor).
  """
  lr = learning_rate_schedule(t, steps_per_epoch)
  if t.optimizer == "adam":
    return optax.adam(lr, b1=t.b1, b2=t.b2, eps=t.eps)
  if t.optimizer == "sgd":
    if t.get("momentum_final") is None:
      return optax.sgd(lr, momentum=t.momentum or None)
    momentum = optax.linear_schedule(t.momentum, t.momentum_final, t.momentum_saturate_steps)
    return optax.inject_hyperparams(optax.sgd)(learning_rate=lr, momentum=momentum)
  raise ValueError(f"unknown config.train.optimizer {t.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")


def batch_shape_of(t, batch_size: int) -> tuple[int, ...]:
  """``(batch_size,)``, or ``(k, batch_size)``: a minibatch for each of k discriminator steps."""
  return (t.k, batch_size) if t.get("k", 1) > 1 else (batch_size,)


def run_from_config(
    config,
    workdir: str,
    *,
    models,
    optimizers,
    updates,
    data: Mapping[str, Any],
    num_steps: int,
    batch_shape: tuple[int, ...],
    ema_networks: Sequence[str],
    description: str,
    seed: int | None = None,
    aux: Any = None,
    hooks: Sequence[train.Hook] = (),
    compiler_options: dict[str, Any] | None = None,
    ema_schedule: Callable | None = None,
    progress: bool = True,
):
  """``train.run_training`` with the run's knobs read from ``config.train``.

  ``ema_networks`` get an EMA when ``config.train.ema_decay`` is set (from
  step ``config.train.ema_start`` on when that is set: BigGAN's start step);
  ``seed`` defaults to ``config.seed``; ``aux`` is the initial auxiliary
  state (an image pool); ``config.allow_config_change`` lets a changed config
  resume the run; ``ema_schedule`` (``train.ema_rampup``: StyleGAN2's)
  replaces the config's EMA decay. Returns ``(graphdefs, state)``.
  """
  t = config.train
  ema_decay = t.ema_decay if ema_schedule is None else ema_schedule
  if ema_schedule is None and ema_decay is not None and t.get("ema_start") is not None:
    ema_decay = train.ema_start(ema_decay, t.ema_start)
  return train.run_training(
      workdir=workdir, config=config, models=models, optimizers=optimizers, updates=updates, data=data,
      num_steps=num_steps, batch_shape=batch_shape, seed=config.seed if seed is None else seed, aux=aux,
      ema_networks=ema_networks if ema_decay is not None else (), ema_decay=ema_decay,
      steps_per_call=min(t.steps_per_call, num_steps), unroll_steps=t.unroll_steps, num_devices=t.num_devices,
      checkpoint_every=t.checkpoint_every, checkpoint_every_minutes=t.checkpoint_every_minutes,
      keep_checkpoints=t.get("keep_checkpoints", 3) or None, compiler_options=compiler_options, hooks=hooks,
      description=description, progress=progress,
      allow_config_change=config.allow_config_change, skip_nonfinite=bool(t.get("skip_nonfinite", False)),
  )


def steady_speed(workdir: str, steps_per_epoch: int | None = None) -> dict[str, float]:
  """Training speed from ``workdir/metrics.jsonl``, compilation left out.

  Returns:
    ``steps_per_sec``: the median over the chunks after the first (the first
    includes compilation; it alone when there is no other);
    ``first_chunk_seconds``; with ``steps_per_epoch``, ``epoch_seconds``.
    Empty when no chunk was recorded.
  """
  records = [r for r in train.read_metrics(os.path.join(workdir, "metrics.jsonl")) if "steps_per_sec" in r]
  if not records:
    return {}
  rate = float(np.median([r["steps_per_sec"] for r in records[1:]] or [records[0]["steps_per_sec"]]))
  out = {"steps_per_sec": rate, "first_chunk_seconds": float(records[0]["seconds"])}
  if steps_per_epoch is not None:
    out["epoch_seconds"] = steps_per_epoch / rate
  return out


def _small_margin(small: int, large: int) -> bool:
  """A side change by an even margin of at most a quarter: padding (MNIST 28 <-> 32), not resizing (8 <-> 16)."""
  return small < large <= small + small // 4 and (large - small) % 2 == 0


def prepare_images(images: np.ndarray, side: int) -> np.ndarray:
  """Digits to the experiment's square side: zero-padded by a small margin (MNIST 28 -> 32), resized otherwise."""
  h = images.shape[1]
  if h == side:
    return images
  return data.pad_to(images, side) if _small_margin(h, side) else data.resize(images, side)


def train_images_of(config, ds) -> np.ndarray:
  """``ds.train`` at ``config.model.image_shape`` (:func:`prepare_images`), checked; one-line errors for a mismatch."""
  shape = tuple(config.model.image_shape)
  if ds.train.shape[-1] != shape[-1]:
    raise ValueError(f"config.model.image_shape has {shape[-1]} channels but {config.data.name} images have "
                     f"{ds.train.shape[-1]}: set config.model.image_shape=({shape[0]}, {shape[1]}, {ds.train.shape[-1]})")
  x = prepare_images(ds.train, shape[0])
  data.check_images(x, image_shape=shape, what="train images")
  return x


def to_classifier_input(images: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
  """The inverse of :func:`prepare_images`: the classifier's own image size (centre crop or resize)."""
  side, h = shape[0], images.shape[1]
  if h == side:
    return images
  if _small_margin(side, h):
    m = (h - side) // 2
    return images[:, m:m + side, m:m + side]
  return data.resize(images, side)


def results_header(config, feature_net) -> dict[str, Any]:
  """The fields every GAN experiment's ``results.json`` opens with: data, length, seeds, device, feature network."""
  return {
      "dataset": config.data.name,
      "num_steps": int(config.train.num_steps),
      "batch_size": int(config.train.batch_size),
      "seed": int(config.seed),
      "eval_seed": int(config.eval.seed),
      "device": jax.devices()[0].device_kind,
      "feature_network": {"dataset": feature_net.dataset, "test_accuracy": feature_net.accuracy,
                          "cache": feature_net.path},
  }


# Results files are written whole or not at all, as the training core writes its own.
write_json = train.write_json


def fingerprint(*arrays: np.ndarray) -> str:
  """A short hash of the arrays' bytes: the key of what was computed from them."""
  h = hashlib.sha256()
  for a in arrays:
    h.update(np.ascontiguousarray(a).tobytes())
  return h.hexdigest()[:16]


def cached_arrays(path: str, key: str, compute) -> dict[str, np.ndarray]:
  """The arrays in the ``.npz`` at ``path`` when it was made from the data of fingerprint ``key``; else
  ``compute()``'s, saved there whole or not at all."""
  if os.path.exists(path):
    with np.load(path) as f:
      if str(f["fingerprint"]) == key:
        return {name: f[name] for name in f.files if name != "fingerprint"}
  arrays = compute()
  tmp = path + ".tmp.npz"
  np.savez(tmp, fingerprint=key, **arrays)
  os.replace(tmp, path)
  return arrays


def in_batches(fn, x: np.ndarray, batch_size: int = 500) -> np.ndarray:
  """``fn(batch, i)`` over the rows of ``x``, ``batch_size`` at a time (batch ``i``; the last padded with copies of
  its last row, so one compilation serves every batch), concatenated."""
  out = []
  for i, start in enumerate(range(0, len(x), batch_size)):
    part = x[start:start + batch_size]
    m = len(part)
    padded = np.concatenate([part, np.repeat(part[-1:], batch_size - m, axis=0)]) if m < batch_size else part
    out.append(np.asarray(fn(padded, i))[:m])
  return np.concatenate(out)


def check_positive_int(name: str, value) -> None:
  """A one-line ``ValueError`` unless ``value`` is a positive integer (``bool`` refused)."""
  if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
    raise ValueError(f"{name} must be a positive integer, got {value!r}")
