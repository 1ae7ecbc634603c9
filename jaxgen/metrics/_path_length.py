"""Perceptual path length (Karras et al. 2019, Section 4.2): how fast images change along latent paths.

PPL = E[d(g(p(t)), g(p(t + eps))) / eps^2], t ~ U(0, 1), p the path between
two latents: spherical interpolation (:func:`slerp`) in Z, linear in W; d a
perceptual distance (the paper: LPIPS; jaxgen at digit scale: squared
distance of the dataset's LeNet features). As in the reference
(``metrics/perceptual_path_length.py`` of NVlabs/stylegan2-ada-pytorch), the
distances below the 1st and above the 99th percentile are dropped before the
mean, so a few pairs that cross a cliff do not dominate it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def slerp(a: jax.Array, b: jax.Array, t: jax.Array) -> jax.Array:
  """Spherical interpolation between the directions of a and b (rows), at fractions t (B,); unit-norm rows.

  Example:
    >>> import jax.numpy as jnp
    >>> print(slerp(jnp.array([[1.0, 0.0]]), jnp.array([[0.0, 1.0]]), jnp.array([0.5])).round(4))
    [[0.7071 0.7071]]
  """
  a = a / jnp.linalg.norm(a, axis=-1, keepdims=True)
  b = b / jnp.linalg.norm(b, axis=-1, keepdims=True)
  cos = jnp.clip(jnp.sum(a * b, axis=-1, keepdims=True), -1.0, 1.0)
  angle = t[:, None] * jnp.arccos(cos)
  c = b - cos * a
  c = c / jnp.maximum(jnp.linalg.norm(c, axis=-1, keepdims=True), 1e-12)
  out = a * jnp.cos(angle) + c * jnp.sin(angle)
  return out / jnp.linalg.norm(out, axis=-1, keepdims=True)


def perceptual_path_length(distances, epsilon: float, *, lo: float = 1.0, hi: float = 99.0) -> float:
  """Mean of d / eps^2 over the pairs whose d lies within the [lo, hi] percentiles (the reference's filter).

  Args:
    distances: d(g(p(t)), g(p(t + eps))) per pair, (N,).
    epsilon: the step eps along the path (the paper: 1e-4).
    lo, hi: percentiles kept (inclusive).

  Example:
    >>> print(round(perceptual_path_length(np.r_[np.full(198, 2e-8), 0.0, 1.0], 1e-4), 6))  # 0 and 1 dropped
    2.0
  """
  d = np.asarray(distances, np.float64).reshape(-1) / float(epsilon) ** 2
  if d.size == 0 or not np.all(np.isfinite(d)):
    raise ValueError(f"perceptual_path_length needs finite distances, got {d.size} with "
                     f"{int(np.sum(~np.isfinite(d)))} not finite")
  low, high = np.percentile(d, lo, method="lower"), np.percentile(d, hi, method="higher")
  return float(np.mean(d[(d >= low) & (d <= high)]))
