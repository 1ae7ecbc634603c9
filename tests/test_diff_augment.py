"""jaxgen.nn.diff_augment: each transform checked on images whose answer is known, gradients, keys, jit."""

import doctest

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgen.nn._augment
from jaxgen.nn import DIFF_AUGMENT_POLICIES, diff_augment

SHAPES = [(16, 8, 8, 1), (16, 28, 28, 1), (8, 12, 10, 3)]


def _images(shape, seed=0):
  return jax.random.uniform(jax.random.key(seed), shape, jnp.float32, -1.0, 1.0)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("policy", ["color,translation,cutout", "color", "translation", "cutout"])
def test_shape_dtype_and_gradient(shape, policy):
  x = _images(shape)
  y = diff_augment(jax.random.key(1), x, policy)
  assert y.shape == x.shape and y.dtype == x.dtype
  grad = jax.grad(lambda x: jnp.sum(jnp.sin(diff_augment(jax.random.key(1), x, policy))))(x)
  assert bool(jnp.all(jnp.isfinite(grad)))
  assert float(jnp.sum(jnp.abs(grad))) > 0


def test_bfloat16_kept():
  x = _images((4, 8, 8, 3)).astype(jnp.bfloat16)
  assert diff_augment(jax.random.key(0), x).dtype == jnp.bfloat16


def test_key_determinism_and_independence():
  x = _images((8, 28, 28, 1))
  a = diff_augment(jax.random.key(3), x)
  np.testing.assert_array_equal(a, diff_augment(jax.random.key(3), x))
  assert not np.allclose(a, diff_augment(jax.random.key(4), x))
  # Drawn per image: one image repeated is augmented differently in each slot.
  same = jnp.broadcast_to(x[:1], x.shape)
  out = diff_augment(jax.random.key(3), same)
  assert len({np.asarray(img).tobytes() for img in out}) == x.shape[0]


def test_jit_matches_eager():
  x = _images((8, 28, 28, 1))
  jitted = jax.jit(diff_augment, static_argnames="policy")
  np.testing.assert_allclose(jitted(jax.random.key(5), x, policy="color,translation,cutout"),
                             diff_augment(jax.random.key(5), x), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("policy", ["", " ", ","])
def test_empty_policy_is_the_identity(policy):
  x = _images((4, 8, 8, 1))
  np.testing.assert_array_equal(diff_augment(jax.random.key(0), x, policy), x)


def test_color_is_brightness_then_saturation_then_contrast():
  x = _images((8, 8, 8, 3))
  np.testing.assert_array_equal(diff_augment(jax.random.key(2), x, "color"),
                                diff_augment(jax.random.key(2), x, "brightness,saturation,contrast"))


def _shift_reference(image, dy, dx):
  """out[i, j] = image[i + dy, j + dx] where that is inside, else 0 (numpy, written separately)."""
  h, w = image.shape[:2]
  out = np.zeros_like(image)
  for i in range(h):
    for j in range(w):
      if 0 <= i + dy < h and 0 <= j + dx < w:
        out[i, j] = image[i + dy, j + dx]
  return out


@pytest.mark.parametrize("side,max_shift", [(8, 1), (28, 4), (16, 2)])
def test_translation_moves_by_integers_and_fills_zeros(side, max_shift):
  n = 64
  # Every pixel a distinct positive value, so each output pixel names its source (0 = filled in).
  index = np.arange(1, side * side + 1, dtype=np.float32).reshape(side, side, 1)
  x = jnp.broadcast_to(jnp.asarray(index), (n, side, side, 1))
  out = np.asarray(diff_augment(jax.random.key(7), x, "translation"))
  shifts = set()
  for img in out:
    source = img[..., 0].astype(int) - 1
    i, j = np.nonzero(source >= 0)
    dys, dxs = source[i, j] // side - i, source[i, j] % side - j
    assert len(set(dys)) == 1 and len(set(dxs)) == 1  # one integer shift for the whole image
    dy, dx = int(dys[0]), int(dxs[0])
    assert abs(dy) <= max_shift and abs(dx) <= max_shift
    np.testing.assert_array_equal(img, _shift_reference(index, dy, dx))
    shifts.add((dy, dx))
  assert {dy for dy, _ in shifts} == set(range(-max_shift, max_shift + 1))
  assert {dx for _, dx in shifts} == set(range(-max_shift, max_shift + 1))


def test_translation_of_a_one_hot_image():
  x = np.zeros((32, 8, 8, 1), np.float32)
  x[:, 3, 5, 0] = 1.0
  out = np.asarray(diff_augment(jax.random.key(8), jnp.asarray(x), "translation"))
  for img in out:
    assert set(np.unique(img)) <= {0.0, 1.0} and img.sum() == 1.0  # a shift of <= 1 keeps (3, 5) inside
    (i,), (j,) = np.nonzero(img[..., 0])[0], np.nonzero(img[..., 0])[1]
    assert abs(i - 3) <= 1 and abs(j - 5) <= 1


@pytest.mark.parametrize("side,size", [(8, 4), (28, 14), (9, 5)])
def test_cutout_zeroes_a_square_clipped_at_the_border(side, size):
  n = 256
  x = jnp.ones((n, side, side, 2))
  out = np.asarray(diff_augment(jax.random.key(9), x, "cutout"))
  full = 0
  for img in out:
    assert np.array_equal(img[..., 0], img[..., 1])  # the same pixels in every channel
    cut = img[..., 0] == 0
    rows, cols = np.nonzero(cut.any(axis=1))[0], np.nonzero(cut.any(axis=0))[0]
    # The zeroed set is exactly the product of a contiguous row range and a contiguous column range.
    assert rows.size and np.array_equal(rows, np.arange(rows[0], rows[-1] + 1))
    assert np.array_equal(cols, np.arange(cols[0], cols[-1] + 1))
    assert np.array_equal(cut, np.outer(cut.any(axis=1), cut.any(axis=0)))
    assert set(np.unique(img)) <= {0.0, 1.0}
    # A size x size square whose centre lies in the image: full size unless it touches the border.
    for lo, hi in ((rows[0], rows[-1]), (cols[0], cols[-1])):
      length = hi - lo + 1
      if lo > 0 and hi < side - 1:
        assert length == size
      assert size - size // 2 <= length <= size
    full += rows.size == size and cols.size == size
  assert full > n // 8


def test_saturation_is_a_no_op_on_one_channel():
  x = _images((8, 28, 28, 1))
  np.testing.assert_array_equal(diff_augment(jax.random.key(0), x, "saturation"), x)


def test_saturation_keeps_the_channel_mean_and_scales_the_rest():
  x = _images((64, 8, 8, 3))
  y = diff_augment(jax.random.key(1), x, "saturation")
  np.testing.assert_allclose(y.mean(axis=3), x.mean(axis=3), atol=1e-6)
  dev_x, dev_y = x - x.mean(axis=3, keepdims=True), y - y.mean(axis=3, keepdims=True)
  s = jnp.sum(dev_x * dev_y, axis=(1, 2, 3)) / jnp.sum(dev_x**2, axis=(1, 2, 3))  # least squares, per image
  np.testing.assert_allclose(dev_y, dev_x * s[:, None, None, None], atol=1e-5)
  assert float(s.min()) >= 0.0 and float(s.max()) <= 2.0
  assert float(s.min()) < 0.4 and float(s.max()) > 1.6  # spread over U(0, 2)


def test_brightness_adds_one_offset_per_image_within_half():
  x = _images((256, 8, 8, 3))
  delta = diff_augment(jax.random.key(2), x, "brightness") - x
  b = delta[:, 0, 0, 0]
  np.testing.assert_allclose(delta, jnp.broadcast_to(b[:, None, None, None], delta.shape), atol=1e-6)
  assert float(b.min()) >= -0.5 and float(b.max()) <= 0.5
  assert abs(float(b.mean())) < 0.06  # mean 0, s.e. 0.018
  assert float(b.min()) < -0.4 and float(b.max()) > 0.4


def test_contrast_scales_around_the_image_mean():
  x = _images((256, 8, 8, 3))
  y = diff_augment(jax.random.key(3), x, "contrast")
  np.testing.assert_allclose(y.mean(axis=(1, 2, 3)), x.mean(axis=(1, 2, 3)), atol=1e-5)
  c = y.std(axis=(1, 2, 3)) / x.std(axis=(1, 2, 3))
  np.testing.assert_allclose(y - y.mean(axis=(1, 2, 3), keepdims=True),
                             (x - x.mean(axis=(1, 2, 3), keepdims=True)) * c[:, None, None, None], atol=1e-5)
  assert float(c.min()) >= 0.5 - 1e-5 and float(c.max()) <= 1.5 + 1e-5
  assert abs(float(c.mean()) - 1.0) < 0.06
  assert float(c.min()) < 0.6 and float(c.max()) > 1.4


def test_unknown_policy_is_one_line_with_a_suggestion():
  with pytest.raises(ValueError, match="Did you mean 'cutout'") as info:
    diff_augment(jax.random.key(0), jnp.zeros((1, 8, 8, 1)), "color,cutuot")
  message = str(info.value)
  assert "\n" not in message
  assert all(name in message for name in DIFF_AUGMENT_POLICIES)


def test_bad_images_are_refused():
  with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
    diff_augment(jax.random.key(0), jnp.zeros((8, 8, 1)))
  with pytest.raises(ValueError, match="float"):
    diff_augment(jax.random.key(0), jnp.zeros((1, 8, 8, 1), jnp.uint8))


def test_policies_listed():
  assert DIFF_AUGMENT_POLICIES[:3] == ("color", "translation", "cutout")


def test_docstring_examples():
  result = doctest.testmod(jaxgen.nn._augment, optionflags=doctest.NORMALIZE_WHITESPACE)
  assert result.attempted > 0
  assert result.failed == 0
