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
  """

  step: jax.Array
  key: jax.Array
  batch: Any
  aux: Any
  every: int = struct.field(pytree_node=False, default=1)


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
