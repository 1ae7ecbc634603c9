"""Tests for the input-gradient penalties: WGAN-GP (Gulrajani et al. 2017), R1 and R2 (Mescheder et al. 2018)."""

import doctest
import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax.test_util import check_grads

import jaxgen.losses._penalties
from jaxgen.losses import gradient_penalty, r1_penalty, r2_penalty
from jaxgen.losses._penalties import _interpolate

SHAPE = (5, 3, 4)  # (B, H, W): the norm runs over all non-batch axes


def _np_quadratic_critic(w, x):
  """sum over non-batch axes of w * x^2, one value per example (float64 numpy)."""
  return np.sum(w * x**2, axis=(1, 2))


def _np_input_gradient_fd(critic, x, h=1e-5):
  """Central finite differences of critic(x)_i w.r.t. x_i, one coordinate at a time (float64)."""
  grad = np.zeros_like(x)
  for index in np.ndindex(*x.shape[1:]):
    step = np.zeros_like(x)
    step[(slice(None),) + index] = h
    grad[(slice(None),) + index] = (critic(x + step) - critic(x - step)) / (2 * h)
  return grad


def _np_norm(grad):
  return np.sqrt(np.sum(grad**2, axis=tuple(range(1, grad.ndim))))


def _mlp_params(rng, d_in, hidden):
  return {
      "w1": jnp.asarray(rng.normal(size=(d_in, hidden)) / np.sqrt(d_in)),
      "b1": jnp.asarray(rng.normal(size=hidden) * 0.1),
      "w2": jnp.asarray(rng.normal(size=hidden) / np.sqrt(hidden)),
      "b2": jnp.asarray(0.3),
  }


def _mlp_critic(params, x):
  """A small tanh MLP critic on flattened inputs: (B, ...) -> (B,)."""
  h = jnp.tanh(x.reshape(x.shape[0], -1) @ params["w1"] + params["b1"][None, :])
  return h @ params["w2"] + params["b2"]


# ----------------------------------------------------------------------------- gradient penalty (WGAN-GP)


@pytest.mark.parametrize("target", [1.0, 0.0, 2.5])
def test_gradient_penalty_matches_analytic_and_finite_difference_norm(target):
  rng = np.random.default_rng(0)
  w = rng.uniform(0.1, 1.0, size=SHAPE[1:])
  x = rng.normal(size=SHAPE)
  # real == fake: x_hat = x whatever eps is, so the reference needs no knowledge of the draw.
  analytic = _np_norm(2.0 * w * x)
  fd = _np_norm(_np_input_gradient_fd(functools.partial(_np_quadratic_critic, w), x))
  np.testing.assert_allclose(fd, analytic, rtol=1e-7)
  with jax.enable_x64(True):
    critic = lambda v: jnp.sum(jnp.asarray(w)[None] * v**2, axis=(1, 2))
    got = gradient_penalty(critic, jnp.asarray(x), jnp.asarray(x), jax.random.key(1), target=target)
  chex.assert_shape(got, (SHAPE[0],))
  np.testing.assert_allclose(got, (fd - target) ** 2, rtol=1e-7)


def test_gradient_penalty_at_interpolates_matches_finite_differences():
  rng = np.random.default_rng(1)
  w, v = rng.uniform(0.1, 1.0, size=(2, *SHAPE[1:]))
  real, fake = rng.normal(size=(2, *SHAPE))
  np_critic = lambda x: np.sum(w * x**2 + v * np.tanh(x), axis=(1, 2))
  key = jax.random.key(2)
  with jax.enable_x64(True):
    critic = lambda x: jnp.sum(jnp.asarray(w)[None] * x**2 + jnp.asarray(v)[None] * jnp.tanh(x), axis=(1, 2))
    got = gradient_penalty(critic, jnp.asarray(real), jnp.asarray(fake), key)
    _, eps = _interpolate(jnp.asarray(real), jnp.asarray(fake), key)
  eps = np.asarray(eps)[:, None, None]
  x_hat = eps * real + (1.0 - eps) * fake
  np.testing.assert_allclose(got, (_np_norm(_np_input_gradient_fd(np_critic, x_hat)) - 1.0) ** 2, rtol=1e-7)


def test_interpolation_coefficient_is_uniform_per_example():
  # Between fake = 0 and real = 1 with critic 1/2 ||x||^2, grad = x_hat = eps everywhere: the penalty
  # with target 0 is eps^2 * (number of entries), so eps can be read back from the public function.
  size = int(np.prod(SHAPE[1:]))
  critic = lambda x: 0.5 * jnp.sum(x**2, axis=(1, 2))
  real, fake = jnp.ones((64, *SHAPE[1:])), jnp.zeros((64, *SHAPE[1:]))
  eps = np.sqrt(np.asarray(gradient_penalty(critic, real, fake, jax.random.key(3), target=0.0)) / size)
  assert np.all((eps >= 0) & (eps <= 1))
  assert len(np.unique(eps)) == 64  # one draw per example
  assert 0.3 < eps.mean() < 0.7 and eps.min() < 0.2 and eps.max() > 0.8
  same = gradient_penalty(critic, real, fake, jax.random.key(3), target=0.0)
  other = gradient_penalty(critic, real, fake, jax.random.key(4), target=0.0)
  np.testing.assert_allclose(same, eps**2 * size, rtol=1e-6)
  assert not np.allclose(other, same)


def test_interpolate_broadcasts_one_eps_over_the_non_batch_axes():
  rng = np.random.default_rng(4)
  real, fake = (jnp.asarray(rng.normal(size=(6, 2, 3, 4)), jnp.float32) for _ in range(2))
  x_hat, eps = _interpolate(real, fake, jax.random.key(5))
  chex.assert_shape(eps, (6,))
  assert np.all((np.asarray(eps) >= 0) & (np.asarray(eps) <= 1))
  ratio = np.asarray((x_hat - fake) / (real - fake))
  np.testing.assert_allclose(ratio, np.broadcast_to(np.asarray(eps)[:, None, None, None], ratio.shape), rtol=1e-4)


def test_one_sided_penalty():
  rng = np.random.default_rng(6)
  x = jnp.asarray(rng.normal(size=(8, 3)), jnp.float32)
  scales = jnp.asarray([0.05, 0.1, 0.2, 0.3, 2.0, 3.0, 4.0, 5.0], jnp.float32)
  # critic(x)_i = s_i <u, x_i> with ||u|| = 1: the gradient norm of example i is s_i (4 below 1, 4 above).
  u = jnp.asarray([0.6, 0.8, 0.0], jnp.float32)
  critic = lambda v: scales * (v @ u)
  key = jax.random.key(7)
  one = gradient_penalty(critic, x, -x, key, one_sided=True)
  two = gradient_penalty(critic, x, -x, key)
  np.testing.assert_array_equal(one[:4], np.zeros(4))
  np.testing.assert_allclose(one[4:], two[4:], rtol=1e-6)
  np.testing.assert_allclose(two, (np.asarray(scales) - 1.0) ** 2, rtol=1e-5)
  np.testing.assert_allclose(gradient_penalty(critic, x, x, key, target=0.2, one_sided=True)[:3], [0.0, 0.0, 0.0])


def test_gradient_penalty_finite_where_the_input_gradient_is_zero():
  # critic = sum(w x^2) at x = 0: grad_x = 0 for every w, the norm's derivative would be 0 * inf = nan.
  w = jnp.full(SHAPE[1:], 0.5)
  zeros = jnp.zeros(SHAPE)
  loss = lambda w, real, fake: jnp.mean(
      gradient_penalty(lambda x: jnp.sum(w[None] * x**2, axis=(1, 2)), real, fake, jax.random.key(8))
  )
  np.testing.assert_allclose(loss(w, zeros, zeros), 1.0)
  grads = jax.grad(loss, argnums=(0, 1, 2))(w, zeros, zeros)
  for g in grads:
    np.testing.assert_array_equal(g, np.zeros_like(g))
  # A constant critic has a zero input gradient everywhere.
  const = lambda b: jnp.mean(gradient_penalty(lambda x: b * jnp.ones(x.shape[0]), zeros, zeros, jax.random.key(0)))
  assert float(jax.grad(const)(2.0)) == 0.0


def test_penalties_are_per_example():
  rng = np.random.default_rng(9)
  params = _mlp_params(rng, 12, 7)
  critic = functools.partial(_mlp_critic, params)
  x = jnp.asarray(rng.normal(size=SHAPE))
  with jax.enable_x64(True):
    x = jnp.asarray(np.asarray(x), jnp.float64)
    batch_gp = gradient_penalty(critic, x, x, jax.random.key(0))  # real == fake: no dependence on eps
    batch_r1 = r1_penalty(critic, x)
    for i in range(SHAPE[0]):
      xi = x[i : i + 1]
      np.testing.assert_allclose(batch_gp[i], gradient_penalty(critic, xi, xi, jax.random.key(1))[0], rtol=1e-12)
      np.testing.assert_allclose(batch_r1[i], r1_penalty(critic, xi)[0], rtol=1e-12)


# ----------------------------------------------------------------------------- R1 / R2


def test_r1_and_r2_of_a_linear_critic_are_squared_weight_norms():
  rng = np.random.default_rng(10)
  w = jnp.asarray(rng.normal(size=SHAPE[1:]), jnp.float32)
  critic = lambda x: jnp.sum(w[None] * x, axis=(1, 2)) + 1.5
  expected = np.full(SHAPE[0], np.sum(np.asarray(w, np.float64) ** 2))
  x = jnp.asarray(rng.normal(size=SHAPE), jnp.float32)
  np.testing.assert_allclose(r1_penalty(critic, x), expected, rtol=1e-5)
  np.testing.assert_allclose(r2_penalty(critic, 3.0 * x), expected, rtol=1e-5)


def test_r1_and_r2_match_finite_differences():
  rng = np.random.default_rng(11)
  w, v = rng.uniform(0.1, 1.0, size=(2, *SHAPE[1:]))
  real, fake = rng.normal(size=(2, *SHAPE))
  np_critic = lambda x: np.sum(w * x**2 + v * np.tanh(x), axis=(1, 2))
  with jax.enable_x64(True):
    critic = lambda x: jnp.sum(jnp.asarray(w)[None] * x**2 + jnp.asarray(v)[None] * jnp.tanh(x), axis=(1, 2))
    r1 = r1_penalty(critic, jnp.asarray(real))
    r2 = r2_penalty(critic, jnp.asarray(fake))
  np.testing.assert_allclose(r1, _np_norm(_np_input_gradient_fd(np_critic, real)) ** 2, rtol=1e-7)
  np.testing.assert_allclose(r2, _np_norm(_np_input_gradient_fd(np_critic, fake)) ** 2, rtol=1e-7)


# ----------------------------------------------------------------------------- second order, jit, nnx


def _mean_penalties(params, real, fake, key):
  critic = functools.partial(_mlp_critic, params)
  return (
      jnp.mean(gradient_penalty(critic, real, fake, key)),
      jnp.mean(gradient_penalty(critic, real, fake, key, target=0.5, one_sided=True)),
      jnp.mean(r1_penalty(critic, real)),
      jnp.mean(r2_penalty(critic, fake)),
  )


@pytest.mark.parametrize("which", ["gp", "gp_one_sided", "r1", "r2"])
def test_parameter_gradient_matches_finite_differences(which):
  """The penalties are differentiated again w.r.t. the critic's parameters (double backprop)."""
  index = ["gp", "gp_one_sided", "r1", "r2"].index(which)
  rng = np.random.default_rng(12)
  with jax.enable_x64(True):
    params = _mlp_params(rng, 12, 6)
    real, fake = (jnp.asarray(rng.normal(size=SHAPE)) for _ in range(2))
    loss = lambda p: _mean_penalties(p, real, fake, jax.random.key(13))[index]
    grads = jax.grad(loss)(params)
    for g in jax.tree.leaves(grads):
      assert np.all(np.isfinite(g))
    check_grads(loss, (params,), order=1, modes=("rev",))
    # And an explicit central difference along one random direction.
    direction = jax.tree.map(lambda p: jnp.asarray(rng.normal(size=p.shape)), params)
    h = 1e-6
    shifted = lambda s: loss(jax.tree.map(lambda p, d: p + s * d, params, direction))
    fd = (shifted(h) - shifted(-h)) / (2 * h)
    directional = sum(jnp.sum(g * d) for g, d in zip(jax.tree.leaves(grads), jax.tree.leaves(direction)))
    np.testing.assert_allclose(directional, fd, rtol=1e-6)


def test_penalties_under_jit_match_eager():
  rng = np.random.default_rng(14)
  params = jax.tree.map(lambda p: p.astype(jnp.float32), _mlp_params(rng, 12, 6))
  real, fake = (jnp.asarray(rng.normal(size=SHAPE), jnp.float32) for _ in range(2))
  key = jax.random.key(15)
  eager = _mean_penalties(params, real, fake, key)
  chex.assert_trees_all_close(jax.jit(_mean_penalties)(params, real, fake, key), eager, rtol=1e-5)
  grad_fn = jax.jit(jax.grad(lambda p, r, f, k: sum(_mean_penalties(p, r, f, k))))
  chex.assert_trees_all_close(grad_fn(params, real, fake, key),
                              jax.grad(lambda p: sum(_mean_penalties(p, real, fake, key)))(params), rtol=1e-4)


class _NNXCritic(nnx.Module):

  def __init__(self, d_in: int, hidden: int, *, rngs: nnx.Rngs):
    self.hidden = nnx.Linear(d_in, hidden, rngs=rngs)
    self.out = nnx.Linear(hidden, 1, rngs=rngs)

  def __call__(self, x):
    return self.out(nnx.tanh(self.hidden(x.reshape(x.shape[0], -1))))[:, 0]


def test_penalties_with_an_nnx_critic_in_a_jitted_train_step():
  model = _NNXCritic(12, 8, rngs=nnx.Rngs(0))
  graphdef, params = nnx.split(model, nnx.Param)
  rng = np.random.default_rng(16)
  real, fake = (jnp.asarray(rng.normal(size=SHAPE), jnp.float32) for _ in range(2))

  @jax.jit
  def loss_fn(params, real, fake, key):
    critic = nnx.merge(graphdef, params)
    wasserstein = jnp.mean(critic(fake) - critic(real))
    return wasserstein + 10.0 * jnp.mean(gradient_penalty(critic, real, fake, key)) + jnp.mean(
        r1_penalty(critic, real)
    )

  loss, grads = jax.value_and_grad(loss_fn)(params, real, fake, jax.random.key(17))
  assert np.isfinite(float(loss))
  leaves = jax.tree.leaves(grads)
  assert leaves and all(np.all(np.isfinite(g)) for g in leaves)
  assert any(np.any(np.asarray(g) != 0) for g in leaves)


def test_low_precision_inputs():
  x = jnp.asarray(np.random.default_rng(18).normal(size=(4, 3)), jnp.bfloat16)
  w = jnp.asarray([1.0, 2.0, 2.0], jnp.bfloat16)  # ||w|| = 3
  got = gradient_penalty(lambda v: v @ w, x, -x, jax.random.key(19))
  assert got.dtype == jnp.bfloat16
  np.testing.assert_allclose(np.asarray(got, np.float32), np.full(4, 4.0), rtol=1e-2)


# ----------------------------------------------------------------------------- refused input


def _one_line_error(fn, *args, **kwargs):
  with pytest.raises(ValueError) as info:
    fn(*args, **kwargs)
  message = str(info.value)
  assert "\n" not in message and message
  return message


_CRITIC = lambda x: jnp.sum(x, axis=tuple(range(1, x.ndim)))


def _call(fn, x, other=None, critic=_CRITIC, jit=False):
  if jit:
    return jax.jit(lambda *a: _call(fn, *a, critic=critic))(x, *(() if other is None else (other,)))
  if fn is gradient_penalty:
    return fn(critic, x, x if other is None else other, jax.random.key(0))
  return fn(critic, x)


_FNS = [gradient_penalty, r1_penalty, r2_penalty]
_FIRST_INPUT = {gradient_penalty: "real", r1_penalty: "real", r2_penalty: "fake"}


@pytest.mark.parametrize("dtype", [jnp.int32, jnp.uint8, jnp.bool_], ids=["int32", "uint8", "bool"])
@pytest.mark.parametrize("fn", _FNS, ids=lambda f: f.__name__)
def test_non_float_inputs_are_refused_in_one_line(fn, dtype):
  for jit in (False, True):
    message = _one_line_error(lambda x: _call(fn, x, jit=jit), jnp.zeros((3, 2), dtype))
    assert message.startswith(f"{fn.__name__}: {_FIRST_INPUT[fn]} has ")
    assert f"dtype {jnp.dtype(dtype).name}: pass float" in message
  if fn is gradient_penalty:
    message = _one_line_error(lambda x: _call(fn, x, jnp.zeros((3, 2), dtype)), jnp.zeros((3, 2)))
    assert message.startswith("gradient_penalty: fake has ")


def test_gradient_penalty_refuses_mismatched_shapes():
  message = _one_line_error(lambda: _call(gradient_penalty, jnp.zeros((4, 3)), jnp.zeros((4, 2))))
  assert message == "gradient_penalty: real (4, 3) and fake (4, 2) must have the same shape."


@pytest.mark.parametrize("fn", _FNS, ids=lambda f: f.__name__)
def test_bad_batches_and_critics_are_refused_in_one_line(fn):
  assert "pass a batch of examples" in _one_line_error(lambda: _call(fn, jnp.zeros(())))
  x = jnp.zeros((4, 3))
  name = "critic" if fn is gradient_penalty else "discriminator"
  message = _one_line_error(lambda: _call(fn, x, critic=lambda v: v @ jnp.ones((3, 1))))
  assert message.startswith(f"{fn.__name__}: {name} returned shape (4, 1) for inputs of shape (4, 3)")
  assert "shape (4,)" in message
  message = _one_line_error(lambda: _call(fn, x, critic=lambda v: (_CRITIC(v), None)))
  assert message.startswith(f"{fn.__name__}: {name} returned a tuple")
  message = _one_line_error(lambda: _call(fn, x, critic=lambda v: jnp.sum(v > 0, axis=1)))
  assert message.startswith(f"{fn.__name__}: {name}(x) has integer dtype")
  # Under jit the checks run at trace time, with the same message.
  message = _one_line_error(lambda: _call(fn, x, critic=lambda u: u @ jnp.ones((3, 1)), jit=True))
  assert f"{name} returned shape (4, 1)" in message


def test_docstring_examples():
  result = doctest.testmod(jaxgen.losses._penalties, optionflags=doctest.NORMALIZE_WHITESPACE)
  assert result.attempted > 0 and result.failed == 0
