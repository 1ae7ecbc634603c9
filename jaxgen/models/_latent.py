"""What the VAE families share: the decoder likelihood, reconstruction, prior sampling.

A latent-variable model here has a standard normal prior p(z) = N(0, I), an
amortized Gaussian posterior q(z | x) = N(mean(x), diag(exp(logvar(x)))) from
``encode``, and a decoder p(x | z) that is Bernoulli (pixel logits) or a
diagonal Gaussian (pixel means and log-variances). :class:`LatentVariableMixin`
turns ``encode`` and ``decode`` into everything else the metrics, the training
objectives and the experiments need.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen import random as jgrandom
from jaxgen.losses import bernoulli_log_likelihood, gaussian_log_likelihood

LIKELIHOODS = ("bernoulli", "gaussian")
ACTIVATIONS = {"relu": jax.nn.relu, "tanh": jnp.tanh, "elu": jax.nn.elu, "softplus": jax.nn.softplus}
_IMAGE_AXES = (-3, -2, -1)


def activation_fn(name: str):
  """The activation called ``name`` ('relu', 'tanh', 'elu', 'softplus')."""
  if name not in ACTIVATIONS:
    raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}.")
  return ACTIVATIONS[name]


def check_likelihood(likelihood: str) -> None:
  if likelihood not in LIKELIHOODS:
    raise ValueError(f"unknown likelihood {likelihood!r}; choose 'bernoulli' (binary or [0, 1] pixels) or 'gaussian'.")


def check_image_shape(image_shape) -> tuple[int, int, int]:
  shape = tuple(int(d) for d in image_shape)
  if len(shape) != 3 or min(shape) < 1:
    raise ValueError(f"image_shape must be (height, width, channels) of positive sizes, got {image_shape}.")
  return shape


class LatentVariableMixin:
  """Methods of a VAE given ``encode(x) -> (mean, logvar)`` and ``decode(z)``.

  The class using it sets ``self.likelihood`` ('bernoulli' or 'gaussian'),
  ``self.latent_dim`` and ``self.image_shape``; ``decode(z)`` maps latents
  ``(B, latent_dim)`` to pixel logits ``(B, H, W, C)`` (Bernoulli) or to a pair
  ``(mean, logvar)`` of that shape (Gaussian).
  """

  likelihood: str
  latent_dim: int
  image_shape: tuple[int, int, int]

  def _decode_flat(self, z: jax.Array):
    """``decode`` for latents with any leading shape ``(..., latent_dim)``."""
    lead = z.shape[:-1]
    out = self.decode(z.reshape((-1, z.shape[-1])))
    unflat = lambda a: a.reshape(lead + a.shape[1:])
    return jax.tree.map(unflat, out)

  def log_likelihood(self, x: jax.Array, z: jax.Array) -> jax.Array:
    """log p(x | z) per example, summed over pixels.

    Args:
      x: images ``(B, H, W, C)``.
      z: latents ``(*S, B, latent_dim)``, any number of leading sample axes.

    Returns:
      ``(*S, B)`` log-likelihoods in nats.
    """
    out = self._decode_flat(z)
    if self.likelihood == "bernoulli":
      xb = jnp.broadcast_to(x, out.shape)
      return bernoulli_log_likelihood(xb, out, axis=_IMAGE_AXES)
    mean, logvar = out
    xb = jnp.broadcast_to(x, mean.shape)
    return gaussian_log_likelihood(xb, mean, jnp.broadcast_to(logvar, mean.shape), axis=_IMAGE_AXES)

  def mean_image(self, z: jax.Array) -> jax.Array:
    """E[x | z] as images in [0, 1]: sigmoid of the logits, or the clipped Gaussian mean."""
    out = self._decode_flat(z)
    if self.likelihood == "bernoulli":
      return jax.nn.sigmoid(out)
    return jnp.clip(out[0], 0.0, 1.0)

  def reconstruct(self, x: jax.Array, key: jax.Array) -> jax.Array:
    """E[x | z] for one z ~ q(z | x): images ``(B, H, W, C)`` in [0, 1]."""
    mean, logvar = self.encode(x)
    return self.mean_image(jgrandom.reparameterize(key, mean, logvar))

  def sample(self, key: jax.Array, num: int) -> jax.Array:
    """``num`` images E[x | z], z ~ p(z) = N(0, I): ``(num, H, W, C)`` in [0, 1].

    The decoder mean, not a draw from p(x | z): pixel noise of a Bernoulli draw
    hides what the model learned (Kingma & Welling 2014, Figure 4 show means).
    """
    z = jgrandom.sample_prior(key, (num, self.latent_dim))
    return self.mean_image(z)


def split_gaussian_params(h: jax.Array, latent_dim: int) -> tuple[jax.Array, jax.Array]:
  """Splits the last axis ``2 * latent_dim`` into (mean, logvar)."""
  return h[..., :latent_dim], h[..., latent_dim:]


def sample_images(models, key, num, config, network: str = "vae"):
  """Registry sampler of the VAE families: decoder means of prior draws, numpy in [0, 1]."""
  del config
  return np.asarray(models[network].sample(key, num))


def sample_labels(labels, num: int, num_classes: int) -> np.ndarray:
  """The labels of ``num`` samples: checked (shape (num,), integers in [0, num_classes)) or, when None,
  ``arange(num) % num_classes`` (a grid whose rows are the classes when shown num_classes to a row)."""
  labels = np.arange(num) % num_classes if labels is None else np.asarray(labels)
  if labels.shape != (num,):
    raise ValueError(f"labels must have shape ({num},), one per image, got {labels.shape}")
  if not np.issubdtype(labels.dtype, np.integer):
    raise ValueError(f"labels must be integers in [0, {num_classes}), got dtype {labels.dtype}")
  if num and (labels.min() < 0 or labels.max() >= num_classes):
    raise ValueError(f"labels must lie in [0, {num_classes}), got values in [{labels.min()}, {labels.max()}]")
  return labels
