"""Strided and transposed 2-D convolutions rewritten as stride-1 convolutions.

XLA's CPU backend runs stride-1 convolutions (and their gradients) at
matmul-like speed, but the gradients of strided convolutions and, above all,
of transposed convolutions (convolutions with ``lhs_dilation``) fall onto a
slow generic path: for a 4x4 stride-2 transposed convolution at batch 128
the weight gradient runs at about 1 GFLOP/s (jax-ml/jax issue 23783). The
functions here compute exactly the functions Flax's ``nnx.Conv`` and
``nnx.ConvTranspose`` compute, by index bookkeeping only, so that the forward
pass, the input gradient and the weight gradient are all stride-1
convolutions:

* ``conv_space_to_depth``: a stride-``s`` convolution with a ``k x k`` kernel
  reads input row ``s*o + i`` for output row ``o``; writing ``i = s*a + b``
  it reads row ``a`` of a space-to-depth input (``s*s*C`` channels) at
  offset ``b``, so it is a stride-1 convolution with a ``ceil(k/s)`` kernel
  whose taps beyond ``k`` are zero.
* ``conv_transpose_subpixel``: a transposed convolution (stride-1 correlation
  of the zero-dilated, padded input with the kernel) only ever multiplies a
  kernel tap ``i`` with real input rows when ``i`` has the right residue
  modulo ``s`` for the output phase ``o mod s``. Each of the ``s*s`` output
  phases is therefore a stride-1 convolution of the undilated input with the
  sub-kernel ``kernel[i0::s, j0::s]`` (Shi et al. 2016, "sub-pixel
  convolution"); the phases are interleaved by depth-to-space.
* ``conv_transpose_subpixel_fused``: the same phases computed by one stride-1
  convolution with a kernel holding all phases' taps at their input offsets
  (zeros elsewhere) and ``s*s*C_out`` output channels, then depth-to-space.
  Fewer, larger operations, at the price of multiplying some zeros.
* ``conv_patches``: any convolution as one matrix product of the gathered
  input patches (im2col) with the reshaped kernel, for maps of a few pixels,
  where XLA's CPU convolutions (strided or not) cost far more than their
  arithmetic.

Kernel layout is Flax's: ``(kh, kw, C_in, C_out)`` (HWIO), inputs NHWC, and
for ``ConvTranspose`` the kernel is *not* flipped (``transpose_kernel=False``,
as ``lax.conv_transpose`` applies it).

References:
  Shi et al., "Real-Time Single Image and Video Super-Resolution Using an
  Efficient Sub-Pixel Convolutional Neural Network", CVPR 2016, sec. 2.2.
  Dumoulin & Visin, "A guide to convolution arithmetic for deep learning",
  2016, sec. 4.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

_DN = ("NHWC", "HWIO", "NHWC")

Padding = str | Sequence[tuple[int, int]]


def _corr(x, kernel, precision, preferred_element_type, padding="VALID"):
  """Stride-1 cross-correlation, NHWC input, HWIO kernel; explicit ``padding`` may be negative (a crop).

  Zero padding up to ``k - 1`` a side goes to the convolution itself (a
  separate ``lax.pad`` measured about 2x slower for forward + backward on
  XLA's CPU backend). The convolution never sees a negative padding, nor one
  above ``k - 1`` (its input gradient's padding would then be negative): XLA's
  CPU f32 convolution with a negative low padding reads outside its input
  (openxla/xla#48713; it made a test here fail once in ~20 runs with NaN), so
  crops are slices and the rare excess padding an explicit ``lax.pad``.
  """
  if not isinstance(padding, str):
    n, h, w, c = x.shape
    pads = [(int(lo), int(hi)) for lo, hi in padding]
    crop = [(max(-lo, 0), max(-hi, 0)) for lo, hi in pads]
    if any(a or b for a, b in crop):
      x = lax.slice(x, (0, crop[0][0], crop[1][0], 0), (n, h - crop[0][1], w - crop[1][1], c))
    pads = [(max(lo, 0), max(hi, 0)) for lo, hi in pads]
    limit = [k - 1 for k in kernel.shape[:2]]
    excess = [(max(lo - m, 0), max(hi - m, 0)) for (lo, hi), m in zip(pads, limit)]
    if any(a or b for a, b in excess):
      x = lax.pad(x, jnp.zeros((), x.dtype), ((0, 0, 0), (*excess[0], 0), (*excess[1], 0), (0, 0, 0)))
    padding = [(min(lo, m), min(hi, m)) for (lo, hi), m in zip(pads, limit)]
  return lax.conv_general_dilated(
      x, kernel, (1, 1), padding, dimension_numbers=_DN, precision=precision,
      preferred_element_type=preferred_element_type)


def conv_padding(in_spatial, kernel_spatial, strides, padding: Padding) -> list[tuple[int, int]]:
  """(low, high) input padding of ``lax.conv_general_dilated`` for a padding spec."""
  if isinstance(padding, str):
    if padding not in ("SAME", "VALID"):
      raise ValueError(f"padding must be 'SAME', 'VALID' or (low, high) pairs here, got {padding!r}")
    return [tuple(p) for p in lax.padtype_to_pads(in_spatial, kernel_spatial, strides, padding)]
  return [(int(lo), int(hi)) for lo, hi in padding]


def conv_transpose_padding(kernel_spatial, strides, padding: Padding) -> list[tuple[int, int]]:
  """(low, high) padding of the dilated input, as ``lax.conv_transpose`` computes it.

  Mirrors ``jax._src.lax.convolution._conv_transpose_padding`` (private) for
  the strings and passes explicit pairs through unchanged, which is what
  ``lax.conv_transpose`` does with ``use_consistent_padding=False``, the
  setting ``nnx.ConvTranspose`` uses.
  """
  if not isinstance(padding, str):
    return [(int(lo), int(hi)) for lo, hi in padding]
  pads = []
  for k, s in zip(kernel_spatial, strides):
    if padding == "SAME":
      pad_len = k + s - 2
      pad_a = k - 1 if s > k - 1 else int(math.ceil(pad_len / 2))
    elif padding == "VALID":
      pad_len = k + s - 2 + max(k - s, 0)
      pad_a = k - 1
    else:
      raise ValueError(f"padding must be 'SAME', 'VALID' or (low, high) pairs here, got {padding!r}")
    pads.append((pad_a, pad_len - pad_a))
  return pads


def conv_xla(x, kernel, strides, padding: Padding, *, precision=None, preferred_element_type=None):
  """``lax.conv_general_dilated`` exactly as ``nnx.Conv`` calls it (NHWC, HWIO)."""
  return lax.conv_general_dilated(
      x, kernel, tuple(strides), padding if isinstance(padding, str) else [tuple(p) for p in padding],
      dimension_numbers=_DN, precision=precision, preferred_element_type=preferred_element_type)


def conv_transpose_xla(x, kernel, strides, padding: Padding, *, precision=None, preferred_element_type=None):
  """``lax.conv_transpose`` exactly as ``nnx.ConvTranspose`` calls it (NHWC, HWIO)."""
  return lax.conv_transpose(
      x, kernel, tuple(strides), padding if isinstance(padding, str) else [tuple(p) for p in padding],
      dimension_numbers=_DN, precision=precision, preferred_element_type=preferred_element_type)


def conv_space_to_depth(x, kernel, strides, padding: Padding, *, precision=None, preferred_element_type=None):
  """Same function as ``conv_xla``, computed as one stride-1 convolution.

  Args:
    x: ``(N, H, W, C_in)`` input.
    kernel: ``(kh, kw, C_in, C_out)`` kernel.
    strides: ``(sh, sw)``.
    padding: ``'SAME'``, ``'VALID'`` or ``[(lo_h, hi_h), (lo_w, hi_w)]``
      (negative values crop, as in ``lax``).
    precision: passed to ``lax.conv_general_dilated``.
    preferred_element_type: passed to ``lax.conv_general_dilated``.

  Returns:
    ``(N, H_out, W_out, C_out)``, ``H_out = (H + lo_h + hi_h - kh) // sh + 1``.
  """
  n, h, w, c = x.shape
  kh, kw, _, c_out = kernel.shape
  sh, sw = strides
  pads = conv_padding((h, w), (kh, kw), (sh, sw), padding)
  out = [(size + lo + hi - k) // s + 1 for size, (lo, hi), k, s in zip((h, w), pads, (kh, kw), (sh, sw))]
  if min(out) < 1:
    raise ValueError(f"convolution output would be empty: input {(h, w)}, kernel {(kh, kw)}, padding {pads}")
  if (sh, sw) == (1, 1):
    return _corr(x, kernel, precision, preferred_element_type, pads)
  # Padding lo = s*m - d (0 <= d < s): d zero taps in front of the kernel turn
  # it into m whole cells of padding, which the stride-1 convolution applies
  # itself; only a ragged input end needs an explicit pad. (A separate pad of
  # the whole input measured slower, as in _corr.)
  x_cfg = [(0, 0, 0)]
  k_cfg = []
  conv_pads = []
  for size, (lo, _), k, s, o in zip((h, w), pads, (kh, kw), (sh, sw), out):
    d = (-lo) % s
    m = (lo + d) // s
    taps = -(-(k + d) // s)
    cells = -(-size // s)
    x_cfg.append((0, cells * s - size, 0))
    k_cfg.append((d, taps * s - k - d))
    conv_pads.append((m, o + taps - 1 - cells - m))
  x_cfg.append((0, 0, 0))
  if any(hi for _, hi, _ in x_cfg):
    x = lax.pad(x, jnp.zeros((), x.dtype), x_cfg)
  ch, cw = x.shape[1] // sh, x.shape[2] // sw
  z = x.reshape(n, ch, sh, cw, sw, c).transpose(0, 1, 3, 2, 4, 5).reshape(n, ch, cw, sh * sw * c)
  kp = jnp.pad(kernel, (*k_cfg, (0, 0), (0, 0)))
  ah, aw = kp.shape[0] // sh, kp.shape[1] // sw
  kp = kp.reshape(ah, sh, aw, sw, c, c_out).transpose(0, 2, 1, 3, 4, 5).reshape(ah, aw, sh * sw * c, c_out)
  return _corr(z, kp, precision, preferred_element_type, conv_pads)


def conv_xla_s2d_grad(x, kernel, strides, padding: Padding, *, precision=None, preferred_element_type=None):
  """Same function as ``conv_xla``; its input gradient computed as ``conv_space_to_depth``'s.

  The forward pass and the kernel gradient are XLA's own strided convolution
  and its transpose (both fast on XLA's CPU backend). The input gradient of a
  strided convolution is a convolution with ``lhs_dilation``, which XLA's CPU
  backend runs on a slow generic path; the input gradient of the same function
  written as ``conv_space_to_depth`` is a stride-1 convolution followed by
  depth-to-space, a reshape. A custom JVP says so: the tangent is
  ``conv_xla(x, dkernel) + conv_space_to_depth(dx, kernel)``, linear in the
  tangents, so reverse mode transposes each term by its own fast rule, and
  forward mode, ``vmap`` and higher derivatives keep working. Both terms are
  exact, so the derivatives are those of ``conv_xla`` up to float rounding.
  """
  strides = tuple(int(s) for s in strides)
  padding = padding if isinstance(padding, str) else tuple((int(lo), int(hi)) for lo, hi in padding)
  kwargs = dict(precision=precision, preferred_element_type=preferred_element_type)
  if strides == (1, 1):
    return conv_xla(x, kernel, strides, padding, **kwargs)

  @jax.custom_jvp
  def conv(x, kernel):
    return conv_xla(x, kernel, strides, padding, **kwargs)

  def conv_jvp(primals, tangents):
    x, kernel = primals
    dx, dkernel = tangents
    y = conv(x, kernel)
    dy = None
    # Symbolic zeros: a constant input (D's weights in G's update) costs nothing.
    if not isinstance(dkernel, jax.custom_derivatives.SymbolicZero):
      dy = conv_xla(x, dkernel, strides, padding, **kwargs)
    if not isinstance(dx, jax.custom_derivatives.SymbolicZero):
      dy_x = conv_space_to_depth(dx, kernel, strides, padding, **kwargs)
      dy = dy_x if dy is None else dy + dy_x
    if dy is None:
      dy = jnp.zeros_like(y)
    return y, dy.astype(y.dtype)

  conv.defjvp(conv_jvp, symbolic_zeros=True)
  return conv(x, kernel)


def _live_taps(size, k, s, lo, out):
  """Kernel offsets along one axis that read at least one real (unpadded) input row."""
  return [i for i in range(k) if any(0 <= s * o + i - lo < size for o in range(out))]


def conv_patches(x, kernel, strides, padding: Padding, *, precision=None, preferred_element_type=None):
  """Same function as ``conv_xla``, computed as one matrix product over gathered patches (im2col).

  Output pixel ``(o, p)`` is ``sum_{i,j} x_pad[s*o + i, s*p + j] . kernel[i, j]``:
  each kernel offset ``(i, j)`` reads a strided slice of the padded input;
  the slices side by side on the channel axis form the patch matrix
  ``(N, H_out, W_out, taps * C_in)``, multiplied by the kernel reshaped to
  ``(taps * C_in, C_out)``. Offsets that read padding only are left out (on a
  2x2 map a 4x4 kernel with padding 1 has 4 live offsets of 16). The input
  gradient is the transpose of slicing (padding, interior for the stride),
  the kernel gradient a matrix product. For small maps (a few output pixels
  per example, as in a U-Net's innermost levels) XLA's CPU convolutions are
  dominated by per-call work; one matrix product is not. Arguments and
  result as ``conv_space_to_depth``.
  """
  n, h, w, c = x.shape
  kh, kw, _, c_out = kernel.shape
  sh, sw = strides
  (lo_h, hi_h), (lo_w, hi_w) = conv_padding((h, w), (kh, kw), (sh, sw), padding)
  out_h, out_w = (h + lo_h + hi_h - kh) // sh + 1, (w + lo_w + hi_w - kw) // sw + 1
  if min(out_h, out_w) < 1:
    raise ValueError(f"convolution output would be empty: input {(h, w)}, kernel {(kh, kw)}, "
                     f"padding {[(lo_h, hi_h), (lo_w, hi_w)]}")
  rows, cols = _live_taps(h, kh, sh, lo_h, out_h), _live_taps(w, kw, sw, lo_w, out_w)
  xp = lax.pad(x, jnp.zeros((), x.dtype), ((0, 0, 0), (lo_h, hi_h, 0), (lo_w, hi_w, 0), (0, 0, 0)))
  patches = jnp.concatenate([
      lax.slice(xp, (0, i, j, 0), (n, i + sh * (out_h - 1) + 1, j + sw * (out_w - 1) + 1, c), (1, sh, sw, 1))
      for i in rows for j in cols
  ], axis=-1)
  kernel_rows = kernel[np.asarray(rows)[:, None], np.asarray(cols)[None, :]].reshape(-1, c_out)
  return lax.dot_general(patches, kernel_rows, (((3,), (0,)), ((), ())), precision=precision,
                         preferred_element_type=preferred_element_type)


def _phase_plan(size, k, s, pad_lo, pad_hi):
  """Output length, phase-grid length and, per output phase r, (i0, taps, offset).

  Output row ``o = s*q + r`` of the transposed convolution is
  ``sum_t x[q + t + e_r] * kernel[i0_r + s*t]`` for ``t < T_r``.
  """
  out = s * (size - 1) + 1 + pad_lo + pad_hi - k + 1
  if out < 1:
    raise ValueError(f"transposed convolution output would be empty: input {size}, kernel {k}, "
                     f"stride {s}, padding {(pad_lo, pad_hi)}")
  q = -(-out // s)
  phases = []
  for r in range(s):
    i0 = (pad_lo - r) % s
    taps = max(0, -(-(k - i0) // s))
    # r + i0 - pad_lo is a multiple of s by the choice of i0.
    phases.append((i0, taps, (r + i0 - pad_lo) // s))
  return out, q, phases


def _interleave(y, sh, sw, c_out):
  """(N, Qh, Qw, sh*sw*C) with channel order (rh, rw, c) -> (N, Qh*sh, Qw*sw, C)."""
  n, qh, qw, _ = y.shape
  y = y.reshape(n, qh, qw, sh, sw, c_out).transpose(0, 1, 3, 2, 4, 5)
  return y.reshape(n, qh * sh, qw * sw, c_out)


def conv_transpose_subpixel(x, kernel, strides, padding: Padding, *, precision=None,
                            preferred_element_type=None, phases_as_patches: bool = False):
  """Same function as ``conv_transpose_xla``: one stride-1 convolution per output phase.

  Args:
    x: ``(N, H, W, C_in)`` input.
    kernel: ``(kh, kw, C_in, C_out)`` kernel, not flipped (``transpose_kernel=False``).
    strides: ``(sh, sw)``.
    padding: ``'SAME'``, ``'VALID'`` or explicit ``[(lo_h, hi_h), (lo_w, hi_w)]``
      padding of the dilated input (``lax.conv_transpose``'s convention).
    precision: passed to ``lax.conv_general_dilated``.
    preferred_element_type: passed to ``lax.conv_general_dilated``.
    phases_as_patches: compute each phase as ``conv_patches`` (one matrix
      product) instead of a convolution: faster for 1x1 inputs on XLA's CPU.

  Returns:
    ``(N, H_out, W_out, C_out)``, ``H_out = sh*(H-1) + 1 + lo_h + hi_h - kh + 1``.
  """
  n, h, w, _ = x.shape
  kh, kw, _, c_out = kernel.shape
  sh, sw = strides
  (plo_h, phi_h), (plo_w, phi_w) = conv_transpose_padding((kh, kw), (sh, sw), padding)
  out_h, q_h, phases_h = _phase_plan(h, kh, sh, plo_h, phi_h)
  out_w, q_w, phases_w = _phase_plan(w, kw, sw, plo_w, phi_w)
  out_dtype = preferred_element_type or jnp.result_type(x.dtype, kernel.dtype)
  rows = []
  for i0h, th, eh in phases_h:
    row = []
    for i0w, tw, ew in phases_w:
      if th == 0 or tw == 0:
        # Stride larger than the kernel: this phase sees no kernel tap.
        row.append(jnp.zeros((n, q_h, q_w, c_out), out_dtype))
        continue
      # Pad (or crop) so that phase row q, tap t reads x[q + t + e].
      pads = ((-eh, q_h + th - 1 - h + eh), (-ew, q_w + tw - 1 - w + ew))
      sub = kernel[i0h::sh, i0w::sw]
      if phases_as_patches:
        row.append(conv_patches(x, sub, (1, 1), pads, precision=precision,
                                preferred_element_type=preferred_element_type))
      else:
        row.append(_corr(x, sub, precision, preferred_element_type, pads))
    rows.append(jnp.stack(row, axis=3))
  y = jnp.stack(rows, axis=2).reshape(n, q_h * sh, q_w * sw, c_out)
  return y[:, :out_h, :out_w, :]


def _fused_taps(k, s, phases):
  """Offset of the fused kernel's first row, its height U and tap index table (U, s).

  Entry ``[u, r]`` is the kernel row that phase ``r`` applies at fused row
  ``u``, or ``k`` (a zero row appended to the kernel) where it applies none.
  """
  live = [(i0, t, e) for i0, t, e in phases if t > 0]
  e_min = min(e for _, _, e in live)
  e_max = max(e + t - 1 for _, t, e in live)
  u_len = e_max - e_min + 1
  table = np.full((u_len, s), k, dtype=np.int32)
  for r, (i0, t, e) in enumerate(phases):
    for j in range(t):
      table[e - e_min + j, r] = i0 + s * j
  return e_min, u_len, table


def conv_transpose_subpixel_fused(x, kernel, strides, padding: Padding, *, precision=None,
                                  preferred_element_type=None):
  """Same function as ``conv_transpose_xla``: all output phases in one stride-1 convolution.

  Arguments and result as ``conv_transpose_subpixel``.
  """
  n, h, w, c_in = x.shape
  kh, kw, _, c_out = kernel.shape
  sh, sw = strides
  (plo_h, phi_h), (plo_w, phi_w) = conv_transpose_padding((kh, kw), (sh, sw), padding)
  out_h, q_h, phases_h = _phase_plan(h, kh, sh, plo_h, phi_h)
  out_w, q_w, phases_w = _phase_plan(w, kw, sw, plo_w, phi_w)
  eh, uh, table_h = _fused_taps(kh, sh, phases_h)
  ew, uw, table_w = _fused_taps(kw, sw, phases_w)
  kp = jnp.pad(kernel, ((0, 1), (0, 1), (0, 0), (0, 0)))
  # (uh, uw, sh, sw, C_in, C_out) -> (uh, uw, C_in, sh*sw*C_out), channel order (rh, rw, c).
  kf = kp[table_h[:, None, :, None], table_w[None, :, None, :]]
  kf = kf.transpose(0, 1, 4, 2, 3, 5).reshape(uh, uw, c_in, sh * sw * c_out)
  pads = ((-eh, q_h + uh - 1 - h + eh), (-ew, q_w + uw - 1 - w + ew))
  y = _corr(x, kf, precision, preferred_element_type, pads)
  return _interleave(y, sh, sw, c_out)[:, :out_h, :out_w, :]


CONV_METHODS = {
    "xla": conv_xla,
    "space_to_depth": conv_space_to_depth,
    "xla_s2d_grad": conv_xla_s2d_grad,
    "patches": conv_patches,
}
CONV_TRANSPOSE_METHODS = {
    "xla": conv_transpose_xla,
    "subpixel": conv_transpose_subpixel,
    "subpixel_fused": conv_transpose_subpixel_fused,
    "subpixel_patches": functools.partial(conv_transpose_subpixel, phases_as_patches=True),
}


__all__ = [
    "conv_xla", "conv_space_to_depth", "conv_xla_s2d_grad", "conv_transpose_xla", "conv_transpose_subpixel",
    "conv_transpose_subpixel_fused", "conv_patches", "conv_padding", "conv_transpose_padding",
]
