"""Step-throughput benchmark of every jaxgen model, with its PyTorch peer in the same run.

Run (from the repository root)::

  python -m benchmarks.step                                  # all models, batch 32,128,512
  python -m benchmarks.step --models vae,conv_vae --batch_sizes 128 --out results.json
  python -m benchmarks.step --models vae --batch_sizes 128 --devices 1,2,4,8   # data-parallel scaling
  python -m benchmarks.step --models gan_mlp --batch_sizes 128 --compute_dtypes float32,bfloat16
  python -m benchmarks.step --quick                          # a fast smoke run (numbers meaningless)

For each model and batch size it measures the jaxgen train step (trace and
compile time apart; steps/s and examples/s as median [min, max] over
interleaved windows after warm-up; FLOP/s from XLA's cost analysis and the
fraction of this machine's measured float32 matmul peak; K steps per
``lax.scan`` dispatch against one step per dispatch) and, when ``torch`` is
importable, the same model in PyTorch eager and under ``torch.compile``, and
prints the ratio jaxgen / PyTorch. Models without a PyTorch peer (the
conditional GANs ``cgan_projection`` and ``cgan_ac``) are timed in jaxgen
only: their peer columns read "-". A step with lazy regularisers (StyleGAN2:
R1 every 16 steps, the path length every 4) is timed over windows of whole
periods of 16 steps, in jaxgen and in PyTorch alike, so its steps/s is the
mean over the reference's mix of steps. ``--compute_dtypes bfloat16`` times the
models' bfloat16 compute dtype (float32 parameters and losses) against
PyTorch under ``torch.autocast(dtype=torch.bfloat16)``. It prints a table and writes JSON
(``--out``) with the device, the date and the library versions.

On a GPU it runs unchanged: JAX picks the device; the PyTorch peers run on
CUDA when this torch build has it, and are skipped otherwise (a CPU peer
against a GPU step would compare nothing). ``--devices N,...`` times the
jaxgen step data-parallel over meshes of N devices (on a CPU host, JAX is
given that many host devices through XLA_FLAGS before it starts).
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import platform
import sys
import time

MODEL_NAMES = ("ae", "vae", "conv_vae", "gan_mlp", "dcgan", "toy_gan", "cgan_projection", "cgan_ac",
               "gan_loss_non_saturating", "gan_loss_least_squares", "gan_loss_wgan_gp", "gan_loss_hinge",
               "gan_loss_non_saturating_r1", "pix2pix", "cyclegan", "biggan", "stylegan2")
# jaxgen.models._precision.COMPUTE_DTYPES, spelled out so that parsing flags does not start JAX.
COMPUTE_DTYPES = ("float32", "bfloat16")


def _int_list(text: str) -> list[int]:
  try:
    values = [int(v) for v in text.split(",") if v.strip()]
  except ValueError:
    raise argparse.ArgumentTypeError(f"expected comma-separated integers, got '{text}'") from None
  if not values or min(values) < 1:
    raise argparse.ArgumentTypeError(f"expected positive integers, got '{text}'")
  return values


def _model_list(text: str) -> list[str]:
  names = [v.strip() for v in text.split(",") if v.strip()]
  unknown = sorted(set(names) - set(MODEL_NAMES))
  if unknown:
    raise argparse.ArgumentTypeError(f"unknown models {unknown}; choose from {', '.join(MODEL_NAMES)}")
  return names


def _dtype_list(text: str) -> list[str]:
  names = [v.strip() for v in text.split(",") if v.strip()]
  unknown = sorted(set(names) - set(COMPUTE_DTYPES))
  if not names or unknown:
    raise argparse.ArgumentTypeError(f"unknown compute dtypes {unknown or text!r}; choose from {', '.join(COMPUTE_DTYPES)}")
  return names


def parse_args(argv=None) -> argparse.Namespace:
  p = argparse.ArgumentParser(prog="python -m benchmarks.step", description=__doc__.split("\n\n")[0])
  p.add_argument("--models", type=_model_list, default=list(MODEL_NAMES), help="comma-separated: " + ",".join(MODEL_NAMES))
  p.add_argument("--batch_sizes", type=_int_list, default=[32, 128, 512])
  p.add_argument("--compute_dtypes", type=_dtype_list, default=["float32"],
                 help="models' compute dtypes to time: float32, bfloat16 or both (parameters stay float32)")
  p.add_argument("--devices", type=_int_list, default=[1], help="mesh sizes to time the jaxgen step on, e.g. 1,2,4,8")
  p.add_argument("--out", default=None, help="JSON file to write")
  p.add_argument("--peers", choices=("all", "eager", "compile", "none"), default="all", help="which PyTorch peers to run")
  p.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median over them)")
  p.add_argument("--window_s", type=float, default=1.0, help="target seconds of one timed window")
  p.add_argument("--max_k", type=int, default=200, help="most steps in one lax.scan dispatch")
  p.add_argument("--num_examples", type=int, default=4096, help="size of the in-memory synthetic dataset")
  p.add_argument("--peak_n", type=int, default=None,
                 help="matrix side of the matmul-peak measurement (default 2048 on CPU, 8192 on accelerators)")
  p.add_argument("--torch_threads", type=int, default=None,
                 help="PyTorch intra-op threads (default: the CPU count; on a machine loaded by other "
                 "processes OpenMP threads beyond the free cores slow PyTorch down many times)")
  p.add_argument("--quick", action="store_true", help="2 rounds of tiny windows: checks the pipeline, not speed")
  args = p.parse_args(argv)
  if args.quick:
    args.rounds, args.window_s, args.max_k, args.peak_n = 2, 0.01, 1, 256
    args.num_examples = min(args.num_examples, 4 * max(args.batch_sizes))
  if args.num_examples < max(args.batch_sizes):
    p.error(f"--num_examples {args.num_examples} is below the largest batch size {max(args.batch_sizes)}")
  return args


def _ensure_host_devices(n: int) -> None:
  """Asks XLA for n host (CPU) devices, if JAX has not started yet; GPUs are unaffected."""
  if n <= 1 or "jax" in sys.modules:
    return
  flags = os.environ.get("XLA_FLAGS", "")
  if "xla_force_host_platform_device_count" not in flags:
    os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={n}".strip()


def _versions() -> dict:
  from importlib import metadata

  out = {"python": platform.python_version()}
  for pkg in ("jax", "jaxlib", "flax", "optax", "numpy", "torch"):
    try:
      out[pkg] = metadata.version(pkg)
    except metadata.PackageNotFoundError:
      out[pkg] = None
  return out


def _torch_backend(jax_platform: str, threads: int | None):
  """(torch module, device, synchronize) for the peers, or (None, reason, None) when they cannot run."""
  try:
    import torch
  except ImportError:
    return None, "torch is not installed (pip install -e '.[bench]')", None
  if jax_platform == "cpu":
    torch.set_num_threads(threads or os.cpu_count() or 1)
    return torch, "cpu", lambda: None
  if jax_platform == "gpu" and torch.cuda.is_available():
    return torch, "cuda", torch.cuda.synchronize
  return None, f"this torch build cannot run on the benchmark's device ({jax_platform})", None


def main(argv=None) -> dict:
  args = parse_args(argv)
  _ensure_host_devices(max(args.devices))

  import jax

  from benchmarks import _cases, _harness
  from benchmarks._peak import measure_matmul_peak
  from jaxgen import train

  dev0 = jax.devices()[0]
  if args.peak_n is None:
    args.peak_n = 2048 if dev0.platform == "cpu" else 8192
  torch, torch_device, synchronize = _torch_backend(dev0.platform, args.torch_threads) if args.peers != "none" else (None, "not requested", None)
  meta = {
      "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
      "device_kind": dev0.device_kind,
      "platform": dev0.platform,
      "num_devices": jax.device_count(),
      "cpu_count": os.cpu_count(),
      "machine": platform.machine(),
      "processor": platform.processor(),
      "versions": _versions(),
      "xla_flags": os.environ.get("XLA_FLAGS", ""),
      "torch_device": torch_device if torch is not None else None,
      "torch_threads": torch.get_num_threads() if torch is not None else None,
      "peers_skipped_reason": None if torch is not None else torch_device,
      "args": {k: v for k, v in vars(args).items()},
  }
  print(f"device: {dev0.device_kind} ({dev0.platform}) x{jax.device_count()}, {os.cpu_count()} CPUs; "
        f"jax {meta['versions']['jax']}, torch {meta['versions']['torch']}", flush=True)
  # The peak is measured again after every model, and the best of all is kept: a burst of load from
  # other processes during one measurement would otherwise make every fraction of it too large.
  peak = measure_matmul_peak(args.peak_n)
  print(f"matmul peak ({args.peak_n}x{args.peak_n} {peak['dtype']}): {peak['flops_per_s'] / 1e9:.1f} GFLOP/s", flush=True)

  def remeasure_peak():
    again = measure_matmul_peak(args.peak_n)
    peak["samples_flops_per_s"] += again["samples_flops_per_s"]
    peak["flops_per_s"] = max(peak["samples_flops_per_s"])

  rows, skipped = [], []
  for name in args.models:
    has_peer = name in _cases.TORCH_PEERS
    if not has_peer and args.peers != "none":
      skipped.append({"model": name, "peer": "torch", "reason": "no PyTorch peer for this model"})
      print(f"{name}: no PyTorch peer, jaxgen only", flush=True)
    for batch_size, dtype, n_dev in itertools.product(args.batch_sizes, args.compute_dtypes, args.devices):
      label = f"{name} B={batch_size} {dtype} devices={n_dev}"
      if n_dev > jax.device_count():
        skipped.append({"model": name, "batch_size": batch_size, "devices": n_dev,
                        "reason": f"only {jax.device_count()} devices"})
        print(f"skip {label}: only {jax.device_count()} devices", flush=True)
        continue
      if batch_size % n_dev:
        skipped.append({"model": name, "batch_size": batch_size, "devices": n_dev,
                        "reason": "batch size not divisible by the device count"})
        print(f"skip {label}: batch size not divisible by {n_dev}", flush=True)
        continue
      try:
        setup = _cases.build_jax(name, batch_size, args.num_examples, dtype)
      except ImportError as e:
        skipped.append({"model": name, "reason": f"model not available: {e}"})
        print(f"skip {name}: model not available ({e})", flush=True)
        break
      print(f"{label}: compiling ...", flush=True)
      t0 = time.perf_counter()
      dp = train.DataParallel(train.data_mesh(jax.devices()[:n_dev]))
      contenders, info = _harness.jax_contenders(
          setup, dp, batch_size, window_s=args.window_s, max_k=args.max_k, per_step=n_dev == 1
      )
      if torch is not None and n_dev == 1 and has_peer:
        from benchmarks.peers import torch_models

        modes = {"all": (False, True), "eager": (False,), "compile": (True,)}[args.peers]
        for compiled in modes:
          peer = "torch_compile" if compiled else "torch_eager"
          try:
            contenders.append(_harness.torch_contender(
                peer,
                lambda c=compiled: torch_models.build_torch_step(
                    name, batch_size, args.num_examples, compile=c, device=torch_device, compute_dtype=dtype),
                compiled=compiled, window_s=args.window_s, max_steps=max(args.max_k, 2),
                synchronize=synchronize, period=setup.period,
            ))
          except Exception as e:  # noqa: BLE001 - a failing peer must not stop the jaxgen numbers
            skipped.append({"model": name, "batch_size": batch_size, "peer": peer, "reason": repr(e)[:300]})
            print(f"  {peer} failed: {e!r}"[:300], flush=True)
      _harness.interleave(contenders, args.rounds)
      extra = {"compute_dtype": dtype, "num_parameters": _cases.num_parameters(setup.state.params),
               "setup_s": time.perf_counter() - t0, **info}
      row = _harness.result_row(name, batch_size, n_dev, peak["flops_per_s"], contenders, extra)
      rows.append(row)
      print(_harness.format_table([row]).splitlines()[-1], flush=True)
      remeasure_peak()

  for row in rows:  # fractions of the best peak seen over the whole run
    row["peak_fraction"] = row["flops_per_s"] / peak["flops_per_s"] if row["flops_per_s"] else None

  print()
  print(f"matmul peak, best over the run: {peak['flops_per_s'] / 1e9:.1f} GFLOP/s")
  print(_harness.format_table(rows))
  print("steps/s: median over interleaved rounds; 'x eager' / 'x comp': jaxgen scan steps/s over PyTorch's;"
        " %peak is of the float32 matmul peak for every dtype.")
  for s in skipped:
    print(f"skipped: {s}")
  result = {"meta": meta, "matmul_peak": peak, "results": rows, "skipped": skipped}
  if args.out:
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
      json.dump(result, f, indent=1)
    print(f"wrote {args.out}")
  return result


if __name__ == "__main__":
  main()
