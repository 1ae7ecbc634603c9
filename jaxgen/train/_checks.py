"""Checks of a run's config and data before any compute, each failing with a one-line fix.

:func:`check_config` catches unknown model / dataset / loss names (suggesting
the nearest), model hyperparameters the family does not have or refuses,
non-positive sizes and rates, and a batch larger than the dataset;
:func:`check_data` catches data that does not fit the model (shape, channels,
value range against the likelihood, NaN). Experiments check the config before
loading anything and again, with the dataset's size, once the data is loaded.

The config layout they read (every section optional here)::

  seed
  data:  name, data_dir, and data options (binarize, num_valid, ...)
  model: name and the family's hyperparameters
  train: batch_size, num_steps (None: from num_epochs), num_epochs, the
         optimizer's fields, loss, k, ema_decay, steps_per_call, ...
  eval:  evaluation settings
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

# Keys (matched against the last component of a config path) whose values are sizes: integers >= 1.
# None, a placeholder, means unset (num_steps None: count the steps from num_epochs).
_POSITIVE_INT = re.compile(
    r"^(batch_size|\w+_batch_size|num_steps|num_epochs|num_stages|num_devices|num_trials|num_train|num_valid|"
    r"num_images|num_sigmas|num_samples|\w+_samples|steps_per_call|checkpoint_every|every|"
    r"\w+_every|k|packing|kernel_size|latent_dim|\w+_dim|\w+_features|\w+_units|\w+_sizes|\w+_pieces|"
    r"\w+_channels|\w+_layers|\w+_hidden|\w+_chunk|\w+_saturate_steps|image_shape)$"
)
# Counts where 0 means "no limit": integers >= 0.
_COUNT_OR_ZERO = re.compile(r"^(keep_checkpoints)$")
# Rates, step sizes and durations: numbers > 0.
_POSITIVE_FLOAT = re.compile(r"^(learning_rate|lr|\w+_learning_rate|\w+_lr|lr_decay|\w+_minutes)$")
# Probabilities of keeping a unit: (0, 1].
_KEEP_PROB = re.compile(r"^(\w+_keep|keep_prob)$")
# Decays and drop rates: [0, 1).
_UNIT_OPEN = re.compile(r"^(ema_decay|dropout|\w+_dropout|dropout_rate)$")
# Momenta: [0, 1].
_UNIT_CLOSED = re.compile(r"^(momentum|\w+_momentum|momentum_\w+|beta1|beta2|b1|b2)$")


def _nearest(name: str, known: Iterable[str]) -> str:
  close = difflib.get_close_matches(str(name), list(known), n=1, cutoff=0.5)
  return f" Did you mean '{close[0]}'?" if close else ""


def check_name(kind: str, name: Any, known: Iterable[str], *, where: str) -> None:
  """Raises ``ValueError("unknown <kind> 'x' in <where>. Did you mean 'y'? Known: ...")``."""
  known = sorted(known)
  if name not in known:
    raise ValueError(
        f"unknown {kind} '{name}' in {where}.{_nearest(name, known)} Known {kind}s: {', '.join(known) or 'none'}"
    )


def _as_dict(config: Any) -> dict[str, Any]:
  if config is None:
    return {}
  if hasattr(config, "to_dict"):
    return config.to_dict()
  if isinstance(config, Mapping):
    return {k: _as_dict(v) if isinstance(v, Mapping) or hasattr(v, "to_dict") else v for k, v in config.items()}
  raise ValueError(f"config must be a ConfigDict or a dict, got {type(config).__name__}")


def _get(tree: Mapping[str, Any], path: str, default=None):
  node: Any = tree
  for part in path.split("."):
    if not isinstance(node, Mapping) or part not in node:
      return default
    node = node[part]
  return node


def _walk(tree: Mapping[str, Any], prefix: str = "config"):
  for key, value in tree.items():
    path = f"{prefix}.{key}"
    if isinstance(value, Mapping):
      yield from _walk(value, path)
    else:
      yield path, str(key), value


def _is_number(x) -> bool:
  return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


def _check_value(path: str, key: str, value: Any) -> None:
  if value is None:
    return  # an unset placeholder
  if _POSITIVE_INT.match(key):
    values = list(value) if isinstance(value, (tuple, list)) else [value]
    for v in values:
      if not _is_number(v) or int(v) != v or v < 1:
        raise ValueError(f"{path} must hold integers >= 1, got {value!r}: set it to a positive size")
  elif _COUNT_OR_ZERO.match(key):
    if not _is_number(value) or int(value) != value or value < 0:
      raise ValueError(f"{path} must be an integer >= 0 (0: no limit), got {value!r}")
  elif _POSITIVE_FLOAT.match(key):
    if not _is_number(value) or not value > 0:
      raise ValueError(f"{path} must be a number > 0, got {value!r}: set a positive rate")
  elif _KEEP_PROB.match(key):
    if not _is_number(value) or not 0 < value <= 1:
      raise ValueError(f"{path} is a keep probability and must lie in (0, 1], got {value!r}")
  elif _UNIT_OPEN.match(key):
    if not _is_number(value) or not 0 <= value < 1:
      raise ValueError(f"{path} must lie in [0, 1), got {value!r}")
  elif _UNIT_CLOSED.match(key):
    if not _is_number(value) or not 0 <= value <= 1:
      raise ValueError(f"{path} must lie in [0, 1], got {value!r}")


def _registered_models() -> list[str]:
  """The registered model names (importing jaxgen.models registers every family)."""
  import jaxgen.models

  return jaxgen.models.model_names()


def _check_hparams(config: Any) -> None:
  """Reads the model section as its family's build will (unknown keys, refused values), building nothing."""
  import ml_collections

  import jaxgen.models

  jaxgen.models.model_hparams(ml_collections.ConfigDict(config))


def _known_datasets() -> tuple[str, ...]:
  from jaxgen import data

  return tuple(data.DATASETS)


def check_config(
    config: Any,
    *,
    dataset_size: int | None = None,
    known_models: Iterable[str] | None = None,
    known_datasets: Iterable[str] | None = None,
    known_losses: Iterable[str] | None = None,
    known: Mapping[str, Iterable[str]] | None = None,
    examples_per_step: int | None = None,
) -> None:
  """Checks a run's config before any compute; raises a one-line ``ValueError`` naming the fix.

  Checked, where present:

  * ``config.model.name`` among ``known_models`` (default: the registered
    model families), ``config.data.name`` among ``known_datasets`` (default:
    ``jaxgen.data.DATASETS``), ``config.train.loss`` among ``known_losses``
    (only when given), and any other name-valued field of ``known``; an
    unknown name gets the nearest known one suggested.
  * The model section of a registered family that declared its
    hyperparameter dataclass: read as its ``build`` reads it
    (``jaxgen.models.model_hparams``), so an unknown key or a value the
    family refuses fails here.
  * Sizes (``batch_size``, ``num_steps``, ``num_epochs``, ``*_every``, ``k``,
    ``latent_dim``, ``*_dim``, ``*_features``, ``*_units``, ``*_sizes``,
    ``image_shape``, ``num_devices``, ...) are integers >= 1 or ``None`` (a
    placeholder: unset); rates (``learning_rate``, ``lr_decay``, ...) are > 0;
    ``ema_decay`` and dropout rates in [0, 1); keep probabilities in (0, 1];
    momenta in [0, 1]. Anywhere in the config, by key name.
  * With ``dataset_size``: one step's examples (``config.train.batch_size``,
    times ``config.train.k`` when k > 1 as the k discriminator steps each take
    a minibatch; or ``examples_per_step``) fit in the dataset.

  Args:
    config: ConfigDict or nested dict.
    dataset_size: number of training examples, when known.
    known_models: valid model names.
    known_datasets: valid dataset names.
    known_losses: valid names of ``config.train.loss``.
    known: config path (``"train.optimizer"``) -> its valid names.
    examples_per_step: overrides the examples of one step.

  Example:
    >>> check_config({"train": {"batch_size": 0}})
    Traceback (most recent call last):
    ...
    ValueError: config.train.batch_size must hold integers >= 1, got 0: set it to a positive size
  """
  tree = _as_dict(config)
  model_name = _get(tree, "model.name")
  registered = _registered_models()
  if model_name is not None:
    check_name("model", model_name, registered if known_models is None else known_models, where="config.model.name")
  data_name = _get(tree, "data.name")
  if data_name is not None:
    datasets = _known_datasets() if known_datasets is None else tuple(known_datasets)
    canonical = str(data_name).strip().lower().replace("-", "_")
    check_name("dataset", canonical if canonical in datasets else data_name, datasets, where="config.data.name")
  loss = _get(tree, "train.loss")
  if loss is not None and known_losses is not None:
    check_name("loss", loss, known_losses, where="config.train.loss")
  for path, names in (known or {}).items():
    value = _get(tree, path)
    if value is not None:
      check_name("value", value, names, where=f"config.{path}")
  for path, key, value in _walk(tree):
    _check_value(path, key, value)
  if model_name in registered:
    _check_hparams(tree)
  if dataset_size is not None:
    if examples_per_step is None:
      batch = _get(tree, "train.batch_size")
      if batch is None:
        return
      k = _get(tree, "train.k", 1) or 1
      examples_per_step = int(batch) * (int(k) if k > 1 else 1)
      what = f"config.train.batch_size={batch}" + (f" x k={k} discriminator minibatches" if k > 1 else "")
    else:
      what = f"a step of {examples_per_step} examples"
    if examples_per_step > dataset_size:
      raise ValueError(
          f"{what} needs {examples_per_step} examples per step but the dataset has only {dataset_size}: "
          "lower config.train.batch_size" + (" or config.train.k" if "k=" in what else "")
      )


def check_data(
    x: Any,
    *,
    image_shape: tuple[int, ...] | None = None,
    likelihood: str | None = None,
    value_range: tuple[float, float] | None = None,
    what: str = "training data",
) -> None:
  """Checks data once at load, against the model; raises a one-line ``ValueError``.

  Images ``(N, H, W, C)`` with a Bernoulli likelihood (or none given) must lie
  in [0, 1] (``jaxgen.data.check_images``); other data must be finite, have
  the model's per-example shape, and lie in ``value_range`` when given (e.g.
  (-1, 1) for a tanh generator).

  Args:
    x: array ``(N, ...)``.
    image_shape: the per-example shape the model expects (``(H, W, C)`` for
      images, ``(d,)`` for points).
    likelihood: the decoder's likelihood ("bernoulli", "gaussian", ...).
    value_range: ``(lo, hi)`` the values must lie in.
    what: how messages name ``x``.
  """
  x = np.asarray(x)
  bernoulli = likelihood is None or str(likelihood).lower() == "bernoulli"
  if bernoulli and likelihood is not None:
    value_range = (0.0, 1.0)
  is_image = x.ndim == 4 or (image_shape is not None and len(image_shape) == 3)
  if is_image and ((value_range is None and bernoulli) or value_range == (0.0, 1.0)):
    from jaxgen.data import check_images

    check_images(x, image_shape=image_shape, what=what)
    return
  if x.ndim < 2:
    raise ValueError(f"{what} must have shape (N, ...) with examples on the first axis, got shape {x.shape}")
  if image_shape is not None and tuple(x.shape[1:]) != tuple(int(d) for d in image_shape):
    raise ValueError(
        f"{what} have per-example shape {tuple(x.shape[1:])} but the model expects {tuple(image_shape)}: "
        f"set the model's shape to {tuple(x.shape[1:])} or reshape the data"
    )
  if not np.issubdtype(x.dtype, np.floating):
    raise ValueError(f"{what} have dtype {x.dtype}: convert them to float32")
  if np.isnan(x).any():
    first = tuple(int(i) for i in np.argwhere(np.isnan(x))[0])
    raise ValueError(f"{what} contain {int(np.isnan(x).sum())} NaN value(s) (first at index {first}): clean or drop them")
  if not np.isfinite(x).all():
    raise ValueError(f"{what} contain infinite values: clean or drop them")
  if value_range is not None and x.size:
    lo, hi = float(x.min()), float(x.max())
    if lo < value_range[0] or hi > value_range[1]:
      need = f" (a {likelihood} likelihood needs them there)" if likelihood else ""
      raise ValueError(
          f"{what} must lie in [{value_range[0]:g}, {value_range[1]:g}]{need} but range over [{lo:g}, {hi:g}]: "
          "rescale the data"
      )
