"""The Pix2pix experiment: Isola et al.'s two ablations (objective; discriminator patch size) on digits.

:func:`train_pix2pix` builds aligned pairs from a labelled digit dataset
(``jaxgen.data.translation_pairs``: ``completion``, the bottom half masked
out -> the whole digit; ``edges``, the morphological gradient -> the digit),
then trains, each in ``workdir/<task>/<run>`` (a run of its own, resumable,
translated from with ``python -m jaxgen.translate``):

* Table 1 in miniature, one discriminator (``config.model.discriminator``):
  ``l1`` (no D), ``gan`` (D sees the output only), ``cgan`` (D sees input and
  output), ``l1_gan``, ``l1_cgan``;
* Table 2 in miniature, L1 + cGAN with each of ``config.train.discriminators``
  (``pixel``, ``patch16``, ``patch34``, ``image``: receptive fields 1, 16,
  34, the whole image).

Each run is measured on the test pairs, its generator in evaluation mode
(BatchNorm running averages, no dropout; ``config.eval.train_mode`` adds the
reference's test mode beside it: each image normalised by its own statistics,
batch size 1, with dropout on): the
dataset's LeNet classifier on the outputs against the source digit's label
(the "FCN-score" of Section 4.1 at digit scale), the test L1 in [0, 1] units,
LeNet-FID of the outputs against the test targets (their own targets: a
translation close to its target scores below the FID between two different
real samples, the train-vs-test figure given beside it), and the intersection of the outputs' pixel-intensity histogram with
the targets' (Figure 6: L1 alone gives grey). It writes ``results.json``,
``<task>/comparison.png`` (rows: input, target, then each run) and prints the
tables beside the published ones (Cityscapes FCN-scores: the claim we test,
not comparable numbers).
"""

from __future__ import annotations

import copy
import os
import time

import jax
import numpy as np
from flax import nnx

from jaxgen import data, metrics, plot, train
from jaxgen.experiment._cgan import names_of
from jaxgen.experiment._common import (check_experiment_config, make_optimizer, prepare_images, run_from_config,
                                       steady_speed, to_classifier_input, write_json)
from jaxgen.models import build_models, model_hparams, translate_images
from jaxgen.objectives import TRANSLATION_LOSSES, pix2pix_updates

# name: (L1 term, adversarial term, D sees the input)
LOSSES = {
    "l1": (True, False, False),
    "gan": (False, True, False),
    "cgan": (False, True, True),
    "l1_gan": (True, True, False),
    "l1_cgan": (True, True, True),
}
# Isola et al. 2017, Cityscapes labels -> photo, FCN-scores (per-pixel acc., per-class acc., class IOU).
PUBLISHED_TABLE_1 = {"l1": (0.42, 0.15, 0.11), "gan": (0.22, 0.05, 0.01), "cgan": (0.57, 0.22, 0.16),
                     "l1_gan": (0.64, 0.20, 0.15), "l1_cgan": (0.66, 0.23, 0.17), "ground truth": (0.80, 0.26, 0.21)}
PUBLISHED_TABLE_2 = {"1x1": (0.39, 0.15, 0.10), "16x16": (0.65, 0.21, 0.17), "70x70": (0.66, 0.23, 0.17),
                     "286x286": (0.42, 0.16, 0.11)}
HISTOGRAM_BINS = 32


def run_names(config) -> list[str]:
  """The runs of one task: the losses with the default D, then L1 + cGAN with every other D (no repeats)."""
  default = config.model.discriminator
  names = [loss if loss == "l1" else f"{loss}-{default}" for loss in names_of(config.train.losses)]
  names += [f"l1_cgan-{d}" for d in names_of(config.train.discriminators)]
  return list(dict.fromkeys(names))


def _parse(name: str) -> tuple[str, str | None]:
  loss, _, disc = name.partition("-")
  return loss, disc or None


def check_pix2pix_config(config, *, dataset_size: int | None = None) -> None:
  """The experiment's config: the shared layout, known tasks, losses and discriminators, a valid model."""
  check_experiment_config(config, dataset_size=dataset_size, known_losses=TRANSLATION_LOSSES)
  tasks = names_of(config.data.tasks)
  if not tasks or any(t not in data.PAIR_TASKS for t in tasks) or len(set(tasks)) != len(tasks):
    raise ValueError(f"config.data.tasks must be distinct names among {', '.join(data.PAIR_TASKS)}, got {tasks}")
  losses = names_of(config.train.losses)
  if any(loss not in LOSSES for loss in losses):
    raise ValueError(f"config.train.losses must be names among {', '.join(LOSSES)}, got {losses}")
  names = run_names(config)
  for name in names:
    model_hparams(_run_config(config, name, tasks[0]))  # every D a known variant that fits the images
  if not names:
    raise ValueError("config.train.losses and config.train.discriminators are both empty: nothing to train")


def _run_config(config, name: str, task: str):
  """One run's config: the experiment's with its loss weights and its discriminator set."""
  c = copy.deepcopy(config)
  c.unlock()  # the flags' config comes locked
  loss, disc = _parse(name)
  use_l1, use_gan, conditional = LOSSES[loss]
  c.model.conditional_discriminator = conditional
  if disc is not None:
    c.model.discriminator = disc
  c.train.l1_weight = float(config.train.l1_weight) if use_l1 else 0.0
  c.train.gan_weight = 1.0 if use_gan else 0.0
  c.data.task = task
  del c.train.losses, c.train.discriminators, c.data.tasks
  return c


def histogram_intersection(a: np.ndarray, b: np.ndarray, bins: int = HISTOGRAM_BINS) -> float:
  """sum_k min(p_k, q_k) of the normalised pixel-intensity histograms of two image sets on [0, 1] (1: the same)."""
  edges = np.linspace(0.0, 1.0, bins + 1)
  p = np.histogram(np.clip(a, 0, 1), edges)[0] / a.size
  q = np.histogram(np.clip(b, 0, 1), edges)[0] / b.size
  return float(np.minimum(p, q).sum())


def _train_one(config, workdir, a, b, *, progress):
  """Trains one run; returns the trained networks, the step and the seconds taken."""
  t = config.train
  models = build_models(config, nnx.Rngs(config.seed))
  optimizer = make_optimizer(t, train.steps_per_epoch(a.shape[0], t.batch_size))
  updates = pix2pix_updates(loss=t.loss, l1_weight=t.l1_weight, gan_weight=t.gan_weight)
  optimizers = {"generator": optimizer}
  if t.gan_weight > 0:
    optimizers["discriminator"] = optimizer
  t0 = time.perf_counter()
  graphdefs, state = run_from_config(
      config, workdir, models=models, optimizers=optimizers, updates=updates,
      data={"pair": {"a": 2.0 * a - 1.0, "b": 2.0 * b - 1.0}}, num_steps=t.num_steps, batch_shape=(t.batch_size,),
      ema_networks=(), description=os.path.relpath(workdir, os.path.dirname(os.path.dirname(workdir))),
      progress=progress,
  )
  return train.merge_models(graphdefs, state), int(state.step), time.perf_counter() - t0


def _measure(outputs, targets, labels, feature_net, real_features) -> dict:
  """Every figure of one set of outputs against the test targets."""
  shown = to_classifier_input(outputs, feature_net.image_shape)
  features = feature_net.features(shown)
  return {
      "classifier_accuracy": metrics.classifier_accuracy(feature_net.log_probs(shown), labels),
      "l1": float(np.mean(np.abs(outputs - targets))),
      "fid": metrics.frechet_distance(features, real_features),
      "histogram_intersection": histogram_intersection(outputs, targets),
      "precision_recall": metrics.precision_recall(real_features, features),
  }


def train_pix2pix(config, workdir: str, *, progress: bool = True) -> dict:
  """Trains (or resumes) every run of every task, measures them, writes ``results.json`` (also returned).

  Args:
    config: the experiment's config (``experiments/pix2pix/config.py``).
    workdir: the experiment's folder; run ``<name>`` of task ``<task>`` lives in ``workdir/<task>/<name>``.
    progress: show the progress bars.
  """
  ds = data.load_dataset(config.data.name, data_dir=config.data.data_dir)
  if not ds.has_labels:
    raise ValueError(f"dataset {config.data.name} has no labels: the classifier score needs them")
  side = int(config.model.image_shape[0])
  num_train = config.data.get("num_train") or ds.num_train
  train_images = prepare_images(ds.train[:num_train], side)
  test_images = prepare_images(ds.test[:config.eval.num_test] if config.eval.num_test else ds.test, side)
  test_labels = ds.test_labels[:len(test_images)]
  check_pix2pix_config(config, dataset_size=train_images.shape[0])

  e = config.eval
  feature_net = metrics.feature_network(config.data.name, cache_dir=e.cache_dir or metrics.DEFAULT_CACHE_DIR,
                                        data_dir=config.data.data_dir, progress=progress)
  real_test = to_classifier_input(test_images, feature_net.image_shape)
  real_features = feature_net.features(real_test)
  floor_features = feature_net.features(to_classifier_input(train_images[:len(test_images)], feature_net.image_shape))
  floor = {"classifier_accuracy": metrics.classifier_accuracy(feature_net.log_probs(real_test), test_labels),
           "fid": metrics.frechet_distance(floor_features, real_features), "l1": 0.0,
           "histogram_intersection": histogram_intersection(train_images[:len(test_images)], test_images)}

  results = {"dataset": config.data.name, "image_side": side, "num_steps": int(config.train.num_steps),
             "batch_size": int(config.train.batch_size), "discriminator": config.model.discriminator,
             "device": jax.devices()[0].device_kind, "num_test": int(len(test_images)),
             "feature_network": {"dataset": feature_net.dataset, "test_accuracy": feature_net.accuracy},
             "real_train_vs_test": floor, "tasks": {},
             "published_fcn_scores": {"table_1": PUBLISHED_TABLE_1, "table_2": PUBLISHED_TABLE_2}}
  for task in names_of(config.data.tasks):
    a_train, b_train = data.translation_pairs(train_images, task)
    a_test, b_test = data.translation_pairs(test_images, task)
    runs, rows = {}, [a_test[:10], b_test[:10]]
    for name in run_names(config):
      c = _run_config(config, name, task)
      run_dir = os.path.join(workdir, task, name)
      models, step, seconds = _train_one(c, run_dir, a_train, b_train, progress=progress)
      t0 = time.perf_counter()
      outputs = translate_images(models, c, a_test)
      record = {"step": step, "train_seconds_this_invocation": seconds,
                "steps_per_sec": steady_speed(run_dir).get("steps_per_sec"),
                **_measure(outputs, b_test, test_labels, feature_net, real_features)}
      if e.train_mode:
        record["train_mode"] = _measure(translate_images(models, c, a_test, train_mode=True, seed=e.seed),
                                        b_test, test_labels, feature_net, real_features)
      record["eval_seconds"] = time.perf_counter() - t0
      write_json(os.path.join(run_dir, "eval.json"), record)
      runs[name] = record
      rows.append(outputs[:10])
    plot.save_image_grid(os.path.join(workdir, task, "comparison.png"), np.concatenate(rows), ncol=10,
                         scale=plot.grid_scale(test_images.shape[1:]))
    results["tasks"][task] = {"runs": runs, "rows_of_comparison_png": ["input", "target", *runs]}
  write_json(os.path.join(workdir, "results.json"), results)
  print(format_results(results))
  return results


def format_results(results: dict) -> str:
  """Each task's runs side by side, real train images against the test targets last."""
  lines = []
  for task, t in results["tasks"].items():
    lines += [f"pix2pix {task} on {results['dataset']} {results['image_side']}x{results['image_side']} "
              f"({results['num_steps']} steps each):",
              f"{'run':<22}{'class acc':>10}{'L1':>8}{'FID':>9}{'hist. int.':>11}"]
    for name, r in t["runs"].items():
      lines.append(f"{name:<22}{r['classifier_accuracy']:>10.3f}{r['l1']:>8.4f}{r['fid']:>9.2f}"
                   f"{r['histogram_intersection']:>11.4f}")
    f = results["real_train_vs_test"]
    lines.append(f"{'real train vs test':<22}{f['classifier_accuracy']:>10.3f}{0.0:>8.4f}{f['fid']:>9.2f}"
                 f"{f['histogram_intersection']:>11.4f}")
  return "\n".join(lines)
