"""The convolutional VAE: strided convolutions down, transposed convolutions up.

Encoder: ``len(channels)`` convolutions with stride 2 (each halves height and
width, 'SAME' padding), flatten, a dense layer to (mean, logvar). Decoder: a
dense layer to the smallest feature map, ``len(channels)`` transposed
convolutions with stride 2 (each doubles height and width), and a stride-1
convolution to the pixel parameters. Two down-samplings take 28x28 to 7x7,
32x32 to 8x8 and 8x8 to 2x2, so one config shape fits MNIST, CIFAR-10 and the
offline digits (the architecture of the TensorFlow CVAE tutorial, with
transposed convolutions as in Radford et al. 2016).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
from flax import nnx

import jaxgen.nn

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

CONV_IMPLS = jaxgen.nn.IMPLS


@dataclasses.dataclass(frozen=True)
class ConvVAEConfig:
  """Hyperparameters of the convolutional VAE.

  Attributes:
    image_shape: (H, W, C); H and W must be divisible by 2 ** len(channels).
    channels: feature maps after each stride-2 convolution of the encoder;
      the decoder uses them in reverse.
    kernel_size: side of every convolution kernel.
    hidden_dim: width of a dense layer between the last feature map and the
      latent (both ways); None maps the feature map straight to the latent.
    latent_dim: size of z.
    activation: 'relu', 'tanh', 'elu' or 'softplus'.
    likelihood: 'bernoulli' or 'gaussian' (as in ``VAEConfig``).
    decoder_logvar: for 'gaussian', a fixed pixel log-variance (None: learned).
    conv_impl: how ``jaxgen.nn`` computes the convolutions: 'auto' (the
      sub-pixel formulation of transposed convolutions on CPU, XLA's own
      elsewhere), 'xla' or 'cpu_fast'. The parameters are Flax's either way.
    compute_dtype: 'float32' or 'bfloat16' (layers compute in it; parameters
      and outputs stay float32, see ``jaxgen.models._precision``).
  """

  image_shape: tuple[int, int, int] = (28, 28, 1)
  channels: tuple[int, ...] = (32, 64)
  kernel_size: int = 3
  hidden_dim: int | None = None
  latent_dim: int = 16
  activation: str = "relu"
  likelihood: str = "bernoulli"
  decoder_logvar: float | None = None
  conv_impl: str = "auto"
  compute_dtype: str = "float32"

  def __post_init__(self):
    object.__setattr__(self, "image_shape", check_image_shape(self.image_shape))
    check_compute_dtype(self.compute_dtype)
    object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
    activation_fn(self.activation)
    check_likelihood(self.likelihood)
    if self.conv_impl not in CONV_IMPLS:
      raise ValueError(f"unknown conv_impl {self.conv_impl!r}; choose one of {', '.join(CONV_IMPLS)}.")
    if not self.channels or min(self.channels) < 1:
      raise ValueError(f"channels must be a non-empty tuple of positive sizes, got {self.channels}.")
    factor = 2 ** len(self.channels)
    h, w, _ = self.image_shape
    if h % factor or w % factor:
      raise ValueError(
          f"image_shape {self.image_shape}: height and width must be divisible by 2 ** len(channels) = {factor}; "
          "use fewer channels entries (down-samplings) or pad the images."
      )

  @property
  def bottleneck_shape(self) -> tuple[int, int, int]:
    factor = 2 ** len(self.channels)
    h, w, _ = self.image_shape
    return (h // factor, w // factor, self.channels[-1])


class ConvVAE(LatentVariableMixin, nnx.Module):
  """Convolutional VAE on images ``(B, H, W, C)``.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> from flax import nnx
    >>> vae = ConvVAE(ConvVAEConfig(image_shape=(8, 8, 1), channels=(4, 8), latent_dim=2), rngs=nnx.Rngs(0))
    >>> mean, _ = vae.encode(jnp.zeros((3, 8, 8, 1)))
    >>> mean.shape, vae.decode(mean).shape
    ((3, 2), (3, 8, 8, 1))
  """

  def __init__(self, config: ConvVAEConfig, *, rngs: nnx.Rngs):
    self.config = config
    self.image_shape = config.image_shape
    self.latent_dim = config.latent_dim
    self.likelihood = config.likelihood
    c_in = config.image_shape[-1]
    k = config.kernel_size
    chans = config.channels
    flat = math.prod(config.bottleneck_shape)
    dtype = self.dtype = compute_dtype(config.compute_dtype)

    self.down = nnx.List([self._conv(a, b, k, 2, rngs) for a, b in zip((c_in, *chans[:-1]), chans)])
    self.enc_hidden = nnx.Linear(flat, config.hidden_dim, dtype=dtype, rngs=rngs) if config.hidden_dim else None
    self.enc_out = nnx.Linear(config.hidden_dim or flat, 2 * config.latent_dim, dtype=dtype, rngs=rngs)

    self.dec_hidden = nnx.Linear(config.latent_dim, config.hidden_dim, dtype=dtype, rngs=rngs) if config.hidden_dim else None
    self.dec_in = nnx.Linear(config.hidden_dim or config.latent_dim, flat, dtype=dtype, rngs=rngs)
    rev = chans[::-1]
    self.up = nnx.List([self._conv_transpose(a, b, k, 2, rngs) for a, b in zip(rev, (*rev[1:], rev[-1]))])
    learned_var = config.likelihood == "gaussian" and config.decoder_logvar is None
    self.dec_out = self._conv(rev[-1], c_in * (2 if learned_var else 1), k, 1, rngs)

  # The only places convolution layers are constructed.
  def _conv(self, c_in: int, c_out: int, kernel: int, stride: int, rngs: nnx.Rngs):
    return jaxgen.nn.Conv(
        c_in, c_out, (kernel, kernel), strides=(stride, stride), padding="SAME", impl=self.config.conv_impl,
        dtype=self.dtype, rngs=rngs,
    )

  def _conv_transpose(self, c_in: int, c_out: int, kernel: int, stride: int, rngs: nnx.Rngs):
    return jaxgen.nn.ConvTranspose(
        c_in, c_out, (kernel, kernel), strides=(stride, stride), padding="SAME", impl=self.config.conv_impl,
        dtype=self.dtype, rngs=rngs,
    )

  def encode(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(mean, logvar) of q(z | x), each ``(B, latent_dim)``."""
    act = activation_fn(self.config.activation)
    h = x
    for conv in self.down:
      h = act(conv(h))
    h = h.reshape((h.shape[0], -1))
    if self.enc_hidden is not None:
      h = act(self.enc_hidden(h))
    return split_gaussian_params(to_float32(self.enc_out(h)), self.latent_dim)

  def decode(self, z: jax.Array):
    """Parameters of p(x | z): logits ``(B, H, W, C)``, or (mean, logvar) for 'gaussian'."""
    act = activation_fn(self.config.activation)
    h = z
    if self.dec_hidden is not None:
      h = act(self.dec_hidden(h))
    h = act(self.dec_in(h)).reshape((z.shape[0], *self.config.bottleneck_shape))
    for conv in self.up:
      h = act(conv(h))
    out = to_float32(self.dec_out(h))
    c = self.image_shape[-1]
    if self.likelihood == "bernoulli":
      return out
    if self.config.decoder_logvar is not None:
      return out, jnp.full_like(out, self.config.decoder_logvar)
    return out[..., :c], out[..., c:]


def build(config, rngs: nnx.Rngs) -> dict[str, nnx.Module]:
  """Registry builder: ``{"vae": ConvVAE}`` from ``config.model``."""
  return {"vae": ConvVAE(hparams_from_config(ConvVAEConfig, config.model, family="conv_vae"), rngs=rngs)}


register_model("conv_vae", build, sample_images, hparams=ConvVAEConfig)
