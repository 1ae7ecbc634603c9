"""Binarizations of grey images done once on the host: thresholded, or one seeded draw.

Dynamic binarization (a fresh x ~ Bernoulli(pixel) for every batch) belongs in
the jitted train step, where it can use the step's PRNG key; a dataset records
the request as `binarization="dynamic"`, and its test set is scored on one
fixed draw (`binarize_seeded`).
"""

from __future__ import annotations

import numpy as np


def binarize_static(x: np.ndarray, threshold: float = 0.5) -> np.ndarray:
  """Thresholds images once: 1 where x > threshold, else 0.

  Args:
    x: float array of pixel intensities in [0, 1], any shape.
    threshold: intensity above which a pixel becomes 1.

  Returns:
    Array like `x` (same shape and dtype) holding only 0 and 1.

  Example:
    >>> binarize_static(np.array([0.2, 0.5, 0.7], np.float32)).tolist()
    [0.0, 0.0, 1.0]
  """
  if not 0.0 <= threshold < 1.0:
    raise ValueError(f"threshold must lie in [0, 1), got {threshold}.")
  x = np.asarray(x)
  return (x > threshold).astype(x.dtype)


def binarize_seeded(x: np.ndarray, seed: int) -> np.ndarray:
  """One draw x_b ~ Bernoulli(x), fixed by ``seed``: the test set of a dynamically binarized dataset.

  A model trained on fresh draws every step is scored on one draw, the same
  for every evaluation of every run with this seed, so results compare.

  Args:
    x: float array of pixel probabilities in [0, 1], any shape.
    seed: seed of the draw (``numpy.random.default_rng``).

  Returns:
    float32 array like `x` holding only 0 and 1.

  Example:
    >>> binarize_seeded(np.array([0.0, 1.0], np.float32), seed=0).tolist()
    [0.0, 1.0]
  """
  x = np.asarray(x)
  rng = np.random.default_rng(seed)
  return (rng.random(x.shape, dtype=np.float32) < x).astype(np.float32)
