"""The order in which training examples are visited, as a function of the step.

The indices of step ``s`` depend only on ``(seed, s)``: epoch ``e`` is a fresh
permutation from ``numpy.random.default_rng((seed, e))``. A run resumed at any
step therefore sees the same batches as one that never stopped, and the data
order needs no state in the checkpoint beyond the step. Each data stream of a
run has its own seed (:func:`stream_seed`), so two unpaired datasets of
different lengths are visited in independent orders.
"""

from __future__ import annotations

import functools
import zlib

import numpy as np


def stream_seed(data_seed: int, stream: str) -> int:
  """The order seed of stream ``stream`` of a run whose data-order seed is ``data_seed``."""
  return int(np.random.SeedSequence([int(data_seed), zlib.crc32(stream.encode())]).generate_state(1)[0])


def steps_per_epoch(num_examples: int, examples_per_step: int) -> int:
  """Full steps in one pass over the data (the remainder of an epoch is dropped)."""
  if examples_per_step > num_examples:
    raise ValueError(
        f"a step needs {examples_per_step} examples but the dataset has only {num_examples}: "
        "lower batch_size (or the discriminator steps per generator step)."
    )
  return num_examples // examples_per_step


@functools.lru_cache(maxsize=8)
def _permutation(seed: int, epoch: int, num_examples: int) -> np.ndarray:
  perm = np.random.default_rng((seed, epoch)).permutation(num_examples)
  perm.flags.writeable = False  # shared by every caller of the cache
  return perm


def batch_indices(
    seed: int, start_step: int, num_steps: int, num_examples: int, batch_shape: tuple[int, ...]
) -> np.ndarray:
  """Example indices of steps ``start_step .. start_step + num_steps - 1``.

  Args:
    seed: the data-order seed of the stream.
    start_step: first global step.
    num_steps: number of steps.
    num_examples: size of the stream's dataset.
    batch_shape: examples per step, e.g. ``(128,)`` or ``(k, 64)`` for k
      discriminator minibatches.

  Returns:
    int32 array ``(num_steps, *batch_shape)``.
  """
  per_step = int(np.prod(batch_shape))
  per_epoch = steps_per_epoch(num_examples, per_step)
  rows = []
  for s in range(start_step, start_step + num_steps):
    epoch, pos = divmod(s, per_epoch)
    rows.append(_permutation(int(seed), epoch, int(num_examples))[pos * per_step : (pos + 1) * per_step])
  out = np.stack(rows) if rows else np.zeros((0, per_step), np.int64)
  return out.reshape((num_steps, *batch_shape)).astype(np.int32)
