"""Penalties on the input gradients of a GAN's critic or discriminator.

Each penalty takes the critic as a function, ``critic(x) -> outputs``, mapping
a batch of shape ``(B, ...)`` to one raw output per example, shape ``(B,)``,
and returns one penalty per example; the caller weights and averages them.
They are pure functions of the critic and the arrays, so they work under
``jax.jit`` (close over the critic, or mark it static) and inside
``jax.grad``: the discriminator's update differentiates them again with
respect to the critic's parameters (closed over in ``critic``).

The per-example input gradients come from one backward pass of the summed
outputs, grad_x sum_i critic(x)_i, whose row i is grad_{x_i} critic(x)_i only
when output i depends on input i alone: not for a critic with cross-example
coupling (BatchNorm in train mode, minibatch discrimination, PacGAN packing).
"""

from typing import Callable

import jax
import jax.numpy as jnp

from jaxgen.losses._divergences import _check_floats, _check_same_shape

Critic = Callable[[jax.Array], jax.Array]


def _as_batch(fn: str, name: str, x: jax.Array) -> jax.Array:
  """``x`` as a float array with a leading batch axis (a gradient w.r.t. integers is undefined)."""
  x = jnp.asarray(x)
  _check_floats(fn, name, x, "float inputs (scale images to [0, 1] floats first)")
  if x.ndim < 1:
    raise ValueError(f"{fn}: {name} has shape (): pass a batch of examples, shape (B, ...).")
  return x


def _input_gradients(fn: str, critic_name: str, critic: Critic, x: jax.Array) -> jax.Array:
  """grad_x sum_i critic(x)_i, shape of ``x``: row i is example i's input gradient (no coupling)."""
  out, pullback = jax.vjp(critic, x)
  expected = x.shape[:1]
  if not isinstance(out, jax.Array):
    raise ValueError(
        f"{fn}: {critic_name} returned a {type(out).__name__}; it must return one array of outputs, shape "
        f"{expected} (wrap a network returning (logits, class_logits) as lambda x: net(x)[0])."
    )
  if out.shape != expected:
    raise ValueError(
        f"{fn}: {critic_name} returned shape {out.shape} for inputs of shape {x.shape}; it must return one "
        f"output per example, shape {expected} (squeeze a trailing axis of size 1)."
    )
  _check_floats(fn, f"{critic_name}(x)", out, "a critic with float outputs")
  (grad,) = pullback(jnp.ones_like(out))
  return grad


def _squared_norm(grad: jax.Array) -> jax.Array:
  """||grad_i||_2^2 over all non-batch axes, shape ``(B,)``."""
  return jnp.sum(jnp.square(grad), axis=tuple(range(1, grad.ndim)))


def _safe_norm(grad: jax.Array) -> jax.Array:
  """||grad_i||_2 over all non-batch axes, with a finite (zero) gradient where grad_i = 0."""
  squared = _squared_norm(grad)
  is_zero = squared == 0
  # Double-where: d sqrt(s) / ds = inf at s = 0 would turn the penalty's parameter gradient into nan.
  return jnp.where(is_zero, 0.0, jnp.sqrt(jnp.where(is_zero, 1.0, squared)))


def _interpolate(real: jax.Array, fake: jax.Array, key: jax.Array) -> tuple[jax.Array, jax.Array]:
  """x_hat = eps real + (1 - eps) fake, one eps ~ U[0, 1] per example; returns (x_hat, eps of shape (B,))."""
  eps = jax.random.uniform(key, real.shape[:1], dtype=real.dtype)
  eps_b = eps.reshape(eps.shape + (1,) * (real.ndim - 1))
  return eps_b * real + (1.0 - eps_b) * fake, eps


def gradient_penalty(
    critic: Critic,
    real: jax.Array,
    fake: jax.Array,
    key: jax.Array,
    *,
    target: float = 1.0,
    one_sided: bool = False,
) -> jax.Array:
  r"""(||grad_x critic(x_hat)||_2 - target)^2 at x_hat = eps x + (1 - eps) G(z), eps ~ U[0, 1].

  The WGAN-GP penalty (Gulrajani et al. 2017, eq. 3 and Algorithm 1), which
  pulls the critic's gradient norm to ``target`` (1 for a 1-Lipschitz
  critic) on random points between paired data and generated samples: one
  eps per example, broadcast over its non-batch axes. The norm is taken over
  all non-batch axes. With ``one_sided``, max(0, ||grad|| - target)^2
  penalizes only gradients steeper than ``target`` (the one-sided variant
  Gulrajani et al. discuss in Section 4; the WGAN-LP penalty of Petzka et al.
  2018). The weight lambda (10 in the paper) is the caller's.

  The per-example gradients are those of sum_i critic(x_hat)_i, valid only
  when the critic has no cross-example coupling (no BatchNorm in train mode,
  no minibatch statistics). The norm has a finite (zero) gradient where the
  input gradient is exactly 0, so the penalty can be differentiated with
  respect to the critic's parameters everywhere.

  Args:
    critic: ``critic(x) -> outputs``: a batch of shape ``(B, ...)`` to raw
      float outputs of shape ``(B,)``; its parameters are closed over.
    real: data samples x, float, shape ``(B, ...)``.
    fake: generated samples G(z), float, same shape (in the critic's update
      usually passed through ``jax.lax.stop_gradient``).
    key: PRNG key for the interpolation coefficients eps.
    target: the gradient norm the penalty pulls toward.
    one_sided: a Python bool: penalize only norms above ``target``.

  Returns:
    Per-example penalty (>= 0), shape ``(B,)``.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> w = jnp.array([3.0, 4.0])  # critic(x) = x @ w has gradient w, of norm 5, everywhere
    >>> real, fake = jnp.ones((2, 2)), jnp.zeros((2, 2))
    >>> print(gradient_penalty(lambda x: x @ w, real, fake, jax.random.key(0)))
    [16. 16.]
    >>> print(gradient_penalty(lambda x: x @ (w / 10), real, fake, jax.random.key(0), one_sided=True))
    [0. 0.]

  References:
    Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017,
    eq. 3 and Algorithm 1; Petzka, Fischer & Lukovnikov, "On the
    regularization of Wasserstein GANs", ICLR 2018 (one-sided).
  """
  real = _as_batch("gradient_penalty", "real", real)
  fake = _as_batch("gradient_penalty", "fake", fake)
  _check_same_shape("gradient_penalty", real, fake, "real", "fake")
  x_hat, _ = _interpolate(real, fake, key)
  excess = _safe_norm(_input_gradients("gradient_penalty", "critic", critic, x_hat)) - target
  if one_sided:
    excess = jnp.maximum(excess, 0.0)
  return jnp.square(excess)


def r1_penalty(discriminator: Critic, real: jax.Array) -> jax.Array:
  r"""||grad_x D(x)||_2^2 at data samples x ~ p_data.

  The R1 regularizer of Mescheder, Geiger & Nowozin (2018), eq. 9, per
  example: D is the discriminator's raw output (the logit, for the logistic
  losses), the norm is over all non-batch axes. The paper's weight gamma / 2
  is the caller's: ``d_loss + gamma / 2 * mean(r1_penalty(D, x))``. The
  per-example gradients are those of sum_i D(x)_i, valid only when D has no
  cross-example coupling (no BatchNorm in train mode).

  Args:
    discriminator: ``D(x) -> outputs``: a batch of shape ``(B, ...)`` to raw
      float outputs of shape ``(B,)``; its parameters are closed over.
    real: data samples, float, shape ``(B, ...)``.

  Returns:
    Per-example penalty (>= 0), shape ``(B,)``.

  Example:
    >>> import jax.numpy as jnp
    >>> w = jnp.array([3.0, 4.0])  # D(x) = x @ w: ||grad||^2 = ||w||^2 = 25 everywhere
    >>> print(r1_penalty(lambda x: x @ w, jnp.ones((2, 2))))
    [25. 25.]

  References:
    Mescheder, Geiger & Nowozin, "Which Training Methods for GANs do actually
    Converge?", ICML 2018, eq. 9.
  """
  real = _as_batch("r1_penalty", "real", real)
  return _squared_norm(_input_gradients("r1_penalty", "discriminator", discriminator, real))


def r2_penalty(discriminator: Critic, fake: jax.Array) -> jax.Array:
  r"""||grad_x D(x)||_2^2 at generated samples x = G(z) ~ p_g.

  The R2 regularizer of Mescheder, Geiger & Nowozin (2018), eq. 10: R1 at
  the generator's samples instead of the data. The weight gamma / 2 is the
  caller's, and the same no-coupling condition on D applies (see
  :func:`r1_penalty`).

  Args:
    discriminator: ``D(x) -> outputs``: a batch of shape ``(B, ...)`` to raw
      float outputs of shape ``(B,)``; its parameters are closed over.
    fake: generated samples, float, shape ``(B, ...)``.

  Returns:
    Per-example penalty (>= 0), shape ``(B,)``.

  Example:
    >>> import jax.numpy as jnp
    >>> print(r2_penalty(lambda x: jnp.sum(x**2, axis=1), jnp.array([[1.0, 0.0], [0.0, 0.5]])))  # ||2 x||^2
    [4. 1.]

  References:
    Mescheder, Geiger & Nowozin, "Which Training Methods for GANs do actually
    Converge?", ICML 2018, eq. 10.
  """
  fake = _as_batch("r2_penalty", "fake", fake)
  return _squared_norm(_input_gradients("r2_penalty", "discriminator", discriminator, fake))
