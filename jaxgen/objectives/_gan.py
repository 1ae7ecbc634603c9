"""GAN training as updates: k discriminator steps, then one generator step.

:func:`gan_updates` turns a loss name into the list of :class:`Update` s of
Algorithm 1 of Goodfellow et al. (2014), to pass to ``jaxgen.train``; the zoo's
families build on it.

Model interface (shared by every GAN family in jaxgen):

* ``generator(z, *, train: bool) -> x``: ``z`` of shape ``(B, *latent_shape)``,
  ``x`` of the data's shape ``(B, ...)``. ``train`` selects batch statistics
  (and their update) in BatchNorm.
* ``discriminator(x, *, train: bool, key: jax.Array | None) -> logits``:
  logits of D(x) = sigmoid(logit), shape ``(B',)`` with ``B' = B`` in general
  and ``B' = B / m`` for a PacGAN discriminator packing m samples into one
  input (it reshapes its input itself). ``key`` drives dropout when ``train``;
  it is ``None`` in evaluation.

Batches: the real data is the stream ``"x"`` (``data={"x": images}``), of
shape ``(B, ...)``, or ``(k, B, ...)`` when the k discriminator steps each draw
their own minibatch (``split_batch``; the train loop's ``batch_shape=(k, B)``).

Both networks run in train mode in both updates (dropout in D, batch
statistics in G and D), as in the reference implementations; D sees the real
and the generated batch in separate calls, so a BatchNorm in D never mixes them.

Metrics of a step: ``d_loss`` (mean discriminator loss), ``d_real`` (mean D(x)),
``d_fake`` (mean D(G(z)) seen by the last discriminator step), ``g_loss``
(mean generator loss). The generator's EMA is kept by the train step
(``run_training(..., ema_networks=("generator",), ema_decay=...)``).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp

from jaxgen import losses
from jaxgen.objectives._core import Context, Update

# name -> (discriminator loss(real_logits, fake_logits), generator loss(fake_logits)), per example.
GAN_LOSSES: dict[str, tuple[Callable, Callable]] = {
    # min_G max_D V(D, G), the generator minimizing log(1 - D(G(z))) (eq. 1).
    "minimax": (losses.minimax_discriminator_loss, losses.minimax_generator_loss),
    # The generator maximizing log D(G(z)) instead (Section 3).
    "non_saturating": (losses.minimax_discriminator_loss, losses.non_saturating_generator_loss),
}

# sample_latent(key, num) -> z of shape (num, *latent_shape)
LatentSampler = Callable[[jax.Array, int], jax.Array]


def _real_batch(batch, split: bool) -> tuple[jax.Array, int]:
  """The real examples of a batch dict and the per-step batch size B."""
  if not isinstance(batch, dict) or "x" not in batch:
    raise ValueError(
        f"a GAN batch must be a dict with key 'x' (the real examples), got {type(batch).__name__}"
        + (f" with keys {sorted(batch)}" if isinstance(batch, dict) else "")
        + ": pass data={'x': images} to the train loop."
    )
  x = batch["x"]
  return x, x.shape[1] if split else x.shape[0]


def gan_updates(
    *,
    loss: str = "non_saturating",
    k: int = 1,
    latent_dim: int | Sequence[int] | None,
    generator: str = "generator",
    discriminator: str = "discriminator",
    split_batch: bool | None = None,
    sample_latent: LatentSampler | None = None,
) -> list[Update]:
  r"""The updates of one GAN step: k discriminator updates, then one generator update.

  Discriminator: minimizes mean_i d_loss(D(x_i), D(G(z_i))), for the minimax
  and non-saturating losses -mean[log D(x) + log(1 - D(G(z)))] = -V(D, G).
  Generator: minimizes mean_i g_loss(D(G(z_i))): log(1 - D(G(z))) for
  ``"minimax"`` (eq. 1, saturating), -log D(G(z)) for ``"non_saturating"``.
  Fresh z ~ p_z for every update, drawn from the update's key.

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

  Returns:
    ``[discriminator update (repeats=k), generator update]``.

  Example:
    >>> updates = gan_updates(loss="minimax", k=1, latent_dim=100)
    >>> [u.network for u in updates]
    ['discriminator', 'generator']

  References:
    Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014, eq. 1,
    Algorithm 1 and Section 3.
  """
  if loss not in GAN_LOSSES:
    close = difflib.get_close_matches(loss, GAN_LOSSES, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise ValueError(f"unknown GAN loss '{loss}'.{hint} Known losses: {', '.join(sorted(GAN_LOSSES))}")
  if k < 1:
    raise ValueError(f"k (discriminator steps per generator step) must be >= 1, got {k}")
  if sample_latent is None:
    if latent_dim is None:
      raise ValueError("give latent_dim (for z ~ N(0, I)) or sample_latent")
    latent_shape = (latent_dim,) if isinstance(latent_dim, int) else tuple(latent_dim)
    sample_latent = lambda key, num: jax.random.normal(key, (num, *latent_shape))
  split = k > 1 if split_batch is None else bool(split_batch)
  d_loss_fn, g_loss_fn = GAN_LOSSES[loss]

  def discriminator_objective(models, ctx: Context):
    x, num = _real_batch(ctx.batch, split=False)  # the train step has already taken this repeat's minibatch
    z_key, real_key, fake_key = jax.random.split(ctx.key, 3)
    # G is a constant here (only D's parameters are differentiated).
    fake = jax.lax.stop_gradient(models[generator](sample_latent(z_key, num), train=True))
    real_logits = models[discriminator](x, train=True, key=real_key)
    fake_logits = models[discriminator](fake, train=True, key=fake_key)
    d_loss = jnp.mean(d_loss_fn(real_logits, fake_logits))
    metrics = {
        "d_loss": d_loss,
        "d_real": jnp.mean(jax.nn.sigmoid(real_logits)),
        "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits)),
    }
    return d_loss, metrics

  def generator_objective(models, ctx: Context):
    _, num = _real_batch(ctx.batch, split=split)
    z_key, d_key = jax.random.split(ctx.key)
    fake = models[generator](sample_latent(z_key, num), train=True)
    g_loss = jnp.mean(g_loss_fn(models[discriminator](fake, train=True, key=d_key)))
    return g_loss, {"g_loss": g_loss}

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
  if loss not in GAN_LOSSES:
    close = difflib.get_close_matches(loss, GAN_LOSSES, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise ValueError(f"unknown GAN loss '{loss}'.{hint} Known losses: {', '.join(sorted(GAN_LOSSES))}")
  d_loss_fn = GAN_LOSSES[loss][0]

  def objective(models, ctx: Context):
    real = ctx.batch[stream]
    fake = sample_fake(ctx.key, real.shape)
    d = models[discriminator]
    d_loss = jnp.mean(d_loss_fn(d(real, train=True), d(fake, train=True)))
    return d_loss, {"d_loss": d_loss}

  return Update(discriminator, objective)
