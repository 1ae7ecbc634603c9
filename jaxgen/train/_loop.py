"""The host loop: dispatches K-step chunks, shows progress, records metrics, guards.

The loop owns no randomness and no data order: both are functions of the step
(see ``_data_order``), so everything it does can be repeated after a restart.
The chunk's data comes from :class:`~jaxgen.train.Streams`: indices of the
device-resident streams, batches of the streamed ones.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np
from tqdm.auto import tqdm

from jaxgen.train._state import TrainState
from jaxgen.train._streams import Streams

# hook(state, step, chunk_metrics) runs on the host after every chunk.
Hook = Callable[[TrainState, int, dict[str, float]], None]
_GUARDED_PREFIXES = ("loss/", "grad_norm/")


class NonFiniteError(FloatingPointError):
  """A loss or gradient became NaN or infinite."""


class MetricsWriter:
  """Appends one JSON object a line to ``path`` (flushed, so a crash loses nothing)."""

  def __init__(self, path: str | os.PathLike):
    self.path = os.fspath(path)
    os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)

  def write(self, record: dict[str, Any]) -> None:
    with open(self.path, "a") as f:
      f.write(json.dumps(record) + "\n")


def read_metrics(path: str | os.PathLike) -> list[dict[str, Any]]:
  """Reads a JSON-lines metrics file written by :class:`MetricsWriter`."""
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]


def _applied(metrics: dict[str, np.ndarray], name: str) -> np.ndarray:
  """Mask of the steps on which the update behind ``loss/<u>`` or ``grad_norm/<u>`` ran and was applied.

  An update is not applied on the steps an every-k update does not run
  (``applied/<u>`` = 0) nor where ``skip_nonfinite`` skipped it (``skipped/<u>`` = 1).
  """
  update = name.split("/", 1)[1]
  mask = np.ones(np.shape(metrics[name]), bool)
  if f"skipped/{update}" in metrics:
    mask &= np.asarray(metrics[f"skipped/{update}"]) == 0
  if f"applied/{update}" in metrics:
    mask &= np.asarray(metrics[f"applied/{update}"]) > 0
  return mask


def _first_nonfinite(metrics: dict[str, np.ndarray], start_step: int) -> tuple[int, str] | None:
  # A skipped update (skip_nonfinite) reports its non-finite loss but changed nothing.
  bad = None
  for name, values in metrics.items():
    if not name.startswith(_GUARDED_PREFIXES):
      continue
    idx = np.flatnonzero(~np.isfinite(values) & _applied(metrics, name))
    if idx.size and (bad is None or idx[0] < bad[0]):
      bad = (int(idx[0]), name)
  return None if bad is None else (start_step + bad[0], bad[1])


def _chunk_means(metrics: dict[str, np.ndarray]) -> dict[str, float]:
  """Means over the chunk; loss and gradient terms over the applied updates only.

  The metrics of an every-k update are NaN on the steps it does not run: they
  are averaged over the steps it ran, and left out of a chunk where it never ran.
  """
  means = {}
  for name, values in metrics.items():
    if name.startswith(_GUARDED_PREFIXES):
      applied = _applied(metrics, name)
      if applied.any():
        means[name] = float(np.mean(values[applied]))
    elif name.startswith("applied/"):
      means[name] = float(np.sum(values))  # how many steps of the chunk ran the update
    elif np.isnan(values).all() and values.size:
      continue
    else:
      means[name] = float(np.nanmean(values)) if np.isnan(values).any() else float(np.mean(values))
  return means


def fit(
    multi_step,
    state: TrainState,
    data: Any,
    streams: Streams,
    *,
    num_steps: int,
    steps_per_call: int = 100,
    metrics_path: str | os.PathLike | None = None,
    hooks: Sequence[Hook] = (),
    progress: bool = True,
    description: str = "train",
) -> TrainState:
  """Trains from ``state.step`` up to ``num_steps`` steps.

  Args:
    multi_step: ``multi_step(state, data, feed, start=step)``, from
      :func:`make_multi_step` (or ``DataParallel.compile`` of it); ``start``,
      the chunk's first step, lets an unrolled chunk compile its every-k
      updates as straight-line code.
    state: the state to continue from (a fresh one, or one restored).
    data: the device-resident streams, placed on the device(s).
    streams: the run's :class:`Streams`, which give each chunk's feed.
    num_steps: total steps of the run (not steps still to do).
    steps_per_call: steps compiled into one dispatch.
    metrics_path: JSON-lines file receiving each chunk's mean metrics.
    hooks: called after every chunk (checkpoints, sample grids).
    progress: show a tqdm bar with the step, loss terms and throughput.
    description: label of the progress bar.

  Returns:
    The final state.

  Raises:
    NonFiniteError: a loss or gradient norm was not finite; the message names
      the step and the term. The returned-before state is the caller's last
      good one (hooks have not seen the broken chunk).
  """
  if steps_per_call < 1:
    raise ValueError(f"steps_per_call must be >= 1, got {steps_per_call}")
  writer = MetricsWriter(metrics_path) if metrics_path is not None else None
  start = int(state.step)
  bar = tqdm(total=num_steps, initial=start, desc=description, disable=not progress, dynamic_ncols=True)
  step = start
  try:
    while step < num_steps:
      k = min(steps_per_call, num_steps - step)
      feed = streams.feed(step, k)
      t0 = time.perf_counter()
      state, metrics = multi_step(state, data, feed, start=step)
      metrics = jax.tree.map(np.asarray, jax.device_get(metrics))
      seconds = time.perf_counter() - t0
      bad = _first_nonfinite(metrics, step)
      for name, skipped in metrics.items():
        if name.startswith("skipped/") and np.all(np.asarray(skipped) > 0):
          raise NonFiniteError(
              f"every update of {name.split('/', 1)[1]} in steps {step}..{step + k - 1} was non-finite and "
              "skipped: the run has stopped learning; lower the learning rate or check the data."
          )
      if bad is not None:
        raise NonFiniteError(
            f"non-finite {bad[1]} at step {bad[0]}: lower the learning rate, check the data, "
            "or skip such updates (skip_nonfinite=True; --config.train.skip_nonfinite=True in the experiments); "
            "the last checkpoint is kept."
        )
      step += k
      means = _chunk_means(metrics)
      if writer is not None:
        writer.write({"step": step, "chunk_steps": k, "seconds": seconds, "steps_per_sec": k / seconds, **means})
      shown = {n.replace("/", "_"): v for n, v in means.items()
               if not n.startswith(("grad_norm/", "skipped/", "applied/"))}
      bar.set_postfix({n: f"{v:.4g}" for n, v in list(shown.items())[:4]} | {"it/s": f"{k / seconds:.1f}"})
      bar.update(k)
      for hook in hooks:
        hook(state, step, {"chunk_steps": k, **means})
  finally:
    bar.close()
  return state


def every(n: int, fn: Callable[[TrainState, int], None], *, num_steps: int | None = None) -> Hook:
  """A hook calling ``fn(state, step)`` when a chunk crosses a multiple of ``n`` (and at the end).

  The chunk's first step comes from ``metrics["chunk_steps"]``, so a crossing
  inside the first chunk after a resume is not missed.
  """
  if n < 1:
    raise ValueError(f"every(n) needs n >= 1, got {n}")

  def hook(state, step, metrics):
    prev = step - int(metrics.get("chunk_steps", 1))
    if step // n > prev // n or (num_steps is not None and step >= num_steps):
      fn(state, step)

  return hook
