"""The contract between the training core and a model family: a step context and updates.

An objective is a plain pure function ``objective(models, ctx)`` returning
``(loss, metrics)`` or ``(loss, metrics, new_aux)``:

* ``models``: network name -> NNX module (every network of the run; the ones
  this update differentiates carry the parameters being differentiated);
* ``ctx``: a :class:`Context` with the step, this update's key, the batch of
  every data stream and the run's auxiliary state;
* ``loss``: a scalar to minimize; ``metrics``: scalars to log;
* ``new_aux``: the auxiliary state after this update (an image pool with new
  fakes in it, a running path-length mean); omitted when unchanged.

An :class:`Update` says which networks an objective differentiates (one, or
several jointly: one loss, each network's gradient applied by its own
optimizer), how often it repeats within a step, and on which steps it runs.
A :class:`Forward` placed before updates computes outputs once per step that
they share (``ctx.shared[name]``), as the reference implementations'
``forward()`` does: Pix2pix's G(a), seen by D's update without its gradient
and by G's update with it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import jax
from flax import nnx, struct


@struct.dataclass
class Context:
  """What an objective sees of the step it runs in.

  Attributes:
    step: int32 scalar, the train step (0 for the first step). Schedules and
      lazy terms read it; it is a traced value, so branch with ``jnp.where``
      or ``jax.lax.cond``, not ``if``.
    key: this update's typed PRNG key, ``fold_in(run key, step)`` split once
      per update and repeat: a resumed run draws the same noise.
    batch: stream name -> that stream's batch (the pytree given for the
      stream, gathered at this step's indices); ``{"x": images}`` for a run
      trained on ``data={"x": images}``.
    aux: the run's auxiliary state (any pytree; ``None`` when the run keeps
      none), as left by the previous update.
    every: the interval of this update (1, or k for a term run every k steps),
      so lazy regularisers can scale their loss by it.
    shared: :class:`Forward` name -> its outputs this step, for the updates
      after it (empty when the step has no forward).
  """

  step: jax.Array
  key: jax.Array
  batch: Any
  aux: Any
  every: int = struct.field(pytree_node=False, default=1)
  shared: Any = struct.field(default_factory=dict)


# objective(models, ctx) -> (loss, metrics) or (loss, metrics, new_aux)
Objective = Callable[[Mapping[str, nnx.Module], Context], tuple]


@dataclasses.dataclass(frozen=True)
class Update:
  """One gradient update of one network, or of several jointly.

  Attributes:
    networks: the network (a name) or networks (a tuple of names) whose
      parameters the objective's gradient moves; every one needs an optimizer.
      Several networks share one loss (CycleGAN's two generators) and each
      applies its own optimizer to its own gradient.
    objective: see the module docstring.
    repeats: applications per step (k discriminator steps, Algorithm 1 of
      Goodfellow et al. 2014), each with its own key.
    every: run on the steps with ``step % every == 0`` only (lazy
      regularisation: R1 every 16 steps, path length every 4). A function of
      the step alone, so a resumed run runs it on the same steps.
    split_batch: with ``repeats > 1``, every leaf of the batch has a leading
      axis of size ``repeats`` and repeat ``r`` sees slice ``r`` (a fresh
      minibatch for each discriminator step).
    name: names the update's metrics ``loss/<name>``, ``grad_norm/<name>``;
      default the network names joined by ``+``.
  """

  networks: str | tuple[str, ...]
  objective: Objective
  repeats: int = 1
  every: int = 1
  split_batch: bool = False
  name: str | None = None

  def __post_init__(self):
    networks = (self.networks,) if isinstance(self.networks, str) else tuple(self.networks)
    if not networks or not all(isinstance(n, str) and n for n in networks):
      raise ValueError(f"Update.networks must name one network or a tuple of networks, got {self.networks!r}")
    if len(set(networks)) != len(networks):
      raise ValueError(f"Update.networks names a network twice: {networks}")
    object.__setattr__(self, "networks", networks)
    if self.name is None:
      object.__setattr__(self, "name", "+".join(networks))
    for field in ("repeats", "every"):
      value = getattr(self, field)
      if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"Update.{field} must be an integer >= 1, got {value!r}")
    if not callable(self.objective):
      raise ValueError(f"Update.objective must be a function objective(models, ctx), got {type(self.objective).__name__}")


@dataclasses.dataclass(frozen=True)
class Forward:
  """Outputs computed once per step and shared by the updates after it.

  ``fn(models, ctx) -> outputs`` (a pytree of arrays) runs with the
  parameters as they are at its place in the step; every later update reads
  ``ctx.shared[name]``. An update that moves one of ``networks`` gets that
  network's gradient through the outputs as well: the step keeps the
  forward's vector-Jacobian product and applies it to the update's
  cotangent of the outputs, so the forward pass is not recomputed (wrap the
  outputs in ``jax.lax.stop_gradient`` where an update must not see that
  gradient). The networks' other state (BatchNorm statistics) is taken from
  this one forward pass, as in the reference implementations' ``forward()``.

  Attributes:
    networks: the network (a name) or networks whose parameters the outputs
      are differentiated with respect to.
    fn: ``fn(models, ctx)``; ``ctx.key`` is the forward's own key.
    name: the key of ``ctx.shared``.
  """

  networks: str | tuple[str, ...]
  fn: Callable[[Mapping[str, nnx.Module], Context], Any]
  name: str

  def __post_init__(self):
    networks = (self.networks,) if isinstance(self.networks, str) else tuple(self.networks)
    if not networks or not all(isinstance(n, str) and n for n in networks):
      raise ValueError(f"Forward.networks must name one network or a tuple of networks, got {self.networks!r}")
    object.__setattr__(self, "networks", networks)
    if not isinstance(self.name, str) or not self.name:
      raise ValueError(f"Forward.name must be a non-empty string, got {self.name!r}")
    if not callable(self.fn):
      raise ValueError(f"Forward.fn must be a function fn(models, ctx), got {type(self.fn).__name__}")
