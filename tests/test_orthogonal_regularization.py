"""Tests for BigGAN's orthogonal regularization (Brock et al. 2019, Section 3.1).

The references are written independently in float64 numpy on PyTorch's layout
(one row per output unit, ``param.view(param.shape[0], -1)`` as in
ajbrock/BigGAN-PyTorch ``utils.py`` ``ortho``), and the gradient against the
reference code's explicit update, strength * 2 ((W W^T) ⊙ (1 - I)) W.
"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxgen.losses import orthogonal_regularization, orthogonal_regularization_tree

BETA = 1e-4


def _torch_view(kernel):
  """A Flax kernel (..., in, out) as PyTorch's weight (out, in, ...) viewed as (out, -1), float64."""
  k = np.asarray(kernel, np.float64)
  torch_layout = np.moveaxis(k, (-1, -2), (0, 1))  # (kh, kw, in, out) -> (out, in, kh, kw)
  return torch_layout.reshape(torch_layout.shape[0], -1)


def _np_penalty(w_rows, beta):
  """(beta / 2) * sum of squared off-diagonal entries of W W^T, by explicit loops over row pairs."""
  n = w_rows.shape[0]
  total = 0.0
  for i in range(n):
    for j in range(n):
      if i != j:
        total += float(np.dot(w_rows[i], w_rows[j])) ** 2
  return 0.5 * beta * total


def _reference_update(w_rows, strength):
  """The gradient the reference code adds: strength * 2 * ((W W^T) * (1 - I)) @ W."""
  mask = 1.0 - np.eye(w_rows.shape[0])
  return strength * 2.0 * ((w_rows @ w_rows.T) * mask) @ w_rows


def _orthonormal_rows(rng, n_rows, n_cols):
  """n_rows orthonormal vectors of length n_cols (n_rows <= n_cols), from a QR decomposition."""
  assert n_rows <= n_cols
  q, _ = np.linalg.qr(rng.standard_normal((n_cols, n_rows)))
  return q.T


def _to_flax_kernel(w_rows, spatial=()):
  """W (out, in * prod(spatial)) in PyTorch order back to a Flax kernel (*spatial, in, out)."""
  out = w_rows.shape[0]
  n_in = w_rows.shape[1] // int(np.prod(spatial, dtype=int))
  torch_layout = w_rows.reshape((out, n_in) + tuple(spatial))
  return np.moveaxis(torch_layout, (0, 1), (-1, -2))


# (a) zero on orthogonal filters ------------------------------------------------------------------


@pytest.mark.parametrize("spatial", [(), (3, 3)], ids=["dense", "conv"])
def test_orthonormal_filters_give_zero(spatial):
  rng = np.random.default_rng(0)
  out, n_in = 4, 6  # at most fan_in orthogonal filters exist
  rows = _orthonormal_rows(rng, out, n_in * int(np.prod(spatial, dtype=int)))
  kernel = jnp.asarray(_to_flax_kernel(rows, spatial), jnp.float32)
  chex.assert_shape(kernel, tuple(spatial) + (n_in, out))
  np.testing.assert_allclose(orthogonal_regularization(kernel, beta=1.0), 0.0, atol=1e-10)


@pytest.mark.parametrize("spatial", [(), (3, 3)], ids=["dense", "conv"])
def test_orthogonal_filters_of_any_norm_give_zero(spatial):
  # The mask 1 - I drops the diagonal: only directions are penalized, not the filters' lengths.
  rng = np.random.default_rng(1)
  out, n_in = 5, 6
  rows = _orthonormal_rows(rng, out, n_in * int(np.prod(spatial, dtype=int)))
  rows = rows * np.array([0.1, 0.5, 2.0, 7.0, 30.0])[:, None]
  kernel = jnp.asarray(_to_flax_kernel(rows, spatial), jnp.float32)
  np.testing.assert_allclose(orthogonal_regularization(kernel, beta=1.0), 0.0, atol=1e-8)
  # The unmasked penalty ||W W^T - I||^2 of the older orthogonal regularization would not vanish.
  assert np.sum((rows @ rows.T - np.eye(out)) ** 2) > 1.0


# (b) value against an independent numpy computation ------------------------------------------------


@pytest.mark.parametrize("shape", [(7, 5), (3, 3, 4, 6), (1, 1, 8, 3), (4, 4, 2, 2)])
def test_value_matches_numpy_on_the_reference_layout(shape):
  kernel = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
  expected = _np_penalty(_torch_view(kernel), BETA)
  np.testing.assert_allclose(orthogonal_regularization(jnp.asarray(kernel), beta=BETA), expected, rtol=1e-5)


def test_beta_scales_linearly_and_default_is_1e_4():
  kernel = jnp.asarray(np.random.default_rng(3).standard_normal((5, 4)), jnp.float32)
  one = orthogonal_regularization(kernel, beta=1.0)
  np.testing.assert_allclose(orthogonal_regularization(kernel), 1e-4 * one, rtol=1e-6)
  np.testing.assert_allclose(orthogonal_regularization(kernel, beta=0.3), 0.3 * one, rtol=1e-6)


def test_embedding_table_with_rows_per_entry_matches_the_reference():
  # PyTorch's nn.Embedding weight is (num, features), like nnx.Embed's table: the reference's view
  # has one row per entry, which row_axis=0 reproduces; row_axis=-1 (rows per feature) differs.
  table = np.random.default_rng(4).standard_normal((10, 4)).astype(np.float32)
  expected = _np_penalty(table.astype(np.float64), 1.0)
  np.testing.assert_allclose(orthogonal_regularization(jnp.asarray(table), 1.0, row_axis=0), expected, rtol=1e-5)
  assert not np.isclose(float(orthogonal_regularization(jnp.asarray(table), 1.0)), expected, rtol=1e-2)


# (c) gradient = the reference code's added gradient ------------------------------------------------


@pytest.mark.parametrize("shape", [(7, 5), (3, 3, 4, 6), (5, 12)])
def test_gradient_equals_the_reference_update(shape):
  kernel = np.random.default_rng(5).standard_normal(shape)
  rows = _torch_view(kernel)
  update_rows = _reference_update(rows, BETA)
  # Back to the Flax layout: the same map that took the kernel to the rows, inverted.
  spatial = shape[:-2]
  expected = _to_flax_kernel(update_rows, spatial)
  grad = jax.grad(orthogonal_regularization)(jnp.asarray(kernel, jnp.float32), BETA)
  chex.assert_shape(grad, shape)
  np.testing.assert_allclose(grad, expected, rtol=1e-4, atol=1e-7 * np.abs(expected).max())


def test_gradient_for_an_embedding_table_equals_the_reference_update():
  table = np.random.default_rng(6).standard_normal((6, 3))
  grad = jax.grad(lambda w: orthogonal_regularization(w, BETA, row_axis=0))(jnp.asarray(table, jnp.float32))
  np.testing.assert_allclose(grad, _reference_update(table, BETA), rtol=1e-4)


def test_gradient_passes_check_grads():
  kernel = jnp.asarray(np.random.default_rng(7).standard_normal((2, 2, 3, 4)), jnp.float32)
  jax.test_util.check_grads(lambda w: orthogonal_regularization(w, 0.5), (kernel,), order=2, modes=["rev"],
                            atol=1e-2, rtol=1e-2)


# (d) the mask is not the identically zero "wtw * ones - wtw" ---------------------------------------


def test_random_weight_has_a_strictly_positive_penalty():
  # A third-party port computes wtw * ones - wtw, which is 0 for every W: a penalty that never acts.
  kernel = jnp.asarray(np.random.default_rng(8).standard_normal((3, 3, 4, 8)), jnp.float32)
  value = float(orthogonal_regularization(kernel, beta=BETA))
  assert value > 0.0
  assert value > 1e-3 * _np_penalty(_torch_view(kernel), BETA)
  grad = jax.grad(orthogonal_regularization)(kernel, BETA)
  assert float(jnp.max(jnp.abs(grad))) > 0.0


# (e) the tree version -------------------------------------------------------------------------------


def _dict_params(rng):
  f = lambda *s: jnp.asarray(rng.standard_normal(s), jnp.float32)  # noqa: E731
  return {
      "shared": {"embedding": f(10, 8)},
      "linear": {"kernel": f(8, 16), "bias": f(16)},
      "blocks": [
          {"conv": {"kernel": f(3, 3, 4, 4), "bias": f(4)}, "bn": {"scale": f(4), "bias": f(4)}},
          {"conv": {"kernel": f(3, 3, 4, 2), "bias": f(2)}, "gain": {"embedding": f(10, 4)}},
      ],
      "attention": {"gamma": f()},
  }


def test_tree_sums_the_leaves_with_two_axes_and_skips_excluded_paths():
  params = _dict_params(np.random.default_rng(9))
  per_leaf = {
      "linear": _np_penalty(_torch_view(params["linear"]["kernel"]), BETA),
      "conv0": _np_penalty(_torch_view(params["blocks"][0]["conv"]["kernel"]), BETA),
      "conv1": _np_penalty(_torch_view(params["blocks"][1]["conv"]["kernel"]), BETA),
      "gain": _np_penalty(np.asarray(params["blocks"][1]["gain"]["embedding"], np.float64), BETA),
      "shared": _np_penalty(np.asarray(params["shared"]["embedding"], np.float64), BETA),
  }
  kw = dict(rtol=1e-5)
  np.testing.assert_allclose(orthogonal_regularization_tree(params, BETA), sum(per_leaf.values()), **kw)
  without_shared = sum(v for k, v in per_leaf.items() if k != "shared")
  np.testing.assert_allclose(orthogonal_regularization_tree(params, BETA, exclude=("shared",)), without_shared, **kw)
  np.testing.assert_allclose(orthogonal_regularization_tree(params, BETA, exclude="shared"), without_shared, **kw)
  np.testing.assert_allclose(
      orthogonal_regularization_tree(params, BETA, exclude=("embedding",)),
      per_leaf["linear"] + per_leaf["conv0"] + per_leaf["conv1"], **kw)
  np.testing.assert_allclose(
      orthogonal_regularization_tree(params, BETA, exclude=("shared", "1")),
      per_leaf["linear"] + per_leaf["conv0"], **kw)


def test_tree_skips_leaves_with_fewer_than_two_axes():
  rng = np.random.default_rng(10)
  kernel = jnp.asarray(rng.standard_normal((4, 3)), jnp.float32)
  with_vectors = {"kernel": kernel, "bias": jnp.ones(3), "scale": jnp.ones(3), "gamma": jnp.ones(()),
                  "step": jnp.ones((2, 2), jnp.int32)}
  np.testing.assert_allclose(orthogonal_regularization_tree(with_vectors, 1.0), orthogonal_regularization(kernel, 1.0))
  np.testing.assert_allclose(orthogonal_regularization_tree({"bias": jnp.ones(3)}, 1.0), 0.0)


def test_tree_on_an_nnx_state_matches_the_per_leaf_sum():
  class Generator(nnx.Module):

    def __init__(self, rngs):
      self.shared = nnx.Embed(5, 4, rngs=rngs)
      self.linear = nnx.Linear(4, 6, rngs=rngs)
      self.conv = nnx.Conv(6, 3, (3, 3), rngs=rngs)
      self.bn = nnx.BatchNorm(3, use_running_average=False, rngs=rngs)

  model = Generator(nnx.Rngs(0))
  params = nnx.state(model, nnx.Param)
  expected = (orthogonal_regularization(model.linear.kernel[...], BETA)
              + orthogonal_regularization(model.conv.kernel[...], BETA))
  np.testing.assert_allclose(orthogonal_regularization_tree(params, BETA, exclude=("shared",)), expected, rtol=1e-6)
  _, split_params, _ = nnx.split(model, nnx.Param, ...)
  np.testing.assert_allclose(
      orthogonal_regularization_tree(split_params, BETA, exclude=("shared",)), expected, rtol=1e-6)
  with_shared = expected + orthogonal_regularization(model.shared.embedding[...], BETA, row_axis=0)
  np.testing.assert_allclose(orthogonal_regularization_tree(params, BETA), with_shared, rtol=1e-6)


def test_tree_gradient_is_the_reference_update_on_each_regularized_leaf():
  params = _dict_params(np.random.default_rng(11))
  grads = jax.grad(orthogonal_regularization_tree)(params, BETA, ("shared",))
  chex.assert_trees_all_equal_shapes(grads, params)
  conv = np.asarray(params["blocks"][0]["conv"]["kernel"], np.float64)
  expected = _to_flax_kernel(_reference_update(_torch_view(conv), BETA), (3, 3))
  np.testing.assert_allclose(grads["blocks"][0]["conv"]["kernel"], expected, rtol=1e-4, atol=1e-9)
  gain = np.asarray(params["blocks"][1]["gain"]["embedding"], np.float64)
  np.testing.assert_allclose(grads["blocks"][1]["gain"]["embedding"], _reference_update(gain, BETA), rtol=1e-4)
  for zero in (grads["shared"]["embedding"], grads["linear"]["bias"], grads["blocks"][0]["bn"]["scale"]):
    np.testing.assert_array_equal(zero, 0.0)


def test_tree_refuses_an_exclude_name_that_matches_nothing():
  params = _dict_params(np.random.default_rng(12))
  with pytest.raises(ValueError, match="did you mean 'shared'") as info:
    orthogonal_regularization_tree(params, BETA, exclude=("shraed",))
  assert "\n" not in str(info.value)


def test_tree_of_nothing_is_zero():
  np.testing.assert_allclose(orthogonal_regularization_tree({}, BETA), 0.0)


# (f) jit, and bad inputs ---------------------------------------------------------------------------


def test_under_jit_matches_eager():
  rng = np.random.default_rng(13)
  kernel = jnp.asarray(rng.standard_normal((3, 3, 4, 5)), jnp.float32)
  single = jax.jit(orthogonal_regularization)
  np.testing.assert_allclose(single(kernel, BETA), orthogonal_regularization(kernel, BETA), rtol=1e-6)
  np.testing.assert_allclose(single(kernel, 2 * BETA), 2 * orthogonal_regularization(kernel, BETA), rtol=1e-6)
  params = _dict_params(rng)
  tree = jax.jit(orthogonal_regularization_tree, static_argnames="exclude")
  np.testing.assert_allclose(tree(params, BETA, exclude=("shared",)),
                             orthogonal_regularization_tree(params, BETA, exclude=("shared",)), rtol=1e-6)
  grad = jax.jit(jax.grad(orthogonal_regularization))(kernel, BETA)
  np.testing.assert_allclose(grad, jax.grad(orthogonal_regularization)(kernel, BETA), rtol=1e-5, atol=1e-10)


@pytest.mark.parametrize("w, match", [
    (jnp.ones(4), "at least 2 axes"),
    (jnp.ones((2, 2), jnp.int32), "integer dtype"),
])
def test_bad_weights_are_refused_in_one_line(w, match):
  with pytest.raises(ValueError, match=match) as info:
    orthogonal_regularization(w)
  assert "\n" not in str(info.value)


def test_bad_row_axis_is_refused():
  with pytest.raises(ValueError, match="row_axis 2 is out of range"):
    orthogonal_regularization(jnp.ones((2, 3)), row_axis=2)
