"""Tests for Morpho-MNIST's measures, perturbations and attribute bins.

Expected values come from outside the code under test: strokes drawn here
with a known width (anti-aliased capsules: every point within w / 2 of a
segment) and a known shear (parallelograms), a naive pipeline written with
scikit-image's public functions as the paper describes it, counting for the
bins, and scikit-learn's bundled digits (no file under /work/shared).
"""

import doctest

import numpy as np
import pytest
from skimage import morphology
from skimage import transform

from jaxgen import data
from jaxgen.data import _morpho

# ----------------------------------------------------------------- helpers


def _coverage(inside, side=28, supersample=8):
  """side x side float64 in [0, 1]: the fraction of each pixel where inside(y, x) holds (8 x 8 samples)."""
  c = (np.arange(side * supersample) + 0.5) / supersample
  y, x = np.meshgrid(c, c, indexing="ij")
  return inside(y, x).reshape(side, supersample, side, supersample).mean(axis=(1, 3))


def _capsule(width, top, bottom):
  """A pen stroke: the points within width / 2 of the segment top-bottom, (row, column) in pixels."""
  a, d = np.array(top), np.subtract(bottom, top)

  def inside(y, x):
    t = np.clip(((y - a[0]) * d[0] + (x - a[1]) * d[1]) / (d @ d), 0.0, 1.0)
    return np.hypot(y - a[0] - t * d[0], x - a[1] - t * d[1]) <= width / 2

  return _coverage(inside)


def _sheared_bar(width, shear, top=6.0, bottom=22.0, centre=14.0):
  """Rows top..bottom, each a run of `width` pixels centred at centre - shear (y - y_mid): leans right for shear > 0."""
  middle = (top + bottom) / 2
  return _coverage(lambda y, x: (y >= top) & (y <= bottom) & (np.abs(x - centre + shear * (y - middle)) <= width / 2))


def _digits(n=12):
  """scikit-learn's 8x8 digits as MNIST lays digits out: 20 x 20 in a 28 x 28 frame, float32 (n, 28, 28, 1)."""
  return data.pad_to(data.digits_to_side(data.load_digits().train[:n], 20), 28)


def _naive_hires(image):
  """The paper's 4x step with scikit-image's public functions: (255 pyramid_expand(x, 4, order=3)).astype(uint8)."""
  up = transform.pyramid_expand(np.asarray(image, np.uint8), upscale=4, order=3, channel_axis=None)
  return (255.0 * up).astype(np.uint8)


def _naive_binary(hires):
  return hires >= hires.min() + (float(hires.max()) - float(hires.min())) / 2


def _naive_thickness(image):
  skeleton, distance = morphology.medial_axis(_naive_binary(_naive_hires(image)), return_distance=True, rng=42)
  return 2.0 * distance[skeleton].mean() / 4


def _naive_slant(image):
  u = _naive_hires(image).astype(np.float64)
  y, x = np.mgrid[:u.shape[0], :u.shape[1]]
  mass = u.sum()
  x_bar, y_bar = (x * u).sum() / mass, (y * u).sum() / mass
  mu_11 = ((x - x_bar) * (y - y_bar) * u).sum() / mass
  mu_02 = ((y - y_bar)**2 * u).sum() / mass
  return np.arctan(-mu_11 / mu_02)


def _naive_perturb(image, amount, grow):
  hires = _naive_hires(image)
  binary = _naive_binary(hires)
  radius = int(amount * 4 * _naive_thickness(image) / 2)
  changed = (morphology.dilation if grow else morphology.erosion)(binary, morphology.disk(radius))
  return (255.0 * transform.pyramid_reduce(changed, downscale=4, order=3, channel_axis=None)).astype(np.uint8)


def _as_uint8(images):
  return np.rint(np.asarray(images)[..., 0] * 255).astype(np.uint8)


# ------------------------------------------------------------- thickness


@pytest.mark.parametrize("width", [2.0, 2.5, 3.0, 4.0, 5.0])
def test_stroke_on_the_4x_grid_measures_its_width(width):
  # Centred at column 14, the stroke's edges 14 +- w/2 fall on the 4x grid (w a multiple of 1/2): binarised it is
  # 4w upsampled pixels wide, an even number, so its ridge lies 2w upsampled pixels from the nearest background
  # pixel centre and measures 2 (2w) / 4 = w. The 0.02 allows only rounding and the round ends.
  stroke = _capsule(width, top=(6.0, 14.0), bottom=(22.0, 14.0))
  np.testing.assert_allclose(data.stroke_thickness(stroke), width, atol=0.02)


def test_stroke_at_any_subpixel_offset_measures_about_its_width_and_orders_by_width():
  # Off the 4x grid, a straight stroke binarised W upsampled pixels wide measures ceil(W / 2) / 2 (its ridge pixel
  # is at the centre of the stroke or half a pixel off it): w - 1/4 .. w + 1/2 as each edge moves by up to half an
  # upsampled pixel. The skeleton's spurs into the round ends lower the mean by up to ~0.15 w more (down to -0.57
  # for w = 4 here). Hence 0.75; a wider stroke must measure wider at every offset.
  widths = np.array([2.0, 3.0, 4.0, 5.0])
  measured = np.array([[data.stroke_thickness(_capsule(w, top=(6.0, 14.0 + dx), bottom=(22.0, 14.0 + dx)))
                        for dx in np.arange(8) / 8] for w in widths])
  np.testing.assert_array_less(np.abs(measured - widths[:, None]), 0.75)
  assert np.all(np.diff(measured, axis=0) > 0)


def test_measures_equal_a_naive_pipeline_of_public_scikit_image_calls():
  # pyramid_expand, threshold at half range, medial_axis(rng=42), 2 mean distance / 4 and the moments: Morpho-MNIST's
  # steps one image at a time; ours are batched, with the skeleton's lookup tables built once.
  x = _as_uint8(_digits(8))
  m = data.measure(x)
  np.testing.assert_allclose(m.thickness, [_naive_thickness(im) for im in x], rtol=0, atol=1e-12)
  np.testing.assert_allclose(m.slant, [_naive_slant(im) for im in x], rtol=0, atol=1e-12)


def test_skeleton_without_the_compiled_loop_is_the_same(monkeypatch):
  x = _as_uint8(_digits(4))
  fast = data.stroke_thickness(x)
  monkeypatch.setattr(_morpho, "_skeletonize_loop", lambda: None)  # as where skimage lacks it: public medial_axis
  np.testing.assert_array_equal(data.stroke_thickness(x), fast)


# ----------------------------------------------------------------- slant


@pytest.mark.parametrize("degrees", [-30.0, -15.0, -5.0, 5.0, 15.0, 30.0])
def test_sheared_bar_measures_its_shear_angle_with_sign(degrees):
  # A parallelogram x = c - s (y - y_mid) + u has mu_11 = -s mu_02 exactly, so slant = arctan(s). The pipeline's
  # blur is symmetric: it leaves mu_11 and adds its variance (~0.2 px^2) to mu_02 = 16^2 / 12 = 21 px^2, which
  # shrinks tan(slant) by ~1%: 0.3 degrees at 30 degrees. Hence 0.5 degrees.
  bar = _sheared_bar(2.5, np.tan(np.radians(degrees)))
  assert np.degrees(data.slant(bar)) == pytest.approx(degrees, abs=0.5)


def test_leaning_right_is_positive_mirror_negates_upright_is_zero():
  right = _capsule(2.5, top=(5.0, 18.0), bottom=(23.0, 10.0))  # "/": the top is right of the bottom
  upright = _capsule(2.5, top=(5.0, 14.0), bottom=(23.0, 14.0))
  s = data.slant(np.stack([right, right[:, ::-1], upright]))
  assert s[0] > np.radians(20)
  assert s[1] == pytest.approx(-s[0], abs=1e-12)
  assert s[2] == pytest.approx(0.0, abs=1e-12)


# --------------------------------------------------------------- inputs


def test_uint8_and_float_inputs_give_the_same_measures_in_every_layout():
  x = _as_uint8(_digits(6))
  expected = data.measure(x)
  jitter = np.random.default_rng(0).uniform(-0.45, 0.45, x.shape)  # floats are read at 8-bit precision: rounded
  near = np.clip((x + jitter) / 255.0, 0.0, 1.0)
  for images in (x / 255.0, (x / 255.0).astype(np.float32), (x / 255.0).astype(np.float32)[..., None], near):
    got = data.measure(images)
    np.testing.assert_array_equal(got.thickness, expected.thickness)
    np.testing.assert_array_equal(got.slant, expected.slant)
  one = data.measure(x[2])
  assert one.thickness.shape == () and one.slant.shape == ()
  assert float(one.thickness) == expected.thickness[2] and float(one.slant) == expected.slant[2]
  np.testing.assert_array_equal(data.stroke_thickness(x), expected.thickness)
  np.testing.assert_array_equal(data.slant(x), expected.slant)


def test_image_without_ink_measures_nan_and_bins_refuse_it():
  x = np.zeros((2, 28, 28), np.uint8)
  x[1, 6:22, 13:15] = 255
  m = data.measure(x)
  assert np.isnan(m.thickness[0]) and np.isnan(m.slant[0])
  assert np.isfinite(m.thickness[1]) and np.isfinite(m.slant[1])
  with pytest.raises(ValueError, match="without ink"):
    data.bin_of(m.thickness, [0.0, 2.0, 4.0])


# --------------------------------------------------------- perturbations


def test_thickening_thickens_and_thinning_thins_every_digit():
  x = _digits(12)
  before = data.stroke_thickness(x)
  thicker = data.stroke_thickness(data.thickening(x, 1.0))
  thinner = data.stroke_thickness(data.thinning(x, 0.7))
  # amount 1 adds about the digit's own thickness, 0.7 removes about 70% of it (measured: x1.6..x3 and x0.36..x0.68
  # on 40 of these digits); the bounds only ask for a clear change in the right direction.
  assert np.all(thicker > 1.4 * before)
  assert np.all(thinner < 0.8 * before)
  assert np.all(data.stroke_thickness(data.thickening(x, 0.5)) < thicker)


def test_perturbations_equal_a_naive_pipeline_of_public_scikit_image_calls():
  # Dilation / erosion by skimage's disk(r), then pyramid_reduce, one image at a time; ours use distance transforms
  # (the same disk) and a batched resize, whose rounding can move the 8-bit truncation by one level.
  x = _as_uint8(_digits(4))
  for ours, amount, grow in ((data.thickening(x, 1.0), 1.0, True), (data.thinning(x, 0.7), 0.7, False)):
    naive = np.stack([_naive_perturb(im, amount, grow) for im in x])
    assert np.abs(ours.astype(int) - naive).max() <= 1


def test_perturbations_keep_shape_and_dtype_range():
  x = _digits(3)
  for images in (x, x.astype(np.float64)[..., 0], _as_uint8(x), _as_uint8(x)[0]):
    for out in (data.thickening(images), data.thinning(images)):
      assert out.shape == images.shape and out.dtype == images.dtype
      if out.dtype != np.uint8:
        assert 0.0 <= out.min() and out.max() <= 1.0
  blank = np.zeros((2, 28, 28), np.float32)
  blank[1] = 0.25  # constant: no ink either
  np.testing.assert_array_equal(data.thickening(blank), blank)


# ------------------------------------------------------------------ bins


@pytest.mark.parametrize("num_bins", [2, 5, 7])
def test_quantile_bins_hold_equal_counts_and_bin_of_agrees(num_bins):
  values = np.random.default_rng(0).normal(3.0, 1.0, size=1000)
  indices, edges = data.attribute_bins(values, num_bins)
  counts = np.bincount(indices, minlength=num_bins)
  assert counts.sum() == 1000 and counts.max() - counts.min() <= 1  # distinct values: floor or ceil of 1000 / B
  assert edges.shape == (num_bins + 1,) and np.all(np.diff(edges) > 0)
  assert edges[0] == values.min() and edges[-1] == values.max()
  np.testing.assert_array_equal(data.bin_of(values, edges), indices)
  assert indices.dtype == np.int32


def test_bin_of_places_new_values_half_open_and_clamps_the_ends():
  _, edges = data.attribute_bins(np.arange(10.0), 5)  # edges 0, 1.8, 3.6, 5.4, 7.2, 9
  new = np.array([[-5.0, 0.0, 1.79], [1.8, 7.2, 99.0]])
  np.testing.assert_array_equal(data.bin_of(new, edges), [[0, 0, 0], [1, 4, 4]])


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("call, match", [
    (lambda: data.measure(np.zeros((2, 2, 28, 28))), r"\(H, W\), \(N, H, W\)"),
    (lambda: data.measure(np.zeros((28, 28, 1))), r"x\[\.\.\., 0\]"),
    (lambda: data.measure(np.zeros((0, 28, 28))), "empty"),
    (lambda: data.measure(np.zeros((3, 0, 28), np.uint8)), "empty"),
    (lambda: data.measure(np.full((28, 28), np.nan)), "NaN"),
    (lambda: data.measure(np.full((28, 28), 255.0)), "divide 0..255 images by 255"),
    (lambda: data.slant(np.zeros((28, 28), np.int64)), "uint8"),
    (lambda: data.thickening(np.zeros((28, 28)), -1.0), "amount"),
    (lambda: data.thinning(np.zeros((28, 28)), np.nan), "amount"),
    (lambda: data.attribute_bins([1.0, 2.0, 3.0], 1), "num_bins"),
    (lambda: data.attribute_bins([1.0, 2.0, 3.0], 2.5), "num_bins"),
    (lambda: data.attribute_bins([], 2), "empty"),
    (lambda: data.attribute_bins([1.0, np.nan, 3.0], 2), "NaN"),
    (lambda: data.attribute_bins([1.0, 1.0, 1.0, 2.0], 3), "empty"),
    (lambda: data.bin_of([1.0], [0.0, 2.0]), "at least 3"),
    (lambda: data.bin_of([1.0], [0.0, 2.0, 1.0]), "strictly increasing"),
    (lambda: data.bin_of([np.inf], [0.0, 1.0, 2.0]), "NaN or infinite"),
])
def test_bad_inputs_raise_one_line_value_errors(call, match):
  with pytest.raises(ValueError, match=match) as error:
    call()
  assert "\n" not in str(error.value)


def test_exported_from_jaxgen_data():
  for name in ("Morphometrics", "attribute_bins", "bin_of", "measure", "slant", "stroke_thickness", "thickening",
               "thinning"):
    assert getattr(data, name) is getattr(_morpho, name)
    assert name in data.__all__


def test_docstring_examples():
  result = doctest.testmod(_morpho, optionflags=doctest.NORMALIZE_WHITESPACE)
  assert result.attempted > 0 and result.failed == 0
