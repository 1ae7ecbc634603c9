"""Tests for jaxgen.losses divergences against independent numpy/scipy references."""

import math

import chex
import hypothesis.extra.numpy as hnp
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate
import scipy.spatial.distance
import scipy.special
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads

from jaxgen.losses import gaussian_kl, js_divergence, kl_divergence, monte_carlo_kl

LOG_2 = math.log(2.0)
SETTINGS = settings(max_examples=30, deadline=None, derandomize=True)
K = 6


@st.composite
def distributions(draw, k=K, allow_zeros=True):
  """A probability vector of length k (float64); with allow_zeros, some entries exactly 0."""
  w = draw(hnp.arrays(np.float64, k, elements=st.floats(0.0 if allow_zeros else 1e-3, 1.0)))
  if allow_zeros:
    zero = draw(hnp.arrays(np.bool_, k))
    w = np.where(zero, 0.0, w)
  if w.sum() <= 1e-6:
    w = w.copy()
    w[draw(st.integers(0, k - 1))] = 1.0
  return w / w.sum()


def _log(p):
  with np.errstate(divide="ignore"):
    return np.log(p)


def _rng_distribution(rng, k, zero_frac=0.3):
  w = rng.dirichlet(np.full(k, 0.7))
  w = np.where(rng.random(k) < zero_frac, 0.0, w)
  if w.sum() == 0:
    w[rng.integers(k)] = 1.0
  return w / w.sum()


# ----------------------------------------------------------------------------- kl_divergence


def test_kl_matches_scipy_rel_entr():
  rng = np.random.default_rng(0)
  p = np.stack([_rng_distribution(rng, 10) for _ in range(4)])
  q = np.stack([_rng_distribution(rng, 10, zero_frac=0.0) for _ in range(4)])
  expected = scipy.special.rel_entr(p, q).sum(-1)
  got = kl_divergence(jnp.asarray(_log(p), jnp.float32), jnp.asarray(_log(q), jnp.float32))
  chex.assert_shape(got, (4,))
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_kl_argument_order_is_p_then_q():
  p = np.array([0.9, 0.1])
  q = np.array([0.5, 0.5])
  got = kl_divergence(jnp.log(p), jnp.log(q))
  np.testing.assert_allclose(got, scipy.stats.entropy(p, q), rtol=1e-6)
  assert abs(float(got) - scipy.stats.entropy(q, p)) > 1e-2  # KL(Q||P) differs


def test_kl_axis_tuple_and_none():
  rng = np.random.default_rng(1)
  p = rng.dirichlet(np.ones(12)).reshape(3, 4)
  q = rng.dirichlet(np.ones(12)).reshape(3, 4)
  expected = scipy.special.rel_entr(p, q).sum()
  lp, lq = jnp.log(jnp.asarray(p, jnp.float32)), jnp.log(jnp.asarray(q, jnp.float32))
  np.testing.assert_allclose(kl_divergence(lp, lq, axis=(0, 1)), expected, rtol=1e-5)
  np.testing.assert_allclose(kl_divergence(lp, lq, axis=None), expected, rtol=1e-5)
  np.testing.assert_allclose(
      kl_divergence(lp, lq, axis=0), scipy.special.rel_entr(p, q).sum(0), rtol=1e-5, atol=1e-6
  )


@SETTINGS
@given(distributions(), distributions())
def test_kl_nonnegative(p, q):
  kl = float(kl_divergence(jnp.asarray(_log(p), jnp.float32), jnp.asarray(_log(q), jnp.float32)))
  assert kl >= -1e-6 or math.isinf(kl)
  assert not math.isnan(kl)


@SETTINGS
@given(distributions())
def test_kl_of_p_with_itself_is_zero(p):
  lp = jnp.asarray(_log(p), jnp.float32)
  assert float(kl_divergence(lp, lp)) == 0.0


def test_kl_zero_mass_terms_are_zero_with_finite_gradients():
  log_p = jnp.log(jnp.array([0.5, 0.5, 0.0]))
  log_q = jnp.log(jnp.array([0.25, 0.25, 0.5]))
  np.testing.assert_allclose(kl_divergence(log_p, log_q), LOG_2, rtol=1e-6)
  g_p, g_q = jax.grad(kl_divergence, argnums=(0, 1))(log_p, log_q)
  assert np.all(np.isfinite(g_p)) and np.all(np.isfinite(g_q))
  # d/d log p_i [p_i (log p_i - log q_i)] = p_i (log p_i - log q_i + 1); d/d log q_i = -p_i.
  p = np.array([0.5, 0.5, 0.0])
  np.testing.assert_allclose(g_p, p * (np.log(2.0) + 1.0), rtol=1e-6)
  np.testing.assert_allclose(g_q, -p, rtol=1e-6)
  # Both P and Q zero at a point, and log-probabilities that underflow to zero mass.
  both = jnp.array([0.0, -jnp.inf, -1e4])
  assert float(kl_divergence(both, jnp.array([0.0, -jnp.inf, -jnp.inf]))) == 0.0
  g = jax.grad(kl_divergence)(both, jnp.array([0.0, -jnp.inf, -jnp.inf]))
  assert np.all(np.isfinite(g))


def test_kl_is_inf_where_q_is_zero_but_p_is_not():
  assert float(kl_divergence(jnp.log(jnp.array([0.5, 0.5])), jnp.log(jnp.array([1.0, 0.0])))) == np.inf


def test_kl_check_grads():
  rng = np.random.default_rng(2)
  with jax.enable_x64(True):
    lp = jnp.log(jnp.asarray(rng.dirichlet(np.ones(5))))
    lq = jnp.log(jnp.asarray(rng.dirichlet(np.ones(5))))
    check_grads(jax.jit(kl_divergence), (lp, lq), order=1, modes=("rev",))


# ----------------------------------------------------------------------------- js_divergence


def _jsd_ref(p, q):
  m = 0.5 * (p + q)
  return 0.5 * scipy.special.rel_entr(p, m).sum(-1) + 0.5 * scipy.special.rel_entr(q, m).sum(-1)


def test_jsd_matches_scipy():
  rng = np.random.default_rng(3)
  for _ in range(5):
    p, q = _rng_distribution(rng, 8), _rng_distribution(rng, 8)
    # scipy's jensenshannon is sqrt(JSD) with natural log by default.
    expected = scipy.spatial.distance.jensenshannon(p, q) ** 2
    np.testing.assert_allclose(_jsd_ref(p, q), expected, rtol=1e-10, atol=1e-12)
    got = js_divergence(jnp.asarray(_log(p), jnp.float32), jnp.asarray(_log(q), jnp.float32))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@SETTINGS
@given(distributions(), distributions())
def test_jsd_symmetric_and_bounded(p, q):
  lp, lq = jnp.asarray(_log(p), jnp.float32), jnp.asarray(_log(q), jnp.float32)
  pq = float(js_divergence(lp, lq))
  qp = float(js_divergence(lq, lp))
  assert pq == qp
  assert -1e-6 <= pq <= LOG_2 + 1e-6
  np.testing.assert_allclose(pq, _jsd_ref(p, q), atol=2e-6)


@SETTINGS
@given(distributions(k=8, allow_zeros=False), st.integers(1, 7))
def test_jsd_is_log2_for_disjoint_supports(w, split):
  p = np.where(np.arange(8) < split, w, 0.0)
  q = np.where(np.arange(8) >= split, w, 0.0)
  p, q = p / p.sum(), q / q.sum()
  got = js_divergence(jnp.asarray(_log(p), jnp.float32), jnp.asarray(_log(q), jnp.float32))
  np.testing.assert_allclose(got, LOG_2, rtol=1e-6)


def test_jsd_of_p_with_itself_is_zero():
  lp = jnp.log(jnp.array([0.2, 0.3, 0.5, 0.0]))
  assert float(js_divergence(lp, lp)) == 0.0


def test_jsd_finite_gradients_with_zeros():
  lp = jnp.log(jnp.array([0.5, 0.5, 0.0, 0.0]))
  lq = jnp.log(jnp.array([0.0, 0.5, 0.5, 0.0]))
  g_p, g_q = jax.grad(js_divergence, argnums=(0, 1))(lp, lq)
  assert np.all(np.isfinite(g_p)) and np.all(np.isfinite(g_q))
  assert float(g_p[3]) == 0.0 and float(g_q[3]) == 0.0


def test_jsd_check_grads():
  rng = np.random.default_rng(4)
  with jax.enable_x64(True):
    lp = jnp.log(jnp.asarray(rng.dirichlet(np.ones(5))))
    lq = jnp.log(jnp.asarray(rng.dirichlet(np.ones(5))))
    check_grads(jax.jit(js_divergence), (lp, lq), order=1, modes=("rev",))


# ----------------------------------------------------------------------------- gaussian_kl


def _gaussian_kl_ref(mq, lvq, mp, lvp):
  """The chapter's eq. 33 per coordinate, written with standard deviations."""
  sq, sp = np.exp(0.5 * lvq), np.exp(0.5 * lvp)
  return np.log(sp / sq) - 0.5 + (sq**2 + (mq - mp) ** 2) / (2.0 * sp**2)


def test_gaussian_kl_standard_prior_is_eq36():
  rng = np.random.default_rng(5)
  mean = rng.normal(size=(3, 4))
  logvar = rng.normal(size=(3, 4))
  expected = -0.5 * np.sum(logvar + 1.0 - np.exp(logvar) - mean**2, axis=-1)
  got = gaussian_kl(jnp.asarray(mean, jnp.float32), jnp.asarray(logvar, jnp.float32))
  chex.assert_shape(got, (3,))
  np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_gaussian_kl_general_prior_matches_eq33_and_quadrature():
  mq, lvq, mp, lvp = 0.7, -0.4, -0.3, 0.6
  got = float(gaussian_kl(jnp.array([mq]), jnp.array([lvq]), jnp.array([mp]), jnp.array([lvp])))
  np.testing.assert_allclose(got, _gaussian_kl_ref(mq, lvq, mp, lvp), rtol=1e-5)
  q = scipy.stats.norm(mq, math.exp(0.5 * lvq))
  p = scipy.stats.norm(mp, math.exp(0.5 * lvp))
  integral, _ = scipy.integrate.quad(lambda x: q.pdf(x) * (q.logpdf(x) - p.logpdf(x)), -30, 30)
  np.testing.assert_allclose(got, integral, rtol=1e-5)


def test_gaussian_kl_accurate_near_prior():
  # The naive float32 form exp(d) - 1 - d cancels to noise for small d.
  for d in [1e-1, 1e-2, 1e-3, 1e-4, -1e-4, 1e-6]:
    got = float(gaussian_kl(jnp.array([0.0], jnp.float32), jnp.array([d], jnp.float32)))
    d32 = float(np.float32(d))
    expected = 0.5 * (math.expm1(d32) - d32)
    np.testing.assert_allclose(got, expected, rtol=1e-5)
  assert float(gaussian_kl(jnp.zeros(3), jnp.zeros(3))) == 0.0


def test_gaussian_kl_extreme_logvar_finite():
  logvar = jnp.array([-30.0, 30.0, 80.0])
  kl = gaussian_kl(jnp.zeros(3), logvar)
  assert np.isfinite(float(kl))
  g = jax.grad(lambda lv: gaussian_kl(jnp.zeros(3), lv))(logvar)
  np.testing.assert_allclose(g, 0.5 * np.expm1(np.array([-30.0, 30.0, 80.0])), rtol=1e-5)


@SETTINGS
@given(
    st.floats(-2.0, 2.0), st.floats(-1.0, 1.0), st.floats(-2.0, 2.0), st.floats(-1.0, 1.0)
)
def test_gaussian_kl_equals_discretized_kl(mq, lvq, mp, lvp):
  with jax.enable_x64(True):
    x = np.linspace(-20.0, 20.0, 40001)
    log_q = scipy.stats.norm.logpdf(x, mq, math.exp(0.5 * lvq))
    log_p = scipy.stats.norm.logpdf(x, mp, math.exp(0.5 * lvp))
    # Normalize the masses on the grid in log space.
    log_q -= scipy.special.logsumexp(log_q)
    log_p -= scipy.special.logsumexp(log_p)
    discrete = kl_divergence(jnp.asarray(log_q), jnp.asarray(log_p))
    analytic = gaussian_kl(jnp.array([mq]), jnp.array([lvq]), jnp.array([mp]), jnp.array([lvp]))
    np.testing.assert_allclose(discrete, analytic, rtol=1e-6, atol=1e-8)


@SETTINGS
@given(
    st.floats(-2.0, 2.0), st.floats(-1.0, 1.0), st.floats(-2.0, 2.0), st.floats(-1.0, 1.0)
)
def test_gaussian_kl_matches_monte_carlo_within_4_standard_errors(mq, lvq, mp, lvp):
  seed = abs(hash((mq, lvq, mp, lvp))) % 2**32
  x = np.random.default_rng(seed).normal(mq, math.exp(0.5 * lvq), size=20000)
  log_q = scipy.stats.norm.logpdf(x, mq, math.exp(0.5 * lvq))
  log_p = scipy.stats.norm.logpdf(x, mp, math.exp(0.5 * lvp))
  est, se = monte_carlo_kl(jnp.asarray(log_q, jnp.float32), jnp.asarray(log_p, jnp.float32))
  analytic = float(gaussian_kl(jnp.array([mq]), jnp.array([lvq]), jnp.array([mp]), jnp.array([lvp])))
  assert abs(float(est) - analytic) <= 4.0 * float(se) + 1e-6


def test_gaussian_kl_check_grads():
  rng = np.random.default_rng(6)
  with jax.enable_x64(True):
    args = tuple(jnp.asarray(rng.normal(size=4)) for _ in range(4))
    check_grads(jax.jit(gaussian_kl), args, order=1, modes=("rev",))
    # Across the switch between the series and expm1 (|d| = 0.5) and near d = 0.
    near = (jnp.zeros(4), jnp.array([0.49, 0.51, -1e-3, 1e-8]))
    # Second order too: the Taylor branch must also have the right curvature.
    check_grads(jax.jit(gaussian_kl), near, order=2, modes=("rev",))


def test_gaussian_kl_shape_mismatch_raises():
  with pytest.raises(ValueError, match="same shape"):
    gaussian_kl(jnp.zeros(3), jnp.zeros(4))


# ----------------------------------------------------------------------------- monte_carlo_kl


def test_monte_carlo_kl_is_mean_and_standard_error():
  rng = np.random.default_rng(7)
  lp, lq = rng.normal(size=(3, 50)), rng.normal(size=(3, 50))
  r = lp - lq
  est, se = monte_carlo_kl(jnp.asarray(lp, jnp.float32), jnp.asarray(lq, jnp.float32))
  np.testing.assert_allclose(est, r.mean(-1), rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(se, scipy.stats.sem(r, axis=-1), rtol=1e-5)
  est0, se0 = monte_carlo_kl(jnp.asarray(lp.T), jnp.asarray(lq.T), axis=0)
  np.testing.assert_allclose(est0, est, rtol=1e-6)
  np.testing.assert_allclose(se0, se, rtol=1e-6)


def test_monte_carlo_kl_bad_input_raises():
  with pytest.raises(ValueError, match="same shape"):
    monte_carlo_kl(jnp.zeros(3), jnp.zeros(4))
  with pytest.raises(ValueError, match="at least 2"):
    monte_carlo_kl(jnp.zeros(1), jnp.zeros(1))


# ----------------------------------------------------------------------------- jit / vmap


def _batch(rng, n, k):
  return jnp.log(jnp.asarray(rng.dirichlet(np.ones(k), size=n), jnp.float32))


@pytest.mark.parametrize(
    "fn", [kl_divergence, js_divergence, gaussian_kl, monte_carlo_kl], ids=lambda f: f.__name__
)
def test_jit_and_vmap(fn):
  rng = np.random.default_rng(8)
  a, b = _batch(rng, 4, 5), _batch(rng, 4, 5)
  eager = fn(a, b)
  chex.assert_trees_all_close(jax.jit(fn)(a, b), eager, rtol=1e-6)
  chex.assert_trees_all_close(jax.vmap(fn)(a, b), eager, rtol=1e-6)


# ----------------------------------------------------------------------------- refused input


def _one_line_error(fn, *args, **kwargs):
  """The ValueError message of fn(*args, **kwargs), asserted to be one line."""
  with pytest.raises(ValueError) as info:
    fn(*args, **kwargs)
  message = str(info.value)
  assert "\n" not in message and message
  return message


_UNIFORM = jnp.log(jnp.full((3, 4), 0.25))


@pytest.mark.parametrize("fn", [kl_divergence, js_divergence], ids=lambda f: f.__name__)
def test_kl_and_js_shape_mismatch_is_named(fn):
  message = _one_line_error(fn, _UNIFORM, _UNIFORM[:, :3])
  assert message == f"{fn.__name__}: log_p (3, 4) and log_q (3, 3) must have the same shape."
  # Transposed inputs would otherwise broadcast or fail deep inside jnp.
  assert "must have the same shape" in _one_line_error(fn, _UNIFORM, _UNIFORM.T)


@pytest.mark.parametrize("fn", [kl_divergence, js_divergence], ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    "axis, expected",
    [
        (2, "axis 2 is out of range for log_p of shape (3, 4); pass axes in [-2, 1] or None."),
        (-3, "axis -3 is out of range"),
        ((0, 2), "axis (0, 2) is out of range"),
        ((1, -1), "axis (1, -1) names an axis of log_p (3, 4) twice."),
        (1.0, "axis 1.0 must be None, an int or a sequence of ints."),
        (True, "must be None, an int or a sequence of ints"),
        ("0", "must be None, an int or a sequence of ints"),
    ],
)
def test_kl_and_js_invalid_axis_is_named(fn, axis, expected):
  message = _one_line_error(fn, _UNIFORM, _UNIFORM, axis=axis)
  assert message.startswith(f"{fn.__name__}: ") and expected in message


@pytest.mark.parametrize("fn", [kl_divergence, js_divergence], ids=lambda f: f.__name__)
def test_kl_and_js_scalar_needs_axis_none(fn):
  assert "pass axis=None" in _one_line_error(fn, jnp.float32(0.0), jnp.float32(0.0))
  assert fn(jnp.float32(0.0), jnp.float32(0.0), axis=None) == 0.0


@pytest.mark.parametrize("fn", [kl_divergence, js_divergence], ids=lambda f: f.__name__)
def test_kl_and_js_every_valid_axis_form_still_works(fn):
  rng = np.random.default_rng(12)
  p, q = _batch(rng, 3, 4), _batch(rng, 3, 4)
  chex.assert_trees_all_equal(fn(p.T, q.T, axis=np.int64(0)), fn(p, q, axis=-1))
  chex.assert_trees_all_equal(fn(p, q, axis=[0, 1]), fn(p, q, axis=(0, 1)), fn(p, q, axis=None))
  chex.assert_shape(fn(p, q, axis=()), (3, 4))


@pytest.mark.parametrize(
    "call, expected",
    [
        (lambda: kl_divergence(jnp.zeros(3, jnp.int32), jnp.zeros(3)),
         "kl_divergence: log_p has integer dtype int32: pass float log-probabilities"),
        (lambda: kl_divergence(jnp.zeros(3), jnp.zeros(3, jnp.int32)), "log_q has integer dtype int32"),
        (lambda: js_divergence(jnp.zeros(3, jnp.uint8), jnp.zeros(3)), "js_divergence: log_p has integer dtype uint8"),
        (lambda: js_divergence(jnp.zeros(3), jnp.zeros(3, bool)), "log_q has dtype bool"),
        (lambda: gaussian_kl(jnp.zeros(3, jnp.int32), jnp.zeros(3)), "gaussian_kl: mean has integer dtype int32"),
        (lambda: gaussian_kl(jnp.zeros(3), jnp.zeros(3, jnp.int32)), "logvar has integer dtype int32"),
        (lambda: gaussian_kl(jnp.zeros(3), jnp.zeros(3), np.zeros(3, np.int64)), "prior_mean has integer dtype"),
        (lambda: gaussian_kl(jnp.zeros(3), jnp.zeros(3), 0.0, np.zeros(3, np.int64)), "prior_logvar has integer dtype"),
        (lambda: monte_carlo_kl(jnp.zeros(3, jnp.int32), jnp.zeros(3)), "log_p_samples has integer dtype int32"),
        (lambda: monte_carlo_kl(jnp.zeros(3), jnp.zeros(3, jnp.int32)), "log_q_samples has integer dtype int32"),
    ],
)
def test_integer_arrays_are_refused_in_one_line(call, expected):
  assert expected in _one_line_error(call)


def test_integer_inputs_are_refused_under_jit():
  assert "log_p has integer dtype int32" in _one_line_error(jax.jit(kl_divergence), jnp.zeros(3, jnp.int32), jnp.zeros(3))


def test_gaussian_kl_python_number_priors_are_still_welcome():
  mean, logvar = jnp.asarray([0.5, -1.0]), jnp.asarray([0.1, 0.2])
  chex.assert_trees_all_equal(gaussian_kl(mean, logvar, 1, 0), gaussian_kl(mean, logvar, 1.0, 0.0))
