"""StackGAN's conditioning augmentation (Zhang et al. 2017, Section 3.1).

A text embedding phi_t is mapped by one fully connected layer and a
non-linearity to 2 C numbers; the first C are the mean mu, the last C the
log-variance log sigma^2 of a Gaussian N(mu, diag(sigma^2)), and the
condition the generators see is a sample of it, c = mu + sigma * eps with
eps ~ N(0, I). Sampling c around mu, with KL(N(mu, sigma^2) || N(0, I))
added to the generator's loss, smooths the conditioning manifold and gives
more variety for one caption (the paper's ablation, its Table 2 and Fig. 7).

Conventions (recorded because ports differ): the PyTorch reference
(hanzhanggit/StackGAN-Pytorch, ``CA_NET``) applies ReLU before the split and
reads the second half as log-variance, as here; the TensorFlow original
applies a leaky ReLU and reads log sigma. The KL is summed over the C
coordinates of each example (``jaxgen.losses.gaussian_kl``); the paper
weights it by lambda = 1, the reference code by ``COEFF.KL`` = 2 on the KL
*averaged* over batch and coordinates, i.e. 2 / C per example's sum (2 / 128
at C = 128).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

__all__ = ["ConditioningAugmentation"]

ACTIVATIONS = {"relu": jax.nn.relu, "leaky_relu": lambda h: jax.nn.leaky_relu(h, 0.2)}


class ConditioningAugmentation(nnx.Module):
  """phi_t (B, embedding_dim) -> (c, mu, logvar), each (B, condition_dim)."""

  def __init__(self, embedding_dim: int, condition_dim: int, *, activation: str = "relu", rngs: nnx.Rngs):
    for name, value in (("embedding_dim", embedding_dim), ("condition_dim", condition_dim)):
      if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if activation not in ACTIVATIONS:
      raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
    self.condition_dim = int(condition_dim)
    self.activation = activation
    self.fc = nnx.Linear(int(embedding_dim), 2 * self.condition_dim, rngs=rngs)

  def __call__(self, phi: jax.Array, *, key: jax.Array | None = None) -> tuple[jax.Array, jax.Array, jax.Array]:
    """c = mu + exp(logvar / 2) * eps with eps ~ N(0, I) from ``key``; c = mu without a key (deterministic)."""
    h = ACTIVATIONS[self.activation](self.fc(phi))
    mu, logvar = h[..., :self.condition_dim], h[..., self.condition_dim:]
    if key is None:
      return mu, mu, logvar
    return mu + jnp.exp(0.5 * logvar) * jax.random.normal(key, mu.shape, mu.dtype), mu, logvar
