"""The shared training machinery: steps, scans, data order, EMA, guards."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from jaxgen import train


class _Net(nnx.Module):
  def __init__(self, din, dout, *, rngs: nnx.Rngs):
    self.linear = nnx.Linear(din, dout, rngs=rngs)
    self.bn = nnx.BatchNorm(dout, rngs=rngs)

  def __call__(self, x, *, use_running_average: bool):
    return self.bn(self.linear(x), use_running_average=use_running_average)


def _regression_setup(seed=0, lr=0.05):
  rngs = nnx.Rngs(seed)
  models = {"net": _Net(3, 1, rngs=rngs)}
  opts = {"net": optax.sgd(lr)}
  graphdefs, state = train.init_train_state(models, opts, jax.random.key(seed), ema_networks=("net",))

  def objective(models, ctx):
    batch = ctx.batch["xy"]
    noise = 0.01 * jax.random.normal(ctx.key, batch["y"].shape)
    pred = models["net"](batch["x"], use_running_average=False)
    loss = jnp.mean((pred - batch["y"] - noise) ** 2)
    return loss, {"mse": loss}

  step = train.make_train_step(graphdefs, opts, [train.Update("net", objective)], ema_decay=0.9)
  rng = np.random.default_rng(0)
  x = rng.normal(size=(64, 3)).astype(np.float32)
  # One stream: inputs and targets share one order.
  data = {"xy": {"x": x, "y": (x @ np.array([[1.0], [-2.0], [0.5]], np.float32))}}
  return graphdefs, state, step, data


def test_step_lowers_loss_and_updates_everything():
  graphdefs, state, step, data = _regression_setup()
  jstep = jax.jit(step)
  before = jax.tree.map(jnp.copy, state)
  losses = []
  for _ in range(20):
    state, m = jstep(state, data)
    losses.append(float(m["loss/net"]))
  assert losses[-1] < 0.5 * losses[0]
  assert int(state.step) == 20
  # Parameters, BatchNorm statistics and the EMA all moved.
  for part in ("params", "rest", "ema"):
    moved = jax.tree.map(lambda a, b: bool(jnp.any(a != b)), getattr(before, part), getattr(state, part))
    assert any(jax.tree.leaves(moved)), part
  # The EMA lags the parameters.
  kernel = state.params["net"]["linear"]["kernel"][...]
  ema_kernel = state.ema["net"]["params"]["linear"]["kernel"][...]
  assert not np.allclose(kernel, ema_kernel)
  # The EMA network's BatchNorm statistics are averages too: neither the live ones nor the initial ones.
  live, avg = state.rest["net"]["bn"]["mean"][...], state.ema["net"]["rest"]["bn"]["mean"][...]
  assert not np.allclose(live, avg) and not np.allclose(avg, before.rest["net"]["bn"]["mean"][...])
  ema_model = train.merge_models(graphdefs, state, use_ema=True)["net"]
  np.testing.assert_array_equal(ema_model.bn.mean[...], avg)
  np.testing.assert_array_equal(ema_model.linear.kernel[...], ema_kernel)


def test_multi_step_scan_equals_repeated_steps():
  graphdefs, state, step, data = _regression_setup()
  idx = train.batch_indices(seed=3, start_step=0, num_steps=6, num_examples=64, batch_shape=(16,))
  s1 = state
  jstep = jax.jit(step)
  for i in range(6):
    s1, _ = jstep(s1, jax.tree.map(lambda a: a[idx[i]], data))
  multi = train.make_multi_step(step, donate=False)
  s2, metrics = multi(state, data, {"xy": idx})
  chex.assert_shape(metrics["loss/net"], (6,))
  chex.assert_trees_all_close(s1.params, s2.params, rtol=1e-5, atol=1e-6)


def test_chunked_fit_equals_one_chunk():
  graphdefs, state, step, data = _regression_setup()
  multi = train.make_multi_step(step, donate=False)
  streams = train.Streams(data, batch_shape=(8,), data_seed=1, num_steps=10)
  a = train.fit(multi, state, data, streams, num_steps=10, steps_per_call=10, progress=False)
  b = train.fit(multi, state, data, streams, num_steps=4, steps_per_call=3, progress=False)
  b = train.fit(multi, b, data, streams, num_steps=10, steps_per_call=4, progress=False)
  assert int(a.step) == int(b.step) == 10
  chex.assert_trees_all_close(a.params, b.params, rtol=1e-6, atol=1e-7)


def test_batch_indices_are_epoch_permutations():
  idx = train.batch_indices(seed=0, start_step=0, num_steps=8, num_examples=10, batch_shape=(2, 2))
  chex.assert_shape(idx, (8, 2, 2))
  # Two full steps of 4 fit in 10 examples: each epoch's 8 indices are distinct.
  for e in range(4):
    epoch = idx[2 * e : 2 * e + 2].ravel()
    assert len(set(epoch.tolist())) == 8
  again = train.batch_indices(seed=0, start_step=5, num_steps=3, num_examples=10, batch_shape=(2, 2))
  np.testing.assert_array_equal(again, idx[5:])
  with pytest.raises(ValueError, match="lower batch_size"):
    train.batch_indices(seed=0, start_step=0, num_steps=1, num_examples=3, batch_shape=(4,))


def test_two_networks_update_only_their_own_params():
  rngs = nnx.Rngs(0)
  models = {"g": nnx.Linear(2, 2, rngs=rngs), "d": nnx.Linear(2, 1, rngs=rngs)}
  opts = {"g": optax.sgd(0.1), "d": optax.sgd(0.1)}
  graphdefs, state = train.init_train_state(models, opts, jax.random.key(0))

  def d_obj(m, ctx):
    fake = m["g"](jax.random.normal(ctx.key, (4, 2)))
    loss = jnp.mean(jax.nn.softplus(-m["d"](ctx.batch["x"]))) + jnp.mean(jax.nn.softplus(m["d"](fake)))
    return loss, {}

  def g_obj(m, ctx):
    fake = m["g"](jax.random.normal(ctx.key, (4, 2)))
    return jnp.mean(jax.nn.softplus(-m["d"](fake))), {}

  # Only the discriminator: the generator must not move.
  step_d = train.make_train_step(graphdefs, opts, [train.Update("d", d_obj, repeats=2, split_batch=True)])
  batch = {"x": jnp.ones((2, 4, 2))}
  new, metrics = jax.jit(step_d)(state, batch)
  chex.assert_trees_all_equal(new.params["g"], state.params["g"])
  assert not np.allclose(new.params["d"]["kernel"][...], state.params["d"]["kernel"][...])
  step_gan = train.make_train_step(graphdefs, opts, [train.Update("d", d_obj), train.Update("g", g_obj)])
  new, metrics = jax.jit(step_gan)(state, {"x": batch["x"][0]})
  assert set(metrics) >= {"loss/d", "loss/g", "grad_norm/d", "grad_norm/g"}


def test_nonfinite_loss_is_reported_with_step_and_term_or_skipped():
  rngs = nnx.Rngs(0)
  models = {"net": nnx.Linear(1, 1, rngs=rngs)}
  opts = {"net": optax.sgd(0.1)}
  graphdefs, state = train.init_train_state(models, opts, jax.random.key(0))

  def objective(m, ctx):
    x = ctx.batch["x"]
    out = m["net"](x)
    # log of a negative number at the example marked by the data (step 3 below).
    return jnp.mean(jnp.log(out * 0 + x)), {}

  x = np.ones((8, 1), np.float32)
  x[7] = -1.0
  data = {"x": x}
  step = train.make_train_step(graphdefs, opts, [train.Update("net", objective)])
  multi = train.make_multi_step(step, donate=False)
  # The data check of Streams would refuse nothing here: -1 is finite; the log makes the NaN.
  streams = train.Streams(data, batch_shape=(1,), data_seed=0, num_steps=8)
  idx_all = streams.feed(0, 8)
  bad_step = int(np.flatnonzero(idx_all["x"][:, 0] == 7)[0])
  with pytest.raises(train.NonFiniteError, match=f"loss/net at step {bad_step}"):
    train.fit(multi, state, data, streams, num_steps=8, steps_per_call=8, progress=False)
  skip = train.make_multi_step(train.make_train_step(graphdefs, opts, [train.Update("net", objective)], skip_nonfinite=True), donate=False)
  # With skipping, the loss metric is still non-finite at that step but parameters stay finite.
  out, metrics = skip(state, data, idx_all)
  assert float(metrics["skipped/net"][bad_step]) == 1.0
  assert all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree.leaves(out.params))


def test_init_rejects_untyped_key():
  models = {"net": nnx.Linear(1, 1, rngs=nnx.Rngs(0))}
  with pytest.raises(ValueError, match="typed PRNG key"):
    train.init_train_state(models, {"net": optax.sgd(0.1)}, jax.random.PRNGKey(0))


def test_unrolled_multi_step_equals_rolled():
  graphdefs, state, step, data = _regression_setup()
  idx = train.batch_indices(seed=5, start_step=0, num_steps=3, num_examples=64, batch_shape=(16,))
  rolled, m1 = train.make_multi_step(step, donate=False)(state, data, {"xy": idx})
  unrolled, m2 = train.make_multi_step(step, donate=False, unroll=True)(state, data, {"xy": idx})
  chex.assert_trees_all_close(rolled.params, unrolled.params, rtol=1e-5, atol=1e-6)
  chex.assert_trees_all_close(m1, m2, rtol=1e-5, atol=1e-6)


def test_compiler_options_change_speed_not_results():
  """jaxgen's CPU compiler options compute the same steps as XLA's defaults."""
  assert train.compiler_options("gpu") == {} and train.compiler_options("tpu") == {}
  assert train.compiler_options("gpu", ynnpack_dots=False) == {}
  assert train.compiler_options("cpu") != train.compiler_options("cpu", ynnpack_dots=False)

  class ConvNet(nnx.Module):
    def __init__(self, rngs):
      self.conv = nnx.Conv(1, 4, (3, 3), strides=(2, 2), rngs=rngs)

    def __call__(self, x):
      return jnp.mean(self.conv(x) ** 2)

  def objective(models, ctx):
    loss = models["net"](ctx.batch["x"])
    return loss, {}

  models = {"net": ConvNet(nnx.Rngs(0))}
  opts = {"net": optax.adam(1e-2)}
  graphdefs, state = train.init_train_state(models, opts, jax.random.key(0))
  step = train.make_train_step(graphdefs, opts, [train.Update("net", objective)])
  data = {"x": np.random.default_rng(0).normal(size=(16, 8, 8, 1)).astype(np.float32)}
  idx = train.batch_indices(seed=0, start_step=0, num_steps=3, num_examples=16, batch_shape=(8,))
  results = []
  for options in ({}, train.compiler_options("cpu"), train.compiler_options("cpu", ynnpack_dots=False)):
    multi = train.make_multi_step(step, donate=False, unroll=True, compiler_options=options)
    new_state, metrics = multi(state, data, {"x": idx})
    results.append((new_state.params, new_state.opt_state, metrics))
  for other in results[1:]:
    chex.assert_trees_all_close(other, results[0], rtol=1e-5, atol=1e-6)
