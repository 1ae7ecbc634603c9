"""Pure train steps built from objectives, compiled with plain ``jax.jit``.

A train step is a sequence of :class:`Update` s. Each update differentiates one
objective with respect to one network's parameters and applies that network's
optimizer; the other networks enter as constants. A VAE has one update; a GAN
has a discriminator update (repeated k times, Algorithm 1 of Goodfellow et al.
2014) followed by a generator update; CycleGAN-style models add more.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from jaxgen.train._state import GraphDefs, TrainState

# jaxgen's XLA options on CPU, each measured with benchmarks/step.py and in-process A/B runs of
# the train steps (batch 128, 2 cores, K steps per dispatch) and tested to compute the same steps:
# * Copy insertion without region analysis copies every donated parameter and Adam moment that
#   a matmul reads and is then updated in place (~100 copies of full weight matrices in the 2014
#   GAN's step); with it the copies go (~10 % there). XLA's own option, off by default on CPU.
# * XLA's CPU backend hands single dots, single convolutions and reductions to its YNNPACK
#   library by default. Its own (Eigen) kernels were faster for the convolutions (conv VAE
#   10.7-12 -> 15-18 steps/s, DCGAN 1.5-1.6 -> 1.8-2.0), while YNNPACK's reductions stayed
#   faster (without them BatchNorm statistics became slow reduce-windows, 12 % of DCGAN's step).
#   For dots it depends on the shapes: XLA's own were 6-15 % faster in the autoencoder's and the
#   MLP VAE's steps (784-wide layers), YNNPACK's 6-11 % faster in the toy GAN's (400-wide), and
#   the 2014 GAN, conv VAE and DCGAN did not tell them apart: ``ynnpack_dots`` chooses.
_YNN_FUSION_TYPE = "xla_cpu_experimental_ynn_fusion_type"


def compiler_options(platform: str | None = None, *, ynnpack_dots: bool = True) -> dict[str, Any]:
  """The XLA options jaxgen compiles its train programs with.

  Args:
    platform: the devices' platform ('cpu', 'gpu', 'tpu'); default JAX's backend.
    ynnpack_dots: on CPU, whether single matrix products go to the YNNPACK
      library (XLA's default) or to XLA's own kernels; the autoencoder and
      VAE experiments pass ``False`` (measured faster for them).

  Returns:
    A dict for ``jax.jit(..., compiler_options=...)``; empty off the CPU.
  """
  if (platform or jax.default_backend()) != "cpu":
    return {}
  libraries = ("LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT,LIBRARY_FUSION_TYPE_REDUCE" if ynnpack_dots
               else "LIBRARY_FUSION_TYPE_REDUCE")
  return {"xla_cpu_copy_insertion_use_region_analysis": True, _YNN_FUSION_TYPE: libraries}


_default_options = compiler_options  # make_multi_step's argument of the same name shadows it


# objective(models, batch, key) -> (scalar loss to minimize, dict of scalar metrics)
Objective = Callable[[dict[str, nnx.Module], Any, jax.Array], tuple[jax.Array, dict[str, jax.Array]]]


@dataclasses.dataclass(frozen=True)
class Update:
  """One gradient update of one network.

  Attributes:
    network: the network whose parameters this update changes.
    objective: ``objective(models, batch, key) -> (loss, metrics)`` with
      ``models`` the dict of all networks as NNX modules. The loss is a scalar
      mean over the batch; metrics are scalars to log.
    repeats: how many times to apply the update in one step (k discriminator
      steps per generator step).
    split_batch: with ``repeats > 1``, whether the batch has a leading axis of
      size ``repeats`` giving each repeat its own minibatch (Algorithm 1 draws a
      fresh minibatch for each of the k discriminator steps).
  """

  network: str
  objective: Objective
  repeats: int = 1
  split_batch: bool = False

  def __post_init__(self):
    if self.repeats < 1:
      raise ValueError(f"Update.repeats must be >= 1, got {self.repeats}")


def _rest_of(models: Mapping[str, nnx.Module]) -> dict[str, nnx.State]:
  return {name: nnx.split(m, nnx.Param, ...)[2] for name, m in models.items()}


def _all_finite(tree) -> jax.Array:
  leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]
  return jnp.all(jnp.stack(leaves)) if leaves else jnp.array(True)


def make_train_step(
    graphdefs: GraphDefs,
    optimizers: Mapping[str, optax.GradientTransformation],
    updates: Sequence[Update],
    *,
    ema_decay: float | None = None,
    skip_nonfinite: bool = False,
) -> Callable[[TrainState, Any], tuple[TrainState, dict[str, jax.Array]]]:
  """Builds the pure function ``step(state, batch) -> (state, metrics)``.

  The function is not compiled: wrap it with :func:`jax.jit` (donating the
  state) or scan it with :func:`make_multi_step`.

  Randomness: the step's key is ``fold_in(state.key, state.step)``, split once
  per update and repeat, so the same step of a resumed run draws the same noise.

  Args:
    graphdefs: from :func:`init_train_state`.
    optimizers: network name -> optax transformation (same as at init).
    updates: the updates, applied in order.
    ema_decay: decay of the parameter EMA of the networks that keep one.
    skip_nonfinite: when an update's loss or gradient is not finite, leave that
      network's parameters and optimizer state unchanged (and count it in the
      ``skipped/<network>`` metric) instead of applying it.

  Returns:
    The step function. Its metrics hold each objective's metrics, plus
    ``loss/<network>`` and ``grad_norm/<network>`` of the last repeat.
  """
  for u in updates:
    if u.network not in optimizers:
      raise ValueError(f"update of '{u.network}' has no optimizer; optimizers: {sorted(optimizers)}")
  num_keys = sum(u.repeats for u in updates)

  def apply_update(u: Update, params, rest, opt_state, batch, key):
    def loss_fn(p):
      models = {
          name: nnx.merge(graphdefs[name], p if name == u.network else params[name], rest[name], copy=True)
          for name in graphdefs
      }
      loss, metrics = u.objective(models, batch, key)
      return loss, (metrics, _rest_of(models))

    (loss, (metrics, new_rest)), grads = jax.value_and_grad(loss_fn, has_aux=True)(params[u.network])
    delta, new_opt = optimizers[u.network].update(grads, opt_state[u.network], params[u.network])
    new_params = optax.apply_updates(params[u.network], delta)
    grad_norm = optax.tree.norm(grads)
    metrics = dict(metrics)
    metrics[f"loss/{u.network}"] = loss
    metrics[f"grad_norm/{u.network}"] = grad_norm
    if skip_nonfinite:
      ok = jnp.isfinite(loss) & jnp.isfinite(grad_norm) & _all_finite(new_params)
      keep = lambda new, old: jax.tree.map(lambda a, b: jnp.where(ok, a, b), new, old)
      new_params = keep(new_params, params[u.network])
      new_opt = keep(new_opt, opt_state[u.network])
      new_rest = keep(new_rest, rest)
      metrics[f"skipped/{u.network}"] = (~ok).astype(jnp.float32)
    params = {**params, u.network: new_params}
    opt_state = {**opt_state, u.network: new_opt}
    return params, new_rest, opt_state, metrics

  def step(state: TrainState, batch) -> tuple[TrainState, dict[str, jax.Array]]:
    keys = jax.random.split(jax.random.fold_in(state.key, state.step), num_keys)
    params, rest, opt_state = dict(state.params), dict(state.rest), dict(state.opt_state)
    metrics: dict[str, jax.Array] = {}
    k = 0
    for u in updates:
      for r in range(u.repeats):
        sub_batch = jax.tree.map(lambda a: a[r], batch) if u.split_batch else batch
        params, rest, opt_state, m = apply_update(u, params, rest, opt_state, sub_batch, keys[k])
        metrics.update(m)
        k += 1
    ema = state.ema
    if ema_decay is not None and ema:
      ema = {
          name: jax.tree.map(lambda e, p: ema_decay * e + (1.0 - ema_decay) * p, avg, params[name])
          for name, avg in ema.items()
      }
    new_state = state.replace(step=state.step + 1, params=params, rest=rest, opt_state=opt_state, ema=ema)
    return new_state, metrics

  return step


def make_multi_step(
    step_fn, *, donate: bool = True, unroll: bool = False, compiler_options: Mapping[str, Any] | None = None
):
  """Compiles K steps into one dispatch: ``run(state, data, indices)``.

  ``data`` is a pytree of arrays resident on the device (the whole training
  set); ``indices`` is an int array ``(K, *batch_shape)`` of example indices,
  one row per step. The batches are gathered on the device inside one
  ``jax.lax.scan``, so no Python runs between the K steps.

  ``unroll=True`` unrolls the K steps into straight-line code. XLA's CPU
  backend runs convolutions inside a loop body several times slower than
  outside one (measured here: a conv VAE step at batch 128 took 0.62 s in a
  rolled scan of any length, 0.09 s unrolled), so convolutional models on CPU
  should unroll a few steps per dispatch; compile time grows with K.

  ``compiler_options``: XLA options of the compilation (default
  :func:`compiler_options` for JAX's backend).

  Returns:
    A jitted function returning ``(state, metrics)`` with each metric stacked
    over the K steps.
  """

  def run(state, data, indices):
    def body(state, idx):
      batch = jax.tree.map(lambda a: a[idx], data)
      return step_fn(state, batch)

    if not unroll:
      return jax.lax.scan(body, state, indices)
    # Straight-line code by hand: lax.scan(unroll=True) still emits a loop when K == 1.
    outputs = []
    for i in range(indices.shape[0]):
      state, metrics = body(state, indices[i])
      outputs.append(metrics)
    return state, jax.tree.map(lambda *m: jnp.stack(m), *outputs)

  options = _default_options() if compiler_options is None else dict(compiler_options)
  # Kept on the traced function, so that DataParallel.compile, whose outer jit replaces this
  # one, compiles with the same options.
  run.compiler_options = options
  return jax.jit(run, donate_argnums=(0,) if donate else (), compiler_options=options)
