"""GAN training as updates: k discriminator steps, then one generator step.

:func:`gan_updates` turns a loss name into the list of :class:`Update` s of
Algorithm 1 of Goodfellow et al. (2014), to pass to ``jaxgen.train``; the zoo's
families build on it.

Model interface (shared by every GAN family in jaxgen):

* ``generator(z, *, train: bool) -> x``: ``z`` of shape ``(B, *latent_shape)``,
  ``x`` of the data's shape ``(B, ...)``. ``train`` selects batch statistics
  (and their update) in BatchNorm.
* ``discriminator(x, *, train: bool, key: jax.Array | None) -> logits``:
  raw outputs, shape ``(B',)`` with ``B' = B`` in general and ``B' = B / m``
  for a PacGAN discriminator packing m samples into one input (it reshapes its
  input itself); for the logistic losses they are logits of D(x) =
  sigmoid(logit). ``key`` drives dropout when ``train``; it is ``None`` in
  evaluation.
* Conditional families take the labels too: ``generator(z, y, *, train)`` and
  ``discriminator(x, y, *, train, key) -> (logits, class_logits or None)``
  (class logits from an auxiliary classifier head, AC-GAN).

Batches: the real data is the stream ``"x"`` (``data={"x": images}``; a
conditional GAN's ``data={"x": {"x": images, "y": labels}}``, one order for
both), of shape ``(B, ...)``, or ``(k, B, ...)`` when the k discriminator
steps each draw their own minibatch (``split_batch``; the train loop's
``batch_shape=(k, B)``).

Both networks run in train mode in both updates (dropout in D, batch
statistics in G and D), as in the reference implementations; D sees the real
and the generated batch in separate calls, so a BatchNorm in D never mixes them.

Metrics of a step: ``d_loss`` (mean discriminator loss), ``g_loss`` (mean
generator loss), and what the loss's outputs mean: ``d_real``/``d_fake`` (mean
D(x), D(G(z)) seen by the last discriminator step) for logistic losses,
``critic_real``/``critic_fake`` for critics (see :func:`gan_updates`). The generator's EMA is kept by the train step
(``run_training(..., ema_networks=("generator",), ema_decay=...)``).
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

import jaxgen.nn
from jaxgen import losses
from jaxgen.objectives._core import Context, Update


@dataclasses.dataclass(frozen=True)
class GANLoss:
  """One adversarial loss: per-example D and G losses of the critic's raw outputs, and how to read them.

  Attributes:
    discriminator: ``(real_logits, fake_logits) -> (B,)``, minimized by D.
    generator: ``(real_logits, fake_logits) -> (B,)``, minimized by G (most
      ignore the real outputs; the relativistic loss needs them).
    logistic: D's outputs are logits of a probability D(x) = sigmoid(output),
      so ``d_real``/``d_fake`` are logged; otherwise the raw critic values
      ``critic_real``/``critic_fake`` are (a sigmoid of a hinge critic means
      nothing).
    relativistic: D's probability is sigmoid(C(x) - mean C(other set)).
    needs_real_for_generator: the G loss reads D's outputs on real data.
    gradient_penalty: default weight of the WGAN-GP penalty (0: none).
  """

  discriminator: Callable
  generator: Callable
  logistic: bool
  relativistic: bool = False
  needs_real_for_generator: bool = False
  gradient_penalty: float = 0.0


GAN_LOSSES: dict[str, GANLoss] = {
    # min_G max_D V(D, G), the generator minimizing log(1 - D(G(z))) (Goodfellow et al. 2014, eq. 1).
    "minimax": GANLoss(losses.minimax_discriminator_loss, lambda r, f: losses.minimax_generator_loss(f), True),
    # The generator maximizing log D(G(z)) instead (Goodfellow et al. 2014, Section 3).
    "non_saturating": GANLoss(
        losses.minimax_discriminator_loss, lambda r, f: losses.non_saturating_generator_loss(f), True),
    # Lim & Ye 2017; Miyato et al. 2018, eq. 16-17 (BigGAN's loss).
    "hinge": GANLoss(losses.hinge_discriminator_loss, lambda r, f: losses.hinge_generator_loss(f), False),
    # Mao et al. 2017, eq. 2 with a = 0, b = c = 1 (CycleGAN's choice).
    "least_squares": GANLoss(
        losses.least_squares_discriminator_loss, lambda r, f: losses.least_squares_generator_loss(f), False),
    # Gulrajani et al. 2017: the Wasserstein critic loss plus 10 (||grad D(x_hat)|| - 1)^2.
    "wgan_gp": GANLoss(losses.wasserstein_discriminator_loss, lambda r, f: losses.wasserstein_generator_loss(f),
                       False, gradient_penalty=10.0),
    # Jolicoeur-Martineau 2019, RaSGAN: each side judged against the mean of the other.
    "relativistic_average": GANLoss(
        losses.relativistic_average_discriminator_loss, losses.relativistic_average_generator_loss, True,
        relativistic=True, needs_real_for_generator=True),
}

# sample_latent(key, num) -> z of shape (num, *latent_shape)
LatentSampler = Callable[[jax.Array, int], jax.Array]


def check_gan_loss(loss: str) -> GANLoss:
  """The :data:`GAN_LOSSES` entry of ``loss``; a one-line ValueError with a suggestion otherwise."""
  if loss not in GAN_LOSSES:
    close = difflib.get_close_matches(str(loss), GAN_LOSSES, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise ValueError(f"unknown GAN loss '{loss}'.{hint} Known losses: {', '.join(sorted(GAN_LOSSES))}")
  return GAN_LOSSES[loss]


def _real_batch(batch, stream: str, conditional: bool):
  """The real examples (and labels) of this step's batch."""
  if not isinstance(batch, dict) or stream not in batch:
    raise ValueError(
        f"a GAN batch must be a dict with key '{stream}' (the real examples), got {type(batch).__name__}"
        + (f" with keys {sorted(batch)}" if isinstance(batch, dict) else "")
        + f": pass data={{'{stream}': images}} to the train loop."
    )
  real = batch[stream]
  if conditional:
    if not isinstance(real, dict) or set(real) != {"x", "y"}:
      raise ValueError(f"a conditional GAN's stream '{stream}' must hold {{'x': images, 'y': labels}} "
                       f"(images and labels paired), got {type(real).__name__}")
    return real["x"], real["y"]
  if isinstance(real, dict):
    raise ValueError(f"stream '{stream}' holds a dict {sorted(real)}: pass num_classes for a conditional GAN, "
                     "or the images alone")
  return real, None


def _frozen_copy(module: nnx.Module) -> Callable:
  """Calls a copy of ``module`` whose state changes are dropped, differentiable in its parameters.

  A penalty differentiates D with respect to its input inside the loss's own
  differentiation; a state write there (BatchNorm statistics, a spectral norm's
  power iteration) would leak the inner trace, so the penalty calls a copy.
  """
  graphdef, state = nnx.split(module)
  return lambda *args, **kwargs: nnx.merge(graphdef, state)(*args, **kwargs)


def sample_class_labels(key: jax.Array, num: int, log_probs: jax.Array) -> jax.Array:
  """``num`` labels y ~ Categorical(exp(log_probs)): the classes of a batch of generated images."""
  return jax.random.categorical(key, log_probs, shape=(num,))


def _cross_entropy(class_logits: jax.Array, labels: jax.Array) -> jax.Array:
  """-log softmax(class_logits)[label], per example."""
  return -jnp.take_along_axis(jax.nn.log_softmax(class_logits), labels[:, None], axis=-1)[:, 0]


def gan_updates(
    *,
    loss: str = "non_saturating",
    k: int = 1,
    latent_dim: int | Sequence[int] | None,
    generator: str = "generator",
    discriminator: str = "discriminator",
    split_batch: bool | None = None,
    sample_latent: LatentSampler | None = None,
    stream: str = "x",
    num_classes: int | None = None,
    class_probs=None,
    ac_weight: float = 1.0,
    gradient_penalty: float | None = None,
    r1_gamma: float = 0.0,
    r2_gamma: float = 0.0,
    augment: str = "",
    generator_ortho: float = 0.0,
    discriminator_ortho: float = 0.0,
    ortho_exclude: Sequence[str] = (),
) -> list[Update]:
  r"""The updates of one GAN step: k discriminator updates, then one generator update.

  Discriminator: minimizes mean_i d_loss(D(x_i), D(G(z_i))) + penalties; for
  the minimax and non-saturating losses -mean[log D(x) + log(1 - D(G(z)))] =
  -V(D, G). Generator: minimizes mean_i g_loss(D(G(z_i))): log(1 - D(G(z)))
  for ``"minimax"`` (eq. 1, saturating), -log D(G(z)) for
  ``"non_saturating"``; the other losses of :data:`GAN_LOSSES` likewise.
  Fresh z ~ p_z for every update, drawn from the update's key.

  Penalties on D, added to its loss: ``gradient_penalty`` * E(||grad D(x_hat)||
  - 1)^2 at random interpolates (WGAN-GP; default 10 for ``"wgan_gp"``, else
  0), ``r1_gamma`` / 2 * E||grad D(x)||^2 at real data and ``r2_gamma`` / 2 *
  E||grad D(G(z))||^2 at generated data (Mescheder et al. 2018, eq. 9-10).
  The input gradients are per example only when D has no batch statistics:
  use such penalties with a D without BatchNorm.

  Conditional GANs (``num_classes`` set): the stream holds ``{"x": images,
  "y": labels}``; G is called as ``G(z, y, train=...)`` and D as ``D(x, y,
  train=..., key=...) -> (logits, class_logits or None)``. Generated images
  get labels drawn from ``class_probs`` (the data's class frequencies;
  default uniform). When D returns class logits (AC-GAN, Odena et al. 2017,
  Section 3) D also minimizes ``ac_weight`` * the class cross-entropy on real
  AND generated images, and G ``ac_weight`` * that on its own images.

  ``augment``: a DiffAugment policy (``jaxgen.nn.diff_augment``, Zhao et al.
  2020) applied to every image D sees, real and generated, in both updates;
  differentiable, so G learns through it.

  Orthogonal regularisation (BigGAN, Brock et al. 2019, Section 3.1):
  ``generator_ortho`` * R(G's weights) added to G's loss,
  ``discriminator_ortho`` * R(D's weights) to D's, with R
  ``losses.orthogonal_regularization_tree`` at beta = 1 (its gradient is the
  reference's added gradient); ``ortho_exclude`` names G's parameters left out
  (BigGAN: ``("shared",)``, the shared class embedding).

  Args:
    loss: a key of :data:`GAN_LOSSES`.
    k: discriminator updates per generator update (Algorithm 1).
    latent_dim: the latent shape (int or tuple) of the default sampler
      z ~ N(0, I); may be ``None`` when ``sample_latent`` is given.
    generator: name of the generator network in the models dict.
    discriminator: name of the discriminator network.
    split_batch: whether the real batch has a leading axis k, one minibatch
      per discriminator update (Algorithm 1). Default: ``k > 1``.
    sample_latent: ``sample_latent(key, num) -> z``, replacing N(0, I).
    stream: the data stream of the real examples.
    num_classes: classes of a conditional GAN (None: unconditional).
    class_probs: ``(num_classes,)`` label frequencies for generated images.
    ac_weight: weight of the auxiliary classifier's cross-entropy.
    gradient_penalty: WGAN-GP weight (None: the loss's default).
    r1_gamma: R1 weight gamma (the penalty is gamma / 2 * E||grad||^2).
    r2_gamma: R2 weight gamma.
    augment: DiffAugment policy, e.g. ``"color,translation,cutout"`` ("" none).
    generator_ortho: G's orthogonal-regularisation strength (BigGAN: 1e-4).
    discriminator_ortho: D's (the reference's ``D_ortho``, default 0).
    ortho_exclude: path names of G's parameters the regularisation skips.

  Returns:
    ``[discriminator update (repeats=k), generator update]``.

  Metrics: ``d_loss``, ``g_loss``; ``d_real``/``d_fake`` (mean probability
  D(x), D(G(z)); relativistic: sigmoid(C(x) - mean C(G(z))) and the converse)
  for logistic losses, ``critic_real``/``critic_fake`` (mean raw outputs) for
  the others; ``gradient_penalty``, ``r1``, ``r2`` (mean squared input
  gradient norms, unweighted) when on; ``g_ortho``, ``d_ortho`` (the
  regularisation at beta = 1) when on; ``class_loss_real``,
  ``class_loss_fake``, ``class_acc_real``, ``class_acc_fake`` for AC heads.

  Example:
    >>> updates = gan_updates(loss="minimax", k=1, latent_dim=100)
    >>> [u.name for u in updates]
    ['discriminator', 'generator']

  References:
    Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014, eq. 1,
    Algorithm 1 and Section 3; the other losses: see :data:`GAN_LOSSES`.
  """
  spec = check_gan_loss(loss)
  if k < 1:
    raise ValueError(f"k (discriminator steps per generator step) must be >= 1, got {k}")
  if sample_latent is None:
    if latent_dim is None:
      raise ValueError("give latent_dim (for z ~ N(0, I)) or sample_latent")
    latent_shape = (latent_dim,) if isinstance(latent_dim, int) else tuple(latent_dim)
    sample_latent = lambda key, num: jax.random.normal(key, (num, *latent_shape))
  gp_weight = spec.gradient_penalty if gradient_penalty is None else float(gradient_penalty)
  for name, value in (("gradient_penalty", gp_weight), ("r1_gamma", r1_gamma), ("r2_gamma", r2_gamma),
                      ("ac_weight", ac_weight), ("generator_ortho", generator_ortho),
                      ("discriminator_ortho", discriminator_ortho)):
    if not value >= 0:
      raise ValueError(f"{name} must be >= 0, got {value}")
  for name in (p.strip() for p in augment.split(",") if p.strip()):
    if name not in jaxgen.nn.DIFF_AUGMENT_POLICIES:
      close = difflib.get_close_matches(name, jaxgen.nn.DIFF_AUGMENT_POLICIES, n=1)
      hint = f" Did you mean '{close[0]}'?" if close else ""
      raise ValueError(f"unknown DiffAugment policy '{name}' in augment='{augment}'.{hint} "
                       f"Known: {', '.join(jaxgen.nn.DIFF_AUGMENT_POLICIES)}")
  conditional = num_classes is not None
  if conditional:
    if num_classes < 1:
      raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    probs = np.full(num_classes, 1.0 / num_classes) if class_probs is None else np.asarray(class_probs, np.float64)
    if probs.shape != (num_classes,) or np.any(probs < 0) or not probs.sum() > 0:
      raise ValueError(f"class_probs must be {num_classes} non-negative frequencies, got shape {probs.shape}")
    log_probs = jnp.log(jnp.asarray(probs / probs.sum(), jnp.float32))
  split = k > 1 if split_batch is None else bool(split_batch)

  def generate(models, z_key, y_key, num):
    """G(z[, y]) and the labels y of the generated images (None when unconditional)."""
    z = sample_latent(z_key, num)
    if not conditional:
      return models[generator](z, train=True), None
    y = sample_class_labels(y_key, num, log_probs)
    return models[generator](z, y, train=True), y

  def critic(d, x, y, key, aug_key):
    """D's raw outputs (B,) and class logits (None unless AC) on images x, augmented when asked."""
    if augment:
      x = jaxgen.nn.diff_augment(aug_key, x, augment)
    if not conditional:
      return d(x, train=True, key=key), None
    return d(x, y, train=True, key=key)

  def critic_of_inputs(d, y, key, aug_key):
    """x -> D's raw outputs at labels y, through a copy of D (for the input-gradient penalties)."""
    copy = _frozen_copy(d)
    return lambda inputs: critic(copy, inputs, y, key, aug_key)[0]

  def adversarial_metrics(real_logits, fake_logits):
    if spec.relativistic:
      return {"d_real": jnp.mean(jax.nn.sigmoid(real_logits - jnp.mean(fake_logits))),
              "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits - jnp.mean(real_logits)))}
    if spec.logistic:
      return {"d_real": jnp.mean(jax.nn.sigmoid(real_logits)), "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits))}
    return {"critic_real": jnp.mean(real_logits), "critic_fake": jnp.mean(fake_logits)}

  def discriminator_objective(models, ctx: Context):
    # The train step has already taken this repeat's minibatch.
    x, y = _real_batch(ctx.batch, stream, conditional)
    z_key, real_key, fake_key = jax.random.split(ctx.key, 3)
    y_key, aug_real, aug_fake, gp_key = jax.random.split(jax.random.fold_in(ctx.key, 1), 4)
    fake, fake_y = generate(models, z_key, y_key, x.shape[0])
    fake = jax.lax.stop_gradient(fake)  # only D's parameters are differentiated here
    d = models[discriminator]
    real_logits, real_classes = critic(d, x, y, real_key, aug_real)
    fake_logits, fake_classes = critic(d, fake, fake_y, fake_key, aug_fake)
    adversarial = jnp.mean(spec.discriminator(real_logits, fake_logits))
    metrics = {**adversarial_metrics(real_logits, fake_logits)}
    d_loss = adversarial
    if gp_weight > 0:
      gp = jnp.mean(losses.gradient_penalty(
          critic_of_inputs(d, y, real_key, aug_real), x, fake, gp_key))
      d_loss, metrics["gradient_penalty"] = d_loss + gp_weight * gp, gp
    if r1_gamma > 0:
      r1 = jnp.mean(losses.r1_penalty(critic_of_inputs(d, y, real_key, aug_real), x))
      d_loss, metrics["r1"] = d_loss + 0.5 * r1_gamma * r1, r1
    if r2_gamma > 0:
      r2 = jnp.mean(losses.r2_penalty(critic_of_inputs(d, fake_y, fake_key, aug_fake), fake))
      d_loss, metrics["r2"] = d_loss + 0.5 * r2_gamma * r2, r2
    if real_classes is not None:
      # AC-GAN: D learns the class of real AND generated images (Odena et al. 2017, L_C).
      class_real, class_fake = _cross_entropy(real_classes, y), _cross_entropy(fake_classes, fake_y)
      d_loss = d_loss + ac_weight * (jnp.mean(class_real) + jnp.mean(class_fake))
      metrics.update(class_loss_real=jnp.mean(class_real), class_loss_fake=jnp.mean(class_fake),
                     class_acc_real=jnp.mean(jnp.argmax(real_classes, -1) == y),
                     class_acc_fake=jnp.mean(jnp.argmax(fake_classes, -1) == fake_y))
    if discriminator_ortho > 0:
      ortho = losses.orthogonal_regularization_tree(nnx.state(d, nnx.Param), 1.0)
      d_loss, metrics["d_ortho"] = d_loss + discriminator_ortho * ortho, ortho
    metrics["d_loss"] = d_loss
    return d_loss, metrics

  def generator_objective(models, ctx: Context):
    x, y = _real_batch(ctx.batch, stream, conditional)
    num = x.shape[1] if split else x.shape[0]
    z_key, d_key = jax.random.split(ctx.key)
    y_key, aug_fake, aug_real, real_key = jax.random.split(jax.random.fold_in(ctx.key, 1), 4)
    fake, fake_y = generate(models, z_key, y_key, num)
    d = models[discriminator]
    fake_logits, fake_classes = critic(d, fake, fake_y, d_key, aug_fake)
    real_logits = fake_logits
    if spec.needs_real_for_generator:
      xr, yr = (x[0], None if y is None else y[0]) if split else (x, y)
      real_logits, _ = critic(d, xr, yr, real_key, aug_real)
    g_loss = jnp.mean(spec.generator(real_logits, fake_logits))
    metrics = {}
    if fake_classes is not None:
      class_fake = jnp.mean(_cross_entropy(fake_classes, fake_y))
      g_loss = g_loss + ac_weight * class_fake
      metrics["g_class_loss"] = class_fake
    if generator_ortho > 0:
      ortho = losses.orthogonal_regularization_tree(nnx.state(models[generator], nnx.Param), 1.0, ortho_exclude)
      g_loss, metrics["g_ortho"] = g_loss + generator_ortho * ortho, ortho
    metrics["g_loss"] = g_loss
    return g_loss, metrics

  return [
      Update(discriminator, discriminator_objective, repeats=k, split_batch=split),
      Update(generator, generator_objective),
  ]


def discriminator_update_against(
    sample_fake: Callable[[jax.Array, tuple[int, ...]], jax.Array],
    *,
    loss: str = "minimax",
    discriminator: str = "discriminator",
    stream: str = "x",
) -> Update:
  r"""The discriminator update against a fixed generator distribution p_g.

  Minimizes mean_i d_loss(D(x_i), D(x~_i)) with x ~ p_data from ``stream``
  and x~ = ``sample_fake(key, x.shape)`` ~ p_g. With the minimax loss its
  optimum is D* = p_data / (p_data + p_g) (Goodfellow et al. 2014, Prop. 1),
  which is how ``experiments/gan_theory`` checks that a trained D reaches it.
  The discriminator is called as ``D(x, train=True)``.

  Args:
    sample_fake: ``sample_fake(key, shape) -> x~``, draws of the fixed p_g.
    loss: a key of :data:`GAN_LOSSES` (its discriminator loss is used).
    discriminator: name of the discriminator network.
    stream: the data stream of the real examples.

  Returns:
    One :class:`Update` of ``discriminator``; metric ``d_loss``.

  References:
    Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014, Prop. 1.
  """
  d_loss_fn = check_gan_loss(loss).discriminator

  def objective(models, ctx: Context):
    real = ctx.batch[stream]
    fake = sample_fake(ctx.key, real.shape)
    d = models[discriminator]
    d_loss = jnp.mean(d_loss_fn(d(real, train=True), d(fake, train=True)))
    return d_loss, {"d_loss": d_loss}

  return Update(discriminator, objective)
