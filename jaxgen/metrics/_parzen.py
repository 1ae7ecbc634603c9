"""Parzen-window (Gaussian kernel density) log-likelihood of test data under model samples.

The evaluation of Goodfellow et al. (2014), Section 5 and Table 1 (after
Breuleux et al. 2011): fit a Gaussian Parzen window to samples of the model,
pick its width on validation data, report the mean log-likelihood of the test
set. With N samples s_i in d dimensions and width sigma,

  log p(x) = logsumexp_i(-||x - s_i||^2 / (2 sigma^2)) - log N - d/2 log(2 pi sigma^2).

The kernel sum runs over chunks of samples with a running log-sum-exp inside one
compiled `jax.lax.scan`, so memory stays at (test batch x sample chunk) however
many samples there are; the squared distances of a chunk are computed once and
shared by every candidate width.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np


def _flatten(a, name: str) -> np.ndarray:
  a = np.asarray(a, dtype=np.float32)
  if a.ndim < 2:
    raise ValueError(f"{name} must have shape (N, ...) with one example per row, got shape {a.shape}.")
  return a.reshape(a.shape[0], int(np.prod(a.shape[1:])))


@functools.partial(jax.jit, static_argnames=("sample_chunk",))
def _log_density_batch(x, samples, sigmas, num_samples, *, sample_chunk: int):
  """log p(x) for a batch x (B, d), every width in sigmas (S,): returns (S, B).

  `samples` (M, d) is padded to a multiple of `sample_chunk`; rows at index >=
  num_samples are padding and get no kernel mass.
  """
  b, d = x.shape
  chunks = samples.reshape(-1, sample_chunk, d)
  # ||x - s||^2 = ||x||^2 + ||s||^2 - 2 x.s, as a matrix product. Centering both
  # on the samples' mean first keeps the norms small, so the cancellation in
  # float32 costs little next to 2 sigma^2 (>= 0.02 for sigma >= 0.1).
  center = jnp.sum(samples, axis=0) / num_samples
  x = x - center[None, :]
  x_sq = jnp.sum(x * x, axis=1)
  inv_two_var = 1.0 / (2.0 * sigmas * sigmas)

  def body(carry, inputs):
    running_max, running_sum = carry  # (S, B) each: log-sum-exp = max + log(sum)
    chunk, index = inputs
    s = chunk - center[None, :]
    sq = x_sq[:, None] + jnp.sum(s * s, axis=1)[None, :] - 2.0 * (x @ s.T)
    sq = jnp.maximum(sq, 0.0)  # rounding can make a tiny distance negative
    valid = (index * sample_chunk + jnp.arange(sample_chunk)) < num_samples
    logits = -sq[None, :, :] * inv_two_var[:, None, None]  # (S, B, chunk)
    logits = jnp.where(valid[None, None, :], logits, -jnp.inf)
    chunk_max = jnp.max(logits, axis=2)
    new_max = jnp.maximum(running_max, chunk_max)
    running_sum = running_sum * jnp.exp(running_max - new_max) + jnp.sum(
        jnp.exp(logits - new_max[:, :, None]), axis=2
    )
    return (new_max, running_sum), None

  init = (jnp.full((sigmas.shape[0], b), -jnp.inf, x.dtype), jnp.zeros((sigmas.shape[0], b), x.dtype))
  # The first chunk always holds a real sample, so running_max is finite after it
  # and exp(-inf - finite) = 0 never meets -inf - -inf.
  (running_max, running_sum), _ = jax.lax.scan(body, init, (chunks, jnp.arange(chunks.shape[0])))
  log_norm = jnp.log(num_samples.astype(x.dtype)) + 0.5 * d * jnp.log(2.0 * jnp.pi * sigmas * sigmas)
  return running_max + jnp.log(running_sum) - log_norm[:, None]


def parzen_log_density(
    x, samples, sigma, *, batch_size: int = 100, sample_chunk: int = 1000
) -> np.ndarray:
  r"""Per-example log p(x) under a Gaussian Parzen window on ``samples``.

  log p(x) = logsumexp_i(-||x - s_i||^2 / (2 sigma^2)) - log N - d/2 log(2 pi sigma^2).

  Args:
    x: points to evaluate, shape ``(B, ...)`` (images are flattened).
    samples: the N kernel centres (model samples), shape ``(N, ...)`` with the
      same trailing shape as ``x``.
    sigma: kernel width, a scalar, or a 1-D array of S widths evaluated together
      (the distances are computed once for all of them).
    batch_size: test points per compiled call (the last batch is padded).
    sample_chunk: samples per step of the running log-sum-exp; memory is
      ``S * batch_size * sample_chunk`` floats.

  Returns:
    float32 numpy array ``(B,)`` for a scalar sigma, ``(S, B)`` for an array.

  Example:
    >>> import numpy as np
    >>> lp = parzen_log_density(np.zeros((1, 2)), np.zeros((1, 2)), 1.0)
    >>> print(f"{lp[0]:.4f}")  # log N(0; 0, I_2) = -log(2 pi)
    -1.8379

  References:
    Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014, Section 5;
    Breuleux, Bengio and Vincent, "Quickly generating representative samples
    from an RBM-derived process", Neural Computation 2011.
  """
  x = _flatten(x, "x")
  samples = _flatten(samples, "samples")
  if x.shape[1] != samples.shape[1]:
    raise ValueError(f"x has {x.shape[1]} dimensions per example but samples have {samples.shape[1]}.")
  if samples.shape[0] == 0:
    raise ValueError("samples is empty: a Parzen window needs at least one sample.")
  scalar = np.ndim(sigma) == 0
  sigmas = np.atleast_1d(np.asarray(sigma, np.float32))
  if sigmas.ndim != 1 or not np.all(np.isfinite(sigmas)) or np.any(sigmas <= 0):
    raise ValueError(f"sigma must be a positive scalar or 1-D array of positive widths, got {sigma!r}.")
  if batch_size < 1 or sample_chunk < 1:
    raise ValueError(f"batch_size and sample_chunk must be >= 1, got {batch_size} and {sample_chunk}.")
  n = samples.shape[0]
  sample_chunk = min(sample_chunk, n)
  padded = np.zeros((math.ceil(n / sample_chunk) * sample_chunk, samples.shape[1]), np.float32)
  padded[:n] = samples
  padded = jnp.asarray(padded)
  num_samples = jnp.asarray(n, jnp.int32)
  sigmas_dev = jnp.asarray(sigmas)
  batch_size = min(batch_size, max(x.shape[0], 1))
  out = []
  for start in range(0, x.shape[0], batch_size):
    batch = x[start : start + batch_size]
    real = batch.shape[0]
    if real < batch_size:  # same shape every call: one compilation
      batch = np.concatenate([batch, np.zeros((batch_size - real, batch.shape[1]), np.float32)])
    lp = _log_density_batch(jnp.asarray(batch), padded, sigmas_dev, num_samples, sample_chunk=sample_chunk)
    out.append(np.asarray(lp)[:, :real])
  result = np.concatenate(out, axis=1) if out else np.zeros((sigmas.shape[0], 0), np.float32)
  return result[0] if scalar else result


def parzen_select_sigma(
    samples, valid, sigmas=np.logspace(-1, 0, 10), *, batch_size: int = 100, sample_chunk: int = 1000
) -> tuple[float, np.ndarray]:
  """The kernel width with the highest mean validation log-likelihood.

  Goodfellow et al. (2014) search ``np.logspace(-1, 0, 10)`` on 1,000 MNIST
  validation images (``parzen_ll.py`` of their released code).

  Args:
    samples: model samples ``(N, ...)``.
    valid: validation examples ``(V, ...)``.
    sigmas: candidate widths, 1-D.
    batch_size: validation points per compiled call.
    sample_chunk: samples per step of the running log-sum-exp.

  Returns:
    ``(sigma, mean_log_likelihoods)``: the best width and the mean validation
    log-likelihood of every candidate (same order as ``sigmas``).
  """
  sigmas = np.asarray(sigmas, np.float32)
  if sigmas.ndim != 1 or sigmas.size == 0:
    raise ValueError(f"sigmas must be a non-empty 1-D array of widths, got shape {sigmas.shape}.")
  lp = parzen_log_density(valid, samples, sigmas, batch_size=batch_size, sample_chunk=sample_chunk)
  means = lp.mean(axis=1)
  return float(sigmas[int(np.argmax(means))]), means


def parzen_log_likelihood(
    samples, test, sigma: float, batch_size: int = 100, *, sample_chunk: int = 1000
) -> tuple[float, float]:
  """Mean Parzen-window log-likelihood of ``test`` and its standard error.

  The standard error is std(log p) / sqrt(T) with the population std (ddof 0),
  as in the released ``parzen_ll.py`` behind Table 1 of Goodfellow et al. 2014.

  Args:
    samples: model samples ``(N, ...)`` (10,000 in the paper).
    test: test examples ``(T, ...)``.
    sigma: kernel width (e.g. from :func:`parzen_select_sigma`).
    batch_size: test points per compiled call.
    sample_chunk: samples per step of the running log-sum-exp.

  Returns:
    ``(mean, standard_error)`` in nats.
  """
  if np.ndim(sigma) != 0:
    raise ValueError(f"sigma must be a scalar width here, got shape {np.shape(sigma)}.")
  lp = parzen_log_density(test, samples, sigma, batch_size=batch_size, sample_chunk=sample_chunk)
  if lp.size == 0:
    raise ValueError("test is empty.")
  return float(lp.mean()), float(lp.std() / np.sqrt(lp.size))
