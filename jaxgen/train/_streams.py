"""A run's data streams: named datasets, each with its own length, batch shape and order.

``run_training(data=...)`` takes a mapping of stream name -> data, where the
data is a pytree of arrays sharing a leading example axis (one stream: its
leaves are gathered at the same indices, so images and their labels stay
paired), or a :class:`Stream` that says more. The objectives see
``ctx.batch[name]``, the stream's pytree at this step's indices.

* ``data={"x": images}``: one stream, ``ctx.batch["x"]`` of shape ``(B, ...)``.
* ``data={"real": {"x": images, "y": labels}}``: labelled data, one order.
* ``data={"a": domain_a, "b": domain_b}``: two unpaired domains (CycleGAN),
  each visited in its own order, of any lengths.

A stream lives on the device (a numpy pytree that fits: gathered inside the
compiled K-step program, the fast path) or is **streamed** from the host: a
random-access source (``len(source)`` and ``source[i]`` -> one example's
pytree of numpy arrays, as ``tfds.data_source`` and grain's sources provide)
is read by grain's threaded, prefetching iterator, one step's batch per
element, at the same step-indexed indices as the device path, so both give
the same batches for the same seed and a resumed run continues exactly.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import grain
import jax
import numpy as np

from jaxgen.train._data_order import batch_indices, stream_seed, steps_per_epoch


@dataclasses.dataclass(frozen=True)
class Stream:
  """One named dataset of a run.

  Attributes:
    data: a pytree of numpy arrays with the examples on the leading axis, or a
      random-access source (``len`` and ``__getitem__`` returning one
      example's pytree of arrays).
    batch_shape: examples per step, default the run's ``batch_shape``.
    resident: keep the data on the device (default for arrays) or stream it
      through grain (default for sources; arrays may be streamed too).
    num_threads: grain's reading threads for a streamed stream.
    prefetch: steps' batches grain reads ahead of the train step.
  """

  data: Any
  batch_shape: tuple[int, ...] | None = None
  resident: bool | None = None
  num_threads: int = 4
  prefetch: int = 8


def _is_source(data) -> bool:
  return hasattr(data, "__getitem__") and hasattr(data, "__len__") and not isinstance(data, (np.ndarray, jax.Array, dict, list, tuple))


def _num_examples(name: str, data) -> int:
  if _is_source(data):
    return len(data)
  leaves = jax.tree.leaves(data)
  if not leaves:
    raise ValueError(f"data stream '{name}' holds no arrays: pass a pytree of arrays with the examples on the leading axis")
  sizes = {np.shape(x)[0] if np.ndim(x) else None for x in leaves}
  if len(sizes) != 1 or None in sizes:
    raise ValueError(
        f"every array of data stream '{name}' needs the same leading (example) axis, got sizes "
        f"{sorted(map(str, sizes))}: arrays of different lengths belong in separate streams"
    )
  return sizes.pop()


def _check_finite(name: str, data) -> None:
  # One pass on the host now rather than a NaN loss after the first chunk.
  for path, x in jax.tree_util.tree_flatten_with_path(data)[0]:
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
      bad = np.argwhere(~np.isfinite(x))[0]
      raise ValueError(
          f"data stream '{name}'{jax.tree_util.keystr(path)} holds {int((~np.isfinite(x)).sum())} NaN or infinite "
          f"value(s) (first at index {tuple(int(i) for i in bad)}): clean or drop those examples"
      )


class _ArraySource:
  """Arrays (a pytree sharing the leading axis) seen as a random-access source, to stream them."""

  def __init__(self, data, num_examples: int):
    self.data, self.num_examples = data, num_examples

  def __len__(self):
    return self.num_examples

  def __getitem__(self, i):
    return jax.tree.map(lambda a: np.asarray(a[i]), self.data)


class _HostStream:
  """Batches of a streamed stream, read by grain threads ahead of the train step."""

  def __init__(self, source, seed: int, batch_shape, num_steps: int, num_threads: int, prefetch: int):
    self.source, self.seed, self.batch_shape = source, seed, batch_shape
    self.num_examples = len(source)
    self.num_steps = num_steps
    self.read_options = grain.ReadOptions(num_threads=num_threads, prefetch_buffer_size=prefetch)
    self._iter = None
    self._next = None

  def _load_step(self, step: int):
    idx = batch_indices(self.seed, step, 1, self.num_examples, self.batch_shape)[0].reshape(-1)
    examples = [self.source[int(i)] for i in idx]
    return jax.tree.map(lambda *xs: np.stack(xs).reshape((*self.batch_shape, *np.shape(xs[0]))), *examples)

  def take(self, step: int, k: int):
    """The batches of steps ``step .. step + k - 1``, leaves ``(k, *batch_shape, ...)``."""
    if self._next != step:  # first call, or a jump (a resume): restart the reader at this step
      ds = grain.MapDataset.range(step, self.num_steps).map(self._load_step)
      self._iter = iter(ds.to_iter_dataset(self.read_options))
    batches = [next(self._iter) for _ in range(k)]
    self._next = step + k
    return jax.tree.map(lambda *b: np.stack(b), *batches)


class Streams:
  """The streams of a run: validated, placed, and fed to the K-step program chunk by chunk.

  Args:
    data: stream name -> pytree of arrays, a source, or a :class:`Stream`.
    batch_shape: the default examples per step.
    data_seed: the run's data-order seed (each stream's own seed derives from
      it and the stream's name).
    num_steps: the run's total steps (the end of the streamed readers).
  """

  def __init__(self, data: Mapping[str, Any], *, batch_shape: tuple[int, ...], data_seed: int, num_steps: int):
    if not isinstance(data, Mapping) or not data:
      raise ValueError(
          "data must be a non-empty dict of stream name -> arrays, e.g. data={'x': images} "
          f"or data={{'real': {{'x': images, 'y': labels}}}}; got {type(data).__name__}"
      )
    self.streams: dict[str, Stream] = {}
    self.num_examples: dict[str, int] = {}
    self.batch_shapes: dict[str, tuple[int, ...]] = {}
    self.seeds: dict[str, int] = {}
    for name, value in data.items():
      stream = value if isinstance(value, Stream) else Stream(value)
      source = _is_source(stream.data)
      resident = (not source) if stream.resident is None else bool(stream.resident)
      if resident and source:
        raise ValueError(f"data stream '{name}' is a source, not arrays: it can only be streamed (resident=False)")
      shape = tuple(int(d) for d in (stream.batch_shape or batch_shape))
      if not shape or min(shape) < 1:
        raise ValueError(f"the batch shape of data stream '{name}' must be positive sizes such as (batch_size,), got {shape}")
      n = _num_examples(name, stream.data)
      if n == 0:
        raise ValueError(f"data stream '{name}' has no examples")
      try:
        steps_per_epoch(n, int(np.prod(shape)))
      except ValueError as e:
        raise ValueError(f"data stream '{name}': {e}") from None
      if not source:
        _check_finite(name, stream.data)
      self.streams[name] = dataclasses.replace(stream, resident=resident, batch_shape=shape)
      self.num_examples[name], self.batch_shapes[name] = n, shape
      self.seeds[name] = stream_seed(data_seed, name)
    self._host = {}
    for name, s in self.streams.items():
      if not s.resident:
        source = s.data if _is_source(s.data) else _ArraySource(s.data, self.num_examples[name])
        self._host[name] = _HostStream(source, self.seeds[name], s.batch_shape, num_steps, s.num_threads, s.prefetch)

  @property
  def resident(self) -> dict[str, Any]:
    """The streams that live on the device: name -> host pytree of arrays."""
    return {name: s.data for name, s in self.streams.items() if s.resident}

  @property
  def batch_ndims(self) -> dict[str, int]:
    """name -> ``len(batch_shape)``: the feed's batch axis (after the leading step axis)."""
    return {name: len(shape) for name, shape in self.batch_shapes.items()}

  def feed(self, step: int, k: int) -> dict[str, Any]:
    """Host arrays for steps ``step .. step + k - 1``: indices of resident streams, batches of streamed ones."""
    out = {}
    for name in self.streams:
      if name in self._host:
        out[name] = self._host[name].take(step, k)
      else:
        out[name] = batch_indices(self.seeds[name], step, k, self.num_examples[name], self.batch_shapes[name])
    return out
