"""The 1-D GAN networks: shapes, a numpy forward pass, the registry and its build order."""

import chex
import jax
import ml_collections
import numpy as np
import pytest
from flax import nnx

from jaxgen.models import gan_1d
from jaxgen.models._registry import build_models, get_model_spec


def _config(**model):
  return ml_collections.ConfigDict({"model": {"name": "gan_1d", "hidden": 8, "num_layers": 2, **model}})


def _numpy_mlp(mlp, x):
  """The tanh MLP from its parameters, in float64."""
  for layer in mlp.hidden:
    x = np.tanh(x @ np.asarray(layer.kernel[...], np.float64) + np.asarray(layer.bias[...], np.float64))
  return x @ np.asarray(mlp.out.kernel[...], np.float64) + np.asarray(mlp.out.bias[...], np.float64)


@pytest.mark.parametrize("latent_dim", [1, 3])
def test_shapes_and_numpy_forward(latent_dim):
  models = build_models(_config(latent_dim=latent_dim), nnx.Rngs(0))
  g, d = models["generator"], models["discriminator"]
  z = np.random.default_rng(0).normal(size=(5, latent_dim)).astype(np.float32)
  x = jax.jit(lambda z: g(z, train=True))(z)
  chex.assert_shape(x, (5, 1))
  np.testing.assert_allclose(x, _numpy_mlp(g.mlp, z.astype(np.float64)), rtol=1e-5, atol=1e-6)
  logits = jax.jit(lambda x: d(x, train=True, key=None))(x)
  chex.assert_shape(logits, (5,))
  np.testing.assert_allclose(logits, _numpy_mlp(d.mlp, np.asarray(x, np.float64))[:, 0], rtol=1e-5, atol=1e-6)


def test_parameter_layout():
  models = build_models(_config(latent_dim=2, hidden=8, num_layers=3), nnx.Rngs(0))
  kernels = lambda m: [layer.kernel.shape for layer in m.mlp.hidden] + [m.mlp.out.kernel.shape]
  assert kernels(models["generator"]) == [(2, 8), (8, 8), (8, 8), (8, 1)]
  assert kernels(models["discriminator"]) == [(1, 8), (8, 8), (8, 8), (8, 1)]


def test_build_draws_generator_then_discriminator_from_one_rngs():
  # The experiment's initial networks (and so its numbers) depend on this order.
  config = _config()
  built = build_models(config, nnx.Rngs(3))
  cfg = gan_1d.GAN1DConfig.from_config(config.model)
  rngs = nnx.Rngs(3)
  by_hand = {"generator": gan_1d.Generator1D(cfg, rngs=rngs), "discriminator": gan_1d.Discriminator1D(cfg, rngs=rngs)}
  chex.assert_trees_all_equal(nnx.state(built, nnx.Param), nnx.state(by_hand, nnx.Param))


def test_registered_sampler():
  config = _config()
  spec = get_model_spec("gan_1d")
  models = spec.build(config, nnx.Rngs(0))
  points = spec.sample(models, jax.random.key(0), 6, config)
  assert isinstance(points, np.ndarray) and points.shape == (6, 1)
  np.testing.assert_array_equal(points, spec.sample(models, jax.random.key(0), 6, config))


def test_config_errors():
  with pytest.raises(ValueError, match="unknown keys"):
    build_models(_config(width=3), nnx.Rngs(0))
  with pytest.raises(ValueError, match=">= 1"):
    gan_1d.GAN1DConfig(num_layers=0)
