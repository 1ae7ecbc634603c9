"""jaxgen.sample.save_samples_figure: the figure drawn for each kind of sample.

Kept apart from test_sample_cli.py, which needs whole training runs: these only
draw arrays (and one gan_1d model's samples, the case that once had no figure).
"""

import jax
import ml_collections
import numpy as np
import pytest
from flax import nnx
from PIL import Image

from jaxgen import plot
from jaxgen import sample
from jaxgen.models import get_model_spec


def _png_size(path):
  with Image.open(path) as img:
    assert img.format == "PNG"
    return img.size


@pytest.mark.parametrize("shape", [(500, 1), (500,)], ids=["N_1", "N"])
def test_1d_points_are_drawn_as_a_histogram(tmp_path, shape):
  points = np.random.default_rng(0).normal(size=shape).astype(np.float32)
  path = sample.save_samples_figure(str(tmp_path / "hist.png"), points, title="gan_1d, step 7")
  assert path == str(tmp_path / "hist.png")
  assert _png_size(path) == (720, 480)  # plot.save_histogram's 6 x 4 inches at 120 dpi, not a scatter's 5 x 5


def test_gan_1d_samples_get_a_figure(tmp_path):
  config = ml_collections.ConfigDict({"model": {"name": "gan_1d", "hidden": 8, "num_layers": 1}})
  spec = get_model_spec("gan_1d")
  models = spec.build(config, nnx.Rngs(0))
  samples = sample.draw_samples(models, config, num=300, key=jax.random.key(1), batch_size=128)
  assert samples.shape == (300, 1)
  assert _png_size(sample.save_samples_figure(str(tmp_path / "g.png"), samples)) == (720, 480)


def test_histogram_leaves_out_non_finite_values_with_a_warning(tmp_path):
  points = np.concatenate([np.linspace(-1, 1, 50), [np.nan, np.inf]])[:, None]
  with pytest.warns(RuntimeWarning, match="2 of 52 'samples' values are not finite"):
    sample.save_samples_figure(str(tmp_path / "h.png"), points)
  with pytest.warns(RuntimeWarning, match="3 of 3"):
    plot.save_histogram(tmp_path / "all_nan.png", {"samples": np.full(3, np.nan)})
  assert _png_size(tmp_path / "all_nan.png") == (720, 480)


def test_histogram_overlays_sets_on_shared_bins(tmp_path):
  rng = np.random.default_rng(1)
  path = plot.save_histogram(tmp_path / "two.png", {"data": rng.normal(size=200), "samples": rng.normal(3, 1, (300, 1))},
                             bins=40)
  assert _png_size(path) == (720, 480)
  with pytest.raises(ValueError, match=r"needs 1-D samples \(N,\) or \(N, 1\), got shape \(4, 3\) for 'bad'"):
    plot.save_histogram(tmp_path / "bad.png", {"bad": np.zeros((4, 3))})


def test_images_and_2d_points_keep_their_figures(tmp_path):
  images = np.random.default_rng(2).random((9, 4, 4, 1)).astype(np.float32)
  sample.save_samples_figure(str(tmp_path / "grid.png"), images)
  assert _png_size(tmp_path / "grid.png") == (3 * 5 + 1, 3 * 5 + 1)  # 3 x 3 tiles of 4 px and 1 px padding
  sample.save_samples_figure(str(tmp_path / "scatter.png"), np.zeros((20, 2), np.float32))
  assert _png_size(tmp_path / "scatter.png") == (600, 600)


def test_other_shapes_are_refused_in_one_line(tmp_path):
  with pytest.raises(sample.SampleError) as info:
    sample.save_samples_figure(str(tmp_path / "x.png"), np.zeros((5, 3), np.float32))
  message = str(info.value)
  assert "\n" not in message
  assert message == "samples of shape (5, 3) are neither images (N, H, W, C) nor points (N, 2) or (N, 1): use --save_npy"
