"""The 1-D GAN theory experiment: D lands near D* (Goodfellow et al. 2014, Prop. 1); its densities are right."""

import os
import subprocess
import sys

import numpy as np
import pytest
from scipy import integrate, stats

from experiments.gan_theory import config as theory_config
from jaxgen import experiment
from jaxgen.experiment import _theory as theory

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _d_star_reference(x, c):
  """D* from scipy densities, written independently of jaxgen."""
  d = c.data
  p_data = sum(w * stats.norm.pdf(x, m, s) for w, m, s in zip(d.weights, d.means, d.stds))
  p_g = stats.norm.pdf(x, d.g_mean, d.g_std)
  return p_data / (p_data + p_g), 0.5 * (p_data + p_g)


def test_trained_discriminator_is_near_optimal(tmp_path):
  c = theory_config.get_config()
  c.train.discriminator.num_steps = 1_500
  c.train.steps_per_call = 500
  c.data.num_train = 20_000
  d = theory.train_discriminator(c, str(tmp_path), progress=False)
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
  d = c.data
  p_data = sum(w * stats.norm.pdf(x, m, s) for w, m, s in zip(d.weights, d.means, d.stds))
  np.testing.assert_allclose(theory.log_p_data(x, c), np.log(p_data), rtol=1e-5)
  np.testing.assert_allclose(theory.log_p_g(x, c), stats.norm.logpdf(x, d.g_mean, d.g_std), rtol=1e-5)
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
  d = c.data
  p = lambda t: sum(w * stats.norm.pdf(t, m, s) for w, m, s in zip(d.weights, d.means, d.stds))
  g = lambda t: stats.norm.pdf(t, d.g_mean, d.g_std)
  half_kl = lambda a, b: lambda t: 0.5 * a(t) * np.log(2 * a(t) / (a(t) + b(t))) if a(t) > 0 else 0.0
  jsd = sum(integrate.quad(half_kl(a, b), -20.0, 20.0, points=(-1.5, 1.0), limit=200)[0] for a, b in ((p, g), (g, p)))
  g_samples = (d.g_mean + d.g_std * np.random.default_rng(3).normal(size=(5_000, 1))).astype(np.float32)
  assert abs(theory.kde_jsd(c, g_samples, q, log_dx) - jsd) < 0.01, jsd


def test_each_run_has_the_shared_train_fields_with_its_section_over_them():
  c = theory_config.get_config()
  experiment.check_gan_theory_config(c)
  d, g = (theory.part_config(c, part).train for part in theory.PARTS)
  assert (d.num_steps, d.learning_rate, d.b1) == (3_000, 1e-2, 0.9)
  assert (g.num_steps, g.learning_rate, g.b1, g.k, g.loss) == (6_000, 2e-4, 0.5, 1, "non_saturating")
  for t in (d, g):
    assert "discriminator" not in t and "gan" not in t
    assert (t.batch_size, t.steps_per_call, t.ema_decay) == (1024, 250, None)


@pytest.mark.parametrize(
    "override, message",
    [
        ("--config.train.gan.loss=non_saturatin",
         "gan_theory: config.train.gan.loss must be one of minimax, non_saturating"),
        ("--config.train.discriminator.learning_rate=0",
         "gan_theory: config.train.discriminator.learning_rate must be a number > 0, got 0"),
        ("--config.data.weights=(0.5,0.6)",
         "gan_theory: config.data.weights must be positive and sum to 1, got (0.5, 0.6)"),
    ],
)
def test_bad_config_exits_2_with_one_line_before_training(tmp_path, override, message):
  out = subprocess.run(
      [sys.executable, "-m", "experiments.gan_theory.main", f"--workdir={tmp_path / 'run'}", override],
      cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "JAX_PLATFORMS": "cpu"},
  )
  assert out.returncode == 2, out.stderr[-2000:]
  assert out.stderr.count("\n") == 1 and out.stderr.startswith(message), out.stderr
  assert not (tmp_path / "run").exists()  # nothing written, nothing trained
