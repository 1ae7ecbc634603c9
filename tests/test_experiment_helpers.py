"""The library pieces the experiments share: pictures, seeded test data, timings, the optimizer reader."""

import json
import math

import ml_collections
import numpy as np
import pytest
from PIL import Image
from scipy import stats

from jaxgen import data, experiment, metrics, plot


def test_reconstruction_grid_interleaves_rows_and_drops_the_remainder(tmp_path):
  images = np.zeros((10, 2, 2, 1), np.float32)
  path = plot.save_reconstructions(tmp_path / "r.png", images, np.ones_like(images), ncol=4)
  grid = np.asarray(Image.open(path))
  # 2 full rows of 4 (the last 2 images dropped), each followed by its reconstructions: 4 rows of 2-pixel images.
  assert grid.shape == (4 * 3 + 1, 4 * 3 + 1)
  assert grid[1, 1] == 0 and grid[4, 1] == 255 and grid[7, 1] == 0 and grid[10, 1] == 255
  with pytest.raises(ValueError, match="same shape"):
    plot.save_reconstructions(tmp_path / "r.png", images, images[:3])


def test_latent_grid_is_at_prior_quantiles_with_z2_decreasing_down_the_rows(tmp_path):
  z = plot.latent_grid(5)
  q = stats.norm.ppf(np.linspace(0.05, 0.95, 5))
  np.testing.assert_allclose(z[:5, 0], q, rtol=1e-6)
  np.testing.assert_allclose(z[::5, 1], q[::-1], rtol=1e-6)
  path = plot.save_latent_manifold(tmp_path / "m.png", lambda z: np.zeros((len(z), 3, 3, 1)), num_per_side=5)
  assert Image.open(path).size == (5 * 4 + 1, 5 * 4 + 1)
  assert plot.grid_scale((8, 8, 1)) == 8 and plot.grid_scale((28, 28, 1)) == 2 and plot.grid_scale((64, 64, 3)) == 1


def test_seeded_binarization_is_a_fixed_bernoulli_draw():
  x = np.full((200, 8, 8, 1), 0.3, np.float32)
  a = data.binarize_seeded(x, seed=4)
  np.testing.assert_array_equal(a, data.binarize_seeded(x, seed=4))
  assert not np.array_equal(a, data.binarize_seeded(x, seed=5))
  assert set(np.unique(a)) <= {0.0, 1.0} and a.dtype == np.float32
  assert abs(a.mean() - 0.3) < 0.01  # 12,800 draws: standard error 0.004


def test_random_subset_is_seeded_sorted_and_capped():
  s = metrics.random_subset(1000, 100, seed=1)
  assert s.shape == (100,) and np.all(np.diff(s) > 0) and s.max() > 900  # spread over the set, not a prefix
  np.testing.assert_array_equal(s, metrics.random_subset(1000, 100, seed=1))
  np.testing.assert_array_equal(metrics.random_subset(5, 0, seed=1), np.arange(5))
  np.testing.assert_array_equal(metrics.random_subset(5, 50, seed=1), np.arange(5))
  with pytest.raises(ValueError, match="size must be >= 0"):
    metrics.random_subset(5, -1, seed=1)


def test_steady_speed_leaves_the_compiling_chunk_out(tmp_path):
  records = [{"step": 10, "seconds": 9.0, "steps_per_sec": 1.0}] + [
      {"step": 10 * i, "seconds": 0.1, "steps_per_sec": r} for i, r in enumerate([90.0, 100.0, 110.0], start=2)
  ]
  (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
  speed = experiment.steady_speed(str(tmp_path), steps_per_epoch=50)
  assert speed == {"steps_per_sec": 100.0, "first_chunk_seconds": 9.0, "epoch_seconds": 0.5}


def test_optimizer_reader_refuses_unknown_names_in_one_line():
  t = ml_collections.ConfigDict(dict(optimizer="adamw", learning_rate=1e-3, schedule="constant"))
  with pytest.raises(ValueError, match=r"^unknown config.train.optimizer 'adamw'; choose one of adam, sgd$"):
    experiment.make_optimizer(t, steps_per_epoch=1)
  t.optimizer, t.momentum = "sgd", 0.0
  experiment.make_optimizer(t, steps_per_epoch=1)
  t.schedule = "cosine"
  with pytest.raises(ValueError, match="unknown config.train.schedule 'cosine'"):
    experiment.make_optimizer(t, steps_per_epoch=1)
  assert math.prod(experiment.batch_shape_of(ml_collections.ConfigDict(dict(k=3)), 10)) == 30
