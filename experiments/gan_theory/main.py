"""Measures the 2014 GAN theory in 1-D: D vs D*, V(G, D) vs -log 4 + 2 JSD, then JSD falling; see config.py.

Writes to --workdir: discriminator/ and gan/ (the two training runs: config,
metrics.jsonl, loss curves, checkpoints), optimal_discriminator.png (Figure 1
of the paper: p_data, p_g, D and D*), jsd.jsonl and jsd_curve.png (JSD(p_data ||
p_g) over generator training), generator_density.png, results.json.
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
import numpy as np  # noqa: E402
import optax  # noqa: E402
from absl import app, flags  # noqa: E402
from flax import nnx  # noqa: E402
from ml_collections import config_flags  # noqa: E402

from jaxgen import losses, train  # noqa: E402
from jaxgen.models import build_models, gan_1d  # noqa: E402


def log_normal_mixture(x, weights, means, stds):
  """log sum_k w_k N(x; mu_k, sigma_k^2) at points ``x`` ``(N,)``."""
  column = lambda v: jnp.asarray(v, jnp.float32).reshape(-1, 1)
  return losses.gaussian_mixture_log_likelihood(
      column(x), jnp.log(jnp.asarray(weights, jnp.float32)), column(means), 2.0 * jnp.log(column(stds))
  )


def log_p_data(x, config):
  """log p_data(x): the config's Gaussian mixture."""
  return log_normal_mixture(x, config.data_weights, config.data_means, config.data_stds)


def log_p_g(x, config):
  """log N(x; mu_g, sigma_g^2): the fixed generator distribution of part 1."""
  return log_normal_mixture(x, (1.0,), (config.g_mean,), (config.g_std,))


def sample_data(config, num: int, seed: int) -> np.ndarray:
  """``num`` points ``(num, 1)`` from p_data."""
  rng = np.random.default_rng(seed)
  c = rng.choice(len(config.data_weights), p=np.asarray(config.data_weights), size=num)
  x = np.asarray(config.data_means)[c] + np.asarray(config.data_stds)[c] * rng.normal(size=num)
  return x[:, None].astype(np.float32)


def quadrature_grid(config, num: int = 8_001):
  """A uniform grid wide enough that p_data and p_g have negligible mass outside, and log dx."""
  lo = min(min(config.data_means) - 8 * max(config.data_stds), config.g_mean - 8 * config.g_std)
  hi = max(max(config.data_means) + 8 * max(config.data_stds), config.g_mean + 8 * config.g_std)
  x = np.linspace(lo, hi, num)
  return x, math.log(x[1] - x[0])


def fit(config, workdir: str, models, optimizer, updates, *, num_steps: int, batch_shape, seed: int,
        steps_per_call: int, description: str, evaluate=None) -> dict[str, nnx.Module]:
  """Trains ``models`` (one ``optimizer`` each) on a fixed sample of p_data; returns the trained modules.

  The experiment's one use of the training loop. ``evaluate(models, step)``
  sees the modules after every ``steps_per_call`` steps.
  """
  hooks = []
  if evaluate is not None:
    eval_graphdefs = train.split_models(models)[0]
    hooks.append(train.every(steps_per_call, lambda state, step: evaluate(train.merge_models(eval_graphdefs, state), step)))
  graphdefs, state = train.run_training(
      workdir=workdir, config=config, models=models, optimizers={name: optimizer for name in models},
      updates=updates, data={"x": sample_data(config, config.num_data, config.seed)}, num_steps=num_steps,
      batch_shape=batch_shape, seed=seed, steps_per_call=steps_per_call, checkpoint_every=num_steps,
      hooks=hooks, description=description, progress=False,
  )
  return train.merge_models(graphdefs, state)


def discriminator_objective(discriminator, real, key, config):
  """Mean minimax discriminator loss on real points ``(B, 1)`` and as many fresh points of p_g."""
  fake = config.g_mean + config.g_std * jax.random.normal(key, real.shape)
  d_loss = jnp.mean(losses.minimax_discriminator_loss(discriminator(real, train=True), discriminator(fake, train=True)))
  return d_loss, {"d_loss": d_loss}


def train_discriminator(config, workdir: str):
  """Part 1: fits D to p_data (a fixed sample) vs the fixed p_g; returns the trained module."""
  discriminator = gan_1d.Discriminator1D(gan_1d.GAN1DConfig.from_config(config.model), rngs=nnx.Rngs(config.seed))
  num_steps = int(config.d_steps)
  # Decaying to 0 averages out the minibatch noise of the last steps (D then sits near its optimum).
  adam = optax.adam(optax.cosine_decay_schedule(config.learning_rate, num_steps))
  objective = lambda models, ctx: discriminator_objective(models["discriminator"], ctx.batch["x"], ctx.key, config)
  return fit(
      config, os.path.join(workdir, "discriminator"), {"discriminator": discriminator}, adam,
      [train.Update("discriminator", objective)], num_steps=num_steps, batch_shape=(int(config.batch_size),),
      seed=int(config.seed), steps_per_call=int(config.steps_per_call), description="D vs fixed p_g",
  )["discriminator"]


def discriminator_report(config, discriminator) -> dict:
  """max |D - D*| on the plotting grid's support, and V(G, D), V(G, D*), -log 4 + 2 JSD by quadrature."""
  x = np.linspace(config.grid_min, config.grid_max, config.num_grid)
  lpd, lpg = log_p_data(x, config), log_p_g(x, config)
  d = jax.nn.sigmoid(discriminator(jnp.asarray(x, jnp.float32)[:, None], train=False))
  d_star = losses.optimal_discriminator(lpd, lpg)
  support = 0.5 * (jnp.exp(lpd) + jnp.exp(lpg)) > config.support_density
  max_err = float(jnp.max(jnp.where(support, jnp.abs(d - d_star), 0.0)))

  q, log_dx = quadrature_grid(config)
  qd, qg = log_p_data(q, config) + log_dx, log_p_g(q, config) + log_dx
  logits = discriminator(jnp.asarray(q, jnp.float32)[:, None], train=False)
  jsd = float(losses.js_divergence(qd, qg))
  return {
      "max_abs_d_minus_d_star": max_err,
      "support": [float(x[support].min()), float(x[support].max())],
      "v_trained_d": float(losses.gan_value_from_densities(qd, qg, logits)),
      "v_optimal_d": float(losses.gan_value_from_densities(qd, qg, losses.optimal_discriminator_logit(qd, qg))),
      "minus_log4_plus_2jsd": -math.log(4.0) + 2 * jsd,
      "jsd": jsd,
      "quadrature_mass_data": float(jnp.exp(jax.scipy.special.logsumexp(qd))),
      "quadrature_mass_g": float(jnp.exp(jax.scipy.special.logsumexp(qg))),
      "_plot": (x, np.exp(lpd), np.exp(lpg), np.asarray(d), np.asarray(d_star)),
  }


def plot_discriminator(path: str, report: dict) -> None:
  x, pd, pg, d, d_star = report["_plot"]
  fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
  ax.plot(x, pd, "k:", label="p_data")
  ax.plot(x, pg, "g-", label="p_g")
  ax.plot(x, d_star, "r-", lw=2, alpha=0.6, label="D* = p_data / (p_data + p_g)")
  ax.plot(x, d, "b--", label="trained D")
  ax.set_xlabel("x")
  ax.set_title(f"max |D - D*| = {report['max_abs_d_minus_d_star']:.3f} on "
               f"[{report['support'][0]:.1f}, {report['support'][1]:.1f}]")
  ax.legend(loc="upper left", fontsize=8)
  fig.tight_layout()
  fig.savefig(path)
  plt.close(fig)


@jax.jit
def kde_log_density(samples, x):
  """log of the Gaussian KDE (Scott's bandwidth) of points ``samples`` ``(N, 1)`` at ``x`` ``(M,)``."""
  return jax.scipy.stats.gaussian_kde(samples[:, 0]).logpdf(x)


def kde_jsd(config, samples, q, log_dx) -> float:
  """JSD(p_data || KDE of samples) by quadrature on ``q``."""
  return float(losses.js_divergence(log_p_data(q, config) + log_dx, kde_log_density(samples, q) + log_dx))


def train_generator(config, workdir: str) -> dict:
  """Part 2: a 1-D GAN; JSD(p_data || KDE(p_g)) every ``eval_every`` steps."""
  models = build_models(config, nnx.Rngs(config.seed + 1))
  q, log_dx = quadrature_grid(config, num=1_601)
  z = jax.random.normal(jax.random.key(config.seed + 2), (config.num_kde_samples, config.model.latent_dim))
  records = []

  def measure(models, step):
    records.append({"step": int(step), "jsd": kde_jsd(config, models["generator"](z, train=False), q, log_dx)})

  measure(models, 0)
  num_steps, k, batch = int(config.gan_steps), int(config.gan_k), int(config.batch_size)
  adam = optax.adam(optax.cosine_decay_schedule(config.gan_learning_rate, num_steps), b1=config.beta1)
  trained = fit(
      config, os.path.join(workdir, "gan"), models, adam,
      train.gan_updates(loss="non_saturating", k=k, latent_dim=config.model.latent_dim), num_steps=num_steps,
      batch_shape=(k, batch) if k > 1 else (batch,), seed=int(config.seed) + 1,
      steps_per_call=int(config.eval_every), description="1-D GAN", evaluate=measure,
  )
  with open(os.path.join(workdir, "jsd.jsonl"), "w") as f:
    f.writelines(json.dumps(r) + "\n" for r in records)
  floor = kde_jsd(config, sample_data(config, config.num_kde_samples, config.seed + 3), q, log_dx)
  return {"records": records, "kde_floor": floor, "samples": np.asarray(trained["generator"](z, train=False)), "q": q}


def plot_jsd(path: str, records, floor: float) -> None:
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
  fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
  ax.plot(q, np.exp(log_p_data(q, config)), "k:", label="p_data")
  ax.plot(q, np.exp(kde_log_density(samples, q)), "g-", label="KDE of p_g (trained generator)")
  ax.hist(samples[:, 0], bins=200, density=True, alpha=0.3, color="g")
  ax.set_xlim(config.grid_min, config.grid_max)
  ax.legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(path)
  plt.close(fig)


def run(config, workdir: str) -> dict:
  os.makedirs(workdir, exist_ok=True)
  d = train_discriminator(config, workdir)
  report = discriminator_report(config, d)
  plot_discriminator(os.path.join(workdir, "optimal_discriminator.png"), report)
  part1 = {k: v for k, v in report.items() if not k.startswith("_")}
  gan = train_generator(config, workdir)
  plot_jsd(os.path.join(workdir, "jsd_curve.png"), gan["records"], gan["kde_floor"])
  plot_generator_density(os.path.join(workdir, "generator_density.png"), config, gan["samples"], gan["q"])
  part2 = {"jsd_initial": gan["records"][0]["jsd"], "jsd_final": gan["records"][-1]["jsd"],
           "jsd_min": min(r["jsd"] for r in gan["records"]), "kde_floor": gan["kde_floor"],
           "steps": int(config.gan_steps), "p_g_estimate": "jax.scipy.stats.gaussian_kde, Scott bandwidth",
           "num_kde_samples": int(config.num_kde_samples)}
  results = {"discriminator": part1, "generator": part2}
  with open(os.path.join(workdir, "results.json"), "w") as f:
    json.dump(results, f, indent=2)
  print(json.dumps(results, indent=2), flush=True)
  return results


def main(argv):
  del argv
  if flags.FLAGS.workdir is None:
    raise app.UsageError("--workdir is required")
  run(flags.FLAGS.config, flags.FLAGS.workdir)


if __name__ == "__main__":
  # Flags are defined only when run as a program, so tests can import several experiments' mains.
  config_flags.DEFINE_config_file("config", os.path.join(os.path.dirname(__file__), "config.py"))
  flags.DEFINE_string("workdir", None, "Directory of the run.")
  app.run(main)
