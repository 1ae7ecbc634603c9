"""The training state: every network's parameters, optimizer state and statistics.

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
    opt_state: network name -> its optax state.
    ema: network name -> exponential moving average of its parameters, for
      the networks that keep one (a GAN's generator); empty otherwise.
  """

  step: jax.Array
  key: jax.Array
  params: dict[str, nnx.State]
  rest: dict[str, nnx.State]
  opt_state: dict[str, Any]
  ema: dict[str, nnx.State]


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
) -> tuple[dict[str, Any], TrainState]:
  """Builds the initial state of a run.

  Args:
    models: network name -> NNX module, already initialized.
    optimizers: network name -> optax transformation. Networks without an
      optimizer are held fixed (a frozen encoder, a fixed p_g).
    key: typed PRNG key (``jax.random.key(seed)``) for the run's randomness.
    ema_networks: names of networks whose parameters get an EMA copy.

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
  # Copies, so that donating the state never aliases the EMA and the parameters.
  ema = {name: jax.tree.map(jnp.copy, params[name]) for name in ema_networks}
  state = TrainState(
      step=jnp.zeros((), jnp.int32), key=key, params=params, rest=rest, opt_state=opt_state, ema=ema
  )
  return graphdefs, state


def merge_models(graphdefs: GraphDefs, state: TrainState, *, use_ema: bool = False) -> dict[str, nnx.Module]:
  """Rebuilds the NNX modules from a state (EMA parameters where asked and kept)."""
  models = {}
  for name, graphdef in graphdefs.items():
    params = state.ema[name] if use_ema and name in state.ema else state.params[name]
    models[name] = nnx.merge(graphdef, params, state.rest[name])
  return models
