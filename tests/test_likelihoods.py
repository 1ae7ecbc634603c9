"""Tests for the log-likelihoods and the reconstruction loss against scipy and numpy references."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads

from jaxgen.losses import (
    bernoulli_log_likelihood,
    gaussian_log_likelihood,
    gaussian_mixture_log_likelihood,
    reconstruction_loss,
)


def test_bernoulli_matches_scipy_on_binary_data():
  rng = np.random.default_rng(0)
  logits = rng.normal(scale=3.0, size=(4, 7))
  x = (rng.random((4, 7)) < 0.5).astype(np.float64)
  expected = scipy.stats.bernoulli.logpmf(x, scipy.special.expit(logits)).sum(-1)
  got = bernoulli_log_likelihood(jnp.asarray(x, jnp.float32), jnp.asarray(logits, jnp.float32))
  chex.assert_shape(got, (4,))
  np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_bernoulli_is_minus_binary_cross_entropy_for_grey_values():
  rng = np.random.default_rng(1)
  logits = rng.normal(size=(3, 5))
  x = rng.random((3, 5))
  prob = scipy.special.expit(logits)
  expected = np.sum(x * np.log(prob) + (1 - x) * np.log1p(-prob), axis=-1)
  got = bernoulli_log_likelihood(jnp.asarray(x, jnp.float32), jnp.asarray(logits, jnp.float32))
  np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_bernoulli_image_axes():
  rng = np.random.default_rng(2)
  x = (rng.random((2, 4, 4, 1)) < 0.3).astype(np.float32)
  logits = rng.normal(size=(2, 4, 4, 1)).astype(np.float32)
  expected = scipy.stats.bernoulli.logpmf(x, scipy.special.expit(logits)).sum(axis=(1, 2, 3))
  got = bernoulli_log_likelihood(jnp.asarray(x), jnp.asarray(logits), axis=(-3, -2, -1))
  chex.assert_shape(got, (2,))
  np.testing.assert_allclose(got, expected, rtol=1e-5)
  np.testing.assert_allclose(
      bernoulli_log_likelihood(jnp.asarray(x), jnp.asarray(logits), axis=None), expected.sum(), rtol=1e-5
  )


def test_bernoulli_extreme_logits_finite_and_accurate():
  x = jnp.array([1.0, 0.0, 1.0, 0.0, 1.0])
  logits = jnp.array([1e4, -1e4, -1e4, 1e4, 30.0])
  # log sigmoid(l) = -log(1 + exp(-l)), evaluated with numpy's logaddexp.
  l = np.array([1e4, -1e4, -1e4, 1e4, 30.0])
  xn = np.array([1.0, 0.0, 1.0, 0.0, 1.0])
  expected = -(xn * np.logaddexp(0, -l) + (1 - xn) * np.logaddexp(0, l))
  got = jax.vmap(lambda a, b: bernoulli_log_likelihood(a, b, axis=None))(x, logits)
  np.testing.assert_allclose(got, expected, rtol=1e-5)
  assert float(got[4]) < 0.0  # -exp(-30), not rounded to 0 by cancellation
  g = jax.grad(lambda l_: bernoulli_log_likelihood(x, l_))(logits)
  assert np.all(np.isfinite(g))
  # d/dl = x - sigmoid(l).
  np.testing.assert_allclose(g, xn - scipy.special.expit(l), atol=1e-6)


def test_gaussian_matches_scipy():
  rng = np.random.default_rng(3)
  x, mean, logvar = rng.normal(size=(3, 4, 6))
  expected = scipy.stats.norm.logpdf(x, mean, np.exp(0.5 * logvar)).sum(-1)
  got = gaussian_log_likelihood(*(jnp.asarray(a, jnp.float32) for a in (x, mean, logvar)))
  chex.assert_shape(got, (4,))
  np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_gaussian_scalar_logvar_and_axes():
  rng = np.random.default_rng(4)
  x, mean = rng.normal(size=(2, 2, 3, 3))
  expected = scipy.stats.norm.logpdf(x, mean, np.exp(0.5 * -1.0)).sum(axis=(1, 2))
  got = gaussian_log_likelihood(
      jnp.asarray(x, jnp.float32), jnp.asarray(mean, jnp.float32), jnp.float32(-1.0), axis=(-2, -1)
  )
  np.testing.assert_allclose(got, expected, rtol=1e-5)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(st.floats(-5, 5), st.floats(-5, 5), st.floats(-6, 6))
def test_gaussian_hypothesis_matches_scipy(x, mean, logvar):
  got = float(gaussian_log_likelihood(jnp.array([x]), jnp.array([mean]), jnp.array([logvar])))
  expected = scipy.stats.norm.logpdf(x, mean, np.exp(0.5 * logvar))
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_bad_shapes_raise():
  with pytest.raises(ValueError, match="same shape"):
    bernoulli_log_likelihood(jnp.zeros(3), jnp.zeros(4))
  with pytest.raises(ValueError, match="same shape"):
    gaussian_log_likelihood(jnp.zeros(3), jnp.zeros(4), jnp.zeros(3))
  with pytest.raises(ValueError, match="scalar or have the shape"):
    gaussian_log_likelihood(jnp.zeros(3), jnp.zeros(3), jnp.zeros(2))


def test_check_grads():
  rng = np.random.default_rng(5)
  with jax.enable_x64(True):
    x = jnp.asarray(rng.random(5))
    check_grads(
        jax.jit(lambda l: bernoulli_log_likelihood(x, l)), (jnp.asarray(rng.normal(size=5)),), order=1,
        modes=("rev",),
    )
    args = tuple(jnp.asarray(rng.normal(size=5)) for _ in range(3))
    check_grads(jax.jit(gaussian_log_likelihood), args, order=1, modes=("rev",))


@pytest.mark.parametrize(
    "fn, n_args",
    [(bernoulli_log_likelihood, 2), (gaussian_log_likelihood, 3)],
    ids=["bernoulli", "gaussian"],
)
def test_jit_and_vmap(fn, n_args):
  rng = np.random.default_rng(6)
  args = [jnp.asarray(rng.random((4, 5)), jnp.float32) for _ in range(n_args)]
  eager = fn(*args)
  chex.assert_trees_all_close(jax.jit(fn)(*args), eager, rtol=1e-6)
  chex.assert_trees_all_close(jax.vmap(fn)(*args), eager, rtol=1e-6)


def _mixture_reference(x, weights, means, stds):
  """log sum_k w_k prod_d N(x_d; mu_kd, sigma_kd^2), in float64 with scipy."""
  per_component = scipy.stats.norm.logpdf(x[..., None, :], means, stds).sum(-1)
  return scipy.special.logsumexp(per_component + np.log(weights), axis=-1)


def test_gaussian_mixture_matches_scipy():
  rng = np.random.default_rng(7)
  weights = np.array([0.2, 0.5, 0.3])
  means, stds = rng.normal(size=(3, 2)), np.exp(rng.normal(scale=0.5, size=(3, 2)))
  x = rng.normal(scale=2.0, size=(4, 5, 2))
  got = gaussian_mixture_log_likelihood(
      *(jnp.asarray(a, jnp.float32) for a in (x, np.log(weights), means, 2 * np.log(stds)))
  )
  chex.assert_shape(got, (4, 5))
  np.testing.assert_allclose(got, _mixture_reference(x, weights, means, stds), rtol=1e-5)


def test_gaussian_mixture_far_tail_is_finite_and_accurate():
  # Every component's density underflows to 0 in float32 (and float64) at x = 300.
  weights, means, stds = np.array([0.4, 0.6]), np.array([[-1.5], [1.0]]), np.array([[0.5], [0.7]])
  x = np.array([[300.0], [-300.0], [0.0]])
  assert scipy.stats.norm.pdf(x[0, 0], means[:, 0], stds[:, 0]).max() == 0.0
  got = gaussian_mixture_log_likelihood(
      jnp.asarray(x, jnp.float32), jnp.log(jnp.asarray(weights, jnp.float32)), jnp.asarray(means, jnp.float32),
      jnp.asarray(2 * np.log(stds), jnp.float32),
  )
  np.testing.assert_allclose(got, _mixture_reference(x, weights, means, stds), rtol=1e-5)
  grad = jax.grad(lambda m: gaussian_mixture_log_likelihood(
      jnp.asarray(x, jnp.float32), jnp.log(jnp.asarray(weights, jnp.float32)), m, jnp.zeros((2, 1))).sum())(
      jnp.asarray(means, jnp.float32))
  assert np.all(np.isfinite(grad))


def test_gaussian_mixture_of_one_component_is_the_gaussian():
  rng = np.random.default_rng(8)
  x, mean, logvar = (jnp.asarray(a, jnp.float32) for a in rng.normal(size=(3, 6, 4)))
  one = gaussian_mixture_log_likelihood(x, jnp.zeros(1), mean[:1], logvar[:1])
  np.testing.assert_allclose(one, gaussian_log_likelihood(x, jnp.broadcast_to(mean[:1], x.shape),
                                                          jnp.broadcast_to(logvar[:1], x.shape)), rtol=1e-6)


def test_gaussian_mixture_bad_shapes_raise():
  with pytest.raises(ValueError, match=r"\[K, D\]"):
    gaussian_mixture_log_likelihood(jnp.zeros((3, 2)), jnp.zeros(2), jnp.zeros((2, 2)), jnp.zeros((2, 1)))
  with pytest.raises(ValueError, match=r"\[K\]"):
    gaussian_mixture_log_likelihood(jnp.zeros((3, 2)), jnp.zeros(3), jnp.zeros((2, 2)), jnp.zeros((2, 2)))
  with pytest.raises(ValueError, match="D = 2"):
    gaussian_mixture_log_likelihood(jnp.zeros((3, 1)), jnp.zeros(2), jnp.zeros((2, 2)), jnp.zeros((2, 2)))


def test_gaussian_mixture_check_grads_and_jit():
  rng = np.random.default_rng(9)
  with jax.enable_x64(True):
    args = (jnp.asarray(rng.normal(size=(5, 2))), jnp.log(jnp.asarray([0.3, 0.7])),
            jnp.asarray(rng.normal(size=(2, 2))), jnp.asarray(rng.normal(scale=0.3, size=(2, 2))))
    check_grads(jax.jit(gaussian_mixture_log_likelihood), args, order=1, modes=("rev",))
    chex.assert_trees_all_close(jax.jit(gaussian_mixture_log_likelihood)(*args),
                                gaussian_mixture_log_likelihood(*args), rtol=1e-12)


def _reconstruction_reference(x, logits, kind):
  """Per-example mean over (H, W, C) of the squared error or the binary cross-entropy, in float64."""
  p = 1.0 / (1.0 + np.exp(-logits))
  per_pixel = (x - p) ** 2 if kind == "mse" else -(x * np.log(p) + (1 - x) * np.log1p(-p))
  return per_pixel.mean(axis=(1, 2, 3))


@pytest.mark.parametrize("kind", ["mse", "bce"])
def test_reconstruction_loss_matches_numpy(kind):
  rng = np.random.default_rng(10)
  x = rng.random((3, 4, 5, 2))
  logits = rng.normal(scale=2.0, size=(3, 4, 5, 2))
  got = jax.jit(reconstruction_loss, static_argnames="kind")(
      jnp.asarray(x, jnp.float32), jnp.asarray(logits, jnp.float32), kind=kind)
  chex.assert_shape(got, (3,))
  np.testing.assert_allclose(got, _reconstruction_reference(x, logits, kind), rtol=1e-5)
  flat = reconstruction_loss(jnp.asarray(x.reshape(3, -1), jnp.float32), jnp.asarray(logits.reshape(3, -1), jnp.float32),
                             kind, axis=-1)
  np.testing.assert_allclose(flat, got, rtol=1e-5)


def test_reconstruction_bce_is_minus_mean_bernoulli_log_likelihood():
  rng = np.random.default_rng(11)
  x = jnp.asarray(rng.random((2, 3, 3, 1)), jnp.float32)
  logits = jnp.asarray(rng.normal(size=(2, 3, 3, 1)), jnp.float32)
  np.testing.assert_allclose(reconstruction_loss(x, logits, "bce"),
                             -bernoulli_log_likelihood(x, logits, axis=(-3, -2, -1)) / 9, rtol=1e-6)


def test_reconstruction_bce_extreme_logits_finite():
  x = jnp.array([1.0, 0.0, 1.0, 0.0]).reshape(1, 1, 4, 1)
  logits = jnp.array([1e4, -1e4, -1e4, 1e4]).reshape(1, 1, 4, 1)
  # Two pixels exactly right (loss 0), two confidently wrong (loss 1e4 each): mean 5e3.
  np.testing.assert_allclose(reconstruction_loss(x, logits, "bce"), [5e3], rtol=1e-6)
  grad = jax.grad(lambda l: reconstruction_loss(x, l, "bce").sum())(logits)
  assert np.all(np.isfinite(grad))


def test_reconstruction_loss_bad_arguments_raise():
  with pytest.raises(ValueError, match="'mse' or 'bce'"):
    reconstruction_loss(jnp.zeros((1, 2, 2, 1)), jnp.zeros((1, 2, 2, 1)), "l1")
  with pytest.raises(ValueError, match="same shape"):
    reconstruction_loss(jnp.zeros((1, 2, 2, 1)), jnp.zeros((1, 2, 3, 1)))


# ----------------------------------------------------------------------------- refused input


def _one_line_error(fn, *args, **kwargs):
  """The ValueError message of fn(*args), asserted to be one line."""
  with pytest.raises(ValueError) as info:
    fn(*args, **kwargs)
  message = str(info.value)
  assert "\n" not in message and message
  return message


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_bernoulli_refuses_uint8_images(jit):
  # Unscaled images of 255 once gave a positive "log-probability" (about +500 nats an image here).
  x = np.full((2, 4, 4, 1), 255, np.uint8)
  logits = jnp.full(x.shape, 2.0)
  fn = lambda x, l: bernoulli_log_likelihood(x, l, axis=(-3, -2, -1))
  message = _one_line_error(jax.jit(fn) if jit else fn, x, logits)
  assert message == "bernoulli_log_likelihood: x has integer dtype uint8: scale images to [0, 1] floats first (x / 255)."
  # Scaled as the message says, the value is a log-probability again: <= 0.
  assert np.all(np.asarray(fn(x / 255.0, logits)) <= 0.0)


def test_bernoulli_accepts_bool_data_as_binary():
  rng = np.random.default_rng(11)
  x, logits = rng.random((3, 6)) < 0.5, jnp.asarray(rng.normal(size=(3, 6)), jnp.float32)
  chex.assert_trees_all_equal(bernoulli_log_likelihood(x, logits), bernoulli_log_likelihood(x.astype(np.float32), logits))


@pytest.mark.parametrize(
    "call, expected",
    [
        (lambda: bernoulli_log_likelihood(jnp.ones(3), jnp.zeros(3, jnp.int32)), "logits has integer dtype int32"),
        (lambda: gaussian_log_likelihood(np.full(3, 255, np.uint8), jnp.zeros(3), 0.0),
         "x has integer dtype uint8: scale images to [0, 1] floats first (x / 255)."),
        (lambda: gaussian_log_likelihood(jnp.ones(3), jnp.zeros(3, jnp.int32), 0.0), "mean has integer dtype int32"),
        (lambda: gaussian_log_likelihood(jnp.ones(3), jnp.zeros(3), jnp.zeros(3, jnp.int32)),
         "logvar has integer dtype int32"),
        (lambda: gaussian_mixture_log_likelihood(jnp.zeros((2, 1), jnp.int32), jnp.zeros(1), jnp.zeros((1, 1)),
                                                 jnp.zeros((1, 1))), "x has integer dtype int32: pass float points"),
        (lambda: gaussian_mixture_log_likelihood(jnp.zeros((2, 1)), jnp.zeros(1, jnp.int32), jnp.zeros((1, 1)),
                                                 jnp.zeros((1, 1))), "log_weights has integer dtype int32"),
        (lambda: gaussian_mixture_log_likelihood(jnp.zeros((2, 1)), jnp.zeros(1), jnp.zeros((1, 1), jnp.int32),
                                                 jnp.zeros((1, 1))), "means has integer dtype int32"),
        (lambda: gaussian_mixture_log_likelihood(jnp.zeros((2, 1)), jnp.zeros(1), jnp.zeros((1, 1)),
                                                 jnp.zeros((1, 1), jnp.int32)), "logvars has integer dtype int32"),
        (lambda: reconstruction_loss(np.full((1, 2, 2, 1), 255, np.uint8), jnp.zeros((1, 2, 2, 1)), "bce"),
         "reconstruction_loss: x has integer dtype uint8: scale images to [0, 1] floats first (x / 255)."),
        (lambda: reconstruction_loss(np.full((1, 2, 2, 1), 255, np.uint8), jnp.zeros((1, 2, 2, 1)), "mse"),
         "reconstruction_loss: x has integer dtype uint8"),
        (lambda: reconstruction_loss(jnp.ones((1, 2, 2, 1)), jnp.zeros((1, 2, 2, 1), jnp.int32)),
         "logits has integer dtype int32"),
    ],
)
def test_integer_arrays_are_refused_in_one_line(call, expected):
  assert expected in _one_line_error(call)


def test_gaussian_python_number_logvar_is_still_welcome():
  x, mean = jnp.ones((2, 3)), jnp.zeros((2, 3))
  chex.assert_trees_all_equal(gaussian_log_likelihood(x, mean, 0), gaussian_log_likelihood(x, mean, 0.0))
