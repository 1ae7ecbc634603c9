"""Reconstruction log-likelihoods log p(x | z) for VAE decoders.

Each function sums over ``axis`` (the data dimensions) and returns one value
per example. ``axis=-1`` suits flat vectors; for images of shape
``[batch, height, width, channels]`` pass ``axis=(-3, -2, -1)``.
"""

import math
from typing import Sequence

import jax
import jax.numpy as jnp

Axis = int | Sequence[int] | None

_LOG_2PI = math.log(2.0 * math.pi)


def bernoulli_log_likelihood(x: jax.Array, logits: jax.Array, axis: Axis = -1) -> jax.Array:
  r"""log p(x) = sum x log sigmoid(l) + (1 - x) log sigmoid(-l) = -sum x softplus(-l) + (1 - x) softplus(l).

  The Bernoulli decoder of Kingma & Welling (2014), Appendix C.1, from logits
  ``l`` so that no probability is ever clipped: ``log sigmoid(l) = -softplus(-l)``
  is finite with finite gradient for any finite logit (also +-1e4). ``x`` may
  be binary or in [0, 1] (then this is minus the binary cross-entropy).

  Args:
    x: observations in [0, 1], shape ``[..., D]`` (or ``[..., H, W, C]``).
    logits: decoder logits, same shape as ``x``.
    axis: axis or axes summed over; e.g. ``(-3, -2, -1)`` for images, ``None``
      for all.

  Returns:
    log p(x) in nats, ``x`` with ``axis`` removed.

  Example:
    >>> import jax.numpy as jnp
    >>> ll = bernoulli_log_likelihood(jnp.array([1.0, 0.0]), jnp.array([0.0, 0.0]))
    >>> print(f"{ll:.4f}")  # 2 log(1/2)
    -1.3863

  References:
    Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014, Appendix C.1.
  """
  x = jnp.asarray(x)
  logits = jnp.asarray(logits)
  if x.shape != logits.shape:
    raise ValueError(
        f"bernoulli_log_likelihood: x {x.shape} and logits {logits.shape} must have the same shape."
    )
  # Two softplus terms instead of x * l - softplus(l): the latter loses all
  # digits of log sigmoid(l) ~ -exp(-l) for large l to cancellation.
  per_dim = -(x * jax.nn.softplus(-logits) + (1.0 - x) * jax.nn.softplus(logits))
  return jnp.sum(per_dim, axis=axis)


def gaussian_log_likelihood(
    x: jax.Array, mean: jax.Array, logvar: jax.Array, axis: Axis = -1
) -> jax.Array:
  r"""log N(x; mean, exp(logvar)) = -1/2 sum [log 2 pi + logvar + (x - mean)^2 exp(-logvar)].

  The diagonal Gaussian decoder of Kingma & Welling (2014), Appendix C.2,
  parameterized by the log-variance.

  Args:
    x: observations, shape ``[..., D]``.
    mean: decoder means, same shape as ``x``.
    logvar: decoder log-variances, same shape as ``x`` (or a scalar for a
      shared, fixed variance).
    axis: axis or axes summed over; ``None`` for all.

  Returns:
    log p(x) in nats, ``x`` with ``axis`` removed.

  Example:
    >>> import jax.numpy as jnp
    >>> ll = gaussian_log_likelihood(jnp.array([0.0]), jnp.array([0.0]), jnp.array([0.0]))
    >>> print(f"{ll:.4f}")  # -1/2 log(2 pi)
    -0.9189

  References:
    Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014, Appendix C.2.
  """
  x = jnp.asarray(x)
  mean = jnp.asarray(mean)
  logvar = jnp.asarray(logvar)
  if x.shape != mean.shape:
    raise ValueError(
        f"gaussian_log_likelihood: x {x.shape} and mean {mean.shape} must have the same shape."
    )
  if logvar.ndim and logvar.shape != x.shape:
    raise ValueError(
        f"gaussian_log_likelihood: logvar {logvar.shape} must be a scalar or have the shape of x {x.shape}."
    )
  per_dim = -0.5 * (_LOG_2PI + logvar + jnp.square(x - mean) * jnp.exp(-logvar))
  return jnp.sum(per_dim, axis=axis)
