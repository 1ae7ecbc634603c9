import numpy as np
import pytest
from PIL import Image

from jaxgen import plot


def test_image_grid_layout_and_values(tmp_path):
  imgs = np.zeros((5, 2, 3, 1), np.float32)
  imgs[3] = 1.0
  grid = plot.image_grid(imgs, ncol=3, pad=1)
  assert grid.shape == (2 * 3 + 1, 3 * 4 + 1, 1)
  # Image 3 sits in row 1, column 0 and is white; image 0 is black.
  assert np.all(grid[4:6, 1:4] == 255) and np.all(grid[1:3, 1:4] == 0)
  path = plot.save_image_grid(tmp_path / "g.png", imgs, scale=2)
  assert Image.open(path).size == (2 * (3 * 4 + 1), 2 * (2 * 3 + 1))
  with pytest.raises(ValueError, match="image_grid needs"):
    plot.image_grid(np.zeros((2, 3, 3, 2)))


def test_curves_and_scatter_write_png(tmp_path):
  recs = [{"step": i, "a": 1.0 / (i + 1)} for i in range(5)]
  assert Image.open(plot.save_loss_curves(tmp_path / "c.png", recs, ["a"])).format == "PNG"
  pts = {"data": np.random.default_rng(0).normal(size=(10, 2))}
  assert Image.open(plot.save_scatter(tmp_path / "s.png", pts, labels=np.arange(10) % 3)).format == "PNG"


def test_image_grid_draws_non_finite_pixels_and_warns():
  images = np.full((2, 2, 2, 1), 0.5, np.float32)
  images[0, 0, 0, 0] = np.nan
  images[0, 0, 1, 0] = np.inf
  with pytest.warns(RuntimeWarning, match="1 of 2 images have non-finite pixels"):
    grid = plot.image_grid(images, ncol=2, pad=0)
  assert grid[0, 0, 0] == 0 and grid[0, 1, 0] == 255 and grid[0, 2, 0] == 128
