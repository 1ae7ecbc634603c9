"""Tests for the ELBO and the IWAE bound against numpy/scipy references."""

import math

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

from jaxgen.losses import elbo, iwae_bound


def test_elbo_standard_prior_matches_eq10():
  rng = np.random.default_rng(0)
  mean, logvar = rng.normal(size=(2, 5, 3))
  ll = rng.normal(size=5) - 50.0
  # Kingma & Welling (2014), eq. 10: 1/2 sum(1 + log sigma^2 - mu^2 - sigma^2) + log p(x|z).
  expected = ll + 0.5 * np.sum(1.0 + logvar - mean**2 - np.exp(logvar), axis=-1)
  got = elbo(*(jnp.asarray(a, jnp.float32) for a in (ll, mean, logvar)))
  chex.assert_shape(got, (5,))
  np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_elbo_beta_and_general_prior():
  rng = np.random.default_rng(1)
  mean, logvar, prior_mean, prior_logvar = rng.normal(size=(4, 3, 2))
  ll = rng.normal(size=3)
  # The chapter's eq. 33: log(sigma_p / sigma_q) - 1/2 + (sigma_q^2 + (mu_q - mu_p)^2) / (2 sigma_p^2).
  kl = np.sum(
      0.5 * (prior_logvar - logvar)
      - 0.5
      + (np.exp(logvar) + (mean - prior_mean) ** 2) / (2.0 * np.exp(prior_logvar)),
      axis=-1,
  )
  for beta in [0.0, 0.5, 4.0]:
    got = elbo(
        *(jnp.asarray(a, jnp.float32) for a in (ll, mean, logvar)),
        beta=beta,
        prior_mean=jnp.asarray(prior_mean, jnp.float32),
        prior_logvar=jnp.asarray(prior_logvar, jnp.float32),
    )
    np.testing.assert_allclose(got, ll - beta * kl, rtol=1e-5, atol=1e-6)


def test_elbo_latent_axes_tuple():
  mean = jnp.ones((2, 3, 4))
  logvar = jnp.zeros((2, 3, 4))
  got = elbo(jnp.zeros(2), mean, logvar, axis=(-2, -1))
  np.testing.assert_allclose(got, np.full(2, -0.5 * 12), rtol=1e-6)


def test_elbo_shape_mismatch_raises():
  with pytest.raises(ValueError, match="one value per example"):
    elbo(jnp.zeros(3), jnp.zeros((4, 2)), jnp.zeros((4, 2)))


def test_elbo_gradients_finite_near_prior():
  # At the prior (KL = 0) and near it the gradient of the KL term must stay finite and exact.
  g_mean, g_logvar = jax.grad(lambda m, lv: elbo(jnp.float32(0.0), m, lv), argnums=(0, 1))(
      jnp.zeros(3), jnp.array([0.0, 1e-7, -1e-7])
  )
  np.testing.assert_allclose(g_mean, np.zeros(3), atol=1e-12)
  # d/dlogvar of -1/2 (exp(lv) - 1 - lv) = -1/2 expm1(lv).
  np.testing.assert_allclose(g_logvar, -0.5 * np.expm1([0.0, 1e-7, -1e-7]), rtol=1e-5, atol=1e-12)


def test_elbo_check_grads():
  rng = np.random.default_rng(2)
  with jax.enable_x64(True):
    ll = jnp.asarray(rng.normal(size=3))
    mean, logvar = (jnp.asarray(rng.normal(size=(3, 2))) for _ in range(2))
    # Second order of the KL term is covered in test_divergences.
    check_grads(jax.jit(elbo), (ll, mean, logvar), order=1, modes=("rev",))


# ----------------------------------------------------------------------------- iwae_bound


def test_iwae_matches_scipy_logsumexp():
  rng = np.random.default_rng(3)
  lw = rng.normal(scale=5.0, size=(4, 10)) - 100.0
  expected = scipy.special.logsumexp(lw, axis=-1) - math.log(10)
  got = iwae_bound(jnp.asarray(lw, jnp.float32))
  chex.assert_shape(got, (4,))
  np.testing.assert_allclose(got, expected, rtol=1e-6)
  np.testing.assert_allclose(iwae_bound(jnp.asarray(lw.T, jnp.float32), axis=0), expected, rtol=1e-6)


def test_iwae_stable_around_minus_1000():
  lw = jnp.array([-1000.0, -1001.0, -1002.0, -1000.5])
  expected = scipy.special.logsumexp(np.array([-1000.0, -1001.0, -1002.0, -1000.5])) - math.log(4)
  got = iwae_bound(lw)
  np.testing.assert_allclose(got, expected, rtol=1e-7)
  g = jax.grad(iwae_bound)(lw)
  # The gradient is the vector of normalized importance weights.
  np.testing.assert_allclose(g, scipy.special.softmax([-1000.0, -1001.0, -1002.0, -1000.5]), rtol=1e-5)


def test_iwae_with_one_sample_is_the_log_weight():
  np.testing.assert_allclose(iwae_bound(jnp.array([[-3.5], [-7.0]])), [-3.5, -7.0], rtol=1e-7)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(st.lists(st.floats(-1e3, 1e3), min_size=6, max_size=6))
def test_iwae_between_mean_and_max_of_log_weights(log_weights):
  # Jensen: mean(log w) <= log mean(w) <= max(log w).
  lw = np.array(log_weights)
  got = float(iwae_bound(jnp.asarray(lw, jnp.float32)))
  tol = 1e-4 * (1.0 + np.abs(lw).max())
  assert lw.mean() - tol <= got <= lw.max() + tol


def test_iwae_scalar_raises():
  with pytest.raises(ValueError, match="importance-sample axis"):
    iwae_bound(jnp.float32(1.0))


def test_iwae_check_grads():
  rng = np.random.default_rng(4)
  with jax.enable_x64(True):
    check_grads(jax.jit(iwae_bound), (jnp.asarray(rng.normal(size=(2, 5))),), order=1, modes=("rev",))


def test_jit_and_vmap():
  rng = np.random.default_rng(5)
  ll = jnp.asarray(rng.normal(size=4), jnp.float32)
  mean, logvar = (jnp.asarray(rng.normal(size=(4, 3)), jnp.float32) for _ in range(2))
  eager = elbo(ll, mean, logvar)
  chex.assert_trees_all_close(jax.jit(elbo)(ll, mean, logvar), eager, rtol=1e-6)
  chex.assert_trees_all_close(jax.vmap(elbo)(ll, mean, logvar), eager, rtol=1e-6)
  lw = jnp.asarray(rng.normal(size=(4, 6)), jnp.float32)
  chex.assert_trees_all_close(jax.jit(iwae_bound)(lw), iwae_bound(lw), rtol=1e-6)
  chex.assert_trees_all_close(jax.vmap(iwae_bound)(lw), iwae_bound(lw), rtol=1e-6)


# ----------------------------------------------------------------------------- refused input


def _one_line_error(fn, *args, **kwargs):
  """The ValueError message of fn(*args, **kwargs), asserted to be one line."""
  with pytest.raises(ValueError) as info:
    fn(*args, **kwargs)
  message = str(info.value)
  assert "\n" not in message and message
  return message


@pytest.mark.parametrize(
    "call, expected",
    [
        (lambda: elbo(jnp.zeros(4, jnp.int32), jnp.zeros((4, 2)), jnp.zeros((4, 2))),
         "elbo: log_likelihood has integer dtype int32: pass float log-likelihoods."),
        (lambda: elbo(jnp.zeros(4), jnp.zeros((4, 2), jnp.int32), jnp.zeros((4, 2))),
         "elbo: mean has integer dtype int32"),
        (lambda: elbo(jnp.zeros(4), jnp.zeros((4, 2)), jnp.zeros((4, 2), jnp.uint8)),
         "elbo: logvar has integer dtype uint8"),
        (lambda: iwae_bound(jnp.zeros((4, 3), jnp.int32)), "iwae_bound: log_weights has integer dtype int32"),
        (lambda: jax.jit(iwae_bound)(jnp.zeros((4, 3), jnp.int32)), "iwae_bound: log_weights has integer dtype"),
    ],
)
def test_integer_arrays_are_refused_in_one_line(call, expected):
  assert expected in _one_line_error(call)
