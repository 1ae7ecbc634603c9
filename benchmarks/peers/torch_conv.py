"""PyTorch peers of ``benchmarks.conv_micro``'s layers: ``nn.Conv2d`` / ``nn.ConvTranspose2d`` of the same shapes.

Each peer runs what ``conv_micro`` times for a jaxgen formulation: the
forward value and the gradients with respect to the input and the kernel
(``fwd_bwd``), or the kernel only (``fwd_bwd_kernel_only``), at the same
batch, input, kernel and output sizes, float32, NCHW (PyTorch's native
layout; oneDNN picks its own blocked layout inside). PyTorch pads
symmetrically, so its padding is chosen to give the layer's output size; the
placement of a 'SAME' layer's odd padding row can differ from XLA's, which
changes no work done.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn


def _same_conv_padding(size: int, kernel: int, stride: int) -> int:
  """Symmetric padding p with floor((size + 2p - kernel) / stride) + 1 == ceil(size / stride)."""
  want = -(-size // stride)
  for p in range(kernel):
    if (size + 2 * p - kernel) // stride + 1 == want:
      return p
  raise ValueError(f"no symmetric padding gives a 'SAME' output for size {size}, kernel {kernel}, stride {stride}")


def build_layer(layer) -> tuple[nn.Module, tuple[int, int]]:
  """The PyTorch module of a ``conv_micro.Layer`` and its output (H, W).

  'SAME' layers, and convolutions with symmetric explicit padding
  ``((p, p), (p, p))`` (PyTorch's ``padding=p``).
  """
  k, s = layer.kernel, layer.stride
  if layer.padding != "SAME":
    pads = {tuple(pair) for pair in layer.padding} if not isinstance(layer.padding, str) else set()
    if layer.transpose or len(pads) != 1 or len(set(next(iter(pads)))) != 1:
      raise ValueError(f"the PyTorch peer supports 'SAME' layers and convolutions with symmetric padding "
                       f"((p, p), (p, p)), got padding {layer.padding!r}")
    p = next(iter(pads))[0]
    module = nn.Conv2d(layer.c_in, layer.c_out, k, s, padding=p, bias=False)
    return module, tuple((d + 2 * p - k) // s + 1 for d in layer.in_hw)
  if layer.transpose:
    # Output (H - 1) * s - 2p + k + output_padding == s * H.
    p = math.ceil(max(k - s, 0) / 2)
    output_padding = 2 * p - (k - s)
    module = nn.ConvTranspose2d(layer.c_in, layer.c_out, k, s, padding=p, output_padding=output_padding, bias=False)
    out_hw = tuple(s * d for d in layer.in_hw)
  else:
    pads = [_same_conv_padding(d, k, s) for d in layer.in_hw]
    module = nn.Conv2d(layer.c_in, layer.c_out, k, s, padding=tuple(pads), bias=False)
    out_hw = tuple(-(-d // s) for d in layer.in_hw)
  return module, out_hw


def layer_step(layer, batch: int, kind: str, seed: int = 0) -> Callable[[], None]:
  """A zero-argument function computing one forward value and the ``kind`` gradients of the layer."""
  if kind not in ("fwd_bwd", "fwd_bwd_kernel_only"):
    raise ValueError(f"kind must be 'fwd_bwd' or 'fwd_bwd_kernel_only', got {kind!r}")
  torch.manual_seed(seed)
  module, out_hw = build_layer(layer)
  x = torch.randn(batch, layer.c_in, *layer.in_hw, requires_grad=kind == "fwd_bwd")
  with torch.no_grad():
    y_shape = module(x).shape
  if tuple(y_shape[2:]) != out_hw:
    raise AssertionError(f"PyTorch peer output {tuple(y_shape[2:])} != layer output {out_hw}")
  cotangent = torch.randn(y_shape)
  inputs = [module.weight] + ([x] if kind == "fwd_bwd" else [])

  def step():
    # The linear read-out conv_micro differentiates: <y, cotangent>.
    value = torch.vdot(module(x).flatten(), cotangent.flatten())
    torch.autograd.grad(value, inputs)

  return step
