"""Mode-coverage metrics on hand-built samples with known answers."""

import math

import numpy as np
import pytest
from scipy import stats

from jaxgen.metrics import grid_modes
from jaxgen.metrics import mode_metrics
from jaxgen.metrics import ring_modes


def test_ring_and_grid_positions():
  ring = ring_modes()
  np.testing.assert_allclose(ring.means[0], [1.0, 0.0], atol=1e-12)
  np.testing.assert_allclose(ring.means[2], [0.0, 1.0], atol=1e-12)
  np.testing.assert_allclose(np.linalg.norm(ring.means, axis=1), np.ones(8))
  assert ring.std == 0.01
  grid = grid_modes()
  expected = {(-4.0 + 2 * i, -4.0 + 2 * j) for i in range(5) for j in range(5)}
  assert {tuple(p) for p in grid.means.tolist()} == expected
  assert grid.std == 0.05


def test_perfect_uniform_samples():
  ring = ring_modes()
  samples = np.repeat(ring.means, 10, axis=0)  # every mode hit exactly 10 times, at its center
  m = mode_metrics(samples, ring.means, ring.std)
  assert m["num_modes"] == 8
  assert m["high_quality_fraction"] == 1.0
  assert m["reverse_kl"] == pytest.approx(0.0, abs=1e-12)
  np.testing.assert_array_equal(m["mode_counts"], np.full(8, 10))


def test_threshold_in_standard_deviations_and_skewed_histogram():
  grid = grid_modes()
  std = grid.std
  # Mode 0 center: 2.9 std away (HQ) and 3.1 std away (not HQ); mode 7 twice; one point in between modes.
  samples = np.array([
      grid.means[0] + [2.9 * std, 0.0],
      grid.means[0] + [0.0, -3.1 * std],
      grid.means[7],
      grid.means[7] + [std, std],
      [-3.0, -3.0],
  ])
  m = mode_metrics(samples, grid.means, std)
  assert m["num_modes"] == 2
  assert m["high_quality_fraction"] == pytest.approx(3 / 5)
  p = np.array([1 / 3, 2 / 3])
  # KL(p || uniform over 25), written with scipy: sum p log(p / (1/25)).
  assert m["reverse_kl"] == pytest.approx(stats.entropy(np.r_[p, np.zeros(23)], np.full(25, 1 / 25)))
  assert m["mode_counts"][0] == 1 and m["mode_counts"][7] == 2


def test_single_mode_collapse_gives_log_k():
  ring = ring_modes()
  m = mode_metrics(np.tile(ring.means[3], (50, 1)), ring.means, ring.std)
  assert m["num_modes"] == 1
  assert m["reverse_kl"] == pytest.approx(math.log(8))


def test_no_high_quality_samples():
  ring = ring_modes()
  m = mode_metrics(np.zeros((4, 2)), ring.means, ring.std)
  assert m["num_modes"] == 0 and m["high_quality_fraction"] == 0.0 and math.isnan(m["reverse_kl"])


def test_true_samples_have_chi2_high_quality_fraction():
  # For samples from the mixture itself, P(||x - mu|| / std < 3) = P(chi2_2 < 9) = 1 - exp(-4.5).
  grid = grid_modes()
  m = mode_metrics(grid.sample(20000, seed=0), grid.means, grid.std)
  assert m["num_modes"] == 25
  assert m["high_quality_fraction"] == pytest.approx(stats.chi2(2).cdf(9.0), abs=0.004)
  assert m["reverse_kl"] < 0.01


def test_sampling_is_seeded():
  ring = ring_modes()
  np.testing.assert_array_equal(ring.sample(100, seed=3), ring.sample(100, seed=3))
  assert not np.array_equal(ring.sample(100, seed=3), ring.sample(100, seed=4))


def test_bad_input():
  with pytest.raises(ValueError, match="square"):
    grid_modes(24)
  with pytest.raises(ValueError, match="share d"):
    mode_metrics(np.zeros((3, 3)), ring_modes().means, 0.01)
