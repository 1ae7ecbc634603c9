"""The chapter's autoencoder: it compresses and reconstructs, but cannot generate.

Encoder Linear(784, 256), ReLU, Linear(256, 20), ReLU; decoder Linear(20, 256),
ReLU, Linear(256, 784), Sigmoid. Nothing ties its codes to a known
distribution, so there is no p(z) to draw new codes from: that is why the
chapter moves on to the VAE, and why the registry gives it no sampler.
"""

from __future__ import annotations

import dataclasses
import math

import jax
from flax import nnx

from jaxgen.models._latent import check_image_shape
from jaxgen.models._precision import check_compute_dtype, compute_dtype, to_float32
from jaxgen.models._registry import hparams_from_config, register_model


@dataclasses.dataclass(frozen=True)
class AutoencoderConfig:
  """Sizes of the autoencoder; the defaults are the chapter's (784-256-20).

  Attributes:
    image_shape: (H, W, C) of the images; the input layer has H * W * C units.
    hidden_dim: width of the hidden layer of encoder and decoder.
    latent_dim: size of the code z.
    compute_dtype: 'float32' or 'bfloat16' (layers compute in it; parameters
      and outputs stay float32, see ``jaxgen.models._precision``).
  """

  image_shape: tuple[int, int, int] = (28, 28, 1)
  hidden_dim: int = 256
  latent_dim: int = 20
  compute_dtype: str = "float32"

  def __post_init__(self):
    object.__setattr__(self, "image_shape", check_image_shape(self.image_shape))
    check_compute_dtype(self.compute_dtype)
    if self.hidden_dim < 1 or self.latent_dim < 1:
      raise ValueError(f"hidden_dim and latent_dim must be positive, got {self.hidden_dim}, {self.latent_dim}.")


class Autoencoder(nnx.Module):
  """x -> z = encode(x) -> x_hat = decode(z), images ``(B, H, W, C)`` in [0, 1].

  Example:
    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> ae = Autoencoder(AutoencoderConfig(image_shape=(8, 8, 1), hidden_dim=16, latent_dim=2), rngs=nnx.Rngs(0))
    >>> ae(jnp.zeros((3, 8, 8, 1))).shape
    (3, 8, 8, 1)
  """

  def __init__(self, config: AutoencoderConfig, *, rngs: nnx.Rngs):
    self.config = config
    self.image_shape = config.image_shape
    self.latent_dim = config.latent_dim
    d = math.prod(config.image_shape)
    dtype = compute_dtype(config.compute_dtype)
    self.enc_hidden = nnx.Linear(d, config.hidden_dim, dtype=dtype, rngs=rngs)
    self.enc_code = nnx.Linear(config.hidden_dim, config.latent_dim, dtype=dtype, rngs=rngs)
    self.dec_hidden = nnx.Linear(config.latent_dim, config.hidden_dim, dtype=dtype, rngs=rngs)
    self.dec_out = nnx.Linear(config.hidden_dim, d, dtype=dtype, rngs=rngs)

  def encode(self, x: jax.Array) -> jax.Array:
    """Codes ``(B, latent_dim)``; the final ReLU (as in the chapter) makes them >= 0."""
    h = jax.nn.relu(self.enc_hidden(x.reshape((x.shape[0], -1))))
    return to_float32(jax.nn.relu(self.enc_code(h)))

  def decode_logits(self, z: jax.Array) -> jax.Array:
    """Pre-sigmoid outputs ``(B, H, W, C)``: the stable input of a cross-entropy loss."""
    h = jax.nn.relu(self.dec_hidden(z))
    return to_float32(self.dec_out(h)).reshape((z.shape[0], *self.image_shape))

  def decode(self, z: jax.Array) -> jax.Array:
    """Reconstructions ``(B, H, W, C)`` in [0, 1] (the chapter's Sigmoid output layer)."""
    return jax.nn.sigmoid(self.decode_logits(z))

  def __call__(self, x: jax.Array) -> jax.Array:
    return self.decode(self.encode(x))

  def reconstruct(self, x: jax.Array, key: jax.Array | None = None) -> jax.Array:
    """decode(encode(x)); ``key`` is accepted for symmetry with the VAEs and unused (deterministic)."""
    del key
    return self(x)


def build(config, rngs: nnx.Rngs) -> dict[str, nnx.Module]:
  """Registry builder: ``{"autoencoder": Autoencoder}`` from ``config.model``."""
  return {"autoencoder": Autoencoder(hparams_from_config(AutoencoderConfig, config.model, family="autoencoder"), rngs=rngs)}


# No sampler: an autoencoder has no prior over codes, so it cannot generate.
register_model("autoencoder", build, None, hparams=AutoencoderConfig)
