"""Model families by name, so a saved config alone can rebuild a model and sample from it.

Experiments build their networks through :func:`build_models`; the sampling
command (``python -m jaxgen.sample``) does the same from the config saved with a
checkpoint, without the dataset or the training code. Image-to-image families
("pix2pix", "cyclegan") register no ``sample`` but a ``translate``, which maps
images of one domain to the other.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from flax import nnx

# build(config, rngs) -> {network name: module}
BuildFn = Callable[[Any, nnx.Rngs], dict[str, nnx.Module]]
# sample(models, key, num, config) -> numpy array (num, ...): images in [0, 1] (N, H, W, C) or points (N, d)
SampleFn = Callable[[dict[str, nnx.Module], jax.Array, int, Any], np.ndarray]
# translate(models, images, config, *, direction="AtoB", train_mode=False, key=None) -> numpy array:
# images (N, H, W, C) in [0, 1] of one domain to (N, H, W, C') in [0, 1] of the other
TranslateFn = Callable[..., np.ndarray]


@dataclasses.dataclass(frozen=True)
class ModelSpec:
  name: str
  build: BuildFn
  sample: SampleFn | None
  # The frozen dataclass of the family's hyperparameters, read from config.model by
  # hparams_from_config, so a config can be checked without building the networks.
  hparams: type | None = None
  # Image-to-image families: the trained mapping between domains (TranslateFn), else None.
  translate: TranslateFn | None = None


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(
    name: str,
    build: BuildFn,
    sample: SampleFn | None = None,
    *,
    hparams: type | None = None,
    translate: TranslateFn | None = None,
):
  """Registers a model family under ``name`` (the ``config.model.name`` of experiments).

  ``hparams`` is the family's frozen hyperparameter dataclass, the one its
  ``build`` reads with :func:`hparams_from_config`; given, :func:`model_hparams`
  checks a config's model section without building anything. ``translate``
  is an image-to-image family's ``translate(models, images, config, *,
  direction="AtoB", train_mode=False, key=None)``: images (N, H, W, C) in
  [0, 1] of one domain to the other's, in [0, 1].
  """
  if name in _REGISTRY and _REGISTRY[name].build is not build:
    raise ValueError(f"model name '{name}' is already registered")
  _REGISTRY[name] = ModelSpec(name, build, sample, hparams, translate)
  return _REGISTRY[name]


def model_names() -> list[str]:
  return sorted(_REGISTRY)


def get_model_spec(name: str) -> ModelSpec:
  if name not in _REGISTRY:
    close = difflib.get_close_matches(name, _REGISTRY, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise ValueError(f"unknown model '{name}'.{hint} Known models: {', '.join(model_names())}")
  return _REGISTRY[name]


def hparams_from_config(cls, model_config, *, family: str):
  """Builds the frozen hyperparameter dataclass ``cls`` from ``config.model``.

  Keys that are not fields of ``cls`` are an error (a typo would otherwise
  train the default silently), except ``name``; lists become tuples, since a
  config saved as JSON and read back holds lists.
  """
  fields = {f.name for f in dataclasses.fields(cls)}
  given = {k: v for k, v in dict(model_config).items() if k != "name"}
  unknown = sorted(set(given) - fields)
  if unknown:
    raise ValueError(f"config.model has unknown keys {unknown} for '{family}'; known: {sorted(fields)}")
  return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in given.items()})


def model_hparams(config):
  """The hyperparameters of ``config.model.name`` read from ``config.model``, or ``None``.

  ``None`` when the family registered no ``hparams`` dataclass. Unknown keys
  and values the dataclass refuses raise a one-line ``ValueError`` here,
  before any network is built.
  """
  spec = get_model_spec(config.model.name)
  if spec.hparams is None:
    return None
  return hparams_from_config(spec.hparams, config.model, family=spec.name)


def build_models(config, rngs: nnx.Rngs) -> dict[str, nnx.Module]:
  """Builds the networks of ``config.model.name`` from the config."""
  return get_model_spec(config.model.name).build(config, rngs)


def translate_images(models, config, images, *, direction: str = "AtoB", train_mode: bool = False, seed: int = 0,
                     batch_size: int = 500) -> np.ndarray:
  """The registered ``translate`` of an image-to-image run over ``images`` (N, H, W, C) in [0, 1], in batches.

  Batch ``i`` (starting at image ``i``) gets the key ``fold_in(key(seed), i)``,
  used in ``train_mode`` only (dropout). A family without ``translate`` is a
  ``ValueError``.
  """
  spec = get_model_spec(config.model.name)
  if spec.translate is None:
    raise ValueError(f"model '{spec.name}' is not an image-to-image family: use python -m jaxgen.sample")
  if batch_size < 1:
    raise ValueError(f"batch_size must be >= 1, got {batch_size}")
  key = jax.random.key(seed)
  return np.concatenate([
      np.asarray(spec.translate(models, images[i:i + batch_size], config, direction=direction, train_mode=train_mode,
                                key=jax.random.fold_in(key, i)))
      for i in range(0, len(images), batch_size)])
