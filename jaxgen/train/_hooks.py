"""Hooks that look at a run as it trains: sample grids and scheduled evaluations.

Both run on the schedule of :func:`~jaxgen.train.every` (a chunk that crosses
a multiple of ``n``, and the last step), so a chunk size that does not divide
``n``, or a resume in the middle of a run, skips no scheduled point.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from flax import nnx

from jaxgen import plot
from jaxgen.train._loop import Hook, MetricsWriter, every
from jaxgen.train._state import GraphDefs, TrainState, merge_models
from jaxgen.train._workdir import set_aside, truncate_records


def sample_grid_hook(
    directory: str | os.PathLike,
    graphdefs: GraphDefs,
    generate: Callable[[dict[str, nnx.Module]], Any],
    *,
    every_steps: int,
    num_steps: int,
    use_ema: bool = True,
    ncol: int | None = None,
) -> Hook:
  """Saves ``generate(models)`` as ``directory/step_<step>.png`` on the schedule of ``every``.

  ``generate`` draws images ``(N, H, W, C)`` in [0, 1] from the networks; a
  fixed latent batch inside it shows one set of samples changing as training
  goes. The networks are the state's, with their EMA where the run keeps one
  and ``use_ema``.

  Args:
    directory: folder of the PNG files (created).
    graphdefs: the run's graph definitions (``split_models(models)[0]``).
    generate: ``generate(models) -> images``.
    every_steps: draw when a chunk crosses a multiple of this many steps.
    num_steps: the run's last step (always drawn).
    use_ema: draw with the EMA networks the run keeps.
    ncol: images per row of the grid (default a square grid).

  Returns:
    The hook, for ``run_training(hooks=...)``.
  """

  def save(state: TrainState, step: int) -> None:
    images = np.asarray(generate(merge_models(graphdefs, state, use_ema=use_ema)))
    path = os.path.join(os.fspath(directory), f"step_{step:07d}.png")
    plot.save_image_grid(path, images, ncol=ncol, scale=plot.grid_scale(images.shape[1:]))

  return every(every_steps, save, num_steps=num_steps)


def eval_hook(
    path: str | os.PathLike,
    evaluate: Callable[[TrainState, int], Mapping[str, Any]],
    *,
    every_steps: int,
    num_steps: int,
) -> Hook:
  """Appends ``{"step": step, **evaluate(state, step)}`` to the JSON-lines ``path`` on the schedule of ``every``.

  The first call of a resumed run drops the records past the step it
  restarted from (written after its checkpoint), so the file holds every
  scheduled step once; a run starting from step 0 keeps an earlier file
  under another name. Both as ``run_training`` treats ``metrics.jsonl``.

  Args:
    path: the JSON-lines file.
    evaluate: ``evaluate(state, step) -> {name: JSON-able value}``.
    every_steps: evaluate when a chunk crosses a multiple of this many steps.
    num_steps: the run's last step (always evaluated).

  Returns:
    The hook, for ``run_training(hooks=...)``.
  """
  writer = MetricsWriter(path)

  def record(state: TrainState, step: int) -> None:
    writer.write({"step": step, **evaluate(state, step)})

  scheduled = every(every_steps, record, num_steps=num_steps)
  started = False

  def hook(state: TrainState, step: int, metrics: dict[str, float]) -> None:
    nonlocal started
    if not started:
      start = step - int(metrics.get("chunk_steps", 1))
      if start == 0:
        set_aside(writer.path)
      else:
        truncate_records(writer.path, start)
      started = True
    scheduled(state, step, metrics)

  return hook
