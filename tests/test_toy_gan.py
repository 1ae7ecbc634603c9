"""Shapes of the PacGAN 2-D networks and of Maxout; packing reshapes m points into one input."""

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from flax import nnx

from jaxgen.models import toy_gan
from jaxgen.models._registry import build_models, get_model_spec
from jaxgen.models.layers import Maxout


def test_maxout_is_max_over_pieces():
  layer = Maxout(3, 4, 5, rngs=nnx.Rngs(0))
  x = np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32)
  w = np.asarray(layer.linear.kernel[...])
  b = np.asarray(layer.linear.bias[...])
  expected = (x @ w + b).reshape(6, 4, 5).max(axis=-1)  # pieces of a unit are contiguous
  np.testing.assert_allclose(np.asarray(jax.jit(lambda v: layer(v))(x)), expected, rtol=1e-5, atol=1e-6)


def test_maxout_gradients_match_the_max_reduction():
  """The elementwise-maximum chain has jnp.max's gradients (no ties among random real pieces)."""
  layer = Maxout(3, 4, 5, rngs=nnx.Rngs(0))
  x = jnp.asarray(np.random.default_rng(1).normal(size=(6, 3)), jnp.float32)
  cotangent = jnp.asarray(np.random.default_rng(2).normal(size=(6, 4)), jnp.float32)

  graphdef, state = nnx.split(layer)

  def reference(kernel, bias, x):
    return jnp.max((x @ kernel + bias[None]).reshape(6, 4, 5), axis=-1)

  def ours(kernel, bias, x):
    params = jax.tree.map(lambda v: v, state)
    params["linear"]["kernel"] = params["linear"]["kernel"].replace(kernel)
    params["linear"]["bias"] = params["linear"]["bias"].replace(bias)
    return nnx.merge(graphdef, params)(x)

  args = (layer.linear.kernel[...], layer.linear.bias[...], x)
  grads = jax.grad(lambda *a: jnp.sum(cotangent * reference(*a)), argnums=(0, 1, 2))(*args)
  got = jax.grad(lambda *a: jnp.sum(cotangent * ours(*a)), argnums=(0, 1, 2))(*args)
  for g, r in zip(got, grads):
    np.testing.assert_allclose(np.asarray(g), np.asarray(r), rtol=1e-5, atol=1e-6)


def _config(packing):
  return ml_collections.ConfigDict({"model": {"name": "toy_gan", "packing": packing, "generator_hidden": 16,
                                              "discriminator_hidden": 8}})


@pytest.mark.parametrize("packing", [1, 2, 4])
def test_shapes_and_packing(packing):
  models = build_models(_config(packing), nnx.Rngs(0))
  x = models["generator"](jnp.zeros((8, 2)), train=True)
  chex.assert_shape(x, (8, 2))
  logits = models["discriminator"](x, train=True, key=None)
  chex.assert_shape(logits, (8 // packing,))
  chex.assert_shape(models["discriminator"].hidden[0].linear.kernel[...], (2 * packing, 8 * 5))


def test_packing_groups_consecutive_points():
  d = build_models(_config(2), nnx.Rngs(0))["discriminator"]
  x = jnp.asarray(np.random.default_rng(1).normal(size=(6, 2)), jnp.float32)
  logits = d(x, train=False)
  # Swapping two packs swaps their logits; the pack (x0, x1) is one input.
  swapped = d(x[jnp.array([2, 3, 0, 1, 4, 5])], train=False)
  np.testing.assert_allclose(np.asarray(swapped), np.asarray(logits)[[1, 0, 2]], rtol=1e-6)
  with pytest.raises(ValueError, match="divisible by 2"):
    d(x[:5], train=False)


def test_registered_sampler_uses_running_statistics():
  config = _config(1)
  models = build_models(config, nnx.Rngs(0))
  spec = get_model_spec("toy_gan")
  a = spec.sample(models, jax.random.key(0), 5, config)
  b = spec.sample(models, jax.random.key(0), 7, config)[:5]
  assert a.shape == (5, 2)
  # Evaluation mode: a point does not depend on the rest of the batch.
  np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
  assert toy_gan.ToyGANConfig.from_config(config.model).packing == 1
