"""Tests for the truncation trick's latent sampler (Brock et al. 2019, Section 3.1).

The distribution is checked against a standard normal truncated to [-t, t]:
its variance written out with ``math.erf`` and its CDF from ``scipy.stats.truncnorm``.
"""

import functools
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.random import truncated_normal_resample


def _truncated_normal_variance(t):
  """Var of N(0, 1) conditioned on |z| <= t: 1 - 2 t phi(t) / (2 Phi(t) - 1)."""
  phi = math.exp(-0.5 * t * t) / math.sqrt(2.0 * math.pi)
  mass = math.erf(t / math.sqrt(2.0))  # 2 Phi(t) - 1
  return 1.0 - 2.0 * t * phi / mass


def _truncated_normal_fourth_moment(t):
  """E[z^4 | |z| <= t] = 3 Var - 2 t^3 phi(t) / (2 Phi(t) - 1), for the standard error of the variance."""
  phi = math.exp(-0.5 * t * t) / math.sqrt(2.0 * math.pi)
  mass = math.erf(t / math.sqrt(2.0))
  return 3.0 * _truncated_normal_variance(t) - 2.0 * t**3 * phi / mass


def test_variance_formula_sanity():
  # Limits independent of the formula: t -> inf gives 1, small t gives the uniform's t^2 / 3.
  assert abs(_truncated_normal_variance(40.0) - 1.0) < 1e-12
  assert abs(_truncated_normal_variance(1e-3) - 1e-6 / 3) < 1e-10
  np.testing.assert_allclose(_truncated_normal_variance(1.0), 0.29112, atol=1e-5)


@pytest.mark.parametrize("t", [2.0, 1.0, 0.5, 0.25])
def test_all_samples_inside_the_threshold(t):
  z = truncated_normal_resample(jax.random.key(0), (1000, 128), t)
  chex.assert_shape(z, (1000, 128))
  assert z.dtype == jnp.float32
  assert float(jnp.max(jnp.abs(z))) <= t
  # Not squeezed onto a smaller interval either: the extremes come close to the threshold.
  assert float(jnp.max(jnp.abs(z))) > 0.99 * t


@pytest.mark.parametrize("t", [2.0, 1.0, 0.25])
def test_variance_matches_the_truncated_normal(t):
  n = 200_000
  z = np.asarray(truncated_normal_resample(jax.random.key(1), (n,), t), np.float64)
  var = _truncated_normal_variance(t)
  # Standard error of the sample second moment; 5 of them is a tight but non-flaky tolerance.
  se = math.sqrt((_truncated_normal_fourth_moment(t) - var**2) / n)
  assert abs(np.mean(z**2) - var) < 5 * se, (np.mean(z**2), var, se)
  assert abs(np.mean(z)) < 5 * math.sqrt(var / n)
  # A redraw loop at t = 1 keeps 68%: the variance is far from both N(0, 1) and a uniform on [-1, 1].
  assert abs(var - 1.0) > 50 * se


def test_distribution_passes_a_ks_test_against_scipy_truncnorm():
  scipy_stats = pytest.importorskip("scipy.stats")
  for t in (1.0, 0.5, 2.0):
    z = np.asarray(truncated_normal_resample(jax.random.key(2), (200_000,), t), np.float64)
    ks = scipy_stats.kstest(z, scipy_stats.truncnorm(-t, t).cdf)
    assert ks.pvalue > 1e-3, (t, ks)
    # And is told apart from the untruncated normal rescaled to the same variance.
    ks_scaled = scipy_stats.kstest(z, scipy_stats.norm(0.0, math.sqrt(_truncated_normal_variance(t))).cdf)
    assert ks_scaled.pvalue < 1e-6, (t, ks_scaled)


def test_matches_rejection_sampling_in_distribution():
  # The paper's "resample until inside", written as a naive numpy loop, against ours: two-sample KS.
  scipy_stats = pytest.importorskip("scipy.stats")
  rng = np.random.default_rng(3)
  t = 0.5
  z_np = rng.standard_normal(50_000)
  outside = np.abs(z_np) > t
  while outside.any():
    z_np[outside] = rng.standard_normal(int(outside.sum()))
    outside = np.abs(z_np) > t
  z = np.asarray(truncated_normal_resample(jax.random.key(3), (50_000,), t))
  assert scipy_stats.ks_2samp(z, z_np).pvalue > 1e-3


@pytest.mark.parametrize("threshold", [None, float("inf")])
def test_no_threshold_gives_the_untruncated_normal(threshold):
  z = np.asarray(truncated_normal_resample(jax.random.key(4), (100_000,), threshold))
  assert np.sum(np.abs(z) > 3.0) > 100  # P(|z| > 3) = 0.0027: about 270 expected
  np.testing.assert_allclose(np.var(z), 1.0, atol=0.02)
  np.testing.assert_array_equal(z, jax.random.normal(jax.random.key(4), (100_000,)))


@pytest.mark.parametrize("threshold", [0.0, -1.0, float("nan"), float("-inf")])
def test_bad_threshold_is_refused_in_one_line(threshold):
  with pytest.raises(ValueError, match="threshold must be > 0") as info:
    truncated_normal_resample(jax.random.key(0), (3,), threshold)
  assert "\n" not in str(info.value)


def test_traced_threshold_and_integer_dtype_are_refused():
  with pytest.raises(TypeError, match="Python number"):
    jax.jit(lambda t: truncated_normal_resample(jax.random.key(0), (3,), t))(1.0)
  with pytest.raises(ValueError, match="floating point"):
    truncated_normal_resample(jax.random.key(0), (3,), 1.0, jnp.int32)


@pytest.mark.parametrize("threshold", [0.5, None])
def test_same_key_same_samples_under_jit(threshold):
  sample = jax.jit(functools.partial(truncated_normal_resample, shape=(64, 16), threshold=threshold))
  key = jax.random.key(5)
  a = sample(key)
  np.testing.assert_array_equal(a, sample(key))
  np.testing.assert_array_equal(a, truncated_normal_resample(key, (64, 16), threshold))
  assert not np.array_equal(a, sample(jax.random.key(6)))


def test_dtype():
  z = truncated_normal_resample(jax.random.key(7), (1000,), 1.0, jnp.bfloat16)
  assert z.dtype == jnp.bfloat16
  assert float(jnp.max(jnp.abs(z.astype(jnp.float32)))) <= 1.0
