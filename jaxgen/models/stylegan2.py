"""StyleGAN2 (Karras et al. 2020): mapping network, modulated synthesis with skip outputs, residual D; small sides.

The networks as NVlabs/stylegan2-ada-pytorch builds them (``training/networks.py``:
``FullyConnectedLayer``, ``Conv2dLayer``, ``MappingNetwork``,
``modulated_conv2d``, ``SynthesisLayer``, ``ToRGBLayer``, ``SynthesisBlock``,
``SynthesisNetwork``, ``DiscriminatorBlock``, ``MinibatchStdLayer``,
``DiscriminatorEpilogue``, ``Discriminator``; resampling as
``torch_utils/ops/upfirdn2d.py`` and ``conv2d_resample.py`` do it; style mixing
as ``training/loss.py``, ``StyleGAN2Loss.run_G``), in NHWC.

Every layer has an equalised learning rate (:class:`FullyConnectedLayer`,
:class:`Conv2dLayer`): the stored weight is N(0, 1) / lr_multiplier and is
used times lr_multiplier / sqrt(fan_in); the stored bias is ``bias_init`` and
is used times lr_multiplier (``networks.py`` lines 100-111; convolutions have
lr_multiplier 1, line 144). The modulated convolutions store N(0, 1) too:
ToRGB applies 1 / sqrt(fan_in) to its styles (line 321), a synthesis layer
needs none, its demodulation removing the weight's scale.

Generator G(z, y) = synthesis(mapping(z, y)):

* mapping (:class:`MappingNetwork`): z normalised by its second moment, with
  num_classes set the label's embedding (a linear layer of one_hot(y), also
  normalised) concatenated; ``mapping_layers`` linear layers with lrelu (slope
  0.2, gain sqrt 2), lr multiplier 0.01; w is broadcast to ``num_ws`` copies.
  In training calls ``w_avg <- beta w_avg + (1 - beta) mean_batch(w)``
  (beta = ``w_avg_beta``, an ``nnx.BatchStat``); truncation
  w <- w_avg + psi (w - w_avg) on the first ``truncation_cutoff`` ws, only when
  psi != 1 is asked for.
* synthesis (:class:`SynthesisNetwork`, the reference's "skip" architecture):
  a learned constant (4, 4, C_4); per resolution a block of two
  :class:`SynthesisLayer` s (one at 4x4), the first of them upsampling, and a
  :class:`ToRGBLayer`; the RGB output of each block is added to the FIR
  upsampled RGB image of the blocks before. A synthesis layer: style
  s = A(w) (a linear layer, bias initialised to 1), modulated 3x3 convolution
  with demodulation, noise B * strength (one scalar per layer, initialised
  to 0), bias, lrelu with gain sqrt 2. ToRGB: style times 1 / sqrt(C_in),
  modulated 1x1 convolution without demodulation, bias. The ToRGB of a block
  reads the same w as the next block's first layer (``SynthesisNetwork``
  splits ws with overlapping windows).

Discriminator D(x, y) ("resnet" architecture, or "orig" without the skips):
FromRGB (1x1, lrelu) at the image side; per resolution r > 4 a
:class:`DiscriminatorBlock`: conv 3x3 (C_r -> C_r), conv 3x3 (C_r -> C_{r/2})
downsampling by 2 (FIR filter, then stride 2), plus a 1x1 skip without bias
(FIR filter and subsampling, then the 1x1 convolution), both branches scaled
by sqrt(0.5) and summed. Epilogue at 4x4 (:class:`DiscriminatorEpilogue`):
minibatch standard deviation (:func:`minibatch_std`), conv 3x3, a linear layer
with lrelu on the (C, H, W)-flattened map, a linear layer to 1 output, or,
conditional, to ``cmap_dim`` outputs projected onto cmap(y) / sqrt(cmap_dim),
cmap a :class:`MappingNetwork` of the label alone (8 layers by default, lr
multiplier 0.01, as the reference's ``Discriminator.mapping``).

Channels per resolution r: min(channel_base // r, channel_max), the
reference's rule (``networks.py`` lines 441, 694); the reference's
(32768, 512) scaled down to a default (4096, 128): 128 channels at every
resolution up to 32, halved per octave above.

Per resolution at side 32, 1 image channel, defaults (C = 128 everywhere;
ws = 8 = 2 log2(32) - 2):

====  =================================================  =========  ======================================
res   G block (ws read)                                   ToRGB ws   D block
====  =================================================  =========  ======================================
4     const (4, 4, 128); conv 128 -> 128 (w0)              w1         mbstd (+1), conv 129 -> 128, fc 2048
                                                                      -> 128, out 128 -> 1
8     up-conv 128 -> 128 (w1); conv 128 -> 128 (w2)       w3         conv 128 -> 128, down-conv, skip; -> 4
16    up-conv 128 -> 128 (w3); conv 128 -> 128 (w4)       w5         the same, 16 -> 8
32    up-conv 128 -> 128 (w5); conv 128 -> 128 (w6)       w7         FromRGB 1 -> 128, the same, 32 -> 16
====  =================================================  =========  ======================================

Resampling (``upfirdn2d.py``, ``conv2d_resample.py``): the separable FIR
filter [1, 3, 3, 1] / 8 per axis (the reference's default
``resample_filter``, normalised to unit DC gain). Upsampling by 2 inserts a
zero after every pixel, pads and filters with gain 2 per axis; an
upsampling 3x3 convolution is, as the reference's fast path for ``up = 2``
(``flip_weight=False``), a stride-2 transposed convolution over the H x W
input followed by the filter (padding (1, 1), gain 4), the transposed
convolution computed phase by phase as stride-1 convolutions
(:func:`_transposed_conv2x`); a downsampling 3x3 convolution filters
(padding (2, 2)) and then convolves with stride 2, its input derivative
computed as a stride-1 convolution of the space-to-depth input
(:func:`_stride2_correlate`), so that R1's second derivative stays on XLA's
fast CPU path; a downsampling 1x1 convolution filters (padding (1, 1)) and
keeps every second pixel first, both on the pixel phases
(:func:`_downsample2x`).

Differences from the reference, all deliberate:

* The modulated convolution always runs the reference's non-fused form
  (``fused_modconv=False``, its training path): x * s, the shared-weight
  convolution, times the demodulation coefficients d = rsqrt(sum (w s)^2 +
  1e-8); the reference's grouped-convolution form computes the same function.
* Style mixing happens inside :meth:`StyleGAN2Generator.__call__`
  (``mixing_prob``; the reference draws it in ``loss.py``'s ``run_G``), with
  the reference's semantics: one cutoff per batch, uniform in [1, num_ws),
  used with probability ``mixing_prob``, applied to every example.
* Randomness comes from explicit keys (jaxgen's convention): random noise
  inputs and style mixing need ``key``; without one the default noise mode
  adds no noise (see :meth:`StyleGAN2Generator.__call__`).
* The minibatch standard deviation layer keeps the reference's group
  min(mbstd_group_size, N) but raises a one-line ``ValueError`` when it does
  not divide the batch (the reference fails inside a reshape).
* Labels are integers (one_hot inside); the reference takes c vectors.
* No float16 machinery (``num_fp16_res``, the pre-normalisation in
  ``modulated_conv2d``, channels-last); ``compute_dtype='bfloat16'`` casts
  convolutions as jaxgen's other families do, while the linear layers
  (mapping, affines, D's fc and out), styles, demodulation and the D epilogue
  stay float32, as the reference keeps them.
* The mapping's hidden width is ``w_dim`` (the reference's default
  ``layer_features=None``); G's architecture is "skip" only.
* An EMA of G kept by ``jaxgen.train`` averages w_avg with the weights (the
  core averages every floating state); the reference copies G's w_avg into
  G_ema. Both track the mean w; the average lags by the EMA's half-life.

References:
  Karras, Laine, Aittala, Hellsten, Lehtinen, Aila. "Analyzing and Improving
  the Image Quality of StyleGAN", CVPR 2020 (demodulation, Section 2.2; skip
  G and residual D, Section 4; Appendix B).
  Karras, Laine, Aila. "A Style-Based Generator Architecture for Generative
  Adversarial Networks", CVPR 2019 (style mixing, Section 3.1; the truncation
  trick in W, Appendix B).
  Karras, Aila, Laine, Lehtinen. "Progressive Growing of GANs", ICLR 2018
  (equalised learning rate, Section 4.1; minibatch standard deviation, 3).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jaxgen.models import _registry
from jaxgen.models._latent import sample_labels
from jaxgen.models._precision import check_compute_dtype, compute_dtype, to_float32
from jaxgen.models._registry import register_model
from jaxgen.models.biggan import _check_label_values
from jaxgen.models.cgan import _check_choice, _check_labels
from jaxgen.models.dcgan import to_model_range, to_unit_range

__all__ = [
    "Conv2dLayer",
    "DiscriminatorBlock",
    "DiscriminatorEpilogue",
    "FullyConnectedLayer",
    "MappingNetwork",
    "StyleGAN2Config",
    "StyleGAN2Discriminator",
    "StyleGAN2Generator",
    "SynthesisBlock",
    "SynthesisLayer",
    "SynthesisNetwork",
    "ToRGBLayer",
    "build",
    "coarse_styles",
    "hparams_from_config",
    "minibatch_std",
    "mix_styles",
    "modulated_conv2d",
    "normalize_2nd_moment",
    "sample",
    "style_mixing_grid",
    "style_mixing_cutoff",
    "to_model_range",
    "to_unit_range",
    "upfirdn2d",
    "upsample2d",
]

MIN_SIDE = 8
NOISE_MODES = ("random", "const", "none")
DISCRIMINATOR_ARCHITECTURES = ("resnet", "orig")
# The reference's resample_filter [1, 3, 3, 1], normalised to unit DC gain per axis (setup_filter).
FIR_TAPS = (1 / 8, 3 / 8, 3 / 8, 1 / 8)
# bias_act's lrelu: slope 0.2, gain sqrt 2 (torch_utils/ops/bias_act.py, activation_funcs).
LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2.0)
ACTIVATIONS = ("linear", "lrelu")


class SynthesisBlockPlan(NamedTuple):
  in_channels: int  # 0 for the 4x4 block (the learned constant)
  out_channels: int
  resolution: int
  num_conv: int  # 1 at 4x4, else 2
  first_w: int  # index of the block's first w; it reads ws[first_w : first_w + num_conv + 1]


class DiscriminatorBlockPlan(NamedTuple):
  in_channels: int  # 0 for the first block (FromRGB)
  tmp_channels: int
  out_channels: int
  resolution: int  # input side; the block outputs resolution / 2


class Buffer(nnx.Variable):
  """A non-trainable array fixed at construction (the reference's ``register_buffer``): ``noise_const``."""


def _is_int(value) -> bool:
  return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value) -> bool:
  return isinstance(value, numbers.Real) and not isinstance(value, bool)


@dataclasses.dataclass(frozen=True)
class StyleGAN2Config:
  """Hyperparameters of StyleGAN2's G and D (defaults: the 32x32 digits experiment, unconditional).

  Example:
    >>> hp = StyleGAN2Config(image_shape=(32, 32, 1))
    >>> hp.num_ws, [hp.channels(r) for r in (4, 8, 16, 32)]
    (8, [128, 128, 128, 128])
    >>> [(b.resolution, b.num_conv, b.first_w) for b in hp.generator_blocks]
    [(4, 1, 0), (8, 2, 1), (16, 2, 3), (32, 2, 5)]
    >>> [(b.resolution, b.in_channels, b.out_channels) for b in hp.discriminator_blocks]
    [(32, 0, 128), (16, 128, 128), (8, 128, 128)]
  """

  image_shape: tuple[int, int, int] = (32, 32, 1)
  # None: unconditional; else G and D take integer labels in [0, num_classes).
  num_classes: int | None = None
  # Size of z (the reference's z_dim).
  latent_dim: int = 128
  w_dim: int = 128
  # Linear layers of G's mapping network (the reference: 8; its CIFAR config 2).
  mapping_layers: int = 8
  mapping_lr_multiplier: float = 0.01
  # Size of the label embedding in G's mapping (None: w_dim), the reference's embed_features.
  embed_features: int | None = None
  # Decay of G's tracked average of w.
  w_avg_beta: float = 0.995
  # Channels at resolution r: min(channel_base // r, channel_max).
  channel_base: int = 4096
  channel_max: int = 128
  # Per-pixel noise inputs in G's synthesis layers.
  use_noise: bool = True
  # Clamp of the convolution outputs to +-conv_clamp (None: off; the reference's fp16 runs use 256).
  conv_clamp: float | None = None
  # "resnet" (the reference's default) or "orig" (no skip branch; its CIFAR config).
  discriminator_architecture: str = "resnet"
  # Minibatch standard deviation: group size (None: the whole batch) and channels (0: off).
  mbstd_group_size: int | None = 4
  mbstd_num_channels: int = 1
  # Conditional D: size of the label projection (None: D's channels at 4x4) and layers of its label mapping.
  cmap_dim: int | None = None
  discriminator_mapping_layers: int = 8
  # 'float32' or 'bfloat16': the convolutions' computation; parameters and outputs stay float32.
  compute_dtype: str = "float32"

  def __post_init__(self):
    check_compute_dtype(self.compute_dtype)
    _check_choice("discriminator_architecture", self.discriminator_architecture, DISCRIMINATOR_ARCHITECTURES)
    shape = tuple(self.image_shape) if isinstance(self.image_shape, (tuple, list)) else (self.image_shape,)
    if (len(shape) != 3 or not all(_is_int(d) for d in shape) or shape[0] != shape[1] or shape[0] < MIN_SIDE
        or shape[0] & (shape[0] - 1) or shape[2] < 1):
      raise ValueError(f"image_shape must be (side, side, channels) with side a power of two >= {MIN_SIDE}, "
                       f"got {shape}")
    object.__setattr__(self, "image_shape", tuple(int(d) for d in shape))
    for name in ("latent_dim", "w_dim", "mapping_layers", "channel_base", "channel_max",
                 "discriminator_mapping_layers"):
      value = getattr(self, name)
      if not _is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    for name in ("num_classes", "embed_features", "cmap_dim", "mbstd_group_size"):
      value = getattr(self, name)
      if value is not None and (not _is_int(value) or value < 1):
        raise ValueError(f"{name} must be a positive integer or None, got {value!r}")
    if not _is_real(self.mapping_lr_multiplier) or not self.mapping_lr_multiplier > 0:
      raise ValueError(f"mapping_lr_multiplier must be a positive number, got {self.mapping_lr_multiplier!r}")
    if not _is_real(self.w_avg_beta) or not 0.0 <= self.w_avg_beta < 1.0:
      raise ValueError(f"w_avg_beta must be a number in [0, 1), got {self.w_avg_beta!r}")
    if self.conv_clamp is not None and (not _is_real(self.conv_clamp) or not self.conv_clamp > 0):
      raise ValueError(f"conv_clamp must be a positive number or None, got {self.conv_clamp!r}")
    if not isinstance(self.use_noise, bool):
      raise ValueError(f"use_noise must be True or False, got {self.use_noise!r}")
    if self.channel_base // self.side < 1:
      raise ValueError(f"channel_base {self.channel_base} leaves no channels at side {self.side}: "
                       f"raise it to >= {self.side}")
    if not _is_int(self.mbstd_num_channels) or self.mbstd_num_channels < 0:
      raise ValueError(f"mbstd_num_channels must be an integer >= 0, got {self.mbstd_num_channels!r}")
    if self.mbstd_num_channels and self.channels(4) % self.mbstd_num_channels:
      raise ValueError(f"mbstd_num_channels {self.mbstd_num_channels} must divide D's {self.channels(4)} "
                       f"channels at 4x4")

  @property
  def side(self) -> int:
    """The image side (height = width)."""
    return self.image_shape[0]

  def channels(self, resolution: int) -> int:
    """Feature maps at ``resolution``: min(channel_base // resolution, channel_max) (G and D alike)."""
    return min(self.channel_base // resolution, self.channel_max)

  @property
  def generator_blocks(self) -> tuple[SynthesisBlockPlan, ...]:
    """G's blocks at 4, 8, ..., side (``SynthesisNetwork.__init__``)."""
    plans, first_w = [], 0
    for i in range(2, int(math.log2(self.side)) + 1):
      res = 2**i
      num_conv = 1 if res == 4 else 2
      plans.append(SynthesisBlockPlan(0 if res == 4 else self.channels(res // 2), self.channels(res), res,
                                      num_conv, first_w))
      first_w += num_conv
    return tuple(plans)

  @property
  def num_ws(self) -> int:
    """ws the synthesis reads: one per synthesis layer plus the last ToRGB's, 2 log2(side) - 2."""
    return sum(b.num_conv for b in self.generator_blocks) + 1

  @property
  def discriminator_blocks(self) -> tuple[DiscriminatorBlockPlan, ...]:
    """D's blocks at side, side / 2, ..., 8 (``Discriminator.__init__``); each halves the side."""
    plans = []
    for i in range(int(math.log2(self.side)), 2, -1):
      res = 2**i
      plans.append(DiscriminatorBlockPlan(0 if res == self.side else self.channels(res), self.channels(res),
                                          self.channels(res // 2), res))
    return tuple(plans)

  @property
  def d_cmap_dim(self) -> int:
    """Size of D's label projection (0 when unconditional)."""
    if self.num_classes is None:
      return 0
    return self.channels(4) if self.cmap_dim is None else self.cmap_dim


# --- resampling and the functional pieces ---------------------------------------------------------------


def _fir_axis(x: jax.Array, axis: int, *, up: int, down: int, padding: tuple[int, int]) -> jax.Array:
  """Upsample (zeros after each sample), pad, convolve with the FIR taps (gain ``up``), subsample, on one axis."""
  if up > 1:
    x = jnp.expand_dims(x, axis + 1)
    widths = [(0, 0)] * x.ndim
    widths[axis + 1] = (0, up - 1)
    x = jnp.pad(x, widths)
    shape = list(x.shape)
    x = x.reshape(shape[:axis] + [shape[axis] * up] + shape[axis + 2:])
  widths = [(0, 0)] * x.ndim
  widths[axis] = tuple(padding)
  x = jnp.pad(x, widths)
  taps = len(FIR_TAPS)
  n = x.shape[axis] - taps + 1
  # A convolution (the filter flipped, as upfirdn2d with flip_filter=False); the taps are symmetric anyway.
  y = sum(up * FIR_TAPS[taps - 1 - k] * jax.lax.slice_in_dim(x, k, k + n, axis=axis) for k in range(taps))
  return jax.lax.slice_in_dim(y, 0, n, stride=down, axis=axis) if down > 1 else y


def upfirdn2d(x: jax.Array, *, up: int = 1, down: int = 1, padding: tuple[int, int] = (0, 0)) -> jax.Array:
  """upfirdn2d with the [1, 3, 3, 1] filter: (B, H, W, C) -> (B, (H up + lo + hi - 3) / down, ..., C).

  Per spatial axis: insert ``up - 1`` zeros after every pixel, pad ``padding``
  = (lo, hi) zeros, convolve with [1, 3, 3, 1] / 8 times ``up`` (the
  reference's gain up^2 over both axes), keep every ``down``-th pixel
  (``torch_utils/ops/upfirdn2d.py``, ``_upfirdn2d_ref``, with the separable
  filter; channels independent).
  """
  for axis in (1, 2):
    x = _fir_axis(x, axis, up=up, down=down, padding=padding)
  return x


def upsample2d(x: jax.Array) -> jax.Array:
  """(B, H, W, C) -> (B, 2H, 2W, C): the reference's ``upsample2d`` (padding (2, 1), gain 4)."""
  return upfirdn2d(x, up=2, padding=(2, 1))


def _correlate(x: jax.Array, kernel: jax.Array, *, stride: int = 1, padding="SAME") -> jax.Array:
  """Cross-correlation, NHWC input, HWIO kernel (what torch's conv2d computes)."""
  return jax.lax.conv_general_dilated(x, kernel, (stride, stride), padding,
                                      dimension_numbers=("NHWC", "HWIO", "NHWC"))


def _transposed_conv2x(x: jax.Array, kernel: jax.Array) -> jax.Array:
  """Stride-2 transposed convolution y[2q + r] = sum_t x[q - t] kernel[r + 2t] (per spatial axis), by phases.

  The reference's ``conv_transpose2d(x, w, stride=2)`` (no flip, no padding),
  2(H - 1) + k rows, plus one row (column) of zeros at the end for odd k.
  Output phase (r_h, r_w) is the stride-1 correlation of x, padded with
  ceil(k / 2) - 1 zeros at the end, with the taps ``kernel[r_h::2, r_w::2]``
  reversed, padded (taps - 1, 0) inside the convolution so that it keeps the
  side; depth-to-space interleaves the four phases.

  Why phases: on XLA's CPU backend the weight gradient of a convolution with
  ``lhs_dilation`` (``lax.conv_transpose``) runs on a slow generic path (its
  forward and backward pass 8.2 s against this form's 0.13 s at batch 32,
  16x16x128 -> 33x33x128, one core), and so does the second derivative of a
  VALID convolution, which the path-length penalty takes through G (the
  former form, zero insertion then a VALID convolution: 18.6 s at batch 16,
  this one 0.14 s); convolutions that keep the side stay on the fast path in
  every order.

  Args:
    x: (B, H, W, I).
    kernel: (k, k, I, O).

  Returns:
    (B, 2Q_h, 2Q_w, O), Q = side + ceil(k / 2) - 1.
  """
  k, out = kernel.shape[0], kernel.shape[-1]
  b, h, w, _ = x.shape
  pad = -(-k // 2) - 1
  x = jnp.pad(x, ((0, 0), (0, pad), (0, pad), (0, 0)))
  rows = []
  for r_h in range(2):
    row = []
    for r_w in range(2):
      taps = kernel[r_h::2, r_w::2][::-1, ::-1]
      if 0 in taps.shape[:2]:  # k = 1: the odd phases see no tap
        row.append(jnp.zeros((b, h + pad, w + pad, out), x.dtype))
        continue
      padding = ((taps.shape[0] - 1, 0), (taps.shape[1] - 1, 0))
      row.append(jax.lax.conv_general_dilated(x, taps, (1, 1), padding, dimension_numbers=("NHWC", "HWIO", "NHWC")))
    rows.append(jnp.stack(row, axis=3))
  y = jnp.stack(rows, axis=2)  # (B, Q_h, 2, Q_w, 2, O): phase r_h of row q is output row 2q + r_h
  return y.reshape(b, 2 * (h + pad), 2 * (w + pad), out)


def _upsample_conv(x: jax.Array, kernel: jax.Array) -> jax.Array:
  """The reference's conv2d_resample with up = 2 and flip_weight = False: transposed convolution, then the filter.

  (B, H, W, I), kernel (k, k, I, O) -> (B, 2H, 2W, O): the stride-2
  transposed convolution over the H x W input (:func:`_transposed_conv2x`,
  2(H - 1) + k per side), then the FIR filter with gain 4 and padding
  (p + 2 - (k - 1), p + 1 - (k - 2)), p = k // 2: (1, 1) for k = 3. The same
  function as FIR upsampling (padding (p + 2, p + 1)) followed by a VALID
  convolution at 2H x 2W (filter and convolution commute), at a quarter of
  its multiply-adds.
  """
  k = kernel.shape[0]
  p = k // 2
  # The filter's gain 4 moved onto the kernel: a power of two, so the products are scaled exactly.
  y = _transposed_conv2x(x, 4 * kernel)
  lo, hi = p + 2 - (k - 1), p + 1 - (k - 2) - k % 2  # less the zero row and column of odd k
  y = jax.lax.pad(y, jnp.zeros((), y.dtype), ((0, 0, 0), (lo, hi, 0), (lo, hi, 0), (0, 0, 0)))
  return upfirdn2d(y)


def _downsample2x(x: jax.Array) -> jax.Array:
  """upfirdn2d(x, down=2, padding=(1, 1)) on the pixel pairs: (B, H, W, C) -> (B, H // 2, W // 2, C).

  Per axis, x reshaped to pairs (e[j], o[j]) = (x[2j], x[2j + 1]) (an odd
  side gets a zero row first) and padded with a zero pair at both ends:
  y[i] = f3 o[i - 1] + f2 e[i] + f1 o[i] + f0 e[i + 1], slices of the two
  phases, with the taps f and the order of the sum of :func:`_fir_axis`,
  which computes the same samples at every pixel and then keeps every
  second (a strided slice). Its gradients are reshapes, pads and slices;
  after :func:`_fir_axis` the 1x1 convolution's weight gradient ran 9x
  slower on XLA's CPU backend (batch 32, 32x32x128 -> 16x16x128, one core:
  the layer's forward and backward pass took 56-86 ms, this form 16-19 ms;
  R1's second derivative 65-79 ms, this 33-35 ms; in bfloat16 89-94 against
  39-45 ms and 111-115 against 62-76 ms). The zero pairs are padded after
  the reshape: padded before it, or with the phases shifted by pads of
  their own, bfloat16 ran 3-5x slower.
  """
  taps = len(FIR_TAPS)
  for axis in (1, 2):
    shape = list(x.shape)
    n = shape[axis]
    m = -(-n // 2)
    if n % 2:
      widths = [(0, 0)] * x.ndim
      widths[axis] = (0, 1)
      x = jnp.pad(x, widths)
    x = x.reshape(shape[:axis] + [m, 2] + shape[axis + 1:])
    widths = [(0, 0)] * x.ndim
    widths[axis] = (1, 1)
    x = jnp.pad(x, widths)  # pair j + 1 is (x[2j], x[2j + 1])
    even, odd = (jax.lax.index_in_dim(x, r, axis + 1, keepdims=False) for r in range(2))
    rows = (odd, even, odd, even)  # x[2i - 1 + k] = pair i + (k + 1) // 2, phase (k + 1) % 2
    x = sum(FIR_TAPS[taps - 1 - k] * jax.lax.slice_in_dim(rows[k], (k + 1) // 2, (k + 1) // 2 + n // 2, axis=axis)
            for k in range(taps))
  return x


def _space_to_depth_correlate(y: jax.Array, kernel: jax.Array) -> jax.Array:
  """The stride-2 VALID correlation of y, as a stride-1 convolution that keeps the side of y's space-to-depth.

  Output row o reads input rows 2o + 2a + r (r < 2) with the taps
  ``kernel[2a + r]``: row o + a of y's space-to-depth (one zero row added
  for odd sides; 4C channels, phase (r, s) at channels (2r + s) C), so a
  ceil(k / 2)^2 kernel on 4C channels (zero taps beyond k), padded
  (0, ceil(k / 2) - 1) so that it keeps the side; the first (N - k) // 2 + 1
  rows (columns) are kept.

  Args:
    y: (B, N_h, N_w, I).
    kernel: (k_h, k_w, I, O).

  Returns:
    (B, (N_h - k_h) // 2 + 1, (N_w - k_w) // 2 + 1, O).
  """
  b, n_h, n_w, c = y.shape
  k_h, k_w, _, out = kernel.shape
  t_h, t_w = -(-k_h // 2), -(-k_w // 2)
  cells_h, cells_w = -(-n_h // 2), -(-n_w // 2)
  y = jax.lax.pad(y, jnp.zeros((), y.dtype), ((0, 0, 0), (0, 2 * cells_h - n_h, 0), (0, 2 * cells_w - n_w, 0),
                                               (0, 0, 0)))
  z = y.reshape(b, cells_h, 2, cells_w, 2, c).transpose(0, 1, 3, 2, 4, 5).reshape(b, cells_h, cells_w, 4 * c)
  taps = jnp.pad(kernel, ((0, 2 * t_h - k_h), (0, 2 * t_w - k_w), (0, 0), (0, 0)))
  taps = taps.reshape(t_h, 2, t_w, 2, c, out).transpose(0, 2, 1, 3, 4, 5).reshape(t_h, t_w, 4 * c, out)
  z = _correlate(z, taps, padding=((0, t_h - 1), (0, t_w - 1)))
  return z[:, :(n_h - k_h) // 2 + 1, :(n_w - k_w) // 2 + 1]


@jax.custom_jvp
def _stride2_correlate(y: jax.Array, kernel: jax.Array) -> jax.Array:
  """The stride-2 VALID correlation, its derivative in y computed by :func:`_space_to_depth_correlate`.

  The forward pass and the derivative in the kernel are XLA's strided
  convolution (its kernel gradient, a convolution with ``rhs_dilation``, is
  fast on XLA's CPU backend). Its input gradient, a convolution with
  ``lhs_dilation``, is fast too, but the kernel gradient of that, which the
  R1 penalty takes (the gradient in D's parameters of ||grad_x D||^2), is a
  convolution with a window reversal, which XLA's CPU backend runs on its
  slow generic path: R1's second derivative took 8.6-9.9 s at batch 32,
  33x33x128 -> 16x16x128, one core (the whole 32x32 D: 10.6 s), against
  0.15 s now (D: 1.05 s), the forward and backward pass unchanged
  (0.13-0.15 s). A custom JVP says so: the tangent
  ``correlate(dy, kernel) + correlate(y, dkernel)``, linear in the tangents,
  has its y term computed as the same function by
  :func:`_space_to_depth_correlate`, whose transposes in every order are
  fast convolutions. The s2d convolution must keep the side: VALID (which
  shrinks it) brings the reversal back (3.7 s at 17x17x128 -> 8x8x128,
  where the strided form takes 0.41 s and this one 0.03 s). Forward mode
  and higher derivatives keep working; the derivatives are those of the
  strided convolution up to float rounding.
  """
  return _correlate(y, kernel, stride=2, padding="VALID")


@functools.partial(_stride2_correlate.defjvp, symbolic_zeros=True)
def _stride2_correlate_jvp(primals, tangents):
  y, kernel = primals
  dy, dkernel = tangents
  out = _stride2_correlate(y, kernel)
  # Symbolic zeros: a constant kernel (D's weights in G's update) or input costs nothing.
  terms = []
  if not isinstance(dkernel, jax.custom_derivatives.SymbolicZero):
    terms.append(_correlate(y, dkernel, stride=2, padding="VALID"))
  if not isinstance(dy, jax.custom_derivatives.SymbolicZero):
    terms.append(_space_to_depth_correlate(dy, kernel))
  tangent = functools.reduce(jnp.add, terms) if terms else jnp.zeros_like(out)
  return out, tangent.astype(out.dtype)


def _downsample_conv(x: jax.Array, kernel: jax.Array) -> jax.Array:
  """The reference's conv2d_resample with down = 2: (B, H, W, I), (k, k, I, O) -> (B, H / 2, W / 2, O).

  k = 1: filter and subsample (padding (1, 1), :func:`_downsample2x`), then
  the 1x1 convolution; otherwise filter (padding (p + 1, p + 1),
  p = k // 2), then a stride-2 VALID correlation
  (:func:`_stride2_correlate`, whose second derivatives stay on XLA's fast
  CPU path).
  """
  k = kernel.shape[0]
  if k == 1:
    return _correlate(_downsample2x(x), kernel, padding="VALID")
  p = k // 2
  return _stride2_correlate(upfirdn2d(x, padding=(p + 1, p + 1)), kernel)


def _bias_act(x: jax.Array, bias: jax.Array | None, *, activation: str, gain: float = 1.0,
              clamp: float | None = None) -> jax.Array:
  """bias_act: x + b, the activation, times its gain (lrelu: sqrt 2) and ``gain``, clipped to +-clamp."""
  if bias is not None:
    x = x + bias.astype(x.dtype).reshape((1,) * (x.ndim - 1) + (-1,))
  if activation == "lrelu":
    x = jax.nn.leaky_relu(x, LRELU_SLOPE)
    gain = gain * LRELU_GAIN
  if gain != 1:
    x = x * gain
  if clamp is not None:
    x = jnp.clip(x, -clamp, clamp)
  return x


def normalize_2nd_moment(x: jax.Array, eps: float = 1e-8) -> jax.Array:
  """x / sqrt(mean_i x_i^2 + eps) over the last axis (the reference's "pixel norm" of z)."""
  return x * jax.lax.rsqrt(jnp.mean(jnp.square(x), axis=-1, keepdims=True) + eps)


def modulated_conv2d(x: jax.Array, weight: jax.Array, styles: jax.Array, *, demodulate: bool = True,
                     up: bool = False) -> jax.Array:
  """Modulated convolution: conv(x, w * s) * d, with w'_{kkio} = w_{kkio} s_i and d_o = rsqrt(sum_{kki} w'^2 + 1e-8).

  Computed as the reference's non-fused form (``modulated_conv2d`` with
  ``fused_modconv=False``): x * s, one convolution with the shared weight,
  times d; d from sum_i s_i^2 sum_kk w_{kkio}^2 without forming the
  per-example weights. ``demodulate=False`` drops d (ToRGB).

  Args:
    x: (B, H, W, I).
    weight: (k, k, I, O), as stored (the demodulation makes its scale irrelevant).
    styles: (B, I).
    demodulate: divide each output channel by the norm of its modulated weight.
    up: upsample by 2 (:func:`_upsample_conv`); padding keeps the side otherwise.

  Returns:
    (B, H, W, O), or (B, 2H, 2W, O) when ``up``.
  """
  styles32 = styles.astype(jnp.float32)
  x = x * styles32.astype(x.dtype)[:, None, None, :]
  kernel = weight.astype(x.dtype)
  x = _upsample_conv(x, kernel) if up else _correlate(x, kernel)
  if demodulate:
    energy = jnp.sum(jnp.square(weight.astype(jnp.float32)), axis=(0, 1))  # (I, O)
    dcoefs = jax.lax.rsqrt(jnp.square(styles32) @ energy + 1e-8)  # (B, O)
    x = x * dcoefs.astype(x.dtype)[:, None, None, :]
  return x


def minibatch_std(x: jax.Array, group_size: int | None, num_channels: int = 1) -> jax.Array:
  """(B, H, W, C) -> (B, H, W, C + F): appends the mean standard deviation over each example's group.

  The group size is G = min(group_size, B) (``None``: B); example i belongs to
  group i mod (B / G), the reference's ``reshape(G, -1, ...)``
  (``MinibatchStdLayer``). For each group and each of the F =
  ``num_channels`` contiguous slices of the channels: sigma = sqrt(var + 1e-8)
  over the group (the biased variance) per pixel and channel, averaged over
  pixels and the slice's channels, and broadcast to the group's examples.

  Raises:
    ValueError: if G does not divide the batch.
  """
  b, h, w, c = x.shape
  g = b if group_size is None else min(group_size, b)
  if b % g:
    raise ValueError(f"minibatch std: group size {g} does not divide the batch {b}; use a batch that is a multiple "
                     f"of mbstd_group_size or a group size that divides it")
  f = num_channels
  y = x.astype(jnp.float32).reshape((g, b // g, h, w, f, c // f))
  y = y - jnp.mean(y, axis=0, keepdims=True)
  y = jnp.sqrt(jnp.mean(jnp.square(y), axis=0) + 1e-8)  # (n, H, W, F, c)
  y = jnp.mean(y, axis=(1, 2, 4))  # (n, F)
  y = jnp.tile(y, (g, 1))  # row g * n + j holds group j
  y = jnp.broadcast_to(y[:, None, None, :], (b, h, w, f))
  return jnp.concatenate([x, y.astype(x.dtype)], axis=-1)


def style_mixing_cutoff(key: jax.Array, num_ws: int, mixing_prob: float) -> jax.Array:
  """The layer from which the second w is used: uniform in [1, num_ws) with prob ``mixing_prob``, else num_ws.

  One draw per batch (``StyleGAN2Loss.run_G`` in ``training/loss.py``);
  ``num_ws`` means no mixing. int32 scalar.
  """
  cut_key, prob_key = jax.random.split(key)
  cutoff = jax.random.randint(cut_key, (), 1, num_ws)
  return jnp.where(jax.random.uniform(prob_key, ()) < mixing_prob, cutoff, num_ws)


# --- layers with an equalised learning rate ----------------------------------------------------------------


class FullyConnectedLayer(nnx.Module):
  """act(x W g + b lr_multiplier), g = lr_multiplier / sqrt(in_features): ``FullyConnectedLayer`` of the reference.

  ``weight`` (in, out) is stored N(0, 1) / lr_multiplier and ``bias`` (out,)
  as ``bias_init``; so the used weight starts N(0, 1 / in_features) and the
  used bias at bias_init * lr_multiplier, and Adam's steps on the stored
  values move the used ones lr_multiplier times as much (``networks.py``
  lines 100-111). ``activation`` "linear" or "lrelu" (slope 0.2, gain sqrt 2).
  Always float32 (the reference keeps these layers float32).
  """

  def __init__(self, in_features: int, out_features: int, *, bias: bool = True, activation: str = "linear",
               lr_multiplier: float = 1.0, bias_init: float = 0.0, rngs: nnx.Rngs):
    _check_choice("activation", activation, ACTIVATIONS)
    self.activation = activation
    self.lr_multiplier = float(lr_multiplier)
    self.weight = nnx.Param(jax.random.normal(rngs.params(), (in_features, out_features)) / lr_multiplier)
    self.bias = nnx.Param(jnp.full((out_features,), bias_init, jnp.float32)) if bias else None
    self.weight_gain = lr_multiplier / math.sqrt(in_features)
    self.bias_gain = self.lr_multiplier

  def __call__(self, x: jax.Array) -> jax.Array:
    """(B, in) -> (B, out), float32."""
    y = x.astype(jnp.float32) @ (self.weight[...] * self.weight_gain)
    bias = None if self.bias is None else self.bias[...] * self.bias_gain
    return _bias_act(y, bias, activation=self.activation)


class Conv2dLayer(nnx.Module):
  """clamp(act(conv(x, W / sqrt(k^2 in)) + b) * gain): ``Conv2dLayer`` of the reference, optionally downsampling.

  ``weight`` (k, k, in, out) stored N(0, 1), used times 1 / sqrt(k^2 in)
  (the reference's Conv2dLayer has no lr multiplier); ``bias`` zeros.
  ``down=2``: :func:`_downsample_conv`. The call's ``gain`` multiplies the
  activation's gain and the clamp (the reference's residual sqrt(0.5)).
  """

  def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, bias: bool = True,
               activation: str = "linear", down: int = 1, conv_clamp: float | None = None,
               dtype=jnp.float32, rngs: nnx.Rngs):
    _check_choice("activation", activation, ACTIVATIONS)
    if down not in (1, 2):
      raise ValueError(f"down must be 1 or 2, got {down}")
    self.activation = activation
    self.down = down
    self.conv_clamp = conv_clamp
    self.dtype = dtype
    self.weight = nnx.Param(jax.random.normal(rngs.params(), (kernel_size, kernel_size, in_channels, out_channels)))
    self.bias = nnx.Param(jnp.zeros((out_channels,), jnp.float32)) if bias else None
    self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size**2)

  def __call__(self, x: jax.Array, gain: float = 1.0) -> jax.Array:
    """(B, H, W, in) -> (B, H / down, W / down, out)."""
    kernel = (self.weight[...] * self.weight_gain).astype(self.dtype)
    x = x.astype(self.dtype)
    x = _downsample_conv(x, kernel) if self.down == 2 else _correlate(x, kernel)
    clamp = None if self.conv_clamp is None else self.conv_clamp * gain
    bias = None if self.bias is None else self.bias[...]
    return _bias_act(x, bias, activation=self.activation, gain=gain, clamp=clamp)


# --- the generator ---------------------------------------------------------------------------------------


class MappingNetwork(nnx.Module):
  """z (B, latent_dim), y (B,) -> ws (B, num_ws, w_dim) (or w (B, w_dim) when num_ws is None).

  ``MappingNetwork`` of the reference: x = [norm(z), norm(embed(one_hot(y)))]
  (each part present when its size is > 0), ``num_layers`` linear layers with
  lrelu and lr multiplier ``lr_multiplier``; w_avg (an ``nnx.BatchStat``,
  zeros at first, tracked when ``w_avg_beta`` is not None) moves to
  beta w_avg + (1 - beta) mean_batch(w) in training calls.
  """

  def __init__(self, latent_dim: int, num_classes: int | None, w_dim: int, num_ws: int | None, *,
               num_layers: int, embed_features: int | None = None, lr_multiplier: float = 0.01,
               w_avg_beta: float | None = 0.995, rngs: nnx.Rngs):
    self.latent_dim = latent_dim
    self.num_classes = num_classes
    self.w_dim = w_dim
    self.num_ws = num_ws
    self.w_avg_beta = w_avg_beta
    embed_features = 0 if num_classes is None else (w_dim if embed_features is None else embed_features)
    self.embed = FullyConnectedLayer(num_classes, embed_features, rngs=rngs) if num_classes is not None else None
    features = [latent_dim + embed_features] + [w_dim] * num_layers
    self.layers = nnx.List([
        FullyConnectedLayer(features[i], features[i + 1], activation="lrelu", lr_multiplier=lr_multiplier, rngs=rngs)
        for i in range(num_layers)
    ])
    self.w_avg = (nnx.BatchStat(jnp.zeros((w_dim,), jnp.float32))
                  if num_ws is not None and w_avg_beta is not None else None)

  def __call__(self, z: jax.Array | None, y: jax.Array | None, *, train: bool, truncation_psi=1.0,
               truncation_cutoff: int | None = None, update_w_avg: bool = True) -> jax.Array:
    """ws; w_avg moves iff ``train`` and ``update_w_avg``; truncation only when psi != 1."""
    parts = []
    if self.latent_dim > 0:
      parts.append(normalize_2nd_moment(z.astype(jnp.float32)))
    if self.embed is not None:
      parts.append(normalize_2nd_moment(self.embed(jax.nn.one_hot(y, self.num_classes, dtype=jnp.float32))))
    x = parts[0] if len(parts) == 1 else jnp.concatenate(parts, axis=-1)
    for layer in self.layers:
      x = layer(x)
    if self.w_avg is not None and train and update_w_avg:
      batch_mean = jnp.mean(jax.lax.stop_gradient(x), axis=0)
      # set_value rather than w_avg[...] = (see jaxgen/nn/_spectral.py: item assignment is slow to trace).
      self.w_avg.set_value(self.w_avg_beta * self.w_avg[...] + (1.0 - self.w_avg_beta) * batch_mean)
    if self.num_ws is None:
      return x
    ws = jnp.broadcast_to(x[:, None, :], (x.shape[0], self.num_ws, self.w_dim))
    if not (_is_real(truncation_psi) and truncation_psi == 1):
      if self.w_avg is None:
        raise ValueError("truncation needs the tracked w_avg (w_avg_beta is None)")
      w_avg = self.w_avg[...].reshape((1, 1, -1))
      truncated = w_avg + truncation_psi * (ws - w_avg)
      if truncation_cutoff is None:
        ws = truncated
      else:
        ws = jnp.where(jnp.arange(self.num_ws)[None, :, None] < truncation_cutoff, truncated, ws)
    return ws


class SynthesisLayer(nnx.Module):
  """x (B, r', r', in), w (B, w_dim) -> clamp(lrelu(modconv(x, A(w)) + noise * strength + b) * sqrt 2).

  ``SynthesisLayer`` of the reference: affine A (a linear layer w_dim -> in,
  bias initialised to 1), ``weight`` (3, 3, in, out) N(0, 1) (no runtime
  scale: the demodulation normalises it), demodulated; ``up``: r' = r / 2,
  FIR upsampling before the convolution. Noise (B, r, r, 1) times the scalar
  ``noise_strength`` (initialised to 0): fresh N(0, 1) per example
  ("random"), the fixed ``noise_const`` (r, r) ("const"), or none.
  """

  def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, *, up: bool = False,
               use_noise: bool = True, conv_clamp: float | None = None, dtype=jnp.float32, rngs: nnx.Rngs):
    self.resolution = resolution
    self.up = up
    self.use_noise = use_noise
    self.conv_clamp = conv_clamp
    self.dtype = dtype
    self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1.0, rngs=rngs)
    self.weight = nnx.Param(jax.random.normal(rngs.params(), (3, 3, in_channels, out_channels)))
    if use_noise:
      self.noise_const = Buffer(jax.random.normal(rngs.params(), (resolution, resolution)))
      self.noise_strength = nnx.Param(jnp.zeros((), jnp.float32))
    self.bias = nnx.Param(jnp.zeros((out_channels,), jnp.float32))

  def __call__(self, x: jax.Array, w: jax.Array, *, noise_mode: str, key: jax.Array | None = None) -> jax.Array:
    """(B, r', r', in) -> (B, r, r, out); ``key`` draws the "random" noise."""
    styles = self.affine(w)
    x = modulated_conv2d(x.astype(self.dtype), self.weight[...], styles, up=self.up)
    if self.use_noise and noise_mode == "random":
      noise = jax.random.normal(key, (x.shape[0], self.resolution, self.resolution, 1)) * self.noise_strength[...]
      x = x + noise.astype(x.dtype)
    elif self.use_noise and noise_mode == "const":
      noise = self.noise_const[...].reshape((1, self.resolution, self.resolution, 1)) * self.noise_strength[...]
      x = x + noise.astype(x.dtype)
    return _bias_act(x, self.bias[...], activation="lrelu", clamp=self.conv_clamp)


class ToRGBLayer(nnx.Module):
  """x (B, r, r, in), w -> clamp(modconv(x, A(w) / sqrt(in), no demodulation) + b): the block's image (float32).

  ``ToRGBLayer`` of the reference: 1x1 kernel (1, 1, in, out) N(0, 1), the
  equalised-learning-rate scale 1 / sqrt(in) applied to the styles.
  """

  def __init__(self, in_channels: int, out_channels: int, w_dim: int, *, conv_clamp: float | None = None,
               dtype=jnp.float32, rngs: nnx.Rngs):
    self.conv_clamp = conv_clamp
    self.dtype = dtype
    self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1.0, rngs=rngs)
    self.weight = nnx.Param(jax.random.normal(rngs.params(), (1, 1, in_channels, out_channels)))
    self.bias = nnx.Param(jnp.zeros((out_channels,), jnp.float32))
    self.weight_gain = 1.0 / math.sqrt(in_channels)

  def __call__(self, x: jax.Array, w: jax.Array) -> jax.Array:
    styles = self.affine(w) * self.weight_gain
    x = modulated_conv2d(x.astype(self.dtype), self.weight[...], styles, demodulate=False)
    return _bias_act(to_float32(x), self.bias[...], activation="linear", clamp=self.conv_clamp)


class SynthesisBlock(nnx.Module):
  """One resolution of the "skip" synthesis: (x, img, ws of the block) -> (x, img), both at ``resolution``.

  ``SynthesisBlock`` of the reference: at 4x4 the learned ``const`` (4, 4, C)
  and one layer; above, an upsampling layer and a layer. img = upsample2d(img)
  + ToRGB(x). ``ws`` (B, num_conv + 1, w_dim): one per layer, the last for
  ToRGB.
  """

  def __init__(self, plan: SynthesisBlockPlan, w_dim: int, img_channels: int, *, use_noise: bool,
               conv_clamp: float | None, dtype, rngs: nnx.Rngs):
    self.resolution = plan.resolution
    self.num_conv = plan.num_conv
    self.dtype = dtype
    layer = dict(use_noise=use_noise, conv_clamp=conv_clamp, dtype=dtype, rngs=rngs)
    if plan.in_channels == 0:
      self.const = nnx.Param(jax.random.normal(rngs.params(), (plan.resolution, plan.resolution, plan.out_channels)))
      self.conv0 = None
    else:
      self.const = None
      self.conv0 = SynthesisLayer(plan.in_channels, plan.out_channels, w_dim, plan.resolution, up=True, **layer)
    self.conv1 = SynthesisLayer(plan.out_channels, plan.out_channels, w_dim, plan.resolution, **layer)
    self.torgb = ToRGBLayer(plan.out_channels, img_channels, w_dim, conv_clamp=conv_clamp, dtype=dtype, rngs=rngs)

  def __call__(self, x: jax.Array | None, img: jax.Array | None, ws: jax.Array, *, noise_mode: str,
               keys: list[jax.Array | None]) -> tuple[jax.Array, jax.Array]:
    """``keys``: one per layer (None unless the noise is random)."""
    if self.const is not None:
      const = self.const[...].astype(self.dtype)
      x = jnp.broadcast_to(const[None], (ws.shape[0], *const.shape))
      x = self.conv1(x, ws[:, 0], noise_mode=noise_mode, key=keys[0])
    else:
      x = self.conv0(x, ws[:, 0], noise_mode=noise_mode, key=keys[0])
      x = self.conv1(x, ws[:, 1], noise_mode=noise_mode, key=keys[1])
    y = self.torgb(x, ws[:, self.num_conv])
    img = y if img is None else upsample2d(img) + y
    return x, img


class SynthesisNetwork(nnx.Module):
  """ws (B, num_ws, w_dim) -> images (B, side, side, C), float32, unbounded (no tanh, as the reference).

  Block k reads ws[first_w : first_w + num_conv + 1]: its ToRGB shares its w
  with the next block's first layer (``SynthesisNetwork.forward``).
  """

  def __init__(self, hp: StyleGAN2Config, *, rngs: nnx.Rngs):
    self.num_ws = hp.num_ws
    self.w_dim = hp.w_dim
    self.plans = hp.generator_blocks
    dtype = compute_dtype(hp.compute_dtype)
    self.blocks = nnx.List([
        SynthesisBlock(plan, hp.w_dim, hp.image_shape[-1], use_noise=hp.use_noise, conv_clamp=hp.conv_clamp,
                       dtype=dtype, rngs=rngs)
        for plan in self.plans
    ])

  @property
  def num_layers(self) -> int:
    """Synthesis layers (each with a noise input), num_ws - 1."""
    return self.num_ws - 1

  def __call__(self, ws: jax.Array, *, noise_mode: str = "const", key: jax.Array | None = None) -> jax.Array:
    """``noise_mode`` "random" needs ``key`` (layer l's noise from fold_in(key, l))."""
    if ws.ndim != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
      raise ValueError(f"SynthesisNetwork: ws must have shape (batch, {self.num_ws}, {self.w_dim}), got {ws.shape}")
    _check_choice("noise_mode", noise_mode, NOISE_MODES)
    if noise_mode == "random" and key is None:
      raise ValueError("noise_mode='random' draws the noise inputs from a key: pass key=")
    x = img = None
    for plan, block in zip(self.plans, self.blocks):
      keys = [jax.random.fold_in(key, plan.first_w + i) if noise_mode == "random" else None
              for i in range(plan.num_conv)]
      x, img = block(x, img, ws[:, plan.first_w:plan.first_w + plan.num_conv + 1], noise_mode=noise_mode,
                     keys=keys)
    return img


class StyleGAN2Generator(nnx.Module):
  """(z (B, latent_dim)[, y (B,)]) -> images (B, side, side, C), float32, in about [-1, 1] (not clipped).

  ``Generator`` of the reference: ``synthesis`` (:class:`SynthesisNetwork`)
  of ``mapping`` (:class:`MappingNetwork`, a submodule, so an optimizer can
  tell its parameters apart), with style mixing and truncation in the call.
  """

  def __init__(self, hp: StyleGAN2Config, *, rngs: nnx.Rngs):
    self.latent_dim = hp.latent_dim
    self.num_classes = hp.num_classes
    self.num_ws = hp.num_ws
    self.synthesis = SynthesisNetwork(hp, rngs=rngs)
    self.mapping = MappingNetwork(hp.latent_dim, hp.num_classes, hp.w_dim, hp.num_ws,
                                  num_layers=hp.mapping_layers, embed_features=hp.embed_features,
                                  lr_multiplier=hp.mapping_lr_multiplier, w_avg_beta=hp.w_avg_beta, rngs=rngs)

  def _check_inputs(self, z: jax.Array, y: jax.Array | None) -> None:
    if z.ndim != 2 or z.shape[-1] != self.latent_dim:
      raise ValueError(f"StyleGAN2Generator: z must have shape (batch, {self.latent_dim}), got {tuple(z.shape)}")
    if self.num_classes is None:
      if y is not None:
        raise ValueError("StyleGAN2Generator is unconditional (num_classes None): call it without labels")
      return
    _check_labels(y, z.shape[0], self.num_classes, "StyleGAN2Generator")
    _check_label_values(y, self.num_classes, "StyleGAN2Generator")

  def styles(self, z: jax.Array, y: jax.Array | None = None, *, train: bool, key: jax.Array | None = None,
             mixing_prob: float = 0.0, truncation_psi=1.0, truncation_cutoff: int | None = None) -> jax.Array:
    """ws (B, num_ws, w_dim) = mapping(z, y), style-mixed when ``key`` and ``mixing_prob`` > 0.

    Mixing (``loss.py``, ``run_G``): from ``key`` one cutoff for the batch
    (:func:`style_mixing_cutoff`) and z2 ~ N(0, I) of z's shape; ws[:, cutoff:]
    = mapping(z2, y)[:, cutoff:] (the second mapping call leaves w_avg alone).
    """
    self._check_inputs(z, y)
    if _is_real(mixing_prob) and not 0.0 <= mixing_prob <= 1.0:
      raise ValueError(f"mixing_prob must be a probability in [0, 1], got {mixing_prob}")
    trunc = dict(truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
    ws = self.mapping(z, y, train=train, **trunc)
    if key is None or (_is_real(mixing_prob) and mixing_prob == 0):
      return ws
    cutoff_key, z_key = jax.random.split(key)
    cutoff = style_mixing_cutoff(cutoff_key, self.num_ws, mixing_prob)
    other = self.mapping(jax.random.normal(z_key, z.shape, jnp.float32), y, train=train, update_w_avg=False, **trunc)
    return jnp.where(jnp.arange(self.num_ws)[None, :, None] >= cutoff, other, ws)

  def __call__(self, z: jax.Array, y: jax.Array | None = None, *, train: bool, key: jax.Array | None = None,
               mixing_prob: float = 0.0, truncation_psi=1.0, truncation_cutoff: int | None = None,
               noise_mode: str | None = None) -> jax.Array:
    """z (B, latent_dim), y (B,) integers (conditional only) -> (B, side, side, C).

    Args:
      z: latents.
      y: labels in [0, num_classes) when conditional, else ``None``.
      train: w_avg moves toward the batch's mean w.
      key: randomness of the style mixing and the "random" noise inputs:
        ``split(key)`` gives the mixing key and the noise key.
      mixing_prob: style-mixing probability (the reference trains with 0.9;
        its CIFAR config with 0); needs ``key``.
      truncation_psi, truncation_cutoff: w <- w_avg + psi (w - w_avg) on the
        first ``truncation_cutoff`` ws (None: all); psi = 1 skips it.
      noise_mode: "random" (fresh N(0, 1) noise, needs ``key``), "const"
        (each layer's fixed ``noise_const``), "none"; ``None`` (default):
        "random" when ``key`` is given, else "none".
    """
    if noise_mode is None:
      noise_mode = "none" if key is None else "random"
    _check_choice("noise_mode", noise_mode, NOISE_MODES)
    if noise_mode == "random" and key is None:
      raise ValueError("noise_mode='random' draws the noise inputs from a key: pass key=")
    mixing_key, noise_key = (None, None) if key is None else jax.random.split(key)
    ws = self.styles(z, y, train=train, key=mixing_key, mixing_prob=mixing_prob, truncation_psi=truncation_psi,
                     truncation_cutoff=truncation_cutoff)
    return self.synthesis(ws, noise_mode=noise_mode, key=noise_key)


# --- the discriminator ---------------------------------------------------------------------------------------


class DiscriminatorBlock(nnx.Module):
  """(B, r, r, tmp) [or the image, first block] -> (B, r / 2, r / 2, out): ``DiscriminatorBlock`` of the reference.

  "resnet": sqrt(.5) skip(x) + sqrt(.5) conv1(conv0(x)), skip a 1x1
  downsampling convolution without bias and activation, conv1 downsampling;
  "orig": conv1(conv0(x)). The first block starts with FromRGB (1x1, lrelu).
  """

  def __init__(self, plan: DiscriminatorBlockPlan, img_channels: int, *, architecture: str,
               conv_clamp: float | None, dtype, rngs: nnx.Rngs):
    conv = dict(conv_clamp=conv_clamp, dtype=dtype, rngs=rngs)
    tmp, out = plan.tmp_channels, plan.out_channels
    self.fromrgb = (Conv2dLayer(img_channels, tmp, 1, activation="lrelu", **conv) if plan.in_channels == 0
                    else None)
    self.conv0 = Conv2dLayer(tmp, tmp, 3, activation="lrelu", **conv)
    self.conv1 = Conv2dLayer(tmp, out, 3, activation="lrelu", down=2, **conv)
    self.skip = (Conv2dLayer(tmp, out, 1, bias=False, down=2, dtype=dtype, rngs=rngs) if architecture == "resnet"
                 else None)

  def __call__(self, x: jax.Array) -> jax.Array:
    if self.fromrgb is not None:
      x = self.fromrgb(x)
    if self.skip is None:
      return self.conv1(self.conv0(x))
    gain = math.sqrt(0.5)
    return self.skip(x, gain=gain) + self.conv1(self.conv0(x), gain=gain)


class DiscriminatorEpilogue(nnx.Module):
  """(B, 4, 4, C) -> (B, 1) or (B, cmap_dim): mbstd, conv 3x3, fc (lrelu) on the (C, H, W) flattening, out.

  ``DiscriminatorEpilogue`` of the reference, in float32 as there.
  """

  def __init__(self, channels: int, cmap_dim: int, *, mbstd_group_size: int | None, mbstd_num_channels: int,
               conv_clamp: float | None, rngs: nnx.Rngs):
    self.mbstd_group_size = mbstd_group_size
    self.mbstd_num_channels = mbstd_num_channels
    self.conv = Conv2dLayer(channels + mbstd_num_channels, channels, 3, activation="lrelu", conv_clamp=conv_clamp,
                            rngs=rngs)
    self.fc = FullyConnectedLayer(channels * 16, channels, activation="lrelu", rngs=rngs)
    self.out = FullyConnectedLayer(channels, 1 if cmap_dim == 0 else cmap_dim, rngs=rngs)

  def __call__(self, x: jax.Array) -> jax.Array:
    x = x.astype(jnp.float32)
    if self.mbstd_num_channels > 0:
      x = minibatch_std(x, self.mbstd_group_size, self.mbstd_num_channels)
    x = self.conv(x)
    # torch's flatten of NCHW: channel-major.
    x = jnp.transpose(x, (0, 3, 1, 2)).reshape((x.shape[0], -1))
    return self.out(self.fc(x))


class StyleGAN2Discriminator(nnx.Module):
  """x (B, side, side, C)[, y (B,)] -> logits (B,), or (logits, None) when conditional.

  ``Discriminator`` of the reference. Conditional: logits = <out(x),
  cmap(y)> / sqrt(cmap_dim), cmap = ``mapping`` (:class:`MappingNetwork` of
  the label alone, no w_avg). ``key`` is accepted for jaxgen's interface
  (no dropout here).
  """

  def __init__(self, hp: StyleGAN2Config, *, rngs: nnx.Rngs):
    self.num_classes = hp.num_classes
    self.image_shape = hp.image_shape
    self.cmap_dim = hp.d_cmap_dim
    dtype = compute_dtype(hp.compute_dtype)
    self.blocks = nnx.List([
        DiscriminatorBlock(plan, hp.image_shape[-1], architecture=hp.discriminator_architecture,
                           conv_clamp=hp.conv_clamp, dtype=dtype, rngs=rngs)
        for plan in hp.discriminator_blocks
    ])
    self.mapping = (MappingNetwork(0, hp.num_classes, self.cmap_dim, None, num_layers=hp.discriminator_mapping_layers,
                                   lr_multiplier=hp.mapping_lr_multiplier, w_avg_beta=None, rngs=rngs)
                    if hp.num_classes is not None else None)
    self.epilogue = DiscriminatorEpilogue(hp.channels(4), self.cmap_dim, mbstd_group_size=hp.mbstd_group_size,
                                          mbstd_num_channels=hp.mbstd_num_channels, conv_clamp=hp.conv_clamp,
                                          rngs=rngs)

  def __call__(self, x: jax.Array, y: jax.Array | None = None, *, train: bool = True,
               key: jax.Array | None = None):
    del train, key  # no batch statistics, no dropout
    if x.ndim != 4 or tuple(x.shape[1:]) != self.image_shape:
      raise ValueError(f"StyleGAN2Discriminator: x must have shape (batch, {', '.join(map(str, self.image_shape))}), "
                       f"got {tuple(x.shape)}")
    if self.num_classes is None and y is not None:
      raise ValueError("StyleGAN2Discriminator is unconditional (num_classes None): call it without labels")
    if self.num_classes is not None:
      _check_labels(y, x.shape[0], self.num_classes, "StyleGAN2Discriminator")
      _check_label_values(y, self.num_classes, "StyleGAN2Discriminator")
    h = x
    for block in self.blocks:
      h = block(h)
    out = self.epilogue(h)
    if self.mapping is None:
      return out[:, 0]
    cmap = self.mapping(None, y, train=False)
    return jnp.sum(out * cmap, axis=-1) / math.sqrt(self.cmap_dim), None


# --- the family --------------------------------------------------------------------------------------------


def hparams_from_config(config) -> StyleGAN2Config:
  """The model's hyperparameters from ``config.model`` (its ``name`` key aside)."""
  return _registry.hparams_from_config(StyleGAN2Config, config.model, family="stylegan2")


def build(config, rngs: nnx.Rngs) -> dict[str, nnx.Module]:
  """{"generator": StyleGAN2Generator (mapping at ``.mapping``), "discriminator": StyleGAN2Discriminator}."""
  hp = hparams_from_config(config)
  return {"generator": StyleGAN2Generator(hp, rngs=rngs), "discriminator": StyleGAN2Discriminator(hp, rngs=rngs)}


@functools.partial(nnx.jit, static_argnames=("truncation_psi", "truncation_cutoff", "noise_mode"))
def _generate(generator, z, y, key, *, truncation_psi, truncation_cutoff, noise_mode):
  return generator(z, y, train=False, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff,
                   noise_mode=noise_mode, key=key)


def sample(models, key: jax.Array, num: int, config, labels=None, truncation_psi: float = 1.0,
           truncation_cutoff: int | None = None, noise_mode: str = "const") -> np.ndarray:
  """``num`` images (num, H, W, C) in [0, 1]: G(z, y) with z ~ N(0, I) from ``key``, clipped to [-1, 1], rescaled.

  G in inference mode (w_avg fixed), no style mixing; truncation toward
  w_avg with ``truncation_psi`` on the first ``truncation_cutoff`` ws (None:
  all); ``noise_mode`` "const" by default (the reference's ``generate.py``),
  "random" draws the noise from ``fold_in(key, 1)``. Conditional families:
  ``labels`` (num,) in [0, num_classes), by default ``arange(num) %
  num_classes``.
  """
  hp = hparams_from_config(config)
  if hp.num_classes is None:
    if labels is not None:
      raise ValueError("labels given, but this StyleGAN2 is unconditional (num_classes None)")
    y = None
  else:
    labels = sample_labels(labels, num, hp.num_classes)
    y = jnp.asarray(labels, jnp.int32)
  if not _is_real(truncation_psi):
    raise ValueError(f"truncation_psi must be a number (1: no truncation), got {truncation_psi!r}")
  _check_choice("noise_mode", noise_mode, NOISE_MODES)
  z = jax.random.normal(key, (num, hp.latent_dim))
  noise_key = jax.random.fold_in(key, 1) if noise_mode == "random" else None
  images = _generate(models["generator"], z, y, noise_key, truncation_psi=float(truncation_psi),
                     truncation_cutoff=truncation_cutoff, noise_mode=noise_mode)
  return np.clip(np.asarray(to_unit_range(images)), 0.0, 1.0)


def coarse_styles(side: int = 8) -> int:
  """ws read by the blocks up to ``side`` (4x4 and 8x8 by default: 4), the first ws of a style-mixing cutoff.

  Block r reads ws[first_w : first_w + num_conv + 1] (its ToRGB's w is the
  next block's first): 2 log2(side) - 2 ws up to ``side``, at any image size.
  """
  if not _is_int(side) or side < 4 or side & (side - 1):
    raise ValueError(f"side must be a power of two >= 4, got {side!r}")
  return 2 * int(math.log2(side)) - 2


@functools.partial(nnx.jit, static_argnames=("cutoff",))
def _mixed_images(generator, z_coarse, z_fine, y_coarse, y_fine, *, cutoff):
  ws_coarse = generator.mapping(z_coarse, y_coarse, train=False)
  ws_fine = generator.mapping(z_fine, y_fine, train=False)
  ws = jnp.concatenate([ws_coarse[:, :cutoff], ws_fine[:, cutoff:]], axis=1)
  return tuple(generator.synthesis(w, noise_mode="const") for w in (ws_coarse, ws_fine, ws))


def mix_styles(models, z_coarse: jax.Array, z_fine: jax.Array, *, cutoff: int, y_coarse=None,
               y_fine=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Images of A = z_coarse, B = z_fine and of their mix: ws[:cutoff] from A, ws[cutoff:] from B.

  Style mixing at sampling time (Karras et al. 2019, Section 3.1, Figure 3):
  the ws read by the coarse (low-resolution) layers from one latent, the rest
  from another; constant noise inputs, no truncation. Returns (A, B, mixed),
  each (N, H, W, C) in [0, 1].
  """
  g = models["generator"]
  if not _is_int(cutoff) or not 0 < cutoff < g.num_ws:
    raise ValueError(f"cutoff must be an integer in [1, {g.num_ws - 1}] (ws from A before it), got {cutoff!r}")
  out = _mixed_images(g, jnp.asarray(z_coarse), jnp.asarray(z_fine), y_coarse, y_fine, cutoff=int(cutoff))
  return tuple(np.clip(np.asarray(to_unit_range(x)), 0.0, 1.0) for x in out)


def style_mixing_grid(models, key: jax.Array, config, *, rows: int = 5, columns: int = 5,
                      cutoff: int | None = None) -> np.ndarray:
  """The style-mixing figure as images, ((rows + 1) * (columns + 1), H, W, C) in [0, 1], row-major.

  Row 0: a blank cell, then the B images (fine styles); column 0: the A
  images (coarse styles); cell (i, j): A_i's ws before ``cutoff`` (default
  :func:`coarse_styles`, 4x4 and 8x8, at most num_ws - 1) with B_j's after it. Unconditional
  StyleGAN2 only (a conditional one would need labels for both).
  """
  hp = hparams_from_config(config)
  if hp.num_classes is not None:
    raise ValueError("style_mixing_grid draws unconditional StyleGAN2s; this one is conditional")
  for name, value in (("rows", rows), ("columns", columns)):
    if not _is_int(value) or value < 1:
      raise ValueError(f"{name} must be a positive integer, got {value!r}")
  cutoff = min(coarse_styles(), hp.num_ws - 1) if cutoff is None else cutoff
  a_key, b_key = jax.random.split(key)
  z_a = jax.random.normal(a_key, (rows, hp.latent_dim))
  z_b = jax.random.normal(b_key, (columns, hp.latent_dim))
  a, b, mixed = mix_styles(models, jnp.repeat(z_a, columns, axis=0), jnp.tile(z_b, (rows, 1)), cutoff=cutoff)
  cells = [np.ones_like(a[0])] + list(b[:columns])
  for i in range(rows):
    cells += [a[i * columns]] + list(mixed[i * columns:(i + 1) * columns])
  return np.stack(cells)


register_model("stylegan2", build, sample, hparams=StyleGAN2Config)
