"""Test log-likelihood of latent-variable models: the ELBO and the IWAE estimate.

Both work for any model with a standard normal prior that follows
:class:`LatentVariableModel` (the MLP and convolutional VAEs do). Examples are
processed in fixed-size batches (the last one padded, so one compilation
serves all), and the importance samples of one batch in chunks inside a
``jax.lax.scan`` with a running log-sum-exp, so k = 5000 samples need the
memory of ``sample_chunk`` samples only.
"""

from __future__ import annotations

import functools
import math
from typing import Protocol

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from tqdm.auto import tqdm

from jaxgen import random as jgrandom
from jaxgen.losses import gaussian_kl, gaussian_log_likelihood


class LatentVariableModel(Protocol):
  """p(z) = N(0, I), q(z | x) = N(mean, diag(exp(logvar))), and log p(x | z)."""

  latent_dim: int

  def encode(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(mean, logvar) of q(z | x), each ``(B, latent_dim)``, for ``x`` ``(B, ...)``."""
    ...

  def log_likelihood(self, x: jax.Array, z: jax.Array) -> jax.Array:
    """log p(x | z) ``(*S, B)`` for ``x`` ``(B, ...)`` and ``z`` ``(*S, B, latent_dim)``."""
    ...


@functools.partial(jax.jit, static_argnames=("graphdef", "num_samples"))
def _elbo_batch(graphdef, state, x, key, num_samples):
  model = nnx.merge(graphdef, state)
  mean, logvar = model.encode(x)
  z = jgrandom.reparameterize(key, mean, logvar, (num_samples,))
  return jnp.mean(model.log_likelihood(x, z), axis=0) - gaussian_kl(mean, logvar)


@functools.partial(jax.jit, static_argnames=("graphdef", "num_samples", "sample_chunk"))
def _iwae_batch(graphdef, state, x, key, num_samples, sample_chunk):
  model = nnx.merge(graphdef, state)
  mean, logvar = model.encode(x)
  shape = (sample_chunk, *mean.shape)
  mean_s, logvar_s = jnp.broadcast_to(mean, shape), jnp.broadcast_to(logvar, shape)
  zeros = jnp.zeros(shape, mean.dtype)

  def chunk(running, c):
    z = jgrandom.reparameterize(jax.random.fold_in(key, c), mean, logvar, (sample_chunk,))
    # log w = log p(x | z) + log p(z) - log q(z | x)   (Burda et al. 2016, eq. 8)
    log_prior = gaussian_log_likelihood(z, zeros, zeros)
    log_posterior = gaussian_log_likelihood(z, mean_s, logvar_s)
    log_w = model.log_likelihood(x, z) + log_prior - log_posterior
    # The last chunk may run past num_samples: those draws get weight 0.
    index = c * sample_chunk + jnp.arange(sample_chunk)
    valid = jnp.broadcast_to((index < num_samples)[:, None], log_w.shape)
    log_w = jnp.where(valid, log_w, -jnp.inf)
    return jnp.logaddexp(running, jax.nn.logsumexp(log_w, axis=0)), None

  start = jnp.full(mean.shape[:1], -jnp.inf, mean.dtype)
  total, _ = jax.lax.scan(chunk, start, jnp.arange(-(-num_samples // sample_chunk)))
  return total - math.log(num_samples)


def _batched(fn, model, x, key, batch_size, progress=None):
  """``fn`` over batches of ``x`` (the last padded), concatenated; a tqdm bar when ``progress`` names it."""
  if batch_size < 1:
    raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
  x = jnp.asarray(x)
  n = x.shape[0]
  if n == 0:
    raise ValueError("no examples to evaluate: x is empty.")
  graphdef, state = nnx.split(model)
  batch_size = min(batch_size, n)
  out = []
  bar = tqdm(total=n, desc=progress, unit="ex", disable=progress is None, dynamic_ncols=True)
  for i, start in enumerate(range(0, n, batch_size)):
    xb = x[start : start + batch_size]
    m = xb.shape[0]
    if m < batch_size:  # Pad by repetition so the batch shape, and the compiled function, stay the same.
      xb = jnp.concatenate([xb, jnp.broadcast_to(xb[:1], (batch_size - m, *xb.shape[1:]))], axis=0)
    out.append(np.asarray(fn(graphdef, state, xb, jax.random.fold_in(key, i)))[:m])
    bar.update(m)
  bar.close()
  return np.concatenate(out)


def evaluate_elbo(
    model: LatentVariableModel, x, key: jax.Array, *, batch_size: int = 500, num_samples: int = 1,
    progress: str | None = None,
) -> np.ndarray:
  r"""ELBO(x) = E_{q(z|x)}[log p(x | z)] - KL(q(z | x) || p(z)), per example, in nats.

  The expectation is a Monte Carlo mean over ``num_samples`` reparameterized
  draws; the KL is exact (Kingma & Welling 2014, eq. 10 and Appendix B).

  Args:
    model: a :class:`LatentVariableModel`.
    x: examples ``(N, ...)``.
    key: PRNG key; batch ``i`` uses ``fold_in(key, i)``.
    batch_size: examples per compiled call.
    num_samples: draws of z per example.
    progress: a description shows a progress bar over the examples (stderr).

  Returns:
    numpy ``(N,)``: the ELBO of each example (the test negative ELBO is
    ``-mean``).

  Example:
    >>> import jax, numpy as np
    >>> from flax import nnx
    >>> from jaxgen.models.vae import VAE, VAEConfig
    >>> vae = VAE(VAEConfig(image_shape=(8, 8, 1), hidden_sizes=(16,), latent_dim=2), rngs=nnx.Rngs(0))
    >>> evaluate_elbo(vae, np.zeros((5, 8, 8, 1), np.float32), jax.random.key(0), batch_size=2).shape
    (5,)
  """
  if num_samples < 1:
    raise ValueError(f"num_samples must be >= 1, got {num_samples}.")
  fn = functools.partial(_elbo_batch, num_samples=num_samples)
  return _batched(lambda g, s, xb, k: fn(g, s, xb, k), model, x, key, batch_size, progress)


def iwae_log_likelihood(
    model: LatentVariableModel,
    x,
    key: jax.Array,
    *,
    num_samples: int = 5000,
    batch_size: int = 20,
    sample_chunk: int = 5,
    progress: str | None = None,
) -> np.ndarray:
  r"""log p(x) ~ L_k = log (1/k) sum_i p(x, z_i) / q(z_i | x), z_i ~ q(z | x), per example.

  The importance-weighted bound of Burda et al. (2016), eq. 8: a lower bound
  on log p(x) in expectation that increases with k and tends to log p(x)
  (their Theorem 1); k = 5000 is their test log-likelihood estimate
  (Section 5). Samples are drawn ``sample_chunk`` at a time and combined with
  a running log-sum-exp, so memory is ``batch_size * sample_chunk`` decoder
  outputs whatever k.

  Args:
    model: a :class:`LatentVariableModel`.
    x: examples ``(N, ...)``.
    key: PRNG key; batch ``i`` uses ``fold_in(key, i)``, its chunk ``c``
      ``fold_in(fold_in(key, i), c)``.
    num_samples: k, importance samples per example.
    batch_size: examples per compiled call.
    sample_chunk: importance samples per scan step (lowered to k if larger).
    progress: a description shows a progress bar over the examples (stderr).

  Returns:
    numpy ``(N,)``: the estimate of log p(x) of each example, in nats (the
    test NLL is ``-mean``).
  """
  if num_samples < 1 or sample_chunk < 1:
    raise ValueError(f"num_samples and sample_chunk must be >= 1, got {num_samples}, {sample_chunk}.")
  fn = functools.partial(_iwae_batch, num_samples=num_samples, sample_chunk=min(sample_chunk, num_samples))
  return _batched(lambda g, s, xb, k: fn(g, s, xb, k), model, x, key, batch_size, progress)
