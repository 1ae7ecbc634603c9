"""The training state: every network's parameters, optimizer state, statistics and the run's own state.

One pytree holds everything a run needs to continue (the checkpoint is this
pytree), while the static graph definitions stay outside it so the train step
can be a plain `jax.jit` over arrays (the Flax NNX functional API).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import nnx, struct

GraphDefs = Mapping[str, Any]


@struct.dataclass
class TrainState:
  """Everything that changes during training, as one pytree.

  Attributes:
    step: int32 scalar, the number of train steps taken.
    key: typed PRNG key of the run. Step ``s`` draws its randomness from
      ``fold_in(key, s)``, so a resumed run repeats exactly what an
      uninterrupted one would do.
    params: network name -> its ``nnx.Param`` state.
    rest: network name -> its other state (BatchNorm statistics, ...).
    opt_state: network name -> its optax state (networks with an optimizer).
    ema: network name -> ``{"params": ..., "rest": ...}``, the exponential
      moving average of its parameters and of the floating-point part of its
      other state (BatchNorm statistics), for the networks that keep one.
    aux: the run's auxiliary state: any pytree of arrays that is not a
      network (an image pool, a path-length mean), read and replaced by the
      objectives; ``None`` when the run keeps none.
  """

  step: jax.Array
  key: jax.Array
  params: dict[str, nnx.State]
  rest: dict[str, nnx.State]
  opt_state: dict[str, Any]
  ema: dict[str, dict[str, nnx.State]]
  aux: Any = None


def split_models(models: Mapping[str, nnx.Module]):
  """Splits NNX modules into static graph definitions, parameters and the rest."""
  graphdefs, params, rest = {}, {}, {}
  for name, model in models.items():
    graphdefs[name], params[name], rest[name] = nnx.split(model, nnx.Param, ...)
  return graphdefs, params, rest


def init_train_state(
    models: Mapping[str, nnx.Module],
    optimizers: Mapping[str, optax.GradientTransformation],
    key: jax.Array,
    *,
    ema_networks: tuple[str, ...] = (),
    aux: Any = None,
) -> tuple[dict[str, Any], TrainState]:
  """Builds the initial state of a run.

  Args:
    models: network name -> NNX module, already initialized.
    optimizers: network name -> optax transformation. Networks without an
      optimizer are held fixed (a frozen encoder, a restored stage-I generator).
    key: typed PRNG key (``jax.random.key(seed)``) for the run's randomness.
    ema_networks: names of networks whose parameters get an EMA copy.
    aux: the initial auxiliary state (a pytree of arrays), or ``None``.

  Returns:
    ``(graphdefs, state)``: the static graph definitions, to pass to
    :func:`make_train_step` and :func:`merge_models`, and the state.
  """
  if not jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
    raise ValueError(
        "key must be a typed PRNG key: use jax.random.key(seed), not jax.random.PRNGKey(seed)."
    )
  unknown = set(optimizers) - set(models)
  if unknown:
    raise ValueError(f"optimizers given for unknown networks {sorted(unknown)}; networks: {sorted(models)}")
  unknown = set(ema_networks) - set(models)
  if unknown:
    raise ValueError(f"ema_networks has unknown networks {sorted(unknown)}; networks: {sorted(models)}")
  graphdefs, params, rest = split_models(models)
  opt_state = {name: opt.init(params[name]) for name, opt in optimizers.items()}
  # Copies, so that donating the state never aliases the EMA and the live network.
  ema = {name: jax.tree.map(jnp.copy, {"params": params[name], "rest": rest[name]}) for name in ema_networks}
  aux = None if aux is None else jax.tree.map(jnp.asarray, aux)
  state = TrainState(
      step=jnp.zeros((), jnp.int32), key=key, params=params, rest=rest, opt_state=opt_state, ema=ema, aux=aux
  )
  return graphdefs, state


def _is_float(x) -> bool:
  return jnp.issubdtype(jnp.result_type(x), jnp.floating)


def update_ema(ema: dict[str, dict[str, nnx.State]], params, rest, decay: jax.Array):
  """One EMA step: ``e <- decay * e + (1 - decay) * live`` for parameters and floating statistics.

  Integer state (counters, RNG counts) is copied from the live network, since
  an average of counts means nothing.
  """
  def avg(e, p):
    return decay * e + (1.0 - decay) * p if _is_float(p) else p

  return {
      name: jax.tree.map(avg, avg_state, {"params": params[name], "rest": rest[name]})
      for name, avg_state in ema.items()
  }


def merge_models(graphdefs: GraphDefs, state: TrainState, *, use_ema: bool = False) -> dict[str, nnx.Module]:
  """Rebuilds the NNX modules from a state.

  With ``use_ema``, the networks that keep an EMA get their averaged
  parameters together with their averaged BatchNorm statistics (statistics of
  the live weights would not describe the averaged network's activations).
  """
  models = {}
  for name, graphdef in graphdefs.items():
    if use_ema and name in state.ema:
      models[name] = nnx.merge(graphdef, state.ema[name]["params"], state.ema[name]["rest"])
    else:
      models[name] = nnx.merge(graphdef, state.params[name], state.rest[name])
  return models
