"""The BigGAN experiment: orthogonal regularisation on and off, the raw and EMA generators, the truncation sweep.

:func:`train_biggan` trains, one after the other and each in its own
sub-folder of ``workdir`` (a run of its own: resumable, sampled by
``python -m jaxgen.sample --workdir workdir/ortho_0.0001 --label 3
--truncation 0.5``), the ``biggan`` family once per strength in
``config.train.ortho_betas`` (BigGAN's 1e-4, and 0), with everything else
equal: hinge loss, k discriminator steps per generator step, Adam with
beta1 = 0, an EMA of G from ``config.train.ema_start`` on. Each run is then
measured on the dataset's LeNet (``jaxgen.metrics.feature_network``):

* for the raw and the EMA generator (the latter with standing batch-norm
  statistics, ``biggan.standing_statistics`` over ``config.eval.standing_batches``
  batches, as the reference evaluates its EMA G), the truncation sweep of Brock et al.
  (Section 3.1, Figure 2): for each threshold of ``config.eval.truncations``
  (``None`` = none), z with every entry beyond the threshold redrawn
  (``jaxgen.random.truncated_normal_resample``): class accuracy (the share of
  samples the classifier reads as the label they were drawn for), classifier
  score, precision and recall (Kynkaanniemi et al. 2019), LeNet-FID and
  intra-class diversity (generated / real). The paper's claim: fidelity
  (class accuracy, precision) rises and variety (recall, diversity) falls as
  the threshold shrinks.

It writes ``results.json`` and, per run, ``truncation_raw.png`` and
``truncation_ema.png`` (one row per threshold, the same labels in every row).
"""

from __future__ import annotations

import copy
import math
import os
import time

import jax
import numpy as np
from flax import nnx

from jaxgen import data, metrics, plot, random, train
from jaxgen.experiment._cgan import _real_reference
from jaxgen.experiment._common import (batch_shape_of, make_optimizer, results_header, run_from_config,
                                       steady_speed, to_classifier_input, train_images_of, write_json)
from jaxgen.experiment._gan import check_gan_config, gan_updates_of
from jaxgen.models import biggan, build_models, dcgan

# Brock et al. 2019, CIFAR-10 (their appendix, as quoted in Ho et al. 2020, Table 1): the figures a user
# with an accelerator compares the cifar10 preset against; not comparable with LeNet figures on digits.
PUBLISHED_CIFAR10 = {"inception_score": 9.22, "fid": 14.73}


def run_name(beta: float) -> str:
  """The run folder of one orthogonal-regularisation strength: ``ortho_0.0001``, ``ortho_0``."""
  return f"ortho_{float(beta):g}"


def _truncation_name(threshold) -> str:
  return "none" if threshold is None else f"{float(threshold):g}"


def _thresholds(config) -> list[float | None]:
  """``config.eval.truncations`` as numbers, "none"/None meaning no truncation."""
  out = []
  for value in config.eval.truncations:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "inf", "")):
      out.append(None)
    else:
      out.append(float(value))
  return out


def check_biggan_config(config, *, dataset_size: int | None = None) -> None:
  """Checks the experiment's config: a GAN config with distinct ortho strengths >= 0 and thresholds > 0."""
  t = config.train
  for name in ("generator_learning_rate", "discriminator_learning_rate"):
    if name not in t:
      raise ValueError(f"config.train.{name} is missing: BigGAN gives each network its own learning rate")
  # The shared checks build the optimizer once; each network's is built the same way with its own rate.
  checked = _with_learning_rate(config, t.generator_learning_rate)
  check_gan_config(checked, dataset_size=dataset_size)
  betas = [float(b) for b in t.ortho_betas]
  if not betas or any(not b >= 0 for b in betas) or len({run_name(b) for b in betas}) != len(betas):
    raise ValueError(f"config.train.ortho_betas must be distinct numbers >= 0 (one run each), got {tuple(t.ortho_betas)}")
  for name in ("generator_learning_rate", "discriminator_learning_rate"):
    if not float(t[name]) > 0:
      raise ValueError(f"config.train.{name} must be > 0, got {t[name]}")
  standing = config.eval.get("standing_batches", 0)
  if isinstance(standing, bool) or not isinstance(standing, int) or standing < 0:
    raise ValueError(f"config.eval.standing_batches must be an integer >= 0 (0: none), got {standing!r}")
  try:
    thresholds = _thresholds(config)
  except (TypeError, ValueError):
    raise ValueError(f"config.eval.truncations must be numbers > 0 or None, got {tuple(config.eval.truncations)}") from None
  if not thresholds or any(v is not None and not (v > 0 and math.isfinite(v)) for v in thresholds):
    raise ValueError(f"config.eval.truncations must be numbers > 0 or None, got {tuple(config.eval.truncations)}")


def _run_config(config, beta: float):
  c = copy.deepcopy(config)
  c.unlock()  # the flags' config comes locked
  c.train.generator_ortho = float(beta)
  del c.train.ortho_betas
  return c


def _with_learning_rate(config, learning_rate: float):
  """A copy of ``config`` whose ``train.learning_rate`` is one network's."""
  c = copy.deepcopy(config)
  c.unlock()
  c.train.learning_rate = float(learning_rate)
  return c


def _optimizer(config, learning_rate: float, steps_per_epoch: int):
  return make_optimizer(_with_learning_rate(config, learning_rate).train, steps_per_epoch)


@nnx.jit
def _images(models, z, y):
  """G(z, y) in [0, 1], inference mode; one compilation for every run and truncation of an experiment."""
  return dcgan.to_unit_range(models["generator"](z, y, train=False))


def _latents(key, num: int, latent_dim: int, threshold: float | None):
  return random.truncated_normal_resample(key, (num, latent_dim), threshold)


def _generate(models, config, key, labels, threshold, batch_size: int = 500) -> np.ndarray:
  """Images for ``labels`` at one truncation, ``batch_size`` at a time (the last padded: one compilation)."""
  out = []
  for i, start in enumerate(range(0, len(labels), batch_size)):
    y = labels[start:start + batch_size]
    n = len(y)
    y = np.concatenate([y, np.zeros(batch_size - n, y.dtype)]) if n < batch_size else y
    z = _latents(jax.random.fold_in(key, i), batch_size, int(config.model.latent_dim), threshold)
    out.append(np.asarray(_images(models, z, y))[:n])
  return np.concatenate(out)


def _train_one(config, workdir, x, y, class_probs, *, progress):
  """Trains one run; returns the raw and EMA generators' networks, the step and the seconds taken."""
  t = config.train
  models = build_models(config, nnx.Rngs(config.seed))
  num_classes = int(config.model.num_classes)
  per_row = max(1, config.eval.grid_columns)
  grid_y = np.repeat(np.arange(num_classes), per_row)
  grid_z = jax.random.normal(jax.random.key(1234), (grid_y.size, config.model.latent_dim))
  grids = train.sample_grid_hook(
      os.path.join(workdir, "samples"), train.split_models(models)[0], lambda m: _images(m, grid_z, grid_y),
      every_steps=t.sample_every, num_steps=t.num_steps, use_ema=True, ncol=per_row,
  )
  batch_shape = batch_shape_of(t, t.batch_size)
  steps_per_epoch = train.steps_per_epoch(x.shape[0], math.prod(batch_shape))
  optimizers = {"generator": _optimizer(config, t.generator_learning_rate, steps_per_epoch),
                "discriminator": _optimizer(config, t.discriminator_learning_rate, steps_per_epoch)}
  # The shared class embedding is left out of the regularisation, as in the reference (train_fns.py).
  updates = gan_updates_of(config, num_classes=num_classes, class_probs=class_probs,
                           ortho_exclude=("shared",) if t.generator_ortho > 0 else ())
  t0 = time.perf_counter()
  graphdefs, state = run_from_config(
      config, workdir, models=models, optimizers=optimizers, updates=updates, data={"x": {"x": x, "y": y}},
      num_steps=t.num_steps, batch_shape=batch_shape, ema_networks=("generator",), hooks=[grids],
      description=os.path.basename(workdir), progress=progress,
  )
  seconds = time.perf_counter() - t0
  raw = train.merge_models(graphdefs, state, use_ema=False)
  ema = train.merge_models(graphdefs, state, use_ema=True)
  if config.eval.get("standing_batches", 0):
    # The EMA's averaged batch-norm statistics belong to no single set of weights: re-estimate them.
    biggan.standing_statistics(ema["generator"], jax.random.key(config.seed), num_batches=config.eval.standing_batches,
                               batch_size=int(t.batch_size))
  return raw, ema, int(state.step), seconds


def _measure(config, models, feature_net, real, *, threshold, seed: int) -> tuple[dict, np.ndarray]:
  """Class accuracy, classifier score, sample quality and diversity of one generator at one truncation."""
  e = config.eval
  num_classes = int(config.model.num_classes)
  labels = np.repeat(np.arange(num_classes), e.samples_per_class).astype(np.int32)
  samples = _generate(models, config, jax.random.key(seed), labels, threshold)
  shown = to_classifier_input(samples, feature_net.image_shape)
  features, log_probs = feature_net.features_and_log_probs(shown)
  diversity = metrics.intra_class_diversity(features, labels, num_classes=num_classes, max_per_class=1000)
  record = {
      "classifier_accuracy": metrics.classifier_accuracy(log_probs, labels),
      "classifier_score": metrics.classifier_score(log_probs)["mean"],
      "intra_class_diversity_ratio": float(np.nanmean(diversity / real["diversity"])),
      "samples": metrics.sample_quality(features, real["features"], seed=seed),
  }
  return record, samples


def _truncation_figure(path: str, rows: list[np.ndarray], num_classes: int) -> None:
  """One row per threshold: the first sample of each class (the same labels in every row)."""
  grid = np.concatenate([samples.reshape(num_classes, -1, *samples.shape[1:])[:, 0] for samples in rows])
  plot.save_image_grid(path, grid, ncol=num_classes, scale=plot.grid_scale(grid.shape[1:]))


def train_biggan(config, workdir: str, *, progress: bool = True) -> dict:
  """Trains (or resumes) every run of the experiment, measures them, writes ``results.json`` (also returned).

  Args:
    config: the experiment's config (``experiments/biggan/config.py``).
    workdir: the experiment's folder; run ``ortho_<beta>`` lives in ``workdir/ortho_<beta>``.
    progress: show the progress bars.
  """
  ds = data.load_dataset(config.data.name, data_dir=config.data.data_dir)
  if not ds.has_labels:
    raise ValueError(f"dataset {config.data.name} has no labels: BigGAN here is class-conditional")
  if ds.num_classes != config.model.num_classes:
    raise ValueError(f"config.model.num_classes={config.model.num_classes} but {config.data.name} has "
                     f"{ds.num_classes} classes: set it to {ds.num_classes}")
  shape = tuple(config.model.image_shape)
  x = train_images_of(config, ds)
  y = ds.train_labels.astype(np.int32)
  check_biggan_config(config, dataset_size=x.shape[0])
  class_probs = np.bincount(y, minlength=ds.num_classes) / y.size

  os.makedirs(workdir, exist_ok=True)
  trained = {}
  for beta in config.train.ortho_betas:
    name = run_name(beta)
    c = _run_config(config, beta)
    trained[name] = (c, *_train_one(c, os.path.join(workdir, name), dcgan.to_model_range(x), y, class_probs,
                                    progress=progress))

  e = config.eval
  feature_net = metrics.feature_network(config.data.name, cache_dir=e.cache_dir or metrics.DEFAULT_CACHE_DIR,
                                        data_dir=config.data.data_dir, progress=progress)
  real = _real_reference(config, feature_net, ds, class_probs, seed=e.seed)
  thresholds = _thresholds(config)
  runs = {}
  for name, (c, raw, ema, step, seconds) in trained.items():
    run_dir = os.path.join(workdir, name)
    t0 = time.perf_counter()
    sweep = {}
    for which, models in (("raw", raw), ("ema", ema)):
      sweep[which], rows = {}, []
      for threshold in thresholds:
        sweep[which][_truncation_name(threshold)], samples = _measure(c, models, feature_net, real,
                                                                     threshold=threshold, seed=e.seed)
        rows.append(samples)
      _truncation_figure(os.path.join(run_dir, f"truncation_{which}.png"), rows, int(c.model.num_classes))
    runs[name] = {
        "generator_ortho": float(c.train.generator_ortho),
        "step": step,
        "train_seconds_this_invocation": seconds,
        "steps_per_sec": steady_speed(run_dir).get("steps_per_sec"),
        "truncation": sweep,
        "eval_seconds": time.perf_counter() - t0,
    }
    write_json(os.path.join(run_dir, "eval.json"), runs[name])

  results = {
      **results_header(config, feature_net),
      "image_shape": list(shape),
      "k": int(config.train.k),
      "samples_per_class": int(e.samples_per_class),
      "floor_train_vs_test": real["floor"],
      "runs": runs,
      "published_cifar10": PUBLISHED_CIFAR10,
  }
  write_json(os.path.join(workdir, "results.json"), results)
  print(format_results(results))
  return results


def format_results(results: dict) -> str:
  """Per run and generator (raw, EMA): the truncation sweep; the real-data floor last."""
  lines = [f"biggan on {results['dataset']} {tuple(results['image_shape'])} ({results['num_steps']} steps, "
           f"k = {results['k']}, {results['samples_per_class']} samples per class):"]
  for name, r in results["runs"].items():
    lines.append(f"{name}:")
    lines.append(f"  {'G, truncation':<16}{'class acc':>10}{'score':>8}{'precision':>10}{'recall':>8}{'FID':>9}"
                 f"{'diversity':>10}")
    for which, sweep in r["truncation"].items():
      for threshold, m in sweep.items():
        label = f"{which} {threshold}"
        lines.append(f"  {label:<16}{m['classifier_accuracy']:>10.3f}{m['classifier_score']:>8.2f}"
                     f"{m['samples']['precision']:>10.3f}{m['samples']['recall']:>8.3f}{m['samples']['fid']:>9.2f}"
                     f"{m['intra_class_diversity_ratio']:>10.3f}")
  f = results["floor_train_vs_test"]
  lines.append(f"real (floor): class acc {f['classifier_accuracy']:.3f}, FID {f['fid']:.2f}, precision "
               f"{f['precision']:.3f}, recall {f['recall']:.3f}")
  return "\n".join(lines)
