"""Data parallel over the 8 forced CPU devices equals the single-device step."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from jaxgen import train

BATCH = 16
STEPS = 3


class _MLP(nnx.Module):
  """Linear -> BatchNorm -> ReLU -> Linear: BatchNorm makes the batch statistics matter."""

  def __init__(self, *, rngs: nnx.Rngs):
    # No bias before BatchNorm: its gradient is zero up to rounding, which Adam
    # would blow up to full-size steps in random directions.
    self.fc1 = nnx.Linear(6, 16, use_bias=False, rngs=rngs)
    self.bn = nnx.BatchNorm(16, rngs=rngs)
    self.fc2 = nnx.Linear(16, 1, rngs=rngs)

  def __call__(self, x, *, train: bool):
    return self.fc2(jax.nn.relu(self.bn(self.fc1(x), use_running_average=not train)))


def _objective(models, ctx):
  batch = ctx.batch["xy"]
  # Noise from the key so the test also checks that randomness is the same on the mesh.
  noise = 0.01 * jax.random.normal(ctx.key, batch["x"].shape)
  pred = models["net"](batch["x"] + noise, train=True)[:, 0]
  loss = jnp.mean((pred - batch["y"]) ** 2)
  return loss, {"mse": loss}


def _setup():
  models = {"net": _MLP(rngs=nnx.Rngs(0))}
  optimizers = {"net": optax.adam(1e-2)}
  graphdefs, state = train.init_train_state(models, optimizers, jax.random.key(1))
  step = train.make_train_step(graphdefs, optimizers, [train.Update("net", _objective)])
  rng = np.random.default_rng(0)
  data = {"xy": {"x": rng.normal(size=(64, 6)).astype(np.float32), "y": rng.normal(size=(64,)).astype(np.float32)}}
  indices = {"xy": train.batch_indices(0, 0, STEPS, 64, (BATCH,))}
  return step, state, data, indices


def test_data_mesh_is_all_local_devices():
  mesh = train.data_mesh()
  assert mesh.axis_names == ("data",)
  assert mesh.devices.size == jax.local_device_count() == 8


@pytest.mark.parametrize("num_devices", [1, 8])
def test_sharded_multi_step_equals_single_device(num_devices):
  step, state, data, indices = _setup()
  want_state, want_metrics = train.make_multi_step(step, donate=False)(
      state, jax.tree.map(jnp.asarray, data), jax.tree.map(jnp.asarray, indices)
  )

  dp = train.DataParallel(train.data_mesh(jax.devices()[:num_devices]))
  multi = dp.compile(train.make_multi_step(step))
  got_state, got_metrics = multi(dp.put_state(state), dp.put_data(data), indices)
  # The batch really is split: each device holds BATCH / num_devices of every step's indices.
  placed = dp.put_feed(indices)["xy"]
  assert placed.sharding.spec == jax.sharding.PartitionSpec(None, "data")
  assert {s.data.shape for s in placed.addressable_shards} == {(STEPS, BATCH // num_devices)}
  assert len(placed.addressable_shards) == num_devices

  # The batch really was split: the state and metrics come back replicated on the mesh.
  for leaf in jax.tree.leaves(got_state.params):
    assert leaf.sharding.is_fully_replicated and len(leaf.sharding.device_set) == num_devices
  got_key, want_key = jax.random.key_data(got_state.key), jax.random.key_data(want_state.key)
  np.testing.assert_array_equal(got_key, want_key)
  strip = lambda s: (s.step, s.params, s.rest, s.opt_state)
  chex.assert_trees_all_close(strip(got_state), strip(want_state), rtol=1e-5, atol=1e-6)
  chex.assert_trees_all_close(got_metrics, want_metrics, rtol=1e-5, atol=1e-6)
  # BatchNorm's running mean moved, i.e. the statistics over the sharded batch were used.
  assert not np.allclose(got_state.rest["net"]["bn"]["mean"][...], 0.0)


def test_fit_runs_on_the_mesh_and_reuses_one_program():
  step, state, data, _ = _setup()
  dp = train.DataParallel(train.data_mesh())
  traces = []

  def counted_step(state, batch):
    traces.append(1)
    return step(state, batch)

  multi = dp.compile(train.make_multi_step(counted_step))
  streams = train.Streams(data, batch_shape=(BATCH,), data_seed=0, num_steps=6)
  got = train.fit(multi, dp.put_state(state), dp.put_data(data), streams, num_steps=6, steps_per_call=3,
                  progress=False)
  _, state, _, _ = _setup()  # the first state's buffers were donated
  want = train.fit(train.make_multi_step(step), state, jax.tree.map(jnp.asarray, data), streams, num_steps=6,
                   steps_per_call=3, progress=False)
  assert int(got.step) == 6
  assert len(traces) == 1, "the second chunk recompiled: the state did not come back replicated"
  chex.assert_trees_all_close(got.params, want.params, rtol=1e-5, atol=1e-6)


def test_batch_not_divisible_by_devices_raises():
  step, state, data, _ = _setup()
  dp = train.DataParallel(train.data_mesh())
  multi = dp.compile(train.make_multi_step(step))
  indices = {"xy": train.batch_indices(0, 0, 2, 64, (12,))}
  with pytest.raises(ValueError, match="batch size 12 is not divisible by the 8 devices"):
    multi(dp.put_state(state), dp.put_data(data), indices)


def test_mesh_without_data_axis_raises():
  mesh = jax.sharding.Mesh(np.array(jax.devices()), ("model",))
  with pytest.raises(ValueError, match="axis named 'data'"):
    train.DataParallel(mesh)
