"""Pix2pix and CycleGAN objectives against numpy references on fixed batches, and what their updates move."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from jaxgen import objectives, train

_RNG = np.random.default_rng(0)
A = _RNG.uniform(-1, 1, (4, 4, 4, 1)).astype(np.float32)
B = _RNG.uniform(-1, 1, (4, 4, 4, 1)).astype(np.float32)


def softplus(x):
  return np.logaddexp(0.0, x)


class Scale(nnx.Module):
  """G(x) = tanh(w * x + c): a translation network with two parameters."""

  def __init__(self, w, c):
    self.w, self.c = nnx.Param(jnp.float32(w)), nnx.Param(jnp.float32(c))

  def __call__(self, x, *, train, key=None):
    return jnp.tanh(self.w * x + self.c)


class Patches(nnx.Module):
  """D(x) = 2x2 patch means of v * x (+ u * input): patch logits (B, 2, 2), conditional or not."""

  def __init__(self, v, u=0.0):
    self.v, self.u = nnx.Param(jnp.float32(v)), nnx.Param(jnp.float32(u))

  def __call__(self, x, y=None, *, train, key=None):
    h = self.v * (x if y is None else y) + (0.0 if y is None else self.u * x)
    return h.reshape(h.shape[0], 2, 2, 2, 2, -1).mean(axis=(2, 4, 5))


def np_patches(x, v, u=0.0, cond=None):
  h = v * x + (0.0 if cond is None else u * cond)
  return h.reshape(h.shape[0], 2, 2, 2, 2, -1).mean(axis=(2, 4, 5))


def ctx(batch, aux=None, shared=None):
  return objectives.Context(step=jnp.int32(0), key=jax.random.key(0), batch=batch, aux=aux, shared=shared or {})


def test_pix2pix_losses_match_numpy():
  models = {"generator": Scale(0.7, 0.1), "discriminator": Patches(0.5, -0.3)}
  forward, d_update, g_update = objectives.pix2pix_updates()
  batch = {"pair": {"a": A, "b": B}}
  fake = np.tanh(0.7 * A + 0.1)
  np.testing.assert_allclose(forward.fn(models, ctx(batch)), fake, rtol=1e-6)
  batch_ctx = ctx(batch, shared={"fake": forward.fn(models, ctx(batch))})
  real_logits, fake_logits = np_patches(B, 0.5, -0.3, A), np_patches(fake, 0.5, -0.3, A)
  d_loss, d_metrics = jax.jit(d_update.objective)(models, batch_ctx)
  # Non-saturating D: -log sigmoid(real) - log(1 - sigmoid(fake)), halved (Isola et al. Section 3.3).
  np.testing.assert_allclose(d_loss, 0.5 * np.mean(softplus(-real_logits) + softplus(fake_logits)), rtol=1e-5)
  np.testing.assert_allclose(d_metrics["d_real"], np.mean(1 / (1 + np.exp(-real_logits))), rtol=1e-5)
  g_loss, g_metrics = jax.jit(g_update.objective)(models, batch_ctx)
  l1 = np.mean(np.abs(fake - B))
  np.testing.assert_allclose(g_metrics["l1"], l1, rtol=1e-5)
  np.testing.assert_allclose(g_loss, np.mean(softplus(-fake_logits)) + 100.0 * l1, rtol=1e-5)


def test_pix2pix_l1_only_and_bad_arguments():
  forward, g_update = objectives.pix2pix_updates(gan_weight=0.0)
  models = {"generator": Scale(0.7, 0.1)}  # no discriminator needed
  batch = {"pair": {"a": A, "b": B}}
  loss, metrics = g_update.objective(models, ctx(batch, shared={"fake": forward.fn(models, ctx(batch))}))
  np.testing.assert_allclose(loss, 100.0 * np.mean(np.abs(np.tanh(0.7 * A + 0.1) - B)), rtol=1e-5)
  assert "g_gan" not in metrics
  with pytest.raises(ValueError, match="both 0"):
    objectives.pix2pix_updates(gan_weight=0.0, l1_weight=0.0)
  with pytest.raises(ValueError, match="not available for image translation"):
    objectives.pix2pix_updates(loss="wgan_gp")
  with pytest.raises(ValueError, match="Did you mean"):
    objectives.pix2pix_updates(loss="hinje")
  with pytest.raises(ValueError, match="aligned pairs"):
    forward.fn(models, ctx({"x": A}))


def _cycle_models():
  return {"g_ab": Scale(0.8, 0.2), "g_ba": Scale(1.1, -0.1), "d_a": Patches(0.4), "d_b": Patches(-0.6)}


@pytest.mark.parametrize("identity", [0.0, 0.5])
def test_cyclegan_generator_loss_matches_numpy(identity):
  g_update, _ = objectives.cyclegan_updates(identity=identity)
  aux = objectives.cyclegan_aux_init(0, A.shape[1:], B.shape[1:], A.shape[0])
  loss, metrics, new_aux = jax.jit(g_update.objective)(_cycle_models(), ctx({"a": A, "b": B}, aux))
  G = lambda x: np.tanh(0.8 * x + 0.2)
  F = lambda x: np.tanh(1.1 * x - 0.1)
  fake_b, fake_a = G(A), F(B)
  # Least squares G as the reference's MSE criterion has it: (D(G(a)) - 1)^2 per patch, no 1/2.
  adv = np.mean((np_patches(fake_b, -0.6) - 1) ** 2) + np.mean((np_patches(fake_a, 0.4) - 1) ** 2)
  cycle = 10 * np.mean(np.abs(F(fake_b) - A)) + 10 * np.mean(np.abs(G(fake_a) - B))
  idt = identity * (10 * np.mean(np.abs(G(B) - B)) + 10 * np.mean(np.abs(F(A) - A)))
  np.testing.assert_allclose(loss, adv + cycle + idt, rtol=1e-5)
  np.testing.assert_allclose(new_aux["fake_b"], fake_b, rtol=1e-5)
  np.testing.assert_allclose(new_aux["fake_a"], fake_a, rtol=1e-5)
  assert ("identity_a" in metrics) == (identity > 0)


def test_cyclegan_discriminator_loss_reads_the_step_fakes():
  _, d_update = objectives.cyclegan_updates()
  fake_a, fake_b = _RNG.uniform(-1, 1, A.shape).astype(np.float32), _RNG.uniform(-1, 1, B.shape).astype(np.float32)
  aux = {"fake_a": fake_a, "fake_b": fake_b}  # no pools: D sees this step's fakes as they are
  loss, metrics, _ = jax.jit(d_update.objective)(_cycle_models(), ctx({"a": A, "b": B}, aux))
  # The reference: 1/2 [MSE(D(real), 1) + MSE(D(fake), 0)].
  lsgan = lambda real, fake: 0.5 * (np.mean((real - 1) ** 2) + np.mean(fake**2))
  expected_a = lsgan(np_patches(A, 0.4), np_patches(fake_a, 0.4))
  expected_b = lsgan(np_patches(B, -0.6), np_patches(fake_b, -0.6))
  np.testing.assert_allclose(metrics["d_a_loss"], expected_a, rtol=1e-5)
  np.testing.assert_allclose(loss, expected_a + expected_b, rtol=1e-5)


def test_joint_generator_update_moves_both_generators_and_the_pools_fill():
  models = _cycle_models()
  optimizers = {name: optax.adam(1e-2) for name in models}
  updates = objectives.cyclegan_updates()
  aux = objectives.cyclegan_aux_init(6, A.shape[1:], B.shape[1:], A.shape[0])
  graphdefs, state = train.init_train_state(models, optimizers, jax.random.key(0), aux=aux)
  before = train.host_copy(state.params)
  step = jax.jit(train.make_train_step(graphdefs, optimizers, updates[:1]))
  after_g, metrics = step(state, {"a": A, "b": B})
  for name in ("g_ab", "g_ba"):
    assert all(not np.allclose(x, y) for x, y in zip(jax.tree.leaves(train.host_copy(after_g.params[name])),
                                                       jax.tree.leaves(before[name]))), name
  for name in ("d_a", "d_b"):  # the generators' update leaves the discriminators alone
    jax.tree.map(np.testing.assert_array_equal, train.host_copy(after_g.params[name]), before[name])
  full = jax.jit(train.make_train_step(graphdefs, optimizers, updates))
  state = after_g
  for _ in range(2):
    state, metrics = full(state, {"a": A, "b": B})
  assert int(state.aux["pool_a"]["count"]) == 6 and np.isfinite(float(metrics["d_loss"]))
