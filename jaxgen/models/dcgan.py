"""DCGAN (Radford, Metz and Chintala 2015): all-convolutional generator and discriminator.

The architecture guidelines of Section 3 of the paper:

* strided convolutions in D and fractionally strided (transposed) ones in G,
  no pooling;
* batch normalization in both, except on G's output layer and D's input layer;
* ReLU in G with a tanh output (the data are scaled to [-1, 1]; :func:`sample`
  maps back to [0, 1]); LeakyReLU with slope 0.2 in D;
* the first layer of G projects z to a small spatial map (a matrix product,
  then reshape); the last layer of D flattens and maps to one logit;
* weights from N(0, 0.02) (Section 4); Adam with lr 2e-4 and beta1 0.5 lives in
  the experiment's config.

Resolution: G starts at a ``base`` x ``base`` map and doubles it ``L`` times;
by default the image side is halved while it is even and above 4, so 64 -> 4
(L = 4, the paper's LSUN model: 4x4x1024 -> 8x8x512 -> 16x16x256 -> 32x32x128 ->
64x64x3), 32 -> 4 (L = 3), 28 -> 7 (L = 2) and the 8x8 digits -> 4 (L = 1).
Channels: ``features * 2**(L - j)`` at G's level j, ``features * 2**i`` after
D's convolution i.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

import jaxgen.nn

from jaxgen.models import _registry
from jaxgen.models._precision import check_compute_dtype, compute_dtype, to_float32
from jaxgen.models._registry import register_model


_DCGAN_NORMS = ("batch", "layer", "none")


@dataclasses.dataclass(frozen=True)
class DCGANConfig:
  """Hyperparameters of DCGAN (defaults: the paper's 64x64 model scaled to MNIST)."""

  image_shape: tuple[int, int, int] = (28, 28, 1)
  latent_dim: int = 100
  features: int = 64
  kernel_size: int = 5
  # Doublings of G's first map (None: halve the image side while even and > 4).
  num_upsamplings: int | None = None
  init_std: float = 0.02
  batch_norm_momentum: float = 0.9
  leaky_relu_slope: float = 0.2
  # D's normalisation after every convolution but the first: "batch" (the paper), "layer" (per example, over
  # H, W and C: what input-gradient penalties need, Gulrajani et al. 2017, Section 4) or "none".
  discriminator_norm: str = "batch"
  # jaxgen.nn convolution formulation: "auto" (fast sub-pixel transposed convolutions on CPU,
  # XLA's own elsewhere), "xla" or "cpu_fast". Same parameters and checkpoints either way.
  conv_impl: str = "auto"
  # 'float32' or 'bfloat16': the layers' computation; parameters, outputs and losses stay float32.
  compute_dtype: str = "float32"

  def __post_init__(self):
    check_compute_dtype(self.compute_dtype)
    if type(self) is DCGANConfig and self.discriminator_norm not in _DCGAN_NORMS:
      raise ValueError(f"discriminator_norm must be one of {', '.join(_DCGAN_NORMS)}, got {self.discriminator_norm!r}")
    object.__setattr__(self, "image_shape", tuple(int(d) for d in self.image_shape))
    if len(self.image_shape) != 3 or self.image_shape[0] != self.image_shape[1]:
      raise ValueError(f"image_shape must be square (H, H, C), got {self.image_shape}")
    side = self.image_shape[0]
    if side % (2**self.upsamplings) != 0:
      raise ValueError(
          f"image side {side} is not divisible by 2**num_upsamplings = {2**self.upsamplings}: lower num_upsamplings"
      )
    if self.upsamplings < 1:
      raise ValueError(f"DCGAN needs at least one upsampling; image side {side} gives none: set num_upsamplings")

  @property
  def upsamplings(self) -> int:
    if self.num_upsamplings is not None:
      return int(self.num_upsamplings)
    side, n = self.image_shape[0], 0
    while side % 2 == 0 and side > 4:
      side, n = side // 2, n + 1
    return n

  @property
  def base(self) -> int:
    """Side of G's first map and of D's last one."""
    return self.image_shape[0] // 2**self.upsamplings


def _conv(hp: DCGANConfig, in_features: int, out_features: int, *, transpose: bool, rngs: nnx.Rngs):
  """Every strided convolution of the model is built here (stride 2, SAME, N(0, 0.02))."""
  cls = jaxgen.nn.ConvTranspose if transpose else jaxgen.nn.Conv
  return cls(
      in_features,
      out_features,
      (hp.kernel_size, hp.kernel_size),
      strides=(2, 2),
      padding="SAME",
      kernel_init=nnx.initializers.normal(hp.init_std),
      impl=hp.conv_impl,
      dtype=compute_dtype(hp.compute_dtype),
      rngs=rngs,
  )


def _batch_norm(hp: DCGANConfig, features: int, rngs: nnx.Rngs):
  return nnx.BatchNorm(features, momentum=hp.batch_norm_momentum, dtype=compute_dtype(hp.compute_dtype), rngs=rngs)


class DCGANGenerator(nnx.Module):
  """z (B, latent_dim) -> images (B, H, W, C) in [-1, 1]."""

  def __init__(self, hp: DCGANConfig, *, rngs: nnx.Rngs):
    self.base = hp.base
    num = hp.upsamplings
    channels = [hp.features * 2 ** (num - j) for j in range(num)]  # levels 0 .. L-1
    self.base_channels = channels[0]
    self.project = nnx.Linear(
        hp.latent_dim, hp.base**2 * channels[0], kernel_init=nnx.initializers.normal(hp.init_std),
        dtype=compute_dtype(hp.compute_dtype), rngs=rngs,
    )
    self.project_norm = _batch_norm(hp, channels[0], rngs)
    outs = channels[1:] + [hp.image_shape[-1]]
    self.convs = nnx.List([_conv(hp, a, b, transpose=True, rngs=rngs) for a, b in zip(channels, outs)])
    # No batch norm on the output layer (Section 3).
    self.norms = nnx.List([_batch_norm(hp, b, rngs) for b in outs[:-1]])

  def __call__(self, z: jax.Array, *, train: bool) -> jax.Array:
    h = self.project(z).reshape((z.shape[0], self.base, self.base, self.base_channels))
    h = jax.nn.relu(self.project_norm(h, use_running_average=not train))
    for conv, norm in zip(self.convs[:-1], self.norms):
      h = jax.nn.relu(norm(conv(h), use_running_average=not train))
    return jnp.tanh(to_float32(self.convs[-1](h)))


class DCGANDiscriminator(nnx.Module):
  """Images (B, H, W, C) in [-1, 1] -> logits (B,)."""

  def __init__(self, hp: DCGANConfig, *, rngs: nnx.Rngs):
    self.slope = hp.leaky_relu_slope
    num = hp.upsamplings
    channels = [hp.image_shape[-1]] + [hp.features * 2**i for i in range(num)]
    self.convs = nnx.List([_conv(hp, a, b, transpose=False, rngs=rngs) for a, b in zip(channels[:-1], channels[1:])])
    # No normalisation on the input layer (Section 3).
    if hp.discriminator_norm == "layer":
      norms = [nnx.LayerNorm(b, reduction_axes=(-3, -2, -1), dtype=compute_dtype(hp.compute_dtype), rngs=rngs)
               for b in channels[2:]]
    else:
      norms = [_batch_norm(hp, b, rngs) for b in channels[2:]] if hp.discriminator_norm == "batch" else []
    self.norm_kind = hp.discriminator_norm
    self.norms = nnx.List(norms)
    self.output = nnx.Linear(
        hp.base**2 * channels[-1], 1, kernel_init=nnx.initializers.normal(hp.init_std),
        dtype=compute_dtype(hp.compute_dtype), rngs=rngs,
    )

  def __call__(self, x: jax.Array, *, train: bool, key: jax.Array | None = None) -> jax.Array:
    del key  # no dropout in DCGAN
    h = jax.nn.leaky_relu(self.convs[0](x), self.slope)
    for i, conv in enumerate(self.convs[1:]):
      h = conv(h)
      if self.norm_kind == "batch":
        h = self.norms[i](h, use_running_average=not train)
      elif self.norm_kind == "layer":
        h = self.norms[i](h)
      h = jax.nn.leaky_relu(h, self.slope)
    return to_float32(self.output(h.reshape((h.shape[0], -1))))[:, 0]


def hparams_from_config(config) -> DCGANConfig:
  """The model's hyperparameters from ``config.model`` (its ``name`` key aside)."""
  return _registry.hparams_from_config(DCGANConfig, config.model, family="dcgan")


def build(config, rngs: nnx.Rngs) -> dict[str, nnx.Module]:
  hp = hparams_from_config(config)
  return {"generator": DCGANGenerator(hp, rngs=rngs), "discriminator": DCGANDiscriminator(hp, rngs=rngs)}


def to_model_range(images):
  """[0, 1] data -> the generator's tanh range [-1, 1]."""
  return 2.0 * images - 1.0


def to_unit_range(images):
  """The generator's [-1, 1] -> [0, 1] images."""
  return (images + 1.0) / 2.0


def sample(models, key: jax.Array, num: int, config) -> np.ndarray:
  """``num`` images (num, H, W, C) in [0, 1] from z ~ N(0, I), batch norm in inference mode."""
  hp = hparams_from_config(config)
  z = jax.random.normal(key, (num, hp.latent_dim))
  return np.asarray(to_unit_range(models["generator"](z, train=False)))


register_model("dcgan", build, sample, hparams=DCGANConfig)
