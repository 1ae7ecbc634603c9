"""The training core holds a CycleGAN-shaped system: the issue's acceptance test.

Four networks (two generators, two discriminators), two unpaired 2-D streams of
different lengths, one joint generator objective (adversarial + cycle), a
50-item pool of past fakes per domain in the auxiliary state, and a gradient
penalty on both discriminators every 4 steps. Killed with SIGTERM and resumed,
it ends bit-identical to the uninterrupted run; on 8 CPU devices it matches one
device within float tolerance.
"""

import os
import signal
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from jaxgen import objectives, train

_RNG = np.random.default_rng(0)
# Domain A: a ring; domain B: a shifted, scaled blob. Different lengths on purpose.
_A = np.stack([np.cos(t := _RNG.uniform(0, 2 * np.pi, 96)), np.sin(t)], -1).astype(np.float32)
_B = (_RNG.normal(size=(80, 2)) * 0.3 + 2.0).astype(np.float32)
POOL = 50
GP_EVERY = 4


class _Mlp(nnx.Module):
  def __init__(self, dout, *, rngs):
    self.hidden = nnx.Linear(2, 16, rngs=rngs)
    self.out = nnx.Linear(16, dout, rngs=rngs)

  def __call__(self, x):
    y = self.out(jnp.tanh(self.hidden(x)))
    return y[:, 0] if y.shape[-1] == 1 else y


def _gp(d, x):
  # ||grad_x D(x)||^2 at the real points: a penalty whose gradient is a second derivative.
  g = jax.vmap(jax.grad(lambda xi: d(xi[None])[0]))(x)
  return jnp.mean(jnp.sum(g**2, axis=-1))


def d_objective(models, ctx):
  a, b = ctx.batch["a"], ctx.batch["b"]
  k_a, k_b = jax.random.split(ctx.key)
  pool_a, fake_a = objectives.image_pool_query(ctx.aux["pool_a"], models["g_ba"](b), k_a)
  pool_b, fake_b = objectives.image_pool_query(ctx.aux["pool_b"], models["g_ab"](a), k_b)
  lsgan = lambda real, fake: 0.5 * (jnp.mean((real - 1) ** 2) + jnp.mean(fake**2))
  loss = lsgan(models["d_a"](a), models["d_a"](fake_a)) + lsgan(models["d_b"](b), models["d_b"](fake_b))
  return loss, {"d_loss": loss}, {**ctx.aux, "pool_a": pool_a, "pool_b": pool_b}


def g_objective(models, ctx):
  a, b = ctx.batch["a"], ctx.batch["b"]
  fake_b, fake_a = models["g_ab"](a), models["g_ba"](b)
  adv = jnp.mean((models["d_b"](fake_b) - 1) ** 2) + jnp.mean((models["d_a"](fake_a) - 1) ** 2)
  cycle = jnp.mean(jnp.abs(models["g_ba"](fake_b) - a)) + jnp.mean(jnp.abs(models["g_ab"](fake_a) - b))
  return adv + 10.0 * cycle, {"cycle": cycle}


def gp_objective(models, ctx):
  gp = _gp(models["d_a"], ctx.batch["a"]) + _gp(models["d_b"], ctx.batch["b"])
  runs = ctx.aux["gp_runs"] + 1
  # Scaled by the interval, as lazy regularisation does (Karras et al. 2020, Appendix B).
  return ctx.every * 0.1 * gp, {"gp": gp}, {**ctx.aux, "gp_runs": runs}


def build():
  models = {
      "g_ab": _Mlp(2, rngs=nnx.Rngs(1)), "g_ba": _Mlp(2, rngs=nnx.Rngs(2)),
      "d_a": _Mlp(1, rngs=nnx.Rngs(3)), "d_b": _Mlp(1, rngs=nnx.Rngs(4)),
  }
  optimizers = {name: optax.adam(2e-3, b1=0.5) for name in models}
  updates = [
      objectives.Update(("d_a", "d_b"), d_objective, name="d"),
      objectives.Update(("d_a", "d_b"), gp_objective, every=GP_EVERY, name="gp"),
      objectives.Update(("g_ab", "g_ba"), g_objective, name="g"),
  ]
  aux = {"pool_a": objectives.image_pool_init(POOL, (2,)), "pool_b": objectives.image_pool_init(POOL, (2,)),
         "gp_runs": jnp.zeros((), jnp.int32)}
  return models, optimizers, updates, aux


def run(workdir, num_steps, *, hooks=(), steps_per_call=5, num_devices=1, checkpoint_every=5):
  models, optimizers, updates, aux = build()
  return train.run_training(
      workdir=workdir, config={"model": {"name": "toy_cyclegan"}}, models=models, optimizers=optimizers,
      updates=updates, data={"a": _A, "b": _B}, num_steps=num_steps, batch_shape=(16,), seed=3, aux=aux,
      ema_networks=("g_ab",), ema_decay=train.ema_start(0.9, 5), steps_per_call=steps_per_call,
      checkpoint_every=checkpoint_every, num_devices=num_devices, hooks=hooks, progress=False,
  )


def _assert_states_equal(a, b):
  assert jax.tree.structure(a) == jax.tree.structure(b)
  jax.tree.map(np.testing.assert_array_equal, train.host_copy(a), train.host_copy(b))


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
  workdir = tmp_path_factory.mktemp("full")
  _, state = run(workdir, 30)
  return workdir, state


def test_everything_moves_as_designed(uninterrupted):
  workdir, state = uninterrupted
  fresh = train.init_train_state(*build()[:2], jax.random.key(0))[1]
  for name in ("g_ab", "g_ba", "d_a", "d_b"):
    moved = jax.tree.map(lambda x, y: not np.array_equal(x, y), train.host_copy(state.params[name]),
                         train.host_copy(fresh.params[name]))
    assert any(jax.tree.leaves(moved)), name
  # 30 steps x 16 fakes fill both pools; the penalty ran on steps 0, 4, ..., 28.
  assert int(state.aux["pool_a"]["count"]) == POOL and int(state.aux["pool_b"]["count"]) == POOL
  assert int(state.aux["gp_runs"]) == len(range(0, 30, GP_EVERY)) == 8
  records = train.read_metrics(workdir / "metrics.jsonl")
  # Chunks of 5 steps: the penalty ran on steps 0,4 | 8 | 12 | 16 | 20,24 | 28.
  assert [r["applied/gp"] for r in records] == [2, 1, 1, 1, 2, 1]
  assert all(np.isfinite(r["gp"]) for r in records if r["applied/gp"] > 0)
  assert all(np.isfinite(r["loss/g"]) and np.isfinite(r["cycle"]) for r in records)


def test_sigterm_and_resume_is_bit_identical(tmp_path, uninterrupted):
  script = f"""
import os, signal, sys
sys.path.insert(0, {os.path.dirname(__file__)!r})
import test_core_four_networks as t
def send(state, step, metrics):
  if step == 15:
    os.kill(os.getpid(), signal.SIGTERM)
t.run({str(tmp_path)!r}, 30, hooks=[send], checkpoint_every=100)
print("not stopped")
"""
  proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
  assert proc.returncode == 128 + signal.SIGTERM, proc.stderr[-3000:]
  assert "not stopped" not in proc.stdout
  assert train.checkpoint_steps(tmp_path / "checkpoints") == [15]
  # Resumed in chunks of 3: neither the interruption nor the chunking changes the run.
  _, resumed = run(tmp_path, 30, steps_per_call=3, checkpoint_every=100)
  _assert_states_equal(uninterrupted[1], resumed)


def test_eight_devices_match_one(tmp_path, uninterrupted):
  assert len(jax.local_devices()) >= 8, "tests/conftest.py forces 8 CPU devices"
  _, sharded = run(tmp_path, 30, num_devices=8)
  assert sharded.params["g_ab"]["hidden"]["kernel"][...].sharding.device_set == set(jax.local_devices()[:8])
  chex_close = lambda x, y: np.testing.assert_allclose(x, y, rtol=2e-4, atol=2e-5)
  jax.tree.map(chex_close, train.host_copy(sharded.params), train.host_copy(uninterrupted[1].params))
  jax.tree.map(chex_close, train.host_copy(sharded.aux), train.host_copy(uninterrupted[1].aux))
