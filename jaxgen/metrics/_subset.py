"""Seeded subsets of a test set, for estimates too costly to run on all of it."""

from __future__ import annotations

import numpy as np


def random_subset(num_examples: int, size: int | None, seed: int) -> np.ndarray:
  """Sorted indices of ``size`` examples drawn without replacement, fixed by ``seed``.

  A random subset, not the first ``size``: test sets can be ordered (the first
  1,000 binarized-MNIST test images score about 10 nats worse than the rest
  under a VAE), so a prefix would be biased.

  Args:
    num_examples: size of the test set.
    size: examples to keep; ``None`` or 0 keeps all of them, more than
      ``num_examples`` is capped.
    seed: seed of the draw (``numpy.random.default_rng``).

  Returns:
    int64 array ``(min(size, num_examples),)``, increasing.

  Example:
    >>> random_subset(10, 3, seed=0).shape, random_subset(4, None, seed=0).tolist()
    ((3,), [0, 1, 2, 3])
  """
  if num_examples < 1:
    raise ValueError(f"num_examples must be >= 1, got {num_examples}")
  if size is not None and size < 0:
    raise ValueError(f"size must be >= 0 (0 or None: all examples), got {size}")
  size = min(size or num_examples, num_examples)
  return np.sort(np.random.default_rng(seed).permutation(num_examples)[:size])
