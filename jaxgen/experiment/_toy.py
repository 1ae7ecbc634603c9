"""GAN and PacGAN on the 2-D ring and grid mixtures, several trials, scored by mode coverage.

:func:`train_gan_toy` writes to ``workdir``: ``trial_<t>/`` (``config.json``,
``metrics.jsonl``, ``loss_curves.png``, ``mode_metrics.jsonl``: the metrics
every ``config.eval.every`` steps, ``scatter.png``: generated vs real points,
``checkpoints/``), ``results.jsonl`` (one line per trial) and
``results.json`` (mean +- standard error, the paper's numbers, the compute).
"""

from __future__ import annotations

import json
import math
import os
import time

import jax
import numpy as np
from flax import nnx

from jaxgen import metrics, plot, train
from jaxgen.experiment._common import batch_shape_of, check_experiment_config, make_optimizer, run_from_config
from jaxgen.experiment._common import write_json
from jaxgen.models import build_models

TOY_DATASETS = ("ring", "grid")
# Lin et al. 2018, Table 1 (400 epochs, 10 trials): modes, high-quality %, reverse KL (None: not quoted here).
PAPER_TABLE_1 = {
    ("ring", 1): {"num_modes": "6.3 +- 0.5", "high_quality_percent": "98.2", "reverse_kl": "0.45"},
    ("grid", 1): {"num_modes": "17.3 +- 0.8", "high_quality_percent": "94.8", "reverse_kl": "0.70"},
    ("ring", 2): {"num_modes": "7.9", "high_quality_percent": None, "reverse_kl": None},
    ("grid", 2): {"num_modes": "23.8", "high_quality_percent": None, "reverse_kl": None},
}


def check_gan_toy_config(config, *, dataset_size: int | None = None) -> None:
  """Checks a toy GAN experiment's config: ``data.name`` "ring" or "grid", a step of B packs of m points."""
  t = config.train
  examples_per_step = math.prod(batch_shape_of(t, t.batch_size * config.model.packing))
  check_experiment_config(config, dataset_size=dataset_size, examples_per_step=examples_per_step,
                          known_datasets=TOY_DATASETS, known_losses=train.GAN_LOSSES)


def mixture(config) -> metrics.GaussianMixture2D:
  """The paper's mixtures: 8 modes on the unit circle (std 0.01), or a 5 x 5 grid spaced 2 apart (std 0.05)."""
  if config.data.name == "ring":
    return metrics.ring_modes(8, radius=1.0, std=0.01)
  if config.data.name == "grid":
    return metrics.grid_modes(25, spacing=2.0, std=0.05)
  raise ValueError(f"unknown config.data.name {config.data.name!r}: use one of {', '.join(TOY_DATASETS)}")


def evaluate(generator: nnx.Module, config, mix: metrics.GaussianMixture2D, seed: int) -> tuple[dict, np.ndarray]:
  """Mode metrics of ``config.eval.num_samples`` points of ``generator`` in evaluation mode, and the points."""
  z = jax.random.normal(jax.random.key(seed), (config.eval.num_samples, config.model.latent_dim))
  points = np.asarray(generator(z, train=False))
  m = metrics.mode_metrics(points, mix.means, mix.std, threshold=config.eval.hq_threshold)
  return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in m.items()}, points


def run_trial(config, workdir: str, trial: int, *, progress: bool = True) -> dict:
  """Trains trial ``trial`` (seed ``config.seed + trial``) from scratch or its checkpoint; returns its metrics."""
  t = config.train
  mix = mixture(config)
  seed = int(config.seed) + trial
  models = build_models(config, nnx.Rngs(seed))
  packing = int(config.model.packing)
  batch_shape = batch_shape_of(t, t.batch_size * packing)  # B packs of m points
  optimizer = make_optimizer(t, train.steps_per_epoch(int(config.data.num_train), math.prod(batch_shape)))
  trial_dir = os.path.join(workdir, f"trial_{trial}")
  # The static graph definitions run_training builds, to evaluate states in the hook.
  eval_graphdefs = train.split_models(models)[0]

  def scheduled_metrics(state, step):
    generator = train.merge_models(eval_graphdefs, state, use_ema=config.eval.use_ema)["generator"]
    m, _ = evaluate(generator, config, mix, seed=10_000 + step)
    return {k: v for k, v in m.items() if k != "mode_counts"}

  t0 = time.perf_counter()
  graphdefs, state = run_from_config(
      config, trial_dir, models=models, optimizers={"generator": optimizer, "discriminator": optimizer},
      updates=train.gan_updates(loss=t.loss, k=t.k, latent_dim=config.model.latent_dim),
      data={"x": mix.sample(int(config.data.num_train), seed=seed)}, num_steps=t.num_steps,
      batch_shape=batch_shape, ema_networks=("generator",), seed=seed,
      hooks=[train.eval_hook(os.path.join(trial_dir, "mode_metrics.jsonl"), scheduled_metrics,
                             every_steps=config.eval.every, num_steps=t.num_steps)],
      description=f"{config.data.name} pac{packing} trial {trial}", progress=progress,
  )
  seconds = time.perf_counter() - t0
  generator = train.merge_models(graphdefs, state, use_ema=config.eval.use_ema)["generator"]
  m, points = evaluate(generator, config, mix, seed=seed + 12345)
  name = "GAN" if packing == 1 else f"PacGAN{packing}"
  plot.save_scatter(
      os.path.join(trial_dir, "scatter.png"),
      {"real": mix.sample(config.eval.num_samples, seed=seed + 1), "generated": points},
      title=f"{config.data.name}, {name}, trial {trial}: {m['num_modes']} modes, "
      f"{100 * m['high_quality_fraction']:.1f}% HQ",
      lim=(-1.6, 1.6) if config.data.name == "ring" else (-6, 6),
  )
  return {"trial": trial, "seed": seed, "steps": int(state.step), "train_seconds": seconds, **m}


def _mean_se(values) -> tuple[float, float]:
  v = np.asarray(values, np.float64)
  se = float(np.std(v, ddof=1) / math.sqrt(len(v))) if len(v) > 1 else float("nan")
  return float(np.mean(v)), se


def summarize(config, trials: list[dict]) -> dict:
  """Mean and standard error over ``trials`` of the modes, high-quality percent and reverse KL, with the paper's."""
  packing = int(config.model.packing)
  out = {"dataset": config.data.name, "packing": packing, "num_steps": int(config.train.num_steps),
         "num_trials": len(trials), "train_seconds_total": float(sum(t["train_seconds"] for t in trials))}
  for name, values in [
      ("num_modes", [t["num_modes"] for t in trials]),
      ("high_quality_percent", [100 * t["high_quality_fraction"] for t in trials]),
      ("reverse_kl", [t["reverse_kl"] for t in trials]),
  ]:
    out[name], out[name + "_se"] = _mean_se(values)
  out["paper_table_1"] = PAPER_TABLE_1.get((config.data.name, packing))
  return out


def format_table(summary: dict) -> str:
  """The summary next to the paper's Table 1 row, as text."""
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


def train_gan_toy(config, workdir: str, *, progress: bool = True) -> dict:
  """Runs ``config.train.num_trials`` trials; writes results.jsonl and results.json; returns the summary.

  Args:
    config: the experiment's config (``experiments/gan_toy/config.py``).
    workdir: the folder of the trials (each resumes from its checkpoints).
    progress: show the progress bars.
  """
  check_gan_toy_config(config, dataset_size=int(config.data.num_train))
  # The folder of the trials is this experiment's: never a finished run of another model.
  train.claim_workdir(workdir, config, allow_config_change=config.allow_config_change)
  trials = []
  for trial in range(int(config.train.num_trials)):
    trials.append(run_trial(config, workdir, trial, progress=progress))
    with open(os.path.join(workdir, "results.jsonl"), "w") as f:
      for r in trials:
        f.write(json.dumps(r) + "\n")
  summary = summarize(config, trials)
  write_json(os.path.join(workdir, "results.json"), summary)
  print(format_table(summary), flush=True)
  return summary
