"""Tests for the synthetic translation datasets on squares and strokes drawn here.

Expected values are written independently: centring by index arithmetic,
outlines as set differences of boxes, thickening against the naive pipeline
(np.repeat, scipy's grey_dilation, block means), disk sizes against the
Gauss circle counts.
"""

import doctest

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from jaxgen import data
from jaxgen.data import _translation

# ----------------------------------------------------------------- helpers


def _square(h=28, w=28, top=8, left=10, size=9, value=1.0):
  """(1, h, w, 1) zeros with a filled size x size square at (top, left)."""
  x = np.zeros((1, h, w, 1), np.float32)
  x[0, top:top + size, left:left + size] = value
  return x


def _stroke(h=28, start=(6.0, 8.0), end=(20.0, 17.0), width=1.5):
  """(1, h, h, 1) soft line segment: intensity 1 - dist/width near the segment."""
  y, x = np.mgrid[:h, :h] + 0.5
  p, q = np.asarray(start), np.asarray(end)
  d = q - p
  t = np.clip(((y - p[0]) * d[0] + (x - p[1]) * d[1]) / (d @ d), 0, 1)
  dist = np.hypot(y - p[0] - t * d[0], x - p[1] - t * d[1])
  return np.clip(1 - dist / width, 0, 1).astype(np.float32)[None, ..., None]


def _batch():
  """Four 28x28 digit-like images: a square, two strokes and a grey blank."""
  return np.concatenate([
      _square(), _stroke(), _stroke(start=(4.0, 20.0), end=(24.0, 6.0), width=2.0),
      np.full((1, 28, 28, 1), 0.25, np.float32),
  ])


def _centre_of_mass(image):
  """(row, col) in pixel-centre coordinates (pixel i covers [i, i + 1))."""
  return np.asarray(ndimage.center_of_mass(image[..., 0])) + 0.5


def _assert_one_line_error(excinfo, *names):
  message = str(excinfo.value)
  assert "\n" not in message, message
  for name in names:
    assert str(name) in message, f"{name!s} not in: {message}"


# ----------------------------------------------------------------- contract

_FUNCTIONS = {
    "pad_to": (lambda x: _translation.pad_to(x, 32), (32, 32)),
    "resize": (lambda x: _translation.resize(x, 16), (16, 16)),
    "mask_bottom_half": (_translation.mask_bottom_half, (28, 28)),
    "morphological_gradient": (_translation.morphological_gradient, (28, 28)),
    "thicken": (_translation.thicken, (28, 28)),
    "invert": (_translation.invert, (28, 28)),
    "oracle_transform": (_translation.oracle_transform, (28, 28)),
}


@pytest.mark.parametrize("name", sorted(_FUNCTIONS))
@pytest.mark.parametrize("channels", [1, 3])
def test_shape_dtype_and_range(name, channels):
  fn, (h, w) = _FUNCTIONS[name]
  x = np.repeat(_batch().astype(np.float64), channels, axis=-1)
  out = fn(x)
  assert isinstance(out, np.ndarray) and out.dtype == np.float32
  assert out.shape == (4, h, w, channels)
  assert out.min() >= 0.0 and out.max() <= 1.0
  assert fn(x[:0]).shape == (0, h, w, channels)  # an empty batch passes through


def test_exported_from_jaxgen_data():
  for name in ("PAIR_TASKS", "digits_to_side", "invert", "mask_bottom_half",
               "morphological_gradient", "oracle_transform", "pad_to", "resize",
               "split_halves", "thicken", "translation_pairs"):
    assert getattr(data, name) is getattr(_translation, name)
    assert name in data.__all__


def test_docstring_examples():
  result = doctest.testmod(_translation, optionflags=doctest.NORMALIZE_WHITESPACE)
  assert result.attempted > 0 and result.failed == 0


# ----------------------------------------------------------------- pad_to


@pytest.mark.parametrize("h, w, side, top, left", [(28, 28, 32, 2, 2), (28, 27, 31, 1, 2),
                                                   (5, 5, 5, 0, 0)])
def test_pad_to_centres_on_zeros(h, w, side, top, left):
  x = np.random.default_rng(0).random((2, h, w, 3)).astype(np.float32) * 0.9 + 0.1
  out = data.pad_to(x, side)
  np.testing.assert_array_equal(out[:, top:top + h, left:left + w], x)
  border = np.ones(out.shape, bool)
  border[:, top:top + h, left:left + w] = False
  assert not out[border].any()


def test_pad_to_smaller_side_raises():
  with pytest.raises(ValueError) as excinfo:
    data.pad_to(np.zeros((1, 28, 28, 1), np.float32), 16)
  _assert_one_line_error(excinfo, "16", "28x28", "resize")


# ----------------------------------------------------------------- resize


@pytest.mark.parametrize("h, side", [(28, 16), (28, 32), (8, 16), (28, 28)])
def test_resize_keeps_a_constant_image(h, side):
  out = data.resize(np.full((2, h, h, 1), 0.3, np.float32), side)
  np.testing.assert_allclose(out, 0.3, atol=1e-6)


@pytest.mark.parametrize("side", [16, 32, 56])
def test_resize_keeps_the_centre_of_mass(side):
  x = _stroke()
  out = data.resize(x, side)
  scaled = _centre_of_mass(out[0]) * 28 / side
  np.testing.assert_allclose(scaled, _centre_of_mass(x[0]), atol=0.1)


def test_resize_is_pillow_bicubic_per_channel():
  x = np.concatenate([_stroke(), _square()], axis=-1)
  out = data.resize(x, 16)
  for c in range(2):
    img = Image.fromarray(np.ascontiguousarray(x[0, :, :, c])).resize((16, 16), Image.BICUBIC)
    np.testing.assert_allclose(out[0, :, :, c], np.clip(np.asarray(img), 0, 1), atol=1e-6)


def test_digits_to_side():
  x = np.full((3, 8, 8, 1), 0.5, np.float32)
  out = data.digits_to_side(x, 16)
  assert out.shape == (3, 16, 16, 1) and out.dtype == np.float32
  np.testing.assert_allclose(out, 0.5, atol=1e-6)
  with pytest.raises(ValueError) as excinfo:
    data.digits_to_side(x * 32, 16)  # raw scikit-learn counts 0..16
  _assert_one_line_error(excinfo, "16", "load_digits")
  with pytest.raises(ValueError) as excinfo:
    data.digits_to_side(np.zeros((3, 28, 28, 1), np.float32), 16)
  _assert_one_line_error(excinfo, "8x8", "resize")


# ----------------------------------------------------------------- pix2pix inputs


@pytest.mark.parametrize("h, fill", [(28, 0.0), (7, 0.5)])
def test_mask_bottom_half(h, fill):
  x = np.random.default_rng(1).random((2, h, 5, 1)).astype(np.float32)
  out = data.mask_bottom_half(x, fill=fill)
  np.testing.assert_array_equal(out[:, :h // 2], x[:, :h // 2])
  assert np.all(out[:, h // 2:] == np.float32(fill))
  assert not np.shares_memory(out, x)


def test_morphological_gradient_of_a_square_is_its_outline():
  x = _square(top=8, left=10, size=9)
  out = data.morphological_gradient(x)[0, :, :, 0]
  outline = np.zeros((28, 28), bool)
  outline[7:18, 9:20] = True     # the square grown by one pixel
  outline[9:16, 11:18] = False   # minus the square shrunk by one
  np.testing.assert_array_equal(out > 0, outline)
  np.testing.assert_array_equal(out[outline], 1.0)


@pytest.mark.parametrize("size", [1, 3, 5])
def test_morphological_gradient_of_a_constant_is_zero(size):
  out = data.morphological_gradient(np.full((2, 12, 12, 2), 0.7, np.float32), size=size)
  assert not out.any()


def test_translation_pairs():
  x = data.pad_to(_batch(), 32)
  for task, make_input in (("completion", data.mask_bottom_half),
                           ("edges", data.morphological_gradient)):
    inputs, targets = data.translation_pairs(x, task)
    np.testing.assert_array_equal(targets, x)
    np.testing.assert_array_equal(inputs, make_input(x))
  assert data.PAIR_TASKS == ("completion", "edges")


# ----------------------------------------------------------------- thicken


def _naive_disk(radius):
  r = int(np.floor(radius))
  return np.array([[dy * dy + dx * dx <= radius * radius for dx in range(-r, r + 1)]
                   for dy in range(-r, r + 1)])


def _naive_thicken(x, amount, u):
  """Builds the u-times larger image, dilates it, averages u x u blocks."""
  up = x.repeat(u, axis=1).repeat(u, axis=2)
  footprint = _naive_disk(amount * u)[None, :, :, None]
  dilated = ndimage.grey_dilation(up, footprint=footprint, mode="constant", cval=0.0)
  n, h, w, c = x.shape
  return dilated.reshape(n, h, u, w, u, c).mean(axis=(2, 4))


@pytest.mark.parametrize("radius, count", [(0, 1), (1, 5), (2, 13), (3, 29), (4, 49), (5, 81),
                                           (10, 317), (2.8, 21)])
def test_disk_has_the_gauss_circle_count(radius, count):
  disk = _translation._disk(radius)
  # Gauss circle problem: lattice points with y^2 + x^2 <= r^2 (OEIS A000328).
  assert disk.sum() == count
  np.testing.assert_array_equal(disk, _naive_disk(radius))


def test_disk_is_round():
  disk = _translation._disk(20)
  for flipped in (disk.T, disk[::-1], disk[:, ::-1]):
    np.testing.assert_array_equal(disk, flipped)
  assert abs(disk.sum() / (np.pi * 20 ** 2) - 1) < 0.01
  rows = disk.sum(axis=1)  # widths grow to the middle row, then shrink
  assert rows[20] == 41 and np.all(np.diff(rows[:21]) >= 0)


@pytest.mark.parametrize("amount, upsample", [(0.0, 4), (0.5, 4), (0.7, 4), (1.0, 4),
                                              (1.5, 2), (2.0, 1), (1.0, 3)])
def test_thicken_matches_the_naive_pipeline(amount, upsample):
  x = _batch()[:3]
  np.testing.assert_allclose(data.thicken(x, amount, upsample),
                             _naive_thicken(x, amount, upsample), atol=1e-6)


def test_thicken_amount_zero_is_the_identity():
  x = _batch()
  np.testing.assert_allclose(data.thicken(x, 0.0), x, atol=1e-7)


def test_thicken_adds_ink_monotonically():
  x = np.concatenate([_stroke(), _stroke(start=(4.0, 20.0), end=(24.0, 6.0), width=2.0),
                      _square()])
  outs = [data.thicken(x, amount) for amount in (0.0, 0.25, 0.5, 1.0, 1.5, 2.0)]
  ink = np.stack([o.mean(axis=(1, 2, 3)) for o in outs])  # (amounts, images)
  assert np.all(np.diff(ink, axis=0) > 0), ink
  for thinner, thicker in zip(outs, outs[1:]):
    assert np.all(thicker >= thinner - 1e-6)  # no pixel gets darker (up to rounding)


def test_thicken_grows_a_line_by_amount_on_each_side():
  x = np.zeros((1, 15, 15, 1), np.float32)
  x[0, 3:12, 7] = 1.0
  out = data.thicken(x, 2.0)[0, 7, :, 0]  # middle row, across the line
  np.testing.assert_allclose(out, (out > 0.5).astype(np.float32), atol=0.05)
  assert (out > 0.5).sum() == 5  # 1 + 2 + 2 pixels


# ----------------------------------------------------------------- cyclegan oracle


def test_invert_twice_is_the_identity():
  x = _batch()
  np.testing.assert_allclose(data.invert(data.invert(x)), x, atol=1e-7)
  np.testing.assert_allclose(data.invert(x) + x, 1.0, atol=1e-7)


def test_oracle_transform_is_inverted_thickening():
  x = _batch()
  np.testing.assert_array_equal(data.oracle_transform(x, 1.5),
                                data.invert(data.thicken(x, 1.5)))
  assert data.oracle_transform(x).mean() < data.invert(x).mean()  # more (dark) ink


@pytest.mark.parametrize("n", [0, 1, 10, 11, 60000])
def test_split_halves_disjoint_and_complete(n):
  a, b = data.split_halves(n, seed=3)
  assert len(a) == n // 2 and len(b) == n - n // 2
  assert not np.intersect1d(a, b).size
  np.testing.assert_array_equal(np.sort(np.concatenate([a, b])), np.arange(n))


def test_split_halves_deterministic_in_the_seed():
  a, b = data.split_halves(100, seed=7)
  a2, b2 = data.split_halves(100, seed=7)
  np.testing.assert_array_equal(a, a2)
  np.testing.assert_array_equal(b, b2)
  assert not np.array_equal(a, data.split_halves(100, seed=8)[0])
  assert not np.array_equal(a, np.arange(50))  # actually shuffled


# ----------------------------------------------------------------- bad inputs

_GOOD = np.zeros((2, 8, 8, 1), np.float32)


@pytest.mark.parametrize("call, names", [
    (lambda: data.pad_to(np.zeros((8, 8, 1), np.float32), 16), ["(N, H, W, C)"]),
    (lambda: data.resize(np.zeros((2, 8, 8)), 16), ["(N, H, W, C)"]),
    (lambda: data.thicken(np.zeros((8, 8))), ["(N, H, W, C)"]),
    (lambda: data.invert(_GOOD + 2), ["[0, 1]"]),
    (lambda: data.morphological_gradient(_GOOD.astype(np.uint8)), ["float32"]),
    (lambda: data.pad_to(_GOOD, -4), ["side", "-4"]),
    (lambda: data.resize(_GOOD, 0), ["side", "0"]),
    (lambda: data.resize(_GOOD, 16.0), ["side", "16.0"]),
    (lambda: data.digits_to_side(_GOOD, -1), ["side", "-1"]),
    (lambda: data.morphological_gradient(_GOOD, size=0), ["size", "0"]),
    (lambda: data.mask_bottom_half(_GOOD, fill=2.0), ["fill", "2.0"]),
    (lambda: data.thicken(_GOOD, amount=-1.0), ["amount", "-1.0"]),
    (lambda: data.thicken(_GOOD, upsample=0), ["upsample", "0"]),
    (lambda: data.translation_pairs(_GOOD, "edge"), ["'edge'", "completion, edges",
                                                     "Did you mean 'edges'"]),
    (lambda: data.translation_pairs(_GOOD, "colorize"), ["'colorize'", "completion, edges"]),
    (lambda: data.split_halves(-1, 0), ["n", "-1"]),
    (lambda: data.split_halves(10, 1.5), ["seed", "1.5"]),
])
def test_bad_inputs_raise_one_line_errors(call, names):
  with pytest.raises(ValueError) as excinfo:
    call()
  _assert_one_line_error(excinfo, *names)
