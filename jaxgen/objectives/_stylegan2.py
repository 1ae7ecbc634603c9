"""StyleGAN2's training phases: the logistic losses, lazy R1 and lazy path-length regularisation.

The phases of ``training/loss.py`` and ``training/training_loop.py`` of
NVlabs/stylegan2-ada-pytorch, in their order, all on the same real batch:

* ``generator`` (Gmain): softplus(-D(G(z))), the non-saturating logistic loss,
  with style mixing and random noise inputs;
* ``path_length`` (Greg, every ``pl_interval`` steps): ``pl_weight`` *
  (||J_w^T y|| - a)^2 on ``batch // pl_batch_shrink`` images
  (``jaxgen.losses.path_lengths``), a <- a + ``pl_decay`` (mean length - a)
  kept in the auxiliary state (``aux["pl_mean"]``), times the interval;
* ``discriminator`` (Dmain): softplus(D(G(z))) + softplus(-D(x));
* ``r1`` (Dreg, every ``r1_interval`` steps): gamma / 2 * ||grad_x D(x)||^2
  (``jaxgen.losses.r1_penalty``), times the interval.

A lazy term run every k steps with its loss times k has, on average, the
weight of one run every step (Karras et al. 2020, Section 3.1). Each network's
main and lazy updates step one Adam, whose learning rate and betas are
adjusted for the extra steps: :func:`lazy_adam_hyperparameters`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen import losses
from jaxgen.objectives._core import Context, Update
from jaxgen.objectives._gan import _real_batch, sample_class_labels


def lazy_adam_hyperparameters(learning_rate: float, betas: tuple[float, float],
                              interval: int | None) -> tuple[float, tuple[float, float]]:
  """(lr c, (beta1^c, beta2^c)) with c = k / (k + 1), k the regularisation interval (None or 0: c = 1).

  A network whose optimizer also steps for a lazy regulariser takes k + 1
  steps per k iterations; c keeps its learning rate and the averaging
  horizons of Adam's moments per iteration as set (``training_loop.py``,
  ``mb_ratio``).

  Example:
    >>> lr, (b1, b2) = lazy_adam_hyperparameters(0.0025, (0.0, 0.99), 16)
    >>> print(f"{lr:.6f} {b1:.1f} {b2:.6f}")
    0.002353 0.0 0.990585
  """
  if interval is not None and (isinstance(interval, bool) or not isinstance(interval, int) or interval < 0):
    raise ValueError(f"interval must be an integer >= 0 (0 or None: no lazy regularisation), got {interval!r}")
  b1, b2 = (float(b) for b in betas)
  if not learning_rate > 0 or not (0 <= b1 < 1 and 0 <= b2 < 1):
    raise ValueError(f"need learning_rate > 0 and betas in [0, 1), got {learning_rate}, {betas}")
  ratio = 1.0 if not interval else interval / (interval + 1)
  return float(learning_rate) * ratio, (b1**ratio, b2**ratio)


def stylegan2_aux_init() -> dict[str, jax.Array]:
  """The auxiliary state of :func:`stylegan2_updates`: the running mean path length a = 0."""
  return {"pl_mean": jnp.zeros((), jnp.float32)}


def _check(name: str, value, *, integer: bool = False, positive: bool = False):
  bad = isinstance(value, bool) or (integer and not isinstance(value, (int, np.integer)))
  if bad or not (value > 0 if positive else value >= 0):
    kind = "an integer" if integer else "a number"
    raise ValueError(f"{name} must be {kind} {'> 0' if positive else '>= 0'}, got {value!r}")


def stylegan2_updates(
    *,
    latent_dim: int,
    r1_gamma: float,
    r1_interval: int = 16,
    pl_weight: float = 2.0,
    pl_interval: int = 4,
    pl_batch_shrink: int = 2,
    pl_decay: float = 0.01,
    mixing_prob: float = 0.9,
    num_classes: int | None = None,
    class_probs=None,
    generator: str = "generator",
    discriminator: str = "discriminator",
    stream: str = "x",
) -> list[Update]:
  """The updates of one StyleGAN2 step (see the module docstring); run with ``aux=stylegan2_aux_init()``.

  G is a ``jaxgen.models.stylegan2.StyleGAN2Generator`` (``styles`` and
  ``synthesis`` are used apart for the path lengths), D returns logits (B,),
  or (logits, None) when conditional. Conditional (``num_classes`` set): the
  stream holds ``{"x": images, "y": labels}`` and generated images get labels
  drawn from ``class_probs`` (default uniform).

  Args:
    latent_dim: size of z ~ N(0, I).
    r1_gamma: R1 weight gamma (the reference: 10 for FFHQ at 1024, 0.01 for
      CIFAR-10; its "auto" rule 0.0002 side^2 / batch). 0 leaves R1 out.
    r1_interval: D's lazy interval (16); 0 runs R1 with the main loss's
      update every step, unscaled.
    pl_weight: path-length weight (2; 0 leaves it out, as the reference's
      CIFAR-10 config).
    pl_interval: G's lazy interval (4).
    pl_batch_shrink: the path-length batch is the batch // this (2).
    pl_decay: the running mean's rate (0.01).
    mixing_prob: style-mixing probability of every G call (0.9).
    num_classes, class_probs: conditioning by label (None: unconditional).
    generator, discriminator: the networks' names; stream: the data stream.

  Returns:
    The updates ``generator``, ``path_length`` (when ``pl_weight`` > 0),
    ``discriminator``, ``r1`` (when ``r1_gamma`` > 0 and ``r1_interval`` > 0).

  Metrics: ``g_loss``, ``d_loss``, ``d_real``, ``d_fake`` (mean D
  probabilities), ``r1`` (mean ||grad||^2, unweighted), ``pl_length`` (mean
  length), ``pl_mean``.

  Example:
    >>> [u.name for u in stylegan2_updates(latent_dim=128, r1_gamma=1.0)]
    ['generator', 'path_length', 'discriminator', 'r1']
  """
  _check("latent_dim", latent_dim, integer=True, positive=True)
  for name, value in (("r1_gamma", r1_gamma), ("pl_weight", pl_weight)):
    _check(name, value)
  for name, value in (("r1_interval", r1_interval), ("pl_interval", pl_interval)):
    _check(name, value, integer=True)
  _check("pl_batch_shrink", pl_batch_shrink, integer=True, positive=True)
  if not 0 < pl_decay <= 1:
    raise ValueError(f"pl_decay must lie in (0, 1], got {pl_decay!r}")
  if not 0 <= mixing_prob <= 1:
    raise ValueError(f"mixing_prob must be a probability in [0, 1], got {mixing_prob!r}")
  conditional = num_classes is not None
  if conditional:
    probs = np.full(num_classes, 1.0 / num_classes) if class_probs is None else np.asarray(class_probs, np.float64)
    if probs.shape != (num_classes,) or np.any(probs < 0) or not probs.sum() > 0:
      raise ValueError(f"class_probs must be {num_classes} non-negative frequencies, got shape {probs.shape}")
    log_probs = jnp.log(jnp.asarray(probs / probs.sum(), jnp.float32))

  def latents(key, num):
    z_key, y_key = jax.random.split(key)
    z = jax.random.normal(z_key, (num, latent_dim))
    return z, (sample_class_labels(y_key, num, log_probs) if conditional else None)

  def generate(g, key, num):
    """G(z, y) in training mode: style mixing and random noise from ``key``; returns (images, y)."""
    latent_key, g_key = jax.random.split(key)
    z, y = latents(latent_key, num)
    return g(z, y, train=True, key=g_key, mixing_prob=mixing_prob), y

  def logits_of(d, x, y):
    return d(x, train=True) if not conditional else d(x, y, train=True)[0]

  def generator_objective(models, ctx: Context):
    real, _ = _real_batch(ctx.batch, stream, conditional)
    fake, y = generate(models[generator], ctx.key, real.shape[0])
    fake_logits = logits_of(models[discriminator], fake, y)
    g_loss = jnp.mean(jax.nn.softplus(-fake_logits))
    return g_loss, {"g_loss": g_loss}

  def path_length_objective(models, ctx: Context):
    real, _ = _real_batch(ctx.batch, stream, conditional)
    num = max(real.shape[0] // pl_batch_shrink, 1)
    g = models[generator]
    latent_key, mixing_key, noise_key, pl_noise_key = jax.random.split(ctx.key, 4)
    z, y = latents(latent_key, num)
    ws = g.styles(z, y, train=True, key=mixing_key, mixing_prob=mixing_prob)
    lengths = losses.path_lengths(lambda w: g.synthesis(w, noise_mode="random", key=noise_key), ws, pl_noise_key)
    # The reference's pl_mean carries the gradient of this batch's mean length into the penalty; stored detached.
    pl_mean = ctx.aux["pl_mean"] + pl_decay * (jnp.mean(lengths) - ctx.aux["pl_mean"])
    loss = jnp.mean(jnp.square(lengths - pl_mean)) * pl_weight * ctx.every
    metrics = {"pl_length": jnp.mean(lengths), "pl_mean": pl_mean}
    return loss, metrics, {**ctx.aux, "pl_mean": jax.lax.stop_gradient(pl_mean)}

  def discriminator_objective(models, ctx: Context):
    real, real_y = _real_batch(ctx.batch, stream, conditional)
    fake, y = generate(models[generator], ctx.key, real.shape[0])
    d = models[discriminator]
    fake_logits = logits_of(d, jax.lax.stop_gradient(fake), y)
    real_logits = logits_of(d, real, real_y)
    d_loss = jnp.mean(jax.nn.softplus(fake_logits)) + jnp.mean(jax.nn.softplus(-real_logits))
    metrics = {"d_loss": d_loss, "d_real": jnp.mean(jax.nn.sigmoid(real_logits)),
               "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits))}
    if r1_gamma > 0 and r1_interval == 0:  # not lazy: R1 in every discriminator step
      r1 = jnp.mean(losses.r1_penalty(lambda x: logits_of(d, x, real_y), real))
      d_loss, metrics["r1"] = d_loss + r1_gamma / 2 * r1, r1
    return d_loss, metrics

  def r1_objective(models, ctx: Context):
    real, real_y = _real_batch(ctx.batch, stream, conditional)
    d = models[discriminator]
    r1 = jnp.mean(losses.r1_penalty(lambda x: logits_of(d, x, real_y), real))
    return r1 * (r1_gamma / 2) * ctx.every, {"r1": r1}

  updates = [Update(generator, generator_objective, name="generator")]
  if pl_weight > 0:
    updates.append(Update(generator, path_length_objective, every=max(pl_interval, 1), name="path_length"))
  updates.append(Update(discriminator, discriminator_objective, name="discriminator"))
  if r1_gamma > 0 and r1_interval > 0:
    updates.append(Update(discriminator, r1_objective, every=r1_interval, name="r1"))
  return updates
