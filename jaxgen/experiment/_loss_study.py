"""A small GAN loss study: one DCGAN, several losses, several seeds, the same budget; LeNet-FID and speed.

:func:`train_loss_study` trains ``config.train.variants`` x ``num_seeds``
DCGAN runs, each in ``workdir/<variant>/seed<s>`` (a run of its own, resumable
and sampled like any DCGAN run), with the variant's loss (a name of
``jaxgen.train.GAN_LOSSES``; ``<loss>_r1`` adds R1 with gamma
``config.train.study_r1_gamma``), then measures each run's samples on the
dataset's LeNet features against the test split (FID, KID, precision and
recall, beside the train-vs-test floor) and its steady training speed. It
writes ``results.json`` (every run, and mean +- standard error over seeds per
variant), ``fid_by_loss.png`` and ``samples_by_loss.png`` (seed 0 of each
variant, one row each).

Every variant uses the same discriminator, normalised per example
(``model.discriminator_norm="layer"``) because the gradient penalties of
WGAN-GP and R1 are per-example only without batch statistics, and the same
optimizer: the comparison is at one setting, not each loss's own tuning
(Lucic et al. 2018 found no loss consistently better once each is tuned).
"""

from __future__ import annotations

import copy
import math
import os

import jax
import numpy as np

from jaxgen import data, metrics, models, plot, train
from jaxgen.experiment._cgan import names_of
from jaxgen.experiment._common import steady_speed, write_json
from jaxgen.experiment._gan import check_gan_config, train_dcgan


def variant_loss(variant: str) -> tuple[str, bool]:
  """``(loss name, with R1)`` of a variant name: ``"hinge"``, or ``"non_saturating_r1"``."""
  with_r1 = variant.endswith("_r1")
  return (variant[:-3] if with_r1 else variant), with_r1


def check_loss_study_config(config, *, dataset_size: int | None = None) -> None:
  """A DCGAN config, plus variants whose losses are known and at least one seed."""
  check_gan_config(config, dataset_size=dataset_size)
  variants = names_of(config.train.variants)
  if not variants or len(set(variants)) != len(variants):
    raise ValueError(f"config.train.variants must be distinct loss names, got {variants}")
  for v in variants:
    loss, _ = variant_loss(v)
    if loss not in train.GAN_LOSSES:
      raise ValueError(f"config.train.variants: unknown loss in '{v}'; use names of {', '.join(train.GAN_LOSSES)}, "
                       "with '_r1' appended for R1")
  if config.train.num_seeds < 1:
    raise ValueError(f"config.train.num_seeds must be >= 1, got {config.train.num_seeds}")


def _run_config(config, variant: str, seed: int):
  c = copy.deepcopy(config)
  c.unlock()  # the flags' config comes locked
  loss, with_r1 = variant_loss(variant)
  c.seed = int(config.seed) + seed
  c.train.loss = loss
  c.train.r1_gamma = float(config.train.study_r1_gamma) if with_r1 else 0.0
  del c.train.variants, c.train.num_seeds, c.train.study_r1_gamma
  return c


def _sample_features(run_dir: str, feature_net, num: int, seed: int):
  """Features of ``num`` samples of a saved run (its EMA where kept), and the first 10 samples."""
  nets, config, _ = train.restore_models(run_dir)
  spec = models.get_model_spec(config.model.name)
  features, shown = [], None
  for i in range(math.ceil(num / 500)):
    x = np.asarray(spec.sample(nets, jax.random.fold_in(jax.random.key(seed), i), min(500, num - 500 * i), config))
    features.append(feature_net.features(x))
    shown = x[:10] if shown is None else shown
  return np.concatenate(features), shown


def train_loss_study(config, workdir: str, *, progress: bool = True) -> dict:
  """Trains (or resumes) every variant and seed, measures them, writes ``results.json`` (also returned).

  Args:
    config: the study's config (``experiments/gan_losses/config.py``).
    workdir: the study's folder.
    progress: show the progress bars.
  """
  check_loss_study_config(config)
  os.makedirs(workdir, exist_ok=True)
  for variant in names_of(config.train.variants):
    for s in range(config.train.num_seeds):
      train_dcgan(_run_config(config, variant, s), os.path.join(workdir, variant, f"seed{s}"), progress=progress)

  e = config.eval
  ds = data.load_dataset(config.data.name, data_dir=config.data.data_dir)
  feature_net = metrics.feature_network(config.data.name, cache_dir=e.cache_dir or metrics.DEFAULT_CACHE_DIR,
                                        data_dir=config.data.data_dir, progress=progress)
  num = min(int(e.num_samples), ds.num_test)
  test_features = feature_net.features(ds.test[:num])
  floor = metrics.sample_quality(feature_net.features(ds.train[:num]), test_features, seed=e.seed)
  runs, variants, rows = {}, {}, []
  for variant in names_of(config.train.variants):
    fids, speeds = [], []
    for s in range(config.train.num_seeds):
      run_dir = os.path.join(workdir, variant, f"seed{s}")
      features, shown = _sample_features(run_dir, feature_net, num, e.seed)
      quality = metrics.sample_quality(features, test_features, seed=e.seed)
      speed = steady_speed(run_dir).get("steps_per_sec")
      runs[f"{variant}/seed{s}"] = {"samples": quality, "steps_per_sec": speed}
      fids.append(quality["fid"])
      speeds.append(speed)
      if s == 0:
        rows.append(shown)
    n = len(fids)
    variants[variant] = {
        "fid_mean": float(np.mean(fids)),
        "fid_se": float(np.std(fids, ddof=1) / math.sqrt(n)) if n > 1 else float("nan"),
        "fids": [float(f) for f in fids],
        "steps_per_sec_mean": float(np.mean(speeds)),
    }
  results = {
      "dataset": config.data.name,
      "num_steps": int(config.train.num_steps),
      "batch_size": int(config.train.batch_size),
      "num_seeds": int(config.train.num_seeds),
      "num_samples": num,
      "discriminator_norm": config.model.discriminator_norm,
      "r1_gamma": float(config.train.study_r1_gamma),
      "device": jax.devices()[0].device_kind,
      "feature_network": {"dataset": feature_net.dataset, "test_accuracy": feature_net.accuracy},
      "floor_train_vs_test": floor,
      "variants": variants,
      "runs": runs,
  }
  write_json(os.path.join(workdir, "results.json"), results)
  names = list(variants)
  plot.save_bar_chart(os.path.join(workdir, "fid_by_loss.png"), names, [variants[v]["fid_mean"] for v in names],
                      errors=[variants[v]["fid_se"] for v in names], floor=floor["fid"],
                      title=f"LeNet-FID by loss, {config.train.num_seeds} seeds, {config.train.num_steps} steps",
                      ylabel="FID (LeNet features)")
  plot.save_image_grid(os.path.join(workdir, "samples_by_loss.png"), np.concatenate(rows), ncol=10,
                       scale=plot.grid_scale(rows[0].shape[1:]))
  print(format_study(results))
  return results


def format_study(results: dict) -> str:
  """One line per variant: FID mean +- s.e. over seeds, and steps/s."""
  lines = [f"GAN losses on {results['dataset']}: DCGAN, {results['num_steps']} steps, {results['num_seeds']} seeds,"
           f" {results['num_samples']} samples; floor FID {results['floor_train_vs_test']['fid']:.2f}",
           f"{'variant':<24}{'FID':>10}{'+-':>8}{'steps/s':>10}"]
  for name, v in results["variants"].items():
    lines.append(f"{name:<24}{v['fid_mean']:>10.2f}{v['fid_se']:>8.2f}{v['steps_per_sec_mean']:>10.2f}")
  return "\n".join(lines)
