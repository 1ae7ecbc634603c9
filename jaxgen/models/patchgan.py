"""PatchGAN discriminators of pix2pix and CycleGAN: one real/fake logit per image patch.

Layer lists (k = kernel, s = stride, p = PyTorch's symmetric zero padding,
C = ``features`` = ndf; "norm" is BatchNorm, InstanceNorm or nothing; every
activation is LeakyReLU(0.2)):

* ``"patch16" | "patch34" | "patch70" | "patch142" | "patch286"`` with
  n = 1, 2, 3, 4, 5 (the reference's NLayerDiscriminator, ``n_layers``):
  conv k4 s2 p1 -> C, act (no norm on the input layer); for m = 1 .. n - 1:
  conv k4 s2 p1 -> C * min(2**m, 8), norm, act; conv k4 s1 p1 ->
  C * min(2**n, 8), norm, act; conv k4 s1 p1 -> 1. Logit map side:
  floor(H / 2**n) - 2 (256 -> 30 and 32 -> 2 for "patch70").
* ``"pixel"`` (PixelGAN): conv k1 -> C, act; conv k1 -> 2C, norm, act;
  conv k1 -> 1. One logit per pixel.
* ``"image"``: conv k4 s2 p1 -> C * min(2**i, 8) (i = 0, 1, ...; norm from
  i = 1 on), act, while the side is at least 4 (down to 2x2 for a power of
  two), then a VALID conv whose kernel is the whole remaining map -> 1:
  one logit per image, seeing all of it.

Receptive field (side of the input square one logit sees), by the recurrence
``r <- r + (k - 1) * j; j <- j * s`` from r = j = 1 over the layers: 1, 16,
34, 70, 142, 286 (the variants' names; Isola et al., Table 2) and, for
"image", at least the image side. It can exceed the image: the zero padding
counts.

Conventions of the reference code (``models/networks.py``): weights
N(0, init_std) with init_std 0.02, biases 0, BatchNorm scales N(1, init_std);
a convolution followed by BatchNorm has no bias (its ``use_bias`` rule, which
also drops PixelGAN's last bias under BatchNorm); InstanceNorm has no affine
parameters and no running statistics (PyTorch's ``InstanceNorm2d``
defaults). The logits are never passed through a sigmoid: losses take logits.

References:
  Isola, Zhu, Zhou, Efros. "Image-to-Image Translation with Conditional
  Adversarial Networks", CVPR 2017, Section 3.2.2 and Table 2.
  Zhu, Park, Isola, Efros. "Unpaired Image-to-Image Translation using
  Cycle-Consistent Adversarial Networks", ICCV 2017, Section 4 and App. 7.2.
  Li, Wand. "Precomputed Real-Time Texture Synthesis with Markovian
  Generative Adversarial Networks", ECCV 2016.
"""

from __future__ import annotations

import difflib
from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

import jaxgen.nn

from jaxgen.models import _precision
from jaxgen.models._precision import to_float32

__all__ = ["DISCRIMINATORS", "NORMS", "PatchDiscriminator", "check_discriminator_fits", "receptive_field"]

DISCRIMINATORS = ("pixel", "patch16", "patch34", "patch70", "patch142", "patch286", "image")
NORMS = ("batch", "instance", "none")
LEAKY_RELU_SLOPE = 0.2
# PyTorch's default epsilon of BatchNorm2d and InstanceNorm2d.
_NORM_EPSILON = 1e-5
_PATCH_LAYERS = {"patch16": 1, "patch34": 2, "patch70": 3, "patch142": 4, "patch286": 5}


def _check_choice(field: str, value, choices: tuple[str, ...]) -> None:
  """A one-line ValueError, with a "did you mean", unless ``value`` is one of ``choices``."""
  if value not in choices:
    close = difflib.get_close_matches(str(value), choices, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise ValueError(f"unknown {field} {value!r}.{hint} Choose one of {', '.join(choices)}.")


# --- layers shared by the translation models (pix2pix, CycleGAN) ---------------------------------


def _conv(in_features: int, out_features: int, kernel: int, *, stride: int = 1, padding, bias: bool,
          init_std: float, conv_impl: str, dtype, rngs: nnx.Rngs) -> jaxgen.nn.Conv:
  """A convolution; ``padding`` an int p is PyTorch's ``padding=p`` (zeros, both sides), else Flax's."""
  if isinstance(padding, int):
    padding = ((padding, padding), (padding, padding))
  return jaxgen.nn.Conv(
      in_features, out_features, (kernel, kernel), strides=(stride, stride), padding=padding, use_bias=bias,
      kernel_init=nnx.initializers.normal(init_std), impl=conv_impl, dtype=dtype, rngs=rngs,
  )


def _conv_transpose(in_features: int, out_features: int, kernel: int, *, stride: int, padding: int,
                    output_padding: int = 0, bias: bool, init_std: float, conv_impl: str, dtype,
                    rngs: nnx.Rngs) -> jaxgen.nn.ConvTranspose:
  """PyTorch's ``ConvTranspose2d(kernel, stride, padding, output_padding)``: H_out = (H - 1) s - 2p + k + op.

  ``lax.conv_transpose`` pads the stride-dilated input explicitly; PyTorch's
  output is that of the padding (k - 1 - p, k - 1 - p + op). The kernel is
  not flipped (``transpose_kernel=False``): it is PyTorch's weight flipped in
  both spatial axes, the same family of functions.
  """
  low = kernel - 1 - padding
  pads = ((low, low + output_padding), (low, low + output_padding))
  return jaxgen.nn.ConvTranspose(
      in_features, out_features, (kernel, kernel), strides=(stride, stride), padding=pads, use_bias=bias,
      kernel_init=nnx.initializers.normal(init_std), impl=conv_impl, dtype=dtype, rngs=rngs,
  )


def _norm(kind: str, features: int, *, momentum: float, init_std: float, dtype, rngs: nnx.Rngs):
  """BatchNorm (scale ~ N(1, init_std), as the reference initialises it), InstanceNorm or None."""
  if kind == "batch":
    def scale_init(key, shape, dtype=jnp.float32):
      return 1.0 + init_std * jax.random.normal(key, shape, dtype)

    return nnx.BatchNorm(features, momentum=momentum, epsilon=_NORM_EPSILON, scale_init=scale_init, dtype=dtype,
                         rngs=rngs)
  if kind == "instance":
    # Per example and channel over H, W; no affine, no running statistics (PyTorch's InstanceNorm2d defaults).
    return nnx.InstanceNorm(features, epsilon=_NORM_EPSILON, use_scale=False, use_bias=False,
                            use_fast_variance=False, dtype=dtype, rngs=rngs)
  return None


def _apply_norm(norm, h: jax.Array, *, train: bool) -> jax.Array:
  if norm is None:
    return h
  if isinstance(norm, nnx.BatchNorm):
    return norm(h, use_running_average=not train)
  return norm(h)


# --- the layer plan --------------------------------------------------------------------------------


class _Layer(NamedTuple):
  kernel: int
  stride: int
  padding: int  # PyTorch's symmetric zero padding
  features: int  # output channels
  norm: bool  # normalised after the convolution
  activation: bool  # LeakyReLU after (the norm)
  always_bias: bool  # a bias even under BatchNorm (the reference's plain nn.Conv2d default)


def _plan(discriminator: str, features: int, image_side: int | None) -> list[_Layer]:
  """The convolutions of a variant, input to logits ("image" needs ``image_side`` >= 4)."""
  _check_choice("discriminator", discriminator, DISCRIMINATORS)
  if discriminator == "pixel":
    # The last 1x1 conv keeps the use_bias rule in the reference, unlike NLayerDiscriminator's.
    return [_Layer(1, 1, 0, features, False, True, True), _Layer(1, 1, 0, 2 * features, True, True, False),
            _Layer(1, 1, 0, 1, False, False, False)]
  if discriminator == "image":
    if image_side is None:
      raise ValueError("the 'image' discriminator depends on the image side: pass image_side")
    layers, side = [], image_side
    while side >= 4:
      i = len(layers)
      layers.append(_Layer(4, 2, 1, features * min(2**i, 8), i > 0, True, i == 0))
      side //= 2
    if not layers:
      return []
    return layers + [_Layer(side, 1, 0, 1, False, False, True)]
  n = _PATCH_LAYERS[discriminator]
  layers = [_Layer(4, 2, 1, features, False, True, True)]
  layers += [_Layer(4, 2, 1, features * min(2**m, 8), True, True, False) for m in range(1, n)]
  layers += [_Layer(4, 1, 1, features * min(2**n, 8), True, True, False), _Layer(4, 1, 1, 1, False, False, True)]
  return layers


def _output_side(discriminator: str, image_side: int) -> int:
  """Side of the logit map on image_side x image_side inputs; 0 when it is empty."""
  layers = _plan(discriminator, 1, image_side)
  side = image_side if layers else 0
  for layer in layers:
    side = (side + 2 * layer.padding - layer.kernel) // layer.stride + 1
    if side < 1:
      return 0
  return side


def receptive_field(discriminator: str, image_side: int | None = None) -> int:
  """Side of the input square that one logit depends on: r <- r + (k - 1) j, j <- j s over the layers.

  Args:
    discriminator: one of ``DISCRIMINATORS``.
    image_side: the input side; needed (and only used) by ``"image"``.

  Returns:
    1 for "pixel", 16 / 34 / 70 / 142 / 286 for the patch variants, at least
    ``image_side`` for "image" (padding included, so it can exceed the image).

  Example:
    >>> [receptive_field(d) for d in ("pixel", "patch16", "patch34", "patch70", "patch142", "patch286")]
    [1, 16, 34, 70, 142, 286]
    >>> receptive_field("image", 16)
    30
  """
  if discriminator == "image":
    check_discriminator_fits(discriminator, image_side)
  field, jump = 1, 1
  for layer in _plan(discriminator, 1, image_side):
    field += (layer.kernel - 1) * jump
    jump *= layer.stride
  return field


def check_discriminator_fits(discriminator: str, image_side: int | None) -> None:
  """A one-line ValueError naming the variants that fit, unless ``discriminator`` gives logits on this side."""
  _check_choice("discriminator", discriminator, DISCRIMINATORS)
  if image_side is None:
    if discriminator == "image":
      raise ValueError("the 'image' discriminator depends on the image side: pass image_side")
    return
  if _output_side(discriminator, image_side) < 1:
    needs = next(s for s in range(1, 1 << 12) if _output_side(discriminator, s) >= 1)
    fits = [d for d in DISCRIMINATORS if _output_side(d, image_side) >= 1]
    raise ValueError(
        f"discriminator {discriminator!r} needs images of side >= {needs} (its logit map is empty on "
        f"{image_side}x{image_side}); variants that fit: {', '.join(fits)}"
    )


class PatchDiscriminator(nnx.Module):
  """Images (B, H, W, in_channels) -> logits (B, h, w), one per patch of ``receptive_field`` pixels.

  The layer lists are in the module docstring. h = w = 1 for "image"
  (which requires H = ``image_side``); the patch variants and "pixel" are
  fully convolutional and take any side at least their minimum.

  Args:
    in_channels: channels of the input (pix2pix's conditional D: input plus
      output channels).
    image_side: H = W of the images D is built for; a variant whose logit map
      would be empty raises a one-line ValueError naming those that fit.
    discriminator: one of ``DISCRIMINATORS``.
    features: ndf, the channels of the first convolution.
    norm: "batch", "instance" or "none".
    init_std: std of the N(0, init_std) convolution weights.
    batch_norm_momentum: Flax's momentum (0.9 = PyTorch's 0.1).
    conv_impl: ``jaxgen.nn`` convolution formulation ("auto", "xla", "cpu_fast").
    compute_dtype: "float32" or "bfloat16"; the logits are float32.
    rngs: parameter initialisation.

  Example:
    >>> d = PatchDiscriminator(2, image_side=32, features=4, rngs=nnx.Rngs(0))
    >>> d(jnp.zeros((3, 32, 32, 2)), train=False).shape
    (3, 2, 2)
  """

  def __init__(self, in_channels: int, *, image_side: int, discriminator: str = "patch70", features: int = 64,
               norm: str = "batch", init_std: float = 0.02, batch_norm_momentum: float = 0.9,
               conv_impl: str = "auto", compute_dtype: str = "float32", rngs: nnx.Rngs):
    _check_choice("norm", norm, NORMS)
    check_discriminator_fits(discriminator, image_side)
    self.discriminator = discriminator
    self.image_side = image_side
    dtype = _precision.compute_dtype(compute_dtype)
    layers = _plan(discriminator, features, image_side)
    convs, norms, channels = [], [], in_channels
    for layer in layers:
      convs.append(_conv(
          channels, layer.features, layer.kernel, stride=layer.stride, padding=layer.padding,
          bias=layer.always_bias or norm != "batch", init_std=init_std, conv_impl=conv_impl, dtype=dtype, rngs=rngs,
      ))
      if layer.norm and norm != "none":
        norms.append(_norm(norm, layer.features, momentum=batch_norm_momentum, init_std=init_std, dtype=dtype,
                           rngs=rngs))
      channels = layer.features
    self.convs = nnx.List(convs)
    self.norms = nnx.List(norms)
    self.normalised = tuple(layer.norm and norm != "none" for layer in layers)
    self.activated = tuple(layer.activation for layer in layers)

  def __call__(self, x: jax.Array, *, train: bool, key: jax.Array | None = None) -> jax.Array:
    """x (B, H, W, in_channels) -> float32 logits (B, h, w); ``train``: BatchNorm batch statistics."""
    del key  # no randomness: kept for the GAN discriminator contract
    if self.discriminator == "image" and x.shape[1:3] != (self.image_side, self.image_side):
      raise ValueError(f"the 'image' discriminator was built for {self.image_side}x{self.image_side} inputs, "
                       f"got {x.shape[1]}x{x.shape[2]}")
    h, norms = x, iter(self.norms)
    for conv, normalised, activated in zip(self.convs, self.normalised, self.activated):
      h = conv(h)
      if normalised:
        h = _apply_norm(next(norms), h, train=train)
      if activated:
        h = jax.nn.leaky_relu(h, LEAKY_RELU_SLOPE)
    return to_float32(h)[..., 0]
