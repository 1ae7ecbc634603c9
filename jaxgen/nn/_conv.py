"""``Conv`` and ``ConvTranspose``: Flax's layers with a CPU-fast implementation option.

Both classes subclass ``nnx.Conv`` / ``nnx.ConvTranspose`` and keep their
constructors untouched, so parameters (names ``kernel``, ``bias``; shapes;
initializers; order of random draws) are the same by construction and
checkpoints move freely between the two. Only ``__call__`` changes: with
``impl="xla"`` it is Flax's own ``__call__``; with ``impl="cpu_fast"``
transposed convolutions are computed as stride-1 convolutions (sub-pixel
decomposition, see ``_functional.py``), and strided convolutions take their
input gradient that way, the same function and gradients to float32
rounding, on XLA's fast stride-1 path instead of its slow ``lhs_dilation``
path.
"""

from __future__ import annotations

import typing as tp

import jax
import jax.numpy as jnp
from flax import nnx
from flax.nnx.nn.linear import canonicalize_padding
from jax import lax

from jaxgen.nn import _functional

IMPLS = ("auto", "xla", "cpu_fast")

# Method choices measured with benchmarks/conv_micro.py (batch 128, forward
# value + gradients, 2-core CPU shared with other jobs, XLA CPU backend, jax
# 0.10.2, compiled with jaxgen.train.compiler_options() as the train steps
# are). Strided convolutions (stride 2): XLA's own forward
# and kernel gradient are fast, but its input gradient (an lhs-dilated
# convolution) is slow; taking only the input gradient through the
# space-to-depth form ("xla_s2d_grad") was 1.0-1.4x faster with 32-64 input
# channels (one run of 0.8x among five for a 4x4 kernel), and 0.6-0.9x with
# 1-3 input channels, where the input gradient is cheap anyway (and a
# network's first layer often needs none).
# Transposed convolutions (stride 2): one stride-1 convolution per output
# phase was 6-27x faster than lax.conv_transpose with 16-128 output channels;
# with 3-8 output channels the fused phases won (1.3-2.2x over
# lax.conv_transpose at 3, 3.7-5x at 8); with 1 output channel
# lax.conv_transpose itself was fastest (1.1-2x over either phase form).
# Small outputs (batch 64, same benchmark, on cores busy with a training run; the
# shapes of the Pix2pix U-Net's inner levels and CycleGAN's PatchGAN at 28x28):
# XLA's convolutions there cost far more than their arithmetic, strided
# (4x4x64 -> 2x2x128: 15.6 ms, its s2d-grad form 32.2 ms) or not (3x3x128 ->
# 2x2x256 stride 1: 148 ms); one matrix product of the gathered patches
# ("patches") took 2.4 and 7.2 ms, 0.6 ms for 2x2x128 -> 1x1x128 (xla 6.3),
# and tied at 3x3 outputs (5.1-5.3 ms against 5.3-6.5); at 4x4 outputs it lost
# (3.0 against 1.9 ms). Transposed convolutions of 1x1 inputs: sub-pixel phases
# as patches 0.4 ms against 4.3 ms as convolutions; from 2x2 inputs on, the
# convolutions won (4.0 against 5.7 ms).
_S2D_GRAD_MIN_IN_FEATURES = 16
_PATCHES_MAX_OUTPUT_PIXELS = 9


def _strided_conv_method(strides: tuple[int, int], in_features: int, out_hw: tuple[int, int]) -> str:
  """Fastest measured formulation of a convolution on the CPU backend."""
  if out_hw[0] * out_hw[1] <= _PATCHES_MAX_OUTPUT_PIXELS:
    return "patches"
  if strides == (1, 1) or in_features < _S2D_GRAD_MIN_IN_FEATURES:
    return "xla"
  return "xla_s2d_grad"


def _conv_transpose_method(strides: tuple[int, int], out_features: int, in_hw: tuple[int, int]) -> str:
  """Fastest measured formulation of a transposed convolution on the CPU backend."""
  if strides == (1, 1) or out_features == 1:
    # Stride 1: no input dilation, already a stride-1 convolution. One output
    # channel: lax.conv_transpose measured fastest.
    return "xla"
  if in_hw == (1, 1):
    return "subpixel_patches"
  if strides[0] * strides[1] * out_features < 64:
    return "subpixel_fused"
  return "subpixel"


def _conv_output_hw(in_hw, kernel_size, strides, padding) -> tuple[int, int]:
  pads = _functional.conv_padding(in_hw, kernel_size, strides, padding)
  return tuple((size + lo + hi - k) // s + 1 for size, (lo, hi), k, s in zip(in_hw, pads, kernel_size, strides))


def _broadcast(value, rank: int) -> tuple[int, ...]:
  """Flax's ``maybe_broadcast``: None means 1, an int applies to every axis."""
  if value is None:
    value = 1
  if isinstance(value, int):
    return (value,) * rank
  return tuple(value)


def _check_impl(impl: str) -> None:
  if impl not in IMPLS:
    raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")


def _resolve(impl: str, unsupported: str | None) -> str:
  """'xla' or 'cpu_fast' for this call; 'auto' picks cpu_fast on the CPU backend."""
  if impl == "auto":
    return "cpu_fast" if jax.default_backend() == "cpu" and unsupported is None else "xla"
  return impl


def _flatten_batch(inputs, rank: int):
  """Flax's batch handling: any number of leading batch axes, flattened to one."""
  num_batch = inputs.ndim - (rank + 1)
  if num_batch == 1:
    return inputs, None
  batch_shape = inputs.shape[:num_batch]
  return inputs.reshape((-1,) + inputs.shape[num_batch:]), batch_shape


def _restore_batch(y, batch_shape):
  return y if batch_shape is None else y.reshape(batch_shape + y.shape[1:])


class Conv(nnx.Conv):
  """``nnx.Conv`` with an ``impl`` option; parameters and function are Flax's.

  ``y = conv(x, kernel) + bias`` with ``kernel`` of shape
  ``(*kernel_size, in_features, out_features)``, exactly as ``nnx.Conv``.

  Args:
    in_features, out_features, kernel_size, strides: as ``nnx.Conv``.
    impl: ``"xla"`` (``lax.conv_general_dilated``, what ``nnx.Conv`` runs),
      ``"cpu_fast"`` or ``"auto"`` (``cpu_fast`` when ``jax.default_backend()``
      is ``"cpu"`` and the configuration is supported, else ``xla``). For
      a strided ``Conv`` with at least 16 input features, ``cpu_fast`` keeps
      XLA's forward pass and kernel gradient and takes the input gradient
      through the space-to-depth form (``jaxgen.nn.conv_xla_s2d_grad``,
      tested equal), whose input gradient is a stride-1 convolution; a layer
      with at most 9 output pixels per example runs as one matrix product of
      the gathered patches (``jaxgen.nn.conv_patches``); other layers run
      ``lax.conv_general_dilated`` as ``nnx.Conv`` does.
    **kwargs: every other ``nnx.Conv`` argument (``padding``, ``use_bias``,
      ``kernel_init``, ``dtype``, ``precision``, ``rngs``, ...).

  ``cpu_fast`` supports 2 spatial dimensions, ``padding`` ``"SAME"``,
  ``"VALID"``, ``"CIRCULAR"``, ``"REFLECT"``, an int or ``(low, high)`` pairs,
  ``input_dilation=1``, ``kernel_dilation=1``, ``feature_group_count=1`` and
  the default ``conv_general_dilated``. Asking for ``impl="cpu_fast"`` with
  anything else raises ``ValueError`` at construction; ``impl="auto"`` falls
  back to ``xla`` for it.

  Example:
    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> layer = Conv(1, 32, (4, 4), (2, 2), padding="SAME", impl="cpu_fast", rngs=nnx.Rngs(0))
    >>> layer(jnp.ones((8, 28, 28, 1))).shape
    (8, 14, 14, 32)
  """

  def __init__(self, in_features: int, out_features: int, kernel_size: int | tp.Sequence[int],
               strides: None | int | tp.Sequence[int] = 1, *, impl: str = "auto", **kwargs):
    _check_impl(impl)
    super().__init__(in_features, out_features, kernel_size, strides, **kwargs)
    self.impl = impl
    self.unsupported = self._unsupported()
    if impl == "cpu_fast" and self.unsupported is not None:
      raise ValueError(f"Conv(impl='cpu_fast') does not support {self.unsupported}; use impl='xla' or 'auto'")

  def _unsupported(self) -> str | None:
    rank = len(self.kernel_size)
    if rank != 2:
      return f"{rank} spatial dimensions (only 2)"
    if _broadcast(self.input_dilation, rank) != (1, 1):
      return f"input_dilation={self.input_dilation}"
    if _broadcast(self.kernel_dilation, rank) != (1, 1):
      return f"kernel_dilation={self.kernel_dilation}"
    if self.feature_group_count != 1:
      return f"feature_group_count={self.feature_group_count}"
    if self.conv_general_dilated is not lax.conv_general_dilated:
      return "a custom conv_general_dilated"
    if isinstance(self.padding, str) and self.padding not in ("SAME", "VALID", "CIRCULAR", "REFLECT"):
      return f"padding={self.padding!r}"
    return None

  def __call__(self, inputs: jax.Array, out_sharding=None) -> jax.Array:
    """Maps ``(*batch, H, W, in_features)`` to ``(*batch, H_out, W_out, out_features)``."""
    if out_sharding is not None or _resolve(self.impl, self.unsupported) == "xla":
      return super().__call__(inputs, out_sharding=out_sharding)
    inputs, batch_shape = _flatten_batch(inputs, 2)
    strides = _broadcast(self.strides, 2)
    padding = canonicalize_padding(self.padding, 2)
    if padding in ("CIRCULAR", "REFLECT"):
      # The same explicit padding nnx.Conv applies before a 'VALID' convolution.
      pads = [(0, 0)] + [((k - 1) // 2, k // 2) for k in self.kernel_size] + [(0, 0)]
      inputs = jnp.pad(inputs, pads, mode={"CIRCULAR": "wrap", "REFLECT": "reflect"}[padding])
      padding = "VALID"
    kernel = self.kernel[...]
    if self.mask is not None:
      if self.mask.shape != self.kernel_shape:
        raise ValueError(f"Mask needs to have the same shape as weights. Shapes are: "
                         f"{self.mask.shape}, {self.kernel_shape}")
      kernel = kernel * self.mask
    bias = self.bias[...] if self.bias is not None else None
    inputs, kernel, bias = self.promote_dtype((inputs, kernel, bias), dtype=self.dtype)
    out_hw = _conv_output_hw(inputs.shape[1:3], kernel.shape[:2], strides, padding)
    method = _strided_conv_method(strides, self.in_features, out_hw)
    y = _functional.CONV_METHODS[method](
        inputs, kernel, strides, padding, precision=self.precision,
        preferred_element_type=self.preferred_element_type)
    if bias is not None:
      y += bias.reshape((1,) * (y.ndim - bias.ndim) + bias.shape)
    return _restore_batch(y, batch_shape)


class ConvTranspose(nnx.ConvTranspose):
  """``nnx.ConvTranspose`` with an ``impl`` option; parameters and function are Flax's.

  ``y = conv_transpose(x, kernel) + bias``, the stride-1 correlation of the
  zero-dilated, padded input with ``kernel`` of shape
  ``(*kernel_size, in_features, out_features)`` (not flipped unless
  ``transpose_kernel=True``), exactly as ``nnx.ConvTranspose`` /
  ``lax.conv_transpose``. ``padding="SAME"`` with stride ``s`` gives
  ``H_out = s * H``.

  Args:
    in_features, out_features, kernel_size, strides: as ``nnx.ConvTranspose``.
    impl: ``"xla"`` (``lax.conv_transpose``, what ``nnx.ConvTranspose``
      runs), ``"cpu_fast"`` (sub-pixel decomposition: stride-1 convolutions
      of the undilated input, one per output phase or all phases fused,
      interleaved by depth-to-space; separate phases when
      ``strides[0] * strides[1] * out_features >= 64``, fused below, as
      measured fastest; on 1x1 inputs each phase is one matrix product of
      the gathered patches; stride-1 layers keep ``lax.conv_transpose``, which
      then has no input dilation, and so do layers with one output feature,
      where it measured fastest) or ``"auto"``
      (``cpu_fast`` on the CPU backend when supported, else ``xla``).
    **kwargs: every other ``nnx.ConvTranspose`` argument.

  ``cpu_fast`` supports 2 spatial dimensions, ``padding`` ``"SAME"``,
  ``"VALID"``, an int or ``(low, high)`` pairs, ``kernel_dilation=1`` and
  either ``transpose_kernel``. ``impl="cpu_fast"`` with anything else (e.g.
  ``"CIRCULAR"``) raises ``ValueError`` at construction; ``impl="auto"``
  falls back to ``xla``.

  Example:
    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> layer = ConvTranspose(64, 32, (4, 4), (2, 2), padding="SAME", impl="cpu_fast", rngs=nnx.Rngs(0))
    >>> layer(jnp.ones((8, 14, 14, 64))).shape
    (8, 28, 28, 32)
  """

  def __init__(self, in_features: int, out_features: int, kernel_size: int | tp.Sequence[int],
               strides: int | tp.Sequence[int] | None = None, *, impl: str = "auto", **kwargs):
    _check_impl(impl)
    super().__init__(in_features, out_features, kernel_size, strides, **kwargs)
    self.impl = impl
    self.unsupported = self._unsupported()
    if impl == "cpu_fast" and self.unsupported is not None:
      raise ValueError(
          f"ConvTranspose(impl='cpu_fast') does not support {self.unsupported}; use impl='xla' or 'auto'")

  def _unsupported(self) -> str | None:
    rank = len(self.kernel_size)
    if rank != 2:
      return f"{rank} spatial dimensions (only 2)"
    if _broadcast(self.kernel_dilation, rank) != (1, 1):
      return f"kernel_dilation={self.kernel_dilation}"
    if isinstance(self.padding, str) and self.padding not in ("SAME", "VALID"):
      return f"padding={self.padding!r}"
    return None

  def __call__(self, inputs: jax.Array) -> jax.Array:
    """Maps ``(*batch, H, W, in_features)`` to ``(*batch, H_out, W_out, out_features)``."""
    if _resolve(self.impl, self.unsupported) == "xla":
      return super().__call__(inputs)
    inputs, batch_shape = _flatten_batch(inputs, 2)
    strides = _broadcast(self.strides, 2)
    padding = canonicalize_padding(self.padding, 2)
    kernel = self.kernel[...]
    if self.mask is not None:
      if self.mask.shape != self.kernel_shape:
        raise ValueError(f"Mask needs to have the same shape as weights. Shapes are: "
                         f"{self.mask.shape}, {self.kernel_shape}")
      kernel = kernel * self.mask
    bias = self.bias[...] if self.bias is not None else None
    inputs, kernel, bias = self.promote_dtype((inputs, kernel, bias), dtype=self.dtype)
    if self.transpose_kernel:
      # What lax.conv_transpose does with transpose_kernel=True.
      kernel = jnp.flip(kernel, (0, 1)).swapaxes(2, 3)
    method = _conv_transpose_method(strides, self.out_features, tuple(inputs.shape[1:3]))
    y = _functional.CONV_TRANSPOSE_METHODS[method](
        inputs, kernel, strides, padding, precision=self.precision,
        preferred_element_type=self.preferred_element_type)
    if bias is not None:
      y += jnp.reshape(bias, (1,) * (y.ndim - 1) + (-1,))
    return _restore_batch(y, batch_shape)
