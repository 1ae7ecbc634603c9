"""Timing machinery of the step benchmark: compile apart, windows after warm-up, interleaving.

* **Compile apart.** A jaxgen chunk is lowered (trace) and compiled ahead of
  time (``.lower(...).compile()``), both timed; steady state then calls the
  compiled executable, so no window ever includes compilation. PyTorch's
  ``torch.compile`` time is its first call minus an eager step.
* **Windows.** Throughput is measured over windows of whole steps ended by
  ``jax.block_until_ready`` (for PyTorch on GPU, ``torch.cuda.synchronize``);
  each framework's window holds as many steps as take about ``window_s``
  seconds by a warm-up estimate, so fast and slow models are timed alike.
* **Interleaved rounds.** A round runs one window of every contender (jaxgen
  K-step scan, jaxgen one step per dispatch, PyTorch eager, ``torch.compile``)
  in turn; the reported figure is the median over rounds with the min and
  max, so a burst of load from other processes hits every contender alike.
* **Whole periods.** A step whose work depends on the step index (StyleGAN2's
  lazy regularisers: R1 every 16 steps, the path length every 4) declares its
  period (``JaxSetup.period``); every window of every contender then holds a
  multiple of it (K rounded to a divisor or a multiple of the period, and
  ``period / K`` dispatches per window), so each rate averages the steps in
  the reference's proportions, whatever step the window starts at.
* **FLOPs** of one step come from XLA's cost analysis of the one-step
  programs (the analysis of a ``scan`` counts its body once, not K times),
  averaged over a period: a lazily regularised step unrolls its every-k
  updates as straight-line code, one program per schedule of them
  (``jaxgen.train.make_multi_step``), so each schedule is counted in its
  proportion.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from jaxgen import train


def summarize(samples: list[float]) -> dict[str, Any]:
  """Median, min, max and the samples of a list of rates."""
  return {
      "median": statistics.median(samples),
      "min": min(samples),
      "max": max(samples),
      "samples": list(samples),
  }


def steps_per_window(seconds_per_step: float, window_s: float, max_steps: int, min_steps: int = 1) -> int:
  """Whole steps filling about ``window_s`` seconds, clamped to [min_steps, max_steps]."""
  return int(min(max_steps, max(min_steps, round(window_s / max(seconds_per_step, 1e-9)))))


def fit_period(k: int, period: int, max_k: int) -> tuple[int, int]:
  """(K, dispatches) with K * dispatches a multiple of ``period``: the K-step chunks of a window of whole periods.

  K at least ``period`` (and ``max_k`` allowing) is rounded down to a multiple
  of it, one dispatch a window; a smaller K to the largest divisor of the
  period not above it, ``period / K`` dispatches a window.

  Example:
    >>> fit_period(2, 16, 2), fit_period(40, 16, 200), fit_period(3, 16, 3), fit_period(7, 1, 7)
    ((2, 8), (32, 1), (2, 8), (7, 1))
  """
  if period <= 1:
    return k, 1
  if k >= period and max_k >= period:
    return k // period * period, 1
  k = max(d for d in range(1, k + 1) if period % d == 0)
  return k, period // k


@dataclasses.dataclass
class Contender:
  """One way of running a model's step, timed window by window.

  Attributes:
    name: label in the table and JSON ("jaxgen_scan", "torch_eager", ...).
    run_window: runs one window and returns ``(steps, seconds)``.
    info: what was measured before steady state (compile times, K, ...).
  """

  name: str
  run_window: Callable[[], tuple[int, float]]
  info: dict[str, Any]
  rates: list[float] = dataclasses.field(default_factory=list)

  def measure(self) -> None:
    steps, seconds = self.run_window()
    self.rates.append(steps / seconds)


class JaxChunks:
  """A jaxgen step compiled through :class:`jaxgen.train.DataParallel` for K steps per dispatch.

  The state is donated chunk to chunk, exactly as :func:`jaxgen.train.fit`
  does; the index arrays of the windows are drawn and placed on the devices
  before timing.
  """

  def __init__(self, setup, dp: train.DataParallel, batch_size: int):
    self.setup, self.dp, self.batch_size = setup, dp, batch_size
    multi = train.make_multi_step(setup.step, unroll=setup.unroll, compiler_options=setup.compiler_options)
    # Which every-k updates (StyleGAN2's R1 and path length) a chunk runs, from its first step: an
    # unrolled chunk compiles them as straight-line code, one program per schedule.
    self.schedule = multi.__wrapped__.schedule
    self.multi = dp.compile(multi)
    self.state = dp.put_state(setup.state)
    self.data = dp.put_data(setup.data)
    # Every case trains on one data stream: an array, or a pytree of arrays gathered at the same
    # indices (a conditional GAN's {"x": images, "y": labels}).
    (self.stream, data), = setup.data.items()
    self.num_examples = jax.tree.leaves(data)[0].shape[0]
    self._next_step = 0  # of the index stream
    self._step = int(setup.state.step)  # of the state: the chunk's schedule

  def indices(self, k: int) -> dict[str, jax.Array]:
    idx = train.batch_indices(0, self._next_step, k, self.num_examples, (self.batch_size,))
    self._next_step += k
    return self.dp.put_feed({self.stream: idx})

  def starts(self) -> range:
    """Every first step a chunk can have, modulo the period (warm-ups leave the count anywhere in it)."""
    return range(self.setup.period)

  def compile(self, k: int) -> tuple[dict, dict[str, float]]:
    """AOT-compiles the K-step chunks: {schedule: program} for every start, and the trace and compile seconds (summed)."""
    idx = self.indices(k)
    programs, times = {}, {"trace_s": 0.0, "compile_s": 0.0}
    for start in self.starts():
      due = self.schedule(start, k)
      if due in programs:
        continue
      t0 = time.perf_counter()
      lowered = self.multi.lower(self.state, self.data, idx, start=start)
      t1 = time.perf_counter()
      programs[due] = lowered.compile()
      times["trace_s"] += t1 - t0
      times["compile_s"] += time.perf_counter() - t1
    times["programs"] = len(programs)
    return programs, times

  def run(self, programs: dict, k: int, calls: int) -> tuple[int, float]:
    """``calls`` dispatches of K steps, each with the program of its schedule; returns (steps, seconds)."""
    idxs = [self.indices(k) for _ in range(calls)]
    chosen = [programs[self.schedule(self._step + i * k, k)] for i in range(calls)]
    jax.block_until_ready(idxs)
    t0 = time.perf_counter()
    for idx, compiled in zip(idxs, chosen):
      self.state, metrics = compiled(self.state, self.data, idx)
    jax.block_until_ready((self.state, metrics))
    self._step += k * calls
    return k * calls, time.perf_counter() - t0

  def flops_per_step(self, programs: dict) -> float | None:
    """FLOPs of a step averaged over a period, from the one-step programs (:func:`compiled_flops`)."""
    flops = [compiled_flops(programs[self.schedule(start, 1)]) for start in self.starts()]
    return None if None in flops else float(np.mean(flops))


def compiled_flops(compiled) -> float | None:
  """FLOPs of a compiled program from XLA's cost analysis (None where the backend gives none).

  Applied to the one-step chunks: the analysis of a ``scan`` counts its body
  once, so a K = 1 program gives the FLOPs of one step (and its gather).
  """
  try:
    cost = compiled.cost_analysis()
  except Exception:  # noqa: BLE001 - some backends do not implement cost analysis
    return None
  if isinstance(cost, (list, tuple)):  # older JAX: one dict per program
    cost = cost[0] if cost else {}
  flops = (cost or {}).get("flops")
  return float(flops) if flops is not None and math.isfinite(flops) and flops > 0 else None


def jax_contenders(setup, dp: train.DataParallel, batch_size: int, *, window_s: float, max_k: int,
                   per_step: bool = True) -> tuple[list[Contender], dict[str, Any]]:
  """The jaxgen contenders: K steps in one ``lax.scan`` dispatch, and one step per dispatch.

  K is chosen from the warmed-up one-step time so that a chunk lasts about
  ``window_s`` (at least 2 steps unless ``max_k`` is 1, at most ``max_k``),
  then fitted to ``setup.period`` (:func:`fit_period`): a window is
  ``dispatches`` chunks of K steps, or K * ``dispatches`` one-step dispatches.

  Returns:
    The contenders and an info dict: K, the period, trace and compile seconds
    of both programs, and ``flops_per_step`` from XLA's cost analysis.
  """
  chunks = JaxChunks(setup, dp, batch_size)
  if setup.max_k:
    max_k = min(max_k, setup.max_k)
  one, one_times = chunks.compile(1)
  for _ in range(2):  # warm-up (first calls allocate and page in)
    chunks.run(one, 1, 1)
  steps, seconds = chunks.run(one, 1, 3)
  k = steps_per_window(seconds / steps, window_s, max_k, min_steps=min(2, max_k))
  period = setup.period
  k, dispatches = fit_period(k, period, max_k)
  scan, scan_times = (one, one_times) if k == 1 else chunks.compile(k)
  chunks.run(scan, k, 1)  # warm-up
  flops = chunks.flops_per_step(one)
  if flops is not None and dp.num_shards > 1:
    flops *= dp.num_shards  # XLA analyses the per-device program of the partitioned step
  window = k * dispatches
  info = {"scan_steps": k, "period": period, "one_step": one_times, "scan": scan_times, "flops_per_step": flops}
  contenders = [Contender("jaxgen_scan", lambda: chunks.run(scan, k, dispatches),
                          {"steps_per_dispatch": k, "steps_per_window": window, **scan_times})]
  if per_step:
    contenders.append(Contender("jaxgen_step", lambda: chunks.run(one, 1, window),
                                {"steps_per_dispatch": 1, "steps_per_window": window, **one_times}))
  return contenders, info


def torch_contender(name: str, make_step: Callable[[], Callable], *, compiled: bool, window_s: float,
                    max_steps: int, synchronize: Callable[[], None], period: int = 1) -> Contender:
  """A PyTorch peer: first call timed (compile for ``torch.compile``), warm-up, then windows.

  A window holds a multiple of ``period`` steps (the jaxgen step's period: the
  peer runs the same lazy phases on the same schedule).
  """
  step = make_step()
  t0 = time.perf_counter()
  step()
  synchronize()
  first_s = time.perf_counter() - t0
  for _ in range(2):
    step()
  synchronize()
  t0 = time.perf_counter()
  for _ in range(3):
    step()
  synchronize()
  seconds_per_step = (time.perf_counter() - t0) / 3
  n = steps_per_window(seconds_per_step, window_s, max_steps, min_steps=2)
  n = -(-n // period) * period

  def run_window():
    t0 = time.perf_counter()
    for _ in range(n):
      step()
    synchronize()
    return n, time.perf_counter() - t0

  info = {"first_call_s": first_s, "steps_per_window": n}
  if compiled:
    info["compile_s"] = max(first_s - seconds_per_step, 0.0)
  return Contender(name, run_window, info)


def interleave(contenders: list[Contender], rounds: int) -> None:
  """Runs ``rounds`` rounds, each one window of every contender in turn."""
  for _ in range(rounds):
    for c in contenders:
      c.measure()


def format_table(rows: list[dict[str, Any]]) -> str:
  """A fixed-width text table of the result rows."""
  head = ["model", "B", "dtype", "dev", "compile s", "step/s scan(K)", "step/s 1/disp", "ex/s", "GFLOP/s", "%peak",
          "torch eager", "torch comp", "x eager", "x comp"]

  def fmt(v, spec):
    return "-" if v is None else format(v, spec)

  lines = []
  for r in rows:
    jc = r["contenders"].get("jaxgen_scan", {})
    js = r["contenders"].get("jaxgen_step", {})
    te = r["contenders"].get("torch_eager", {})
    tc = r["contenders"].get("torch_compile", {})
    med = lambda c: c.get("steps_per_s", {}).get("median")
    scan_s = f"{med(jc):.1f} ({jc.get('steps_per_dispatch')})" if med(jc) is not None else "-"
    lines.append([
        r["model"], str(r["batch_size"]), {"float32": "f32", "bfloat16": "bf16"}.get(r.get("compute_dtype"), "?"),
        str(r["devices"]),
        fmt(jc.get("compile_s"), ".2f"), scan_s, fmt(med(js), ".1f"),
        fmt(med(jc) * r["batch_size"] if med(jc) else None, ".0f"),
        fmt(r.get("flops_per_s") and r["flops_per_s"] / 1e9, ".1f"),
        fmt(r.get("peak_fraction") and 100 * r["peak_fraction"], ".0f"),
        fmt(med(te), ".1f"), fmt(med(tc), ".1f"),
        fmt(r.get("ratio_torch_eager"), ".2f"), fmt(r.get("ratio_torch_compile"), ".2f"),
    ])
  widths = [max(len(h), *(len(l[i]) for l in lines)) if lines else len(h) for i, h in enumerate(head)]
  out = ["  ".join(h.rjust(w) for h, w in zip(head, widths))]
  out += ["  ".join(v.rjust(w) for v, w in zip(l, widths)) for l in lines]
  return "\n".join(out)


def result_row(model: str, batch_size: int, devices: int, peak: float | None, contenders: list[Contender],
               extra: dict[str, Any]) -> dict[str, Any]:
  """The JSON record of one (model, batch size, device count)."""
  out = {"model": model, "batch_size": batch_size, "devices": devices, **extra}
  flops = out.get("flops_per_step")
  out["contenders"] = {}
  for c in contenders:
    stats = summarize(c.rates)
    out["contenders"][c.name] = {
        **c.info,
        "steps_per_s": stats,
        "examples_per_s": {k: (v * batch_size if k != "samples" else [s * batch_size for s in v])
                           for k, v in stats.items()},
    }
  scan = out["contenders"].get("jaxgen_scan")
  jax_rate = scan["steps_per_s"]["median"] if scan else None
  out["flops_per_s"] = flops * jax_rate if flops and jax_rate else None
  out["peak_fraction"] = out["flops_per_s"] / peak if out["flops_per_s"] and peak else None
  for peer in ("torch_eager", "torch_compile"):
    if jax_rate and peer in out["contenders"]:
      out[f"ratio_{peer}"] = jax_rate / out["contenders"][peer]["steps_per_s"]["median"]
  return out

