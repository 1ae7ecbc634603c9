"""GAN updates: one D step raises V(D, G), one G step lowers it, only the updated network moves."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from jaxgen import train


class _Generator(nnx.Module):
  def __init__(self, *, rngs):
    self.l1 = nnx.Linear(3, 16, rngs=rngs)
    self.bn = nnx.BatchNorm(16, rngs=rngs)
    self.l2 = nnx.Linear(16, 2, rngs=rngs)

  def __call__(self, z, *, train):
    return self.l2(jax.nn.relu(self.bn(self.l1(z), use_running_average=not train)))


class _Discriminator(nnx.Module):
  def __init__(self, *, rngs):
    self.l1 = nnx.Linear(2, 16, rngs=rngs)
    self.l2 = nnx.Linear(16, 1, rngs=rngs)

  def __call__(self, x, *, train, key):
    del train, key  # no dropout: the test needs a deterministic V
    return self.l2(jnp.tanh(self.l1(x)))[:, 0]


_B = 32
_X = np.random.default_rng(0).normal(size=(_B, 2)).astype(np.float32) + np.float32(3.0)
_Z = np.random.default_rng(1).normal(size=(_B, 3)).astype(np.float32)


def _fixed_latent(key, num):
  del key
  return jnp.asarray(_Z[:num])


def _setup(loss, lr=1e-2):
  models = {"generator": _Generator(rngs=nnx.Rngs(0)), "discriminator": _Discriminator(rngs=nnx.Rngs(1))}
  optimizers = {name: optax.sgd(lr) for name in models}
  graphdefs, state = train.init_train_state(models, optimizers, jax.random.key(0))
  updates = train.gan_updates(loss=loss, latent_dim=None, sample_latent=_fixed_latent)
  return graphdefs, state, optimizers, updates


def _value(graphdefs, state):
  """Monte Carlo V(D, G) on the fixed batch, written out with numpy."""
  models = train.merge_models(graphdefs, state)
  fake = models["generator"](jnp.asarray(_Z), train=True)
  real_d = 1 / (1 + np.exp(-np.asarray(models["discriminator"](jnp.asarray(_X), train=False, key=None), np.float64)))
  fake_d = 1 / (1 + np.exp(-np.asarray(models["discriminator"](fake, train=False, key=None), np.float64)))
  return np.mean(np.log(real_d)) + np.mean(np.log1p(-fake_d))


@pytest.mark.parametrize("loss", ["minimax", "non_saturating"])
def test_d_step_raises_value_and_g_step_lowers_it(loss):
  graphdefs, state, optimizers, (d_update, g_update) = _setup(loss)
  batch = {"x": jnp.asarray(_X)}
  d_step = jax.jit(train.make_train_step(graphdefs, optimizers, [d_update]))
  g_step = jax.jit(train.make_train_step(graphdefs, optimizers, [g_update]))

  v0 = _value(graphdefs, state)
  after_d, d_metrics = d_step(state, batch)
  v1 = _value(graphdefs, after_d)
  after_g, g_metrics = g_step(after_d, batch)
  v2 = _value(graphdefs, after_g)
  assert v1 > v0 + 1e-6
  assert v2 < v1 - 1e-6
  # The reported D loss is -V at the pre-step parameters (both in train mode, G has batch statistics).
  np.testing.assert_allclose(float(d_metrics["d_loss"]), -v0, rtol=1e-5)
  assert 0 < float(d_metrics["d_real"]) < 1 and 0 < float(d_metrics["d_fake"]) < 1
  assert set(d_metrics) >= {"d_loss", "d_real", "d_fake", "loss/discriminator"}
  assert set(g_metrics) >= {"g_loss", "loss/generator"}

  # Only the updated network's parameters move.
  chex.assert_trees_all_equal(after_d.params["generator"], state.params["generator"])
  assert not np.allclose(after_d.params["discriminator"]["l1"]["kernel"][...], state.params["discriminator"]["l1"]["kernel"][...])
  chex.assert_trees_all_equal(after_g.params["discriminator"], after_d.params["discriminator"])
  assert not np.allclose(after_g.params["generator"]["l1"]["kernel"][...], after_d.params["generator"]["l1"]["kernel"][...])


def test_generator_losses_match_their_formulas():
  for loss, g_formula in [("minimax", lambda d: np.log1p(-d)), ("non_saturating", lambda d: -np.log(d))]:
    graphdefs, state, optimizers, (_, g_update) = _setup(loss)
    _, metrics = jax.jit(train.make_train_step(graphdefs, optimizers, [g_update]))(state, {"x": jnp.asarray(_X)})
    models = train.merge_models(graphdefs, state)
    logits = np.asarray(models["discriminator"](models["generator"](jnp.asarray(_Z), train=True), train=False, key=None))
    np.testing.assert_allclose(float(metrics["g_loss"]), np.mean(g_formula(1 / (1 + np.exp(-logits)))), rtol=1e-5)


def test_k_discriminator_steps_with_split_batch_and_batchnorm_stats():
  models = {"generator": _Generator(rngs=nnx.Rngs(0)), "discriminator": _Discriminator(rngs=nnx.Rngs(1))}
  optimizers = {name: optax.adam(1e-3) for name in models}
  graphdefs, state = train.init_train_state(models, optimizers, jax.random.key(0), ema_networks=("generator",))
  updates = train.gan_updates(k=3, latent_dim=3)
  assert updates[0].repeats == 3 and updates[0].split_batch
  multi = train.make_multi_step(train.make_train_step(graphdefs, optimizers, updates, ema_decay=0.9))
  data = {"x": jnp.asarray(np.random.default_rng(2).normal(size=(600, 2)), jnp.float32)}
  idx = train.batch_indices(0, 0, 4, 600, (3, 16))
  new_state, metrics = multi(jax.tree.map(jnp.copy, state), data, {"x": jnp.asarray(idx)})
  chex.assert_shape(metrics["d_loss"], (4,))
  assert np.all(np.isfinite(np.asarray(metrics["g_loss"])))
  # The generator's BatchNorm running mean was updated by the train-mode calls.
  assert not np.allclose(new_state.rest["generator"]["bn"]["mean"][...], 0.0)
  assert int(new_state.step) == 4


def test_unknown_loss_names_the_nearest():
  with pytest.raises(ValueError, match="Did you mean 'non_saturating'"):
    train.gan_updates(loss="non-saturating", latent_dim=2)
  with pytest.raises(ValueError, match="k"):
    train.gan_updates(k=0, latent_dim=2)
  with pytest.raises(ValueError, match="latent_dim"):
    train.gan_updates(latent_dim=None)


def test_batch_must_be_a_dict_with_x():
  graphdefs, state, optimizers, updates = _setup("minimax")
  step = train.make_train_step(graphdefs, optimizers, updates)
  with pytest.raises(ValueError, match="'x'"):
    step(state, jnp.asarray(_X))


def test_orthogonal_regularisation_adds_beta_times_the_tree_penalty_to_each_network():
  """BigGAN's ortho reg enters each network's loss as beta * R(weights), G's without the excluded parameters."""
  from jaxgen import losses, objectives

  models = {"generator": _Generator(rngs=nnx.Rngs(0)), "discriminator": _Discriminator(rngs=nnx.Rngs(1))}
  ctx = objectives.Context(step=jnp.int32(0), key=jax.random.key(0), batch={"x": jnp.asarray(_X)}, aux=None)
  plain = train.gan_updates(loss="hinge", latent_dim=None, sample_latent=_fixed_latent)
  ortho = train.gan_updates(loss="hinge", latent_dim=None, sample_latent=_fixed_latent, generator_ortho=1e-2,
                            discriminator_ortho=3e-2, ortho_exclude=("l1",))
  d_plain, _ = plain[0].objective(models, ctx)
  d_ortho, d_metrics = ortho[0].objective(models, ctx)
  g_plain, _ = plain[1].objective(models, ctx)
  g_ortho, g_metrics = ortho[1].objective(models, ctx)
  r_d = losses.orthogonal_regularization_tree(nnx.state(models["discriminator"], nnx.Param), 1.0)
  # G's first layer excluded: only l2's kernel counts (BatchNorm scales and biases have one axis).
  r_g = losses.orthogonal_regularization(models["generator"].l2.kernel[...], 1.0)
  # Differences of two losses: float32 cancellation, hence the tolerance.
  np.testing.assert_allclose(d_ortho - d_plain, 3e-2 * r_d, rtol=1e-3)
  np.testing.assert_allclose(g_ortho - g_plain, 1e-2 * r_g, rtol=1e-3)
  np.testing.assert_allclose(g_metrics["g_ortho"], r_g, rtol=1e-6)
  assert float(r_g) > 0 and float(d_metrics["d_ortho"]) > 0
  with pytest.raises(ValueError, match="generator_ortho must be >= 0"):
    train.gan_updates(loss="hinge", latent_dim=3, generator_ortho=-1.0)
