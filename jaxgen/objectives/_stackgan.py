"""StackGAN's updates (Zhang et al. 2017): matching-aware discriminators and CA's KL in the generator's loss.

The discriminator scores three kinds of pairs (the paper's Section 3.2 after
Reed et al. 2016's GAN-CLS): a real image with its own text (label 1), the
same real image with a text that does not describe it ("wrong", label 0) and
a generated image with its text (label 0):

    L_D = BCE(D(x, c), 1) + [BCE(D(x, c_wrong), 0) + BCE(D(G(z, c), c), 0)] / 2,

and Stage-II's discriminator adds an unconditional logit, as the PyTorch
reference's ``compute_discriminator_loss`` does:

    L_D = [BCE_c(real) + BCE_u(real)] / 2 + [BCE_c(fake) + BCE_c(wrong) + BCE_u(fake)] / 3.

The generator: L_G = BCE(D(G, c), 1) (+ the unconditional term for Stage-II)
+ kl_weight KL(N(mu, sigma^2) || N(0, I)), the KL summed over the condition's
coordinates and averaged over the batch. D sees the condition's mean mu,
detached (the reference conditions D on ``mu.detach()``).

Wrong texts: the reference pairs each image with its neighbour's text in the
batch, which can describe it too (two sevens drawn bold and upright); here
each image gets the text of a random *other* attribute combination
(:func:`mismatched_texts`), so a wrong pair is never a match.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxgen.losses import gaussian_kl
from jaxgen.objectives._core import Context, Forward, Update


def mismatched_texts(key: jax.Array, combination: jax.Array, table: jax.Array) -> jax.Array:
  """For each example, the embedding of a caption of another combination than its own.

  Args:
    key: randomness of the draw.
    combination: (B,) int, each example's attribute combination, an index of ``table``.
    table: (K, T, E) embeddings of the T phrasings of each of the K combinations.

  Returns:
    (B, E): the embedding of phrasing t_b of combination (combination_b + s_b) mod K,
    s_b uniform in 1..K-1, t_b uniform: never the example's own combination.
  """
  k_shift, k_phrasing = jax.random.split(key)
  num, phrasings = table.shape[0], table.shape[1]
  shift = jax.random.randint(k_shift, combination.shape, 1, num)
  phrasing = jax.random.randint(k_phrasing, combination.shape, 0, phrasings)
  return table[(combination + shift) % num, phrasing]


def _bce(logits, label: int):
  """Binary cross-entropy from logits, batch mean: softplus(-l) for label 1, softplus(l) for label 0."""
  return jnp.mean(jax.nn.softplus(-logits if label else logits))


def stackgan_updates(
    *,
    stage: int,
    latent_dim: int,
    caption_table,
    kl_weight: float = 1.0,
    augment: bool = True,
    generator: str = "generator",
    discriminator: str = "discriminator",
    stage1: str = "stage1",
    stream: str = "x",
) -> list[Update]:
  """The discriminator's and the generator's updates of one StackGAN stage.

  The stream holds ``{"x": images in [-1, 1] at the stage's side, "phi": (B, E)
  text embeddings, "combination": (B,) int}``. Stage 1: G(phi, z) draws the
  image; stage 2: the frozen Stage-I network ``stage1`` (no optimizer, run in
  inference mode) draws it at half the side from (phi, z) and G(image, phi)
  redraws it.

  Args:
    stage: 1 or 2.
    latent_dim: size of z ~ N(0, I).
    caption_table: (K, T, E) embeddings of every phrasing of every
      combination (the wrong texts are drawn from it).
    kl_weight: weight of CA's KL in G's loss (the paper: 1; the reference
      code's ``COEFF.KL`` = 2 on the KL averaged over coordinates, i.e.
      2 / condition_dim here).
    augment: False is the paper's ablation without conditioning
      augmentation: the generators see c = mu (no noise) and G's loss has no
      KL term (``kl`` is still reported).

  Returns:
    ``[Forward(generator), Update(discriminator), Update(generator)]``: G runs
    once a step (its BatchNorm statistics updated once, as the reference's
    one forward), D's update reads its images detached, G's gets their
    gradient through the forward. Metrics: ``d_loss``,
    ``d_real``, ``d_wrong``, ``d_fake`` (mean D probabilities of the
    conditional logit), ``g_loss``, ``kl``.
  """
  if stage not in (1, 2):
    raise ValueError(f"stage must be 1 or 2, got {stage!r}")
  if not kl_weight >= 0:
    raise ValueError(f"kl_weight must be >= 0, got {kl_weight!r}")
  kl_weight = kl_weight if augment else 0.0
  table = jnp.asarray(caption_table, jnp.float32)
  if table.ndim != 3:
    raise ValueError(f"caption_table must be (combinations, phrasings, embedding_dim), got shape {table.shape}")

  def fake_forward(models, ctx: Context):
    """The stage's generator on the batch's texts, once per step: its images, mu and logvar."""
    batch = ctx.batch[stream]
    z_key, k1, k2 = jax.random.split(ctx.key, 3)
    k1, k2 = (k1, k2) if augment else (None, None)  # without CA, c = mu
    z = jax.random.normal(z_key, (batch["phi"].shape[0], latent_dim))
    if stage == 1:
      fake, mu, logvar = models[generator](batch["phi"], z, train=True, key=k1)
    else:
      low, _, _ = models[stage1](batch["phi"], z, train=False, key=k1)
      fake, mu, logvar = models[generator](low, batch["phi"], train=True, key=k2)
    return {"fake": fake, "mu": mu, "logvar": logvar}

  def logits(d, x, c):
    out = d(x, c, train=True)
    return out if stage == 2 else (out, None)

  def discriminator_objective(models, ctx: Context):
    batch = ctx.batch[stream]
    shared = jax.lax.stop_gradient(ctx.shared["fake"])
    fake, mu = shared["fake"], shared["mu"]
    # The wrong texts' conditions through G's own CA (its mean, as D sees mu for the matching texts).
    _, mu_wrong, _ = jax.lax.stop_gradient(models[generator].ca(mismatched_texts(ctx.key, batch["combination"], table)))
    d = models[discriminator]
    real_c, real_u = logits(d, batch["x"], mu)
    wrong_c, _ = logits(d, batch["x"], mu_wrong)
    fake_c, fake_u = logits(d, fake, mu)
    real, wrong, fake_loss = _bce(real_c, 1), _bce(wrong_c, 0), _bce(fake_c, 0)
    if stage == 1:
      loss = real + (wrong + fake_loss) / 2
    else:
      loss = (real + _bce(real_u, 1)) / 2 + (fake_loss + wrong + _bce(fake_u, 0)) / 3
    probs = {name: jnp.mean(jax.nn.sigmoid(v)) for name, v in (("d_real", real_c), ("d_wrong", wrong_c),
                                                               ("d_fake", fake_c))}
    return loss, {"d_loss": loss, **probs}

  def generator_objective(models, ctx: Context):
    shared = ctx.shared["fake"]
    fake_c, fake_u = logits(models[discriminator], shared["fake"], jax.lax.stop_gradient(shared["mu"]))
    adversarial = _bce(fake_c, 1) + (_bce(fake_u, 1) if stage == 2 else 0.0)
    kl = jnp.mean(gaussian_kl(shared["mu"], shared["logvar"]))
    loss = adversarial + kl_weight * kl
    return loss, {"g_loss": adversarial, "kl": kl}

  return [Forward(generator, fake_forward, name="fake"),
          Update(discriminator, discriminator_objective, name="discriminator"),
          Update(generator, generator_objective, name="generator")]
