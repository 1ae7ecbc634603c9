"""Tests for the reconstruction log-likelihoods against scipy.stats."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads

from jaxgen.losses import bernoulli_log_likelihood, gaussian_log_likelihood


def test_bernoulli_matches_scipy_on_binary_data():
  rng = np.random.default_rng(0)
  logits = rng.normal(scale=3.0, size=(4, 7))
  x = (rng.random((4, 7)) < 0.5).astype(np.float64)
  expected = scipy.stats.bernoulli.logpmf(x, scipy.special.expit(logits)).sum(-1)
  got = bernoulli_log_likelihood(jnp.asarray(x, jnp.float32), jnp.asarray(logits, jnp.float32))
  chex.assert_shape(got, (4,))
  np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_bernoulli_is_minus_binary_cross_entropy_for_grey_values():
  rng = np.random.default_rng(1)
  logits = rng.normal(size=(3, 5))
  x = rng.random((3, 5))
  prob = scipy.special.expit(logits)
  expected = np.sum(x * np.log(prob) + (1 - x) * np.log1p(-prob), axis=-1)
  got = bernoulli_log_likelihood(jnp.asarray(x, jnp.float32), jnp.asarray(logits, jnp.float32))
  np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_bernoulli_image_axes():
  rng = np.random.default_rng(2)
  x = (rng.random((2, 4, 4, 1)) < 0.3).astype(np.float32)
  logits = rng.normal(size=(2, 4, 4, 1)).astype(np.float32)
  expected = scipy.stats.bernoulli.logpmf(x, scipy.special.expit(logits)).sum(axis=(1, 2, 3))
  got = bernoulli_log_likelihood(jnp.asarray(x), jnp.asarray(logits), axis=(-3, -2, -1))
  chex.assert_shape(got, (2,))
  np.testing.assert_allclose(got, expected, rtol=1e-5)
  np.testing.assert_allclose(
      bernoulli_log_likelihood(jnp.asarray(x), jnp.asarray(logits), axis=None), expected.sum(), rtol=1e-5
  )


def test_bernoulli_extreme_logits_finite_and_accurate():
  x = jnp.array([1.0, 0.0, 1.0, 0.0, 1.0])
  logits = jnp.array([1e4, -1e4, -1e4, 1e4, 30.0])
  # log sigmoid(l) = -log(1 + exp(-l)), evaluated with numpy's logaddexp.
  l = np.array([1e4, -1e4, -1e4, 1e4, 30.0])
  xn = np.array([1.0, 0.0, 1.0, 0.0, 1.0])
  expected = -(xn * np.logaddexp(0, -l) + (1 - xn) * np.logaddexp(0, l))
  got = jax.vmap(lambda a, b: bernoulli_log_likelihood(a, b, axis=None))(x, logits)
  np.testing.assert_allclose(got, expected, rtol=1e-5)
  assert float(got[4]) < 0.0  # -exp(-30), not rounded to 0 by cancellation
  g = jax.grad(lambda l_: bernoulli_log_likelihood(x, l_))(logits)
  assert np.all(np.isfinite(g))
  # d/dl = x - sigmoid(l).
  np.testing.assert_allclose(g, xn - scipy.special.expit(l), atol=1e-6)


def test_gaussian_matches_scipy():
  rng = np.random.default_rng(3)
  x, mean, logvar = rng.normal(size=(3, 4, 6))
  expected = scipy.stats.norm.logpdf(x, mean, np.exp(0.5 * logvar)).sum(-1)
  got = gaussian_log_likelihood(*(jnp.asarray(a, jnp.float32) for a in (x, mean, logvar)))
  chex.assert_shape(got, (4,))
  np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_gaussian_scalar_logvar_and_axes():
  rng = np.random.default_rng(4)
  x, mean = rng.normal(size=(2, 2, 3, 3))
  expected = scipy.stats.norm.logpdf(x, mean, np.exp(0.5 * -1.0)).sum(axis=(1, 2))
  got = gaussian_log_likelihood(
      jnp.asarray(x, jnp.float32), jnp.asarray(mean, jnp.float32), jnp.float32(-1.0), axis=(-2, -1)
  )
  np.testing.assert_allclose(got, expected, rtol=1e-5)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(st.floats(-5, 5), st.floats(-5, 5), st.floats(-6, 6))
def test_gaussian_hypothesis_matches_scipy(x, mean, logvar):
  got = float(gaussian_log_likelihood(jnp.array([x]), jnp.array([mean]), jnp.array([logvar])))
  expected = scipy.stats.norm.logpdf(x, mean, np.exp(0.5 * logvar))
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_bad_shapes_raise():
  with pytest.raises(ValueError, match="same shape"):
    bernoulli_log_likelihood(jnp.zeros(3), jnp.zeros(4))
  with pytest.raises(ValueError, match="same shape"):
    gaussian_log_likelihood(jnp.zeros(3), jnp.zeros(4), jnp.zeros(3))
  with pytest.raises(ValueError, match="scalar or have the shape"):
    gaussian_log_likelihood(jnp.zeros(3), jnp.zeros(3), jnp.zeros(2))


def test_check_grads():
  rng = np.random.default_rng(5)
  with jax.enable_x64(True):
    x = jnp.asarray(rng.random(5))
    check_grads(
        jax.jit(lambda l: bernoulli_log_likelihood(x, l)), (jnp.asarray(rng.normal(size=5)),), order=1,
        modes=("rev",),
    )
    args = tuple(jnp.asarray(rng.normal(size=5)) for _ in range(3))
    check_grads(jax.jit(gaussian_log_likelihood), args, order=1, modes=("rev",))


@pytest.mark.parametrize(
    "fn, n_args",
    [(bernoulli_log_likelihood, 2), (gaussian_log_likelihood, 3)],
    ids=["bernoulli", "gaussian"],
)
def test_jit_and_vmap(fn, n_args):
  rng = np.random.default_rng(6)
  args = [jnp.asarray(rng.random((4, 5)), jnp.float32) for _ in range(n_args)]
  eager = fn(*args)
  chex.assert_trees_all_close(jax.jit(fn)(*args), eager, rtol=1e-6)
  chex.assert_trees_all_close(jax.vmap(fn)(*args), eager, rtol=1e-6)
