"""Shapes, ranges, parameter layouts and registration of the 2014 MNIST GAN and DCGAN."""

import math

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from flax import nnx

from jaxgen.models import dcgan, gan_mlp
from jaxgen.models._registry import build_models, get_model_spec


def _config(name, **model):
  return ml_collections.ConfigDict({"model": {"name": name, **model}})


def _call(module, x, **kwargs):
  """module(x, **kwargs) compiled once (eager CPU convolutions compile op by op, slowly)."""
  return nnx.jit(lambda m, x: m(x, **kwargs))(module, x)


def _param_shapes(module):
  return [tuple(x.shape) for x in jax.tree.leaves(nnx.state(module, nnx.Param))]


# --- the 2014 MNIST GAN -------------------------------------------------------


def test_gan_mlp_parameter_count_matches_mnist_yaml():
  models = build_models(_config("gan_mlp"), nnx.Rngs(0))
  # mnist.yaml: G 100 -> 1200 -> 1200 -> 784; D maxout 784 -> 240x5 -> 240x5, sigmoid 240 -> 1.
  g = (100 * 1200 + 1200) + (1200 * 1200 + 1200) + (1200 * 784 + 784)
  d = (784 * 1200 + 1200) + (240 * 1200 + 1200) + (240 + 1)
  count = lambda m: sum(math.prod(s) for s in _param_shapes(m))
  assert count(models["generator"]) == g
  assert count(models["discriminator"]) == d


@pytest.mark.parametrize("image_shape", [(28, 28, 1), (8, 8, 1)])
def test_gan_mlp_shapes_and_ranges(image_shape):
  config = _config("gan_mlp", image_shape=image_shape, generator_features=(32, 32), discriminator_units=(16, 16))
  models = build_models(config, nnx.Rngs(0))
  z = jax.random.normal(jax.random.key(0), (5, 100))
  x = _call(models["generator"], z, train=True)
  chex.assert_shape(x, (5, *image_shape))
  assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
  logits = _call(models["discriminator"], x, train=True, key=jax.random.key(1))
  chex.assert_shape(logits, (5,))
  chex.assert_tree_all_finite(logits)


def test_gan_mlp_dropout_only_in_training():
  config = _config("gan_mlp", image_shape=(8, 8, 1), discriminator_init_range=0.5)
  d = build_models(config, nnx.Rngs(0))["discriminator"]
  x = jax.random.uniform(jax.random.key(0), (4, 8, 8, 1))
  evaluate = nnx.jit(lambda d, x, key: d(x, train=False, key=key))
  chex.assert_trees_all_close(evaluate(d, x, None), evaluate(d, x, jax.random.key(3)))
  train = nnx.jit(lambda d, x, key: d(x, train=True, key=key))
  train_a = train(d, x, jax.random.key(1))
  assert not np.allclose(train_a, train(d, x, jax.random.key(2)))  # different dropout masks
  chex.assert_trees_all_close(train_a, train(d, x, jax.random.key(1)))  # same key, same mask
  with pytest.raises(ValueError, match="key"):
    d(x, train=True)


def test_gan_mlp_dropout_keeps_expected_activation():
  # Inverted dropout: the mean of the dropped-out input layer equals the input's.
  x = jnp.ones((20000, 10))
  dropped = gan_mlp._dropout(x, 0.8, jax.random.key(0))
  assert float(jnp.mean(dropped == 0.0)) == pytest.approx(0.2, abs=0.01)
  assert float(dropped.mean()) == pytest.approx(1.0, abs=0.01)


def test_gan_mlp_output_bias_from_marginals():
  g = build_models(_config("gan_mlp", image_shape=(8, 8, 1)), nnx.Rngs(0))["generator"]
  mean_image = np.linspace(0.0, 1.0, 64).reshape(8, 8, 1)
  g.init_output_bias(mean_image)
  # With zero hidden activations the output is sigmoid(bias) = the clipped marginals.
  g_out = jax.nn.sigmoid(g.output.bias[...]).reshape(8, 8, 1)
  np.testing.assert_allclose(g_out, np.clip(mean_image, 1e-3, 1 - 1e-3), rtol=1e-4, atol=1e-6)
  with pytest.raises(ValueError, match="pixels"):
    g.init_output_bias(np.zeros((28, 28, 1)))


def test_gan_mlp_weights_uniform_in_irange():
  models = build_models(_config("gan_mlp", image_shape=(8, 8, 1)), nnx.Rngs(0))
  g_kernel = np.asarray(models["generator"].hidden[1].kernel[...])
  d_kernel = np.asarray(models["discriminator"].hidden[0].linear.kernel[...])
  assert np.abs(g_kernel).max() <= 0.05 and np.abs(g_kernel).max() > 0.049
  assert np.abs(d_kernel).max() <= 0.005 and np.abs(d_kernel).max() > 0.0049


def test_gan_mlp_config_errors():
  with pytest.raises(ValueError, match="unknown keys"):
    build_models(_config("gan_mlp", hidden=3), nnx.Rngs(0))
  with pytest.raises(ValueError, match="keep probability"):
    build_models(_config("gan_mlp", input_keep=0.0), nnx.Rngs(0))


# --- DCGAN ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "image_shape,features,base",
    [((28, 28, 1), 4, 7), ((32, 32, 3), 4, 4), ((8, 8, 1), 4, 4)],
)
def test_dcgan_shapes_ranges_and_init(image_shape, features, base):
  config = _config("dcgan", image_shape=image_shape, features=features)
  assert dcgan.hparams_from_config(config).base == base
  models = build_models(config, nnx.Rngs(0))
  # Section 4: weights from N(0, 0.02).
  layers = [models["generator"].project, *models["generator"].convs, *models["discriminator"].convs]
  kernels = np.concatenate([np.ravel(layer.kernel[...]) for layer in layers])
  assert kernels.std() == pytest.approx(0.02, rel=0.05) and abs(kernels.mean()) < 0.002
  z = jax.random.normal(jax.random.key(0), (3, 100))
  # Training mode and inference mode (running averages) in one compiled call.
  def both(models, z):
    x = models["generator"](z, train=True)
    return x, models["discriminator"](x, train=True), models["discriminator"](models["generator"](z, train=False), train=False)

  x, train_logits, eval_logits = nnx.jit(both)(models, z)
  chex.assert_shape(x, (3, *image_shape))
  assert float(jnp.abs(x).max()) <= 1.0
  chex.assert_shape([train_logits, eval_logits], (3,))
  chex.assert_tree_all_finite([train_logits, eval_logits])


def test_dcgan_64_layout_is_the_papers():
  # Radford et al., Figure 1: project to 4x4x1024, then 512, 256, 128 channels, then 64x64x3.
  hp = dcgan.DCGANConfig(image_shape=(64, 64, 3), features=64)
  g = nnx.eval_shape(lambda: dcgan.DCGANGenerator(hp, rngs=nnx.Rngs(0)))
  assert g.project.kernel.shape == (100, 4 * 4 * 1024)
  assert [c.kernel.shape for c in g.convs] == [(5, 5, 1024, 512), (5, 5, 512, 256), (5, 5, 256, 128), (5, 5, 128, 3)]
  assert len(g.norms) == 3  # none after the output layer
  d = nnx.eval_shape(lambda: dcgan.DCGANDiscriminator(hp, rngs=nnx.Rngs(0)))
  assert [c.kernel.shape[-1] for c in d.convs] == [64, 128, 256, 512]
  assert len(d.norms) == 3  # none after the input layer
  assert d.output.kernel.shape == (4 * 4 * 512, 1)


def test_dcgan_batch_norm_statistics_update_only_in_training():
  models = build_models(_config("dcgan", image_shape=(8, 8, 1), features=4), nnx.Rngs(0))
  g = models["generator"]
  before = np.asarray(g.project_norm.mean[...]).copy()
  g(jnp.ones((4, 100)), train=False)
  np.testing.assert_array_equal(g.project_norm.mean[...], before)
  g(jax.random.normal(jax.random.key(0), (4, 100)), train=True)
  assert not np.allclose(g.project_norm.mean[...], before)


def test_dcgan_config_errors():
  with pytest.raises(ValueError, match="square"):
    dcgan.DCGANConfig(image_shape=(28, 32, 1))
  with pytest.raises(ValueError, match="divisible"):
    dcgan.DCGANConfig(image_shape=(28, 28, 1), num_upsamplings=3)


def test_range_maps_are_inverse():
  x = np.linspace(0, 1, 11)
  np.testing.assert_allclose(dcgan.to_unit_range(dcgan.to_model_range(x)), x)
  np.testing.assert_allclose(dcgan.to_model_range(np.array([0.0, 1.0])), [-1.0, 1.0])


# --- registry -------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,model",
    [("gan_mlp", {"image_shape": (8, 8, 1), "generator_features": (16,)}), ("dcgan", {"image_shape": (8, 8, 1), "features": 4})],
)
def test_registered_sampler_returns_unit_range_images(name, model):
  config = _config(name, **model)
  spec = get_model_spec(name)
  models = spec.build(config, nnx.Rngs(0))
  images = spec.sample(models, jax.random.key(0), 6, config)
  assert isinstance(images, np.ndarray) and images.shape == (6, 8, 8, 1)
  assert images.min() >= 0.0 and images.max() <= 1.0


@pytest.mark.parametrize("norm", ["batch", "layer", "none"])
def test_dcgan_discriminator_norm_couples_examples_only_with_batch_norm(norm):
  from jaxgen.models.dcgan import DCGANConfig, DCGANDiscriminator

  d = DCGANDiscriminator(DCGANConfig(image_shape=(16, 16, 1), features=8, discriminator_norm=norm),
                         rngs=nnx.Rngs(0))
  x = jax.random.normal(jax.random.key(0), (4, 16, 16, 1))
  other = x.at[1:].set(jax.random.normal(jax.random.key(1), (3, 16, 16, 1)))
  same = np.allclose(d(x, train=True)[0], d(other, train=True)[0], atol=1e-6)
  # Input-gradient penalties (WGAN-GP, R1) are per example only without batch statistics.
  assert same == (norm != "batch")
