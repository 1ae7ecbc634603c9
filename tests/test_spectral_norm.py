"""jaxgen.nn.SpectralNorm: sigma against the SVD, the raw parameter untouched, u as a BatchStat, gradients."""

import doctest

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import jaxgen.nn
import jaxgen.nn._spectral
from jaxgen.nn import SpectralNorm, spectral_norm_estimate

# name -> (layer factory, input)
LAYERS = {
    "linear": (lambda rngs: nnx.Linear(6, 5, rngs=rngs), jnp.ones((2, 6))),
    "conv": (lambda rngs: nnx.Conv(3, 8, (3, 3), rngs=rngs), jnp.ones((2, 5, 5, 3))),
    "jaxgen_conv": (lambda rngs: jaxgen.nn.Conv(16, 8, (4, 4), (2, 2), impl="cpu_fast", rngs=rngs),
                    jnp.ones((2, 8, 8, 16))),
    "conv_transpose": (lambda rngs: nnx.ConvTranspose(8, 4, (4, 4), (2, 2), rngs=rngs), jnp.ones((2, 4, 4, 8))),
    "jaxgen_conv_transpose": (lambda rngs: jaxgen.nn.ConvTranspose(8, 4, (4, 4), (2, 2), impl="cpu_fast", rngs=rngs),
                              jnp.ones((2, 4, 4, 8))),
    "embed": (lambda rngs: nnx.Embed(10, 6, rngs=rngs), jnp.arange(4)),
}


def _make(name, **kwargs):
  factory, x = LAYERS[name]
  return SpectralNorm(factory(nnx.Rngs(0)), rngs=nnx.Rngs(1), **kwargs), x


def _raw_weight(sn):
  return getattr(sn.layer, sn.param_name)[...]


def _top_singular_value(weight):
  weight = np.asarray(weight, np.float64)
  return np.linalg.svd(weight.reshape(-1, weight.shape[-1]), compute_uv=False)[0]


@pytest.mark.parametrize("name", LAYERS)
def test_sigma_converges_to_the_top_singular_value(name):
  sn, x = _make(name)
  for _ in range(100):
    sn(x, update_stats=True)
  np.testing.assert_allclose(sn.sigma(), _top_singular_value(_raw_weight(sn)), rtol=1e-4)
  # The weight the layer is called with has top singular value 1.
  np.testing.assert_allclose(_top_singular_value(_raw_weight(sn) / sn.sigma()), 1.0, rtol=1e-4)


@pytest.mark.parametrize("name", ["linear", "conv", "embed"])
def test_many_steps_in_one_call_converge(name):
  sn, x = _make(name, n_steps=50)
  u0 = sn.u[...]
  np.testing.assert_allclose(sn.sigma(), _top_singular_value(_raw_weight(sn)), rtol=1e-4)
  sn(x, update_stats=False)
  np.testing.assert_array_equal(sn.u[...], u0)


def test_default_param_names():
  assert _make("linear")[0].param_name == "kernel"
  assert _make("conv_transpose")[0].param_name == "kernel"
  assert _make("embed")[0].param_name == "embedding"


def test_linear_output_is_the_layer_with_normalised_weight():
  sn, x = _make("linear")
  x = jax.random.normal(jax.random.key(2), (3, 6))
  sigma = sn.sigma()
  y = sn(x, update_stats=False)
  expected = x @ (sn.layer.kernel[...] / sigma) + sn.layer.bias[...][None, :]
  np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-6)


def test_embed_output_is_rows_of_the_normalised_table():
  sn, _ = _make("embed")
  ids = jnp.array([0, 3, 9])
  y = sn(ids, update_stats=False)
  np.testing.assert_allclose(y, sn.layer.embedding[...][ids] / sn.sigma(), rtol=1e-6)


@pytest.mark.parametrize("name", LAYERS)
def test_raw_param_unchanged_eagerly(name):
  sn, x = _make(name)
  w0 = _raw_weight(sn)
  y1 = sn(x, update_stats=False)
  np.testing.assert_array_equal(_raw_weight(sn), w0)
  # A layer called twice is normalised from the same W both times (nnx.SpectralNorm would divide twice).
  y2 = sn(x, update_stats=False)
  np.testing.assert_array_equal(y1, y2)
  sn(x, update_stats=True)
  np.testing.assert_array_equal(_raw_weight(sn), w0)


def test_raw_param_restored_when_the_layer_raises():
  sn, _ = _make("linear")
  w0 = _raw_weight(sn)
  with pytest.raises(Exception):
    sn(jnp.ones((2, 7)), update_stats=True)  # wrong feature count
  np.testing.assert_array_equal(_raw_weight(sn), w0)


def test_update_stats_false_leaves_u_and_true_moves_it():
  sn, x = _make("conv")
  u0 = sn.u[...]
  sn(x, update_stats=False)
  np.testing.assert_array_equal(sn.u[...], u0)
  sn(x, update_stats=True)
  assert not np.allclose(sn.u[...], u0)
  np.testing.assert_allclose(jnp.linalg.norm(sn.u[...]), 1.0, rtol=1e-5)


def test_state_layout_u_is_a_batch_stat():
  sn, _ = _make("conv")
  params = nnx.state(sn, nnx.Param)
  stats = nnx.state(sn, nnx.BatchStat)
  assert {path for path, _ in nnx.to_flat_state(params)} == {("layer", "kernel"), ("layer", "bias")}
  assert {path for path, _ in nnx.to_flat_state(stats)} == {("u",)}
  assert stats["u"][...].shape == (8,)
  np.testing.assert_allclose(jnp.linalg.norm(stats["u"][...]), 1.0, rtol=1e-5)


@pytest.mark.parametrize("update_stats", [True, False])
@pytest.mark.parametrize("name", ["linear", "jaxgen_conv", "embed"])
def test_functional_jit_step(name, update_stats):
  sn, x = _make(name)
  graphdef, params, rest = nnx.split(sn, nnx.Param, ...)

  @jax.jit
  def step(params, rest, x):
    model = nnx.merge(graphdef, params, rest)
    y = model(x, update_stats=update_stats)
    _, new_params, new_rest = nnx.split(model, nnx.Param, ...)
    return y, new_params, new_rest

  y, new_params, new_rest = step(params, rest, x)
  jax.tree.map(np.testing.assert_array_equal, new_params, params)
  if update_stats:
    assert not np.allclose(new_rest["u"][...], rest["u"][...])
  else:
    np.testing.assert_array_equal(new_rest["u"][...], rest["u"][...])
  # Same result as the eager call from the same state (a copy: merge shares the state's Variables).
  eager = nnx.clone(nnx.merge(graphdef, params, rest))
  np.testing.assert_allclose(y, eager(x, update_stats=update_stats), rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(new_rest["u"][...], eager.u[...], rtol=1e-5, atol=1e-6)

  # Iterating the jitted step converges like the eager calls.
  for _ in range(100):
    _, params, rest = step(params, rest, x)
  if update_stats:
    model = nnx.merge(graphdef, params, rest)
    np.testing.assert_allclose(model.sigma(), _top_singular_value(_raw_weight(model)), rtol=1e-4)


def _power_iteration_by_hand(w, u, n_steps):
  """Miyato et al. Algorithm 1 on the matrix w (rows, out), u of length out; returns the (u, v) to divide by."""
  for _ in range(n_steps):
    v = w @ u
    v = v / jnp.sqrt(jnp.sum(v**2) + 1e-12)
    u = w.T @ v
    u = u / jnp.sqrt(jnp.sum(u**2) + 1e-12)
  return jax.lax.stop_gradient(u), jax.lax.stop_gradient(v)


def test_gradient_matches_a_hand_written_linear():
  sn, _ = _make("linear", n_steps=2)
  x = jax.random.normal(jax.random.key(3), (4, 6))
  target = jax.random.normal(jax.random.key(4), (4, 5))
  u0 = sn.u[...]
  graphdef, params, rest = nnx.split(sn, nnx.Param, ...)

  def loss_module(params, rest):
    # As jaxgen.train's step does: fresh Variables at this trace level (copy=True), the new u as aux.
    model = nnx.merge(graphdef, params, rest, copy=True)
    y = model(x, update_stats=True)
    return jnp.sum((y - target) ** 2), nnx.state(model, nnx.BatchStat)

  def loss_by_hand(kernel, bias, stop_sigma=False):
    u, v = _power_iteration_by_hand(kernel, u0, 2)
    sigma = v @ kernel @ u
    if stop_sigma:
      sigma = jax.lax.stop_gradient(sigma)
    return jnp.sum((x @ (kernel / sigma) + bias[None, :] - target) ** 2)

  grads, new_stats = jax.jit(jax.grad(loss_module, has_aux=True))(params, rest)
  assert not np.allclose(new_stats["u"][...], u0)
  np.testing.assert_array_equal(rest["u"][...], u0)
  kernel, bias = params["layer"]["kernel"][...], params["layer"]["bias"][...]
  g_kernel, g_bias = jax.grad(loss_by_hand, argnums=(0, 1))(kernel, bias)
  np.testing.assert_allclose(grads["layer"]["kernel"][...], g_kernel, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(grads["layer"]["bias"][...], g_bias, rtol=1e-5, atol=1e-6)
  # The check can fail: dropping sigma's dependence on W changes the gradient.
  g_stopped = jax.grad(loss_by_hand)(kernel, bias, stop_sigma=True)
  assert not np.allclose(g_stopped, g_kernel, rtol=1e-3, atol=1e-4)


def test_gradient_matches_a_hand_written_conv():
  sn, _ = _make("jaxgen_conv")
  x = jax.random.normal(jax.random.key(5), (2, 8, 8, 16))
  u0 = sn.u[...]
  graphdef, params, rest = nnx.split(sn, nnx.Param, ...)

  def loss_module(params):
    y = nnx.merge(graphdef, params, rest, copy=True)(x, update_stats=False)
    return jnp.sum(jnp.tanh(y))

  def loss_by_hand(kernel, bias):
    w = kernel.reshape(-1, kernel.shape[-1])
    u, v = _power_iteration_by_hand(w, u0, 1)
    sigma = v @ w @ u
    y = jax.lax.conv_general_dilated(x, kernel / sigma, (2, 2), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return jnp.sum(jnp.tanh(y + bias[None, None, None, :]))

  grads = jax.grad(loss_module)(params)
  kernel, bias = params["layer"]["kernel"][...], params["layer"]["bias"][...]
  g_kernel, g_bias = jax.grad(loss_by_hand, argnums=(0, 1))(kernel, bias)
  np.testing.assert_allclose(grads["layer"]["kernel"][...], g_kernel, rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(grads["layer"]["bias"][...], g_bias, rtol=1e-4, atol=1e-5)


def test_matches_flax_spectral_norm_on_a_first_call():
  sn, x = _make("conv")
  flax_sn = nnx.SpectralNorm(nnx.clone(sn.layer), rngs=nnx.Rngs(7))
  flax_sn.batch_stats[("kernel", "u")][...] = sn.u[...][None, :]
  y_flax = flax_sn(x, update_stats=True)
  y = sn(x, update_stats=True)
  np.testing.assert_allclose(y, y_flax, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(sn.u[...], flax_sn.batch_stats[("kernel", "u")][...][0], rtol=1e-5, atol=1e-7)


def test_spectral_norm_estimate_of_a_known_matrix():
  w = jnp.array([[3.0, 0.0], [0.0, -2.0], [0.0, 0.0]])
  sigma, u = spectral_norm_estimate(w, jnp.array([0.6, 0.8]), n_steps=40)
  np.testing.assert_allclose(sigma, 3.0, rtol=1e-5)
  np.testing.assert_allclose(jnp.abs(u), [1.0, 0.0], atol=1e-4)


def test_zero_weight_gives_a_finite_output_and_gradient():
  layer = nnx.Linear(3, 2, kernel_init=nnx.initializers.zeros, rngs=nnx.Rngs(0))
  sn = SpectralNorm(layer, rngs=nnx.Rngs(1))
  graphdef, params, rest = nnx.split(sn, nnx.Param, ...)

  def loss(params, rest):
    return jnp.sum(nnx.merge(graphdef, params, rest, copy=True)(jnp.ones((1, 3)), update_stats=True))

  grads = jax.grad(loss)(params, rest)
  assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grads))
  # u survives a zero weight, so the estimate recovers once the weight moves.
  u0 = sn.u[...]
  np.testing.assert_array_equal(sn(jnp.ones((1, 3)), update_stats=True), jnp.zeros((1, 2)))
  np.testing.assert_array_equal(sn.u[...], u0)
  sn.layer.kernel[...] = jax.random.normal(jax.random.key(0), (3, 2))
  for _ in range(50):
    sn(jnp.ones((1, 3)), update_stats=True)
  np.testing.assert_allclose(sn.sigma(), _top_singular_value(sn.layer.kernel[...]), rtol=1e-4)


def test_user_errors_are_one_line():
  with pytest.raises(ValueError, match="Did you mean 'kernel'") as info:
    SpectralNorm(nnx.Linear(3, 2, rngs=nnx.Rngs(0)), param_name="kernal", rngs=nnx.Rngs(1))
  assert "\n" not in str(info.value)
  with pytest.raises(ValueError, match="n_steps"):
    SpectralNorm(nnx.Linear(3, 2, rngs=nnx.Rngs(0)), n_steps=0, rngs=nnx.Rngs(1))
  with pytest.raises(ValueError, match=">= 2 axes"):
    SpectralNorm(nnx.Linear(3, 2, rngs=nnx.Rngs(0)), param_name="bias", rngs=nnx.Rngs(1))


def test_docstring_examples():
  result = doctest.testmod(jaxgen.nn._spectral, optionflags=doctest.NORMALIZE_WHITESPACE)
  assert result.attempted > 0
  assert result.failed == 0
