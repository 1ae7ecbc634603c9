"""Log-densities of observations and the autoencoder's reconstruction loss.

The Bernoulli and diagonal Gaussian log-likelihoods (VAE decoders p(x | z),
and the Gaussian prior and posterior densities of latents), mixtures of
diagonal Gaussians, and the reconstruction loss of an autoencoder. Each
function reduces over ``axis`` (the data dimensions) and returns one value per
example. ``axis=-1`` suits flat vectors; for images of shape
``[batch, height, width, channels]`` pass ``axis=(-3, -2, -1)``.

Observations must be floats: integer arrays (uint8 images of 0..255) are
refused, since a Bernoulli "log-probability" of x = 255 is a meaningless
positive number. Parameters (logits, means, log-variances) must be floats too.
"""

import math
from typing import Sequence

import jax
import jax.numpy as jnp

from jaxgen.losses._divergences import _check_data, _check_floats

Axis = int | Sequence[int] | None

_LOG_2PI = math.log(2.0 * math.pi)

_RECONSTRUCTION_LOSSES = ("mse", "bce")


def _bernoulli_log_prob(x: jax.Array, logits: jax.Array) -> jax.Array:
  """Elementwise x log sigmoid(l) + (1 - x) log sigmoid(-l)."""
  # Two softplus terms instead of x * l - softplus(l): the latter loses all
  # digits of log sigmoid(l) ~ -exp(-l) for large l to cancellation.
  return -(x * jax.nn.softplus(-logits) + (1.0 - x) * jax.nn.softplus(logits))


def bernoulli_log_likelihood(x: jax.Array, logits: jax.Array, axis: Axis = -1) -> jax.Array:
  r"""log p(x) = sum x log sigmoid(l) + (1 - x) log sigmoid(-l) = -sum x softplus(-l) + (1 - x) softplus(l).

  The Bernoulli decoder of Kingma & Welling (2014), Appendix C.1, from logits
  ``l`` so that no probability is ever clipped: ``log sigmoid(l) = -softplus(-l)``
  is finite with finite gradient for any finite logit (also +-1e4). ``x`` may
  be binary or in [0, 1] (then this is minus the binary cross-entropy).

  Args:
    x: observations in [0, 1], float or bool (not integer: scale uint8 images
      by 1/255), shape ``[..., D]`` (or ``[..., H, W, C]``).
    logits: decoder logits, float (any real), same shape as ``x``.
    axis: axis or axes summed over; e.g. ``(-3, -2, -1)`` for images, ``None``
      for all.

  Returns:
    log p(x) in nats, ``x`` with ``axis`` removed: <= 0 for x in [0, 1]; a
    log-probability for x in {0, 1}, for x in (0, 1) at most minus the binary
    entropy of x.

  Raises:
    ValueError: if ``x`` has an integer dtype, ``logits`` is not float, or
      their shapes differ.

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
  _check_data("bernoulli_log_likelihood", "x", x)
  _check_floats("bernoulli_log_likelihood", "logits", logits, "float logits")
  if x.shape != logits.shape:
    raise ValueError(
        f"bernoulli_log_likelihood: x {x.shape} and logits {logits.shape} must have the same shape."
    )
  return jnp.sum(_bernoulli_log_prob(x, logits), axis=axis)


def gaussian_log_likelihood(
    x: jax.Array, mean: jax.Array, logvar: jax.Array, axis: Axis = -1
) -> jax.Array:
  r"""log N(x; mean, exp(logvar)) = -1/2 sum [log 2 pi + logvar + (x - mean)^2 exp(-logvar)].

  The diagonal Gaussian decoder of Kingma & Welling (2014), Appendix C.2,
  parameterized by the log-variance; with ``mean = 0, logvar = 0`` the
  standard normal prior log p(z), with the encoder's outputs the posterior
  log q(z | x).

  Args:
    x: observations, float (any real; not integer: scale uint8 images by
      1/255), shape ``[..., D]``.
    mean: decoder means, float, same shape as ``x``.
    logvar: decoder log-variances, float (any real), same shape as ``x`` (or
      a scalar, e.g. a Python number, for a shared, fixed variance).
    axis: axis or axes summed over; ``None`` for all.

  Returns:
    log p(x) in nats, ``x`` with ``axis`` removed: any real (a density may
    exceed 1, so the value is positive for small variances).

  Raises:
    ValueError: if ``x`` has an integer dtype, ``mean`` or an array ``logvar``
      is not float, or the shapes differ.

  Example:
    >>> import jax.numpy as jnp
    >>> ll = gaussian_log_likelihood(jnp.array([0.0]), jnp.array([0.0]), jnp.array([0.0]))
    >>> print(f"{ll:.4f}")  # -1/2 log(2 pi)
    -0.9189

  References:
    Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014, Appendix C.2.
  """
  # A Python number is weakly typed (it takes x's dtype), so logvar=0 stays welcome.
  logvar_is_number = isinstance(logvar, (int, float))
  x = jnp.asarray(x)
  mean = jnp.asarray(mean)
  logvar = jnp.asarray(logvar)
  _check_data("gaussian_log_likelihood", "x", x)
  _check_floats("gaussian_log_likelihood", "mean", mean, "float means")
  if not logvar_is_number:
    _check_floats("gaussian_log_likelihood", "logvar", logvar, "float log-variances")
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


def gaussian_mixture_log_likelihood(
    x: jax.Array, log_weights: jax.Array, means: jax.Array, logvars: jax.Array
) -> jax.Array:
  r"""log sum_k w_k N(x; mu_k, diag(exp(logvar_k))) = logsumexp_k [log w_k + log N(x; mu_k, diag(exp(logvar_k)))].

  A mixture of K diagonal Gaussians, the components combined by
  ``logsumexp``, so a point far in the tails of every component keeps a finite
  log-density (the mixture's density itself would underflow to 0).

  Args:
    x: points, float (not integer), shape ``[..., D]``.
    log_weights: log mixture weights, float, shape ``[K]`` (entries in
      [-inf, 0], the weights sum to 1).
    means: component means, float, shape ``[K, D]``.
    logvars: component log-variances, float (any real), shape ``[K, D]``.

  Returns:
    log p(x) in nats, shape ``[...]``: any real, finite for finite inputs.

  Raises:
    ValueError: if ``x`` has an integer dtype, a parameter is not float, or
      the shapes do not fit together.

  Example:
    >>> import jax.numpy as jnp
    >>> log_w = jnp.log(jnp.array([0.5, 0.5]))
    >>> ll = gaussian_mixture_log_likelihood(jnp.zeros((1, 1)), log_w, jnp.array([[-1.0], [1.0]]), jnp.zeros((2, 1)))
    >>> print(f"{ll[0]:.4f}")  # log N(1; 0, 1) = -1/2 - 1/2 log(2 pi)
    -1.4189

  References:
    Bishop, "Pattern Recognition and Machine Learning", 2006, eq. 9.7.
  """
  x = jnp.asarray(x)
  log_weights = jnp.asarray(log_weights)
  means = jnp.asarray(means)
  logvars = jnp.asarray(logvars)
  fn = "gaussian_mixture_log_likelihood"
  _check_data(fn, "x", x, fix="pass float points ({name}.astype(jnp.float32))")
  _check_floats(fn, "log_weights", log_weights, "float log-weights (jnp.log of the weights)")
  _check_floats(fn, "means", means, "float means")
  _check_floats(fn, "logvars", logvars, "float log-variances")
  if means.ndim != 2 or logvars.shape != means.shape or log_weights.shape != means.shape[:1]:
    raise ValueError(
        f"gaussian_mixture_log_likelihood: means {means.shape} and logvars {logvars.shape} must be [K, D] "
        f"and log_weights {log_weights.shape} [K]."
    )
  if x.ndim < 1 or x.shape[-1] != means.shape[1]:
    raise ValueError(f"gaussian_mixture_log_likelihood: x {x.shape} must be [..., D] with D = {means.shape[1]}.")
  # Components on a new axis before D, broadcast explicitly (no implicit rank promotion).
  shape = x.shape[:-1] + means.shape
  per_component = gaussian_log_likelihood(
      jnp.broadcast_to(x[..., None, :], shape), jnp.broadcast_to(means, shape), jnp.broadcast_to(logvars, shape)
  )
  return jax.nn.logsumexp(per_component + jnp.broadcast_to(log_weights, per_component.shape), axis=-1)


def reconstruction_loss(
    x: jax.Array, logits: jax.Array, kind: str = "mse", axis: Axis = (-3, -2, -1)
) -> jax.Array:
  r"""mse: mean_d (x_d - sigmoid(l_d))^2;  bce: -mean_d [x_d log sigmoid(l_d) + (1 - x_d) log sigmoid(-l_d)].

  The reconstruction error of an autoencoder with a sigmoid output layer, from
  the decoder's pre-sigmoid logits ``l`` and averaged (not summed) over the
  pixels. ``"bce"`` is the binary cross-entropy, minus
  :func:`bernoulli_log_likelihood` per pixel, computed from softplus terms so
  no probability is clipped; ``"mse"`` the squared error of the
  reconstruction sigmoid(l).

  Args:
    x: targets in [0, 1], float or bool (not integer: scale uint8 images by
      1/255), shape ``[B, H, W, C]`` (or ``[..., D]`` with ``axis=-1``).
    logits: decoder pre-sigmoid outputs, float (any real), same shape as ``x``.
    kind: ``"mse"`` or ``"bce"``.
    axis: axis or axes averaged over; the default suits images.

  Returns:
    The loss per example, ``x`` with ``axis`` removed (``[B]`` for images):
    for x in [0, 1], ``"mse"`` in [0, 1]; ``"bce"`` >= 0, at least the mean
    binary entropy of x (0 only for binary x reconstructed exactly).

  Raises:
    ValueError: if ``kind`` is unknown, ``x`` has an integer dtype,
      ``logits`` is not float, or their shapes differ.

  Example:
    >>> import jax.numpy as jnp
    >>> x = jnp.ones((1, 2, 2, 1))
    >>> print(f"{reconstruction_loss(x, jnp.zeros((1, 2, 2, 1)), 'bce')[0]:.4f}")  # -log sigmoid(0) = log 2
    0.6931

  References:
    Hinton & Salakhutdinov, "Reducing the Dimensionality of Data with Neural
    Networks", Science 2006 (cross-entropy and squared reconstruction errors).
  """
  x = jnp.asarray(x)
  logits = jnp.asarray(logits)
  if kind not in _RECONSTRUCTION_LOSSES:
    raise ValueError(f"unknown reconstruction loss {kind!r}; choose 'mse' or 'bce'.")
  _check_data("reconstruction_loss", "x", x)
  _check_floats("reconstruction_loss", "logits", logits, "float logits")
  if x.shape != logits.shape:
    raise ValueError(f"reconstruction_loss: x {x.shape} and logits {logits.shape} must have the same shape.")
  if kind == "mse":
    return jnp.mean(jnp.square(x - jax.nn.sigmoid(logits)), axis=axis)
  return -jnp.mean(_bernoulli_log_prob(x, logits), axis=axis)
