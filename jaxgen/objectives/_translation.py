"""Image-to-image translation as updates: Pix2pix (paired) and CycleGAN (unpaired).

Networks (``jaxgen.models.pix2pix``, ``jaxgen.models.cyclegan``) work on
images in [-1, 1]; discriminators return a map of patch logits ``(B, h, w)``
(one logit for a full-image D: ``(B, 1, 1)``), and every adversarial loss is
the mean over the patches of the per-patch loss, as the reference code's
``GANLoss`` does (junyanz/pytorch-CycleGAN-and-pix2pix ``models/networks.py``).

Pix2pix (Isola et al. 2017), one stream of aligned pairs ``{"a": inputs, "b":
targets}``:

  D: minimizes 1/2 * mean_patches d_loss(D(a, b), D(a, G(a)))
  G: minimizes gan_weight * mean_patches g_loss(D(a, G(a))) + l1_weight * mean|G(a) - b|

(eq. 4 with lambda = 100; the D loss halved, Section 3.3). ``gan_weight = 0``
is the L1-only row of their Table 1 (no D update); an unconditional D (the
"GAN" rows) is a model option, D(b) instead of D(a, b).

CycleGAN (Zhu et al. 2017), two streams ``"a"`` and ``"b"`` in their own
orders (unpaired), generators G = g_ab: A -> B and F = g_ba: B -> A:

  G, F jointly: L_GAN(G, D_B) + L_GAN(F, D_A)
                + lambda_A mean|F(G(a)) - a| + lambda_B mean|G(F(b)) - b|
                + identity * (lambda_B mean|G(b) - b| + lambda_A mean|F(a) - a|)
  D_A, D_B:     1/2 [d_loss(D_B(b), D_B(pool_B(G(a)))) + d_loss(D_A(a), D_A(pool_A(F(b))))]

(eq. 3 with lambda = 10, least-squares GAN loss, Section 4, with d_loss =
(D(y) - 1)^2 + D(G(x))^2 and g_loss = (D(G(x)) - 1)^2 as the reference code
has them: twice ``jaxgen.losses``' LSGAN losses, which keep Mao et al.'s 1/2; the identity
weight 0.5 of Section 5.2, counted as the reference counts it: a fraction of
lambda). The generator update runs first and leaves its G(a), F(b) in the
auxiliary state; the discriminator update passes them through the 50-image
pools (:func:`jaxgen.objectives.image_pool_query`) as the reference does, so
each step computes each generator once.

References:
  Isola, Zhu, Zhou, Efros. "Image-to-Image Translation with Conditional
  Adversarial Networks", CVPR 2017, eq. 1-4, Section 3.
  Zhu, Park, Isola, Efros. "Unpaired Image-to-Image Translation using
  Cycle-Consistent Adversarial Networks", ICCV 2017, eq. 1-3, Sections 4-5.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from jaxgen.objectives._core import Context, Forward, Update
from jaxgen.objectives._gan import check_gan_loss
from jaxgen.objectives._pool import image_pool_init, image_pool_query

# Losses that are functions of D's outputs alone: no input-gradient penalty, no mean over the other set.
TRANSLATION_LOSSES = ("non_saturating", "minimax", "least_squares", "hinge")
# The reference code's criterion is MSE against 1 and 0, without Mao et al.'s 1/2 that jaxgen.losses keeps:
# its terms are twice ours (so 1/2 [(D(b) - 1)^2 + D(G(a))^2] for D and (D(G(a)) - 1)^2 for G).
_REFERENCE_SCALE = {"least_squares": 2.0}


def _check_loss(loss: str):
  """The loss's GANLoss, its terms scaled as the reference code computes them."""
  spec = check_gan_loss(loss)
  if loss not in TRANSLATION_LOSSES:
    raise ValueError(f"loss '{loss}' is not available for image translation; use one of {', '.join(TRANSLATION_LOSSES)}")
  scale = _REFERENCE_SCALE.get(loss, 1.0)
  if scale == 1.0:
    return spec
  return dataclasses.replace(spec, discriminator=lambda r, f: scale * spec.discriminator(r, f),
                             generator=lambda r, f: scale * spec.generator(r, f))


def _check_weight(name: str, value: float) -> float:
  if not float(value) >= 0:
    raise ValueError(f"{name} must be >= 0, got {value}")
  return float(value)


def mean_absolute_error(x: jax.Array, y: jax.Array) -> jax.Array:
  """mean_j |x_j - y_j| over every axis but the first: ``(B, ...) -> (B,)``."""
  return jnp.mean(jnp.abs(x - y).reshape(x.shape[0], -1), axis=1)


def _patch_mean(per_patch) -> jax.Array:
  """The mean over examples and patches of a per-patch loss (B, h, w), as the reference's GANLoss takes it."""
  return jnp.mean(per_patch)


def _adversarial_metrics(spec, real_logits, fake_logits, prefix: str = "") -> dict:
  if spec.logistic:
    return {f"{prefix}d_real": jnp.mean(jax.nn.sigmoid(real_logits)),
            f"{prefix}d_fake": jnp.mean(jax.nn.sigmoid(fake_logits))}
  return {f"{prefix}critic_real": jnp.mean(real_logits), f"{prefix}critic_fake": jnp.mean(fake_logits)}


def _pair_batch(batch, stream: str):
  if not isinstance(batch, dict) or stream not in batch or not isinstance(batch[stream], dict) \
      or set(batch[stream]) != {"a", "b"}:
    raise ValueError(f"a Pix2pix batch must be {{'{stream}': {{'a': inputs, 'b': targets}}}} (aligned pairs): "
                     f"pass data={{'{stream}': {{'a': inputs, 'b': targets}}}} to the train loop")
  return batch[stream]["a"], batch[stream]["b"]


def pix2pix_updates(
    *,
    loss: str = "non_saturating",
    l1_weight: float = 100.0,
    gan_weight: float = 1.0,
    discriminator_weight: float = 0.5,
    stream: str = "pair",
    generator: str = "generator",
    discriminator: str = "discriminator",
) -> list[Forward | Update]:
  r"""One Pix2pix step: G(a) once, D on (input, target) against (input, G(a)), then G.

  As the reference's ``optimize_parameters``: one forward pass of G (train
  mode, batch statistics, dropout on, its only noise, Section 3.1); D's update
  sees that G(a) without G's gradient; G's update, after D's, differentiates
  through the same forward pass (same dropout mask, BatchNorm statistics
  updated once). D minimizes ``discriminator_weight`` * mean over patches of
  the loss's d_loss(D(a, b), D(a, G(a))); G minimizes ``gan_weight`` * mean
  over patches g_loss(D(a, G(a))) + ``l1_weight`` * mean|G(a) - b|.

  Args:
    loss: adversarial loss, one of :data:`TRANSLATION_LOSSES` (Pix2pix:
      ``"non_saturating"``, the reference's 'vanilla' BCE).
    l1_weight: lambda of eq. 4 (100).
    gan_weight: weight of G's adversarial term; 0 gives the L1-only model and
      no discriminator update (D then needs no optimizer).
    discriminator_weight: the factor of D's loss (1/2: "we divide the
      objective by 2 while optimizing D", Section 3.3).
    stream: the stream of aligned pairs ``{"a": inputs, "b": targets}``.
    generator, discriminator: the networks' names.

  Returns:
    ``[forward G(a), discriminator update, generator update]``, without the
    discriminator update when ``gan_weight == 0``. Metrics: ``d_loss``,
    ``d_real``/``d_fake`` (or ``critic_*``), ``g_loss``, ``g_gan``, ``l1``.

  Example:
    >>> [u.name for u in pix2pix_updates()]
    ['fake', 'discriminator', 'generator']
    >>> [u.name for u in pix2pix_updates(gan_weight=0.0)]
    ['fake', 'generator']

  References:
    Isola et al., "Image-to-Image Translation with Conditional Adversarial
    Networks", CVPR 2017, eq. 1-4 and Section 3.3.
  """
  spec = _check_loss(loss)
  l1_weight = _check_weight("l1_weight", l1_weight)
  gan_weight = _check_weight("gan_weight", gan_weight)
  discriminator_weight = _check_weight("discriminator_weight", discriminator_weight)
  if l1_weight == 0 and gan_weight == 0:
    raise ValueError("l1_weight and gan_weight are both 0: the generator would learn nothing")

  def fake_forward(models, ctx: Context):
    a, _ = _pair_batch(ctx.batch, stream)
    return models[generator](a, train=True, key=ctx.key)

  def discriminator_objective(models, ctx: Context):
    a, b = _pair_batch(ctx.batch, stream)
    real_key, fake_key = jax.random.split(ctx.key)
    fake = jax.lax.stop_gradient(ctx.shared["fake"])
    d = models[discriminator]
    real_logits, fake_logits = d(a, b, train=True, key=real_key), d(a, fake, train=True, key=fake_key)
    d_loss = discriminator_weight * _patch_mean(spec.discriminator(real_logits, fake_logits))
    return d_loss, {"d_loss": d_loss, **_adversarial_metrics(spec, real_logits, fake_logits)}

  def generator_objective(models, ctx: Context):
    a, b = _pair_batch(ctx.batch, stream)
    fake = ctx.shared["fake"]
    l1 = jnp.mean(mean_absolute_error(fake, b))
    metrics = {"l1": l1}
    g_loss = l1_weight * l1
    if gan_weight > 0:
      fake_logits = models[discriminator](a, fake, train=True, key=ctx.key)
      g_gan = _patch_mean(spec.generator(None, fake_logits))  # these losses ignore D's real outputs
      g_loss, metrics["g_gan"] = g_loss + gan_weight * g_gan, g_gan
    metrics["g_loss"] = g_loss
    return g_loss, metrics

  forward = Forward(generator, fake_forward, name="fake")
  g_update = Update(generator, generator_objective)
  if gan_weight == 0:
    return [forward, g_update]
  return [forward, Update(discriminator, discriminator_objective), g_update]


def cyclegan_aux_init(pool_size: int, shape_a: tuple[int, ...], shape_b: tuple[int, ...], batch_size: int) -> dict:
  """CycleGAN's auxiliary state: a pool of fakes per discriminator, and this step's fakes.

  Returns:
    ``{"pool_a": pool of F(b) for D_A, "pool_b": pool of G(a) for D_B,
    "fake_a": (B, *shape_a), "fake_b": (B, *shape_b)}``; ``pool_size = 0``
    keeps no pools (D sees this step's fakes only).
  """
  aux = {"fake_a": jnp.zeros((batch_size, *shape_a)), "fake_b": jnp.zeros((batch_size, *shape_b))}
  if pool_size:
    aux.update(pool_a=image_pool_init(pool_size, tuple(shape_a)), pool_b=image_pool_init(pool_size, tuple(shape_b)))
  return aux


def cyclegan_updates(
    *,
    loss: str = "least_squares",
    cycle_weight: float = 10.0,
    cycle_weight_b: float | None = None,
    identity: float = 0.5,
    gan_weight: float = 1.0,
    discriminator_weight: float = 0.5,
    streams: tuple[str, str] = ("a", "b"),
    generators: tuple[str, str] = ("g_ab", "g_ba"),
    discriminators: tuple[str, str] = ("d_a", "d_b"),
) -> list[Update]:
  r"""The updates of one CycleGAN step: both generators jointly, then both discriminators.

  Generators (one loss, each network's gradient to its own optimizer):
  gan_weight * [g_loss(D_B(G(a))) + g_loss(D_A(F(b)))] + lambda_A
  mean|F(G(a)) - a| + lambda_B mean|G(F(b)) - b| + ``identity`` *
  (lambda_B mean|G(b) - b| + lambda_A mean|F(a) - a|); lambda_A =
  ``cycle_weight``, lambda_B = ``cycle_weight_b`` (default the same).
  Discriminators: ``discriminator_weight`` * [d_loss(D_B(b), D_B(pool_B(G(a))))
  + d_loss(D_A(a), D_A(pool_A(F(b))))], the fakes those the generator update
  of the same step produced (read from ``ctx.aux``), through the pools when
  the aux holds them (:func:`cyclegan_aux_init`).

  The identity term needs G and F to map images of one shape to the same
  shape (in_channels == out_channels); set ``identity=0`` otherwise, or when
  the translation must change what identity keeps (an inversion of
  intensities).

  Args:
    loss: adversarial loss, one of :data:`TRANSLATION_LOSSES` (CycleGAN:
      ``"least_squares"``, Mao et al. 2017 with a = 0, b = c = 1).
    cycle_weight: lambda_A (10).
    cycle_weight_b: lambda_B (None: ``cycle_weight``).
    identity: the identity loss's weight as a fraction of lambda (0.5; 0 off).
    gan_weight: weight of the generators' adversarial terms (0: cycle only,
      an ablation of Zhu et al. Table 4).
    discriminator_weight: factor of the discriminators' loss (1/2).
    streams: the streams of domain A and domain B images.
    generators: names of G: A -> B and F: B -> A.
    discriminators: names of D_A (on A images) and D_B (on B images).

  Returns:
    ``[generators update, discriminators update]`` (names ``"generators"``,
    ``"discriminators"``). Metrics: ``g_loss``, ``g_gan_ab``, ``g_gan_ba``,
    ``cycle_a``, ``cycle_b``, ``identity_a``, ``identity_b`` (unweighted
    mean absolute errors), ``d_loss``, ``d_a_loss``, ``d_b_loss`` and the
    mean outputs of each D on real and fake images.

  Example:
    >>> [u.name for u in cyclegan_updates()]
    ['generators', 'discriminators']

  References:
    Zhu et al., "Unpaired Image-to-Image Translation using Cycle-Consistent
    Adversarial Networks", ICCV 2017, eq. 1-3, Sections 4 and 5.2.
  """
  spec = _check_loss(loss)
  lambda_a = _check_weight("cycle_weight", cycle_weight)
  lambda_b = lambda_a if cycle_weight_b is None else _check_weight("cycle_weight_b", cycle_weight_b)
  identity = _check_weight("identity", identity)
  gan_weight = _check_weight("gan_weight", gan_weight)
  discriminator_weight = _check_weight("discriminator_weight", discriminator_weight)
  stream_a, stream_b = streams
  g_ab, g_ba = generators
  d_a, d_b = discriminators

  def domains(batch):
    if not isinstance(batch, dict) or stream_a not in batch or stream_b not in batch:
      raise ValueError(f"a CycleGAN batch must hold the streams '{stream_a}' and '{stream_b}' (domain A and B "
                       f"images): pass data={{'{stream_a}': images_a, '{stream_b}': images_b}} to the train loop")
    return batch[stream_a], batch[stream_b]

  def generators_objective(models, ctx: Context):
    a, b = domains(ctx.batch)
    key_b, key_a = jax.random.split(ctx.key)
    G, F = models[g_ab], models[g_ba]
    fake_b, fake_a = G(a, train=True), F(b, train=True)
    cycle_a, cycle_b = jnp.mean(mean_absolute_error(F(fake_b, train=True), a)), jnp.mean(
        mean_absolute_error(G(fake_a, train=True), b))
    g_gan_ab = _patch_mean(spec.generator(None, models[d_b](fake_b, train=True, key=key_b)))
    g_gan_ba = _patch_mean(spec.generator(None, models[d_a](fake_a, train=True, key=key_a)))
    g_loss = gan_weight * (g_gan_ab + g_gan_ba) + lambda_a * cycle_a + lambda_b * cycle_b
    metrics = {"g_gan_ab": g_gan_ab, "g_gan_ba": g_gan_ba, "cycle_a": cycle_a, "cycle_b": cycle_b}
    if identity > 0:
      # G(b) should be b and F(a) should be a (Section 5.2: it keeps the colour composition).
      idt_b, idt_a = jnp.mean(mean_absolute_error(G(b, train=True), b)), jnp.mean(
          mean_absolute_error(F(a, train=True), a))
      g_loss = g_loss + identity * (lambda_b * idt_b + lambda_a * idt_a)
      metrics.update(identity_a=idt_a, identity_b=idt_b)
    metrics["g_loss"] = g_loss
    aux = dict(ctx.aux, fake_a=jax.lax.stop_gradient(fake_a), fake_b=jax.lax.stop_gradient(fake_b))
    return g_loss, metrics, aux

  def discriminators_objective(models, ctx: Context):
    a, b = domains(ctx.batch)
    aux = dict(ctx.aux)
    fake_a, fake_b = aux["fake_a"], aux["fake_b"]
    pool_key_a, pool_key_b, *d_keys = jax.random.split(ctx.key, 6)
    if "pool_a" in aux:
      aux["pool_a"], fake_a = image_pool_query(aux["pool_a"], fake_a, pool_key_a)
      aux["pool_b"], fake_b = image_pool_query(aux["pool_b"], fake_b, pool_key_b)
    real_a_logits, fake_a_logits = models[d_a](a, train=True, key=d_keys[0]), models[d_a](fake_a, train=True,
                                                                                          key=d_keys[1])
    real_b_logits, fake_b_logits = models[d_b](b, train=True, key=d_keys[2]), models[d_b](fake_b, train=True,
                                                                                          key=d_keys[3])
    d_a_loss = discriminator_weight * _patch_mean(spec.discriminator(real_a_logits, fake_a_logits))
    d_b_loss = discriminator_weight * _patch_mean(spec.discriminator(real_b_logits, fake_b_logits))
    d_loss = d_a_loss + d_b_loss
    metrics = {"d_loss": d_loss, "d_a_loss": d_a_loss, "d_b_loss": d_b_loss,
               **_adversarial_metrics(spec, real_a_logits, fake_a_logits, "a_"),
               **_adversarial_metrics(spec, real_b_logits, fake_b_logits, "b_")}
    return d_loss, metrics, aux

  return [
      Update((g_ab, g_ba), generators_objective, name="generators"),
      Update((d_a, d_b), discriminators_objective, name="discriminators"),
  ]
