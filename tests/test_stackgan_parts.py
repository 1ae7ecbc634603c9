"""StackGAN's digit captions and their fixed embedding, and conditioning augmentation (CA) with its KL."""

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
