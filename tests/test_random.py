"""Tests for jaxgen.random: shapes, distributions (scipy.stats) and gradients."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from jaxgen.random import bernoulli_binarize, reparameterize, sample_prior


def test_reparameterize_shape_dtype_and_determinism():
  key = jax.random.key(0)
  mean, logvar = jnp.zeros((3, 2)), jnp.zeros((3, 2))
  z = reparameterize(key, mean, logvar)
  chex.assert_shape(z, (3, 2))
  assert z.dtype == jnp.float32
  np.testing.assert_array_equal(z, reparameterize(key, mean, logvar))
  assert not np.array_equal(z, reparameterize(jax.random.key(1), mean, logvar))
  chex.assert_shape(reparameterize(key, mean, logvar, sample_shape=(5, 4)), (5, 4, 3, 2))


def test_reparameterize_is_normal_with_given_mean_and_variance():
  mean = jnp.array([1.5, -2.0])
  logvar = jnp.array([np.log(0.25), np.log(4.0)])
  z = np.asarray(reparameterize(jax.random.key(2), mean, logvar, sample_shape=(20000,)))
  for i, (m, s) in enumerate([(1.5, 0.5), (-2.0, 2.0)]):
    ks = scipy.stats.kstest(z[:, i], scipy.stats.norm(m, s).cdf)
    assert ks.pvalue > 1e-3, ks


def test_reparameterize_gradients():
  key = jax.random.key(3)
  mean = jnp.array([0.3, -1.0, 2.0])
  logvar = jnp.array([0.1, -0.5, 1.0])
  eps = np.asarray(reparameterize(key, jnp.zeros(3), jnp.zeros(3)))  # the same noise, unit scale
  g_mean, g_logvar = jax.grad(lambda m, lv: reparameterize(key, m, lv).sum(), argnums=(0, 1))(mean, logvar)
  np.testing.assert_allclose(g_mean, np.ones(3), rtol=1e-6)
  # dz/dlogvar = 1/2 exp(logvar / 2) eps.
  np.testing.assert_allclose(g_logvar, 0.5 * np.exp(0.5 * np.asarray(logvar)) * eps, rtol=1e-5)


def test_reparameterize_bad_input_raises():
  key = jax.random.key(0)
  with pytest.raises(ValueError, match="same shape"):
    reparameterize(key, jnp.zeros(3), jnp.zeros(2))
  with pytest.raises(ValueError, match="floating point"):
    reparameterize(key, jnp.zeros(3, jnp.int32), jnp.zeros(3, jnp.int32))


def test_sample_prior_is_standard_normal():
  z = sample_prior(jax.random.key(4), (4000, 5))
  chex.assert_shape(z, (4000, 5))
  assert z.dtype == jnp.float32
  ks = scipy.stats.kstest(np.asarray(z).ravel(), scipy.stats.norm().cdf)
  assert ks.pvalue > 1e-3, ks
  assert sample_prior(jax.random.key(4), (2,), jnp.bfloat16).dtype == jnp.bfloat16


def test_bernoulli_binarize():
  probs = jnp.array([0.0, 1.0, 0.2, 0.7], jnp.float32)
  x = np.asarray(bernoulli_binarize(jax.random.key(5), jnp.broadcast_to(probs, (20000, 4))))
  assert x.dtype == np.float32
  assert set(np.unique(x)) <= {0.0, 1.0}
  assert np.all(x[:, 0] == 0.0) and np.all(x[:, 1] == 1.0)
  for i, p in [(2, 0.2), (3, 0.7)]:
    # Two-sided binomial test of the observed count.
    assert scipy.stats.binomtest(int(x[:, i].sum()), 20000, p).pvalue > 1e-3
  with pytest.raises(ValueError, match="floating point"):
    bernoulli_binarize(jax.random.key(0), jnp.zeros(3, jnp.uint8))


def test_jit_and_vmap_over_keys():
  keys = jax.random.split(jax.random.key(6), 4)
  mean, logvar = jnp.ones((4, 3)), jnp.zeros((4, 3))
  z = jax.vmap(reparameterize)(keys, mean, logvar)
  chex.assert_shape(z, (4, 3))
  np.testing.assert_allclose(z[1], reparameterize(keys[1], mean[1], logvar[1]), rtol=1e-6)
  np.testing.assert_allclose(jax.jit(reparameterize)(keys[0], mean, logvar), reparameterize(keys[0], mean, logvar), rtol=1e-6)

  prior = jax.vmap(lambda k: sample_prior(k, (3,)))(keys)
  np.testing.assert_allclose(prior[2], sample_prior(keys[2], (3,)), rtol=1e-6)
  jitted_prior = jax.jit(sample_prior, static_argnums=1)
  np.testing.assert_allclose(jitted_prior(keys[0], (3,)), sample_prior(keys[0], (3,)), rtol=1e-6)

  probs = jnp.full((4, 3), 0.5)
  b = jax.vmap(bernoulli_binarize)(keys, probs)
  np.testing.assert_array_equal(b[3], bernoulli_binarize(keys[3], probs[3]))
  np.testing.assert_array_equal(jax.jit(bernoulli_binarize)(keys[0], probs), bernoulli_binarize(keys[0], probs))
