"""ELBO and IWAE estimators against a linear-Gaussian model with a closed-form log p(x).

z ~ N(0, I_2), x | z ~ N(W z + b, s^2 I_3), so p(x) = N(b, W W^T + s^2 I)
(scipy.stats.multivariate_normal gives the reference). W has orthogonal
columns, so the exact posterior p(z | x) is a diagonal Gaussian and can be
plugged in as q(z | x); a shifted and widened q is the inexact encoder.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from scipy import stats

from jaxgen import metrics

S = 0.5
W = np.array([[2.0, -2.0], [2.0, 1.0], [1.0, 2.0]]) / 3.0 @ np.diag([1.0, 2.0])  # orthogonal columns
B = np.array([0.3, -0.2, 1.0])
POST_VAR = 1.0 / (1.0 + np.diag(W.T @ W) / S**2)  # diagonal because W^T W is diagonal


def exact_posterior(x):
  mean = (x - B) @ W / S**2 * POST_VAR
  return mean, np.broadcast_to(np.log(POST_VAR), mean.shape)


class LinearGaussian(nnx.Module):
  """q(z | x) = N(A x + c, diag(exp(logvar))); p(x | z) = N(W z + b, s^2 I)."""

  def __init__(self, enc_a, enc_c, enc_logvar):
    self.latent_dim = 2
    self.w = nnx.Param(jnp.asarray(W, jnp.float32))
    self.b = nnx.Param(jnp.asarray(B, jnp.float32))
    self.enc_a = nnx.Param(jnp.asarray(enc_a, jnp.float32))
    self.enc_c = nnx.Param(jnp.asarray(enc_c, jnp.float32))
    self.enc_logvar = nnx.Param(jnp.asarray(enc_logvar, jnp.float32))

  def encode(self, x):
    mean = x @ self.enc_a[...].T + jnp.broadcast_to(self.enc_c[...], (x.shape[0], 2))
    return mean, jnp.broadcast_to(self.enc_logvar[...], mean.shape)

  def log_likelihood(self, x, z):
    mean = z @ self.w[...].T
    mean = mean + jnp.broadcast_to(self.b[...], mean.shape)
    sq = jnp.square(jnp.broadcast_to(x, mean.shape) - mean)
    return jnp.sum(-0.5 * (np.log(2 * np.pi * S**2) + sq / S**2), axis=-1)


def exact_model():
  # mean = (x - b) W diag(v) / s^2  =>  A = diag(v) W^T / s^2, c = -A b
  a = (W * POST_VAR).T / S**2
  return LinearGaussian(a, -a @ B, np.log(POST_VAR))


def inexact_model():
  a = (W * POST_VAR).T / S**2
  return LinearGaussian(a, -a @ B + np.array([0.4, -0.3]), np.log(POST_VAR) + np.log(2.0))


@pytest.fixture(scope="module")
def data():
  rng = np.random.default_rng(0)
  z = rng.standard_normal((64, 2))
  x = z @ W.T + B + S * rng.standard_normal((64, 3))
  log_px = stats.multivariate_normal(mean=B, cov=W @ W.T + S**2 * np.eye(3)).logpdf(x)
  return x.astype(np.float32), log_px


def kl_diag(m1, v1, m2, v2):
  """KL(N(m1, v1) || N(m2, v2)) for diagonal Gaussians, summed over the last axis (numpy reference)."""
  return 0.5 * np.sum(np.log(v2 / v1) + (v1 + (m1 - m2) ** 2) / v2 - 1.0, axis=-1)


def test_exact_posterior_makes_every_weight_equal_log_px(data):
  x, log_px = data
  # log w = log p(x, z) - log p(z | x) = log p(x) for every z: one sample is exact.
  est = metrics.iwae_log_likelihood(exact_model(), x, jax.random.key(0), num_samples=1, batch_size=16)
  np.testing.assert_allclose(est, log_px, atol=2e-4)


def test_batches_with_padding_keep_example_order(data):
  x, log_px = data
  # 37 examples in batches of 16: the last batch is padded; results must stay aligned.
  est = metrics.iwae_log_likelihood(exact_model(), x[:37], jax.random.key(1), num_samples=3, batch_size=16)
  assert est.shape == (37,)
  np.testing.assert_allclose(est, log_px[:37], atol=2e-4)


def test_progress_bar_counts_examples(data, capsys):
  x, log_px = data
  est = metrics.iwae_log_likelihood(exact_model(), x[:37], jax.random.key(1), num_samples=3, batch_size=16,
                                    progress="IWAE test")
  np.testing.assert_allclose(est, log_px[:37], atol=2e-4)
  err = capsys.readouterr().err
  assert "IWAE test" in err and "37/37" in err
  metrics.evaluate_elbo(exact_model(), x[:5], jax.random.key(1), batch_size=2)
  assert capsys.readouterr().err == ""  # no bar unless asked


def test_elbo_with_exact_posterior_equals_log_px(data):
  x, log_px = data
  elbo = metrics.evaluate_elbo(exact_model(), x, jax.random.key(2), batch_size=32, num_samples=4000)
  np.testing.assert_allclose(elbo, log_px, atol=0.05)


def test_elbo_gap_is_kl_to_the_true_posterior(data):
  x, log_px = data
  model = inexact_model()
  elbo = metrics.evaluate_elbo(model, x, jax.random.key(3), batch_size=64, num_samples=4000)
  q_mean, q_logvar = (np.asarray(a, np.float64) for a in model.encode(jnp.asarray(x)))
  p_mean, p_logvar = exact_posterior(x.astype(np.float64))
  gap = kl_diag(q_mean, np.exp(q_logvar), p_mean, np.exp(p_logvar))
  assert np.all(gap > 0.3)  # the test is about a clearly wrong q
  assert np.all(elbo < log_px)
  # Monte Carlo error: about 0.03 per example with 4000 draws, 0.004 for the mean over 64.
  np.testing.assert_allclose(log_px - elbo, gap, atol=0.15)
  assert abs(np.mean(log_px - elbo) - np.mean(gap)) < 0.02


def test_iwae_bound_increases_with_k_and_reaches_log_px(data):
  x, log_px = data
  model = inexact_model()
  bounds = []
  for k in (1, 10, 100, 1000):
    est = metrics.iwae_log_likelihood(model, x, jax.random.key(k), num_samples=k, batch_size=64, sample_chunk=250)
    bounds.append(float(np.mean(est)))
  assert all(a < b for a, b in zip(bounds, bounds[1:])), bounds
  assert bounds[0] < float(np.mean(log_px)) - 0.3
  # k = 5000 in chunks of 768: the last chunk is partly masked.
  est = metrics.iwae_log_likelihood(model, x, jax.random.key(7), num_samples=5000, batch_size=64, sample_chunk=768)
  np.testing.assert_allclose(est, log_px, atol=0.05)
  assert abs(np.mean(est) - np.mean(log_px)) < 0.02


def test_bad_arguments_raise():
  x = np.zeros((4, 3), np.float32)
  with pytest.raises(ValueError, match="num_samples"):
    metrics.iwae_log_likelihood(exact_model(), x, jax.random.key(0), num_samples=0)
  with pytest.raises(ValueError, match="batch_size"):
    metrics.evaluate_elbo(exact_model(), x, jax.random.key(0), batch_size=0)
  with pytest.raises(ValueError, match="empty"):
    metrics.evaluate_elbo(exact_model(), x[:0], jax.random.key(0))
