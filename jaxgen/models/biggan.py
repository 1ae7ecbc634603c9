"""BigGAN (Brock, Donahue and Simonyan 2019): class-conditional residual G and projection D, small resolutions.

The networks as ajbrock/BigGAN-PyTorch builds them (``BigGAN.py``: ``G_arch``,
``D_arch``, ``Generator``, ``Discriminator``; ``layers.py``: ``ccbn``, ``bn``,
``GBlock``, ``DBlock``, ``Attention``, ``SNConv2d``, ``SNLinear``,
``SNEmbedding``), in NHWC.

Generator G(z, y):

* e = shared(y), a class embedding of size ``shared_dim`` (not spectrally
  normalised, as the reference's ``G.shared``);
* ``hierarchical``: z is split into ``num_blocks + 1`` equal chunks; chunk 0
  goes through a linear layer to the (4, 4, C_0) starting map, and block k gets
  cond_k = [e, z_{k + 1}]; otherwise the whole z feeds the linear layer and
  every block gets cond = e;
* :class:`GBlock`: h = relu(cBN_1(x, cond)), nearest 2x upsampling of h and of
  the shortcut input, conv 3x3, relu(cBN_2(h, cond)), conv 3x3, plus a 1x1
  convolution of the upsampled x;
* :class:`LinearConditionalBatchNorm` (the reference's ``ccbn``): batch norm
  without affine, then x_hat * (1 + W_g cond) + W_b cond, W_g and W_b linear
  maps without bias;
* :class:`SelfAttention` after every block whose output side is in
  ``attention``;
* output: batch norm (with its own affine) -> relu -> conv 3x3 -> tanh.

Discriminator D(x, y): :class:`DBlock` s (pre-activation but the first: relu,
conv 3x3, relu, conv 3x3, 2x2 average pooling when downsampling, a 1x1
convolution shortcut when the block changes channels or downsamples),
attention after every block whose output side is in
``discriminator_attention``, then phi = sum over H, W of relu(h) and
D = w^T phi + b + embed(y)^T phi (projection, Miyato & Koyama 2018).
Every convolution and linear layer of G and D, and D's embedding, is
spectrally normalised; G's shared embedding is not.

Block plans (channels in -> out, output side), ``c = ch`` (G) or
``discriminator_ch`` (D):

* side 32 (the reference's ``G_arch[32]`` / ``D_arch[32]``): G 4c -> 4c at
  8, 16, 32; D C -> 4c (down, 16), 4c -> 4c (down, 8), 4c -> 4c (8),
  4c -> 4c (8).
* sides 16 and 8, the same pattern with fewer blocks (not in the reference):
  G has log2(side / 4) blocks 4c -> 4c (16: sides 8, 16; 8: side 8); D has
  one block more, all but the last two downsampling (16: 16 -> 8, 8, 8;
  8: 8, 8), so D ends at side / 4 as at 32 (side 8: no downsampling).
* side 64 (``G_arch[64]`` / ``D_arch[64]``): G 16c -> 16c (8), 16c -> 8c (16),
  8c -> 4c (32), 4c -> 2c (64); D C -> c (32), c -> 2c (16), 2c -> 4c (8),
  4c -> 8c (4), all downsampling, then 8c -> 16c (4).

Differences from the reference, all deliberate: ``D_arch[32]`` labels all
four of its blocks with resolution 16 (their outputs are 16, 8, 8, 8), so
there ``D_attn='16'`` puts attention after every block; here attention goes
after the blocks whose true output side is listed. A ``latent_dim`` that the
chunks do not divide is an error here (the reference rounds it down).
Biases start as PyTorch's layers start them (uniform in +-1/sqrt(fan_in));
the running variance of batch norm is the biased one (Flax), PyTorch keeps
the unbiased one.

References:
  Brock, Donahue, Simonyan. "Large Scale GAN Training for High Fidelity
  Natural Image Synthesis", ICLR 2019 (Section 3, Appendix B).
  Zhang, Goodfellow, Metaxas, Odena. "Self-Attention Generative Adversarial
  Networks", ICML 2019.
  Miyato, Koyama. "cGANs with Projection Discriminator", ICLR 2018.
  Miyato, Kataoka, Koyama, Yoshida. "Spectral Normalization for Generative
  Adversarial Networks", ICLR 2018.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

import jaxgen.nn
import jaxgen.random

from jaxgen.models import _registry
from jaxgen.models._latent import sample_labels
from jaxgen.models._precision import check_compute_dtype, compute_dtype, to_float32
from jaxgen.models._registry import register_model
from jaxgen.models.cgan import _check_choice, _check_labels
from jaxgen.models.dcgan import to_model_range, to_unit_range

__all__ = [
    "BigGANConfig",
    "BigGANDiscriminator",
    "BigGANGenerator",
    "DBlock",
    "GBlock",
    "LinearConditionalBatchNorm",
    "SelfAttention",
    "build",
    "hparams_from_config",
    "sample",
    "to_model_range",
    "to_unit_range",
]

SIDES = (8, 16, 32, 64)
INITS = ("ortho", "normal")
# Side of G's first map (the reference's bottom_width).
BOTTOM_WIDTH = 4


class GBlockPlan(NamedTuple):
  in_channels: int
  out_channels: int
  side: int  # output side (every G block doubles the side)


class DBlockPlan(NamedTuple):
  in_channels: int
  out_channels: int
  downsample: bool
  side: int  # output side


@dataclasses.dataclass(frozen=True)
class BigGANConfig:
  """Hyperparameters of BigGAN's G and D (defaults: the 32x32 digits experiment).

  ``discriminator_ch``, ``discriminator_attention`` and ``discriminator_init``
  are D's ``ch``, ``attention`` and ``init`` (the reference's ``D_ch``,
  ``D_attn``, ``D_init``); ``None`` takes G's value.

  Example:
    >>> hp = BigGANConfig(image_shape=(32, 32, 1), ch=32, latent_dim=64)
    >>> [(b.in_channels, b.out_channels, b.side) for b in hp.generator_blocks]
    [(128, 128, 8), (128, 128, 16), (128, 128, 32)]
    >>> [(b.out_channels, b.downsample, b.side) for b in hp.discriminator_blocks]
    [(128, True, 16), (128, True, 8), (128, False, 8), (128, False, 8)]
    >>> hp.num_chunks, hp.chunk_size
    (4, 16)
  """

  image_shape: tuple[int, int, int] = (32, 32, 1)
  num_classes: int = 10
  # Width multiplier (G_ch): at side 32 every block of G has 4 * ch channels.
  ch: int = 32
  latent_dim: int = 64
  # Size of G's shared class embedding.
  shared_dim: int = 32
  # Split z into one chunk per G block plus one for the first linear layer ("hier").
  hierarchical: bool = True
  # Output sides of the G blocks followed by self-attention (G_attn), e.g. (16,); () for none.
  attention: tuple[int, ...] = (16,)
  # Weight init: "ortho" (orthogonal, the reference's default) or "normal" (N(0, 0.02), its "N02").
  init: str = "ortho"
  discriminator_ch: int | None = None
  discriminator_attention: tuple[int, ...] | None = None
  discriminator_init: str | None = None
  bn_eps: float = 1e-5
  # Flax convention: running = momentum * running + (1 - momentum) * batch (PyTorch's momentum 0.1).
  batch_norm_momentum: float = 0.9
  # Spectral norm's power iteration normalises v as v / max(|v|, sn_eps), as PyTorch's F.normalize (the
  # reference's SN_eps; 1e-6 in its ImageNet launch scripts).
  sn_eps: float = 1e-6
  # jaxgen.nn.Conv formulation: "auto", "xla" or "cpu_fast" (same parameters either way).
  conv_impl: str = "auto"
  # 'float32' or 'bfloat16': the layers' computation; parameters, outputs and losses stay float32.
  compute_dtype: str = "float32"

  def __post_init__(self):
    check_compute_dtype(self.compute_dtype)
    _check_choice("conv_impl", self.conv_impl, jaxgen.nn.IMPLS)
    _check_choice("init", self.init, INITS)
    if self.discriminator_init is not None:
      _check_choice("discriminator_init", self.discriminator_init, INITS)
    for name in ("num_classes", "ch", "latent_dim", "shared_dim", "discriminator_ch"):
      value = getattr(self, name)
      if value is None and name == "discriminator_ch":
        continue
      if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not isinstance(self.hierarchical, bool):
      raise ValueError(f"hierarchical must be True or False, got {self.hierarchical!r}")
    for name in ("bn_eps", "sn_eps"):
      value = getattr(self, name)
      if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < 1:
        raise ValueError(f"{name} must be a number in (0, 1), got {value!r}")
    if not 0.0 <= self.batch_norm_momentum < 1.0:
      raise ValueError(f"batch_norm_momentum must lie in [0, 1), got {self.batch_norm_momentum}")
    shape = tuple(self.image_shape) if isinstance(self.image_shape, (tuple, list)) else (self.image_shape,)
    if len(shape) != 3 or shape[0] != shape[1] or shape[0] not in SIDES or shape[2] < 1:
      raise ValueError(f"image_shape must be (side, side, channels) with side in {SIDES}, got {shape}")
    object.__setattr__(self, "image_shape", tuple(int(d) for d in shape))
    if self.hierarchical and self.latent_dim % self.num_chunks:
      raise ValueError(
          f"hierarchical z splits latent_dim into {self.num_chunks} equal chunks ({len(self.generator_blocks)} blocks "
          f"+ 1): latent_dim {self.latent_dim} is not divisible by {self.num_chunks}")
    for name, plan, net in (("attention", self.generator_blocks, "G"),
                            ("discriminator_attention", self.discriminator_blocks, "D")):
      value = getattr(self, name)
      if value is None:
        # D inherits G's sides: checked against D's own blocks (their widths may differ).
        name, value = "attention (inherited by D)", self.attention
      if isinstance(value, numbers.Integral) or not all(
          isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in value):
        raise ValueError(f"{name} must be a tuple of image sides, e.g. (16,), got {value!r}")
      value = tuple(int(s) for s in value)
      if not name.startswith("attention (inherited"):
        object.__setattr__(self, name, value)
      sides = sorted({b.side for b in plan})
      unknown = sorted(set(value) - set(sides))
      # Sides of G that no D block has simply put no attention in D.
      if unknown and not name.startswith("attention (inherited"):
        raise ValueError(f"{name} {unknown} is not the output side of any {net} block at image side "
                         f"{shape[0]}; choose from {sides}")
      narrow = [b.out_channels for b in plan if b.side in value and b.out_channels < 8]
      if narrow:
        raise ValueError(f"{name} needs >= 8 channels where it is applied (C / 8 query features), got {narrow[0]}: "
                         f"raise {'ch' if net == 'G' else 'discriminator_ch'}")

  @property
  def side(self) -> int:
    """The image side (height = width)."""
    return self.image_shape[0]

  @property
  def d_ch(self) -> int:
    return self.ch if self.discriminator_ch is None else self.discriminator_ch

  @property
  def d_attention(self) -> tuple[int, ...]:
    return self.attention if self.discriminator_attention is None else self.discriminator_attention

  @property
  def d_init(self) -> str:
    return self.init if self.discriminator_init is None else self.discriminator_init

  @property
  def num_chunks(self) -> int:
    """Pieces of z: one per G block plus one for the first linear layer (1 when not hierarchical)."""
    return len(self.generator_blocks) + 1 if self.hierarchical else 1

  @property
  def chunk_size(self) -> int:
    """Features of the z chunk each G block gets (0 when not hierarchical)."""
    return self.latent_dim // self.num_chunks if self.hierarchical else 0

  @property
  def generator_blocks(self) -> tuple[GBlockPlan, ...]:
    """G's blocks: ``G_arch[side]`` for 32 and 64, the 32 pattern with fewer blocks below."""
    c, side = self.ch, self.side
    if side == 64:
      ins, outs = [16, 16, 8, 4], [16, 8, 4, 2]
    else:
      num = int(math.log2(side // BOTTOM_WIDTH))
      ins, outs = [4] * num, [4] * num
    return tuple(GBlockPlan(c * a, c * b, BOTTOM_WIDTH * 2 ** (i + 1)) for i, (a, b) in enumerate(zip(ins, outs)))

  @property
  def discriminator_blocks(self) -> tuple[DBlockPlan, ...]:
    """D's blocks: ``D_arch[side]`` for 32 and 64; below 32 all but the last two blocks downsample."""
    c, side, channels = self.d_ch, self.side, self.image_shape[2]
    if side == 64:
      outs, down = [c * m for m in (1, 2, 4, 8, 16)], [True] * 4 + [False]
    else:
      num = int(math.log2(side // BOTTOM_WIDTH))  # G's block count
      outs, down = [4 * c] * (num + 1), [True] * (num - 1) + [False, False]
    plans, in_channels = [], channels
    for out, d in zip(outs, down):
      side //= 2 if d else 1
      plans.append(DBlockPlan(in_channels, out, d, side))
      in_channels = out
    return tuple(plans)


def _check_label_values(y: jax.Array, num_classes: int, where: str) -> None:
  """Labels outside [0, num_classes) are an error when y is concrete (under jit, :func:`sample` checks them)."""
  if isinstance(y, jax.core.Tracer):
    return
  values = np.asarray(y)
  if values.size and (values.min() < 0 or values.max() >= num_classes):
    raise ValueError(f"{where}: labels y must lie in [0, {num_classes}), got values in "
                     f"[{values.min()}, {values.max()}]")


def _kernel_init(init: str):
  # The reference initialises every conv, linear and embedding weight so (G_init / D_init); torch's
  # orthogonal_ on (out, in * k * k) and Flax's on (k * k * in, out) give the same set of matrices.
  return nnx.initializers.orthogonal() if init == "ortho" else nnx.initializers.normal(0.02)


def _torch_bias_init(fan_in: int):
  """PyTorch's default bias of nn.Linear / nn.Conv2d, uniform in +-1/sqrt(fan_in) (the reference keeps it)."""
  bound = 1.0 / math.sqrt(fan_in)

  def init(key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype, -bound, bound)

  return init


@dataclasses.dataclass(frozen=True)
class _Layers:
  """Builds the spectrally normalised layers of one network (the reference's which_conv / which_linear)."""

  init: str
  sn_eps: float
  conv_impl: str
  dtype: jnp.dtype

  def _sn(self, layer, rngs: nnx.Rngs):
    # F.normalize's v / max(|v|, eps) against SpectralNorm's v / sqrt(|v|^2 + eps'): eps' = eps^2 agrees.
    return jaxgen.nn.SpectralNorm(layer, eps=self.sn_eps**2, rngs=rngs)

  def conv(self, in_features: int, out_features: int, kernel: int, *, use_bias: bool = True, rngs: nnx.Rngs):
    layer = jaxgen.nn.Conv(
        in_features, out_features, (kernel, kernel), padding="SAME", use_bias=use_bias,
        kernel_init=_kernel_init(self.init), bias_init=_torch_bias_init(in_features * kernel * kernel),
        impl=self.conv_impl, dtype=self.dtype, rngs=rngs,
    )
    return self._sn(layer, rngs)

  def linear(self, in_features: int, out_features: int, *, use_bias: bool = True, rngs: nnx.Rngs):
    layer = nnx.Linear(
        in_features, out_features, use_bias=use_bias, kernel_init=_kernel_init(self.init),
        bias_init=_torch_bias_init(in_features), dtype=self.dtype, rngs=rngs,
    )
    return self._sn(layer, rngs)

  def embed(self, num_embeddings: int, features: int, *, rngs: nnx.Rngs):
    return self._sn(
        nnx.Embed(num_embeddings, features, embedding_init=_kernel_init(self.init), dtype=self.dtype, rngs=rngs), rngs)


def _upsample2(x: jax.Array) -> jax.Array:
  """Nearest-neighbour 2x upsampling of (B, H, W, C) (F.interpolate's default mode)."""
  return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


def _pool2(x: jax.Array, reduce) -> jax.Array:
  b, h, w, c = x.shape
  return reduce(x.reshape((b, h // 2, 2, w // 2, 2, c)), axis=(2, 4))


class LinearConditionalBatchNorm(nnx.Module):
  """BigGAN's conditional batch norm: BN(x) * (1 + W_g cond) + W_b cond.

  BN(x) = (x - mu) / sqrt(sigma^2 + eps) with batch (training) or running
  (inference) statistics and no affine of its own; W_g, W_b are spectrally
  normalised linear maps (cond_features -> num_features) without bias
  (``bn_linear`` in ``BigGAN.py``, ``ccbn`` in ``layers.py`` of
  ajbrock/BigGAN-PyTorch). With W_g = W_b = 0 it is a plain batch norm with
  unit scale and zero offset.

  Args:
    num_features: channels F (the last axis of x).
    cond_features: size of the conditioning vector.
    layers: the layer builder (init, spectral norm epsilon, dtype).
    momentum, epsilon: of the batch norm.
    rngs: initial weights and power-iteration vectors.
  """

  def __init__(self, num_features: int, cond_features: int, *, layers: _Layers, momentum: float, epsilon: float,
               rngs: nnx.Rngs):
    self.norm = nnx.BatchNorm(num_features, momentum=momentum, epsilon=epsilon, use_scale=False, use_bias=False,
                              dtype=layers.dtype, rngs=rngs)
    self.gain = layers.linear(cond_features, num_features, use_bias=False, rngs=rngs)
    self.bias = layers.linear(cond_features, num_features, use_bias=False, rngs=rngs)

  def __call__(self, x: jax.Array, cond: jax.Array, *, train: bool) -> jax.Array:
    """x (B, H, W, F), cond (B, cond_features) -> (B, H, W, F)."""
    h = self.norm(x, use_running_average=not train)
    gain = (1 + self.gain(cond, update_stats=train))[:, None, None, :]
    bias = self.bias(cond, update_stats=train)[:, None, None, :]
    return h * gain.astype(h.dtype) + bias.astype(h.dtype)


class SelfAttention(nnx.Module):
  """SAGAN's non-local block as the BigGAN code has it: x + gamma * o(g beta), gamma initialised to 0.

  theta = conv1x1(x) (C / 8 features at every position), phi = maxpool2(conv1x1(x))
  (C / 8), g = maxpool2(conv1x1(x)) (C / 2); beta = softmax over the H W / 4
  pooled positions of theta phi^T; the result o(beta g) is a 1x1 convolution
  back to C channels. All four convolutions are spectrally normalised and have
  no bias (``Attention`` in ``layers.py`` of ajbrock/BigGAN-PyTorch). At
  initialisation (gamma = 0) the block is the identity.

  Args:
    channels: C, the input and output channels (>= 8); the side must be even.
    layers: the layer builder.
    rngs: initial weights and power-iteration vectors.
  """

  def __init__(self, channels: int, *, layers: _Layers, rngs: nnx.Rngs):
    self.theta = layers.conv(channels, channels // 8, 1, use_bias=False, rngs=rngs)
    self.phi = layers.conv(channels, channels // 8, 1, use_bias=False, rngs=rngs)
    self.g = layers.conv(channels, channels // 2, 1, use_bias=False, rngs=rngs)
    self.o = layers.conv(channels // 2, channels, 1, use_bias=False, rngs=rngs)
    self.gamma = nnx.Param(jnp.zeros((), jnp.float32))

  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    """x (B, H, W, C) -> (B, H, W, C)."""
    b, h, w, _ = x.shape
    theta = self.theta(x, update_stats=train).reshape((b, h * w, -1))
    phi = _pool2(self.phi(x, update_stats=train), jnp.max).reshape((b, h * w // 4, -1))
    g = _pool2(self.g(x, update_stats=train), jnp.max).reshape((b, h * w // 4, -1))
    # Softmax in float32 whatever the compute dtype.
    beta = jax.nn.softmax(to_float32(jnp.einsum("bnc,bmc->bnm", theta, phi)), axis=-1).astype(g.dtype)
    o = self.o(jnp.einsum("bnm,bmc->bnc", beta, g).reshape((b, h, w, -1)), update_stats=train)
    return x + self.gamma[...].astype(o.dtype) * o


class GBlock(nnx.Module):
  """G's residual block: x -> conv(relu(cBN_2(conv(up(relu(cBN_1(x, c)))), c))) + conv1x1(up(x)).

  up = nearest 2x upsampling; convolutions 3x3 except the 1x1 shortcut (every
  G block upsamples, so the shortcut is always learnable; ``GBlock`` in
  ``layers.py`` of ajbrock/BigGAN-PyTorch). Maps (B, S, S, in) and cond
  (B, cond_features) to (B, 2S, 2S, out).
  """

  def __init__(self, in_channels: int, out_channels: int, cond_features: int, *, layers: _Layers, momentum: float,
               epsilon: float, rngs: nnx.Rngs):
    norm = dict(layers=layers, momentum=momentum, epsilon=epsilon, rngs=rngs)
    self.bn1 = LinearConditionalBatchNorm(in_channels, cond_features, **norm)
    self.conv1 = layers.conv(in_channels, out_channels, 3, rngs=rngs)
    self.bn2 = LinearConditionalBatchNorm(out_channels, cond_features, **norm)
    self.conv2 = layers.conv(out_channels, out_channels, 3, rngs=rngs)
    self.conv_sc = layers.conv(in_channels, out_channels, 1, rngs=rngs)

  def __call__(self, x: jax.Array, cond: jax.Array, *, train: bool) -> jax.Array:
    h = _upsample2(jax.nn.relu(self.bn1(x, cond, train=train)))
    h = self.conv1(h, update_stats=train)
    h = self.conv2(jax.nn.relu(self.bn2(h, cond, train=train)), update_stats=train)
    return h + self.conv_sc(_upsample2(x), update_stats=train)


class DBlock(nnx.Module):
  """D's residual block: conv(relu(conv(a(x)))) [avg-pooled] + shortcut(x), a = relu if preactivation.

  Convolutions 3x3 (both ``out_channels`` wide, the reference's ``D_wide``);
  the shortcut is a 1x1 convolution when the block changes the channels or
  downsamples, else the identity. Pooling is 2x2 averaging. The reference
  (``DBlock.shortcut`` in ``layers.py`` of ajbrock/BigGAN-PyTorch) convolves
  then pools in pre-activation blocks and pools then convolves in the first
  block, as here; a 1x1 convolution and an average pool commute, so the two
  orders give the same function and differ only in cost.
  """

  def __init__(self, in_channels: int, out_channels: int, *, preactivation: bool, downsample: bool,
               layers: _Layers, rngs: nnx.Rngs):
    self.preactivation = preactivation
    self.downsample = downsample
    self.conv1 = layers.conv(in_channels, out_channels, 3, rngs=rngs)
    self.conv2 = layers.conv(out_channels, out_channels, 3, rngs=rngs)
    self.conv_sc = (layers.conv(in_channels, out_channels, 1, rngs=rngs)
                    if in_channels != out_channels or downsample else None)

  def _shortcut(self, x: jax.Array, train: bool) -> jax.Array:
    if self.conv_sc is None:
      return x
    if self.preactivation:
      x = self.conv_sc(x, update_stats=train)
      return _pool2(x, jnp.mean) if self.downsample else x
    x = _pool2(x, jnp.mean) if self.downsample else x
    return self.conv_sc(x, update_stats=train)

  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    """(B, S, S, in) -> (B, S / 2 if downsample else S, ..., out)."""
    h = jax.nn.relu(x) if self.preactivation else x
    h = self.conv2(jax.nn.relu(self.conv1(h, update_stats=train)), update_stats=train)
    if self.downsample:
      h = _pool2(h, jnp.mean)
    return h + self._shortcut(x, train)



class BigGANGenerator(nnx.Module):
  """(z (B, latent_dim), y (B,) integer labels) -> images (B, side, side, C) in [-1, 1].

  ``Generator`` of ``BigGAN.py`` (ajbrock/BigGAN-PyTorch) with ``G_shared``,
  ``hier`` as configured and ``G_param='SN'``; it takes the integer labels and
  applies the shared embedding itself (the reference's forward takes
  ``G.shared(y)``).
  """

  def __init__(self, hp: BigGANConfig, *, rngs: nnx.Rngs):
    self.num_classes = hp.num_classes
    self.latent_dim = hp.latent_dim
    self.num_chunks = hp.num_chunks
    self.hierarchical = hp.hierarchical
    dtype = compute_dtype(hp.compute_dtype)
    layers = _Layers(hp.init, hp.sn_eps, hp.conv_impl, dtype)
    plan = hp.generator_blocks
    self.base_channels = plan[0].in_channels
    # Not spectrally normalised: the reference found SN on this embedding cripples G.
    self.shared = nnx.Embed(hp.num_classes, hp.shared_dim, embedding_init=_kernel_init(hp.init), dtype=dtype,
                            rngs=rngs)
    self.linear = layers.linear(hp.latent_dim // hp.num_chunks, BOTTOM_WIDTH**2 * self.base_channels, rngs=rngs)
    cond_features = hp.shared_dim + hp.chunk_size
    norm = dict(momentum=hp.batch_norm_momentum, epsilon=hp.bn_eps)
    self.blocks = nnx.List([
        GBlock(b.in_channels, b.out_channels, cond_features, layers=layers, rngs=rngs, **norm) for b in plan
    ])
    self.attention = nnx.List([
        SelfAttention(b.out_channels, layers=layers, rngs=rngs) if b.side in hp.attention else None for b in plan
    ])
    self.output_norm = nnx.BatchNorm(plan[-1].out_channels, momentum=hp.batch_norm_momentum, epsilon=hp.bn_eps,
                                     dtype=dtype, rngs=rngs)
    self.output_conv = layers.conv(plan[-1].out_channels, hp.image_shape[-1], 3, rngs=rngs)

  def conditions(self, z: jax.Array, y: jax.Array) -> tuple[jax.Array, list[jax.Array]]:
    """(input of the first linear layer (B, latent_dim / num_chunks), [cond_k (B, shared_dim + chunk)] per block)."""
    shared = self.shared(y)
    if not self.hierarchical:
      return z, [shared] * len(self.blocks)
    chunks = jnp.split(z, self.num_chunks, axis=-1)
    return chunks[0], [jnp.concatenate([shared, c.astype(shared.dtype)], axis=-1) for c in chunks[1:]]

  def __call__(self, z: jax.Array, y: jax.Array, *, train: bool) -> jax.Array:
    """z (B, latent_dim), y (B,) integers in [0, num_classes) -> (B, side, side, C) in [-1, 1]."""
    if z.ndim != 2 or z.shape[-1] != self.latent_dim:
      raise ValueError(f"BigGANGenerator: z must have shape (batch, {self.latent_dim}), got {tuple(z.shape)}")
    _check_labels(y, z.shape[0], self.num_classes, "BigGANGenerator")
    _check_label_values(y, self.num_classes, "BigGANGenerator")
    first, conds = self.conditions(z, y)
    h = self.linear(first, update_stats=train).reshape((z.shape[0], BOTTOM_WIDTH, BOTTOM_WIDTH, self.base_channels))
    for block, attention, cond in zip(self.blocks, self.attention, conds):
      h = block(h, cond, train=train)
      if attention is not None:
        h = attention(h, train=train)
    h = jax.nn.relu(self.output_norm(h, use_running_average=not train))
    return jnp.tanh(to_float32(self.output_conv(h, update_stats=train)))


class BigGANDiscriminator(nnx.Module):
  """(x (B, side, side, C) in [-1, 1], y (B,)) -> (logits (B,), None): a projection discriminator.

  logits = w^T phi + b + embed(y)^T phi, phi = sum over H, W of relu(h), h
  the last block's output (``Discriminator`` of ``BigGAN.py``,
  ajbrock/BigGAN-PyTorch). The second output is ``None`` (no auxiliary
  classifier), jaxgen's conditional discriminator interface.
  """

  def __init__(self, hp: BigGANConfig, *, rngs: nnx.Rngs):
    self.num_classes = hp.num_classes
    layers = _Layers(hp.d_init, hp.sn_eps, hp.conv_impl, compute_dtype(hp.compute_dtype))
    plan = hp.discriminator_blocks
    self.blocks = nnx.List([
        DBlock(b.in_channels, b.out_channels, preactivation=i > 0, downsample=b.downsample, layers=layers, rngs=rngs)
        for i, b in enumerate(plan)
    ])
    self.attention = nnx.List([
        SelfAttention(b.out_channels, layers=layers, rngs=rngs) if b.side in hp.d_attention else None for b in plan
    ])
    features = plan[-1].out_channels
    self.linear = layers.linear(features, 1, rngs=rngs)
    self.embed = layers.embed(hp.num_classes, features, rngs=rngs)

  def phi(self, x: jax.Array, *, train: bool) -> jax.Array:
    """phi(x) (B, F): the last block's output, relu, summed over H and W (SN-GAN's global sum pooling)."""
    h = x
    for block, attention in zip(self.blocks, self.attention):
      h = block(h, train=train)
      if attention is not None:
        h = attention(h, train=train)
    return jnp.sum(jax.nn.relu(h), axis=(1, 2))

  def __call__(self, x: jax.Array, y: jax.Array, *, train: bool,
               key: jax.Array | None = None) -> tuple[jax.Array, None]:
    """x (B, side, side, C), y (B,) integers in [0, num_classes) -> (logits (B,), None)."""
    del key  # no dropout
    _check_labels(y, x.shape[0], self.num_classes, "BigGANDiscriminator")
    _check_label_values(y, self.num_classes, "BigGANDiscriminator")
    phi = self.phi(x, train=train)
    logits = to_float32(self.linear(phi, update_stats=train))[:, 0]
    # Projection (Miyato & Koyama 2018, eq. 3): y enters only through <embed(y), phi(x)>.
    projection = jnp.sum(to_float32(self.embed(y, update_stats=train)) * to_float32(phi), axis=-1)
    return logits + projection, None


def hparams_from_config(config) -> BigGANConfig:
  """The model's hyperparameters from ``config.model`` (its ``name`` key aside)."""
  return _registry.hparams_from_config(BigGANConfig, config.model, family="biggan")


def build(config, rngs: nnx.Rngs) -> dict[str, nnx.Module]:
  """{"generator": BigGANGenerator, "discriminator": BigGANDiscriminator} from ``config.model``."""
  hp = hparams_from_config(config)
  return {"generator": BigGANGenerator(hp, rngs=rngs), "discriminator": BigGANDiscriminator(hp, rngs=rngs)}


def standing_statistics(generator: BigGANGenerator, key: jax.Array, *, num_batches: int = 16,
                        batch_size: int = 64) -> BigGANGenerator:
  """Sets G's batch-norm statistics to "standing statistics"; returns G (changed in place).

  mu and sigma^2 of every batch norm become the average, over ``num_batches``
  batches of G(z, y) with z ~ N(0, I) and y uniform, of the statistics of each
  batch (Brock et al. 2019, Appendix C; ``accumulate_standing_stats`` in
  ``utils.py`` of ajbrock/BigGAN-PyTorch). Running averages kept during
  training mix statistics of older weights, and an EMA of the weights averages
  statistics that no single set of weights produced; the standing ones are
  those of the weights G has now. Spectral-norm state is left as it was.
  """
  if num_batches < 1 or batch_size < 2:
    raise ValueError(f"standing_statistics needs num_batches >= 1 and batch_size >= 2, got {num_batches}, {batch_size}")
  norms = [m for _, m in nnx.iter_modules(generator) if isinstance(m, nnx.BatchNorm)]
  momenta = [m.momentum for m in norms]
  for m in norms:
    m.momentum = 0.0  # a train-mode call then leaves exactly this batch's statistics behind
  graphdef, state = nnx.split(generator)

  @jax.jit
  def batch_statistics(state, key):
    g = nnx.merge(graphdef, state)
    z_key, y_key = jax.random.split(key)
    g(jax.random.normal(z_key, (batch_size, g.latent_dim)),
      jax.random.randint(y_key, (batch_size,), 0, g.num_classes), train=True)
    return nnx.state(g, nnx.BatchStat)

  try:
    total = None
    for i in range(num_batches):
      stats = batch_statistics(state, jax.random.fold_in(key, i))
      total = stats if total is None else jax.tree.map(jnp.add, total, stats)
    nnx.update(generator, jax.tree.map(lambda s: s / num_batches, total))
  finally:
    for m, momentum in zip(norms, momenta):
      m.momentum = momentum
  return generator


def sample(models, key: jax.Array, num: int, config, labels=None, truncation: float | None = None) -> np.ndarray:
  """``num`` images (num, H, W, C) in [0, 1] of G(z, y), batch norm in inference mode.

  z ~ N(0, I), or with ``truncation`` = t the truncation trick (Brock et al.,
  Section 3.1): every entry with |z_i| > t is redrawn
  (``jaxgen.random.truncated_normal_resample``); ``None`` or ``inf`` for no
  truncation. ``labels`` (num,) integers in [0, num_classes); by default
  ``arange(num) % num_classes``, rows of classes when shown ``num_classes``
  to a row.
  """
  hp = hparams_from_config(config)
  labels = sample_labels(labels, num, hp.num_classes)
  if truncation is not None and (isinstance(truncation, bool) or not isinstance(truncation, numbers.Real)
                                 or not truncation > 0):
    raise ValueError(f"truncation must be a positive number (or None for none), got {truncation!r}")
  shape = (num, hp.latent_dim)
  if truncation is None:
    z = jax.random.normal(key, shape)
  else:
    z = jaxgen.random.truncated_normal_resample(key, shape, truncation)
  return np.asarray(to_unit_range(models["generator"](z, jnp.asarray(labels, jnp.int32), train=False)))


register_model("biggan", build, sample, hparams=BigGANConfig)
