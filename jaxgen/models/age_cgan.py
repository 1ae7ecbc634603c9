"""Age-cGAN's networks: the conditional generator G(z, y) and the encoder E(x) ~ z (Antipov et al. 2017).

Age-cGAN trains a conditional GAN on faces labelled with their age group,
then an encoder E on pairs (G(z, y), z) of generated images and their latent
vectors, so that z0 = E(x) starts the search for the z that rebuilds a real
image x with G (the latent optimisation, ``jaxgen.inversion``); re-ageing is
G(z*, y_target). The family ``age_cgan`` holds the two networks the
re-ageing needs: ``generator``, the cgan family's
:class:`~jaxgen.models.cgan.ConditionalGenerator` (the paper injects y at G's
input, as the one-hot appended to z, ``generator_conditioning="concat"``),
and ``encoder``, a :class:`LatentEncoder`. The cGAN itself is trained as a
``cgan`` run; its generator is restored into this family's run, frozen.

Reference:
  Antipov, Baccouche, Dugelay. "Face Aging With Conditional Generative
  Adversarial Networks", ICIP 2017 (arXiv 1702.01983).
"""

from __future__ import annotations

import dataclasses
import numbers

import jax
import numpy as np
from flax import nnx

from jaxgen.models import _registry
from jaxgen.models._precision import compute_dtype, to_float32
from jaxgen.models._registry import register_model
from jaxgen.models.cgan import CGANConfig, ConditionalGenerator, sample_generator
from jaxgen.models.dcgan import _batch_norm, _conv, to_model_range, to_unit_range

__all__ = ["AgeCGANConfig", "LatentEncoder", "build", "hparams_from_config", "sample", "to_model_range",
           "to_unit_range"]


@dataclasses.dataclass(frozen=True)
class AgeCGANConfig(CGANConfig):
  """The cgan family's hyperparameters (those of G) and the encoder's width."""

  # Channels of the encoder's first convolution, doubled at every later one (DCGAN's discriminator).
  encoder_features: int = 32

  def __post_init__(self):
    value = self.encoder_features
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
      raise ValueError(f"encoder_features must be a positive integer, got {value!r}")
    super().__post_init__()


class LatentEncoder(nnx.Module):
  """Images (B, H, W, C) in [-1, 1] -> latent vectors (B, latent_dim).

  The paper gives no architecture for E; this is DCGAN's discriminator trunk
  (strided convolutions, BatchNorm after all but the first, leaky ReLU) with
  the flattened last map mapped linearly to z's dimension instead of a logit:
  the same capacity as the network that learnt to read G's images.
  """

  def __init__(self, hp: AgeCGANConfig, *, rngs: nnx.Rngs):
    self.slope = hp.leaky_relu_slope
    channels = [hp.image_shape[-1]] + [hp.encoder_features * 2**i for i in range(hp.upsamplings)]
    self.convs = nnx.List([_conv(hp, a, b, transpose=False, rngs=rngs) for a, b in zip(channels[:-1], channels[1:])])
    self.norms = nnx.List([_batch_norm(hp, b, rngs) for b in channels[2:]])
    self.output = nnx.Linear(hp.base**2 * channels[-1], hp.latent_dim, kernel_init=nnx.initializers.normal(hp.init_std),
                             dtype=compute_dtype(hp.compute_dtype), rngs=rngs)

  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    h = jax.nn.leaky_relu(self.convs[0](x), self.slope)
    for conv, norm in zip(self.convs[1:], self.norms):
      h = jax.nn.leaky_relu(norm(conv(h), use_running_average=not train), self.slope)
    return to_float32(self.output(h.reshape((h.shape[0], -1))))


def hparams_from_config(config) -> AgeCGANConfig:
  """The model's hyperparameters from ``config.model`` (its ``name`` key aside)."""
  return _registry.hparams_from_config(AgeCGANConfig, config.model, family="age_cgan")


def build(config, rngs: nnx.Rngs) -> dict[str, nnx.Module]:
  """{"generator": ConditionalGenerator, "encoder": LatentEncoder} from ``config.model``."""
  hp = hparams_from_config(config)
  return {"generator": ConditionalGenerator(hp, rngs=rngs), "encoder": LatentEncoder(hp, rngs=rngs)}


def sample(models, key: jax.Array, num: int, config, labels=None) -> np.ndarray:
  """``num`` images (num, H, W, C) in [0, 1] of G(z, y), z ~ N(0, I); ``labels`` are age groups (default a grid)."""
  return sample_generator(models["generator"], hparams_from_config(config), key, num, labels)


register_model("age_cgan", build, sample, hparams=AgeCGANConfig)
