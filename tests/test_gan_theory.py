"""The trained 1-D discriminator lands near D* = p_data / (p_data + p_g) (Goodfellow et al. 2014, Prop. 1)."""

import numpy as np
from scipy import stats

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
  d_trained = 1 / (1 + np.exp(-np.asarray(d(x[:, None].astype(np.float32)), np.float64)))
  assert np.max(np.abs(d_trained - d_star)) < 0.05, np.max(np.abs(d_trained - d_star))

  report = theory.discriminator_report(c, d)
  # V(G, D*) = -log 4 + 2 JSD (Theorem 1), and no D does better than D*.
  np.testing.assert_allclose(report["v_optimal_d"], report["minus_log4_plus_2jsd"], atol=1e-5)
  assert report["v_trained_d"] <= report["v_optimal_d"] + 1e-5
  assert report["v_optimal_d"] - report["v_trained_d"] < 0.01
