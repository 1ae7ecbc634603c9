"""CycleGAN (Zhu et al. 2017): two ResNet generators G_AB, G_BA and two PatchGAN discriminators D_A, D_B.

ResNet generator (Johnson et al. 2016, as the reference code builds it),
x (B, H, W, C_in) -> (B, H, W, C_out) in [-1, 1], with ngf = ``features``,
d = ``num_downsamplings`` and "norm" InstanceNorm by default:

* reflection pad 3, 7x7 conv -> ngf, norm, ReLU;
* d times: 3x3 stride-2 conv (zero pad 1) doubling the channels, norm, ReLU;
* ``num_blocks`` residual blocks h + F(h), F = reflection pad 1, 3x3 conv,
  norm, ReLU, reflection pad 1, 3x3 conv, norm (no dropout);
* d times: 3x3 stride-2 transposed conv with PyTorch's padding 1 and
  output_padding 1 (exactly doubles the side) halving the channels, norm, ReLU;
* reflection pad 3, 7x7 conv -> C_out, tanh.

Convolutions before a norm have a bias unless the norm is BatchNorm (with
InstanceNorm, which has no affine parameters, they do); weights N(0, 0.02).
Six blocks are the paper's choice at 128x128, nine at 256x256 (App. 7.2).

Networks of :func:`build`: ``g_ab`` (A -> B), ``g_ba`` (B -> A), ``d_a`` and
``d_b`` (:class:`PatchDiscriminator` on images of A and of B). The default
``discriminator`` is "patch34": the paper's "patch70" gives an empty logit map
below a 24-pixel side, and the 16x16 default images take at most "patch34"
(a 2x2 logit map, as "patch70" gives on 32x32).

References:
  Zhu, Park, Isola, Efros. "Unpaired Image-to-Image Translation using
  Cycle-Consistent Adversarial Networks", ICCV 2017 (Section 4, App. 7.2).
  Johnson, Alahi, Fei-Fei. "Perceptual Losses for Real-Time Style Transfer
  and Super-Resolution", ECCV 2016.
  Ulyanov, Vedaldi, Lempitsky. "Instance Normalization: The Missing
  Ingredient for Fast Stylization", 2016.
  Code: junyanz/pytorch-CycleGAN-and-pix2pix, ``models/networks.py``
  (ResnetGenerator, ResnetBlock).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

import jaxgen.nn

from jaxgen.models import _precision, _registry
from jaxgen.models._precision import check_compute_dtype, to_float32
from jaxgen.models._registry import register_model
from jaxgen.models.patchgan import (
    DISCRIMINATORS,
    NORMS,
    PatchDiscriminator,
    _apply_norm,
    _check_choice,
    _conv,
    _conv_transpose,
    _norm,
    check_discriminator_fits,
)
from jaxgen.models.pix2pix import _check_positive_int, _check_square, _translate_images

__all__ = ["CycleGANConfig", "ResnetGenerator", "build", "hparams_from_config", "translate"]

DIRECTIONS = ("AtoB", "BtoA")


@dataclasses.dataclass(frozen=True)
class CycleGANConfig:
  """Hyperparameters of CycleGAN (defaults: the paper's 128x128 model on 16x16 one-channel images)."""

  # (H, H, C_A) of domain A; domain B is (H, H, channels_b).
  image_shape: tuple[int, int, int] = (16, 16, 1)
  channels_b: int | None = None  # None: as A
  # ngf and ndf.
  features: int = 64
  discriminator_features: int = 64
  # Residual blocks: 6 (the paper at 128x128) or 9 (at 256x256).
  num_blocks: int = 6
  num_downsamplings: int = 2
  # A variant of patchgan.py; "patch70" (the paper's) needs a side of at least 24.
  discriminator: str = "patch34"
  # "instance" (the paper), "batch" or "none", in G and D.
  norm: str = "instance"
  init_std: float = 0.02
  # Used by norm = "batch" only.
  batch_norm_momentum: float = 0.9
  conv_impl: str = "auto"
  compute_dtype: str = "float32"

  def __post_init__(self):
    check_compute_dtype(self.compute_dtype)
    _check_choice("discriminator", self.discriminator, DISCRIMINATORS)
    _check_choice("norm", self.norm, NORMS)
    _check_choice("conv_impl", self.conv_impl, jaxgen.nn.IMPLS)
    object.__setattr__(self, "image_shape", _check_square(self.image_shape))
    for name in ("features", "discriminator_features"):
      _check_positive_int(name, getattr(self, name))
    if self.channels_b is not None:
      _check_positive_int("channels_b", self.channels_b)
    _check_positive_int("num_blocks", self.num_blocks, 0)
    _check_positive_int("num_downsamplings", self.num_downsamplings, 0)
    if not 0.0 <= self.batch_norm_momentum < 1.0:
      raise ValueError(f"batch_norm_momentum must lie in [0, 1), got {self.batch_norm_momentum}")
    side, scale = self.image_shape[0], 2**self.num_downsamplings
    # Reflection padding needs a side above the pad: 3 at full resolution, 1 between the blocks.
    if side % scale or side // scale < 2 or side < 4:
      raise ValueError(f"the ResNet generator needs image side {side} divisible by 2**num_downsamplings = {scale} "
                       f"with at least 2x2 left (and side >= 4): lower num_downsamplings")
    check_discriminator_fits(self.discriminator, side)

  @property
  def shape_b(self) -> tuple[int, int, int]:
    """(H, H, C_B) of domain B."""
    return self.image_shape[:2] + (self.image_shape[-1] if self.channels_b is None else self.channels_b,)


class _ResidualBlock(nnx.Module):
  """h + norm(conv(pad(ReLU(norm(conv(pad(h))))))), reflection padding, 3x3 convolutions, channels kept."""

  def __init__(self, channels: int, conv, norm):
    self.conv1, self.norm1 = conv(channels, channels, 3), norm(channels)
    self.conv2, self.norm2 = conv(channels, channels, 3), norm(channels)

  def __call__(self, h: jax.Array, *, train: bool) -> jax.Array:
    r = jax.nn.relu(_apply_norm(self.norm1, self.conv1(h), train=train))
    return h + _apply_norm(self.norm2, self.conv2(r), train=train)


class ResnetGenerator(nnx.Module):
  """x (B, H, W, in_channels) -> (B, H, W, out_channels) in [-1, 1]; the network of the module docstring."""

  def __init__(self, hp: CycleGANConfig, in_channels: int, out_channels: int, *, rngs: nnx.Rngs):
    dtype = _precision.compute_dtype(hp.compute_dtype)
    layer = dict(init_std=hp.init_std, conv_impl=hp.conv_impl, dtype=dtype, rngs=rngs)
    bias = hp.norm != "batch"
    norm = functools.partial(_norm, hp.norm, momentum=hp.batch_norm_momentum, init_std=hp.init_std, dtype=dtype,
                             rngs=rngs)
    # Flax's "REFLECT" pads (k - 1) // 2 on each side for odd k: PyTorch's ReflectionPad2d(3 or 1) + conv padding 0.
    reflect_conv = functools.partial(_conv, padding="REFLECT", bias=bias, **layer)
    channels = [hp.features * 2**i for i in range(hp.num_downsamplings + 1)]
    self.stem, self.stem_norm = reflect_conv(in_channels, channels[0], 7), norm(channels[0])
    self.downs = nnx.List([
        _conv(a, b, 3, stride=2, padding=1, bias=bias, **layer) for a, b in zip(channels[:-1], channels[1:])
    ])
    self.down_norms = nnx.List([norm(b) for b in channels[1:]])
    self.blocks = nnx.List([_ResidualBlock(channels[-1], reflect_conv, norm) for _ in range(hp.num_blocks)])
    self.ups = nnx.List([
        _conv_transpose(a, b, 3, stride=2, padding=1, output_padding=1, bias=bias, **layer)
        for a, b in zip(channels[:0:-1], channels[-2::-1])
    ])
    self.up_norms = nnx.List([norm(b) for b in channels[-2::-1]])
    self.head = _conv(channels[0], out_channels, 7, padding="REFLECT", bias=True, **layer)

  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    """``train``: BatchNorm batch statistics (InstanceNorm has none: then it changes nothing)."""
    h = jax.nn.relu(_apply_norm(self.stem_norm, self.stem(x), train=train))
    for conv, norm in zip(self.downs, self.down_norms):
      h = jax.nn.relu(_apply_norm(norm, conv(h), train=train))
    for block in self.blocks:
      h = block(h, train=train)
    for conv, norm in zip(self.ups, self.up_norms):
      h = jax.nn.relu(_apply_norm(norm, conv(h), train=train))
    return jnp.tanh(to_float32(self.head(h)))


def hparams_from_config(config) -> CycleGANConfig:
  """The model's hyperparameters from ``config.model`` (its ``name`` key aside)."""
  return _registry.hparams_from_config(CycleGANConfig, config.model, family="cyclegan")


def _discriminator(hp: CycleGANConfig, channels: int, rngs: nnx.Rngs) -> PatchDiscriminator:
  return PatchDiscriminator(
      channels, image_side=hp.image_shape[0], discriminator=hp.discriminator, features=hp.discriminator_features,
      norm=hp.norm, init_std=hp.init_std, batch_norm_momentum=hp.batch_norm_momentum, conv_impl=hp.conv_impl,
      compute_dtype=hp.compute_dtype, rngs=rngs,
  )


def build(config, rngs: nnx.Rngs) -> dict[str, nnx.Module]:
  """{"g_ab": A -> B, "g_ba": B -> A, "d_a", "d_b"} from ``config.model``."""
  hp = hparams_from_config(config)
  c_a, c_b = hp.image_shape[-1], hp.shape_b[-1]
  return {
      "g_ab": ResnetGenerator(hp, c_a, c_b, rngs=rngs),
      "g_ba": ResnetGenerator(hp, c_b, c_a, rngs=rngs),
      "d_a": _discriminator(hp, c_a, rngs),
      "d_b": _discriminator(hp, c_b, rngs),
  }


def translate(models, images, config, *, direction: str = "AtoB", train_mode: bool = False,
              key: jax.Array | None = None) -> np.ndarray:
  """G_AB(a) ("AtoB") or G_BA(b) ("BtoA") in [0, 1] for ``images`` (N, H, H, C) in [0, 1].

  ``train_mode``: each image normalised by its own batch statistics (matters
  for norm = "batch" only). ``key`` is unused: the generators have no
  dropout. The models are not changed.
  """
  del key
  hp = hparams_from_config(config)
  _check_choice("direction", direction, DIRECTIONS)
  generator, shape = (models["g_ab"], hp.image_shape) if direction == "AtoB" else (models["g_ba"], hp.shape_b)
  return _translate_images(generator, images, expected_shape=shape, train_mode=train_mode, key=None,
                           where=f"cyclegan translate {direction}")


register_model("cyclegan", build, None, hparams=CycleGANConfig, translate=translate)
