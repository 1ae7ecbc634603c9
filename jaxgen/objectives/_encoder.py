"""The objective of an encoder trained to invert a frozen generator: Age-cGAN's E (Antipov et al. 2017)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxgen.objectives._core import Context


def latent_regression_objective(*, generator: str = "generator", encoder: str = "encoder", stream: str = "pairs"):
  """loss = mean_b ||z_b - E(G(z_b, y_b))||^2 over a batch of latent vectors and labels.

  Age-cGAN's step 1 (Antipov et al. 2017, Section 2.2): E learns to map
  generated images back to the z they came from, on synthetic pairs
  (G(z, y), z) whose (z, y) are the batch (a fixed set, as the paper's 100K
  pairs). G is frozen (give it no optimizer) and runs in inference mode
  (BatchNorm's running averages), as it does when its images are re-aged.

  Args:
    generator, encoder: the networks' names in ``models``.
    stream: the data stream holding ``{"z": (B, latent_dim), "y": (B,)}``.

  Returns:
    The objective; metric "latent_mse" is the mean squared error per
    coordinate of z (the loss divided by latent_dim).
  """

  def objective(models, ctx: Context):
    z, y = ctx.batch[stream]["z"], ctx.batch[stream]["y"]
    x = jax.lax.stop_gradient(models[generator](z, y, train=False))
    squared = jnp.sum(jnp.square(z - models[encoder](x, train=True)), axis=-1)
    loss = jnp.mean(squared)
    return loss, {"latent_mse": loss / z.shape[-1]}

  return objective
