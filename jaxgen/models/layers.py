"""Layers shared by several model families.

``Maxout`` is used by the PacGAN 2-D toy discriminator (``toy_gan.py``) and by
the MNIST discriminator of Goodfellow et al. (2014) (``gan_mnist``): import it
from here, ``from jaxgen.models.layers import Maxout``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx


class Maxout(nnx.Module):
  r"""h_i(x) = max_{j < k} (x W_{:, i, j} + b_{i, j}), i < out_features.

  A maxout unit takes the maximum of ``num_pieces`` affine functions of its
  input (Goodfellow et al. 2013, eq. 1): a learned piecewise-linear convex
  activation. Implemented as one ``nnx.Linear`` to ``out_features *
  num_pieces`` outputs, reshaped to ``(..., out_features, num_pieces)`` and
  reduced with ``max`` over the last axis.

  Args:
    in_features: size of the input's last axis.
    out_features: number of maxout units.
    num_pieces: affine pieces per unit (k in the paper).
    kernel_init: initializer of the fused ``(in, out * pieces)`` kernel.
    dtype: the computation's dtype (None: from the input and the float32
      parameters); the parameters are float32 either way.
    rngs: parameter initialization keys.

  Example:
    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> layer = Maxout(2, 3, 5, rngs=nnx.Rngs(0))
    >>> layer(jnp.ones((4, 2))).shape
    (4, 3)

  References:
    Goodfellow, Warde-Farley, Mirza, Courville & Bengio, "Maxout Networks",
    ICML 2013, eq. 1.
  """

  def __init__(
      self,
      in_features: int,
      out_features: int,
      num_pieces: int,
      *,
      kernel_init=nnx.initializers.lecun_normal(),
      dtype=None,
      rngs: nnx.Rngs,
  ):
    if out_features < 1 or num_pieces < 1:
      raise ValueError(f"Maxout needs out_features >= 1 and num_pieces >= 1, got {out_features}, {num_pieces}")
    self.out_features = out_features
    self.num_pieces = num_pieces
    self.linear = nnx.Linear(
        in_features, out_features * num_pieces, kernel_init=kernel_init, dtype=dtype, rngs=rngs
    )

  def __call__(self, x: jax.Array) -> jax.Array:
    """Maps ``(..., in_features)`` to ``(..., out_features)``."""
    z = self.linear(x)
    # Pieces of one unit are contiguous, so the unit axis comes first.
    z = z.reshape((*z.shape[:-1], self.out_features, self.num_pieces))
    # A chain of elementwise maxima rather than jnp.max(z, axis=-1): the same values and, away
    # from ties (of probability zero for real-valued pieces), the same gradient, but it fuses
    # into one elementwise loop both ways, where XLA's CPU backend ran the reduction's gradient
    # as separate, slow reductions (40 % of the PacGAN toy GAN's step).
    h = z[..., 0]
    for j in range(1, self.num_pieces):
      h = jnp.maximum(h, z[..., j])
    return h
