"""The 2-D toy GAN of the PacGAN experiments (Lin et al. 2018, Section 4.1).

Generator: z in R^2 ~ N(0, I) -> 4 x [Linear(400, no bias), BatchNorm, ReLU] ->
Linear -> R^2. Discriminator: 3 maxout layers of 200 units x 5 pieces, then a
linear logit. Weights ~ N(0, 0.02^2), biases 0, BatchNorm running statistics
with momentum 0.95, as in the authors' code (fjxmlzn/PacGAN,
``synthetic_data_experiments``).

PacGAN with packing m: the discriminator judges m samples at once. It takes
the usual batch ``(m * B, 2)`` of i.i.d. points and reshapes it itself to
``(B, 2 m)`` (consecutive rows form one pack), returning ``B`` logits; so
``jaxgen.train.gan_updates`` needs no packing knowledge, and a run with
packing m uses ``m * B`` points per step for ``B`` packs (the paper keeps 100
packs per minibatch).

Registered as ``"toy_gan"``: ``config.model`` holds the fields of
:class:`ToyGANConfig`; ``sample`` returns ``(N, 2)`` points from the generator
in evaluation mode (BatchNorm running statistics).
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
from flax import nnx

from jaxgen.models import _registry
from jaxgen.models._precision import check_compute_dtype, compute_dtype, to_float32
from jaxgen.models._registry import register_model
from jaxgen.models.layers import Maxout


@dataclasses.dataclass(frozen=True)
class ToyGANConfig:
  """Hyperparameters of the PacGAN 2-D networks (defaults: the paper's)."""

  latent_dim: int = 2
  data_dim: int = 2
  generator_hidden: int = 400
  generator_layers: int = 4
  discriminator_hidden: int = 200
  discriminator_layers: int = 3
  maxout_pieces: int = 5
  packing: int = 1
  init_std: float = 0.02
  batchnorm_momentum: float = 0.95
  # 'float32' or 'bfloat16': the layers' computation; parameters, outputs and losses stay float32.
  compute_dtype: str = "float32"

  def __post_init__(self):
    check_compute_dtype(self.compute_dtype)

  @classmethod
  def from_config(cls, model_config) -> "ToyGANConfig":
    """Reads ``config.model``; unknown keys are an error."""
    return _registry.hparams_from_config(cls, model_config, family="toy_gan")


class ToyGenerator(nnx.Module):
  """x = G(z): an MLP of BatchNorm-ReLU layers, linear output."""

  def __init__(self, cfg: ToyGANConfig, *, rngs: nnx.Rngs):
    init = nnx.initializers.normal(cfg.init_std)
    dtype = compute_dtype(cfg.compute_dtype)
    dims = [cfg.latent_dim] + [cfg.generator_hidden] * cfg.generator_layers
    # No bias before BatchNorm: its shift makes one redundant (as in the authors' code).
    self.hidden = nnx.List([nnx.Linear(a, b, use_bias=False, kernel_init=init, dtype=dtype, rngs=rngs) for a, b in zip(dims[:-1], dims[1:])])
    self.norms = nnx.List([
        nnx.BatchNorm(cfg.generator_hidden, momentum=cfg.batchnorm_momentum, dtype=dtype, rngs=rngs) for _ in range(cfg.generator_layers)
    ])
    self.out = nnx.Linear(dims[-1], cfg.data_dim, kernel_init=init, dtype=dtype, rngs=rngs)

  def __call__(self, z: jax.Array, *, train: bool) -> jax.Array:
    """Maps ``(B, latent_dim)`` to ``(B, data_dim)``; ``train`` uses and updates batch statistics."""
    h = z
    for linear, norm in zip(self.hidden, self.norms):
      h = jax.nn.relu(norm(linear(h), use_running_average=not train))
    return to_float32(self.out(h))


class ToyDiscriminator(nnx.Module):
  """logit D(x_1, ..., x_m): maxout layers on m packed points, then a linear logit."""

  def __init__(self, cfg: ToyGANConfig, *, rngs: nnx.Rngs):
    if cfg.packing < 1:
      raise ValueError(f"packing must be >= 1, got {cfg.packing}")
    init = nnx.initializers.normal(cfg.init_std)
    dtype = compute_dtype(cfg.compute_dtype)
    self.packing = cfg.packing
    self.data_dim = cfg.data_dim
    dims = [cfg.data_dim * cfg.packing] + [cfg.discriminator_hidden] * cfg.discriminator_layers
    self.hidden = nnx.List([Maxout(a, b, cfg.maxout_pieces, kernel_init=init, dtype=dtype, rngs=rngs) for a, b in zip(dims[:-1], dims[1:])])
    self.out = nnx.Linear(dims[-1], 1, kernel_init=init, dtype=dtype, rngs=rngs)

  def __call__(self, x: jax.Array, *, train: bool, key: jax.Array | None = None) -> jax.Array:
    """Maps ``(m * B, data_dim)`` points to ``B`` logits (``train``, ``key``: unused, no dropout)."""
    del train, key
    n = x.shape[0]
    if x.ndim != 2 or x.shape[1] != self.data_dim or n % self.packing:
      raise ValueError(
          f"the discriminator takes (m * B, {self.data_dim}) points with packing m = {self.packing}, got {x.shape}: "
          f"use a batch size divisible by {self.packing}."
      )
    h = x.reshape((n // self.packing, self.packing * self.data_dim))
    for layer in self.hidden:
      h = layer(h)
    return to_float32(self.out(h))[:, 0]


def build(config, rngs: nnx.Rngs) -> dict[str, nnx.Module]:
  cfg = ToyGANConfig.from_config(config.model)
  return {"generator": ToyGenerator(cfg, rngs=rngs), "discriminator": ToyDiscriminator(cfg, rngs=rngs)}


def sample(models, key: jax.Array, num: int, config) -> np.ndarray:
  """``num`` generated points ``(num, data_dim)``, generator in evaluation mode."""
  cfg = ToyGANConfig.from_config(config.model)
  z = jax.random.normal(key, (num, cfg.latent_dim))
  return np.asarray(models["generator"](z, train=False))


register_model("toy_gan", build, sample, hparams=ToyGANConfig)
