"""Variational bounds on log p(x): the ELBO and the importance-weighted bound."""

import math
from typing import Sequence

import jax
import jax.numpy as jnp

from jaxgen.losses._divergences import _check_floats, gaussian_kl

Axis = int | Sequence[int] | None


def elbo(
    log_likelihood: jax.Array,
    mean: jax.Array,
    logvar: jax.Array,
    beta: float = 1.0,
    prior_mean: jax.Array | float = 0.0,
    prior_logvar: jax.Array | float = 0.0,
    axis: Axis = -1,
) -> jax.Array:
  r"""ELBO = E_q[log p(x | z)] - beta * KL(q(z | x) || p(z)), per example, in nats.

  ``log_likelihood`` is the (single- or multi-sample) reconstruction term
  log p(x | z) with z ~ q(z | x) = N(mean, exp(logvar)), e.g. from
  ``bernoulli_log_likelihood``; the KL to the prior
  N(prior_mean, exp(prior_logvar)) is analytic (``gaussian_kl``, summed over
  the latent ``axis``). ``beta = 1`` gives the bound of Kingma & Welling
  (2014), eq. 10; ``beta != 1`` gives the beta-VAE objective (Higgins et al.,
  2017). The loss to minimize is ``-elbo(...)``, averaged by the caller.

  Args:
    log_likelihood: log p(x | z) per example, float, shape ``[...]`` (<= 0
      for a Bernoulli decoder on x in [0, 1]; any real for a Gaussian one).
    mean: posterior means, float, shape ``[..., D]``.
    logvar: posterior log-variances, float (any real), same shape as ``mean``.
    beta: weight of the KL term (>= 0).
    prior_mean: prior mean, a Python number or a float array shaped like
      ``mean``.
    prior_logvar: prior log-variance, a Python number or a float array shaped
      like ``mean``.
    axis: latent axis or axes summed over in the KL.

  Returns:
    The ELBO, shape of ``log_likelihood``: at most ``log_likelihood`` (the KL
    is >= 0); for beta = 1 a lower bound on log p(x).

  Raises:
    ValueError: if an array argument is not float, or ``log_likelihood`` does
      not hold one value per example of the KL.

  Example:
    >>> import jax.numpy as jnp
    >>> value = elbo(jnp.array(-10.0), jnp.array([1.0]), jnp.array([0.0]))
    >>> print(f"{value:.4f}")  # -10 - KL(N(1, 1) || N(0, 1)) = -10 - 1/2
    -10.5000

  References:
    Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014, eq. 10 and
    Appendix B.
  """
  log_likelihood = jnp.asarray(log_likelihood)
  _check_floats("elbo", "log_likelihood", log_likelihood, "float log-likelihoods")
  _check_floats("elbo", "mean", jnp.asarray(mean), "float posterior means")
  _check_floats("elbo", "logvar", jnp.asarray(logvar), "float posterior log-variances")
  kl = gaussian_kl(mean, logvar, prior_mean, prior_logvar, axis=axis)
  if log_likelihood.shape != kl.shape:
    raise ValueError(
        f"elbo: log_likelihood {log_likelihood.shape} must have one value per example, the shape "
        f"of the KL {kl.shape} (mean {jnp.shape(mean)} summed over axis={axis})."
    )
  return log_likelihood - beta * kl


def iwae_bound(log_weights: jax.Array, axis: int = -1) -> jax.Array:
  r"""L_K = log (1/K) sum_k w_k = logsumexp_k(log w_k) - log K.

  With log w_k = log p(x, z_k) - log q(z_k | x) for z_1..z_K ~ q(z | x), this
  is the importance-weighted lower bound of Burda et al. (2016), eq. 8; K = 1
  is the ELBO. ``logsumexp`` keeps it exact for log-weights far from 0
  (around -1000, where exp underflows).

  Args:
    log_weights: log importance weights, float (any real), shape ``[..., K]``.
    axis: the importance-sample axis.

  Returns:
    The bound in nats, ``log_weights`` with ``axis`` removed: between the
    mean and the maximum of the log-weights along ``axis``.

  Raises:
    ValueError: if ``log_weights`` is a scalar or not float.

  Example:
    >>> import jax.numpy as jnp
    >>> print(f"{iwae_bound(jnp.array([-1000.0, -1000.0])):.4f}")
    -1000.0000

  References:
    Burda, Grosse & Salakhutdinov, "Importance Weighted Autoencoders", ICLR
    2016, eq. 8.
  """
  log_weights = jnp.asarray(log_weights)
  _check_floats("iwae_bound", "log_weights", log_weights, "float log importance weights")
  if log_weights.ndim == 0:
    raise ValueError("iwae_bound: log_weights needs an importance-sample axis; got a scalar.")
  num_samples = log_weights.shape[axis]
  return jax.nn.logsumexp(log_weights, axis=axis) - math.log(num_samples)
