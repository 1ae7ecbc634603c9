"""Data-parallel training over a ``jax.sharding.Mesh``: the same loop on 1 or N devices.

:func:`jaxgen.train.run_training` always runs through this module: one device
is a mesh of one. Layout (one mesh axis, ``"data"``):

* the :class:`TrainState` is **replicated** (``P()``): every device holds the
  parameters, optimizer state, BatchNorm statistics, EMA and auxiliary state;
* the device-resident data streams are **replicated** too. The train step
  gathers a random batch ``data[idx]`` on the device; with every device
  holding all rows, each device gathers its own slice of the batch locally,
  with no communication. Sharding the rows instead would save memory but turn
  every gather into an all-to-all (random indices land on any shard). The
  datasets of this library (MNIST: 60,000 x 784 float32 = 188 MB) fit on every
  device; larger ones are streamed from the host instead;
* the chunk's feed (index arrays ``(K, *batch_shape)`` of resident streams,
  batches ``(K, *batch_shape, ...)`` of streamed ones) is **sharded along the
  examples axis** (the last batch axis), so each device runs the forward and
  backward pass on ``B / num_devices`` examples.

Everything else follows from XLA's sharding propagation (GSPMD) under
``jax.jit``: batch means (the loss, BatchNorm's batch statistics) become
all-reduces over the mesh, so the sharded step computes the same function as
the single-device one (up to float summation order), and the gradients
arrive replicated. Nothing in the objectives or models changes.

Usage (what ``run_training`` does)::

  dp = train.DataParallel(train.data_mesh())        # all local devices
  multi = dp.compile(train.make_multi_step(step), batch_ndims={"x": 1})
  state, metrics = multi(dp.put_state(state), dp.put_data({"x": images}), {"x": indices})

Multi-host (several machines, each with its local accelerators): start every
process with the same program and call, before anything else touches JAX::

  jax.distributed.initialize(coordinator_address="host0:1234",
                             num_processes=P, process_id=i)

(on Cloud TPU and under SLURM / Open MPI the arguments are found
automatically: ``jax.distributed.initialize()``). Then build the mesh over
``jax.devices()`` (every process's devices: ``data_mesh(jax.devices())``) instead of the
local ones. Every process loads the same dataset and draws the same indices
(the data order is a function of ``(data_seed, step)``), so
:meth:`DataParallel.put_data` and :meth:`DataParallel.put_feed` build the
global arrays from each process's identical host copy with
``jax.make_array_from_callback``, each process filling only its own devices;
the batch size must divide by the global device count. Metrics come back
replicated and are read on every process; write files from process 0 only
(``jax.process_index() == 0``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxgen.train._state import TrainState
from jaxgen.train._step import chunk_length
from jaxgen.train._step import compiler_options as default_compiler_options

DATA_AXIS = "data"


def data_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
  """A one-axis mesh named ``"data"`` over ``devices`` (default: all local devices)."""
  devices = list(jax.local_devices() if devices is None else devices)
  if not devices:
    raise ValueError("data_mesh needs at least one device")
  return Mesh(np.array(devices), (DATA_AXIS,))


class DataParallel:
  """Places a run's state, data and indices on a mesh and compiles its chunks for it.

  Attributes:
    mesh: the mesh; its axis ``"data"`` splits the batch.
    replicated: ``NamedSharding(mesh, P())``, the sharding of state and data.
  """

  def __init__(self, mesh: Mesh):
    if DATA_AXIS not in mesh.axis_names:
      raise ValueError(f"the mesh needs an axis named '{DATA_AXIS}'; it has {mesh.axis_names}: use data_mesh()")
    self.mesh = mesh
    self.replicated = NamedSharding(mesh, PartitionSpec())

  @property
  def num_shards(self) -> int:
    """Devices the batch is split over."""
    return self.mesh.shape[DATA_AXIS]

  def batch_sharding(self, ndim: int, axis: int) -> NamedSharding:
    """Sharding of an array with ``ndim`` axes whose examples axis ``axis`` is split over ``"data"``."""
    if not 0 <= axis < ndim:
      raise ValueError(f"batch axis {axis} out of range for an array with {ndim} axes")
    return NamedSharding(self.mesh, PartitionSpec(*([None] * axis), DATA_AXIS))

  def check_batch(self, batch_shape: tuple[int, ...]) -> None:
    """Raises unless the examples per batch (last axis) divide by the device count."""
    b = batch_shape[-1]
    if b % self.num_shards:
      lower, upper = b - b % self.num_shards, b + self.num_shards - b % self.num_shards
      raise ValueError(
          f"batch size {b} is not divisible by the {self.num_shards} devices of the mesh: "
          f"use a multiple of {self.num_shards} (e.g. {lower or upper} or {upper}) or fewer devices."
      )

  def put_state(self, state: TrainState) -> TrainState:
    """Replicates the state on every device of the mesh (from a host copy, so multi-host works too)."""
    return jax.tree.map(self._replicate, state)

  def _replicate(self, x):
    if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
      data = _global_array(np.asarray(jax.random.key_data(x)), self.replicated)
      return jax.random.wrap_key_data(data, impl=jax.random.key_impl(x))
    return _global_array(np.asarray(x), self.replicated)

  def put_data(self, data: Any) -> Any:
    """Replicates a pytree of host arrays (leading axis = examples) on every device."""
    return jax.tree.map(lambda a: _global_array(np.asarray(a), self.replicated), data)

  def put_feed(self, feed: Mapping[str, Any], batch_ndims: Mapping[str, int] | None = None) -> dict[str, Any]:
    """Places a chunk's feed sharded along each stream's examples axis.

    Args:
      feed: stream name -> a pytree whose leaves are ``(K, *batch_shape,
        ...)``: host arrays, or device arrays already placed by this method.
      batch_ndims: stream name -> ``len(batch_shape)``; default: every axis
        after the first is a batch axis (the index arrays of resident streams).
    """
    out = {}
    for name, part in feed.items():
      def put(a, name=name):
        nd = batch_ndims[name] if batch_ndims and name in batch_ndims else np.ndim(a) - 1
        sharding = self.batch_sharding(np.ndim(a), nd)
        self.check_batch(np.shape(a)[1 : 1 + nd])
        if isinstance(a, jax.Array) and a.sharding == sharding:
          return a
        return _global_array(np.asarray(a), sharding)
      out[name] = jax.tree.map(put, part)
    return out

  def compile(
      self,
      multi_step: Callable,
      *,
      batch_ndims: Mapping[str, int] | None = None,
      donate: bool = True,
      compiler_options: dict[str, Any] | None = None,
  ) -> Callable:
    """Wraps ``multi_step(state, data, feed, start=None)`` (from :func:`make_multi_step`) for the mesh.

    The returned function takes the feed as host arrays (or already placed),
    checks the batch size, places it sharded (:meth:`put_feed` with
    ``batch_ndims``), and runs one program whose state and metrics come back
    replicated, so chunk after chunk reuses the same compiled program (one
    per schedule of every-k updates, when ``start`` is given: see
    :func:`make_multi_step`). Its ``lower(state, data, feed, start=None)``
    lowers that program (to time compilation or read its cost).
    ``compiler_options``: XLA options (default: those ``multi_step`` was made
    with by :func:`make_multi_step`, else jaxgen's for the mesh's platform).
    """
    inner = getattr(multi_step, "__wrapped__", multi_step)
    # make_multi_step's schedule: which every-k updates an unrolled chunk runs, from its first step.
    schedule = getattr(inner, "schedule", None)
    if compiler_options is not None:
      options = dict(compiler_options)
    else:
      options = getattr(inner, "compiler_options", None)
      if options is None:
        options = default_compiler_options(self.mesh.devices.flat[0].platform)
    # The outer jit fixes where the outputs live; the inputs arrive placed. It compiles the
    # function under make_multi_step's jit (compiler options are only allowed on the
    # outermost jit), or a user's function as it is.
    jitted = jax.jit(inner, out_shardings=self.replicated, donate_argnums=(0,) if donate else (),
                     static_argnames=("due",) if schedule is not None else (), compiler_options=options)

    def call(method, state, data, feed, start):
      placed = self.put_feed(feed, batch_ndims)
      if schedule is None:
        return method(state, data, placed)
      return method(state, data, placed, due=schedule(start, chunk_length(placed)))

    def run(state, data, feed, start=None):
      return call(jitted, state, data, feed, start)

    def lower(state, data, feed, start=None):
      return call(jitted.lower, state, data, feed, start)

    run.lower = lower
    return run


def _global_array(host: np.ndarray, sharding: NamedSharding) -> jax.Array:
  # Each process fills only its own devices from its (identical) host copy,
  # which is also correct on a single host.
  return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])
