"""The BigGAN family "biggan": block plans, cBN's "1 +", attention at init, hierarchical z, SN coverage, projection D.

Each test aims at a known re-implementation mistake of ajbrock/BigGAN-PyTorch's
``BigGAN.py`` / ``layers.py``; the models are tiny (ch 4, sides 8-32, batch 2-3).
"""

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
import jaxgen.random
from jaxgen.models import biggan
from jaxgen.models._registry import build_models, get_model_spec, model_hparams

HIGHEST = jax.lax.Precision.HIGHEST


def _hp(**changes):
  # side 16: two G blocks, three z chunks of 4; 4 * ch = 16 channels (attention needs >= 8).
  return biggan.BigGANConfig(**{"image_shape": (16, 16, 1), "ch": 4, "latent_dim": 12, "shared_dim": 6,
                                "num_classes": 5, "attention": (8,), **changes})


@pytest.fixture(scope="module")
def nets():
  """G and D at side 16 (two G blocks; D: 16 -> 8, 8, 8), attention at 8 in both; tests that change them clone."""
  hp = _hp(discriminator_attention=(8,))
  return biggan.BigGANGenerator(hp, rngs=nnx.Rngs(0)), biggan.BigGANDiscriminator(hp, rngs=nnx.Rngs(1))


def _config(**model):
  return ml_collections.ConfigDict({"model": {"name": "biggan", "image_shape": (8, 8, 1), "ch": 4, "latent_dim": 8,
                                              "shared_dim": 4, "attention": (8,), **model}})


@pytest.fixture(scope="module")
def registered():
  config = _config(attention=[8])  # a config read back from JSON holds lists
  return config, build_models(config, nnx.Rngs(0))


@functools.partial(nnx.jit, static_argnames="train")
def _generate(g, z, y, train):
  return g(z, y, train=train)


def _normalized(sn):
  """The weight a SpectralNorm layer uses in an evaluation call: W / sigma from the stored u."""
  return getattr(sn.layer, sn.param_name)[...] / sn.sigma()


def _conv(x, sn):
  kernel = _normalized(sn)
  out = jax.lax.conv_general_dilated(x, kernel, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                     precision=HIGHEST)
  bias = sn.layer.bias
  return out if bias is None else out + bias[...][None, None, None, :]


def _linear(x, sn):
  out = jnp.dot(x, _normalized(sn), precision=HIGHEST)
  bias = sn.layer.bias
  return out if bias is None else out + bias[...][None, :]


def _batch_norm(x, eps=1e-5):
  mean = x.mean(axis=(0, 1, 2), keepdims=True)
  var = x.var(axis=(0, 1, 2), keepdims=True)
  return (x - mean) / jnp.sqrt(var + eps)


# --- plans, shapes and ranges -------------------------------------------------------


def test_block_plans_follow_g_arch_and_d_arch():
  # G_arch[32]: three up-blocks 4ch -> 4ch at 8, 16, 32; D_arch[32]: four 4ch blocks, downsample T, T, F, F.
  hp = biggan.BigGANConfig(ch=8)
  assert [tuple(b) for b in hp.generator_blocks] == [(32, 32, 8), (32, 32, 16), (32, 32, 32)]
  assert [tuple(b) for b in hp.discriminator_blocks] == [
      (1, 32, True, 16), (32, 32, True, 8), (32, 32, False, 8), (32, 32, False, 8)]
  assert hp.num_chunks == 4 and hp.chunk_size == 16
  # Fewer blocks in the same pattern at 16 and 8 (D: all but the last two downsample).
  hp16 = biggan.BigGANConfig(image_shape=(16, 16, 3), ch=8, latent_dim=63)
  assert [b.side for b in hp16.generator_blocks] == [8, 16]
  assert [(b.downsample, b.side) for b in hp16.discriminator_blocks] == [(True, 8), (False, 8), (False, 8)]
  assert hp16.discriminator_blocks[0].in_channels == 3
  hp8 = biggan.BigGANConfig(image_shape=(8, 8, 1), ch=8, latent_dim=64, attention=(8,))
  assert [b.side for b in hp8.generator_blocks] == [8]
  assert [(b.downsample, b.side) for b in hp8.discriminator_blocks] == [(False, 8), (False, 8)]
  # G_arch[64] / D_arch[64] (channel multipliers 16, 16, 8, 4 -> 16, 8, 4, 2; D 1, 2, 4, 8, 16).
  # D is too narrow for attention at these widths (6 channels at side 16): none there.
  hp64 = biggan.BigGANConfig(image_shape=(64, 64, 3), ch=2, latent_dim=65, discriminator_ch=3, discriminator_attention=())
  assert [tuple(b) for b in hp64.generator_blocks] == [(32, 32, 8), (32, 16, 16), (16, 8, 32), (8, 4, 64)]
  assert [tuple(b) for b in hp64.discriminator_blocks] == [
      (3, 3, True, 32), (3, 6, True, 16), (6, 12, True, 8), (12, 24, True, 4), (24, 48, False, 4)]


@nnx.jit
def _generate_and_discriminate(g, d, z, y):
  x = g(z, y, train=True)
  return x, *d(x, y, train=True)


@pytest.mark.parametrize("side,attention,compute", [(8, (8,), "bfloat16"), (16, (8,), "float32"),
                                                    (32, (16,), "float32")])
def test_shapes_and_range(side, attention, compute, nets):
  hp = _hp(image_shape=(side, side, 1), attention=attention, compute_dtype=compute)
  if side == 16:
    g, d = nets
  else:
    g, d = biggan.BigGANGenerator(hp, rngs=nnx.Rngs(0)), biggan.BigGANDiscriminator(hp, rngs=nnx.Rngs(1))
  assert sum(a is not None for a in g.attention) == 1
  # Inference mode is run by the other tests (side 16) and by sample (side 8).
  x, logits, class_logits = _generate_and_discriminate(g, d, jax.random.normal(jax.random.key(0), (2, 12)),
                                                       jnp.array([0, 4]))
  chex.assert_shape(x, (2, side, side, 1))
  chex.assert_shape(logits, (2,))
  chex.assert_tree_all_finite(logits)
  assert class_logits is None
  # bfloat16 computes, float32 comes out.
  assert x.dtype == logits.dtype == jnp.float32
  assert 0.0 < float(jnp.abs(x).max()) <= 1.0


# --- the layers -----------------------------------------------------------------------


def _layers(init="ortho"):
  return biggan._Layers(init, 1e-6, "xla", jnp.dtype("float32"))


def test_attention_is_the_identity_at_init_and_softmaxes_over_pooled_positions():
  attention = biggan.SelfAttention(16, layers=_layers(), rngs=nnx.Rngs(0))
  assert attention.gamma.shape == () and float(attention.gamma[...]) == 0.0
  assert all(getattr(attention, n).layer.bias is None for n in ("theta", "phi", "g", "o"))
  x = jax.random.normal(jax.random.key(1), (2, 8, 8, 16))

  @nnx.jit
  def module_and_hand(attention, x):
    # By hand: beta (B, N, N / 4), rows summing to 1 over the max-pooled positions.
    theta = _conv(x, attention.theta).reshape(2, 64, 2)

    def pooled(y):
      return y.reshape(2, 4, 2, 4, 2, -1).max(axis=(2, 4)).reshape(2, 16, -1)

    phi, g = pooled(_conv(x, attention.phi)), pooled(_conv(x, attention.g))
    beta = jax.nn.softmax(jnp.einsum("bnc,bmc->bnm", theta, phi, precision=HIGHEST), axis=-1)
    o = _conv(jnp.einsum("bnm,bmc->bnc", beta, g, precision=HIGHEST).reshape(2, 8, 8, 8), attention.o)
    return attention(x, train=True), x + attention.gamma[...] * o

  at_init, _ = module_and_hand(attention, x)
  np.testing.assert_array_equal(at_init, x)
  attention.gamma[...] = jnp.array(1.0)
  np.testing.assert_allclose(*module_and_hand(attention, x), rtol=1e-5, atol=1e-5)


def test_conditional_batch_norm_gain_is_one_plus_linear():
  cbn = biggan.LinearConditionalBatchNorm(16, 10, layers=_layers(), momentum=0.9, epsilon=1e-5, rngs=nnx.Rngs(0))
  assert cbn.gain.layer.bias is None and cbn.bias.layer.bias is None  # bn_linear: bias=False
  x = jax.random.normal(jax.random.key(0), (2, 4, 4, 16)) * 2.0 + 1.0
  cond = jax.random.normal(jax.random.key(1), (2, 10))
  plain = nnx.BatchNorm(16, momentum=0.9, epsilon=1e-5, rngs=nnx.Rngs(0))

  @nnx.jit
  def outputs(cbn, plain, x, cond):
    gain = 1.0 + jnp.dot(cond, _normalized(cbn.gain), precision=HIGHEST)
    bias = jnp.dot(cond, _normalized(cbn.bias), precision=HIGHEST)
    hand = _batch_norm(x) * gain[:, None, None, :] + bias[:, None, None, :]
    return (cbn(x, cond, train=True), cbn(x, cond, train=False), plain(x, use_running_average=False),
            plain(x, use_running_average=True), hand)

  # As built: x_hat * (1 + W_g cond) + W_b cond, per example.
  train, _, _, _, hand = outputs(nnx.clone(cbn), nnx.clone(plain), x, cond)
  np.testing.assert_allclose(train, hand, rtol=1e-4, atol=1e-4)
  # Zeroed W_g, W_b: a plain batch norm with unit scale (a port using gain(cond) alone would give 0).
  cbn.gain.layer.kernel[...] = jnp.zeros((10, 16))
  cbn.bias.layer.kernel[...] = jnp.zeros((10, 16))
  train, inference, plain_train, plain_inference, _ = outputs(cbn, plain, x, cond)
  np.testing.assert_allclose(train, plain_train, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(inference, plain_inference, rtol=1e-5, atol=1e-5)


def test_gblock_by_hand_upsamples_the_shortcut_too(nets):
  block = nnx.clone(nets[0].blocks[0])  # 16 -> 16 channels, cond of 6 + 4 features
  x = jax.random.normal(jax.random.key(0), (2, 4, 4, 16))
  cond = jax.random.normal(jax.random.key(1), (2, 10))

  def cbn(h, m):
    return _batch_norm(h) * (1 + _linear(cond, m.gain))[:, None, None, :] + _linear(cond, m.bias)[:, None, None, :]

  def up(h):  # nearest: every pixel becomes a 2x2 patch
    return jnp.repeat(jnp.repeat(h, 2, axis=1), 2, axis=2)

  @nnx.jit
  def module_and_hand(block, x, cond):
    h = _conv(up(jax.nn.relu(cbn(x, block.bn1))), block.conv1)
    h = _conv(jax.nn.relu(cbn(h, block.bn2)), block.conv2)
    return block(x, cond, train=True), h + _conv(up(x), block.conv_sc)

  np.testing.assert_allclose(*module_and_hand(block, x, cond), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("preactivation,downsample,channels", [(False, True, 3), (True, True, 8), (True, False, 8)])
def test_dblock_by_hand(preactivation, downsample, channels):
  block = biggan.DBlock(channels, 8, preactivation=preactivation, downsample=downsample, layers=_layers(),
                        rngs=nnx.Rngs(0))
  x = jax.random.normal(jax.random.key(0), (2, 8, 8, channels))

  def pool(h):
    return h.reshape(2, 4, 2, 4, 2, -1).mean(axis=(2, 4)) if downsample else h

  @nnx.jit
  def module_and_hand(block, x):
    h = _conv(jax.nn.relu(_conv(jax.nn.relu(x) if preactivation else x, block.conv1)), block.conv2)
    # The shortcut sees x itself, never relu(x) (the reference's out-of-place ReLU).
    shortcut = x if block.conv_sc is None else _conv(x, block.conv_sc)
    return block(x, train=True), pool(h) + pool(shortcut)

  assert (block.conv_sc is None) == (channels == 8 and not downsample)
  np.testing.assert_allclose(*module_and_hand(block, x), rtol=1e-4, atol=1e-4)


# --- the generator ------------------------------------------------------------------------


def test_hierarchical_z_every_chunk_reaches_its_block(nets):
  hp, g = _hp(), nets[0]  # two blocks, z = 12 in three chunks of 4
  assert g.linear.layer.kernel.shape == (4, 4 * 4 * 16)
  for block in g.blocks:
    for cbn in (block.bn1, block.bn2):
      assert cbn.gain.layer.kernel.shape[0] == hp.shared_dim + 4 == cbn.bias.layer.kernel.shape[0]
  z = jax.random.normal(jax.random.key(0), (2, 12))
  y = jnp.array([1, 2])
  first, conds = g.conditions(z, y)
  np.testing.assert_array_equal(first, z[:, :4])
  for k, cond in enumerate(conds):
    np.testing.assert_array_equal(cond[:, :6], g.shared(y))
    np.testing.assert_array_equal(cond[:, 6:], z[:, 4 * (k + 1):4 * (k + 2)])
  base = _generate(g, z, y, False)
  for k in range(3):
    moved = _generate(g, z.at[:, 4 * k:4 * (k + 1)].add(1.0), y, False)
    assert float(jnp.abs(moved - base).max()) > 1e-4, f"chunk {k} does not reach G"


def test_flat_z_feeds_the_linear_layer_and_every_block_gets_the_embedding():
  g = biggan.BigGANGenerator(_hp(hierarchical=False, latent_dim=7), rngs=nnx.Rngs(0))
  assert g.linear.layer.kernel.shape[0] == 7
  assert all(b.bn1.gain.layer.kernel.shape[0] == 6 for b in g.blocks)


def test_generator_depends_on_the_label(nets):
  g = nets[0]
  z = jnp.tile(jax.random.normal(jax.random.key(0), (1, 12)), (2, 1))
  x = _generate(g, z, jnp.array([0, 3]), False)
  assert float(jnp.abs(x[0] - x[1]).max()) > 1e-4


def _linear_like(module):
  return [(path, m) for path, m in nnx.iter_graph(module) if isinstance(m, (nnx.Linear, nnx.Conv, nnx.Embed))]


def test_spectral_norm_on_every_layer_but_the_shared_embedding(nets):
  g, d = nets
  # Attention after every block whose output side is 8: G's first, all three of D's.
  assert [a is not None for a in g.attention] == [True, False]
  assert [a is not None for a in d.attention] == [True, True, True]
  for net in nets:
    wrapped = {id(m.layer) for _, m in nnx.iter_graph(net) if isinstance(m, jaxgen.nn.SpectralNorm)}
    bare = [path for path, m in _linear_like(net) if id(m) not in wrapped]
    assert bare == ([("shared",)] if isinstance(net, biggan.BigGANGenerator) else [])
    assert len(wrapped) == len(_linear_like(net)) - len(bare)
  assert isinstance(d.embed, jaxgen.nn.SpectralNorm) and d.embed.layer.embedding.shape == (5, 16)
  assert isinstance(g.shared, nnx.Embed) and g.shared.embedding.shape == (5, 6)


def test_orthogonal_and_normal_init(nets):
  w = nets[0].blocks[0].conv1.layer.kernel[...].reshape(-1, 16)  # (3 * 3 * 16, 16): orthonormal columns
  np.testing.assert_allclose(w.T @ w, np.eye(16), atol=1e-5)
  w = nets[1].embed.layer.embedding[...]  # (5, 16): orthonormal rows
  np.testing.assert_allclose(w @ w.T, np.eye(5), atol=1e-5)
  w = _layers("normal").conv(32, 32, 3, rngs=nnx.Rngs(0)).layer.kernel[...]
  assert abs(float(w.std()) - 0.02) < 0.002
  hp = _hp(init="ortho", discriminator_init="normal")
  assert (hp.init, hp.d_init, _hp(init="normal").d_init) == ("ortho", "normal", "normal")


# --- the discriminator ----------------------------------------------------------------


def test_projection_discriminator_by_hand_with_global_sum_pooling(nets):
  x = jax.random.uniform(jax.random.key(0), (2, 16, 16, 1), minval=-1.0, maxval=1.0)
  y, other = jnp.array([0, 4]), jnp.array([3, 1])

  @nnx.jit
  def module_and_hand(d, x, y):
    h = x
    for block, attention in zip(d.blocks, d.attention):
      h = block(h, train=False)
      h = h if attention is None else attention(h, train=False)
    phi = jnp.sum(jax.nn.relu(h), axis=(1, 2))  # a sum, not a mean: 64 times the mean here
    logits = _linear(phi, d.linear)[:, 0] + jnp.sum(_normalized(d.embed)[y] * phi, axis=-1)
    module = (d.phi(x, train=False), d(x, y, train=False)[0])
    return h.shape, module, (phi, logits), d(x, other, train=False)[0]

  shape, module, hand, logits_other = module_and_hand(nets[1], x, y)
  assert shape == (2, 8, 8, 16)
  chex.assert_trees_all_close(module, hand, rtol=1e-4, atol=1e-3)
  assert float(jnp.abs(module[1] - logits_other).max()) > 1e-3
  # With the embedding zeroed, y no longer matters: it enters only through <embed(y), phi(x)>.
  d = nnx.clone(nets[1])
  d.embed.layer.embedding[...] = jnp.zeros_like(d.embed.layer.embedding[...])
  _, (_, logits), _, logits_other = module_and_hand(d, x, y)
  np.testing.assert_array_equal(logits, logits_other)


# --- train flags, under a plain jax.jit over split state ------------------------------------


def test_train_flag_moves_batch_norm_statistics_and_power_iteration_only_in_training(registered):
  g = registered[1]["generator"]  # side 8: one block
  graphdef, params, rest = nnx.split(g, nnx.Param, ...)

  @functools.partial(jax.jit, static_argnames="train")
  def apply(params, rest, z, y, train):
    model = nnx.merge(graphdef, params, rest)
    x = model(z, y, train=train)
    return x, nnx.split(model, nnx.Param, ...)[2]

  z, y = jax.random.normal(jax.random.key(0), (2, 8)), jnp.array([0, 1])
  _, train_rest = apply(params, rest, z, y, True)
  changed = jax.tree.map(lambda a, b: bool(jnp.any(a != b)), rest, train_rest)
  # Every BN running statistic and every SN vector u moves (u of the one-channel output conv is +-1 whatever
  # the step: not asked).
  changed["output_conv"]["u"].set_value(True)
  assert all(jax.tree.leaves(changed))
  _, eval_rest = apply(params, rest, z, y, False)
  chex.assert_trees_all_equal(eval_rest, rest)


# --- errors, registry, sampling ---------------------------------------------------------------


@pytest.mark.parametrize(
    "changes,match",
    [
        ({"latent_dim": 13}, r"latent_dim 13 is not divisible by 3"),
        ({"attention": (32,)}, r"attention \[32\] is not the output side of any G block .* choose from \[8, 16\]"),
        ({"discriminator_attention": (16,)}, r"discriminator_attention \[16\] .* D block .* \[8\]"),
        ({"attention": 8}, "tuple of image sides"),
        ({"image_shape": (28, 28, 1)}, r"side in \(8, 16, 32, 64\)"),
        ({"image_shape": (16, 8, 1)}, "side, side, channels"),
        ({"image_shape": 16}, "side, side, channels"),
        ({"ch": 1}, "needs >= 8 channels"),
        ({"ch": 0}, "ch must be a positive integer"),
        ({"init": "orth"}, "Did you mean 'ortho'"),
        ({"discriminator_init": "N02"}, "Choose one of ortho, normal"),
        ({"hierarchical": "yes"}, "hierarchical must be True or False"),
        ({"sn_eps": 0.0}, "sn_eps must be a number in"),
        ({"batch_norm_momentum": 1.0}, "batch_norm_momentum"),
        ({"conv_impl": "xl"}, "Did you mean 'xla'"),
        ({"compute_dtype": "float16"}, "compute_dtype"),
    ],
)
def test_bad_configs_give_one_line_errors(changes, match):
  with pytest.raises(ValueError, match=match) as error:
    _hp(**changes)
  assert "\n" not in str(error.value)


def test_docstring_examples():
  result = doctest.testmod(biggan, optionflags=doctest.NORMALIZE_WHITESPACE)
  assert result.attempted > 0 and result.failed == 0


def test_unknown_config_key_is_an_error():
  with pytest.raises(ValueError, match="unknown keys"):
    build_models(_config(G_ch=4), nnx.Rngs(0))


def test_labels_out_of_range_or_misshapen_are_errors(nets):
  g, d = nets
  z, x = jnp.zeros((2, 12)), jnp.zeros((2, 16, 16, 1))
  for bad in (jnp.array([0, 5]), jnp.array([-1, 0])):
    with pytest.raises(ValueError, match=r"labels y must lie in \[0, 5\)"):
      g(z, bad, train=False)
    with pytest.raises(ValueError, match=r"labels y must lie in \[0, 5\)"):
      d(x, bad, train=False)
  with pytest.raises(ValueError, match=r"shape \(2,\)"):
    d(x, jnp.array([0]), train=False)
  with pytest.raises(ValueError, match="integer labels"):
    g(z, None, train=False)
  with pytest.raises(ValueError, match=r"z must have shape \(batch, 12\)"):
    g(jnp.zeros((2, 11)), jnp.array([0, 1]), train=False)


def test_family_is_registered_and_samples(registered):
  assert "biggan" in jaxgen.models.model_names()
  spec = get_model_spec("biggan")
  assert spec.hparams is biggan.BigGANConfig and spec.build is biggan.build and spec.sample is biggan.sample
  config, models = registered
  assert model_hparams(config).attention == (8,)
  assert isinstance(models["generator"], biggan.BigGANGenerator)
  assert isinstance(models["discriminator"], biggan.BigGANDiscriminator)
  key = jax.random.key(3)
  images = spec.sample(models, key, 12, config)
  assert images.shape == (12, 8, 8, 1) and images.min() >= 0.0 and images.max() <= 1.0
  # Default labels 0..9, 0, 1; z ~ N(0, I) from the key.
  by_hand = models["generator"](jax.random.normal(key, (12, 8)), jnp.arange(12) % 10, train=False)
  np.testing.assert_allclose(images, (np.asarray(by_hand) + 1.0) / 2.0, atol=1e-6)
  np.testing.assert_allclose(spec.sample(models, key, 12, config, truncation=float("inf")), images, atol=1e-6)
  with pytest.raises(ValueError, match=r"\[0, 10\)"):
    spec.sample(models, key, 3, config, labels=[0, 10, 2])
  with pytest.raises(ValueError, match="truncation must be a positive number"):
    spec.sample(models, key, 3, config, truncation=0.0)


@pytest.mark.skipif(not hasattr(jaxgen.random, "truncated_normal_resample"),
                    reason="jaxgen.random.truncated_normal_resample (written concurrently) is not there yet")
def test_truncated_sampling_uses_the_resampled_normal(registered):
  config, models = registered
  key = jax.random.key(5)
  images = biggan.sample(models, key, 12, config, truncation=0.5)
  z = jaxgen.random.truncated_normal_resample(key, (12, 8), 0.5)
  assert float(jnp.abs(z).max()) <= 0.5
  by_hand = models["generator"](z, jnp.arange(12) % 10, train=False)
  np.testing.assert_allclose(images, (np.asarray(by_hand) + 1.0) / 2.0, atol=1e-6)


def test_parameter_count_at_the_32x32_experiment_size():
  hp = biggan.BigGANConfig(image_shape=(32, 32, 1), num_classes=10, ch=32, latent_dim=64, shared_dim=32,
                           attention=(16,))
  g = nnx.eval_shape(lambda: biggan.BigGANGenerator(hp, rngs=nnx.Rngs(0)))
  d = nnx.eval_shape(lambda: biggan.BigGANDiscriminator(hp, rngs=nnx.Rngs(0)))

  def count(m):
    return sum(int(np.prod(p.shape)) for p in jax.tree.leaves(nnx.state(m, nnx.Param)))

  c, cond = 128, 32 + 16
  conv3, conv1 = 9 * c * c + c, c * c + c
  attention = 2 * c * (c // 8) + 2 * c * (c // 2) + 1
  g_block = 2 * 2 * cond * c + 2 * conv3 + conv1  # two cBN (gain, bias), two convs, the shortcut
  g_expected = 10 * 32 + (16 * 16 * c + 16 * c) + 3 * g_block + attention + 2 * c + (9 * c + 1)
  d_blocks = (9 * c + c + conv3 + (c + c)) + (2 * conv3 + conv1) + 2 * (2 * conv3)
  d_expected = d_blocks + attention + (c + 1) + 10 * c
  print(f"\nBigGAN 32x32 (ch 32, z 64, shared 32, 10 classes, attention 16): G {count(g):,}, D {count(d):,}")
  assert (count(g), count(d)) == (g_expected, d_expected) == (1_065_794, 1_073_026)


def test_discriminator_inheriting_narrow_attention_is_refused():
  """D inherits G's attention sides: a D too narrow there is an error (not a block with 0 query features)."""
  with pytest.raises(ValueError, match=r"attention \(inherited by D\) needs >= 8 channels"):
    biggan.BigGANConfig(image_shape=(64, 64, 3), ch=4, latent_dim=60, attention=(32,))
  # A side that only G has puts no attention in D.
  biggan.BigGANConfig(image_shape=(32, 32, 1), ch=32, attention=(32,))


def test_standing_statistics_are_the_batches_own():
  """With one batch, inference-mode G normalises that batch exactly as a training-mode call does."""
  g = biggan.BigGANGenerator(_hp(attention=()), rngs=nnx.Rngs(4))
  warm = jax.random.split(jax.random.key(5), 2)
  for _ in range(15):  # converge the power iterations, so train and inference calls divide by the same sigma
    _generate(g, jax.random.normal(warm[0], (16, 12)), jnp.arange(16) % 5, True)
  norms = [m for _, m in nnx.iter_modules(g) if isinstance(m, nnx.BatchNorm)]
  before = [np.asarray(m.mean[...]) for m in norms]
  key = jax.random.key(7)
  biggan.standing_statistics(g, key, num_batches=1, batch_size=16)
  assert all(m.momentum == 0.9 for m in norms)  # restored
  assert not np.allclose(before[0], norms[0].mean[...])
  z_key, y_key = jax.random.split(jax.random.fold_in(key, 0))  # the batch standing_statistics drew
  z, y = jax.random.normal(z_key, (16, 12)), jax.random.randint(y_key, (16,), 0, 5)
  inference = _generate(g, z, y, False)
  training = _generate(nnx.clone(g), z, y, True)
  np.testing.assert_allclose(inference, training, atol=2e-4)
  with pytest.raises(ValueError, match="num_batches >= 1"):
    biggan.standing_statistics(g, key, num_batches=0)


def test_standing_statistics_average_the_batches():
  g = biggan.BigGANGenerator(_hp(attention=()), rngs=nnx.Rngs(4))
  key = jax.random.key(3)
  # Three batches averaged = the mean of the three single-batch statistics drawn with the same keys.
  singles = []
  for i in range(3):
    one = nnx.clone(g)
    z_key, y_key = jax.random.split(jax.random.fold_in(key, i))
    for m in (m for _, m in nnx.iter_modules(one) if isinstance(m, nnx.BatchNorm)):
      m.momentum = 0.0
    _generate(one, jax.random.normal(z_key, (8, 12)), jax.random.randint(y_key, (8,), 0, 5), True)
    singles.append([np.asarray(m.var[...]) for _, m in nnx.iter_modules(one) if isinstance(m, nnx.BatchNorm)])
  biggan.standing_statistics(g, key, num_batches=3, batch_size=8)
  averaged = [np.asarray(m.var[...]) for _, m in nnx.iter_modules(g) if isinstance(m, nnx.BatchNorm)]
  for got, *per_batch in zip(averaged, *singles):
    np.testing.assert_allclose(got, np.mean(per_batch, axis=0), rtol=1e-5, atol=1e-6)
