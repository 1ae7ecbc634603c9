"""The 2014 GAN theory measured in 1-D: D against D*, V(G, D) against -log 4 + 2 JSD, then JSD falling.

p_data is a Gaussian mixture known in closed form (``config.data``), so D*,
the value of the game and JSD(p_data || p_g) are computed by quadrature
rather than estimated. Two runs, each from ``config.train``'s shared fields
with its own section over them (:func:`part_config`), on one fixed sample of
p_data:

1. ``discriminator``: D alone against the fixed p_g = N(g_mean, g_std^2),
   compared with D* (Goodfellow et al. 2014, Prop. 1 and Theorem 1; Figure 1).
2. ``gan``: a 1-D generator against a discriminator; JSD(p_data || p_g) with
   p_g a Gaussian kernel density estimate of generator samples.

:func:`train_gan_theory` writes to ``workdir``: ``config.json`` (the whole
config), ``discriminator/`` and ``gan/`` (each run's ``config.json``,
``metrics.jsonl``, ``loss_curves.png``, ``checkpoints/``),
``optimal_discriminator.png`` (p_data, p_g, D and D*), ``jsd.jsonl`` (the JSD
every ``config.eval.every`` generator steps), ``jsd_curve.png`` (with the
initial generator's JSD and the estimator's floor), ``generator_density.png``
and ``results.json``.
"""

from __future__ import annotations

import json
import math
import os

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import ml_collections  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import nnx  # noqa: E402

from jaxgen import losses, objectives, train  # noqa: E402
from jaxgen.experiment._common import batch_shape_of, run_from_config, write_json  # noqa: E402
from jaxgen.models import build_models, gan_1d  # noqa: E402

# The sections of config.train, one per run; each is laid over the shared fields.
PARTS = ("discriminator", "gan")
_DATASETS = ("mixture_1d",)


_THEORY_LOSSES = ("minimax", "non_saturating")

def check_gan_theory_config(config) -> None:
  """Checks the theory experiment's config: sizes and rates, both runs' sections, the mixture and the grid.

  Raises:
    ValueError: one line naming the field to change.
  """
  t = config.train
  required = {"data.num_train": config.data.num_train, "train.batch_size": t.batch_size, "train.gan.k": t.gan.k}
  required.update({f"train.{part}.num_steps": t[part].num_steps for part in PARTS})
  for path, value in required.items():
    if value is None:
      raise ValueError(f"config.{path} is unset: set it")
  # The GAN run's step takes k minibatches, the discriminator run's one.
  train.check_config(config, dataset_size=config.data.num_train, examples_per_step=t.batch_size * t.gan.k,
                     known_datasets=_DATASETS)
  # The theory (D* = p_data / (p_data + p_g), V = -log 4 + 2 JSD) is that of the logistic losses.
  if t.gan.loss not in _THEORY_LOSSES:
    raise ValueError(f"config.train.gan.loss must be one of {', '.join(_THEORY_LOSSES)} (the losses whose optimal "
                     f"discriminator the experiment checks), got {t.gan.loss!r}")
  d = config.data
  if not len(d.weights) == len(d.means) == len(d.stds) >= 1:
    raise ValueError(f"config.data.weights, means and stds need one entry per mixture component, got "
                     f"{len(d.weights)}, {len(d.means)} and {len(d.stds)}")
  if min(d.weights) <= 0 or not math.isclose(sum(d.weights), 1.0, abs_tol=1e-6):
    raise ValueError(f"config.data.weights must be positive and sum to 1, got {tuple(d.weights)}")
  if min(d.stds) <= 0 or d.g_std <= 0:
    raise ValueError(f"config.data.stds and config.data.g_std must be > 0, got {tuple(d.stds)} and {d.g_std}")
  e = config.eval
  if not e.grid_min < e.grid_max or e.num_grid < 2:
    raise ValueError(f"the plotting grid needs config.eval.grid_min < grid_max and num_grid >= 2, got "
                     f"{e.grid_min}, {e.grid_max} and {e.num_grid}")
  if not _support(config, np.linspace(e.grid_min, e.grid_max, e.num_grid)).any():
    raise ValueError(f"no point of the plotting grid has (p_data + p_g) / 2 > config.eval.support_density="
                     f"{e.support_density}: lower it or widen the grid")


def part_config(config, part: str) -> ml_collections.ConfigDict:
  """The config of run ``part``: ``config.train``'s shared fields with ``config.train.<part>`` over them.

  The run's ``config.json`` then holds the knobs it trained with, in the
  layout every run has.
  """
  c = config.to_dict()
  sections = {name: c["train"].pop(name) for name in PARTS}
  c["train"].update(sections[part])
  return ml_collections.ConfigDict(c)


def log_normal_mixture(x, weights, means, stds) -> jax.Array:
  """log sum_k w_k N(x; mu_k, sigma_k^2) at points ``x`` ``(N,)``."""
  column = lambda v: jnp.asarray(v, jnp.float32).reshape(-1, 1)
  return losses.gaussian_mixture_log_likelihood(
      column(x), jnp.log(jnp.asarray(weights, jnp.float32)), column(means), 2.0 * jnp.log(column(stds))
  )


def log_p_data(x, config) -> jax.Array:
  """log p_data(x): the Gaussian mixture of ``config.data``."""
  d = config.data
  return log_normal_mixture(x, d.weights, d.means, d.stds)


def log_p_g(x, config) -> jax.Array:
  """log N(x; g_mean, g_std^2): the fixed generator distribution of the discriminator run."""
  return log_normal_mixture(x, (1.0,), (config.data.g_mean,), (config.data.g_std,))


def sample_data(config, num: int, seed: int) -> np.ndarray:
  """``num`` points ``(num, 1)`` of p_data."""
  d = config.data
  rng = np.random.default_rng(seed)
  c = rng.choice(len(d.weights), p=np.asarray(d.weights), size=num)
  x = np.asarray(d.means)[c] + np.asarray(d.stds)[c] * rng.normal(size=num)
  return x[:, None].astype(np.float32)


def quadrature_grid(config, num: int = 8_001) -> tuple[np.ndarray, float]:
  """A uniform grid wide enough that p_data and p_g have negligible mass outside, and log dx."""
  d = config.data
  lo = min(min(d.means) - 8 * max(d.stds), d.g_mean - 8 * d.g_std)
  hi = max(max(d.means) + 8 * max(d.stds), d.g_mean + 8 * d.g_std)
  x = np.linspace(lo, hi, num)
  return x, math.log(x[1] - x[0])


def _run(config, workdir: str, part: str, models, updates, *, seed: int, ema_network: str, hooks=(),
         progress: bool) -> dict[str, nnx.Module]:
  """Trains ``models`` as run ``part`` in ``workdir/<part>`` on the fixed sample of p_data; returns the modules.

  Adam with its learning rate decayed to 0 by a cosine over the run: the last
  steps average out the minibatch noise (D then sits near its optimum).
  """
  c = part_config(config, part)
  t = c.train
  adam = optax.adam(optax.cosine_decay_schedule(t.learning_rate, t.num_steps), b1=t.b1, b2=t.b2, eps=t.eps)
  graphdefs, state = run_from_config(
      c, os.path.join(workdir, part), models=models, optimizers={name: adam for name in models}, updates=updates,
      data={"x": sample_data(config, config.data.num_train, config.seed)}, num_steps=t.num_steps,
      batch_shape=batch_shape_of(t, t.batch_size), ema_networks=(ema_network,), seed=seed, hooks=hooks,
      description=part, progress=progress,
  )
  return train.merge_models(graphdefs, state, use_ema=config.eval.use_ema)


def train_discriminator(config, workdir: str, *, progress: bool = True) -> nnx.Module:
  """Run 1: fits D to the sample of p_data against the fixed p_g; returns the trained D."""
  discriminator = gan_1d.Discriminator1D(gan_1d.GAN1DConfig.from_config(config.model), rngs=nnx.Rngs(config.seed))
  sample_p_g = lambda key, shape: config.data.g_mean + config.data.g_std * jax.random.normal(key, shape)
  return _run(
      config, workdir, "discriminator", {"discriminator": discriminator},
      [objectives.discriminator_update_against(sample_p_g)], seed=config.seed, ema_network="discriminator",
      progress=progress,
  )["discriminator"]


def _support(config, x) -> np.ndarray:
  """Where (p_data + p_g) / 2 > ``config.eval.support_density``: the points whose samples constrain D."""
  return np.asarray(0.5 * (jnp.exp(log_p_data(x, config)) + jnp.exp(log_p_g(x, config))) > config.eval.support_density)


def _on_grid(config, discriminator) -> dict[str, np.ndarray]:
  """x on the plotting grid, and p_data, p_g, the trained D, D* and the support there."""
  e = config.eval
  x = np.linspace(e.grid_min, e.grid_max, e.num_grid)
  lpd, lpg = log_p_data(x, config), log_p_g(x, config)
  d = jax.nn.sigmoid(discriminator(jnp.asarray(x, jnp.float32)[:, None], train=False))
  return {"x": x, "p_data": np.exp(lpd), "p_g": np.exp(lpg), "d": np.asarray(d),
          "d_star": np.asarray(losses.optimal_discriminator(lpd, lpg)), "support": _support(config, x)}


def discriminator_report(config, discriminator) -> dict[str, float | list[float]]:
  """max |D - D*| on the support, and V(G, D), V(G, D*), -log 4 + 2 JSD by quadrature."""
  g = _on_grid(config, discriminator)
  support = g["support"]
  q, log_dx = quadrature_grid(config)
  qd, qg = log_p_data(q, config) + log_dx, log_p_g(q, config) + log_dx
  logits = discriminator(jnp.asarray(q, jnp.float32)[:, None], train=False)
  jsd = float(losses.js_divergence(qd, qg))
  return {
      "max_abs_d_minus_d_star": float(np.max(np.abs(g["d"] - g["d_star"])[support])),
      "support": [float(g["x"][support].min()), float(g["x"][support].max())],
      "v_trained_d": float(losses.gan_value_from_densities(qd, qg, logits)),
      "v_optimal_d": float(losses.gan_value_from_densities(qd, qg, losses.optimal_discriminator_logit(qd, qg))),
      "minus_log4_plus_2jsd": -math.log(4.0) + 2 * jsd,
      "jsd": jsd,
      "quadrature_mass_data": float(jnp.exp(jax.scipy.special.logsumexp(qd))),
      "quadrature_mass_g": float(jnp.exp(jax.scipy.special.logsumexp(qg))),
  }


def plot_discriminator(path: str, config, discriminator, report: dict) -> None:
  """Figure 1 of the paper: p_data, p_g, the trained D and D*."""
  g = _on_grid(config, discriminator)
  fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
  ax.plot(g["x"], g["p_data"], "k:", label="p_data")
  ax.plot(g["x"], g["p_g"], "g-", label="p_g")
  ax.plot(g["x"], g["d_star"], "r-", lw=2, alpha=0.6, label="D* = p_data / (p_data + p_g)")
  ax.plot(g["x"], g["d"], "b--", label="trained D")
  ax.set_xlabel("x")
  ax.set_title(f"max |D - D*| = {report['max_abs_d_minus_d_star']:.3f} on "
               f"[{report['support'][0]:.1f}, {report['support'][1]:.1f}]")
  ax.legend(loc="upper left", fontsize=8)
  fig.tight_layout()
  fig.savefig(path)
  plt.close(fig)


@jax.jit
def kde_log_density(samples, x) -> jax.Array:
  """log of the Gaussian KDE (Scott's bandwidth) of points ``samples`` ``(N, 1)`` at ``x`` ``(M,)``."""
  return jax.scipy.stats.gaussian_kde(samples[:, 0]).logpdf(x)


def kde_jsd(config, samples, q, log_dx) -> float:
  """JSD(p_data || KDE of samples) by quadrature on the grid ``q``."""
  return float(losses.js_divergence(log_p_data(q, config) + log_dx, kde_log_density(samples, q) + log_dx))


def train_generator(config, workdir: str, *, progress: bool = True) -> dict:
  """Run 2: the 1-D GAN; JSD(p_data || KDE(p_g)) at step 0 and every ``config.eval.every`` steps.

  Returns:
    ``records`` (``{"step", "jsd"}``, step 0 first), ``kde_floor`` (the
    estimator on as many samples of p_data), ``samples`` of the trained
    generator ``(N, 1)`` and the quadrature grid ``q``.
  """
  t, e = config.train.gan, config.eval
  models = build_models(config, nnx.Rngs(config.seed + 1))
  q, log_dx = quadrature_grid(config, num=1_601)
  z = jax.random.normal(jax.random.key(config.seed + 2), (e.num_kde_samples, config.model.latent_dim))
  jsd = lambda generator: kde_jsd(config, generator(z, train=False), q, log_dx)
  initial = {"step": 0, "jsd": jsd(models["generator"])}
  graphdefs = train.split_models(models)[0]
  path = os.path.join(workdir, "jsd.jsonl")

  def measure(state, step):
    del step
    return {"jsd": jsd(train.merge_models(graphdefs, state, use_ema=e.use_ema)["generator"])}

  trained = _run(
      config, workdir, "gan", models, train.gan_updates(loss=t.loss, k=t.k, latent_dim=config.model.latent_dim),
      seed=config.seed + 1, ema_network="generator", progress=progress,
      hooks=[train.eval_hook(path, measure, every_steps=e.every, num_steps=t.num_steps)],
  )
  floor = kde_jsd(config, sample_data(config, e.num_kde_samples, config.seed + 3), q, log_dx)
  return {"records": [initial, *train.read_metrics(path)], "kde_floor": floor,
          "samples": np.asarray(trained["generator"](z, train=False)), "q": q}


def plot_jsd(path: str, records, floor: float) -> None:
  """JSD(p_data || KDE(p_g)) against the generator step, with the estimator's floor and log 2."""
  fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
  ax.plot([r["step"] for r in records], [r["jsd"] for r in records], "o-", ms=3, label="JSD(p_data || KDE(p_g))")
  ax.axhline(floor, color="gray", ls="--", label="estimator floor: JSD(p_data || KDE(p_data samples))")
  ax.axhline(math.log(2), color="k", ls=":", lw=0.8, label="log 2")
  ax.set_yscale("log")
  ax.set_xlabel("generator step")
  ax.set_ylabel("nats")
  ax.legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(path)
  plt.close(fig)


def plot_generator_density(path: str, config, samples, q) -> None:
  """p_data against the KDE and the histogram of the trained generator's samples."""
  fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
  ax.plot(q, np.exp(log_p_data(q, config)), "k:", label="p_data")
  ax.plot(q, np.exp(kde_log_density(samples, q)), "g-", label="KDE of p_g (trained generator)")
  ax.hist(samples[:, 0], bins=200, density=True, alpha=0.3, color="g")
  ax.set_xlim(config.eval.grid_min, config.eval.grid_max)
  ax.legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(path)
  plt.close(fig)


def train_gan_theory(config, workdir: str, *, progress: bool = True) -> dict:
  """Runs both parts, draws them, writes and prints results.json; returns its dict.

  Args:
    config: the experiment's config (``experiments/gan_theory/config.py``).
    workdir: the folder of both runs (each resumes from its checkpoints).
    progress: show the progress bars.

  Returns:
    ``{"discriminator": discriminator_report(...), "generator": {"jsd_initial",
    "jsd_final", "jsd_min", "kde_floor", "steps", ...}}``.
  """
  check_gan_theory_config(config)
  # The folder of both runs is this experiment's: never a finished run of another model.
  train.claim_workdir(workdir, config, allow_config_change=config.allow_config_change)
  d = train_discriminator(config, workdir, progress=progress)
  report = discriminator_report(config, d)
  plot_discriminator(os.path.join(workdir, "optimal_discriminator.png"), config, d, report)
  gan = train_generator(config, workdir, progress=progress)
  records = gan["records"]
  plot_jsd(os.path.join(workdir, "jsd_curve.png"), records, gan["kde_floor"])
  plot_generator_density(os.path.join(workdir, "generator_density.png"), config, gan["samples"], gan["q"])
  generator = {"jsd_initial": records[0]["jsd"], "jsd_final": records[-1]["jsd"],
               "jsd_min": min(r["jsd"] for r in records), "kde_floor": gan["kde_floor"],
               "steps": int(config.train.gan.num_steps),
               "p_g_estimate": "jax.scipy.stats.gaussian_kde, Scott bandwidth",
               "num_kde_samples": int(config.eval.num_kde_samples)}
  results = {"discriminator": report, "generator": generator}
  write_json(os.path.join(workdir, "results.json"), results)
  print(json.dumps(results, indent=2), flush=True)
  return results
