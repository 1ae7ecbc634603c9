"""Autoencoder, MLP VAE and convolutional VAE: shapes, configs, registry, a few training steps."""

import json

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest
from flax import nnx

from jaxgen import train
from jaxgen import objectives as vae_objectives
from jaxgen.models._registry import build_models, get_model_spec
from jaxgen.models.autoencoder import Autoencoder, AutoencoderConfig
from jaxgen.models.conv_vae import ConvVAE, ConvVAEConfig
from jaxgen.models.vae import VAE, VAEConfig

SHAPES = [(28, 28, 1), (32, 32, 3), (8, 8, 1)]


def tiny_vae(shape, **kw):
  return VAE(VAEConfig(image_shape=shape, hidden_sizes=(16, 8), latent_dim=3, **kw), rngs=nnx.Rngs(0))


def tiny_conv_vae(shape, **kw):
  return ConvVAE(ConvVAEConfig(image_shape=shape, channels=(4, 8), latent_dim=3, **kw), rngs=nnx.Rngs(0))


def test_autoencoder_is_the_chapters_network():
  ae = Autoencoder(AutoencoderConfig(), rngs=nnx.Rngs(0))
  shapes = {k: v.shape for k, v in nnx.to_flat_state(nnx.state(ae, nnx.Param))}
  assert shapes[("enc_hidden", "kernel")] == (784, 256)
  assert shapes[("enc_code", "kernel")] == (256, 20)
  assert shapes[("dec_hidden", "kernel")] == (20, 256)
  assert shapes[("dec_out", "kernel")] == (256, 784)
  x = jax.random.uniform(jax.random.key(0), (5, 28, 28, 1))
  z = ae.encode(x)
  chex.assert_shape(z, (5, 20))
  assert jnp.all(z >= 0.0)  # the encoder ends with a ReLU
  y = ae(x)
  chex.assert_shape(y, (5, 28, 28, 1))
  assert jnp.all((y >= 0.0) & (y <= 1.0))  # Sigmoid output


CASES = [(shape, "bernoulli") for shape in SHAPES] + [((8, 8, 1), "gaussian")]


@pytest.mark.parametrize("shape, likelihood", CASES)
@pytest.mark.parametrize("make", [tiny_vae, tiny_conv_vae], ids=["mlp", "conv"])
def test_vae_shapes(make, shape, likelihood):
  model = make(shape, likelihood=likelihood)
  x = jax.random.uniform(jax.random.key(0), (2, *shape))
  z = jax.random.normal(jax.random.key(1), (4, 2, 3))  # 4 importance samples per example

  @nnx.jit  # one compilation instead of op-by-op (slow for eager CPU convolutions)
  def run(model, x, z):
    mean, logvar = model.encode(x)
    return (mean, logvar, model.decode(mean), model.log_likelihood(x, z),
            model.sample(jax.random.key(2), 5), model.reconstruct(x, jax.random.key(3)))

  mean, logvar, out, ll, samples, recon = run(model, x, z)
  chex.assert_shape([mean, logvar], (2, 3))
  if likelihood == "bernoulli":
    chex.assert_shape(out, (2, *shape))
  else:
    chex.assert_shape(list(out), (2, *shape))
  chex.assert_shape(ll, (4, 2))
  chex.assert_tree_all_finite(ll)
  for images in (samples, recon):
    assert images.shape[1:] == shape
    assert jnp.all((images >= 0.0) & (images <= 1.0))


def test_log_likelihood_of_sample_axes_matches_one_at_a_time():
  model = tiny_vae((8, 8, 1))
  x = jax.random.bernoulli(jax.random.key(0), 0.3, (3, 8, 8, 1)).astype(jnp.float32)
  z = jax.random.normal(jax.random.key(1), (5, 3, 3))
  together = model.log_likelihood(x, z)
  # Independent reference: Bernoulli log-likelihood from the decoder logits in numpy.
  for s in range(5):
    logits = np.asarray(model.decode(z[s]), np.float64)
    ref = np.sum(np.asarray(x) * logits - np.logaddexp(0.0, logits), axis=(1, 2, 3))
    np.testing.assert_allclose(together[s], ref, rtol=1e-5)


def test_fixed_decoder_variance():
  model = tiny_vae((8, 8, 1), likelihood="gaussian", decoder_logvar=-2.0)
  mean, logvar = model.decode(jnp.zeros((2, 3)))
  np.testing.assert_array_equal(logvar, -2.0 * np.ones((2, 8, 8, 1)))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: ConvVAEConfig(image_shape=(28, 28, 1), channels=(8, 8, 8)), "divisible by 2 \\*\\* len"),
        (lambda: VAEConfig(activation="gelu6"), "unknown activation"),
        (lambda: VAEConfig(likelihood="poisson"), "unknown likelihood"),
        (lambda: ConvVAEConfig(conv_impl="cuda"), "unknown conv_impl"),
        (lambda: AutoencoderConfig(image_shape=(28, 28)), "image_shape"),
    ],
)
def test_bad_configs_raise(make, match):
  with pytest.raises(ValueError, match=match):
    make()


@pytest.mark.parametrize("name, network", [("vae", "vae"), ("conv_vae", "vae"), ("autoencoder", "autoencoder")])
def test_registry_rebuilds_from_a_saved_config(name, network):
  model = {"name": name, "image_shape": (8, 8, 1), "latent_dim": 2}
  if name == "conv_vae":
    model["channels"] = (4, 8)
  config = ml_collections.ConfigDict({"model": model})
  # A config read back from config.json holds lists, not tuples.
  reread = ml_collections.ConfigDict(json.loads(config.to_json()))
  models = build_models(reread, nnx.Rngs(0))
  assert list(models) == [network]
  spec = get_model_spec(name)
  if name == "autoencoder":
    assert spec.sample is None  # an autoencoder has no prior to sample from
  else:
    images = spec.sample(models, jax.random.key(0), 6, reread)
    assert isinstance(images, np.ndarray) and images.shape == (6, 8, 8, 1)
    assert images.min() >= 0.0 and images.max() <= 1.0


def _ctx(batch, key):
  return vae_objectives.Context(step=jnp.int32(0), key=key, batch=batch, aux=None)


def _train(models, network, objective, batch, steps, lr=1e-2):
  optimizers = {network: optax.adam(lr)}
  graphdefs, state = train.init_train_state(models, optimizers, jax.random.key(0))
  step = jax.jit(train.make_train_step(graphdefs, optimizers, [train.Update(network, objective)]))
  before = jax.tree.map(np.asarray, state.params[network])
  losses = []
  for _ in range(steps):
    state, m = step(state, batch)
    losses.append(float(m[f"loss/{network}"]))
  return before, state, graphdefs, losses


@pytest.mark.parametrize("make", [tiny_vae, tiny_conv_vae], ids=["mlp", "conv"])
def test_training_steps_change_parameters_and_lower_the_negative_elbo(make):
  x = jax.random.bernoulli(jax.random.key(0), 0.3, (16, 8, 8, 1)).astype(jnp.float32)
  batch = {"image": x}
  objective = vae_objectives.negative_elbo_objective()
  key = jax.random.key(42)
  start, _ = objective({"vae": make((8, 8, 1))}, _ctx(batch, key))
  before, state, graphdefs, _ = _train({"vae": make((8, 8, 1))}, "vae", objective, batch, steps=15)
  after = jax.tree.map(np.asarray, state.params["vae"])
  changed = jax.tree.leaves(jax.tree.map(lambda a, b: not np.array_equal(a, b), before, after))
  assert all(changed)
  end, _ = objective(train.merge_models(graphdefs, state), _ctx(batch, key))  # same key: same noise
  assert float(end) < float(start) - 5.0


def test_autoencoder_training_lowers_the_loss():
  x = jax.random.uniform(jax.random.key(0), (16, 8, 8, 1))
  batch = {"image": x}
  ae = Autoencoder(AutoencoderConfig(image_shape=(8, 8, 1), hidden_dim=32, latent_dim=4), rngs=nnx.Rngs(0))
  for loss in ("mse", "bce"):
    _, _, _, losses = _train({"autoencoder": ae}, "autoencoder",
                             vae_objectives.autoencoder_objective(loss=loss), batch, steps=10)
    assert losses[-1] < losses[0]


def test_objective_metrics_add_up():
  model = tiny_vae((8, 8, 1))
  x = jax.random.bernoulli(jax.random.key(0), 0.3, (4, 8, 8, 1)).astype(jnp.float32)
  loss, m = vae_objectives.negative_elbo_objective(beta=0.5)({"vae": model}, _ctx({"image": x}, jax.random.key(1)))
  np.testing.assert_allclose(m["neg_elbo"], m["recon"] + m["kl"], rtol=1e-6)
  np.testing.assert_allclose(loss, m["recon"] + 0.5 * m["kl"], rtol=1e-6)
  assert m["kl"] > 0.0
  # Dynamic binarization leaves binary images as they are.
  loss_dyn, _ = vae_objectives.negative_elbo_objective(beta=0.5, binarize="dynamic")(
      {"vae": model}, _ctx({"image": x}, jax.random.key(1)))
  np.testing.assert_allclose(loss_dyn, loss, rtol=1e-6)


def test_autoencoder_objective_refuses_an_unknown_loss_at_once():
  # The values of reconstruction_loss are tested in test_likelihoods.py.
  with pytest.raises(ValueError, match="mse"):
    vae_objectives.autoencoder_objective(loss="l1")
