"""Micro-benchmark: strided / transposed convolution layers, xla against cpu_fast.

For each layer shape it times one jitted forward + backward pass (the
forward value and the gradients with respect to the input and the kernel, as
in a hidden layer; and with respect to the kernel only, as in a first layer)
of every formulation in ``jaxgen.nn``: ``xla`` (what ``nnx.Conv`` /
``nnx.ConvTranspose`` run) and the stride-1 rewrites (``space_to_depth`` and
``xla_s2d_grad`` for strided convolutions, ``subpixel`` and
``subpixel_fused`` for transposed ones). Compile time is reported apart;
steady-state times are medians over repeated windows after warm-up, with the
formulations interleaved window by window so that load from other processes
hits them alike, and ``jax.block_until_ready`` ends every window.

Run::

  python -m benchmarks.conv_micro --out /tmp/conv_micro.json
  python -m benchmarks.conv_micro --only vae --batch 128 --windows 5

Each line ends with the formulation ``impl="cpu_fast"`` picks for that layer
and its speedup over ``xla``, then, when ``torch`` is importable, PyTorch's
layer of the same shapes (``benchmarks/peers/torch_conv.py``, timed in the
same interleaved windows) and cpu_fast's speed as a multiple of it. The JSON
holds the device, the JAX version, the compiler options, and per layer and
formulation the compile time and the window times in seconds.

The choices in ``jaxgen/nn/_conv.py`` come from this benchmark; its comment
there records the ranges measured. On a busy shared CPU single timings vary
up to 2x between runs; ratios within one line (interleaved windows) are
steadier.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import platform
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen import train
from jaxgen.nn import _conv, _functional


@dataclasses.dataclass(frozen=True)
class Layer:
  """One convolution layer: NHWC input (H, W, C_in) -> C_out, square kernel and stride."""
  name: str
  transpose: bool
  in_hw: tuple[int, int]
  c_in: int
  c_out: int
  kernel: int
  stride: int
  padding: str | tuple = "SAME"  # or ((lo, hi), (lo, hi))


LAYERS = (
    # Conv VAE on MNIST (4x4 stride-2 encoder / decoder).
    Layer("vae_enc1 conv 28x28x1->14x14x32 k4s2", False, (28, 28), 1, 32, 4, 2),
    Layer("vae_enc2 conv 14x14x32->7x7x64 k4s2", False, (14, 14), 32, 64, 4, 2),
    Layer("vae_dec1 convT 7x7x64->14x14x32 k4s2", True, (7, 7), 64, 32, 4, 2),
    Layer("vae_dec2 convT 14x14x32->28x28x1 k4s2", True, (14, 14), 32, 1, 4, 2),
    Layer("vae_big convT 14x14x64->28x28x32 k4s2", True, (14, 14), 64, 32, 4, 2),
    # The conv VAE as benchmarks.step builds it (3x3 stride 2).
    Layer("cvae_enc1 conv 28x28x1->14x14x32 k3s2", False, (28, 28), 1, 32, 3, 2),
    Layer("cvae_enc2 conv 14x14x32->7x7x64 k3s2", False, (14, 14), 32, 64, 3, 2),
    Layer("cvae_dec1 convT 7x7x64->14x14x32 k3s2", True, (7, 7), 64, 32, 3, 2),
    Layer("cvae_dec2 convT 14x14x32->28x28x1 k3s2", True, (14, 14), 32, 1, 3, 2),
    # DCGAN on MNIST as benchmarks.step builds it (5x5 stride 2, features 64).
    Layer("dcgan_g1 convT 7x7x256->14x14x128 k5s2", True, (7, 7), 256, 128, 5, 2),
    Layer("dcgan_g2 convT 14x14x128->28x28x1 k5s2", True, (14, 14), 128, 1, 5, 2),
    Layer("dcgan_d1 conv 28x28x1->14x14x64 k5s2", False, (28, 28), 1, 64, 5, 2),
    Layer("dcgan_d2 conv 14x14x64->7x7x128 k5s2", False, (14, 14), 64, 128, 5, 2),
    # The TensorFlow DCGAN tutorial's generator layer, and with 4x4 kernels.
    Layer("tfgan_g1 convT 7x7x128->14x14x64 k5s2", True, (7, 7), 128, 64, 5, 2),
    Layer("tfgan_g1 convT 7x7x128->14x14x64 k4s2", True, (7, 7), 128, 64, 4, 2),
    # CIFAR-10 DCGAN generator layers (4x4 stride 2).
    Layer("cifar_g2 convT 8x8x128->16x16x64 k4s2", True, (8, 8), 128, 64, 4, 2),
    Layer("cifar_g3 convT 16x16x64->32x32x3 k4s2", True, (16, 16), 64, 3, 4, 2),
    Layer("cifar_d1 conv 32x32x3->16x16x64 k4s2", False, (32, 32), 3, 64, 4, 2),
    Layer("cifar_d2 conv 16x16x64->8x8x128 k4s2", False, (16, 16), 64, 128, 4, 2),
    # Pix2pix's U-Net at 32x32 (benchmarks.step's row, features 16, 5 levels down to 1x1).
    Layer("unet_d0 conv 32x32x1->16x16x16 k4s2", False, (32, 32), 1, 16, 4, 2),
    Layer("unet_d1 conv 16x16x16->8x8x32 k4s2", False, (16, 16), 16, 32, 4, 2),
    Layer("unet_d2 conv 8x8x32->4x4x64 k4s2", False, (8, 8), 32, 64, 4, 2),
    Layer("unet_d3 conv 4x4x64->2x2x128 k4s2", False, (4, 4), 64, 128, 4, 2),
    Layer("unet_d4 conv 2x2x128->1x1x128 k4s2", False, (2, 2), 128, 128, 4, 2),
    Layer("unet_u4 convT 1x1x128->2x2x128 k4s2", True, (1, 1), 128, 128, 4, 2),
    Layer("unet_u3 convT 2x2x256->4x4x64 k4s2", True, (2, 2), 256, 64, 4, 2),
    Layer("unet_u2 convT 4x4x128->8x8x32 k4s2", True, (4, 4), 128, 32, 4, 2),
    Layer("unet_u1 convT 8x8x64->16x16x16 k4s2", True, (8, 8), 64, 16, 4, 2),
    Layer("unet_u0 convT 16x16x32->32x32x1 k4s2", True, (16, 16), 32, 1, 4, 2),
    # Pix2pix's PatchGAN "patch16" on 32x32 (input, output) pairs (padding 1, as the model's).
    Layer("patch16_d0 conv 32x32x2->16x16x16 k4s2", False, (32, 32), 2, 16, 4, 2, ((1, 1), (1, 1))),
    Layer("patch16_d1 conv 16x16x16->15x15x32 k4s1", False, (16, 16), 16, 32, 4, 1, ((1, 1), (1, 1))),
    Layer("patch16_d2 conv 15x15x32->14x14x1 k4s1", False, (15, 15), 32, 1, 4, 1, ((1, 1), (1, 1))),
    # Few output channels: where the sub-pixel phases stop paying off.
    Layer("narrow convT 14x14x64->28x28x8 k4s2", True, (14, 14), 64, 8, 4, 2),
    Layer("narrow convT 14x14x64->28x28x16 k4s2", True, (14, 14), 64, 16, 4, 2),
    Layer("conv3 conv 14x14x64->14x14x64 k3s1", False, (14, 14), 64, 64, 3, 1),
)


def cpu_fast_method(layer: Layer) -> str:
  """The formulation ``impl="cpu_fast"`` layers run for this shape."""
  strides = (layer.stride, layer.stride)
  if layer.transpose:
    return _conv._conv_transpose_method(strides, layer.c_out, layer.in_hw)
  out_hw = _conv._conv_output_hw(layer.in_hw, (layer.kernel, layer.kernel), strides, layer.padding)
  return _conv._strided_conv_method(strides, layer.c_in, out_hw)


def methods_for(layer: Layer) -> dict:
  if layer.transpose:
    return dict(_functional.CONV_TRANSPOSE_METHODS)
  return dict(_functional.CONV_METHODS)


def time_layer(layer: Layer, batch: int, windows: int, steps_per_window: int, seed: int = 0,
               compiler_options: dict | None = None, torch_peer: bool = False) -> dict:
  """Compile time and steady-state window times of every formulation of one layer.

  With ``torch_peer``, PyTorch's layer of the same shapes (``benchmarks/peers/torch_conv.py``)
  is timed in the same interleaved windows under the method name ``"torch"``.
  """
  rng = np.random.default_rng(seed)
  x = jnp.asarray(rng.standard_normal((batch, *layer.in_hw, layer.c_in), np.float32))
  k = layer.kernel
  kernel = jnp.asarray(rng.standard_normal((k, k, layer.c_in, layer.c_out), np.float32) / np.sqrt(k * k * layer.c_in))
  strides = (layer.stride, layer.stride)
  results = {}
  fns = {}
  for method, fn in methods_for(layer).items():
    y_shape = jax.eval_shape(lambda x, w, fn=fn: fn(x, w, strides, layer.padding), x, kernel).shape
    g = jnp.asarray(rng.standard_normal(y_shape, np.float32))

    def loss(x, w, g, fn=fn):
      # A linear read-out keeps the timed work to the convolution and its transposes. The
      # cotangent g is an argument: as a constant, XLA would rearrange it at compile time.
      return jnp.vdot(fn(x, w, strides, layer.padding), g)

    for kind, argnums in (("fwd_bwd", (0, 1)), ("fwd_bwd_kernel_only", 1)):
      # value_and_grad: the loss is linear, so jax.grad alone would drop the forward pass.
      step = jax.jit(jax.value_and_grad(loss, argnums=argnums), compiler_options=compiler_options)
      t0 = time.perf_counter()
      compiled = step.lower(x, kernel, g).compile()
      compile_s = time.perf_counter() - t0
      jax.block_until_ready(compiled(x, kernel, g))  # warm-up
      fns[(method, kind)] = lambda x, w, compiled=compiled, g=g: compiled(x, w, g)
      results[(method, kind)] = {"compile_s": compile_s, "window_s": []}
  if torch_peer:
    from benchmarks.peers import torch_conv

    for kind in ("fwd_bwd", "fwd_bwd_kernel_only"):
      run = torch_conv.layer_step(layer, batch, kind, seed)
      t0 = time.perf_counter()
      run()  # warm-up (oneDNN picks its kernels on the first call)
      fns[("torch", kind)] = lambda x, w, run=run: run()
      results[("torch", kind)] = {"compile_s": time.perf_counter() - t0, "window_s": []}
  for _ in range(windows):
    for key, compiled in fns.items():
      t0 = time.perf_counter()
      for _ in range(steps_per_window):
        out = compiled(x, kernel)
      jax.block_until_ready(out)
      results[key]["window_s"].append((time.perf_counter() - t0) / steps_per_window)
  table = {}
  for (method, kind), r in results.items():
    r["median_s"] = statistics.median(r["window_s"])
    table.setdefault(kind, {})[method] = r
  return table


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--batch", type=int, default=128)
  parser.add_argument("--windows", type=int, default=5, help="timed windows per formulation")
  parser.add_argument("--steps-per-window", type=int, default=2)
  parser.add_argument("--only", default="", help="run only layers whose name contains this")
  parser.add_argument("--out", default="", help="write JSON here")
  parser.add_argument("--peers", choices=("auto", "torch", "none"), default="auto",
                      help="time PyTorch's layer of the same shapes too (auto: when torch is importable)")
  parser.add_argument("--plain-xla", action="store_true",
                      help="compile without jaxgen.train.compiler_options(), "
                           "the options jaxgen's train steps use")
  args = parser.parse_args(argv)

  torch_peer = args.peers == "torch" or (args.peers == "auto" and importlib.util.find_spec("torch") is not None)
  if torch_peer:
    import torch

  device = jax.devices()[0]
  options = {} if args.plain_xla else train.compiler_options()
  report = {
      "device": f"{device.platform}:{getattr(device, 'device_kind', '')}",
      "backend": jax.default_backend(),
      "cpu_count_visible": len(jax.devices("cpu")),
      "machine": platform.machine(),
      "jax_version": jax.__version__,
      "batch": args.batch,
      "windows": args.windows,
      "steps_per_window": args.steps_per_window,
      "compiler_options": options,
      "torch_version": torch.__version__ if torch_peer else None,
      "torch_threads": torch.get_num_threads() if torch_peer else None,
      "layers": [],
  }
  print(f"device {report['device']}  jax {jax.__version__}  batch {args.batch}  "
        f"median of {args.windows} windows x {args.steps_per_window} steps (ms); compile (s) in brackets")
  for layer in LAYERS:
    if args.only not in layer.name:
      continue
    table = time_layer(layer, args.batch, args.windows, args.steps_per_window, compiler_options=options,
                       torch_peer=torch_peer)
    for kind, by_method in table.items():
      base = by_method["xla"]["median_s"]
      cells = "  ".join(f"{m} {r['median_s'] * 1e3:8.1f} [{r['compile_s']:.1f}] x{base / r['median_s']:.1f}"
                        for m, r in by_method.items() if m != "torch")
      picked = cpu_fast_method(layer)
      line = (f"{layer.name:40s} {kind:20s} {cells}  | cpu_fast={picked} "
              f"x{base / by_method[picked]['median_s']:.1f}")
      if "torch" in by_method:
        t = by_method["torch"]["median_s"]
        line += f"  | torch {t * 1e3:.1f}, cpu_fast x{t / by_method[picked]['median_s']:.2f} of torch"
      print(line, flush=True)
    report["layers"].append({"layer": dataclasses.asdict(layer), "cpu_fast_method": cpu_fast_method(layer),
                             "results": table})
  if args.out:
    with open(args.out, "w") as f:
      json.dump(report, f, indent=1)
    print(f"wrote {args.out}")


if __name__ == "__main__":
  main()
