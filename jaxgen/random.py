"""Sampling helpers for generative models. Every function takes ``key`` explicitly.

Use typed keys, ``jax.random.key(seed)``, split or ``fold_in`` once per consumer.
"""

from typing import Sequence

import jax
import jax.numpy as jnp


def reparameterize(
    key: jax.Array, mean: jax.Array, logvar: jax.Array, sample_shape: Sequence[int] = ()
) -> jax.Array:
  r"""z = mean + exp(logvar / 2) * eps, eps ~ N(0, I).

  The reparameterization trick of Kingma & Welling (2014), Section 2.4: the
  randomness is in ``eps`` (drawn from ``key``), so z is differentiable in
  ``mean`` and ``logvar``.

  Args:
    key: a PRNG key (typed, from ``jax.random.key``).
    mean: means, shape ``[..., D]``.
    logvar: log-variances, same shape as ``mean``.
    sample_shape: leading shape of independent draws, e.g. ``(K,)`` for K
      importance samples (IWAE); ``()`` draws one z per mean.

  Returns:
    Samples of shape ``sample_shape + mean.shape`` and the dtype of ``mean``.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> z = reparameterize(jax.random.key(0), jnp.zeros((2, 3)), jnp.zeros((2, 3)), (5,))
    >>> z.shape
    (5, 2, 3)

  References:
    Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014, Section 2.4
    and eq. 10.
  """
  mean = jnp.asarray(mean)
  logvar = jnp.asarray(logvar)
  if mean.shape != logvar.shape:
    raise ValueError(
        f"reparameterize: mean {mean.shape} and logvar {logvar.shape} must have the same shape."
    )
  dtype = jnp.result_type(mean, logvar)
  if not jnp.issubdtype(dtype, jnp.floating):
    raise ValueError(f"reparameterize: mean and logvar must be floating point, got {dtype}.")
  shape = tuple(sample_shape) + mean.shape
  eps = jax.random.normal(key, shape, dtype)
  # Explicit broadcast over the sample axes (rank promotion may be set to raise).
  std = jnp.broadcast_to(jnp.exp(0.5 * logvar), shape)
  return jnp.broadcast_to(mean, shape) + std * eps


def sample_prior(key: jax.Array, shape: Sequence[int], dtype: jnp.dtype = jnp.float32) -> jax.Array:
  r"""z ~ N(0, I), the standard normal latent prior p(z).

  Args:
    key: a PRNG key.
    shape: output shape, e.g. ``(batch, latent_dim)``.
    dtype: floating dtype of the samples.

  Returns:
    Standard normal samples of the given shape and dtype.

  Example:
    >>> import jax
    >>> sample_prior(jax.random.key(0), (4, 2)).shape
    (4, 2)

  References:
    Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014, Section 3.
  """
  return jax.random.normal(key, tuple(shape), dtype)


def truncated_normal_resample(
    key: jax.Array, shape: Sequence[int], threshold: float | None, dtype: jnp.dtype = jnp.float32
) -> jax.Array:
  r"""z ~ N(0, I) with every entry outside [-threshold, threshold] redrawn until it falls inside.

  The truncation trick of BigGAN (Brock et al. 2019, Section 3.1), used at
  sampling time only: latents whose entries exceed ``threshold`` in
  magnitude are resampled, trading variety for fidelity as the threshold
  shrinks. Redrawing an entry until it is inside is rejection sampling, so
  each entry has exactly the standard normal truncated to
  [-threshold, threshold], density phi(z) / (2 Phi(threshold) - 1) there;
  it is drawn directly by the inverse CDF (``jax.random.truncated_normal``),
  whose cost does not grow as the acceptance rate 2 Phi(threshold) - 1 falls
  (0.2 at threshold 0.25). The draws differ from a redraw loop's for the
  same key; their distribution does not.

  This is not a rescaled normal, as in BigGAN-PyTorch's ``--z_var``
  (``utils.py``, ``prepare_z_y``), nor ``truncation * truncnorm(-2, 2)`` as
  in its TF-Hub demo (``TFHub/biggan_v1.py``).

  Args:
    key: a PRNG key.
    shape: output shape, e.g. ``(batch, latent_dim)``.
    threshold: the truncation threshold, > 0, a Python number (static under
      ``jax.jit``); ``None`` or ``inf`` for no truncation (plain N(0, I)).
    dtype: floating dtype of the samples.

  Returns:
    Samples of the given shape and dtype, all inside
    [-threshold, threshold] (the threshold rounded to ``dtype``).

  Example:
    >>> import jax, jax.numpy as jnp
    >>> z = truncated_normal_resample(jax.random.key(0), (1000, 8), threshold=0.5)
    >>> z.shape, bool(jnp.all(jnp.abs(z) < 0.5))
    ((1000, 8), True)

  References:
    Brock, Donahue & Simonyan, "Large Scale GAN Training for High Fidelity
    Natural Image Synthesis", ICLR 2019, Section 3.1 ("truncation trick").
  """
  shape = tuple(shape)
  if not jnp.issubdtype(dtype, jnp.floating):
    raise ValueError(f"truncated_normal_resample: dtype must be floating point, got {jnp.dtype(dtype)}.")
  if threshold is None:
    return jax.random.normal(key, shape, dtype)
  try:
    t = float(threshold)
  except TypeError:
    raise TypeError(
        "truncated_normal_resample: threshold must be a Python number or None, not a traced value "
        "(close over it or mark it static under jax.jit)."
    ) from None
  if not t > 0:
    raise ValueError(f"truncated_normal_resample: threshold must be > 0 (or None for no truncation), got {t}.")
  if t == float("inf"):
    return jax.random.normal(key, shape, dtype)
  return jax.random.truncated_normal(key, -t, t, shape, dtype)


def bernoulli_binarize(key: jax.Array, probs: jax.Array) -> jax.Array:
  r"""x ~ Bernoulli(probs), elementwise, as floats in {0, 1} (dynamic binarization).

  Draw a fresh binarization of grey-scale images (e.g. MNIST intensities in
  [0, 1]) every time they are used, as in Burda et al. (2016), Section 5.

  Args:
    key: a PRNG key.
    probs: probabilities in [0, 1], any shape, floating dtype.

  Returns:
    0/1 samples with the shape and floating dtype of ``probs`` (float32 for
    float32 input).

  Example:
    >>> import jax, jax.numpy as jnp
    >>> print(bernoulli_binarize(jax.random.key(0), jnp.array([0.0, 1.0])))
    [0. 1.]

  References:
    Burda, Grosse & Salakhutdinov, "Importance Weighted Autoencoders", ICLR
    2016, Section 5.
  """
  probs = jnp.asarray(probs)
  if not jnp.issubdtype(probs.dtype, jnp.floating):
    raise ValueError(
        f"bernoulli_binarize: probs must be floating point in [0, 1], got {probs.dtype}; "
        "divide uint8 images by 255 first."
    )
  return jax.random.bernoulli(key, probs).astype(probs.dtype)
