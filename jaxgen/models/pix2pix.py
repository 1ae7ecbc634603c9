"""Pix2pix (Isola et al. 2017): a U-Net generator and a conditional PatchGAN discriminator.

Generator G(x), x (B, H, W, input_channels) -> y (B, H, W, C) in [-1, 1], a
U-Net of n = ``num_downs`` levels (by default the side is halved while even:
down to 1x1 for a power of two, the reference's n = 8 at 256). With
C_i = ngf * min(2**i, 8) (ngf, 2ngf, 4ngf, 8ngf, 8ngf, ...):

* encoder, i = 0 .. n-1: d_i = norm(conv_i(LeakyReLU_0.2(d_{i-1}))), conv_i
  a 4x4 stride-2 pad-1 convolution to C_i; level 0 has neither the LeakyReLU
  (it reads x) nor a norm, and the innermost level n-1 has no norm either (as
  in the reference, whose innermost block has no down norm);
* decoder, i = n-1 .. 0: u_i = up_i(ReLU(h_i)) with h_{n-1} = d_{n-1} and
  h_i = concat(d_i, u_{i+1}) (the skip connection between levels i and
  n-1-i), up_i a 4x4 stride-2 transposed convolution with PyTorch's padding 1
  (exactly doubles the side) to C_{i-1}, then norm, then dropout on the
  ``num_dropout_blocks`` levels just above the innermost one; up_0 maps to C
  channels and ends in tanh.

Discriminator D(x, y) -> (B, h, w) logits: a :class:`PatchDiscriminator` on
concat(x, y) (``conditional_discriminator``), or on y alone (the paper's
unconditional "GAN" rows). Weights N(0, 0.02), no bias before BatchNorm, as
the reference.

Noise and normalisation at test time: the reference tests in "train mode",
with batch statistics (one image per batch) and dropout on; jaxgen lets the
caller choose both. ``train`` picks BatchNorm's batch statistics (True) or
running averages (False); dropout (``dropout_rate``, the only noise: G takes
no z, Section 3.1) is applied if and only if a PRNG ``key`` is given.
:func:`translate` with ``train_mode=True`` reproduces the reference's test.

References:
  Isola, Zhu, Zhou, Efros. "Image-to-Image Translation with Conditional
  Adversarial Networks", CVPR 2017 (Sections 3.1-3.3, 6.1).
  Ronneberger, Fischer, Brox. "U-Net: Convolutional Networks for Biomedical
  Image Segmentation", MICCAI 2015.
  Code: junyanz/pytorch-CycleGAN-and-pix2pix, ``models/networks.py``
  (UnetGenerator, UnetSkipConnectionBlock, NLayerDiscriminator).
"""

from __future__ import annotations

import dataclasses
import functools
import numbers

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

import jaxgen.nn

from jaxgen.models import _precision, _registry
from jaxgen.models._precision import check_compute_dtype, to_float32
from jaxgen.models._registry import register_model
from jaxgen.models.dcgan import to_model_range, to_unit_range
from jaxgen.models.patchgan import (
    DISCRIMINATORS,
    LEAKY_RELU_SLOPE,
    NORMS,
    PatchDiscriminator,
    _apply_norm,
    _check_choice,
    _conv,
    _conv_transpose,
    _norm,
    check_discriminator_fits,
)

__all__ = ["Pix2PixConfig", "Pix2PixDiscriminator", "UNetGenerator", "build", "hparams_from_config", "translate"]


def _check_positive_int(name: str, value, minimum: int = 1) -> None:
  if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
    raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _check_square(image_shape) -> tuple[int, int, int]:
  shape = tuple(int(d) for d in image_shape)
  if len(shape) != 3 or shape[0] != shape[1] or min(shape) < 1:
    raise ValueError(f"image_shape must be square (H, H, C), got {tuple(image_shape)}")
  return shape


@dataclasses.dataclass(frozen=True)
class Pix2PixConfig:
  """Hyperparameters of pix2pix (defaults: the paper's model on 32x32 one-channel images)."""

  # (H, H, C) of the target images y; the inputs x are (H, H, input_channels).
  image_shape: tuple[int, int, int] = (32, 32, 1)
  input_channels: int = 1
  # ngf and ndf: channels of G's and D's first convolution.
  features: int = 64
  discriminator_features: int = 64
  # U-Net levels n (None: halve the side while even, down to 1x1 for a power of two; the reference's 8 at 256).
  num_downs: int | None = None
  # "pixel", "patch16", "patch34", "patch70" (the paper's), "patch142", "patch286" or "image" (patchgan.py).
  discriminator: str = "patch70"
  # False: D sees the output alone (the paper's unconditional "GAN" rows, Table 1).
  conditional_discriminator: bool = True
  # "batch" (the paper), "instance" or "none", in G and D.
  norm: str = "batch"
  dropout_rate: float = 0.5
  # Decoder levels with dropout, those just above the innermost one (the reference's 256x256 model: 3).
  num_dropout_blocks: int = 3
  init_std: float = 0.02
  batch_norm_momentum: float = 0.9
  conv_impl: str = "auto"
  compute_dtype: str = "float32"

  def __post_init__(self):
    check_compute_dtype(self.compute_dtype)
    _check_choice("discriminator", self.discriminator, DISCRIMINATORS)
    _check_choice("norm", self.norm, NORMS)
    _check_choice("conv_impl", self.conv_impl, jaxgen.nn.IMPLS)
    object.__setattr__(self, "image_shape", _check_square(self.image_shape))
    for name in ("input_channels", "features", "discriminator_features"):
      _check_positive_int(name, getattr(self, name))
    _check_positive_int("num_dropout_blocks", self.num_dropout_blocks, 0)
    if not isinstance(self.conditional_discriminator, bool):
      raise ValueError(f"conditional_discriminator must be True or False, got {self.conditional_discriminator!r}")
    if not 0.0 <= self.dropout_rate < 1.0:
      raise ValueError(f"dropout_rate must lie in [0, 1), got {self.dropout_rate}")
    if not 0.0 <= self.batch_norm_momentum < 1.0:
      raise ValueError(f"batch_norm_momentum must lie in [0, 1), got {self.batch_norm_momentum}")
    side = self.image_shape[0]
    if self.num_downs is not None:
      _check_positive_int("num_downs", self.num_downs, 2)
    if self.downs < 2 or side % 2**self.downs:
      raise ValueError(f"the U-Net needs image side {side} divisible by 2**num_downs with num_downs >= 2; "
                       f"got num_downs = {self.downs}: choose another side or num_downs")
    if self.num_dropout_blocks > self.downs - 2:
      raise ValueError(f"num_dropout_blocks = {self.num_dropout_blocks} exceeds the {self.downs - 2} U-Net levels "
                       f"between the outermost and innermost ones (num_downs = {self.downs}): lower it")
    check_discriminator_fits(self.discriminator, side)

  @property
  def downs(self) -> int:
    """The U-Net's number of stride-2 levels n."""
    if self.num_downs is not None:
      return int(self.num_downs)
    side, n = self.image_shape[0], 0
    while side % 2 == 0 and side > 1:
      side, n = side // 2, n + 1
    return n


def _dropout(h: jax.Array, rate: float, key: jax.Array) -> jax.Array:
  """Inverted dropout, PyTorch's: zero with probability ``rate``, scale the rest by 1 / (1 - rate)."""
  keep = jax.random.bernoulli(key, 1.0 - rate, h.shape)
  return jnp.where(keep, h / (1.0 - rate), jnp.zeros_like(h))


class UNetGenerator(nnx.Module):
  """x (B, H, W, input_channels) -> y (B, H, W, C) in [-1, 1]; the U-Net of the module docstring.

  Attributes of the structure (level i = 0 outermost .. n-1 innermost):
  ``down_convs[i]``, ``down_norms`` (levels 1 .. n-2), ``up_convs[i]``,
  ``up_norms`` (levels 1 .. n-1), ``dropout_levels``.
  """

  def __init__(self, hp: Pix2PixConfig, *, rngs: nnx.Rngs):
    n = hp.downs
    dtype = _precision.compute_dtype(hp.compute_dtype)
    channels = [hp.features * min(2**i, 8) for i in range(n)]
    # The reference's use_bias rule: no bias under BatchNorm, even on the two down convs without a norm.
    bias = hp.norm != "batch"
    layer = dict(init_std=hp.init_std, conv_impl=hp.conv_impl, dtype=dtype, rngs=rngs)
    norm = functools.partial(_norm, hp.norm, momentum=hp.batch_norm_momentum, init_std=hp.init_std, dtype=dtype,
                             rngs=rngs)
    ins = [hp.input_channels] + channels[:-1]
    self.down_convs = nnx.List([
        _conv(a, b, 4, stride=2, padding=1, bias=bias, **layer) for a, b in zip(ins, channels)
    ])
    self.down_norms = nnx.List([norm(channels[i]) for i in range(1, n - 1)] if hp.norm != "none" else [])
    # up_i reads d_{n-1} (innermost) or concat(d_i, u_{i+1}); the outermost one keeps its bias (reference).
    up_ins = [2 * c for c in channels[:-1]] + [channels[-1]]
    up_outs = [hp.image_shape[-1]] + channels[:-1]
    self.up_convs = nnx.List([
        _conv_transpose(a, b, 4, stride=2, padding=1, bias=bias or i == 0, **layer)
        for i, (a, b) in enumerate(zip(up_ins, up_outs))
    ])
    self.up_norms = nnx.List([norm(up_outs[i]) for i in range(1, n)] if hp.norm != "none" else [])
    self.dropout_levels = tuple(range(n - 1 - hp.num_dropout_blocks, n - 1))
    self.dropout_rate = hp.dropout_rate

  def __call__(self, x: jax.Array, *, train: bool, key: jax.Array | None = None) -> jax.Array:
    """``train``: BatchNorm batch statistics (else running averages); dropout iff ``key`` is given."""
    n = len(self.down_convs)
    down_norms = [None] + (list(self.down_norms) or [None] * (n - 2)) + [None]
    up_norms = [None] + (list(self.up_norms) or [None] * (n - 1))
    keys = {}
    if key is not None and self.dropout_levels and self.dropout_rate > 0:
      keys = dict(zip(self.dropout_levels, jax.random.split(key, len(self.dropout_levels))))
    skips, h = [], x
    for i, conv in enumerate(self.down_convs):
      h = _apply_norm(down_norms[i], conv(h if i == 0 else jax.nn.leaky_relu(h, LEAKY_RELU_SLOPE)), train=train)
      skips.append(h)
    for i in reversed(range(n)):
      h = _apply_norm(up_norms[i], self.up_convs[i](jax.nn.relu(h)), train=train)
      if i in keys:
        h = _dropout(h, self.dropout_rate, keys[i])
      if i > 0:
        h = jnp.concatenate([skips[i - 1], h], axis=-1)
    return jnp.tanh(to_float32(h))


class Pix2PixDiscriminator(nnx.Module):
  """(x (B, H, W, input_channels), y (B, H, W, C)) -> logits (B, h, w): PatchGAN on concat(x, y) or on y."""

  def __init__(self, hp: Pix2PixConfig, *, rngs: nnx.Rngs):
    self.conditional = hp.conditional_discriminator
    channels = hp.image_shape[-1] + (hp.input_channels if self.conditional else 0)
    self.net = PatchDiscriminator(
        channels, image_side=hp.image_shape[0], discriminator=hp.discriminator, features=hp.discriminator_features,
        norm=hp.norm, init_std=hp.init_std, batch_norm_momentum=hp.batch_norm_momentum, conv_impl=hp.conv_impl,
        compute_dtype=hp.compute_dtype, rngs=rngs,
    )

  def __call__(self, x_input: jax.Array, y_output: jax.Array, *, train: bool,
               key: jax.Array | None = None) -> jax.Array:
    h = jnp.concatenate([x_input, y_output], axis=-1) if self.conditional else y_output
    return self.net(h, train=train, key=key)


def hparams_from_config(config) -> Pix2PixConfig:
  """The model's hyperparameters from ``config.model`` (its ``name`` key aside)."""
  return _registry.hparams_from_config(Pix2PixConfig, config.model, family="pix2pix")


def build(config, rngs: nnx.Rngs) -> dict[str, nnx.Module]:
  """{"generator": UNetGenerator, "discriminator": Pix2PixDiscriminator} from ``config.model``."""
  hp = hparams_from_config(config)
  return {"generator": UNetGenerator(hp, rngs=rngs), "discriminator": Pix2PixDiscriminator(hp, rngs=rngs)}


@functools.partial(jax.jit, static_argnames=("graphdef", "train_mode"))
def _run_generator(graphdef, state, x, keys, *, train_mode: bool):
  """G on x; in train mode one image at a time, so each is normalised by its own statistics."""

  def apply(x, key, train):
    # A fresh module per call: the batch statistics it writes are dropped, the caller's model is unchanged.
    generator = nnx.merge(graphdef, state, copy=True)
    return generator(x, train=train) if key is None else generator(x, train=train, key=key)

  if not train_mode:
    return apply(x, None, False)
  return jax.lax.map(lambda args: apply(args[0][None], args[1], True)[0], (x, keys))


def _translate_images(generator: nnx.Module, images, *, expected_shape: tuple[int, int, int], train_mode: bool,
                     key: jax.Array | None, where: str) -> np.ndarray:
  """[0, 1] images (N, *expected_shape) -> G's outputs in [0, 1]; ``key`` (one per image) or None."""
  images = np.asarray(images, np.float32)
  if images.ndim != 4 or images.shape[1:] != tuple(expected_shape):
    raise ValueError(f"{where} takes images of shape (N, {', '.join(map(str, expected_shape))}), got {images.shape}")
  graphdef, state = nnx.split(generator)
  # Image i gets fold_in(key, i): its noise does not depend on how many images come with it.
  keys = None if key is None else jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(images.shape[0]))
  out = _run_generator(graphdef, state, to_model_range(jnp.asarray(images)), keys, train_mode=train_mode)
  return np.asarray(to_unit_range(out))


def translate(models, images, config, *, direction: str = "AtoB", train_mode: bool = False,
              key: jax.Array | None = None) -> np.ndarray:
  """G(x) in [0, 1] for inputs ``images`` (N, H, H, input_channels) in [0, 1].

  Args:
    models: ``build``'s networks.
    images: the inputs x, scaled to [0, 1] (mapped to G's [-1, 1] and back).
    config: the config the models were built from.
    direction: "AtoB" only (pix2pix learns one direction).
    train_mode: False: running averages, no dropout. True: the reference's
      test, batch statistics of each image alone (batch size 1) and dropout,
      with ``key`` (folded in per image) required.
    key: a PRNG key; used only in train mode.

  Returns:
    (N, H, H, C) numpy float32 in [0, 1]. The models are not changed.
  """
  hp = hparams_from_config(config)
  if direction != "AtoB":
    raise ValueError(f"pix2pix translates inputs to targets only: direction must be 'AtoB', got {direction!r}")
  if train_mode and key is None:
    raise ValueError("translate(train_mode=True) applies dropout: pass a PRNG key")
  side = hp.image_shape[0]
  return _translate_images(models["generator"], images, expected_shape=(side, side, hp.input_channels),
                          train_mode=train_mode, key=key if train_mode else None, where="pix2pix translate")


register_model("pix2pix", build, None, hparams=Pix2PixConfig, translate=translate)
