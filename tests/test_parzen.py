"""Parzen-window log-likelihood against a naive numpy formula and scipy's Gaussian density."""

import numpy as np
import pytest
from scipy import special, stats

from jaxgen import metrics


def naive_log_density(x, samples, sigma):
  """The formula written out: every pairwise difference, one logsumexp, float64."""
  x = x.reshape(x.shape[0], -1).astype(np.float64)
  s = samples.reshape(samples.shape[0], -1).astype(np.float64)
  d = x.shape[1]
  sq = ((x[:, None, :] - s[None, :, :]) ** 2).sum(-1)
  return (
      special.logsumexp(-sq / (2 * sigma**2), axis=1)
      - np.log(s.shape[0])
      - 0.5 * d * np.log(2 * np.pi * sigma**2)
  )


@pytest.mark.parametrize("batch_size,sample_chunk", [(7, 5), (100, 1000), (1, 13)])
def test_matches_naive_formula(batch_size, sample_chunk):
  rng = np.random.default_rng(0)
  samples = rng.uniform(size=(37, 4, 4, 1)).astype(np.float32)  # 37: chunks do not divide it
  x = rng.uniform(size=(23, 4, 4, 1)).astype(np.float32)
  for sigma in (0.1, 0.3, 1.0):
    got = metrics.parzen_log_density(x, samples, sigma, batch_size=batch_size, sample_chunk=sample_chunk)
    assert got.shape == (23,)
    np.testing.assert_allclose(got, naive_log_density(x, samples, sigma), rtol=1e-4, atol=2e-3)


def test_several_sigmas_at_once_equal_one_at_a_time():
  rng = np.random.default_rng(1)
  samples, x = rng.uniform(size=(50, 16)), rng.uniform(size=(9, 16))
  sigmas = np.array([0.1, 0.2, 0.5])
  got = metrics.parzen_log_density(x, samples, sigmas, batch_size=4, sample_chunk=8)
  assert got.shape == (3, 9)
  for row, sigma in zip(got, sigmas):
    np.testing.assert_allclose(row, naive_log_density(x, samples, sigma), rtol=1e-4, atol=2e-3)


def test_one_sample_is_a_gaussian_density():
  rng = np.random.default_rng(2)
  centre, x = rng.normal(size=(1, 5)), rng.normal(size=(6, 5))
  expected = stats.multivariate_normal(centre[0], 0.7**2 * np.eye(5)).logpdf(x)
  np.testing.assert_allclose(metrics.parzen_log_density(x, centre, 0.7), expected, rtol=1e-5, atol=1e-4)


def test_far_points_stay_finite():
  # exp underflows for every kernel at once; the log-sum-exp keeps the answer.
  samples = np.zeros((10, 784), np.float32)
  x = np.ones((3, 784), np.float32)
  got = metrics.parzen_log_density(x, samples, 0.1)
  assert np.all(np.isfinite(got))
  np.testing.assert_allclose(got, naive_log_density(x, samples, 0.1), rtol=1e-5)


def test_select_sigma_and_log_likelihood():
  rng = np.random.default_rng(3)
  samples = rng.normal(scale=0.3, size=(200, 3))
  valid, test = rng.normal(scale=0.3, size=(60, 3)), rng.normal(scale=0.3, size=(80, 3))
  sigmas = np.logspace(-1, 0, 10)
  sigma, means = metrics.parzen_select_sigma(samples, valid, sigmas, batch_size=16, sample_chunk=64)
  naive_means = np.array([naive_log_density(valid, samples, s).mean() for s in sigmas])
  np.testing.assert_allclose(means, naive_means, rtol=1e-4, atol=1e-3)
  assert sigma == pytest.approx(sigmas[np.argmax(naive_means)])
  assert sigmas[0] < sigma < sigmas[-1]  # neither extreme wins for this data

  mean, se = metrics.parzen_log_likelihood(samples, test, sigma, batch_size=32)
  lp = naive_log_density(test, samples, sigma)
  assert mean == pytest.approx(lp.mean(), rel=1e-4, abs=1e-3)
  assert se == pytest.approx(lp.std() / np.sqrt(len(lp)), rel=1e-3)


def test_bad_input():
  with pytest.raises(ValueError, match="sigma"):
    metrics.parzen_log_density(np.zeros((2, 3)), np.zeros((4, 3)), -1.0)
  with pytest.raises(ValueError, match="dimensions"):
    metrics.parzen_log_density(np.zeros((2, 3)), np.zeros((4, 5)), 0.5)
  with pytest.raises(ValueError, match="empty"):
    metrics.parzen_log_density(np.zeros((2, 3)), np.zeros((0, 3)), 0.5)
