"""Training objectives of the autoencoder and the VAEs, for ``jaxgen.train.Update``.

Each factory returns ``objective(models, ctx) -> (loss, metrics)`` with
``ctx.batch = {"image": (B, H, W, C)}`` and every random draw taken from
``ctx.key``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxgen import random as jgrandom
from jaxgen.data import BINARIZATIONS
from jaxgen.losses import elbo, gaussian_kl, reconstruction_loss
from jaxgen.objectives._core import Context


def negative_elbo_objective(*, beta: float = 1.0, binarize: str = "none", network: str = "vae"):
  r"""loss = mean_b -[log p(x_b | z_b) - beta KL(q(z | x_b) || N(0, I))], z_b ~ q(z | x_b).

  One reparameterized sample per example (Kingma & Welling 2014, eq. 10, L = 1)
  with the KL in closed form (their Appendix B). ``beta != 1`` is the beta-VAE
  of Higgins et al. (2017).

  Args:
    beta: weight of the KL term.
    binarize: "dynamic" draws x ~ Bernoulli(pixels) afresh every step from the
      step's key (Burda et al. 2016, Section 5); "none" / "static" use the
      batch as it is (a statically binarized dataset is binary already).
    network: name of the VAE in the ``models`` dict.

  Returns:
    The objective. Metrics (batch means, nats): "recon" = -log p(x | z),
    "kl" = KL(q || p), "neg_elbo" = recon + kl (the beta = 1 bound).
  """
  if binarize not in BINARIZATIONS:
    raise ValueError(f"binarize must be one of {BINARIZATIONS}, got {binarize!r}.")

  def objective(models, ctx: Context):
    model = models[network]
    x = ctx.batch["image"]
    key_bin, key_z = jax.random.split(ctx.key)
    if binarize == "dynamic":
      x = jgrandom.bernoulli_binarize(key_bin, x)
    mean, logvar = model.encode(x)
    z = jgrandom.reparameterize(key_z, mean, logvar)
    log_px = model.log_likelihood(x, z)
    kl = gaussian_kl(mean, logvar)
    loss = -jnp.mean(elbo(log_px, mean, logvar, beta=beta))
    metrics = {"recon": -jnp.mean(log_px), "kl": jnp.mean(kl), "neg_elbo": jnp.mean(kl - log_px)}
    return loss, metrics

  return objective


def autoencoder_objective(*, loss: str = "mse", network: str = "autoencoder"):
  """loss = mean over the batch of ``reconstruction_loss(x, decoder logits, loss)``.

  Args:
    loss: "mse" (mean squared error of the sigmoid outputs, the default) or
      "bce" (binary cross-entropy from the logits).
    network: name of the autoencoder in the ``models`` dict.

  Returns:
    The objective; metric "recon" is the same batch-mean loss.
  """
  reconstruction_loss(jnp.zeros((1, 1, 1, 1)), jnp.zeros((1, 1, 1, 1)), loss)  # Fail now on a bad name.

  def objective(models, ctx: Context):
    model = models[network]
    x = ctx.batch["image"]
    value = jnp.mean(reconstruction_loss(x, model.decode_logits(model.encode(x)), loss))
    return value, {"recon": value}

  return objective
