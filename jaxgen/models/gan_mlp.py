"""The fully connected GAN of Goodfellow et al. (2014) for MNIST.

Architecture and initialization follow the released configuration
(``mnist.yaml`` of github.com/goodfeli/adversarial):

* generator: z ~ N(0, I_100) (the released ``Generator`` draws Gaussian noise by
  default and ``mnist.yaml`` does not change it) -> 1200 ReLU -> 1200 ReLU ->
  784 sigmoid; weights uniform in [-0.05, 0.05]; the output bias starts at the
  logit of the data's mean image (``init_sigmoid_bias_from_marginals``, see
  :meth:`MLPGenerator.init_output_bias`).
* discriminator: maxout 240 units x 5 pieces -> maxout 240 x 5 -> 1 sigmoid
  unit (we return its logit); weights uniform in [-0.005, 0.005]; dropout on
  the input of every layer: keep 0.8 on the image, keep 0.5 on the hidden
  layers (inverted scaling 1/keep, as pylearn2's input_scales 1.25 and 2).

The image shape is a hyperparameter, so the same model trains on the 8x8
digits in a minute.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jaxgen.models import _registry
from jaxgen.models._precision import check_compute_dtype, compute_dtype, to_float32
from jaxgen.models._registry import register_model
from jaxgen.models.layers import Maxout


@dataclasses.dataclass(frozen=True)
class GANMLPConfig:
  """Hyperparameters of the 2014 MNIST GAN (defaults: the released mnist.yaml)."""

  image_shape: tuple[int, int, int] = (28, 28, 1)
  latent_dim: int = 100
  generator_features: tuple[int, ...] = (1200, 1200)
  generator_init_range: float = 0.05
  discriminator_units: tuple[int, ...] = (240, 240)
  discriminator_pieces: int = 5
  discriminator_init_range: float = 0.005
  # Dropout keep probabilities of the discriminator's inputs (pylearn2 include_probs).
  input_keep: float = 0.8
  hidden_keep: float = 0.5
  # 'float32' or 'bfloat16': the layers' computation; parameters, outputs and losses stay float32.
  compute_dtype: str = "float32"

  def __post_init__(self):
    check_compute_dtype(self.compute_dtype)
    object.__setattr__(self, "image_shape", tuple(int(d) for d in self.image_shape))
    object.__setattr__(self, "generator_features", tuple(int(d) for d in self.generator_features))
    object.__setattr__(self, "discriminator_units", tuple(int(d) for d in self.discriminator_units))
    if len(self.image_shape) != 3:
      raise ValueError(f"image_shape must be (H, W, C), got {self.image_shape}")
    for name in ("input_keep", "hidden_keep"):
      p = getattr(self, name)
      if not 0.0 < p <= 1.0:
        raise ValueError(f"{name} is a keep probability in (0, 1], got {p}")


def _uniform(scale: float):
  def init(key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype, -scale, scale)

  return init


def _dropout(x: jax.Array, keep: float, key: jax.Array | None) -> jax.Array:
  """Inverted dropout: zero with probability 1 - keep, scale the kept by 1 / keep."""
  if key is None or keep >= 1.0:
    return x
  mask = jax.random.bernoulli(key, keep, x.shape)
  return jnp.where(mask, x / keep, 0.0)


class MLPGenerator(nnx.Module):
  """z (B, latent_dim) -> images (B, H, W, C) in [0, 1] through ReLU layers and a sigmoid."""

  def __init__(self, hp: GANMLPConfig, *, rngs: nnx.Rngs):
    self.image_shape = hp.image_shape
    init = _uniform(hp.generator_init_range)
    sizes = (hp.latent_dim, *hp.generator_features)
    dtype = compute_dtype(hp.compute_dtype)
    self.hidden = nnx.List(
        [nnx.Linear(a, b, kernel_init=init, dtype=dtype, rngs=rngs) for a, b in zip(sizes[:-1], sizes[1:])]
    )
    self.output = nnx.Linear(sizes[-1], math.prod(hp.image_shape), kernel_init=init, dtype=dtype, rngs=rngs)

  def init_output_bias(self, mean_image) -> None:
    """Starts the sigmoid's bias at logit(mean pixel), so G(z) begins at the data's mean image.

    The marginals are clipped to [1e-3, 1 - 1e-3] first: pixels that are always
    0 (MNIST's border) would otherwise get an infinite bias.
    """
    p = np.clip(np.asarray(mean_image, np.float32).reshape(-1), 1e-3, 1.0 - 1e-3)
    if p.size != self.output.bias[...].size:
      raise ValueError(f"mean_image has {p.size} pixels, the generator outputs {self.output.bias[...].size}")
    self.output.bias[...] = jnp.asarray(np.log(p) - np.log1p(-p))

  def __call__(self, z: jax.Array, *, train: bool) -> jax.Array:
    del train  # no batch norm or dropout in this generator
    h = z
    for layer in self.hidden:
      h = jax.nn.relu(layer(h))
    return jax.nn.sigmoid(to_float32(self.output(h))).reshape((z.shape[0], *self.image_shape))


class MaxoutDiscriminator(nnx.Module):
  """Images (B, H, W, C) -> logits (B,) through maxout layers with dropout."""

  def __init__(self, hp: GANMLPConfig, *, rngs: nnx.Rngs):
    self.input_keep = hp.input_keep
    self.hidden_keep = hp.hidden_keep
    init = _uniform(hp.discriminator_init_range)
    sizes = (math.prod(hp.image_shape), *hp.discriminator_units)
    dtype = compute_dtype(hp.compute_dtype)
    self.hidden = nnx.List(
        [
            Maxout(a, b, hp.discriminator_pieces, kernel_init=init, dtype=dtype, rngs=rngs)
            for a, b in zip(sizes[:-1], sizes[1:])
        ]
    )
    self.output = nnx.Linear(sizes[-1], 1, kernel_init=init, dtype=dtype, rngs=rngs)

  def __call__(self, x: jax.Array, *, train: bool, key: jax.Array | None = None) -> jax.Array:
    if train and key is None:
      raise ValueError("the maxout discriminator uses dropout in training: pass key= when train=True")
    keys = list(jax.random.split(key, len(self.hidden) + 1)) if train else [None] * (len(self.hidden) + 1)
    h = _dropout(x.reshape((x.shape[0], -1)), self.input_keep, keys[0])
    for layer, k in zip(self.hidden, keys[1:]):
      h = _dropout(layer(h), self.hidden_keep, k)
    return to_float32(self.output(h))[:, 0]


def hparams_from_config(config) -> GANMLPConfig:
  """The model's hyperparameters from ``config.model`` (its ``name`` key aside)."""
  return _registry.hparams_from_config(GANMLPConfig, config.model, family="gan_mlp")


def build(config, rngs: nnx.Rngs) -> dict[str, nnx.Module]:
  hp = hparams_from_config(config)
  return {"generator": MLPGenerator(hp, rngs=rngs), "discriminator": MaxoutDiscriminator(hp, rngs=rngs)}


def sample(models, key: jax.Array, num: int, config) -> np.ndarray:
  """``num`` images (num, H, W, C) in [0, 1] from z ~ N(0, I)."""
  hp = hparams_from_config(config)
  z = jax.random.normal(key, (num, hp.latent_dim))
  return np.asarray(models["generator"](z, train=False))


register_model("gan_mlp", build, sample, hparams=GANMLPConfig)
