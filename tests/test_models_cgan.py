"""The conditional DCGAN family "cgan": shapes, how the label enters G and D, cBN, sampling, jit and config errors."""

import dataclasses
import doctest
import functools

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from flax import nnx

import jaxgen.models
import jaxgen.nn
from jaxgen.models import cgan, dcgan
from jaxgen.models._registry import build_models, get_model_spec, model_hparams

HEADS = ["concat", "ac", "projection", "none"]
CONDITIONINGS = ["concat", "cbn", "none"]
needs_spectral_norm = pytest.mark.skipif(
    not hasattr(jaxgen.nn, "SpectralNorm"), reason="jaxgen.nn.SpectralNorm (jaxgen/nn/_spectral.py) not there yet"
)


def _config(**model):
  return ml_collections.ConfigDict({"model": {"name": "cgan", "features": 8, **model}})


def _hp(**model):
  return cgan.CGANConfig(**{"features": 8, "image_shape": (8, 8, 1), **model})


def _labels(batch, num_classes=10, shift=0):
  return (jnp.arange(batch, dtype=jnp.int32) + shift) % num_classes


@functools.partial(nnx.jit, static_argnames="train")
def _generate(g, z, y, train):
  return g(z, y, train=train)


@functools.partial(nnx.jit, static_argnames="train")
def _discriminate(d, x, y, train):
  return d(x, y, train=train)


def _spectral_norms(module):
  return [m for _, m in nnx.iter_graph(module) if isinstance(m, jaxgen.nn.SpectralNorm)]


# --- shapes and ranges ------------------------------------------------------------


@pytest.mark.parametrize("image_shape", [(8, 8, 1), (28, 28, 1)])
@pytest.mark.parametrize("conditioning", CONDITIONINGS)
def test_generator_shapes_and_range(image_shape, conditioning):
  g = cgan.ConditionalGenerator(_hp(image_shape=image_shape, generator_conditioning=conditioning), rngs=nnx.Rngs(0))
  z = jax.random.normal(jax.random.key(0), (5, 100))
  for train in (True, False):
    x = _generate(g, z, _labels(5), train)
    chex.assert_shape(x, (5, *image_shape))
    assert x.dtype == jnp.float32
    assert float(jnp.abs(x).max()) <= 1.0


@pytest.mark.parametrize("image_shape", [(8, 8, 1), (28, 28, 1)])
@pytest.mark.parametrize("head", HEADS)
def test_discriminator_shapes_and_class_logits_only_for_ac(image_shape, head):
  d = cgan.ConditionalDiscriminator(_hp(image_shape=image_shape, discriminator_head=head), rngs=nnx.Rngs(0))
  x = jax.random.uniform(jax.random.key(0), (5, *image_shape), minval=-1.0, maxval=1.0)
  for train in (True, False):
    logits, class_logits = _discriminate(d, x, _labels(5), train)
    chex.assert_shape(logits, (5,))
    chex.assert_tree_all_finite(logits)
    if head == "ac":
      chex.assert_shape(class_logits, (5, 10))
      chex.assert_tree_all_finite(class_logits)
    else:
      assert class_logits is None
  # phi is the flattened last map: F = base^2 * features * 2**(L - 1).
  hp = cgan.CGANConfig(image_shape=image_shape)
  assert d.psi.kernel.shape == (hp.base**2 * 8 * 2 ** (hp.upsamplings - 1), 1)


@pytest.mark.parametrize("head", HEADS)
def test_discriminator_without_norm_and_in_bfloat16(head):
  hp = _hp(discriminator_head=head, discriminator_norm="none", compute_dtype="bfloat16")
  d = cgan.ConditionalDiscriminator(hp, rngs=nnx.Rngs(0))
  assert len(d.norms) == 0
  logits, class_logits = _discriminate(d, jnp.zeros((3, 8, 8, 1)), _labels(3), True)
  assert logits.dtype == jnp.float32 and (class_logits is None or class_logits.dtype == jnp.float32)
  g = cgan.ConditionalGenerator(hp, rngs=nnx.Rngs(0))
  assert _generate(g, jnp.zeros((3, 100)), _labels(3), True).dtype == jnp.float32


def test_unconditional_generator_is_dcgans():
  # The "none" baseline has DCGAN's parameters, drawn in the same order.
  hp = cgan.CGANConfig(image_shape=(28, 28, 1), features=8, generator_conditioning="none")
  g = cgan.ConditionalGenerator(hp, rngs=nnx.Rngs(3))
  reference = dcgan.DCGANGenerator(dcgan.DCGANConfig(image_shape=(28, 28, 1), features=8), rngs=nnx.Rngs(3))
  chex.assert_trees_all_equal(nnx.state(g), nnx.state(reference))
  z = jax.random.normal(jax.random.key(0), (4, 100))
  chex.assert_trees_all_close(g(z, None, train=False), reference(z, train=False), atol=1e-6)


# --- how y enters ---------------------------------------------------------------


def _hand_conv(x, layer):
  out = jax.lax.conv_general_dilated(
      x, layer.kernel[...], (2, 2), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"),
      precision=jax.lax.Precision.HIGHEST,
  )
  return out + layer.bias[...][None, None, None, :]


@pytest.mark.parametrize("pooling", ["flatten", "sum"])
@pytest.mark.parametrize("head", ["projection", "concat", "none"])
def test_logits_computed_by_hand(head, pooling):
  d = cgan.ConditionalDiscriminator(
      _hp(image_shape=(28, 28, 1), discriminator_head=head, discriminator_norm="none",
          discriminator_pooling=pooling), rngs=nnx.Rngs(1)
  )
  # Larger projection weights, so that the class term is not negligible next to psi.
  if head == "projection":
    d.embed.embedding[...] = jax.random.normal(jax.random.key(5), d.embed.embedding.shape)
  x = jax.random.uniform(jax.random.key(0), (6, 28, 28, 1), minval=-1.0, maxval=1.0)
  y = jnp.array([0, 3, 9, 3, 1, 7])
  h = x
  if head == "concat":
    h = jnp.concatenate([x, jnp.broadcast_to(jax.nn.one_hot(y, 10)[:, None, None, :], (6, 28, 28, 10))], axis=-1)
  for conv in d.convs:
    h = jax.nn.leaky_relu(_hand_conv(h, conv), 0.2)
  phi = h.reshape((6, -1)) if pooling == "flatten" else h.sum(axis=(1, 2))
  chex.assert_shape(phi, (6, 7 * 7 * 16 if pooling == "flatten" else 16))
  expected = phi @ d.psi.kernel[...][:, 0] + d.psi.bias[...][0]
  if head == "projection":
    expected = expected + jnp.sum(d.embed.embedding[...][y] * phi, axis=-1)
  logits, _ = _discriminate(d, x, y, False)
  np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-4)
  np.testing.assert_allclose(nnx.jit(lambda d, x, y: d.phi(x, y, train=False))(d, x, y), phi, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("head", HEADS)
def test_discriminator_depends_on_y_only_when_conditional(head):
  d = cgan.ConditionalDiscriminator(_hp(discriminator_head=head), rngs=nnx.Rngs(0))
  x = jax.random.uniform(jax.random.key(0), (8, 8, 8, 1), minval=-1.0, maxval=1.0)
  y, other = _labels(8), _labels(8, shift=3)
  (logits, class_logits), (logits_other, class_logits_other) = (
      _discriminate(d, x, y, False), _discriminate(d, x, other, False)
  )
  if head in ("concat", "projection"):
    assert np.all(np.abs(logits - logits_other) > 1e-7)
  else:
    chex.assert_trees_all_equal(logits, logits_other)
  if head == "ac":
    # AC-GAN's D does not read y; y enters through the class log-likelihood log p(y | x).
    chex.assert_trees_all_equal(class_logits, class_logits_other)
    log_p = jax.nn.log_softmax(class_logits)
    assert np.all(log_p[jnp.arange(8), y] != log_p[jnp.arange(8), other])


@pytest.mark.parametrize("conditioning", CONDITIONINGS)
def test_generator_depends_on_y_only_when_conditional(conditioning):
  g = cgan.ConditionalGenerator(_hp(generator_conditioning=conditioning), rngs=nnx.Rngs(0))
  if conditioning == "cbn":
    # At init every class has gain 1 and bias 0; give the classes different ones.
    for i, norm in enumerate([g.project_norm, *g.norms]):
      norm.gain.embedding[...] = 1.0 + 0.5 * jax.random.normal(jax.random.key(i), norm.gain.embedding.shape)
      norm.bias.embedding[...] = 0.5 * jax.random.normal(jax.random.key(i + 10), norm.bias.embedding.shape)
  z = jax.random.normal(jax.random.key(0), (6, 100))
  x, x_other = _generate(g, z, _labels(6), False), _generate(g, z, _labels(6, shift=1), False)
  if conditioning == "none":
    chex.assert_trees_all_equal(x, x_other)
  else:
    assert np.all(np.abs(x - x_other).max(axis=(1, 2, 3)) > 1e-4)


def test_conditional_batch_norm_starts_as_batch_norm():
  cbn = cgan.ConditionalBatchNorm(6, 4, momentum=0.9, rngs=nnx.Rngs(0))
  bn = nnx.BatchNorm(6, momentum=0.9, rngs=nnx.Rngs(0))
  np.testing.assert_array_equal(cbn.gain.embedding[...], np.ones((4, 6)))
  np.testing.assert_array_equal(cbn.bias.embedding[...], np.zeros((4, 6)))
  x = 3.0 + 2.0 * jax.random.normal(jax.random.key(0), (5, 3, 3, 6))
  y = jnp.array([0, 1, 2, 3, 1])
  chex.assert_trees_all_close(cbn(x, y, use_running_average=False), bn(x, use_running_average=False), atol=1e-6)
  chex.assert_trees_all_close(cbn.norm.mean[...], bn.mean[...])  # the same running statistics
  chex.assert_trees_all_close(cbn(x, y, use_running_average=True), bn(x, use_running_average=True), atol=1e-6)
  # Per-class affine: gamma_y * BN(x) + beta_y.
  gain, bias = jnp.arange(24.0).reshape(4, 6), -jnp.arange(24.0).reshape(4, 6)
  cbn.gain.embedding[...], cbn.bias.embedding[...] = gain, bias
  expected = bn(x, use_running_average=True) * gain[y][:, None, None] + bias[y][:, None, None]
  chex.assert_trees_all_close(cbn(x, y, use_running_average=True), expected, atol=1e-5)


def test_cbn_generator_starts_as_the_unconditional_one():
  hp = _hp(image_shape=(28, 28, 1))
  g_cbn = cgan.ConditionalGenerator(dataclasses.replace(hp, generator_conditioning="cbn"), rngs=nnx.Rngs(2))
  g_none = cgan.ConditionalGenerator(dataclasses.replace(hp, generator_conditioning="none"), rngs=nnx.Rngs(2))
  assert all(isinstance(n, cgan.ConditionalBatchNorm) for n in [g_cbn.project_norm, *g_cbn.norms])
  z = jax.random.normal(jax.random.key(0), (4, 100))
  for train in (True, False):
    chex.assert_trees_all_close(_generate(g_cbn, z, _labels(4), train), _generate(g_none, z, None, train), atol=1e-5)


def test_label_shape_errors():
  hp = _hp(generator_conditioning="concat", discriminator_head="projection")
  g, d = cgan.ConditionalGenerator(hp, rngs=nnx.Rngs(0)), cgan.ConditionalDiscriminator(hp, rngs=nnx.Rngs(0))
  with pytest.raises(ValueError, match="labels"):
    g(jnp.zeros((3, 100)), None, train=False)
  with pytest.raises(ValueError, match=r"shape \(3,\)"):
    g(jnp.zeros((3, 100)), jnp.zeros((3, 1), jnp.int32), train=False)
  with pytest.raises(ValueError, match="integers"):
    d(jnp.zeros((3, 8, 8, 1)), jnp.zeros((3,)), train=False)


# --- sampling and the registry ------------------------------------------------------


def test_sample_balanced_grid_and_explicit_labels():
  config = _config(image_shape=(8, 8, 1), generator_conditioning="concat")
  spec = get_model_spec("cgan")
  models = spec.build(config, nnx.Rngs(0))
  key = jax.random.key(4)
  images = spec.sample(models, key, 20, config)
  assert isinstance(images, np.ndarray) and images.shape == (20, 8, 8, 1)
  assert images.min() >= 0.0 and images.max() <= 1.0
  # Default labels: 0..9, 0..9 (rows = classes with 10 to a row).
  z = jax.random.normal(key, (20, 100))
  grid = (np.asarray(_generate(models["generator"], z, _labels(20), False)) + 1.0) / 2.0
  np.testing.assert_allclose(images, grid, atol=1e-6)
  sevens = spec.sample(models, key, 20, config, labels=np.full(20, 7))
  np.testing.assert_allclose(sevens[7], images[7], atol=1e-6)
  assert np.abs(sevens[:7] - images[:7]).max() > 1e-4
  with pytest.raises(ValueError, match=r"shape \(20,\)"):
    spec.sample(models, key, 20, config, labels=np.arange(10))
  with pytest.raises(ValueError, match=r"\[0, 10\)"):
    spec.sample(models, key, 3, config, labels=[0, 10, 2])
  with pytest.raises(ValueError, match=r"\[0, 10\)"):
    spec.sample(models, key, 3, config, labels=[-1, 0, 2])
  with pytest.raises(ValueError, match="integers"):
    spec.sample(models, key, 3, config, labels=[0.0, 1.0, 2.0])


def test_family_is_registered():
  assert "cgan" in jaxgen.models.model_names()
  spec = get_model_spec("cgan")
  assert spec.hparams is cgan.CGANConfig and spec.build is cgan.build and spec.sample is cgan.sample
  assert jaxgen.models.CGANConfig is cgan.CGANConfig
  hp = model_hparams(_config(num_classes=4, image_shape=[8, 8, 1]))
  assert hp.num_classes == 4 and hp.image_shape == (8, 8, 1) and hp.base == 4
  models = build_models(_config(image_shape=(8, 8, 1)), nnx.Rngs(0))
  assert isinstance(models["generator"], cgan.ConditionalGenerator)
  assert isinstance(models["discriminator"], cgan.ConditionalDiscriminator)


@pytest.mark.parametrize(
    "changes,match",
    [
        ({"generator_conditioning": "cnb"}, "Did you mean 'cbn'"),
        ({"discriminator_head": "projecton"}, "Did you mean 'projection'"),
        ({"discriminator_head": "xyz"}, "Choose one of concat, ac, projection, none"),
        ({"discriminator_norm": "batchnorm"}, "Did you mean 'batch'"),
        ({"conv_impl": "xl"}, "Did you mean 'xla'"),
        ({"spectral_norm": "yes"}, "spectral_norm must be True or False"),
        ({"num_classes": 0}, "num_classes must be a positive integer"),
        ({"latent_dim": 2.5}, "latent_dim must be a positive integer"),
        ({"batch_norm_momentum": 1.0}, "batch_norm_momentum"),
        ({"image_shape": (28, 32, 1)}, "square"),
        ({"image_shape": (28, 28, 1), "num_upsamplings": 3}, "divisible"),
        ({"compute_dtype": "float16"}, "compute_dtype"),
        ({"head": "ac"}, "unknown keys"),
    ],
)
def test_bad_config_values_give_one_line_errors(changes, match):
  with pytest.raises(ValueError, match=match) as error:
    build_models(_config(**changes), nnx.Rngs(0))
  assert "\n" not in str(error.value)


def test_docstring_examples():
  result = doctest.testmod(cgan, optionflags=doctest.NORMALIZE_WHITESPACE)
  assert result.attempted > 0 and result.failed == 0


# --- a plain jax.jit over split state, batch norm and spectral norm state ---------------------


def _jitted_discriminator(d):
  graphdef, params, rest = nnx.split(d, nnx.Param, ...)

  @functools.partial(jax.jit, static_argnames="train")
  def apply(params, rest, x, y, train):
    model = nnx.merge(graphdef, params, rest)
    logits, _ = model(x, y, train=train)
    _, _, new_rest = nnx.split(model, nnx.Param, ...)
    return jnp.mean(logits), new_rest

  return params, rest, apply


def test_plain_jit_over_split_state_threads_batch_norm_statistics():
  d = cgan.ConditionalDiscriminator(_hp(image_shape=(28, 28, 1), discriminator_head="projection"), rngs=nnx.Rngs(0))
  params, rest, apply = _jitted_discriminator(d)
  x = jax.random.uniform(jax.random.key(0), (4, 28, 28, 1), minval=-1.0, maxval=1.0)
  y = _labels(4)
  value, train_rest = apply(params, rest, x, y, True)
  assert np.isfinite(float(value))
  changed = jax.tree.map(lambda a, b: bool(jnp.any(a != b)), rest, train_rest)
  assert all(jax.tree.leaves(changed))  # every running mean and variance moved
  _, eval_rest = apply(params, rest, x, y, False)
  chex.assert_trees_all_equal(eval_rest, rest)
  grads = jax.grad(lambda p: apply(p, rest, x, y, True)[0])(params)
  chex.assert_tree_all_finite(grads)
  assert float(jnp.abs(grads["embed"]["embedding"][...]).sum()) > 0.0


@needs_spectral_norm
@pytest.mark.parametrize("head", HEADS)
def test_spectral_norm_wraps_every_layer_of_d(head):
  d = cgan.ConditionalDiscriminator(_hp(image_shape=(28, 28, 1), discriminator_head=head, spectral_norm=True),
                                    rngs=nnx.Rngs(0))
  expected = len(d.convs) + 1 + (head in ("ac", "projection"))
  assert len(_spectral_norms(d)) == expected
  assert not _spectral_norms(cgan.ConditionalGenerator(_hp(spectral_norm=True), rngs=nnx.Rngs(0)))
  logits, class_logits = _discriminate(d, jnp.zeros((3, 28, 28, 1)), _labels(3), True)
  chex.assert_shape(logits, (3,))
  assert (class_logits is not None) == (head == "ac")


@needs_spectral_norm
def test_plain_jit_spectral_norm_vectors_advance_only_in_training():
  hp = _hp(image_shape=(28, 28, 1), discriminator_head="projection", discriminator_norm="none", spectral_norm=True)
  d = cgan.ConditionalDiscriminator(hp, rngs=nnx.Rngs(0))
  params, rest, apply = _jitted_discriminator(d)
  # With no batch norm, every batch statistic of D is a power-iteration vector u.
  assert len(jax.tree.leaves(rest)) == len(_spectral_norms(d)) == 4
  x = jax.random.uniform(jax.random.key(0), (4, 28, 28, 1), minval=-1.0, maxval=1.0)
  y = _labels(4)
  value, train_rest = apply(params, rest, x, y, True)
  assert np.isfinite(float(value))
  # Moved by more than float32 rounding (one step of a unit vector can land an ulp away: -1 -> -0.99999994).
  changed = jax.tree.map(lambda a, b: bool(jnp.max(jnp.abs(a - b)) > 1e-5), rest, train_rest)
  # psi's u has one entry (psi maps to one logit), +-1 whatever the step: sigma = |w| up to rounding.
  assert not changed["psi"]["u"].get_value() and rest["psi"]["u"].shape == (1,)
  changed["psi"]["u"].set_value(True)
  assert all(jax.tree.leaves(changed))
  _, eval_rest = apply(params, rest, x, y, False)
  chex.assert_trees_all_equal(eval_rest, rest)
  # The projection embedding is normalised as well: scaling it leaves the logits unchanged.
  before = apply(params, rest, x, y, False)[0]
  scaled = jax.tree.map(lambda p: p, params)
  scaled["embed"]["layer"]["embedding"] = jax.tree.map(lambda p: 10.0 * p, scaled["embed"]["layer"]["embedding"])
  np.testing.assert_allclose(apply(scaled, rest, x, y, False)[0], before, rtol=1e-4, atol=1e-5)
