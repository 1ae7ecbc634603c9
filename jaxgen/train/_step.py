"""Pure train steps built from objectives, compiled with plain ``jax.jit``.

A train step is a sequence of :class:`~jaxgen.objectives.Update` s. A VAE has
one update; a GAN has a discriminator update (repeated k times, Algorithm 1 of
Goodfellow et al. 2014) followed by a generator update; CycleGAN updates both
generators jointly; StyleGAN adds lazy regularisers that run every k steps.
A :class:`~jaxgen.objectives.Forward` among them computes outputs once for the
updates after it (Pix2pix's G(a): D's update and G's share one forward pass).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from jaxgen.objectives import Context, Forward, Update
from jaxgen.train._ema import EmaSchedule, as_schedule
from jaxgen.train._state import GraphDefs, TrainState, update_ema

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


def _all_finite(tree) -> jax.Array:
  leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]
  return jnp.all(jnp.stack(leaves)) if leaves else jnp.array(True)


def _rest_of(models: Mapping[str, nnx.Module]) -> dict[str, nnx.State]:
  return {name: nnx.split(m, nnx.Param, ...)[2] for name, m in models.items()}


def _split_outputs(out, update: Update):
  if not isinstance(out, tuple) or len(out) not in (2, 3):
    raise ValueError(
        f"the objective of update '{update.name}' must return (loss, metrics) or (loss, metrics, new_aux), "
        f"got {type(out).__name__}" + (f" of length {len(out)}" if isinstance(out, tuple) else "")
    )
  return (out[0], out[1], None, False) if len(out) == 2 else (out[0], out[1], out[2], True)


def make_train_step(
    graphdefs: GraphDefs,
    optimizers: Mapping[str, optax.GradientTransformation],
    updates: Sequence[Update | Forward],
    *,
    ema_decay: float | EmaSchedule | None = None,
    skip_nonfinite: bool = False,
) -> Callable[[TrainState, Any], tuple[TrainState, dict[str, jax.Array]]]:
  """Builds the pure function ``step(state, batch) -> (state, metrics)``.

  The function is not compiled: wrap it with :func:`jax.jit` (donating the
  state) or scan it with :func:`make_multi_step`.

  Each update differentiates its objective with respect to the parameters of
  its networks (jointly when it names several) and applies each network's own
  optimizer; the other networks enter as constants. Every network's other
  state (BatchNorm statistics) is taken from the forward passes of the
  objective, and the auxiliary state from what the objective returns. An
  update with ``every = k`` runs on the steps ``step % k == 0`` only; on the
  other steps its metrics are NaN and ``applied/<name>`` is 0, which the host
  loop reads. Which steps those are is decided at run time (a ``lax.cond``, so
  skipped steps cost nothing) unless the step is called with ``due``, the
  names of the every-k updates that run in it, known when compiling (what
  :func:`make_multi_step` does in an unrolled chunk).

  A :class:`Forward` runs once where it stands in the sequence; the updates
  after it read its outputs in ``ctx.shared``, and an update moving one of its
  networks gets their gradient through the forward's vector-Jacobian product
  (not a second forward pass).

  Randomness: the step's key is ``fold_in(state.key, state.step)``, split once
  per update, repeat and forward, so the same step of a resumed run draws the
  same noise.

  Args:
    graphdefs: from :func:`init_train_state`.
    optimizers: network name -> optax transformation (same as at init).
    updates: the updates (and forwards), applied in order.
    ema_decay: decay of the EMA of the networks that keep one: a float or a
      schedule ``decay(step)`` (``jaxgen.train.ema_start``, ``ema_rampup``).
    skip_nonfinite: when an update's loss or gradient is not finite, leave its
      networks, their optimizer states and the auxiliary state unchanged (and
      count it in ``skipped/<name>``) instead of applying it.

  Returns:
    The step function ``step(state, batch, due=None)``; its ``lazy_every``
    attribute maps each every-k update to its k. Its metrics hold each objective's metrics, plus
    ``loss/<name>`` and ``grad_norm/<name>`` (the norm over all the update's
    networks) of the last repeat of every update.
  """
  for u in updates:
    if isinstance(u, Forward):
      unknown = [n for n in u.networks if n not in graphdefs]
      if unknown:
        raise ValueError(f"forward '{u.name}' differentiates '{unknown[0]}', which is not a network: {sorted(graphdefs)}")
      continue
    for network in u.networks:
      if network not in optimizers:
        raise ValueError(f"update '{u.name}' moves '{network}', which has no optimizer; optimizers: {sorted(optimizers)}")
  names = [u.name for u in updates]
  if len(set(names)) != len(names):
    raise ValueError(f"two updates share the name {sorted(n for n in names if names.count(n) > 1)[0]!r}: give them names")
  num_keys = sum(1 if isinstance(u, Forward) else u.repeats for u in updates)
  ema_schedule = as_schedule(ema_decay)

  def merged(params, rest, moved):
    """Every network as a module, with the parameters being differentiated (``moved``) where given."""
    return {name: nnx.merge(graphdefs[name], moved.get(name, params[name]), rest[name], copy=True)
            for name in graphdefs}

  def run_forward(f: Forward, params, rest, ctx: Context):
    """The forward's outputs, the networks' state after it, and its vector-Jacobian product."""
    def fn(moved):
      models = merged(params, rest, moved)
      return f.fn(models, ctx), _rest_of(models)

    outputs, vjp, new_rest = jax.vjp(fn, {name: params[name] for name in f.networks}, has_aux=True)
    return outputs, new_rest, vjp

  def apply_update(u: Update, params, rest, opt_state, aux, ctx: Context, vjps):
    # The forwards whose networks this update moves: differentiate through their outputs too.
    through = {name: vjp for name, (networks, vjp) in vjps.items() if set(networks) & set(u.networks)}

    def loss_fn(moved, shared_in):
      models = merged(params, rest, moved)
      out = u.objective(models, ctx.replace(shared={**ctx.shared, **shared_in}))
      loss, metrics, new_aux, has_aux = _split_outputs(out, u)
      return loss, (dict(metrics), _rest_of(models), new_aux if has_aux else aux)

    moved = {name: params[name] for name in u.networks}
    shared_in = {name: ctx.shared[name] for name in through}
    (loss, (metrics, new_rest, new_aux)), (grads, shared_grads) = jax.value_and_grad(
        loss_fn, argnums=(0, 1), has_aux=True)(moved, shared_in)
    for name, vjp in through.items():
      (forward_grads,) = vjp(shared_grads[name])
      for network in set(forward_grads) & set(grads):
        grads[network] = jax.tree.map(jnp.add, grads[network], forward_grads[network])
    new_params, new_opt = dict(params), dict(opt_state)
    for name in u.networks:
      delta, new_opt[name] = optimizers[name].update(grads[name], opt_state[name], params[name])
      new_params[name] = optax.apply_updates(params[name], delta)
    grad_norm = optax.tree.norm(grads)
    metrics[f"loss/{u.name}"] = loss
    metrics[f"grad_norm/{u.name}"] = grad_norm
    if skip_nonfinite:
      ok = jnp.isfinite(loss) & jnp.isfinite(grad_norm) & _all_finite({n: new_params[n] for n in u.networks})
      keep = lambda new, old: jax.tree.map(lambda a, b: jnp.where(ok, a, b), new, old)
      new_params, new_opt, new_rest, new_aux = keep(
          (new_params, new_opt, new_rest, new_aux), (params, opt_state, rest, aux))
      metrics[f"skipped/{u.name}"] = (~ok).astype(jnp.float32)
    return new_params, new_rest, new_opt, new_aux, metrics

  def nan_metrics(u: Update, operands, vjps):
    """The metrics of ``u`` on a step it does not run: NaN, with the shapes of those it would return."""
    shapes = jax.eval_shape(lambda ops: apply_update(u, *ops, vjps), operands)[-1]
    nan = {k: jnp.full(v.shape, jnp.nan, v.dtype) for k, v in shapes.items()}
    if skip_nonfinite:
      nan[f"skipped/{u.name}"] = jnp.zeros((), jnp.float32)
    return nan

  def lazy_update(u: Update, params, rest, opt_state, aux, ctx: Context, vjps, due: bool | None):
    """``apply_update`` on the steps ``step % every == 0``; elsewhere the state as it was.

    ``due`` None: decided at run time by a ``lax.cond``. True or False: known
    when compiling (an unrolled chunk whose first step the host knows), so the
    update is straight-line code or absent: XLA's CPU backend runs the
    convolutions of a ``cond`` branch, as those of a loop body, many times
    slower (StyleGAN2's 128-channel 32x32 step at batch 32 running R1 and
    the path length, 2 cores: ~155 s with both inside conds, 5.0 s
    straight-line; 1.7 s without them).
    """
    operands = (params, rest, opt_state, aux, ctx)
    if due is None:
      run = lambda ops: apply_update(u, *ops, vjps)
      skip = lambda ops: (*ops[:4], nan_metrics(u, ops, vjps))
      *new, metrics = jax.lax.cond(ctx.step % u.every == 0, run, skip, operands)
      applied = ctx.step % u.every == 0
    elif due:
      *new, metrics = apply_update(u, *operands, vjps)
      applied = jnp.array(True)
    else:
      new, metrics, applied = [params, rest, opt_state, aux], nan_metrics(u, operands, vjps), jnp.array(False)
    metrics[f"applied/{u.name}"] = applied.astype(jnp.float32)
    return (*new, metrics)

  def step(state: TrainState, batch, due: Collection[str] | None = None) -> tuple[TrainState, dict[str, jax.Array]]:
    keys = jax.random.split(jax.random.fold_in(state.key, state.step), num_keys)
    params, rest, opt_state, aux = dict(state.params), dict(state.rest), dict(state.opt_state), state.aux
    metrics: dict[str, jax.Array] = {}
    shared, vjps = {}, {}
    k = 0
    for u in updates:
      if isinstance(u, Forward):
        ctx = Context(step=state.step, key=keys[k], batch=batch, aux=aux, shared=dict(shared))
        shared[u.name], rest, vjp = run_forward(u, params, rest, ctx)
        vjps[u.name] = (u.networks, vjp)
        k += 1
        continue
      for r in range(u.repeats):
        sub_batch = jax.tree.map(lambda a: a[r], batch) if u.split_batch else batch
        ctx = Context(step=state.step, key=keys[k], batch=sub_batch, aux=aux, every=u.every, shared=dict(shared))
        if u.every == 1:
          params, rest, opt_state, aux, m = apply_update(u, params, rest, opt_state, aux, ctx, vjps)
        else:
          params, rest, opt_state, aux, m = lazy_update(u, params, rest, opt_state, aux, ctx, vjps,
                                                        None if due is None else u.name in due)
        metrics.update(m)
        k += 1
    ema = state.ema
    if ema_schedule is not None and ema:
      ema = update_ema(ema, params, rest, ema_schedule(state.step))
    new_state = state.replace(
        step=state.step + 1, params=params, rest=rest, opt_state=opt_state, ema=ema, aux=aux)
    return new_state, metrics

  step.lazy_every = {u.name: u.every for u in updates if isinstance(u, Update) and u.every > 1}
  return step


def make_multi_step(
    step_fn, *, donate: bool = True, unroll: bool = False, compiler_options: Mapping[str, Any] | None = None
):
  """Compiles K steps into one dispatch: ``run(state, data, feed, start=None)``.

  ``data`` maps the streams that live on the device to their pytree of arrays
  (the whole training set of that stream); ``feed`` maps every stream to the
  K steps' share of it: for a stream in ``data``, an int array
  ``(K, *batch_shape)`` of example indices, gathered on the device inside the
  program; for a stream streamed from the host, its batches themselves,
  leaves ``(K, *batch_shape, ...)``. One ``jax.lax.scan`` runs the K steps, so
  no Python runs between them.

  ``unroll=True`` unrolls the K steps into straight-line code. XLA's CPU
  backend runs convolutions inside a loop body several times slower than
  outside one (measured here: a conv VAE step at batch 128 took 0.62 s in a
  rolled scan of any length, 0.09 s unrolled), so convolutional models on CPU
  should unroll a few steps per dispatch; compile time grows with K. The same
  holds for the branches of a ``lax.cond``, where the every-k updates of
  :func:`make_train_step` run: given ``start``, the chunk's first step (the
  host loop's count, equal to ``state.step``), an unrolled chunk knows which
  of its steps run them and compiles them as straight-line code. One program
  is compiled per pattern of those steps (StyleGAN2's R1 every 16 and path
  length every 4 steps, K = 4: two programs), each reused.

  ``compiler_options``: XLA options of the compilation (default
  :func:`compiler_options` for JAX's backend).

  Returns:
    A function returning ``(state, metrics)`` with each metric stacked over
    the K steps, jitted (its ``lower`` lowers it; ``__wrapped__`` is the
    traced function, whose static ``due`` argument ``schedule(start, K)`` gives).
  """
  lazy_every = dict(getattr(step_fn, "lazy_every", None) or {})

  def run(state, data, feed, due=None):
    def body(state, fed, due_now=None):
      batch = {
          name: jax.tree.map(lambda a, idx=part: a[idx], data[name]) if name in data else part
          for name, part in fed.items()
      }
      return step_fn(state, batch) if due_now is None else step_fn(state, batch, due_now)

    if not unroll:
      return jax.lax.scan(body, state, feed)
    # Straight-line code by hand: lax.scan(unroll=True) still emits a loop when K == 1.
    outputs = []
    for i in range(chunk_length(feed)):
      state, metrics = body(state, jax.tree.map(lambda a: a[i], feed), None if due is None else due[i])
      outputs.append(metrics)
    return state, jax.tree.map(lambda *m: jnp.stack(m), *outputs)

  def schedule(start: int | None, k: int):
    """The every-k updates due at each of the chunk's K steps, or None (decided at run time)."""
    if not unroll or not lazy_every or start is None:
      return None
    return tuple(tuple(sorted(n for n, every in lazy_every.items() if (int(start) + i) % every == 0))
                 for i in range(k))

  options = _default_options() if compiler_options is None else dict(compiler_options)
  # Kept on the traced function, so that DataParallel.compile, whose outer jit replaces this
  # one, compiles with the same options and the same schedule.
  run.compiler_options = options
  run.schedule = schedule
  jitted = jax.jit(run, donate_argnums=(0,) if donate else (), static_argnames=("due",), compiler_options=options)

  def multi(state, data, feed, start: int | None = None):
    return jitted(state, data, feed, due=schedule(start, chunk_length(feed)))

  multi.lower = lambda state, data, feed, start=None: jitted.lower(
      state, data, feed, due=schedule(start, chunk_length(feed)))
  multi.__wrapped__ = run
  return multi


def chunk_length(feed) -> int:
  """K, the steps of a chunk's feed (the leading axis of its leaves)."""
  return jax.tree.leaves(feed)[0].shape[0]
