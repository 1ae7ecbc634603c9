"""The MLP variational autoencoder (Kingma & Welling 2014, Appendix C).

Encoder: flattened image -> hidden layers -> (mean, logvar) of q(z | x).
Decoder: z -> hidden layers -> Bernoulli logits, or Gaussian (mean, logvar),
of p(x | z). ``hidden_sizes=(500,)`` with ReLU is the Flax VAE example;
``hidden_sizes=(200, 200)``, ``latent_dim=50`` with tanh is the one-stochastic-
layer architecture of Burda et al. (2016).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
from flax import nnx

from jaxgen.models._latent import (
    LatentVariableMixin,
    activation_fn,
    check_image_shape,
    check_likelihood,
    sample_images,
    split_gaussian_params,
)
from jaxgen.models._precision import check_compute_dtype, compute_dtype, to_float32
from jaxgen.models._registry import hparams_from_config, register_model


@dataclasses.dataclass(frozen=True)
class VAEConfig:
  """Hyperparameters of the MLP VAE.

  Attributes:
    image_shape: (H, W, C) of the images.
    hidden_sizes: widths of the encoder's hidden layers, input side first; the
      decoder mirrors them (``decoder_hidden_sizes`` overrides).
    latent_dim: size of z.
    activation: 'relu', 'tanh', 'elu' or 'softplus'.
    likelihood: 'bernoulli' (decoder outputs logits) or 'gaussian' (decoder
      outputs mean and log-variance per pixel).
    decoder_hidden_sizes: decoder widths, latent side first; None mirrors
      ``hidden_sizes``.
    decoder_logvar: for 'gaussian', a fixed log-variance shared by all
      pixels instead of a learned one (None: learned per pixel).
    compute_dtype: 'float32' or 'bfloat16' (layers compute in it; parameters
      and outputs stay float32, see ``jaxgen.models._precision``).
  """

  image_shape: tuple[int, int, int] = (28, 28, 1)
  hidden_sizes: tuple[int, ...] = (500,)
  latent_dim: int = 20
  activation: str = "relu"
  likelihood: str = "bernoulli"
  decoder_hidden_sizes: tuple[int, ...] | None = None
  decoder_logvar: float | None = None
  compute_dtype: str = "float32"

  def __post_init__(self):
    object.__setattr__(self, "image_shape", check_image_shape(self.image_shape))
    check_compute_dtype(self.compute_dtype)
    object.__setattr__(self, "hidden_sizes", tuple(int(h) for h in self.hidden_sizes))
    if self.decoder_hidden_sizes is not None:
      object.__setattr__(self, "decoder_hidden_sizes", tuple(int(h) for h in self.decoder_hidden_sizes))
    activation_fn(self.activation)
    check_likelihood(self.likelihood)
    if self.latent_dim < 1 or any(h < 1 for h in self.hidden_sizes + (self.decoder_hidden_sizes or ())):
      raise ValueError(f"latent_dim and hidden sizes must be positive, got {self.latent_dim}, {self.hidden_sizes}.")

  @property
  def decoder_sizes(self) -> tuple[int, ...]:
    return self.decoder_hidden_sizes if self.decoder_hidden_sizes is not None else self.hidden_sizes[::-1]


def _mlp(sizes: tuple[int, ...], dtype, rngs: nnx.Rngs) -> nnx.List:
  return nnx.List([nnx.Linear(a, b, dtype=dtype, rngs=rngs) for a, b in zip(sizes[:-1], sizes[1:])])


class VAE(LatentVariableMixin, nnx.Module):
  """MLP VAE on images ``(B, H, W, C)``.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> from flax import nnx
    >>> vae = VAE(VAEConfig(image_shape=(8, 8, 1), hidden_sizes=(32,), latent_dim=2), rngs=nnx.Rngs(0))
    >>> mean, logvar = vae.encode(jnp.zeros((3, 8, 8, 1)))
    >>> mean.shape, vae.decode(mean).shape, vae.sample(jax.random.key(0), 5).shape
    ((3, 2), (3, 8, 8, 1), (5, 8, 8, 1))
  """

  def __init__(self, config: VAEConfig, *, rngs: nnx.Rngs):
    self.config = config
    self.image_shape = config.image_shape
    self.latent_dim = config.latent_dim
    self.likelihood = config.likelihood
    d = math.prod(config.image_shape)
    dtype = compute_dtype(config.compute_dtype)
    self.encoder = _mlp((d, *config.hidden_sizes), dtype, rngs)
    self.encoder_out = nnx.Linear(([d, *config.hidden_sizes])[-1], 2 * config.latent_dim, dtype=dtype, rngs=rngs)
    self.decoder = _mlp((config.latent_dim, *config.decoder_sizes), dtype, rngs)
    learned_var = config.likelihood == "gaussian" and config.decoder_logvar is None
    self.decoder_out = nnx.Linear(
        ([config.latent_dim, *config.decoder_sizes])[-1], d * (2 if learned_var else 1), dtype=dtype, rngs=rngs
    )

  def encode(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(mean, logvar) of q(z | x), each ``(B, latent_dim)``."""
    act = activation_fn(self.config.activation)
    h = x.reshape((x.shape[0], -1))
    for layer in self.encoder:
      h = act(layer(h))
    return split_gaussian_params(to_float32(self.encoder_out(h)), self.latent_dim)

  def decode(self, z: jax.Array):
    """Parameters of p(x | z): logits ``(B, H, W, C)``, or (mean, logvar) for 'gaussian'."""
    act = activation_fn(self.config.activation)
    h = z
    for layer in self.decoder:
      h = act(layer(h))
    out = to_float32(self.decoder_out(h)).reshape((z.shape[0], -1, *self.image_shape))
    if self.likelihood == "bernoulli":
      return out[:, 0]
    if self.config.decoder_logvar is not None:
      return out[:, 0], jnp.full_like(out[:, 0], self.config.decoder_logvar)
    return out[:, 0], out[:, 1]


def build(config, rngs: nnx.Rngs) -> dict[str, nnx.Module]:
  """Registry builder: ``{"vae": VAE}`` from ``config.model``."""
  return {"vae": VAE(hparams_from_config(VAEConfig, config.model, family="vae"), rngs=rngs)}


register_model("vae", build, sample_images, hparams=VAEConfig)
