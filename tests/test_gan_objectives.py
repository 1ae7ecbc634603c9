"""The GAN loss catalogue in training: every loss trains by name, its metrics mean what they say, penalties and AC.

Tiny networks on 2-D points (and one-hot "images" for the conditional case),
one jitted discriminator step and one generator step; the logged D loss is
checked against the loss's formula written here with numpy.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from jaxgen import train
from jaxgen.objectives import _gan

_B = 16
_X = np.random.default_rng(0).normal(size=(_B, 2)).astype(np.float32) + np.float32(2.0)
_Z = np.random.default_rng(1).normal(size=(_B, 3)).astype(np.float32)


class _Generator(nnx.Module):
  def __init__(self, *, rngs):
    self.l1 = nnx.Linear(3, 8, rngs=rngs)
    self.l2 = nnx.Linear(8, 2, rngs=rngs)

  def __call__(self, z, *, train):
    del train
    return self.l2(jnp.tanh(self.l1(z)))


class _Critic(nnx.Module):
  """No batch statistics: per-example input gradients are exact."""

  def __init__(self, *, rngs):
    self.l1 = nnx.Linear(2, 8, rngs=rngs)
    self.l2 = nnx.Linear(8, 1, rngs=rngs)

  def __call__(self, x, *, train, key):
    del train, key
    return self.l2(jnp.tanh(self.l1(x)))[:, 0]


def _fixed_latent(key, num):
  del key
  return jnp.asarray(_Z[:num])


def _setup(**kwargs):
  models = {"generator": _Generator(rngs=nnx.Rngs(0)), "discriminator": _Critic(rngs=nnx.Rngs(1))}
  optimizers = {name: optax.sgd(1e-2) for name in models}
  graphdefs, state = train.init_train_state(models, optimizers, jax.random.key(0))
  updates = train.gan_updates(latent_dim=None, sample_latent=_fixed_latent, **kwargs)
  return graphdefs, state, optimizers, updates


def _outputs(graphdefs, state):
  """D's raw outputs on the real batch and on G's batch, with numpy, at the given state."""
  models = train.merge_models(graphdefs, state)
  fake = models["generator"](jnp.asarray(_Z), train=True)
  d = models["discriminator"]
  return (np.asarray(d(jnp.asarray(_X), train=True, key=None), np.float64),
          np.asarray(d(fake, train=True, key=None), np.float64), models, fake)


def _softplus(x):
  return np.logaddexp(0.0, x)


_D_FORMULAS = {
    "minimax": lambda r, f: np.mean(_softplus(-r) + _softplus(f)),
    "non_saturating": lambda r, f: np.mean(_softplus(-r) + _softplus(f)),
    "hinge": lambda r, f: np.mean(np.maximum(0, 1 - r) + np.maximum(0, 1 + f)),
    "least_squares": lambda r, f: np.mean(0.5 * (r - 1) ** 2 + 0.5 * f**2),
    "relativistic_average": lambda r, f: np.mean(_softplus(-(r - f.mean())) + _softplus(f - r.mean())),
}


@pytest.mark.parametrize("loss", sorted(train.GAN_LOSSES))
def test_every_loss_trains_by_name_and_logs_what_its_outputs_mean(loss):
  graphdefs, state, optimizers, updates = _setup(loss=loss)
  step = jax.jit(train.make_train_step(graphdefs, optimizers, updates))
  new_state, metrics = step(state, {"x": jnp.asarray(_X)})
  metrics = {k: float(v) for k, v in metrics.items()}
  assert all(np.isfinite(v) for v in metrics.values()), metrics
  spec = train.GAN_LOSSES[loss]
  if spec.logistic:
    assert 0 < metrics["d_real"] < 1 and 0 < metrics["d_fake"] < 1 and "critic_real" not in metrics
  else:  # a sigmoid of a hinge or Wasserstein critic would mean nothing
    assert "critic_real" in metrics and "critic_fake" in metrics and "d_real" not in metrics
  r, f, _, _ = _outputs(graphdefs, state)
  if loss in _D_FORMULAS:
    np.testing.assert_allclose(metrics["d_loss"], _D_FORMULAS[loss](r, f), rtol=1e-5)
  else:  # wgan_gp: the critic loss plus 10 x the gradient penalty
    assert metrics["gradient_penalty"] > 0
    np.testing.assert_allclose(metrics["d_loss"], np.mean(f - r) + 10 * metrics["gradient_penalty"], rtol=1e-5)
  assert not np.allclose(new_state.params["generator"]["l1"]["kernel"][...],
                         state.params["generator"]["l1"]["kernel"][...])


def test_r1_and_r2_add_gamma_over_two_times_the_squared_input_gradient_norm():
  graphdefs, state, optimizers, (d_update, _) = _setup(loss="non_saturating", r1_gamma=4.0, r2_gamma=2.0)
  _, metrics = jax.jit(train.make_train_step(graphdefs, optimizers, [d_update]))(state, {"x": jnp.asarray(_X)})
  r, f, models, fake = _outputs(graphdefs, state)
  d = models["discriminator"]
  # Independent per-example gradients, one example at a time.
  one = lambda x: d(x[None], train=True, key=None)[0]
  grad_sq = lambda xs: np.mean([np.sum(np.asarray(jax.grad(one)(x)) ** 2) for x in xs])
  r1, r2 = grad_sq(jnp.asarray(_X)), grad_sq(fake)
  np.testing.assert_allclose(float(metrics["r1"]), r1, rtol=1e-4)
  np.testing.assert_allclose(float(metrics["r2"]), r2, rtol=1e-4)
  np.testing.assert_allclose(float(metrics["d_loss"]), _D_FORMULAS["non_saturating"](r, f) + 2.0 * r1 + 1.0 * r2,
                             rtol=1e-5)


class _OneHotGenerator(nnx.Module):
  """G(z, y): the one-hot code of y plus a learned offset, so each image carries its label."""

  def __init__(self, num_classes, *, rngs):
    self.num_classes = num_classes
    self.offset = nnx.Linear(3, num_classes, rngs=rngs)

  def __call__(self, z, y, *, train):
    del train
    return jax.nn.one_hot(y, self.num_classes) * 5.0 + 0.01 * self.offset(z)


class _ACCritic(nnx.Module):
  """D(x, y) -> (logits, class logits = x): reads the label off a one-hot image."""

  def __init__(self, num_classes, *, rngs):
    self.l = nnx.Linear(num_classes, 1, rngs=rngs)

  def __call__(self, x, y, *, train, key):
    del y, train, key
    return self.l(x)[:, 0], x


def _conditional_setup(num_classes, class_probs, ac_weight=1.0):
  models = {"generator": _OneHotGenerator(num_classes, rngs=nnx.Rngs(0)),
            "discriminator": _ACCritic(num_classes, rngs=nnx.Rngs(1))}
  optimizers = {name: optax.sgd(1e-2) for name in models}
  graphdefs, state = train.init_train_state(models, optimizers, jax.random.key(0))
  updates = train.gan_updates(latent_dim=3, num_classes=num_classes, class_probs=class_probs, ac_weight=ac_weight)
  return graphdefs, state, optimizers, updates


def test_ac_gan_discriminator_learns_the_class_of_real_and_generated_images():
  num_classes = 4
  labels = np.arange(_B) % num_classes
  real = np.eye(num_classes, dtype=np.float32)[labels] * 5.0
  # All generated images of class 2: the class loss on them is known.
  graphdefs, state, optimizers, (d_update, g_update) = _conditional_setup(num_classes, [0, 0, 1, 0])
  batch = {"x": {"x": jnp.asarray(real), "y": jnp.asarray(labels, jnp.int32)}}
  _, d_metrics = jax.jit(train.make_train_step(graphdefs, optimizers, [d_update]))(state, batch)
  _, g_metrics = jax.jit(train.make_train_step(graphdefs, optimizers, [g_update]))(state, batch)
  assert float(d_metrics["class_acc_real"]) == 1.0 and float(d_metrics["class_acc_fake"]) == 1.0
  ce = lambda logits, y: float(np.mean(-jax.nn.log_softmax(jnp.asarray(logits))[np.arange(len(y)), y]))
  np.testing.assert_allclose(float(d_metrics["class_loss_real"]), ce(real, labels), rtol=1e-5)
  models = train.merge_models(graphdefs, state)
  fake = np.asarray(models["generator"](jnp.asarray(np.zeros((_B, 3), np.float32)), jnp.full(_B, 2), train=True))
  # The fake class loss is that of images of class 2 (up to the small learned offset of each z).
  np.testing.assert_allclose(float(d_metrics["class_loss_fake"]), ce(fake, np.full(_B, 2)), rtol=0.05)
  adversarial = float(d_metrics["d_loss"]) - float(d_metrics["class_loss_real"]) - float(d_metrics["class_loss_fake"])
  assert adversarial > 0  # the logistic D loss part is positive; the class terms of BOTH sets are in d_loss
  assert "g_class_loss" in g_metrics


@pytest.mark.parametrize("class_probs", [None, [0.5, 0.25, 0.125, 0.125]])
def test_labels_of_generated_images_follow_the_class_frequencies(class_probs):
  """A label bug that feeds one class only (BigGAN-PyTorch issue 26) would show here as a degenerate histogram."""
  num_classes = 4
  graphdefs, state, optimizers, (d_update, _) = _conditional_setup(num_classes, class_probs)
  labels = np.arange(256) % num_classes
  real = np.eye(num_classes, dtype=np.float32)[labels] * 5.0
  batch = {"x": {"x": jnp.asarray(real), "y": jnp.asarray(labels, jnp.int32)}}
  step = jax.jit(train.make_train_step(graphdefs, optimizers, [d_update]))
  # class_acc_fake is 1 only if G got the labels the class loss used; the fake class loss reveals their histogram.
  _, metrics = step(state, batch)
  assert float(metrics["class_acc_fake"]) == 1.0
  draws = np.asarray(_gan.sample_class_labels(jax.random.key(3), 4096, jnp.log(jnp.asarray(
      class_probs or [0.25] * 4, jnp.float32))))
  freq = np.bincount(draws, minlength=num_classes) / draws.size
  np.testing.assert_allclose(freq, class_probs or [0.25] * 4, atol=0.03)
  one_batch = np.asarray(_gan.sample_class_labels(jax.random.key(4), 64, jnp.log(jnp.full(num_classes, 0.25))))
  assert len(np.unique(one_batch)) == num_classes


def test_bad_loss_options_are_one_line_errors():
  with pytest.raises(ValueError, match="unknown GAN loss 'hinj'. Did you mean 'hinge'"):
    train.gan_updates(loss="hinj", latent_dim=2)
  with pytest.raises(ValueError, match="unknown DiffAugment policy 'colour' in augment='colour,translation'. Did you mean 'color'"):
    train.gan_updates(latent_dim=2, augment="colour,translation")
  with pytest.raises(ValueError, match="r1_gamma must be >= 0"):
    train.gan_updates(latent_dim=2, r1_gamma=-1.0)
  with pytest.raises(ValueError, match="class_probs must be 3 non-negative"):
    train.gan_updates(latent_dim=2, num_classes=3, class_probs=[1.0, 0.0])
  graphdefs, state, optimizers, updates = _setup()
  step = jax.jit(train.make_train_step(graphdefs, optimizers, updates))
  with pytest.raises(ValueError, match="pass num_classes for a conditional GAN"):
    step(state, {"x": {"x": jnp.asarray(_X), "y": jnp.zeros(_B, jnp.int32)}})


def test_diff_augment_reaches_the_discriminator_and_keeps_gradients():
  # Augmented images change D's outputs, G still gets a finite gradient through the augmentation.
  models = {"generator": _ImageGenerator(rngs=nnx.Rngs(0)), "discriminator": _ImageCritic(rngs=nnx.Rngs(1))}
  optimizers = {name: optax.sgd(1e-2) for name in models}
  graphdefs, state = train.init_train_state(models, optimizers, jax.random.key(0))
  images = jnp.asarray(np.random.default_rng(0).uniform(-1, 1, (8, 8, 8, 1)).astype(np.float32))
  plain = train.gan_updates(latent_dim=3, loss="hinge")
  augmented = train.gan_updates(latent_dim=3, loss="hinge", augment="translation,cutout")
  m_plain = jax.jit(train.make_train_step(graphdefs, optimizers, plain))(state, {"x": images})[1]
  new_state, m_aug = jax.jit(train.make_train_step(graphdefs, optimizers, augmented))(state, {"x": images})
  assert float(m_plain["critic_real"]) != float(m_aug["critic_real"])
  assert np.isfinite(float(m_aug["grad_norm/generator"])) and float(m_aug["grad_norm/generator"]) > 0


class _ImageGenerator(nnx.Module):
  def __init__(self, *, rngs):
    self.l = nnx.Linear(3, 64, rngs=rngs)

  def __call__(self, z, *, train):
    del train
    return jnp.tanh(self.l(z)).reshape((-1, 8, 8, 1))


class _ImageCritic(nnx.Module):
  def __init__(self, *, rngs):
    self.l = nnx.Linear(64, 1, rngs=rngs)

  def __call__(self, x, *, train, key):
    del train, key
    return self.l(x.reshape((x.shape[0], -1)))[:, 0]
