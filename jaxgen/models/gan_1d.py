"""The 1-D GAN of the theory experiment: small tanh MLPs on the real line.

Generator: z in R^latent_dim ~ N(0, I) -> [Linear(hidden), tanh] x num_layers
-> Linear -> x in R. Discriminator: x in R -> the same MLP -> the logit of
D(x). Both are smooth in their input (tanh, no BatchNorm, no dropout), so a
trained D can be compared pointwise with D* = p_data / (p_data + p_g)
(Goodfellow et al. 2014, Prop. 1), and p_g has a density a kernel estimate
can follow.

Registered as ``"gan_1d"``: ``config.model`` holds the fields of
:class:`GAN1DConfig`; ``sample`` returns ``(N, 1)`` points.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jaxgen.models._registry import hparams_from_config, register_model


@dataclasses.dataclass(frozen=True)
class GAN1DConfig:
  """Sizes of the 1-D networks (defaults: experiments/gan_theory).

  Attributes:
    latent_dim: size of z.
    hidden: width of every hidden layer, generator and discriminator.
    num_layers: hidden layers of each network.
  """

  latent_dim: int = 1
  hidden: int = 64
  num_layers: int = 2

  def __post_init__(self):
    if min(self.latent_dim, self.hidden, self.num_layers) < 1:
      raise ValueError(
          f"latent_dim, hidden and num_layers must be >= 1, got {self.latent_dim}, {self.hidden}, {self.num_layers}."
      )

  @classmethod
  def from_config(cls, model_config) -> "GAN1DConfig":
    """Reads ``config.model``; unknown keys are an error."""
    return hparams_from_config(cls, model_config, family="gan_1d")


class TanhMLP(nnx.Module):
  """R^d_in -> [Linear(hidden), tanh] x num_layers -> Linear -> R^d_out."""

  def __init__(self, d_in: int, d_out: int, hidden: int, num_layers: int, *, rngs: nnx.Rngs):
    dims = [d_in] + [hidden] * num_layers
    self.hidden = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(dims[:-1], dims[1:])])
    self.out = nnx.Linear(dims[-1], d_out, rngs=rngs)

  def __call__(self, x: jax.Array) -> jax.Array:
    for layer in self.hidden:
      x = jnp.tanh(layer(x))
    return self.out(x)


class Generator1D(nnx.Module):
  """x = G(z): ``(B, latent_dim)`` -> ``(B, 1)``."""

  def __init__(self, cfg: GAN1DConfig, *, rngs: nnx.Rngs):
    self.mlp = TanhMLP(cfg.latent_dim, 1, cfg.hidden, cfg.num_layers, rngs=rngs)

  def __call__(self, z: jax.Array, *, train: bool) -> jax.Array:
    """``train``: unused (no BatchNorm), taken as every jaxgen generator does."""
    del train
    return self.mlp(z)


class Discriminator1D(nnx.Module):
  """logit D(x): points ``(B, 1)`` -> ``(B,)``."""

  def __init__(self, cfg: GAN1DConfig, *, rngs: nnx.Rngs):
    self.mlp = TanhMLP(1, 1, cfg.hidden, cfg.num_layers, rngs=rngs)

  def __call__(self, x: jax.Array, *, train: bool, key: jax.Array | None = None) -> jax.Array:
    """``train``, ``key``: unused (no dropout), taken as every jaxgen discriminator does."""
    del train, key
    return self.mlp(x)[:, 0]


def build(config, rngs: nnx.Rngs) -> dict[str, nnx.Module]:
  """Registry builder: the generator, then the discriminator, from one ``rngs``."""
  cfg = GAN1DConfig.from_config(config.model)
  return {"generator": Generator1D(cfg, rngs=rngs), "discriminator": Discriminator1D(cfg, rngs=rngs)}


def sample(models, key: jax.Array, num: int, config) -> np.ndarray:
  """``num`` generated points ``(num, 1)``, z ~ N(0, I)."""
  cfg = GAN1DConfig.from_config(config.model)
  z = jax.random.normal(key, (num, cfg.latent_dim))
  return np.asarray(models["generator"](z, train=False))


register_model("gan_1d", build, sample, hparams=GAN1DConfig)
