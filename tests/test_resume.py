"""A run stopped at any step and resumed ends bit-identical to one that never stopped.

Two tiny models: a VAE-like network with BatchNorm and noise from the step key,
and a GAN-like pair (BatchNorm generator with an EMA, k=2 discriminator steps on
split minibatches). One case stops the run with a real SIGTERM in a subprocess.
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

from jaxgen import train

_DATA = {"x": np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)}


class _Count(nnx.Variable):
  """Calls in train mode: state outside the parameters, like BatchNorm's statistics."""


class _Net(nnx.Module):
  def __init__(self, din, dout, *, rngs: nnx.Rngs, nan_after=None):
    self.hidden = nnx.Linear(din, 8, rngs=rngs)
    self.norm = nnx.BatchNorm(8, rngs=rngs)
    self.out = nnx.Linear(8, dout, rngs=rngs)
    self.count = _Count(jnp.zeros((), jnp.int32))
    self.nan_after = nan_after

  def __call__(self, x, *, train: bool, key=None):
    if train:
      self.count[...] = self.count[...] + 1
    h = jax.nn.relu(self.norm(self.hidden(x), use_running_average=not train))
    y = self.out(h)
    if self.nan_after is not None:
      # A loss that breaks on the nan_after-th call, to test the non-finite guard.
      y = jnp.where(self.count[...] > self.nan_after, jnp.nan, y)
    return y[:, 0] if y.shape[-1] == 1 else y


def _vae_objective(models, ctx):
  x = ctx.batch["x"]
  # Noise from the step key, as the reparameterization trick draws it.
  y = models["net"](x + 0.1 * jax.random.normal(ctx.key, x.shape), train=True)
  loss = jnp.mean((y - x) ** 2)
  return loss, {"mse": loss}


def vae_run(workdir, num_steps, *, nan_after=None, hooks=(), skip_nonfinite=False, **kwargs):
  kwargs = {"steps_per_call": 4, "checkpoint_every": 4, "seed": 1} | kwargs
  return train.run_training(
      workdir=workdir, config={"model": {"name": "tiny_vae"}}, models={"net": _Net(4, 4, rngs=nnx.Rngs(0), nan_after=nan_after)},
      optimizers={"net": optax.adam(1e-2)}, updates=[train.Update("net", _vae_objective)], data=_DATA,
      num_steps=num_steps, batch_shape=(8,), hooks=hooks, skip_nonfinite=skip_nonfinite, progress=False, **kwargs,
  )


def gan_run(workdir, num_steps, *, hooks=(), **kwargs):
  models = {"generator": _Net(2, 4, rngs=nnx.Rngs(1)), "discriminator": _Net(4, 1, rngs=nnx.Rngs(2))}
  opts = {"generator": optax.adam(1e-3, b1=0.5), "discriminator": optax.sgd(0.05, momentum=0.5)}
  kwargs = {"steps_per_call": 4, "checkpoint_every": 4, "seed": 2} | kwargs
  return train.run_training(
      workdir=workdir, config={"model": {"name": "tiny_gan"}}, models=models, optimizers=opts,
      updates=train.gan_updates(loss="non_saturating", k=2, latent_dim=2), data=_DATA, num_steps=num_steps,
      batch_shape=(2, 8), ema_networks=("generator",), ema_decay=0.9, hooks=hooks, progress=False, **kwargs,
  )


def _assert_states_equal(a, b):
  assert jax.tree.structure(a) == jax.tree.structure(b)
  jax.tree.map(np.testing.assert_array_equal, train.host_copy(a), train.host_copy(b))


@pytest.fixture(scope="module")
def gan_uninterrupted(tmp_path_factory):
  return gan_run(tmp_path_factory.mktemp("gan_full"), 12)[1]


@pytest.fixture(scope="module")
def vae_uninterrupted(tmp_path_factory):
  return vae_run(tmp_path_factory.mktemp("vae_full"), 12)[1]


def test_vae_resumed_equals_uninterrupted(tmp_path, vae_uninterrupted):
  full = vae_uninterrupted
  # Stop at step 7, not a multiple of the uninterrupted run's chunks (4) nor of the checkpoint
  # period (4). The interrupted run dispatches one step at a time (one compilation per run):
  # how the steps are chunked must not change the result either.
  vae_run(tmp_path / "cut", 7, steps_per_call=1)
  assert train.checkpoint_steps(tmp_path / "cut" / "checkpoints") == [4, 7]
  _, resumed = vae_run(tmp_path / "cut", 12, steps_per_call=1)
  _assert_states_equal(full, resumed)
  assert int(resumed.step) == 12 and int(resumed.rest["net"]["count"][...]) == 12
  # The resumed run redid no step twice in its record.
  steps = [r["step"] for r in train.read_metrics(tmp_path / "cut" / "metrics.jsonl")]
  assert steps == sorted(set(steps)) and steps[-1] == 12
  for name in ("config.json", "versions.json", "loss_curves.png"):
    assert (tmp_path / "cut" / name).exists()


def test_gan_resumed_equals_uninterrupted(tmp_path, gan_uninterrupted):
  gan_run(tmp_path, 5, steps_per_call=1)
  assert train.checkpoint_steps(tmp_path / "checkpoints") == [4, 5]
  _, resumed = gan_run(tmp_path, 12, steps_per_call=1)
  _assert_states_equal(gan_uninterrupted, resumed)
  # The EMA moved away from the parameters, so the test compares something the EMA update produced.
  g, e = gan_uninterrupted.params["generator"], gan_uninterrupted.ema["generator"]["params"]
  assert not np.array_equal(np.asarray(g["out"]["kernel"][...]), np.asarray(e["out"]["kernel"][...]))


_SIGNAL_SCRIPT = """
import os, signal, sys
sys.path.insert(0, {tests!r})
import test_resume

def send(state, step, metrics):
  if step == 8:
    os.kill(os.getpid(), signal.{sig})

test_resume.vae_run({workdir!r}, 12, hooks=[send], checkpoint_every=100)
print("not stopped")
"""


@pytest.mark.parametrize("sig", ["SIGTERM"])
def test_signal_saves_and_resume_is_exact(tmp_path, vae_uninterrupted, sig):
  script = _SIGNAL_SCRIPT.format(tests=os.path.dirname(__file__), workdir=str(tmp_path), sig=sig)
  proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
  signum = getattr(signal, sig)
  assert proc.returncode == 128 + signum, proc.stderr[-2000:]
  assert "not stopped" not in proc.stdout
  assert f"{sig}: stopped at step 8 of 12" in proc.stderr and "same workdir to resume" in proc.stderr
  # checkpoint_every=100: the only checkpoint is the one the signal made.
  assert train.checkpoint_steps(tmp_path / "checkpoints") == [8]
  _, resumed = vae_run(tmp_path, 12, checkpoint_every=100)
  _assert_states_equal(vae_uninterrupted, resumed)


def test_interrupt_raised_in_process_is_a_clean_exit(tmp_path):
  def send(state, step, metrics):
    if step == 4:
      os.kill(os.getpid(), signal.SIGINT)

  # Whatever handler the process had (SIG_IGN under nohup or in some CI runners).
  before = signal.getsignal(signal.SIGINT)
  with pytest.raises(train.TrainingInterrupted, match="SIGINT: stopped at step 4 of 8") as info:
    vae_run(tmp_path, 8, hooks=[send], checkpoint_every=100)
  assert info.value.code == 128 + signal.SIGINT
  assert train.checkpoint_steps(tmp_path / "checkpoints") == [4]
  # The handlers were restored: the test process would otherwise keep the run's handler.
  assert signal.getsignal(signal.SIGINT) is before


def test_nonfinite_stops_and_keeps_last_good_checkpoint(tmp_path):
  # The 7th train call (step 6) breaks; chunks of 2, checkpoints every 2 steps.
  with pytest.raises(train.NonFiniteError, match=r"non-finite loss/net at step 6.*Last good checkpoint: step 6"):
    vae_run(tmp_path, 10, nan_after=6, steps_per_call=2, checkpoint_every=2)
  assert train.checkpoint_steps(tmp_path / "checkpoints")[-1] == 6
  _, template = train.init_train_state({"net": _Net(4, 4, rngs=nnx.Rngs(5))}, {"net": optax.adam(1e-2)}, jax.random.key(0))
  with train.CheckpointManager(tmp_path / "checkpoints", create=False) as mngr:
    kept = mngr.restore(template)
  assert int(kept.step) == 6
  assert all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves(kept.params))


def test_skip_nonfinite_finishes_with_the_last_finite_parameters(tmp_path):
  _, state = vae_run(tmp_path, 8, nan_after=6, skip_nonfinite=True)
  assert int(state.step) == 8
  assert all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves(state.params))
  skipped = [r["skipped/net"] for r in train.read_metrics(tmp_path / "metrics.jsonl")]
  assert skipped == [0.0, 0.5]  # chunk means: steps 6 and 7 of 4..7 were skipped
