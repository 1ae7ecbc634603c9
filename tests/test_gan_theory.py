"""The 1-D GAN theory experiment: D lands near D* (Goodfellow et al. 2014, Prop. 1); its densities are right."""

import numpy as np
from scipy import integrate, stats

from experiments.gan_theory import config as theory_config
from experiments.gan_theory import main as theory


def _d_star_reference(x, c):
  """D* from scipy densities, written independently of jaxgen."""
  p_data = sum(w * stats.norm.pdf(x, m, s) for w, m, s in zip(c.data_weights, c.data_means, c.data_stds))
  p_g = stats.norm.pdf(x, c.g_mean, c.g_std)
  return p_data / (p_data + p_g), 0.5 * (p_data + p_g)


def test_trained_discriminator_is_near_optimal(tmp_path):
  c = theory_config.get_config()
  c.d_steps = 1_500
  c.steps_per_call = 500
  c.num_data = 20_000
  d = theory.train_discriminator(c, str(tmp_path))
  x = np.linspace(-2.2, 2.6, 25)
  d_star, density = _d_star_reference(x, c)
  assert density.min() > 0.05  # the grid lies where samples constrain D
  d_trained = 1 / (1 + np.exp(-np.asarray(d(x[:, None].astype(np.float32), train=False), np.float64)))
  assert np.max(np.abs(d_trained - d_star)) < 0.05, np.max(np.abs(d_trained - d_star))

  report = theory.discriminator_report(c, d)
  # V(G, D*) = -log 4 + 2 JSD (Theorem 1), and no D does better than D*.
  np.testing.assert_allclose(report["v_optimal_d"], report["minus_log4_plus_2jsd"], atol=1e-5)
  assert report["v_trained_d"] <= report["v_optimal_d"] + 1e-5
  assert report["v_optimal_d"] - report["v_trained_d"] < 0.01


def test_densities_and_kde_match_scipy():
  c = theory_config.get_config()
  x = np.linspace(-4.0, 4.0, 33)
  p_data = sum(w * stats.norm.pdf(x, m, s) for w, m, s in zip(c.data_weights, c.data_means, c.data_stds))
  np.testing.assert_allclose(theory.log_p_data(x, c), np.log(p_data), rtol=1e-5)
  np.testing.assert_allclose(theory.log_p_g(x, c), stats.norm.logpdf(x, c.g_mean, c.g_std), rtol=1e-5)
  samples = theory.sample_data(c, 2_000, seed=1)
  # scipy's Gaussian KDE: Scott's bandwidth n^(-1/5) times the sample std (ddof 1).
  expected = stats.gaussian_kde(samples[:, 0].astype(np.float64)).logpdf(x)
  np.testing.assert_allclose(theory.kde_log_density(samples, x), expected, rtol=1e-4)


def test_kde_jsd_floor_is_small_and_tracks_the_exact_jsd():
  c = theory_config.get_config()
  q, log_dx = theory.quadrature_grid(c, num=1_601)
  floor = theory.kde_jsd(c, theory.sample_data(c, 5_000, seed=2), q, log_dx)
  assert 0.0 <= floor < 0.005
  # JSD(p_data || p_g) by scipy quadrature, against the estimate from 5,000 samples of p_g.
  p = lambda t: sum(w * stats.norm.pdf(t, m, s) for w, m, s in zip(c.data_weights, c.data_means, c.data_stds))
  g = lambda t: stats.norm.pdf(t, c.g_mean, c.g_std)
  half_kl = lambda a, b: lambda t: 0.5 * a(t) * np.log(2 * a(t) / (a(t) + b(t))) if a(t) > 0 else 0.0
  jsd = sum(integrate.quad(half_kl(a, b), -20.0, 20.0, points=(-1.5, 1.0), limit=200)[0] for a, b in ((p, g), (g, p)))
  g_samples = (c.g_mean + c.g_std * np.random.default_rng(3).normal(size=(5_000, 1))).astype(np.float32)
  assert abs(theory.kde_jsd(c, g_samples, q, log_dx) - jsd) < 0.01, jsd
