"""The training core's contract, each test aimed at a bug it would catch.

k discriminator minibatches that are really k different ones; dynamic
binarization that really resamples; a joint update that moves its networks and
only them; lazy updates on exactly the right steps; streamed data equal to
device-resident data; EMA schedules.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from jaxgen import objectives, train

_X = np.random.default_rng(0).normal(size=(60, 3)).astype(np.float32)


def _linear_models(names, seed=0):
  return {n: nnx.Linear(3, 3, rngs=nnx.Rngs(seed + i)) for i, n in enumerate(names)}


def test_k_discriminator_steps_see_k_different_minibatches(tmp_path):
  k, b = 3, 8

  def d_objective(models, ctx):
    x = ctx.batch["x"]
    seen = ctx.aux["seen"].at[ctx.aux["i"] % k].set(jnp.sum(x, axis=-1))
    loss = jnp.mean(models["d"](x) ** 2)
    return loss, {}, {"seen": seen, "i": ctx.aux["i"] + 1}

  aux = {"seen": jnp.zeros((k, b)), "i": jnp.zeros((), jnp.int32)}
  _, state = train.run_training(
      workdir=tmp_path, config={}, models=_linear_models(["d"]), optimizers={"d": optax.sgd(0.1)},
      updates=[objectives.Update("d", d_objective, repeats=k, split_batch=True)], data={"x": _X},
      num_steps=1, batch_shape=(k, b), seed=0, aux=aux, progress=False)
  streams = train.Streams({"x": _X}, batch_shape=(k, b), data_seed=train.data_seed_of(0), num_steps=1)
  idx = streams.feed(0, 1)["x"][0]  # (k, b)
  assert len(set(idx.ravel().tolist())) == k * b  # k disjoint minibatches of one epoch
  np.testing.assert_allclose(np.asarray(state.aux["seen"]), _X[idx].sum(-1), rtol=1e-6)


class _SpyVAE(nnx.Module):
  """log p(x|z) = a fixed weighting of the pixels the objective passed in: the binarized batch shows through."""

  def __init__(self):
    self.w = nnx.Param(jnp.zeros(()))

  def encode(self, x):
    return jnp.zeros((x.shape[0], 2)) + self.w, jnp.full((x.shape[0], 2), -30.0)

  def log_likelihood(self, x, z):
    weights = jax.random.uniform(jax.random.key(7), (1, *x.shape[1:]))  # distinct draws give distinct sums
    return jnp.sum(x * weights, axis=(1, 2, 3)) + 0.0 * jnp.sum(z, -1)


@pytest.mark.parametrize("binarize", ["dynamic", "none"])
def test_dynamic_binarization_resamples_every_step(binarize):
  objective = objectives.negative_elbo_objective(binarize=binarize)
  x = jnp.full((4, 5, 5, 1), 0.5)
  recons = []
  for step in range(4):
    ctx = objectives.Context(step=jnp.int32(step), key=jax.random.fold_in(jax.random.key(0), step),
                             batch={"image": x}, aux=None)
    recons.append(float(objective({"vae": _SpyVAE()}, ctx)[1]["recon"]))
  if binarize == "dynamic":
    assert len(set(recons)) == 4  # four steps, four different draws of x ~ Bernoulli(0.5)
  else:
    assert len(set(recons)) == 1


def test_joint_update_moves_its_networks_and_only_them():
  models = _linear_models(["a", "b", "c", "d"])
  opts = {n: optax.sgd(0.1) for n in models}
  graphdefs, state = train.init_train_state(models, opts, jax.random.key(0))

  def joint(m, ctx):
    x = ctx.batch["x"]
    # c is called but is not differentiated: it must not move; d is not used at all.
    return jnp.mean((m["b"](m["a"](x)) - m["c"](x)) ** 2), {}

  step = train.make_train_step(graphdefs, opts, [objectives.Update(("a", "b"), joint)])
  new, metrics = jax.jit(step)(state, {"x": jnp.asarray(_X[:8])})
  changed = {n: bool(np.any(np.asarray(new.params[n]["kernel"][...]) != np.asarray(state.params[n]["kernel"][...])))
             for n in models}
  assert changed == {"a": True, "b": True, "c": False, "d": False}
  # One gradient norm over both networks, named after the update.
  assert set(metrics) == {"loss/a+b", "grad_norm/a+b"}


class _CountingLinear(nnx.Module):
  """A linear layer that counts its forward passes in its state (as BatchNorm updates its statistics)."""

  def __init__(self, seed):
    self.linear = nnx.Linear(3, 3, rngs=nnx.Rngs(seed))
    self.calls = nnx.BatchStat(jnp.zeros((), jnp.int32))

  def __call__(self, x):
    self.calls[...] = self.calls[...] + 1
    return self.linear(x)


@pytest.mark.parametrize("every", [1, 2])
def test_forward_runs_once_and_carries_its_gradient_to_the_update_that_moves_it(every):
  """Pix2pix's pattern: h = a(x) once; b's update sees h as a constant, then a's update differentiates through it.

  The result must equal the same two updates each recomputing a(x), and a's state must see one forward pass."""
  x = jnp.asarray(_X[:8])
  opts = {"a": optax.sgd(0.1), "b": optax.sgd(0.1)}

  def b_loss(m, h):
    return jnp.mean((m["b"](h) - 1.0) ** 2)

  def a_loss(m, h):
    return jnp.mean(m["b"](h) ** 2) + jnp.mean(h**2)

  shared = [
      objectives.Forward("a", lambda m, ctx: m["a"](ctx.batch["x"]), name="h"),
      objectives.Update("b", lambda m, ctx: (b_loss(m, jax.lax.stop_gradient(ctx.shared["h"])), {})),
      objectives.Update("a", lambda m, ctx: (a_loss(m, ctx.shared["h"]), {}), every=every),
  ]
  recomputed = [
      objectives.Update("b", lambda m, ctx: (b_loss(m, jax.lax.stop_gradient(m["a"](ctx.batch["x"]))), {})),
      objectives.Update("a", lambda m, ctx: (a_loss(m, m["a"](ctx.batch["x"])), {}), every=every),
  ]
  results = []
  for updates in (shared, recomputed):
    models = {"a": _CountingLinear(0), "b": _CountingLinear(1)}
    graphdefs, state = train.init_train_state(models, opts, jax.random.key(0))
    step = jax.jit(train.make_train_step(graphdefs, opts, updates))
    for _ in range(2):
      state, _ = step(state, {"x": x})
    results.append(state)
  with_forward, without = results
  for n in ("a", "b"):
    for p, q in zip(jax.tree.leaves(with_forward.params[n]), jax.tree.leaves(without.params[n])):
      np.testing.assert_allclose(np.asarray(p), np.asarray(q), rtol=1e-5, atol=1e-6)
  # Two steps: one forward of a per step with the Forward; one per update (two per step when a's runs) without.
  assert int(with_forward.rest["a"]["calls"][...]) == 2
  assert int(without.rest["a"]["calls"][...]) == (4 if every == 1 else 3)
  assert not np.allclose(np.asarray(with_forward.params["a"]["linear"]["kernel"][...]),
                         np.asarray(nnx.state(_CountingLinear(0), nnx.Param)["linear"]["kernel"][...]))


def test_forward_refuses_unknown_networks_and_runs_refuse_forwards_alone(tmp_path):
  models = _linear_models(["a"])
  graphdefs, _ = train.init_train_state(models, {"a": optax.sgd(0.1)}, jax.random.key(0))
  forward = objectives.Forward("z", lambda m, ctx: 0.0, name="h")
  with pytest.raises(ValueError, match="forward 'h' differentiates 'z', which is not a network"):
    train.make_train_step(graphdefs, {"a": optax.sgd(0.1)}, [forward])
  with pytest.raises(ValueError, match="name must be a non-empty string"):
    objectives.Forward("a", lambda m, ctx: 0.0, name="")
  with pytest.raises(ValueError, match="only train.Forward"):
    train.run_training(workdir=tmp_path, config={}, models=models, optimizers={"a": optax.sgd(0.1)},
                       updates=[objectives.Forward("a", lambda m, ctx: 0.0, name="h")], data={"x": _X},
                       num_steps=1, batch_shape=(4,), seed=0, progress=False)


def test_update_needs_an_optimizer_for_every_network():
  models = _linear_models(["a", "b"])
  graphdefs, _ = train.init_train_state(models, {"a": optax.sgd(0.1)}, jax.random.key(0))
  with pytest.raises(ValueError, match="moves 'b', which has no optimizer"):
    train.make_train_step(graphdefs, {"a": optax.sgd(0.1)}, [objectives.Update(("a", "b"), lambda m, c: (0.0, {}))])
  with pytest.raises(ValueError, match="every must be an integer >= 1"):
    objectives.Update("a", lambda m, c: (0.0, {}), every=0)


def test_lazy_update_runs_on_multiples_of_every_and_nowhere_else():
  models = _linear_models(["d"])
  opts = {"d": optax.sgd(0.1)}
  graphdefs, state = train.init_train_state(models, opts, jax.random.key(0), aux={"ran": jnp.zeros(10, jnp.int32)})

  def lazy(m, ctx):
    return ctx.every * jnp.mean(m["d"](ctx.batch["x"]) ** 2), {"r": jnp.float32(1)}, \
        {"ran": ctx.aux["ran"].at[ctx.step].set(1)}

  step = jax.jit(train.make_train_step(graphdefs, opts, [objectives.Update("d", lazy, every=3)]))
  kernels = []
  for _ in range(10):
    kernels.append(np.asarray(state.params["d"]["kernel"][...]))
    state, m = step(state, {"x": jnp.asarray(_X[:4])})
    assert float(m["applied/d"]) == float((int(state.step) - 1) % 3 == 0)
    assert np.isnan(float(m["r"])) != bool(m["applied/d"])
  np.testing.assert_array_equal(np.asarray(state.aux["ran"]), [1, 0, 0, 1, 0, 0, 1, 0, 0, 1])
  moved = [not np.array_equal(a, b) for a, b in zip(kernels, kernels[1:] + [np.asarray(state.params["d"]["kernel"][...])])]
  assert moved == [True, False, False, True, False, False, True, False, False, True]


def test_unrolled_chunks_given_their_start_run_lazy_updates_as_the_cond_does():
  # make_multi_step compiles an unrolled chunk's every-k updates as straight-line code when the host
  # says its first step: the same states, metrics and NaN pattern as the lax.cond of the rolled scan.
  models = _linear_models(["d", "g"])
  opts = {"d": optax.sgd(0.1), "g": optax.sgd(0.1)}
  graphdefs, state = train.init_train_state(models, opts, jax.random.key(0))

  def loss_of(name):
    return lambda m, ctx: (ctx.every * jnp.mean(m[name](ctx.batch["x"]) ** 2), {f"m_{name}": jnp.float32(1)})

  updates = [objectives.Update("g", loss_of("g")), objectives.Update("d", loss_of("d"), every=4, name="r1"),
             objectives.Update("g", loss_of("g"), every=2, name="pl")]
  step = train.make_train_step(graphdefs, opts, updates)
  assert step.lazy_every == {"r1": 4, "pl": 2}
  rolled = train.make_multi_step(step, donate=False)
  unrolled = train.make_multi_step(step, donate=False, unroll=True)
  assert unrolled.__wrapped__.schedule(0, 2) == (("pl", "r1"), ()) and unrolled.__wrapped__.schedule(2, 2) == (("pl",), ())
  assert unrolled.__wrapped__.schedule(None, 2) is None and rolled.__wrapped__.schedule(0, 2) is None
  data = {"x": jnp.asarray(_X)}
  a = b = state
  for start in range(0, 8, 2):
    feed = {"x": np.arange(2 * 5).reshape(2, 5) + start}
    a, ma = rolled(a, data, feed)
    b, mb = unrolled(b, data, feed, start=start)
    assert sorted(ma) == sorted(mb)
    for key in ma:
      np.testing.assert_allclose(np.asarray(mb[key]), np.asarray(ma[key]), rtol=1e-6, err_msg=key)
    np.testing.assert_array_equal(np.asarray(mb["applied/r1"]), [start % 4 == 0, 0])
    np.testing.assert_array_equal(np.asarray(mb["applied/pl"]), [1, 0])
  for x, y in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params)):
    np.testing.assert_allclose(np.asarray(y), np.asarray(x), rtol=1e-6)
  # The chunks at 0 and 4 share a schedule, hence a compiled program.
  assert unrolled.__wrapped__.schedule(4, 2) == unrolled.__wrapped__.schedule(0, 2)


class _ListSource:
  """A random-access source as tfds.data_source and grain sources are: len and getitem."""

  def __init__(self, arrays):
    self.arrays = arrays

  def __len__(self):
    return len(self.arrays["x"])

  def __getitem__(self, i):
    return {name: a[i] for name, a in self.arrays.items()}


def test_streamed_batches_equal_device_batches(tmp_path):
  arrays = {"x": _X, "y": np.arange(60, dtype=np.int32)}
  kwargs = dict(batch_shape=(2, 7), data_seed=5, num_steps=40)
  resident = train.Streams({"s": arrays}, **kwargs)
  streamed = train.Streams({"s": train.Stream(_ListSource(arrays), num_threads=2)}, **kwargs)
  arrays_streamed = train.Streams({"s": train.Stream(arrays, resident=False)}, **kwargs)
  assert list(resident.resident) == ["s"] and streamed.resident == {} == arrays_streamed.resident
  # Chunks across epoch ends (4 steps of 14 per epoch), and a jump back as a resume does.
  for start, k in [(0, 3), (3, 6), (9, 9), (2, 5), (18, 1)]:
    idx = resident.feed(start, k)["s"]
    for other in (streamed, arrays_streamed):
      batch = other.feed(start, k)["s"]
      np.testing.assert_array_equal(batch["x"], _X[idx])
      np.testing.assert_array_equal(batch["y"], idx)


def test_a_run_on_streamed_data_equals_the_run_on_device_data(tmp_path):
  def objective(m, ctx):
    return jnp.mean((m["net"](ctx.batch["s"]["x"]) - ctx.batch["t"]) ** 2), {}

  def run(workdir, data):
    return train.run_training(
        workdir=workdir, config={}, models=_linear_models(["net"]), optimizers={"net": optax.adam(1e-2)},
        updates=[objectives.Update("net", objective)], data=data, num_steps=12, batch_shape=(8,), seed=1,
        steps_per_call=5, progress=False)[1]

  targets = np.random.default_rng(1).normal(size=(45, 3)).astype(np.float32)  # its own length and order
  a = run(tmp_path / "a", {"s": {"x": _X}, "t": targets})
  b = run(tmp_path / "b", {"s": train.Stream(_ListSource({"x": _X})), "t": train.Stream(targets, resident=False)})
  jax.tree.map(np.testing.assert_array_equal, train.host_copy(a.params), train.host_copy(b.params))


def test_streams_refuse_bad_data_in_one_line():
  for data, match in [
      ({}, "non-empty dict of stream name"),
      ({"x": {"a": _X, "b": _X[:10]}}, "same leading .* separate streams"),
      ({"x": _X[:5]}, "data stream 'x': a step needs 8 examples"),
      ({"x": np.full((10, 2), np.nan, np.float32)}, "data stream 'x'.* NaN"),
      ({"x": train.Stream(_ListSource({"x": _X}), resident=True)}, "can only be streamed"),
  ]:
    with pytest.raises(ValueError, match=match) as info:
      train.Streams(data, batch_shape=(8,), data_seed=0, num_steps=1)
    assert "\n" not in str(info.value)


def test_ema_schedules():
  steps = jnp.arange(0, 40)
  np.testing.assert_allclose(jax.vmap(train.ema_constant(0.99))(steps), 0.99)
  start = jax.vmap(train.ema_start(0.999, 10))(steps)
  assert np.all(np.asarray(start[:10]) == 0) and np.allclose(start[10:], 0.999)
  # StyleGAN2: half-life 10k images at batch 32 once 10k / 0.05 = 200k images are seen (step 6250).
  ramp = train.ema_rampup(10_000, 32, rampup=0.05)
  late = float(ramp(jnp.int32(100_000)))
  np.testing.assert_allclose(late, 0.5 ** (32 / 10_000), rtol=1e-6)
  early = float(ramp(jnp.int32(9)))  # 320 images seen: half-life 16 images
  np.testing.assert_allclose(early, 0.5 ** (32 / 16), rtol=1e-5)
  with pytest.raises(ValueError, match=r"ema_decay must be in \[0, 1\)"):
    train.ema_constant(1.0)


def test_image_pool_follows_the_exchange_rule():
  pool = objectives.image_pool_init(3, (1,))
  query = jax.jit(objectives.image_pool_query)
  pool, out = query(pool, jnp.array([[1.0], [2.0]]), jax.random.key(0))
  np.testing.assert_array_equal(out, [[1.0], [2.0]])  # filling: returned as given
  assert int(pool["count"]) == 2
  pool, out = query(pool, jnp.array([[3.0], [4.0]]), jax.random.key(1))
  assert int(pool["count"]) == 3 and float(out[0, 0]) == 3.0  # the third fills the pool
  returned_old, trials = 0, 400
  for t in range(trials):
    new_pool, out = query(pool, jnp.array([[100.0 + t]]), jax.random.key(2 + t))
    stored = set(np.asarray(pool["images"]).ravel().tolist())
    if float(out[0, 0]) != 100.0 + t:  # an old one came back: it was stored, and the new one took its slot
      returned_old += 1
      assert float(out[0, 0]) in stored and 100.0 + t in np.asarray(new_pool["images"]).ravel()
    else:
      np.testing.assert_array_equal(new_pool["images"], pool["images"])
  assert abs(returned_old / trials - 0.5) < 0.1
