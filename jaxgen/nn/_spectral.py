"""Spectral normalisation of a layer's weight, W_SN = W / sigma(W), with the raw W kept as the parameter.

``SpectralNorm`` wraps a layer that holds one weight (``nnx.Linear``,
``nnx.Conv``, ``nnx.ConvTranspose``, ``jaxgen.nn.Conv`` / ``ConvTranspose``,
``nnx.Embed``) and calls it with ``W / sigma``, where ``sigma`` is the power
iteration estimate of W's largest singular value (Miyato et al. 2018,
Algorithm 1). Unlike ``nnx.SpectralNorm``, which writes ``W / sigma`` into the
wrapped layer's parameter, the parameter is set to ``W / sigma`` only for the
duration of the layer's call and restored afterwards: the stored parameter
(what the optimiser updates and a checkpoint holds) is always the raw W, a
layer called twice in a step is normalised once per call from the same W, and
its gradient is the gradient through ``W / sigma(W)``.

The power iteration vector ``u`` is an ``nnx.BatchStat`` (the non-Param state
a train step carries and checkpoints, outside the optimiser).
"""

from __future__ import annotations

import difflib

import jax
import jax.numpy as jnp
from flax import nnx


def _l2_normalize(x: jax.Array, eps: float) -> jax.Array:
  # x / sqrt(|x|^2 + eps), Flax's form: finite for x = 0.
  return x * jax.lax.rsqrt(jnp.sum(x * x) + eps)


def _as_matrix(weight: jax.Array) -> jax.Array:
  """The weight as a matrix, (prod of leading axes, last axis), at least float32 for the iteration."""
  if weight.ndim < 2:
    raise ValueError(f"spectral normalisation needs a weight with >= 2 axes, got shape {weight.shape}")
  dtype = jnp.promote_types(weight.dtype, jnp.float32)
  return jnp.reshape(weight, (-1, weight.shape[-1])).astype(dtype)


def spectral_norm_estimate(weight: jax.Array, u: jax.Array, *, n_steps: int = 1,
                           eps: float = 1e-12) -> tuple[jax.Array, jax.Array]:
  r"""sigma = v^T W u after ``n_steps`` of v = W u / |W u|, u = W^T v / |W^T v|; returns (sigma, u).

  W is ``weight`` viewed as a matrix ``reshape(weight, (-1, out))`` (a
  convolution kernel ``(kh, kw, in, out)`` becomes ``(kh * kw * in, out)``, an
  embedding table ``(num, features)`` is used as is). The power iteration
  starts from ``u`` (length ``out``); ``u`` and ``v`` are held constant
  (``stop_gradient``), so the gradient of sigma w.r.t. W is ``v u^T``, as in
  the paper. With a converged ``u``, sigma is W's largest singular value;
  sigma = |W^T v| >= 0, and it is below the largest singular value before
  convergence. ``|x|`` is computed as ``sqrt(|x|^2 + eps)``. Where W u = 0
  (e.g. a zero weight) sigma is 0 and the input ``u`` is returned.

  Args:
    weight: array of shape ``(..., out)`` with at least 2 axes.
    u: current estimate of the top right singular vector, shape ``(out,)``.
    n_steps: power iterations (>= 1).
    eps: added to squared norms before normalising.

  Returns:
    ``(sigma, u)``: the estimate, a float scalar (at least float32), and the
    updated vector, shape ``(out,)``, without gradient.

  Example:
    >>> import jax.numpy as jnp
    >>> sigma, u = spectral_norm_estimate(jnp.diag(jnp.array([3.0, 1.0])), jnp.array([1.0, 1.0]), n_steps=30)
    >>> print(f"{sigma:.4f}")
    3.0000

  References:
    Miyato et al., "Spectral Normalization for Generative Adversarial
    Networks", ICLR 2018, Algorithm 1 and eq. 8 (W_SN = W / sigma(W)).
  """
  if n_steps < 1:
    raise ValueError(f"n_steps must be >= 1 (power iterations per call), got {n_steps}")
  w = _as_matrix(weight)
  if u.shape != (w.shape[1],):
    raise ValueError(f"u must have shape ({w.shape[1]},) for a weight of shape {weight.shape}, got {u.shape}")
  w_const = jax.lax.stop_gradient(w)
  u_start = jax.lax.stop_gradient(u.astype(w.dtype))
  u = u_start
  for _ in range(n_steps):
    v = _l2_normalize(w_const @ u, eps)
    u = _l2_normalize(w_const.T @ v, eps)
  u, v = jax.lax.stop_gradient(u), jax.lax.stop_gradient(v)
  sigma = v @ (w @ u)
  # W u = 0 (a zero weight) gives u = 0, from which the iteration could never leave: keep the old u then.
  return sigma, jnp.where(jnp.any(u != 0), u, u_start)


def _param_names(layer: nnx.Module) -> list[str]:
  return sorted(name for name, value in vars(layer).items() if isinstance(value, nnx.Param))


class SpectralNorm(nnx.Module):
  r"""Calls ``layer`` with its weight W replaced by W / sigma(W); the stored W stays the raw weight.

  ``y = layer(x)`` computed with ``W_SN = W / sigma``, sigma from
  :func:`spectral_norm_estimate` (``n_steps`` power iterations from the
  stored ``u``). The weight is the layer's ``param_name`` parameter, viewed as
  the matrix ``reshape(W, (-1, out))``: ``kernel`` ``(in, out)`` of
  ``nnx.Linear``, ``(kh, kw, in, out)`` of ``nnx.Conv`` /
  ``nnx.ConvTranspose`` / ``jaxgen.nn.Conv`` / ``jaxgen.nn.ConvTranspose``,
  ``embedding`` ``(num, features)`` of ``nnx.Embed`` (as Chainer's
  ``SNEmbedID`` in the projection discriminator). Other parameters (the
  bias) are used unchanged.

  During the call the layer's parameter holds ``W / sigma`` and is restored
  to W afterwards (also when the layer raises), so the parameter's gradient
  is that of ``layer`` through ``W / sigma(W)``, sigma included (the paper's
  choice). State: ``layer`` (its Params, unchanged) and ``u``, an
  ``nnx.BatchStat`` of shape ``(out,)``, initialised to a normalised N(0, I)
  draw from ``rngs.params()``.

  Args:
    layer: the module to normalise; it must hold the weight as an
      ``nnx.Param`` attribute.
    n_steps: power iterations per call (>= 1; the paper uses 1 per training
      step, the estimate improving across steps as ``u`` is carried over).
    eps: added to squared norms when normalising u and v.
    param_name: the weight's attribute name; default ``"kernel"`` if the
      layer has one, else ``"embedding"``.
    rngs: draws ``u``'s initial value (``rngs.params()``).

  Example:
    >>> from flax import nnx
    >>> import jax.numpy as jnp
    >>> sn = SpectralNorm(nnx.Linear(4, 3, rngs=nnx.Rngs(0)), rngs=nnx.Rngs(1))
    >>> sn(jnp.ones((2, 4)), update_stats=True).shape
    (2, 3)
    >>> sn.u.shape
    (3,)

  References:
    Miyato et al., "Spectral Normalization for Generative Adversarial
    Networks", ICLR 2018, Algorithm 1.
  """

  def __init__(self, layer: nnx.Module, *, n_steps: int = 1, eps: float = 1e-12, param_name: str | None = None,
               rngs: nnx.Rngs):
    if n_steps < 1:
      raise ValueError(f"n_steps must be >= 1 (power iterations per call), got {n_steps}")
    names = _param_names(layer)
    if param_name is None:
      param_name = "kernel" if "kernel" in names else "embedding"
    if param_name not in names:
      close = difflib.get_close_matches(str(param_name), names, n=1)
      hint = f" Did you mean '{close[0]}'?" if close else ""
      raise ValueError(f"{type(layer).__name__} has no Param '{param_name}' to normalise.{hint} "
                       f"Its Params: {', '.join(names) or 'none'}; pass param_name=")
    weight = getattr(layer, param_name)[...]
    if weight.ndim < 2:
      raise ValueError(f"{type(layer).__name__}.{param_name} has shape {weight.shape}; spectral normalisation "
                       f"needs a matrix or a kernel (>= 2 axes)")
    self.layer = layer
    self.n_steps = n_steps
    self.eps = eps
    self.param_name = param_name
    dtype = jnp.promote_types(weight.dtype, jnp.float32)
    u = jax.random.normal(rngs.params(), (weight.shape[-1],), dtype)
    self.u = nnx.BatchStat(_l2_normalize(u, eps))

  def sigma(self) -> jax.Array:
    """The sigma a call divides by now (power iteration from the stored ``u``; nothing is updated)."""
    sigma, _ = spectral_norm_estimate(getattr(self.layer, self.param_name)[...], self.u[...], n_steps=self.n_steps,
                                      eps=self.eps)
    return sigma

  def __call__(self, x, *args, update_stats: bool, **kwargs):
    """``layer(x, *args, **kwargs)`` with W / sigma; ``update_stats=True`` (training) stores the new ``u``.

    ``update_stats=False`` (evaluation, sampling) leaves ``u`` as it is, so the
    output is deterministic.
    """
    param = getattr(self.layer, self.param_name)
    weight = param.get_value()
    sigma, u = spectral_norm_estimate(weight, self.u[...], n_steps=self.n_steps, eps=self.eps)
    # sigma = 0 only for W u = 0 (e.g. a zero weight): leave W as it is rather than divide by 0.
    sigma = jnp.where(sigma > 0, sigma, 1)
    if update_stats:
      # set_value, not u[...] =: flax's item assignment asks a tracer for its sharding, whose error message costs a
      # scan of the whole jaxpr per call (most of a spectrally normalised model's tracing time).
      self.u.set_value(u.astype(self.u[...].dtype))
    param.set_value((weight / sigma).astype(weight.dtype))
    try:
      return self.layer(x, *args, **kwargs)
    finally:
      param.set_value(weight)
