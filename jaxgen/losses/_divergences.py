"""Divergences between distributions, from log-probabilities.

Every function reduces only over ``axis`` and returns one value per remaining
index (per example); the caller chooses how to reduce over the batch.
"""

import math
import operator
from typing import Sequence

import jax
import jax.numpy as jnp

Axis = int | Sequence[int] | None

_LOG_2 = math.log(2.0)

# Taylor coefficients 1/n! for n = 2..13 of expm1(d) - d = d^2/2! + d^3/3! + ...
_EXPM1_MINUS_X_COEFFS = tuple(1.0 / math.factorial(n) for n in range(2, 14))
# Below this |d| the series is used: its truncation error there is < 1e-13
# relative, while expm1(d) - d loses about log2(2 / |d|) bits to cancellation.
_SERIES_THRESHOLD = 0.5


# Input checks shared by every loss module. They read only shapes and dtypes,
# which are static under jit and vmap: they run once per trace, never per step.


def _check_data(
    fn: str, name: str, x: jax.Array, fix: str = "scale images to [0, 1] floats first ({name} / 255)"
) -> None:
  """Refuses integer observations: uint8 images of 0..255 read as values far outside [0, 1]."""
  if jnp.issubdtype(x.dtype, jnp.integer):
    raise ValueError(f"{fn}: {name} has integer dtype {x.dtype}: {fix.format(name=name)}.")


def _check_floats(fn: str, name: str, a: jax.Array, what: str) -> None:
  """Refuses logits, log-probabilities and other network outputs that are not floats."""
  if not jnp.issubdtype(a.dtype, jnp.floating):
    kind = "integer dtype" if jnp.issubdtype(a.dtype, jnp.integer) else "dtype"
    raise ValueError(f"{fn}: {name} has {kind} {a.dtype}: pass {what}.")


def _check_same_shape(fn: str, a: jax.Array, b: jax.Array, a_name: str, b_name: str) -> None:
  if a.shape != b.shape:
    raise ValueError(f"{fn}: {a_name} {a.shape} and {b_name} {b.shape} must have the same shape.")


def _check_axis(fn: str, axis: Axis, a: jax.Array, name: str) -> None:
  """Refuses an ``axis`` that is not None / int / ints, is out of range for ``a``, or repeats an axis."""
  if axis is None:
    return
  axes = tuple(axis) if isinstance(axis, Sequence) and not isinstance(axis, str) else (axis,)
  try:
    # operator.index accepts Python and NumPy ints and rejects floats; bools are ints but never meant.
    indices = [operator.index(i) for i in axes if not isinstance(i, bool)]
  except TypeError:
    indices = None
  if indices is None or len(indices) != len(axes):
    raise ValueError(f"{fn}: axis {axis!r} must be None, an int or a sequence of ints.")
  ndim = a.ndim
  valid = f"pass axes in [{-ndim}, {ndim - 1}] or None" if ndim else "pass axis=None"
  for i in indices:
    if not -ndim <= i < ndim:
      raise ValueError(f"{fn}: axis {axis!r} is out of range for {name} of shape {a.shape}; {valid}.")
  if len({i % ndim for i in indices}) != len(indices):
    raise ValueError(f"{fn}: axis {axis!r} names an axis of {name} {a.shape} twice.")


def _p_log_ratio(log_p: jax.Array, log_r: jax.Array) -> jax.Array:
  """Elementwise P * (log P - log R), exactly 0 where P == 0.

  Double-where: the masked branch sees safe inputs, so its gradient is 0
  instead of 0 * inf = nan (the ``jnp.where`` pitfall behind NaN KL gradients).
  P == 0 is tested after ``exp`` so that log-probabilities that underflow to a
  mass of 0 follow the same convention as ``scipy.special.rel_entr(0, q) = 0``.
  """
  p_is_zero = jnp.exp(log_p) == 0
  safe_log_p = jnp.where(p_is_zero, 0.0, log_p)
  safe_log_r = jnp.where(p_is_zero, 0.0, log_r)
  return jnp.where(p_is_zero, 0.0, jnp.exp(safe_log_p) * (safe_log_p - safe_log_r))


def kl_divergence(log_p: jax.Array, log_q: jax.Array, axis: Axis = -1) -> jax.Array:
  r"""Discrete KL(P || Q) = sum_x P(x) (log P(x) - log Q(x)).

  The first argument is the distribution the expectation is taken under:
  ``kl_divergence(log_p, log_q)`` is KL(P || Q), not KL(Q || P). Terms with
  P(x) = 0 (``log_p = -inf``) are exactly 0 and have zero (finite) gradient.
  Where Q(x) = 0 < P(x) the result is ``+inf``, as it should be.

  Args:
    log_p: log-probabilities of P, float, shape ``[..., K]`` (normalized over
      ``axis``; entries in [-inf, 0]).
    log_q: log-probabilities of Q, float, same shape as ``log_p``.
    axis: axis or axes summed over (the support); ``None`` sums over all.

  Returns:
    KL(P || Q) in nats, ``log_p`` with ``axis`` removed: in [0, +inf] (>= 0 up
    to rounding for normalized P and Q).

  Raises:
    ValueError: if ``log_p`` and ``log_q`` differ in shape, are not floats, or
      ``axis`` is not an axis of ``log_p``.

  Example:
    >>> import jax.numpy as jnp
    >>> log_p = jnp.log(jnp.array([0.5, 0.5, 0.0]))
    >>> log_q = jnp.log(jnp.array([0.25, 0.25, 0.5]))
    >>> print(f"{kl_divergence(log_p, log_q):.4f}")  # log 2
    0.6931

  References:
    Kullback & Leibler, "On information and sufficiency", 1951.
  """
  log_p = jnp.asarray(log_p)
  log_q = jnp.asarray(log_q)
  _check_log_probs("kl_divergence", log_p, log_q, axis)
  return jnp.sum(_p_log_ratio(log_p, log_q), axis=axis)


def js_divergence(log_p: jax.Array, log_q: jax.Array, axis: Axis = -1) -> jax.Array:
  r"""JSD(P || Q) = 1/2 KL(P || M) + 1/2 KL(Q || M), M = (P + Q) / 2.

  Computed in log space as, per support point,
  ``1/2 P (log 2 - softplus(log Q - log P)) + 1/2 Q (log 2 - softplus(log P - log Q))``,
  since log(P / M) = log 2 - log(1 + Q / P). No mixture probability is formed,
  so points where both P and Q are 0 give 0 with finite gradients. The result
  is symmetric in (P, Q) bit for bit, lies in [0, log 2] up to rounding, and
  equals log 2 when the supports are disjoint.

  Args:
    log_p: log-probabilities of P, float, shape ``[..., K]`` (normalized over
      ``axis``; entries in [-inf, 0]).
    log_q: log-probabilities of Q, float, same shape as ``log_p``.
    axis: axis or axes summed over; ``None`` sums over all.

  Returns:
    JSD(P || Q) in nats, ``log_p`` with ``axis`` removed: in [0, log 2] up to
    rounding for normalized P and Q.

  Raises:
    ValueError: if ``log_p`` and ``log_q`` differ in shape, are not floats, or
      ``axis`` is not an axis of ``log_p``.

  Example:
    >>> import jax.numpy as jnp
    >>> log_p = jnp.log(jnp.array([1.0, 0.0]))
    >>> log_q = jnp.log(jnp.array([0.0, 1.0]))
    >>> print(f"{js_divergence(log_p, log_q):.4f}")  # disjoint supports: log 2
    0.6931

  References:
    Lin, "Divergence measures based on the Shannon entropy", 1991;
    Goodfellow et al., "Generative Adversarial Nets", 2014, Theorem 1.
  """
  log_p = jnp.asarray(log_p)
  log_q = jnp.asarray(log_q)
  _check_log_probs("js_divergence", log_p, log_q, axis)
  return 0.5 * jnp.sum(_half_js_terms(log_p, log_q) + _half_js_terms(log_q, log_p), axis=axis)


def _check_log_probs(fn: str, log_p: jax.Array, log_q: jax.Array, axis: Axis) -> None:
  """The checks of kl_divergence and js_divergence: paired float log-probabilities, a valid axis."""
  _check_floats(fn, "log_p", log_p, "float log-probabilities (jnp.log of the probabilities)")
  _check_floats(fn, "log_q", log_q, "float log-probabilities (jnp.log of the probabilities)")
  _check_same_shape(fn, log_p, log_q, "log_p", "log_q")
  _check_axis(fn, axis, log_p, "log_p")


def _half_js_terms(log_p: jax.Array, log_q: jax.Array) -> jax.Array:
  """Elementwise P log(P / M) = P (log 2 - softplus(log Q - log P)), 0 where P == 0."""
  p_is_zero = jnp.exp(log_p) == 0
  safe_log_p = jnp.where(p_is_zero, 0.0, log_p)
  safe_log_q = jnp.where(p_is_zero, 0.0, log_q)
  term = jnp.exp(safe_log_p) * (_LOG_2 - jax.nn.softplus(safe_log_q - safe_log_p))
  return jnp.where(p_is_zero, 0.0, term)


def _expm1_minus_x(d: jax.Array) -> jax.Array:
  """expm1(d) - d, accurate to a few ulps also for |d| << 1."""
  small = jnp.abs(d) < _SERIES_THRESHOLD
  # Double-where: the series is evaluated only on small inputs, so a huge d
  # cannot overflow it and poison the gradient of the unused branch.
  d_small = jnp.where(small, d, 0.0)
  series = jnp.zeros_like(d_small)
  for c in reversed(_EXPM1_MINUS_X_COEFFS):
    series = series * d_small + c
  series = series * d_small * d_small
  d_large = jnp.where(small, 1.0, d)
  return jnp.where(small, series, jnp.expm1(d_large) - d_large)


def gaussian_kl(
    mean: jax.Array,
    logvar: jax.Array,
    prior_mean: jax.Array | float = 0.0,
    prior_logvar: jax.Array | float = 0.0,
    axis: Axis = -1,
) -> jax.Array:
  r"""KL(N(mean, exp(logvar)) || N(prior_mean, exp(prior_logvar))), diagonal.

  Per coordinate, with q = N(mu_q, sigma_q^2) (``mean``, ``logvar``) and
  p = N(mu_p, sigma_p^2) (``prior_mean``, ``prior_logvar``):

      KL = log(sigma_p / sigma_q) - 1/2 + (sigma_q^2 + (mu_q - mu_p)^2) / (2 sigma_p^2)
         = 1/2 [ (mu_q - mu_p)^2 / sigma_p^2 + expm1(d) - d ],  d = logvar - prior_logvar

  (the chapter's eq. 33), summed over ``axis``. For the standard normal prior
  it is -1/2 (log sigma^2 + 1 - sigma^2 - mu^2) (eq. 36; Kingma & Welling 2014,
  Appendix B). ``expm1(d) - d`` is evaluated by its Taylor series for small
  |d|, so the KL stays accurate to relative precision when ``logvar`` is
  close to ``prior_logvar`` (where the naive form cancels to noise).

  Args:
    mean: posterior means, float (any real), shape ``[..., D]``.
    logvar: posterior log-variances, float (any real), same shape as ``mean``.
    prior_mean: prior mean; a Python number or a float array of the shape of
      ``mean``.
    prior_logvar: prior log-variance; a Python number or a float array of the
      shape of ``mean``.
    axis: axis or axes summed over (the latent dimensions); ``None`` sums all.

  Returns:
    KL in nats, ``mean`` with ``axis`` removed: >= 0 (0 iff q = p).

  Raises:
    ValueError: if ``mean`` and ``logvar`` differ in shape, or an array
      argument is not a float array.

  Example:
    >>> import jax.numpy as jnp
    >>> kl = gaussian_kl(jnp.array([1.0, 0.0]), jnp.array([0.0, jnp.log(2.0)]))
    >>> print(f"{kl:.4f}")  # 1/2 * 1 + 1/2 (2 - 1 - log 2)
    0.6534

  References:
    Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014, Appendix B.
  """
  mean = jnp.asarray(mean)
  logvar = jnp.asarray(logvar)
  _check_floats("gaussian_kl", "mean", mean, "float posterior means")
  _check_floats("gaussian_kl", "logvar", logvar, "float posterior log-variances")
  # Python numbers are weakly typed (they take mean's dtype), so prior_logvar=0 stays welcome.
  for name, prior in (("prior_mean", prior_mean), ("prior_logvar", prior_logvar)):
    if not isinstance(prior, (int, float)):
      _check_floats("gaussian_kl", name, jnp.asarray(prior), f"a Python number or a float array as {name}")
  if mean.shape != logvar.shape:
    raise ValueError(
        f"gaussian_kl: mean {mean.shape} and logvar {logvar.shape} must have the same shape."
    )
  # Floats by the checks above: the result type is a float type.
  dtype = jnp.result_type(mean, logvar, prior_mean, prior_logvar)
  mean, logvar = mean.astype(dtype), logvar.astype(dtype)
  prior_mean = jnp.asarray(prior_mean, dtype)
  prior_logvar = jnp.asarray(prior_logvar, dtype)
  d = logvar - prior_logvar
  per_coordinate = 0.5 * (jnp.square(mean - prior_mean) * jnp.exp(-prior_logvar) + _expm1_minus_x(d))
  return jnp.sum(per_coordinate, axis=axis)


def monte_carlo_kl(
    log_p_samples: jax.Array, log_q_samples: jax.Array, axis: int = -1
) -> tuple[jax.Array, jax.Array]:
  r"""Monte Carlo KL(p || q) = E_{x ~ p}[log p(x) - log q(x)] with its standard error.

  With x_1..x_N ~ p and r_i = log p(x_i) - log q(x_i), returns the sample mean
  of r and its standard error std(r, ddof=1) / sqrt(N). The samples must come
  from p (the first distribution); the estimate is unbiased but can be
  negative for small N.

  Args:
    log_p_samples: log p(x_i) at samples x_i ~ p, float, shape ``[..., N]``.
    log_q_samples: log q(x_i) at the same samples, float, same shape.
    axis: the sample axis (N >= 2).

  Returns:
    ``(estimate, standard_error)``, each of shape ``log_p_samples`` with
    ``axis`` removed: the estimate any real (its mean, the KL, is >= 0), the
    standard error >= 0.

  Raises:
    ValueError: if the inputs are not floats, differ in shape, are scalars, or
      hold fewer than 2 samples along ``axis``.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> x = jax.random.normal(jax.random.key(0), (100_000,))  # p = N(0, 1)
    >>> log_p = -0.5 * x**2 - 0.5 * jnp.log(2 * jnp.pi)
    >>> log_q = -0.5 * (x - 1.0)**2 - 0.5 * jnp.log(2 * jnp.pi)  # q = N(1, 1)
    >>> est, se = monte_carlo_kl(log_p, log_q)
    >>> bool(abs(est - 0.5) < 4 * se)  # exact KL is 1/2
    True

  References:
    Hershey & Olsen, "Approximating the KL divergence between Gaussian mixture
    models", ICASSP 2007 (the Monte Carlo estimator).
  """
  log_p_samples = jnp.asarray(log_p_samples)
  log_q_samples = jnp.asarray(log_q_samples)
  _check_floats("monte_carlo_kl", "log_p_samples", log_p_samples, "float log-densities")
  _check_floats("monte_carlo_kl", "log_q_samples", log_q_samples, "float log-densities")
  if log_p_samples.shape != log_q_samples.shape:
    raise ValueError(
        f"monte_carlo_kl: log_p_samples {log_p_samples.shape} and log_q_samples "
        f"{log_q_samples.shape} must have the same shape (one pair per sample)."
    )
  if log_p_samples.ndim == 0:
    raise ValueError("monte_carlo_kl: needs a sample axis; got scalars.")
  n = log_p_samples.shape[axis]
  if n < 2:
    raise ValueError(f"monte_carlo_kl: needs at least 2 samples along axis {axis}, got {n}.")
  log_ratio = log_p_samples - log_q_samples
  estimate = jnp.mean(log_ratio, axis=axis)
  standard_error = jnp.std(log_ratio, axis=axis, ddof=1) / math.sqrt(n)
  return estimate, standard_error
