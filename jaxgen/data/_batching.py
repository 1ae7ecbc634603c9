"""Deterministic shuffling into minibatches from a PRNG key.

`shuffle_batches` runs on the device and can be jitted or called inside
`jax.lax.scan`, so a whole epoch is one dispatch; `iterate_batches` is its
host-side twin for Python loops. Both drop the last incomplete batch (unless
asked not to, on the host) so every step sees the same batch shape and the
step compiles once.

These serve loops written by users. jaxgen's own training does not use them:
its data order is a function of the step alone (`jaxgen.train.batch_indices`),
which is what lets a resumed run see exactly the batches it would have seen.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def _num_examples(x: Any) -> int:
  leaves = jax.tree.leaves(x)
  if not leaves:
    raise ValueError("x holds no arrays to batch.")
  sizes = {int(np.shape(leaf)[0]) if np.ndim(leaf) else -1 for leaf in leaves}
  if len(sizes) != 1 or -1 in sizes:
    raise ValueError(
        f"every array in x must share its leading (example) axis; got sizes {sorted(sizes)}."
    )
  return sizes.pop()


def _check_batch_size(batch_size: int, num_examples: int) -> None:
  if not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
    raise ValueError(f"batch_size must be a positive int, got {batch_size!r}.")
  if batch_size > num_examples:
    raise ValueError(
        f"batch_size {batch_size} is larger than the dataset ({num_examples} examples);"
        f" lower batch_size to at most {num_examples}."
    )


def epoch_batch_indices(key: jax.Array, num_examples: int, batch_size: int) -> jax.Array:
  """Example indices of one shuffled epoch, the remainder dropped.

  Args:
    key: PRNG key of this epoch (e.g. `jax.random.fold_in(key, epoch)`).
    num_examples: size of the dataset N.
    batch_size: examples per batch B (a Python int; static under jit).

  Returns:
    int32 array (N // B, B): row i holds the indices of batch i, all distinct.
  """
  _check_batch_size(batch_size, num_examples)
  num_batches = num_examples // batch_size
  perm = jax.random.permutation(key, num_examples)
  return perm[: num_batches * batch_size].reshape(num_batches, batch_size).astype(jnp.int32)


def shuffle_batches(key: jax.Array, x: Any, batch_size: int) -> Any:
  """Shuffles `x` with `key` and cuts it into equal batches, on the device.

  Args:
    key: PRNG key of this epoch.
    x: array (N, ...) or pytree of arrays sharing the leading axis N (e.g.
      images and labels).
    batch_size: examples per batch B (static: `jax.jit(shuffle_batches,
      static_argnames="batch_size")`).

  Returns:
    `x` with each leaf reshaped to (N // B, B, ...), examples in shuffled order;
    scan over the leading axis to run an epoch.

  Example:
    >>> xs = shuffle_batches(jax.random.key(0), jnp.arange(10), 3)
    >>> xs.shape
    (3, 3)
  """
  idx = epoch_batch_indices(key, _num_examples(x), batch_size)
  return jax.tree.map(lambda a: jnp.take(jnp.asarray(a), idx, axis=0), x)


def iterate_batches(
    x: Any,
    batch_size: int,
    *,
    key: jax.Array,
    epoch: int = 0,
    drop_remainder: bool = True,
) -> Iterator[Any]:
  """Yields the batches of one epoch as numpy arrays, for host-side loops.

  With `drop_remainder=True` the batches are exactly those of
  `shuffle_batches(jax.random.fold_in(key, epoch), x, batch_size)`.

  Args:
    x: numpy array (N, ...) or pytree of arrays sharing the leading axis.
    batch_size: examples per batch B.
    key: PRNG key of the run.
    epoch: epoch number, folded into `key` so each epoch has its own order.
    drop_remainder: drop the last N % B examples (True) or yield them as a
      smaller final batch (False).

  Returns:
    An iterator over batches: `x`'s structure with leaves of shape (B, ...).
  """
  # Checked here, not in the generator, so a bad batch_size fails at the call.
  n = _num_examples(x)
  _check_batch_size(batch_size, n)
  perm = np.asarray(jax.random.permutation(jax.random.fold_in(key, epoch), n))
  stop = n - n % batch_size if drop_remainder else n
  return (
      jax.tree.map(lambda a, idx=perm[start : start + batch_size]: np.asarray(a)[idx], x)
      for start in range(0, stop, batch_size)
  )
