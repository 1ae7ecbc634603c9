"""Tests for the GAN losses, D* (Prop. 1) and Theorem 1 of Goodfellow et al. (2014)."""

import functools
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.spatial.distance
import scipy.special
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads

from jaxgen.losses import (
    gan_value_from_densities,
    gan_value_from_samples,
    hinge_discriminator_loss,
    hinge_generator_loss,
    least_squares_discriminator_loss,
    least_squares_generator_loss,
    minimax_discriminator_loss,
    minimax_generator_loss,
    non_saturating_generator_loss,
    optimal_discriminator,
    optimal_discriminator_logit,
    relativistic_average_discriminator_loss,
    relativistic_average_generator_loss,
    wasserstein_discriminator_loss,
    wasserstein_generator_loss,
)

SETTINGS = settings(max_examples=30, deadline=None, derandomize=True)
EXTREME = np.array([-1e4, -50.0, -1.0, 0.0, 1.0, 50.0, 1e4])


def _log(p):
  with np.errstate(divide="ignore"):
    return np.log(p)


def _log_sigmoid(l):
  return -np.logaddexp(0.0, -l)


def _random_distribution(rng, k, zero_frac):
  w = rng.dirichlet(np.full(k, 0.5))
  w = np.where(rng.random(k) < zero_frac, 0.0, w)
  if w.sum() == 0:
    w[rng.integers(k)] = 1.0
  return w / w.sum()


# ----------------------------------------------------------------------------- minimax / NS


def test_minimax_discriminator_loss_matches_numpy():
  rng = np.random.default_rng(0)
  real, fake = rng.normal(scale=3.0, size=(2, 16))
  d_real, d_fake = scipy.special.expit(real), scipy.special.expit(fake)
  expected = -np.log(d_real) - np.log(1.0 - d_fake)
  got = minimax_discriminator_loss(jnp.asarray(real, jnp.float32), jnp.asarray(fake, jnp.float32))
  chex.assert_shape(got, (16,))
  np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_generator_losses_match_numpy():
  fake = np.random.default_rng(1).normal(scale=3.0, size=16)
  d_fake = scipy.special.expit(fake)
  f32 = jnp.asarray(fake, jnp.float32)
  np.testing.assert_allclose(minimax_generator_loss(f32), np.log(1.0 - d_fake), rtol=1e-5)
  np.testing.assert_allclose(non_saturating_generator_loss(f32), -np.log(d_fake), rtol=1e-5)


def test_losses_finite_at_extreme_logits():
  real, fake = np.meshgrid(EXTREME, EXTREME)
  real, fake = real.ravel(), fake.ravel()
  r32, f32 = jnp.asarray(real, jnp.float32), jnp.asarray(fake, jnp.float32)
  d_loss = minimax_discriminator_loss(r32, f32)
  np.testing.assert_allclose(d_loss, -_log_sigmoid(real) - _log_sigmoid(-fake), rtol=1e-6, atol=1e-30)
  np.testing.assert_allclose(minimax_generator_loss(f32), _log_sigmoid(-fake), rtol=1e-6, atol=1e-30)
  np.testing.assert_allclose(non_saturating_generator_loss(f32), -_log_sigmoid(fake), rtol=1e-6, atol=1e-30)
  g_real, g_fake = jax.grad(lambda a, b: minimax_discriminator_loss(a, b).sum(), argnums=(0, 1))(r32, f32)
  # d/dr softplus(-r) = -sigmoid(-r); d/df softplus(f) = sigmoid(f).
  np.testing.assert_allclose(g_real, -scipy.special.expit(-real), atol=1e-7)
  np.testing.assert_allclose(g_fake, scipy.special.expit(fake), atol=1e-7)
  for fn in (minimax_generator_loss, non_saturating_generator_loss):
    g = jax.grad(lambda f: fn(f).sum())(f32)
    assert np.all(np.isfinite(g))


def test_non_saturating_keeps_gradient_where_minimax_saturates():
  # D confidently rejects the fakes (logit -1e4): log(1 - D) is flat, -log D is not.
  g_minimax = jax.grad(minimax_generator_loss)(jnp.float32(-1e4))
  g_ns = jax.grad(non_saturating_generator_loss)(jnp.float32(-1e4))
  assert float(g_minimax) == 0.0
  assert float(g_ns) == -1.0


def test_minimax_loss_shape_mismatch_raises():
  with pytest.raises(ValueError, match="same shape"):
    minimax_discriminator_loss(jnp.zeros(3), jnp.zeros(4))


# ----------------------------------------------------------------------------- D* (Prop. 1)


def test_optimal_discriminator_matches_ratio_and_handles_zero_densities():
  p_data = np.array([0.3, 0.5, 0.0, 0.0, 1e-30, 0.2])
  p_g = np.array([0.1, 0.0, 0.4, 0.0, 1e-30, 0.6])
  d = optimal_discriminator(jnp.asarray(_log(p_data)), jnp.asarray(_log(p_g)))
  with np.errstate(invalid="ignore"):
    expected = p_data / (p_data + p_g)
  expected[3] = 0.5  # documented convention where both densities are 0
  np.testing.assert_allclose(d, expected, rtol=1e-6)
  logit = optimal_discriminator_logit(jnp.asarray(_log(p_data)), jnp.asarray(_log(p_g)))
  assert float(logit[1]) == np.inf and float(logit[2]) == -np.inf and float(logit[3]) == 0.0


def test_optimal_discriminator_finite_gradients_with_zero_densities():
  lp = jnp.asarray(_log(np.array([0.3, 0.5, 0.0, 0.0])), jnp.float32)
  lg = jnp.asarray(_log(np.array([0.1, 0.0, 0.4, 0.0])), jnp.float32)
  g_data, g_g = jax.grad(lambda a, b: optimal_discriminator(a, b).sum(), argnums=(0, 1))(lp, lg)
  assert np.all(np.isfinite(g_data)) and np.all(np.isfinite(g_g))
  # dD*/dlog p_data = D*(1 - D*): 0.75 * 0.25 at the first point.
  np.testing.assert_allclose(g_data[0], 0.1875, rtol=1e-5)
  np.testing.assert_allclose(g_g[0], -0.1875, rtol=1e-5)


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.sampled_from([0.0, 0.3, 0.6]))
def test_theorem1_value_at_optimal_discriminator(seed, zero_frac):
  """V(G, D*) = -log 4 + 2 JSD(p_data || p_g) to 1e-6 (float64)."""
  rng = np.random.default_rng(seed)
  p_data = _random_distribution(rng, 12, zero_frac)
  p_g = _random_distribution(rng, 12, zero_frac)
  jsd = scipy.spatial.distance.jensenshannon(p_data, p_g) ** 2
  with jax.enable_x64(True):
    lp, lg = jnp.asarray(_log(p_data)), jnp.asarray(_log(p_g))
    value = float(gan_value_from_densities(lp, lg, optimal_discriminator_logit(lp, lg)))
  assert abs(value - (-math.log(4.0) + 2.0 * jsd)) < 1e-6


def test_theorem1_global_minimum_and_disjoint_supports():
  p = np.array([0.1, 0.2, 0.3, 0.4])
  lp = jnp.asarray(np.log(p))
  # p_g = p_data: V = -log 4, the global minimum of C(G).
  np.testing.assert_allclose(
      gan_value_from_densities(lp, lp, optimal_discriminator_logit(lp, lp)), -math.log(4.0), rtol=1e-6
  )
  # Disjoint supports: JSD = log 2, V(G, D*) = 0 (D* = 1 on data, 0 on fakes).
  ld = jnp.asarray(_log(np.array([0.5, 0.5, 0.0, 0.0])))
  lg = jnp.asarray(_log(np.array([0.0, 0.0, 0.5, 0.5])))
  assert float(gan_value_from_densities(ld, lg, optimal_discriminator_logit(ld, lg))) == 0.0


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.floats(1e-3, 3.0))
def test_optimal_discriminator_beats_every_perturbed_discriminator(seed, scale):
  rng = np.random.default_rng(seed)
  p_data = _random_distribution(rng, 10, 0.2)
  p_g = _random_distribution(rng, 10, 0.2)
  with jax.enable_x64(True):
    lp, lg = jnp.asarray(_log(p_data)), jnp.asarray(_log(p_g))
    d_star = optimal_discriminator_logit(lp, lg)
    best = float(gan_value_from_densities(lp, lg, d_star))
    # Perturb only where D matters (some mass present); inf logits stay inf.
    delta = jnp.asarray(rng.normal(scale=scale, size=10))
    perturbed = float(gan_value_from_densities(lp, lg, d_star + delta))
  assert perturbed <= best + 1e-12


def test_gan_value_from_densities_matches_numpy():
  rng = np.random.default_rng(2)
  p_data = _random_distribution(rng, 8, 0.3)
  p_g = _random_distribution(rng, 8, 0.3)
  logits = rng.normal(size=8)
  d = scipy.special.expit(logits)
  expected = np.sum(p_data * np.log(d) + p_g * np.log(1.0 - d))
  got = gan_value_from_densities(
      jnp.asarray(_log(p_data), jnp.float32), jnp.asarray(_log(p_g), jnp.float32), jnp.asarray(logits, jnp.float32)
  )
  np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_gan_value_from_densities_finite_gradients_at_optimum():
  lp = jnp.asarray(_log(np.array([0.5, 0.5, 0.0, 0.0])), jnp.float32)
  lg = jnp.asarray(_log(np.array([0.0, 0.5, 0.5, 0.0])), jnp.float32)
  grads = jax.grad(gan_value_from_densities, argnums=(0, 1, 2))(lp, lg, optimal_discriminator_logit(lp, lg))
  for g in grads:
    assert np.all(np.isfinite(g))
  # At D*, dV/dlogit = p_data (1 - D) - p_g D = 0 everywhere.
  np.testing.assert_allclose(grads[2], np.zeros(4), atol=1e-7)


def test_gan_value_from_samples():
  rng = np.random.default_rng(3)
  real, fake = rng.normal(size=7), rng.normal(size=11)
  expected = np.mean(_log_sigmoid(real)) + np.mean(_log_sigmoid(-fake))
  got = gan_value_from_samples(jnp.asarray(real, jnp.float32), jnp.asarray(fake, jnp.float32))
  np.testing.assert_allclose(got, expected, rtol=1e-5)
  # Paired samples: V = -mean(minimax discriminator loss).
  r, f = jnp.asarray(real[:7], jnp.float32), jnp.asarray(fake[:7], jnp.float32)
  np.testing.assert_allclose(
      gan_value_from_samples(r, f), -jnp.mean(minimax_discriminator_loss(r, f)), rtol=1e-6
  )


def test_gan_value_from_samples_converges_to_theorem1():
  # Samples from two discrete distributions with D* logits: the sample mean approaches -log 4 + 2 JSD.
  rng = np.random.default_rng(4)
  p_data = np.array([0.4, 0.3, 0.2, 0.1, 0.0])
  p_g = np.array([0.0, 0.1, 0.2, 0.3, 0.4])
  logit = np.asarray(optimal_discriminator_logit(jnp.asarray(_log(p_data)), jnp.asarray(_log(p_g))))
  x_real = rng.choice(5, size=200_000, p=p_data)
  x_fake = rng.choice(5, size=200_000, p=p_g)
  value = float(gan_value_from_samples(jnp.asarray(logit[x_real]), jnp.asarray(logit[x_fake])))
  jsd = scipy.spatial.distance.jensenshannon(p_data, p_g) ** 2
  assert abs(value - (-math.log(4.0) + 2.0 * jsd)) < 0.01


def test_check_grads():
  rng = np.random.default_rng(5)
  with jax.enable_x64(True):
    real, fake = (jnp.asarray(rng.normal(size=4)) for _ in range(2))
    check_grads(minimax_discriminator_loss, (real, fake), order=1, modes=("rev",))
    check_grads(minimax_generator_loss, (fake,), order=1, modes=("rev",))
    check_grads(non_saturating_generator_loss, (fake,), order=1, modes=("rev",))
    lp = jnp.log(jnp.asarray(rng.dirichlet(np.ones(4))))
    lg = jnp.log(jnp.asarray(rng.dirichlet(np.ones(4))))
    check_grads(optimal_discriminator, (lp, lg), order=1, modes=("rev",))
    check_grads(jax.jit(gan_value_from_densities), (lp, lg, real), order=1, modes=("rev",))
    check_grads(gan_value_from_samples, (real, fake), order=1, modes=("rev",))


# ----------------------------------------------------------------------------- hinge / Wasserstein


def test_hinge_and_wasserstein_match_numpy():
  rng = np.random.default_rng(6)
  real, fake = rng.normal(scale=2.0, size=(2, 9))
  r, f = jnp.asarray(real, jnp.float32), jnp.asarray(fake, jnp.float32)
  np.testing.assert_allclose(
      hinge_discriminator_loss(r, f), np.maximum(0, 1 - real) + np.maximum(0, 1 + fake), rtol=1e-6
  )
  np.testing.assert_allclose(hinge_generator_loss(f), -fake, rtol=1e-6)
  np.testing.assert_allclose(wasserstein_discriminator_loss(r, f), fake - real, rtol=1e-5)
  np.testing.assert_allclose(wasserstein_generator_loss(f), -fake, rtol=1e-6)
  with pytest.raises(ValueError, match="same shape"):
    hinge_discriminator_loss(jnp.zeros(2), jnp.zeros(3))


# ----------------------------------------------------------------------------- jit / vmap

_PAIRED = [
    minimax_discriminator_loss,
    optimal_discriminator,
    optimal_discriminator_logit,
    gan_value_from_samples,
    hinge_discriminator_loss,
    wasserstein_discriminator_loss,
]
_SINGLE = [
    minimax_generator_loss,
    non_saturating_generator_loss,
    hinge_generator_loss,
    wasserstein_generator_loss,
]


@pytest.mark.parametrize("fn", _PAIRED + _SINGLE + [gan_value_from_densities], ids=lambda f: f.__name__)
def test_jit_and_vmap(fn):
  rng = np.random.default_rng(7)
  n_args = 1 if fn in _SINGLE else 3 if fn is gan_value_from_densities else 2
  args = [jnp.asarray(rng.normal(size=(4, 5)), jnp.float32) for _ in range(n_args)]
  if fn is gan_value_from_densities:
    args[0] = jax.nn.log_softmax(args[0])
    args[1] = jax.nn.log_softmax(args[1])
  eager = fn(*args)
  chex.assert_trees_all_close(jax.jit(fn)(*args), eager, rtol=1e-6)
  chex.assert_trees_all_close(jax.vmap(fn)(*args), eager, rtol=1e-6)


# ----------------------------------------------------------------------------- refused input


def _one_line_error(fn, *args, **kwargs):
  """The ValueError message of fn(*args, **kwargs), asserted to be one line."""
  with pytest.raises(ValueError) as info:
    fn(*args, **kwargs)
  message = str(info.value)
  assert "\n" not in message and message
  return message


_ARG_NAMES = {
    optimal_discriminator: ("log_p_data", "log_p_g"),
    optimal_discriminator_logit: ("log_p_data", "log_p_g"),
    gan_value_from_densities: ("log_p_data", "log_p_g", "logits"),
}


@pytest.mark.parametrize("dtype", [jnp.int32, jnp.uint8, jnp.bool_], ids=["int32", "uint8", "bool"])
@pytest.mark.parametrize("fn", _PAIRED + _SINGLE + [gan_value_from_densities], ids=lambda f: f.__name__)
def test_non_float_inputs_are_refused_in_one_line(fn, dtype):
  names = _ARG_NAMES.get(fn, ("fake_logits",) if fn in _SINGLE else ("real_logits", "fake_logits"))
  for i, name in enumerate(names):
    args = [jnp.zeros(5) for _ in names]
    args[i] = jnp.zeros(5, dtype)
    for f in (fn, jax.jit(fn)):
      message = _one_line_error(f, *args)
      assert message.startswith(f"{fn.__name__}: {name} has ")
      assert f"dtype {jnp.dtype(dtype).name}: pass float" in message
      if dtype != jnp.bool_:
        assert "integer dtype" in message


# ----------------------------------------------------------------------------- least squares (Mao et al. 2017)


@pytest.mark.parametrize("a,b,c", [(0.0, 1.0, 1.0), (-1.0, 1.0, 0.0), (0.3, 2.5, -0.7)])
def test_least_squares_losses_match_numpy(a, b, c):
  rng = np.random.default_rng(10)
  real, fake = rng.normal(scale=2.0, size=(2, 4, 6))
  r, f = jnp.asarray(real, jnp.float32), jnp.asarray(fake, jnp.float32)
  d_loss = least_squares_discriminator_loss(r, f, a=a, b=b)
  chex.assert_shape(d_loss, (4, 6))
  np.testing.assert_allclose(d_loss, 0.5 * (real - b) ** 2 + 0.5 * (fake - a) ** 2, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(least_squares_generator_loss(f, c=c), 0.5 * (fake - c) ** 2, rtol=1e-5, atol=1e-6)


def test_least_squares_defaults_match_the_cyclegan_mse_up_to_constant_factors():
  # CycleGAN (GANLoss 'lsgan'): D minimizes 0.5 * (MSE(D(y), 1) + MSE(D(G(x)), 0)), G minimizes MSE(D(G(x)), 1).
  rng = np.random.default_rng(11)
  real, fake = rng.normal(size=(2, 32))
  r, f = jnp.asarray(real, jnp.float32), jnp.asarray(fake, jnp.float32)
  cyclegan_d = 0.5 * (np.mean((real - 1.0) ** 2) + np.mean(fake**2))
  cyclegan_g = np.mean((fake - 1.0) ** 2)
  np.testing.assert_allclose(jnp.mean(least_squares_discriminator_loss(r, f)), cyclegan_d, rtol=1e-5)
  np.testing.assert_allclose(2.0 * jnp.mean(least_squares_generator_loss(f)), cyclegan_g, rtol=1e-5)


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.floats(-3.0, 3.0), st.floats(-3.0, 3.0), st.floats(-3.0, 3.0))
def test_least_squares_nonnegative_and_zero_at_targets(seed, a, b, c):
  rng = np.random.default_rng(seed)
  real, fake = (jnp.asarray(rng.normal(scale=5.0, size=8), jnp.float32) for _ in range(2))
  assert np.all(least_squares_discriminator_loss(real, fake, a=a, b=b) >= 0)
  assert np.all(least_squares_generator_loss(fake, c=c) >= 0)
  full = functools.partial(jnp.full, 8, dtype=jnp.float32)
  np.testing.assert_array_equal(least_squares_discriminator_loss(full(b), full(a), a=a, b=b), np.zeros(8))
  np.testing.assert_array_equal(least_squares_generator_loss(full(c), c=c), np.zeros(8))


def test_least_squares_gradients():
  rng = np.random.default_rng(12)
  real, fake = rng.normal(size=(2, 5))
  r, f = jnp.asarray(real, jnp.float32), jnp.asarray(fake, jnp.float32)
  g_real, g_fake = jax.grad(
      lambda x, y: least_squares_discriminator_loss(x, y, a=-1.0, b=1.0).sum(), argnums=(0, 1)
  )(r, f)
  np.testing.assert_allclose(g_real, real - 1.0, rtol=1e-5)
  np.testing.assert_allclose(g_fake, fake + 1.0, rtol=1e-5)
  np.testing.assert_allclose(jax.grad(lambda y: least_squares_generator_loss(y, c=0.5).sum())(f), fake - 0.5, rtol=1e-5)
  with jax.enable_x64(True):
    r64, f64 = jnp.asarray(real), jnp.asarray(fake)
    check_grads(functools.partial(least_squares_discriminator_loss, a=0.2, b=0.9), (r64, f64), order=2, modes=("rev",))
    check_grads(functools.partial(least_squares_generator_loss, c=0.4), (f64,), order=2, modes=("rev",))


# ----------------------------------------------------------------------------- relativistic average (RaSGAN)


def _np_relativistic_d(real, fake, axis):
  """-log sigmoid(C(r_i) - mean C(f)) - log(1 - sigmoid(C(f_i) - mean C(r))), stable in float64."""
  mean_r = np.mean(real, axis=axis, keepdims=True)
  mean_f = np.mean(fake, axis=axis, keepdims=True)
  # -log sigmoid(u) = log(1 + exp(-u)); -log(1 - sigmoid(v)) = log(1 + exp(v)).
  return np.logaddexp(0.0, -(real - mean_f)) + np.logaddexp(0.0, fake - mean_r)


@pytest.mark.parametrize("axis", [-1, 0, (0, 1), None], ids=str)
def test_relativistic_average_losses_match_numpy(axis):
  rng = np.random.default_rng(13)
  real, fake = rng.normal(scale=2.0, size=(2, 3, 7))
  r, f = jnp.asarray(real, jnp.float32), jnp.asarray(fake, jnp.float32)
  d_loss = relativistic_average_discriminator_loss(r, f, axis=axis)
  g_loss = relativistic_average_generator_loss(r, f, axis=axis)
  chex.assert_shape((d_loss, g_loss), (3, 7))
  # A plain probability form, written separately from the softplus one.
  np_axis = axis if axis is None or isinstance(axis, int) else tuple(axis)
  d_real = scipy.special.expit(real - fake.mean(axis=np_axis, keepdims=True))
  d_fake = scipy.special.expit(fake - real.mean(axis=np_axis, keepdims=True))
  np.testing.assert_allclose(d_loss, -np.log(d_real) - np.log(1.0 - d_fake), rtol=1e-5)
  np.testing.assert_allclose(g_loss, -np.log(d_fake) - np.log(1.0 - d_real), rtol=1e-5)


def test_relativistic_average_losses_at_extreme_logits():
  real = np.array([1e4, -1e4, 50.0, 0.0, -3.0, 1e4])
  fake = np.array([-1e4, 1e4, -50.0, 3.0, 1e4, -2e4])
  r, f = jnp.asarray(real, jnp.float32), jnp.asarray(fake, jnp.float32)
  np.testing.assert_allclose(relativistic_average_discriminator_loss(r, f), _np_relativistic_d(real, fake, -1),
                             rtol=1e-6)
  np.testing.assert_allclose(relativistic_average_generator_loss(r, f), _np_relativistic_d(fake, real, -1),
                             rtol=1e-6)
  for fn in (relativistic_average_discriminator_loss, relativistic_average_generator_loss):
    grads = jax.grad(lambda x, y: jnp.mean(fn(x, y)), argnums=(0, 1))(r, f)
    for g in grads:
      assert np.all(np.isfinite(g))
  # Saturated fakes (C(f) - mean C(r) = -2e4): the generator's gradient still does not vanish.
  g_fake = jax.grad(lambda y: jnp.mean(relativistic_average_generator_loss(r, y)))(f)
  assert np.any(np.abs(g_fake) > 0.1)


def test_relativistic_average_reduces_to_standard_when_means_are_zero():
  rng = np.random.default_rng(14)
  real, fake = rng.normal(scale=2.0, size=(2, 9))
  real, fake = real - real.mean(), fake - fake.mean()
  r, f = jnp.asarray(real, jnp.float32), jnp.asarray(fake, jnp.float32)
  np.testing.assert_allclose(relativistic_average_discriminator_loss(r, f), minimax_discriminator_loss(r, f),
                             rtol=1e-5, atol=1e-6)
  # G: -log D(G(z)) - log(1 - D(x)) with the standard D = sigmoid(C).
  np.testing.assert_allclose(
      relativistic_average_generator_loss(r, f),
      non_saturating_generator_loss(f) - minimax_generator_loss(r), rtol=1e-5, atol=1e-6,
  )


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.floats(-20.0, 20.0))
def test_relativistic_average_generator_is_discriminator_swapped_and_shift_invariant(seed, shift):
  rng = np.random.default_rng(seed)
  real, fake = (jnp.asarray(rng.normal(scale=3.0, size=(2, 6)), jnp.float32) for _ in range(2))
  g_loss = relativistic_average_generator_loss(real, fake)
  np.testing.assert_array_equal(g_loss, relativistic_average_discriminator_loss(fake, real))
  assert np.all(g_loss >= 0)
  # Only differences of critic values enter: adding a constant to C changes nothing.
  np.testing.assert_allclose(relativistic_average_generator_loss(real + shift, fake + shift), g_loss,
                             rtol=1e-4, atol=1e-4)


def test_relativistic_average_check_grads():
  rng = np.random.default_rng(15)
  with jax.enable_x64(True):
    real, fake = (jnp.asarray(rng.normal(scale=2.0, size=(3, 4))) for _ in range(2))
    for fn in (relativistic_average_discriminator_loss, relativistic_average_generator_loss):
      check_grads(fn, (real, fake), order=2, modes=("rev",))
      check_grads(functools.partial(fn, axis=0), (real, fake), order=1, modes=("rev",))


_NEW_PAIRED = [
    least_squares_discriminator_loss,
    relativistic_average_discriminator_loss,
    relativistic_average_generator_loss,
]


@pytest.mark.parametrize("fn", _NEW_PAIRED + [least_squares_generator_loss], ids=lambda f: f.__name__)
def test_new_losses_jit_and_vmap(fn):
  rng = np.random.default_rng(16)
  args = [jnp.asarray(rng.normal(size=(4, 5)), jnp.float32) for _ in range(2 if fn in _NEW_PAIRED else 1)]
  eager = fn(*args)
  chex.assert_trees_all_close(jax.jit(fn)(*args), eager, rtol=1e-6)
  chex.assert_trees_all_close(jax.vmap(fn)(*args), eager, rtol=1e-6)


@pytest.mark.parametrize("dtype", [jnp.int32, jnp.uint8, jnp.bool_], ids=["int32", "uint8", "bool"])
@pytest.mark.parametrize("fn", _NEW_PAIRED + [least_squares_generator_loss], ids=lambda f: f.__name__)
def test_new_losses_refuse_non_float_inputs_in_one_line(fn, dtype):
  names = ("real_logits", "fake_logits") if fn in _NEW_PAIRED else ("fake_logits",)
  for i, name in enumerate(names):
    args = [jnp.zeros(5) for _ in names]
    args[i] = jnp.zeros(5, dtype)
    for f in (fn, jax.jit(fn)):
      message = _one_line_error(f, *args)
      assert message.startswith(f"{fn.__name__}: {name} has ")
      assert f"dtype {jnp.dtype(dtype).name}: pass float" in message


@pytest.mark.parametrize("fn", _NEW_PAIRED, ids=lambda f: f.__name__)
def test_new_paired_losses_refuse_mismatched_shapes(fn):
  message = _one_line_error(fn, jnp.zeros((2, 3)), jnp.zeros((2, 4)))
  assert message.startswith(f"{fn.__name__}: real_logits (2, 3) and fake_logits (2, 4) must have the same shape")


@pytest.mark.parametrize("fn", [relativistic_average_discriminator_loss, relativistic_average_generator_loss],
                         ids=lambda f: f.__name__)
def test_relativistic_average_refuses_bad_axis(fn):
  assert "out of range" in _one_line_error(fn, jnp.zeros((2, 3)), jnp.zeros((2, 3)), axis=2)
  assert "out of range" in _one_line_error(fn, jnp.zeros(()), jnp.zeros(()))
