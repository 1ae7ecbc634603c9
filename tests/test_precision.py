"""compute_dtype='bfloat16': float32 parameters and outputs, bfloat16 layers, finite and close training."""

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest
from flax import nnx

from jaxgen import train
from jaxgen.models import build_models
from jaxgen.objectives import autoencoder_objective, negative_elbo_objective

# Tiny members of every family, all on 8x8 images (or 2-D points).
FAMILIES = {
    "autoencoder": dict(image_shape=(8, 8, 1), hidden_dim=32, latent_dim=4),
    "vae": dict(image_shape=(8, 8, 1), hidden_sizes=(32,), latent_dim=4),
    "conv_vae": dict(image_shape=(8, 8, 1), channels=(8, 16), latent_dim=4),
    "gan_mlp": dict(image_shape=(8, 8, 1), latent_dim=8, generator_features=(32, 32), discriminator_units=(16, 16)),
    "dcgan": dict(image_shape=(8, 8, 1), latent_dim=8, features=8, kernel_size=3),
    "toy_gan": dict(generator_hidden=32, discriminator_hidden=16),
}
GANS = ("gan_mlp", "dcgan", "toy_gan")


def _models(family, compute_dtype, seed=0):
  config = ml_collections.ConfigDict({"model": {"name": family, **FAMILIES[family], "compute_dtype": compute_dtype}})
  return build_models(config, nnx.Rngs(seed))


def _batch(family, n=16):
  key = jax.random.key(42)
  if family == "toy_gan":
    return jax.random.normal(key, (n, 2))
  x = jax.random.uniform(key, (n, 8, 8, 1))
  return 2.0 * x - 1.0 if family == "dcgan" else x


def _forward(family, models, x):
  """Every network output a loss reads, as a flat tuple."""
  if family == "autoencoder":
    ae = models["autoencoder"]
    return (ae.encode(x), ae.decode_logits(ae.encode(x)))
  if family in ("vae", "conv_vae"):
    mean, logvar = models["vae"].encode(x)
    return (mean, logvar, models["vae"].decode(mean))
  latent = FAMILIES[family].get("latent_dim", 2)
  fake = models["generator"](jax.random.normal(jax.random.key(1), (x.shape[0], latent)), train=True)
  return (fake, models["discriminator"](x, train=True, key=jax.random.key(2)))


def _forward_jit(family, models, x):
  return nnx.jit(lambda m, x: _forward(family, m, x))(models, x)


def _hlo(family, models, x) -> str:
  """The lowered forward pass as text (pure over the split state, as the train steps are)."""
  graphdef, state = nnx.split(models)
  return jax.jit(lambda state, x: _forward(family, nnx.merge(graphdef, state, copy=True), x)).lower(state, x).as_text()


@pytest.mark.parametrize("family", list(FAMILIES))
def test_bfloat16_keeps_float32_parameters_identical_to_float32_models(family):
  """Same seed, same float32 parameters: checkpoints move between the two dtypes unchanged."""
  p32 = nnx.state(_models(family, "float32"), nnx.Param)
  p16 = nnx.state(_models(family, "bfloat16"), nnx.Param)
  chex.assert_trees_all_equal(p32, p16)
  assert {x.dtype for x in jax.tree.leaves(p16)} == {jnp.dtype(jnp.float32)}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_bfloat16_computes_in_bfloat16_and_returns_close_float32_outputs(family):
  x = _batch(family)
  m32, m16 = _models(family, "float32"), _models(family, "bfloat16")
  hlo16, hlo32 = _hlo(family, m16, x), _hlo(family, m32, x)
  # The matmuls / convolutions take bfloat16 operands, and only in the bfloat16 model.
  assert "bf16" in hlo16 and ("dot_general" in hlo16 or "convolution" in hlo16)
  assert "bf16" not in hlo32
  out32, out16 = _forward_jit(family, m32, x), _forward_jit(family, m16, x)
  for a, b in zip(out32, out16):
    assert b.dtype == jnp.float32, "network outputs must be float32 so that losses run in float32"
    chex.assert_tree_all_finite(b)
    scale = float(jnp.max(jnp.abs(a))) + 1e-3
    # bfloat16 keeps 8 significant bits (relative error 2^-8 per rounding), a few layers deep.
    np.testing.assert_allclose(np.asarray(b), np.asarray(a), atol=0.05 * scale)


def _train(family, compute_dtype, steps=5):
  models = _models(family, compute_dtype)
  optimizers = {name: optax.adam(1e-3) for name in models}
  graphdefs, state = train.init_train_state(models, optimizers, jax.random.key(0))
  if family == "autoencoder":
    updates = [train.Update("autoencoder", autoencoder_objective(loss="mse"))]
  elif family in ("vae", "conv_vae"):
    updates = [train.Update("vae", negative_elbo_objective())]
  else:
    updates = train.gan_updates(loss="non_saturating", k=1, latent_dim=FAMILIES[family].get("latent_dim", 2))
  step = jax.jit(train.make_train_step(graphdefs, optimizers, updates))
  x = _batch(family)
  batch = {"x": x} if family in GANS else {"image": x}
  history = []
  for _ in range(steps):
    state, metrics = step(state, batch)
    history.append({k: float(v) for k, v in metrics.items() if k.startswith("loss/")})
  return state, history


@pytest.mark.parametrize("family", list(FAMILIES))
def test_bfloat16_training_is_finite_and_follows_float32(family):
  state32, hist32 = _train(family, "float32")
  state16, hist16 = _train(family, "bfloat16")
  assert {x.dtype for x in jax.tree.leaves((state16.params, state16.opt_state)) if x.dtype.kind == "f"} == {
      jnp.dtype(jnp.float32)
  }
  for h32, h16 in zip(hist32, hist16):
    for term, v in h32.items():
      assert np.isfinite(h16[term]), (term, h16)
      np.testing.assert_allclose(h16[term], v, rtol=0.05, atol=0.02, err_msg=term)
  # The parameters moved, and to about the same place (Adam's steps are sign-like, so a few
  # bfloat16 roundings can flip a near-zero gradient's step: compare in the mean).
  diff = jax.tree.map(lambda a, b: jnp.mean(jnp.abs(a - b)), state16.params, state32.params)
  moved = jax.tree.map(lambda a, b: jnp.mean(jnp.abs(a - b)), state32.params, _train(family, "float32", 0)[0].params)
  assert sum(jax.tree.leaves(diff)) < 0.5 * sum(jax.tree.leaves(moved))


@pytest.mark.parametrize("family", list(FAMILIES))
def test_unknown_compute_dtype_is_a_clear_error(family):
  with pytest.raises(ValueError, match="compute_dtype 'float16'.*float32, bfloat16"):
    _models(family, "float16")
