"""StackGAN's parts: digit captions and their fixed embedding, conditioning augmentation, both stages' networks and updates."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxgen import data, losses
from jaxgen.models.stackgan import ConditioningAugmentation


def test_captions_name_the_digit_and_both_attributes_in_every_phrasing():
  slant_tokens = [{"left", "left-leaning"}, {"upright"}, {"right", "right-leaning"}]
  for template in range(len(data.TEMPLATES)):
    for label in range(10):
      for t in range(3):
        for s in range(3):
          words = set(data.tokenize(data.caption(label, t, s, template)))
          assert data.DIGIT_WORDS[label] in words and data.THICKNESS_WORDS[t] in words
          assert [bool(words & tokens) for tokens in slant_tokens] == [b == s for b in range(3)]
          assert len(words & set(data.DIGIT_WORDS)) == 1 and len(words & set(data.THICKNESS_WORDS)) == 1
  assert data.caption(7, 2, 2) == "a bold seven leaning right"


def test_caption_digits_draws_phrasings_and_checks_inputs():
  labels, t, s = np.array([7, 7, 7, 7, 7, 7, 7, 7]), np.full(8, 2), np.full(8, 0)
  captions = data.caption_digits(labels, t, s, seed=0)
  assert len(set(captions)) > 1 and captions == data.caption_digits(labels, t, s, seed=0)
  with pytest.raises(ValueError, match="one length"):
    data.caption_digits(labels, t[:3], s)
  with pytest.raises(ValueError, match=r"thickness_bin must be an integer in \[0, 3\)"):
    data.caption(1, 3, 0)


def test_bag_of_words_tells_attributes_apart_and_ignores_word_order():
  a = data.bag_of_words_embedding("a bold seven leaning right")
  same = data.bag_of_words_embedding("a seven bold right leaning")
  np.testing.assert_allclose(a, same, rtol=1e-6)
  others = data.bag_of_words_embedding(["a thin seven leaning right", "a bold one leaning right",
                                        "a bold seven leaning left"])
  assert np.all(np.linalg.norm(others - a, axis=1) > 0.05)
  assert data.bag_of_words_embedding(["a bold seven leaning right"], dim=16).shape == (1, 16)
  with pytest.raises(ValueError, match=r"unknown words \['sevn'\]"):
    data.bag_of_words_embedding("a bold sevn")


def test_ca_mean_and_logvar_come_from_the_two_halves():
  ca = ConditioningAugmentation(4, 3, rngs=nnx.Rngs(0))
  # Halves made distinguishable: the first 3 outputs are 1, 2, 3, the last 3 are 4, 5, 6 (positive: ReLU keeps them).
  ca.fc.kernel.set_value(jnp.zeros((4, 6)))
  ca.fc.bias.set_value(jnp.arange(1.0, 7.0))
  c, mu, logvar = ca(jnp.ones((2, 4)))
  np.testing.assert_array_equal(np.asarray(mu), [[1, 2, 3]] * 2)
  np.testing.assert_array_equal(np.asarray(logvar), [[4, 5, 6]] * 2)
  np.testing.assert_array_equal(np.asarray(c), np.asarray(mu))  # no key: c = mu


def test_ca_samples_have_the_stated_mean_and_spread():
  ca = ConditioningAugmentation(4, 2, rngs=nnx.Rngs(0))
  ca.fc.kernel.set_value(jnp.zeros((4, 4)))
  ca.fc.bias.set_value(jnp.array([0.5, 2.0, 0.0, np.log(4.0)]))  # sigma = 1 and 2
  c, _, _ = ca(jnp.ones((20000, 4)), key=jax.random.key(0))
  np.testing.assert_allclose(np.mean(c, 0), [0.5, 2.0], atol=0.04)
  np.testing.assert_allclose(np.std(c, 0), [1.0, 2.0], rtol=0.03)


def test_ca_kl_equals_the_analytic_gaussian_kl():
  ca = ConditioningAugmentation(5, 3, activation="leaky_relu", rngs=nnx.Rngs(1))
  _, mu, logvar = ca(jax.random.normal(jax.random.key(2), (6, 5)))
  mu, logvar = np.asarray(mu, np.float64), np.asarray(logvar, np.float64)
  analytic = 0.5 * np.sum(mu**2 + np.exp(logvar) - 1.0 - logvar, axis=-1)
  np.testing.assert_allclose(np.asarray(losses.gaussian_kl(jnp.asarray(mu), jnp.asarray(logvar))), analytic, rtol=1e-5)


def test_ca_rejects_bad_sizes():
  with pytest.raises(ValueError, match="condition_dim must be a positive integer"):
    ConditioningAugmentation(4, 0, rngs=nnx.Rngs(0))
  with pytest.raises(ValueError, match="activation must be one of relu, leaky_relu"):
    ConditioningAugmentation(4, 2, activation="tanh", rngs=nnx.Rngs(0))


def _tiny():
  from jaxgen.models.stackgan import StackGANConfig

  return StackGANConfig(image_shape=(32, 32, 1), embedding_dim=8, condition_dim=4, latent_dim=6, gf_dim=4, df_dim=4,
                        r_num=1)


def test_stage_shapes_and_the_reference_layout():
  from jaxgen.models import stackgan

  hp = _tiny()
  assert hp.stage1_shape == (16, 16, 1)
  g1, d1 = stackgan.Stage1Generator(hp, rngs=nnx.Rngs(0)), stackgan.Stage1Discriminator(hp, rngs=nnx.Rngs(1))
  g2, d2 = stackgan.Stage2Generator(hp, rngs=nnx.Rngs(2)), stackgan.Stage2Discriminator(hp, rngs=nnx.Rngs(3))
  phi, z = jnp.ones((5, 8)), jax.random.normal(jax.random.key(0), (5, 6))

  @nnx.jit  # one compilation a network instead of op-by-op dispatch
  def forward(g1, g2, d1, d2, phi, z):
    low, mu, logvar = g1(phi, z, train=True, key=jax.random.key(1))
    high, _, _ = g2(low, phi, train=True, key=jax.random.key(2))
    return low, mu, logvar, high, d1(low, mu, train=True), d2(high, mu, train=True)

  low, mu, logvar, high, d1_logits, (cond, uncond) = forward(g1, g2, d1, d2, phi, z)
  assert low.shape == (5, 16, 16, 1) and mu.shape == logvar.shape == (5, 4) and float(jnp.max(jnp.abs(low))) <= 1
  assert high.shape == (5, 32, 32, 1)
  assert d1_logits.shape == cond.shape == uncond.shape == (5,)
  # Stage-I: two up-blocks from 4x4 (8 gf_dim channels, halved twice); Stage-II: encoder to 4x4, three up-blocks.
  assert [u.conv.out_features for u in g1.ups] == [16, 8] and len(g2.ups) == 3
  assert len(d1.encode.convs) == 2 and len(d2.encode.convs) == 3 and len(d2.encode.tail) == 2


def test_stage2_has_no_z_and_passes_no_gradient_to_stage1():
  from jaxgen.models import stackgan

  hp = _tiny()
  g1, g2 = stackgan.Stage1Generator(hp, rngs=nnx.Rngs(0)), stackgan.Stage2Generator(hp, rngs=nnx.Rngs(2))
  phi = jnp.ones((3, 8))
  low, _, _ = g1(phi, jnp.zeros((3, 6)), train=False)
  out = lambda x: g2(x, phi, train=False)[0]
  a = out(low)
  np.testing.assert_array_equal(np.asarray(a), np.asarray(out(low)))  # deterministic without a key: no z, c = mu
  grad = jax.grad(lambda x: jnp.sum(out(x)))(low)
  np.testing.assert_array_equal(np.asarray(grad), 0.0)  # the Stage-I image enters as a constant


def test_config_rejects_bad_sides():
  from jaxgen.models.stackgan import StackGANConfig

  with pytest.raises(ValueError, match="power of two >= 16"):
    StackGANConfig(image_shape=(28, 28, 1))
  with pytest.raises(ValueError, match="r_num must be a positive integer"):
    StackGANConfig(r_num=0)


def test_wrong_texts_never_describe_the_image():
  from jaxgen.objectives import mismatched_texts

  combos, phrasings = 90, 4
  # Embedding e[k, t] = (k, t): the drawn entry names its combination.
  table = jnp.stack(jnp.meshgrid(jnp.arange(combos), jnp.arange(phrasings), indexing="ij"), -1).astype(jnp.float32)
  own = jnp.tile(jnp.arange(combos), 50)
  drawn = np.asarray(mismatched_texts(jax.random.key(0), own, table))
  assert not np.any(drawn[:, 0] == np.asarray(own))
  assert len(np.unique(drawn[:, 0])) == combos and set(np.unique(drawn[:, 1])) == set(range(phrasings))


def test_updates_reject_bad_arguments():
  from jaxgen.objectives import stackgan_updates

  with pytest.raises(ValueError, match="stage must be 1 or 2"):
    stackgan_updates(stage=3, latent_dim=4, caption_table=np.zeros((2, 1, 3)))
  with pytest.raises(ValueError, match=r"caption_table must be \(combinations, phrasings, embedding_dim\)"):
    stackgan_updates(stage=1, latent_dim=4, caption_table=np.zeros((2, 3)))
