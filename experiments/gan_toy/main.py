"""Trains the PacGAN 2-D toy GAN for several trials and reports mode coverage; see config.py.

Writes to --workdir: trial_<t>/ (config.json, metrics.jsonl, loss_curves.png,
mode_metrics.jsonl: the metrics every ``eval_every`` steps, scatter.png:
generated vs real points, checkpoints/), results.jsonl (one line per trial) and
results.json (mean +- standard error, the paper's numbers, the compute).
"""

from __future__ import annotations

import json
import math
import os
import time

import jax
import numpy as np
import optax
from absl import app, flags
from flax import nnx
from ml_collections import config_flags

from jaxgen import metrics, plot, train
from jaxgen.models import toy_gan  # noqa: F401  (registers "toy_gan")
from jaxgen.models._registry import build_models


# Lin et al. 2018, Table 1 (400 epochs, 10 trials): modes, high-quality %, reverse KL (None: not quoted here).
PAPER_TABLE_1 = {
    ("ring", 1): {"num_modes": "6.3 +- 0.5", "high_quality_percent": "98.2", "reverse_kl": "0.45"},
    ("grid", 1): {"num_modes": "17.3 +- 0.8", "high_quality_percent": "94.8", "reverse_kl": "0.70"},
    ("ring", 2): {"num_modes": "7.9", "high_quality_percent": None, "reverse_kl": None},
    ("grid", 2): {"num_modes": "23.8", "high_quality_percent": None, "reverse_kl": None},
}


def mixture(config) -> metrics.GaussianMixture2D:
  if config.dataset == "ring":
    return metrics.ring_modes(8, radius=1.0, std=0.01)
  if config.dataset == "grid":
    return metrics.grid_modes(25, spacing=2.0, std=0.05)
  raise ValueError(f"unknown dataset {config.dataset!r}: use 'ring' or 'grid' (--config.dataset=grid)")


def generate(graphdefs, state, config, key, num: int) -> np.ndarray:
  """``num`` points from the generator in evaluation mode (BatchNorm running statistics)."""
  generator = train.merge_models(graphdefs, state)["generator"]
  z = jax.random.normal(key, (num, config.model.latent_dim))
  return np.asarray(generator(z, train=False))


def evaluate(graphdefs, state, config, mix, seed: int) -> tuple[dict, np.ndarray]:
  points = generate(graphdefs, state, config, jax.random.key(seed), config.num_eval_samples)
  m = metrics.mode_metrics(points, mix.means, mix.std, threshold=config.hq_threshold)
  return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in m.items()}, points


def run_trial(config, workdir: str, trial: int) -> dict:
  """Trains one GAN from scratch (or resumes it) and returns its mode metrics."""
  mix = mixture(config)
  seed = int(config.seed) + trial
  data = {"x": mix.sample(int(config.num_train), seed=seed)}
  models = build_models(config, nnx.Rngs(seed))
  adam = optax.adam(config.learning_rate, b1=config.beta1)
  optimizers = {"generator": adam, "discriminator": adam}
  updates = train.gan_updates(loss=config.loss, k=config.k, latent_dim=config.model.latent_dim)
  packing = int(config.model.packing)
  batch = int(config.batch_size) * packing  # B packs of m points
  batch_shape = (config.k, batch) if config.k > 1 else (batch,)
  trial_dir = os.path.join(workdir, f"trial_{trial}")
  eval_every = int(config.get("eval_every", config.steps_per_call))
  writer = train.MetricsWriter(os.path.join(trial_dir, "mode_metrics.jsonl"))
  # The same static graph definitions that run_training builds, for evaluating states in the hook.
  eval_graphdefs = train.split_models(models)[0]

  def eval_hook(state, step, _metrics):
    if step % eval_every == 0 or step >= config.num_steps:
      m, _ = evaluate(eval_graphdefs, state, config, mix, seed=10_000 + step)
      writer.write({"step": step, **{k: v for k, v in m.items() if k != "mode_counts"}})

  t0 = time.perf_counter()
  graphdefs, state = train.run_training(
      workdir=trial_dir, config=config, models=models, optimizers=optimizers, updates=updates, data=data,
      num_steps=int(config.num_steps), batch_shape=batch_shape, seed=seed,
      steps_per_call=int(config.steps_per_call), checkpoint_every=int(config.checkpoint_every),
      hooks=[eval_hook], description=f"{config.dataset} pac{packing} trial {trial}",
  )
  seconds = time.perf_counter() - t0
  m, points = evaluate(graphdefs, state, config, mix, seed=seed + 12345)
  lim = (-1.6, 1.6) if config.dataset == "ring" else (-6, 6)
  plot.save_scatter(
      os.path.join(trial_dir, "scatter.png"),
      {"real": mix.sample(config.num_eval_samples, seed=seed + 1), "generated": points},
      title=f"{config.dataset}, {'GAN' if packing == 1 else f'PacGAN{packing}'}, trial {trial}: {m['num_modes']} modes, "
      f"{100 * m['high_quality_fraction']:.1f}% HQ",
      lim=lim,
  )
  return {"trial": trial, "seed": seed, "steps": int(state.step), "train_seconds": seconds, **m}


def _mean_se(values) -> tuple[float, float]:
  v = np.asarray(values, np.float64)
  se = float(np.std(v, ddof=1) / math.sqrt(len(v))) if len(v) > 1 else float("nan")
  return float(np.mean(v)), se


def summarize(config, trials: list[dict]) -> dict:
  packing = int(config.model.packing)
  out = {"dataset": config.dataset, "packing": packing, "num_steps": int(config.num_steps),
         "num_trials": len(trials), "train_seconds_total": float(sum(t["train_seconds"] for t in trials))}
  for name, values in [
      ("num_modes", [t["num_modes"] for t in trials]),
      ("high_quality_percent", [100 * t["high_quality_fraction"] for t in trials]),
      ("reverse_kl", [t["reverse_kl"] for t in trials]),
  ]:
    out[name], out[name + "_se"] = _mean_se(values)
  out["paper_table_1"] = PAPER_TABLE_1.get((config.dataset, packing))
  return out


def format_table(summary: dict) -> str:
  def pm(name, fmt):
    mean, se = summary[name], summary[name + "_se"]
    return f"{mean:{fmt}} +- {se:{fmt}}" if not math.isnan(se) else f"{mean:{fmt}}"

  name = "GAN" if summary["packing"] == 1 else f"PacGAN{summary['packing']}"
  num_modes = 8 if summary["dataset"] == "ring" else 25
  rows = [
      f"{summary['dataset']} ({num_modes} modes), {name}",
      f"{'':<24}{'modes':>14}{'high quality %':>18}{'reverse KL':>16}{'iterations':>12}{'trials':>8}",
      f"{'this run':<24}{pm('num_modes', '.1f'):>14}{pm('high_quality_percent', '.1f'):>18}"
      f"{pm('reverse_kl', '.2f'):>16}{summary['num_steps']:>12}{summary['num_trials']:>8}",
  ]
  paper = summary.get("paper_table_1")
  if paper:
    rows.append(
        f"{'PacGAN paper, Table 1':<24}{paper['num_modes']:>14}{paper['high_quality_percent'] or '-':>18}"
        f"{paper['reverse_kl'] or '-':>16}{400_000:>12}{10:>8}"
    )
  rows.append(f"training time: {summary['train_seconds_total']:.0f} s in all ({jax.default_backend()})")
  return "\n".join(rows)


def run(config, workdir: str) -> dict:
  """All trials; writes results.jsonl and results.json; returns the summary."""
  os.makedirs(workdir, exist_ok=True)
  trials = []
  for t in range(int(config.num_trials)):
    trials.append(run_trial(config, workdir, t))
    with open(os.path.join(workdir, "results.jsonl"), "w") as f:
      for r in trials:
        f.write(json.dumps(r) + "\n")
  summary = summarize(config, trials)
  with open(os.path.join(workdir, "results.json"), "w") as f:
    json.dump(summary, f, indent=2)
  print(format_table(summary), flush=True)
  return summary


def main(argv):
  del argv
  if flags.FLAGS.workdir is None:
    raise app.UsageError("--workdir is required")
  run(flags.FLAGS.config, flags.FLAGS.workdir)


if __name__ == "__main__":
  # Flags are defined only when run as a program, so tests can import several experiments' mains.
  config_flags.DEFINE_config_file("config", os.path.join(os.path.dirname(__file__), "config.py"))
  flags.DEFINE_string("workdir", None, "Directory of the run (trials resume from their checkpoints).")
  app.run(main)
