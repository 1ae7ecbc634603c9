"""Latent optimisation (jaxgen.inversion): it lowers each image's loss, solves the rows apart, leaves G alone."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxgen import inversion


def _generator(seed=0):
  return nnx.Sequential(nnx.Linear(4, 16, rngs=nnx.Rngs(seed)), jnp.tanh, nnx.Linear(16, 6, rngs=nnx.Rngs(seed + 1)))


def _pixel_loss(graphdef):
  def loss_fn(z, d):
    return jnp.sum(jnp.square(nnx.merge(graphdef, d["g"])(z) - d["x"]), axis=-1)
  return loss_fn


def _problem(num=5, seed=0):
  g = _generator()
  graphdef, state = nnx.split(g)
  z_true = jax.random.normal(jax.random.key(seed), (num, 4))
  x = g(z_true)
  return graphdef, state, {"g": state, "x": x}, z_true


def test_loss_falls_for_every_image_and_the_generator_is_untouched():
  graphdef, state, d, _ = _problem()
  before = jax.tree.map(np.array, state)
  z0 = np.zeros((5, 4), np.float32)
  z, history = inversion.optimize_latents(_pixel_loss(graphdef), z0, d, steps=200, learning_rate=0.05,
                                          steps_per_call=7)
  assert history["loss"].shape == (1 + 29, 5) and history["step"][-1] == 200  # 28 calls of 7, one of 4
  assert np.all(history["loss"][-1] < history["loss"][0])
  assert history["loss"][-1].mean() < 0.05 * history["loss"][0].mean()
  np.testing.assert_allclose(_pixel_loss(graphdef)(jnp.asarray(z), d), history["loss"][-1], rtol=1e-5)
  jax.tree.map(np.testing.assert_array_equal, jax.tree.map(np.array, state), before)


def test_rows_are_solved_as_if_alone():
  # Adam on the sum of per-row losses moves each row as Adam on that row's loss alone would.
  graphdef, _, d, _ = _problem()
  z0 = np.asarray(jax.random.normal(jax.random.key(3), (5, 4)))
  batch, _ = inversion.optimize_latents(_pixel_loss(graphdef), z0, d, steps=30, steps_per_call=10)
  for i in (0, 3):
    one = {"g": d["g"], "x": d["x"][i:i + 1]}
    alone, _ = inversion.optimize_latents(_pixel_loss(graphdef), z0[i:i + 1], one, steps=30, steps_per_call=10)
    np.testing.assert_allclose(batch[i], alone[0], rtol=1e-5, atol=1e-6)


def test_prior_weight_pulls_toward_the_origin():
  # With a flat loss only the prior acts: its gradient w z points at 0.
  z0 = np.full((2, 3), 2.0, np.float32)
  z, _ = inversion.optimize_latents(lambda z, d: jnp.zeros(z.shape[0]), z0, steps=50, prior_weight=1.0,
                                    learning_rate=0.05)
  assert np.all(np.abs(z) < 2.0 - 1.0)
  same, _ = inversion.optimize_latents(lambda z, d: jnp.zeros(z.shape[0]), z0, steps=50, prior_weight=0.0)
  np.testing.assert_array_equal(same, z0)


@pytest.mark.parametrize("kwargs, message", [
    ({"steps": -1}, "steps must be an integer >= 0"),
    ({"steps": 5, "steps_per_call": 0}, "steps_per_call must be an integer > 0"),
    ({"steps": 5, "learning_rate": 0.0}, "learning_rate must be a number > 0"),
    ({"steps": 5, "prior_weight": -1.0}, "prior_weight must be a number >= 0"),
])
def test_bad_arguments_fail_in_one_line(kwargs, message):
  with pytest.raises(ValueError, match=message):
    inversion.optimize_latents(lambda z, d: jnp.sum(z, -1), np.zeros((2, 3)), **kwargs)


def test_bad_shapes_fail_in_one_line():
  with pytest.raises(ValueError, match=r"z0 must be latents \(B, latent_dim\)"):
    inversion.optimize_latents(lambda z, d: z, np.zeros(3), steps=1)
  with pytest.raises(ValueError, match=r"loss_fn must return one loss per row of z, shape \(2,\)"):
    inversion.optimize_latents(lambda z, d: jnp.sum(z), np.zeros((2, 3)), steps=1)
