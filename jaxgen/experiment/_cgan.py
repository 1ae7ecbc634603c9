"""The conditional-GAN experiment: one generator, three ways to show D the label, one unconditional baseline.

:func:`train_cgan` trains, one after the other and each in its own
sub-folder of ``workdir`` (a run of its own: resumable, sampled by
``python -m jaxgen.sample --workdir workdir/<run> --label 3``), the ``cgan``
family with each discriminator head of ``config.train.heads``:

* ``concat``: the label's one-hot maps concatenated to D's input (Mirza &
  Osindero 2014);
* ``ac``: an auxiliary classifier, D and G both trained on its class loss
  (Odena et al. 2017);
* ``projection``: D(x, y) = psi(phi(x)) + embed(y)^T phi(x) (Miyato & Koyama
  2018);

and, with ``config.train.unconditional_baseline``, the same networks without
the label (``unconditional``), all from the same seed for the same number of
steps. Each run is then measured on the dataset's LeNet (``jaxgen.metrics.
feature_network``, trained on first use): the classifier's accuracy on
samples against the label they were drawn for, per class; FID, KID,
precision/recall, density/coverage against the test split beside the
train-vs-test floor; intra-class diversity (mean pairwise feature distance
within a class, generated / real); and the Parzen-window log-likelihood of
the test set (Goodfellow et al. 2014's protocol, beside Mirza & Osindero's
Table 1). It writes ``results.json`` and, per run, ``samples_by_class.png``
(one row per class).
"""

from __future__ import annotations

import copy
import math
import os
import time

import jax
import numpy as np
from flax import nnx

from jaxgen import data, metrics, plot, train
from jaxgen.experiment._common import (batch_shape_of, make_optimizer, results_header, run_from_config,
                                      steady_speed, write_json)
from jaxgen.experiment._gan import check_gan_config, gan_updates_of
from jaxgen.models import build_models, dcgan

HEADS = ("concat", "ac", "projection")
UNCONDITIONAL = "unconditional"
# Mirza & Osindero 2014, Table 1: Parzen-window log-likelihood of the MNIST test set.
PUBLISHED_PARZEN = {"conditional adversarial net": (132.0, 1.8), "GAN (Goodfellow et al. 2014)": (225.0, 2.0)}


def names_of(value) -> tuple[str, ...]:
  """A tuple of names from a config field: a tuple, or what the command line gives ("ac,projection")."""
  items = (value,) if isinstance(value, str) else tuple(value)
  return tuple(n.strip() for item in items for n in str(item).split(",") if n.strip())


def check_cgan_config(config, *, dataset_size: int | None = None) -> None:
  """Checks the experiment's config: a GAN config whose heads are known."""
  check_gan_config(config, dataset_size=dataset_size)
  heads = names_of(config.train.heads)
  unknown = [h for h in heads if h not in HEADS]
  if unknown or len(set(heads)) != len(heads):
    raise ValueError(f"config.train.heads must be distinct names among {', '.join(HEADS)}, got {heads}")
  if not heads and not config.train.unconditional_baseline:
    raise ValueError("config.train.heads is empty and unconditional_baseline is off: nothing to train")


def _run_config(config, name: str):
  """The config of one run: the experiment's with the head (and, for the baseline, no conditioning) set."""
  c = copy.deepcopy(config)
  c.unlock()  # the flags' config comes locked
  if name == UNCONDITIONAL:
    c.model.discriminator_head = "none"
    c.model.generator_conditioning = "none"
  else:
    c.model.discriminator_head = name
  del c.train.heads, c.train.unconditional_baseline
  return c


def _images_fn():
  """``images(models, z, y)``: G(z, y) in [0, 1], inference mode, compiled."""
  return nnx.jit(lambda models, z, y: dcgan.to_unit_range(models["generator"](z, y, train=False)))


def _generate(images, models, config, key, labels, batch_size: int = 500) -> np.ndarray:
  """Images for ``labels``, z ~ N(0, I), ``batch_size`` at a time (the last padded: one compilation)."""
  out = []
  for i, start in enumerate(range(0, len(labels), batch_size)):
    y = labels[start:start + batch_size]
    n = len(y)
    y = np.concatenate([y, np.zeros(batch_size - n, y.dtype)]) if n < batch_size else y
    z = jax.random.normal(jax.random.fold_in(key, i), (batch_size, config.model.latent_dim))
    out.append(np.asarray(images(models, z, y))[:n])
  return np.concatenate(out)


def train_conditional(config, workdir, x, y, class_probs, *, progress):
  """Trains one conditional GAN run (``config.model``: the cgan family) on images ``x`` in [-1, 1] and labels ``y``.

  Returns the networks to sample (EMA where kept), the step reached and the seconds it took.
  """
  t = config.train
  models = build_models(config, nnx.Rngs(config.seed))
  images = _images_fn()
  num_classes = int(config.model.num_classes)
  per_row = max(1, config.eval.grid_columns)
  grid_y = np.repeat(np.arange(num_classes), per_row)
  grid_z = jax.random.normal(jax.random.key(1234), (grid_y.size, config.model.latent_dim))
  grids = train.sample_grid_hook(
      os.path.join(workdir, "samples"), train.split_models(models)[0], lambda m: images(m, grid_z, grid_y),
      every_steps=t.sample_every, num_steps=t.num_steps, use_ema=config.eval.use_ema, ncol=per_row,
  )
  batch_shape = batch_shape_of(t, t.batch_size)
  optimizer = make_optimizer(t, train.steps_per_epoch(x.shape[0], math.prod(batch_shape)))
  updates = gan_updates_of(config, num_classes=num_classes, class_probs=class_probs,
                           ac_weight=float(t.ac_weight))
  t0 = time.perf_counter()
  graphdefs, state = run_from_config(
      config, workdir, models=models, optimizers={"generator": optimizer, "discriminator": optimizer},
      updates=updates, data={"x": {"x": x, "y": y}}, num_steps=t.num_steps, batch_shape=batch_shape,
      ema_networks=("generator",), hooks=[grids], description=os.path.basename(workdir), progress=progress,
  )
  seconds = time.perf_counter() - t0
  trained = train.merge_models(graphdefs, state, use_ema=config.eval.use_ema)
  return trained, int(state.step), seconds


def _evaluate(config, models, feature_net, ds, real, *, valid, seed: int) -> dict:
  """Every figure of one run against the test split; ``real`` holds the test features and floors."""
  e = config.eval
  images = _images_fn()
  num_classes = int(config.model.num_classes)
  t0 = time.perf_counter()
  labels = np.repeat(np.arange(num_classes), e.samples_per_class).astype(np.int32)
  samples = _generate(images, models, config, jax.random.key(seed), labels)
  features, log_probs = feature_net.features_and_log_probs(samples)
  predicted = np.argmax(log_probs, axis=1)
  per_class = [float(np.mean(predicted[labels == c] == c)) for c in range(num_classes)]
  diversity = metrics.intra_class_diversity(features, labels, num_classes=num_classes, max_per_class=1000)
  out = {
      "classifier_accuracy": metrics.classifier_accuracy(log_probs, labels),
      "classifier_accuracy_per_class": per_class,
      "classifier_score": metrics.classifier_score(log_probs)["mean"],
      # Generated / real, class by class, then averaged.
      "intra_class_diversity_ratio": float(np.nanmean(diversity / real["diversity"])),
      "intra_class_diversity_ratio_per_class": [float(v) for v in diversity / real["diversity"]],
      "samples": metrics.sample_quality(features, real["features"], seed=seed),
      "num_samples": int(labels.size),
  }
  if e.parzen:
    # Goodfellow et al. 2014's protocol: labels drawn as the data's, the width chosen on validation images.
    rng = np.random.default_rng(seed)
    parzen_labels = rng.choice(num_classes, size=e.parzen_num_samples, p=real["class_probs"]).astype(np.int32)
    parzen_samples = _generate(images, models, config, jax.random.key(seed + 1), parzen_labels).reshape(
        e.parzen_num_samples, -1)
    sigmas = np.logspace(e.sigma_log10_start, e.sigma_log10_end, e.num_sigmas)
    sigma, _ = metrics.parzen_select_sigma(parzen_samples, valid.reshape(valid.shape[0], -1), sigmas,
                                           batch_size=e.parzen_batch_size)
    mean, se = metrics.parzen_log_likelihood(parzen_samples, ds.test.reshape(ds.num_test, -1), sigma,
                                             batch_size=e.parzen_batch_size)
    out["parzen"] = {"log_likelihood": mean, "standard_error": se, "sigma": sigma,
                     "num_samples": int(e.parzen_num_samples), "num_valid": int(valid.shape[0])}
  out["eval_seconds"] = time.perf_counter() - t0
  return out, samples


def _real_reference(config, feature_net, ds, class_probs, seed: int) -> dict:
  """Test-split features, the train-vs-test floor of every figure, and real intra-class diversity."""
  num_classes = int(config.model.num_classes)
  test_features = feature_net.features(ds.test)
  # As many real training images as the runs draw samples: the floor at the same sample count.
  n = min(ds.num_train, int(config.eval.samples_per_class) * num_classes)
  train_features = feature_net.features(ds.train[:n])
  return {
      "features": test_features,
      "class_probs": class_probs,
      "diversity": metrics.intra_class_diversity(test_features, ds.test_labels, num_classes=num_classes),
      "floor": {
          **metrics.sample_quality(train_features, test_features, seed=seed),
          "classifier_accuracy": metrics.classifier_accuracy(feature_net.log_probs(ds.test), ds.test_labels),
          "num_train_images": int(n),
      },
  }


def train_cgan(config, workdir: str, *, progress: bool = True) -> dict:
  """Trains (or resumes) every run of the experiment, measures them, writes ``results.json`` (also returned).

  Args:
    config: the experiment's config (``experiments/cgan/config.py``).
    workdir: the experiment's folder; run ``<name>`` lives in ``workdir/<name>``.
    progress: show the progress bars.
  """
  ds = data.load_dataset(config.data.name, data_dir=config.data.data_dir)
  if not ds.has_labels:
    raise ValueError(f"dataset {config.data.name} has no labels: a conditional GAN needs them")
  data.check_images(ds.train, image_shape=tuple(config.model.image_shape), what="train images")
  if ds.num_classes != config.model.num_classes:
    raise ValueError(f"config.model.num_classes={config.model.num_classes} but {config.data.name} has "
                     f"{ds.num_classes} classes: set it to {ds.num_classes}")
  num_valid = int(config.data.num_valid)
  if not 0 < num_valid < ds.num_train:
    raise ValueError(f"config.data.num_valid={num_valid} must be in (0, {ds.num_train}) for {config.data.name}")
  x, y = ds.train[:-num_valid], ds.train_labels[:-num_valid].astype(np.int32)
  valid = ds.train[-num_valid:]
  check_cgan_config(config, dataset_size=x.shape[0])
  class_probs = np.bincount(y, minlength=ds.num_classes) / y.size

  names = list(names_of(config.train.heads)) + ([UNCONDITIONAL] if config.train.unconditional_baseline else [])
  os.makedirs(workdir, exist_ok=True)
  trained = {}
  for name in names:
    c = _run_config(config, name)
    models, step, seconds = train_conditional(c, os.path.join(workdir, name), dcgan.to_model_range(x), y, class_probs,
                                       progress=progress)
    trained[name] = (c, models, step, seconds)

  e = config.eval
  feature_net = metrics.feature_network(config.data.name, cache_dir=e.cache_dir or metrics.DEFAULT_CACHE_DIR,
                                        data_dir=config.data.data_dir, progress=progress)
  real = _real_reference(config, feature_net, ds, class_probs, seed=e.seed)
  runs = {}
  for name, (c, models, step, seconds) in trained.items():
    run_dir = os.path.join(workdir, name)
    record, samples = _evaluate(c, models, feature_net, ds, real, valid=valid, seed=e.seed)
    per_row = min(e.grid_columns, e.samples_per_class)
    rows = samples.reshape(ds.num_classes, e.samples_per_class, *samples.shape[1:])[:, :per_row]
    plot.save_image_grid(os.path.join(run_dir, "samples_by_class.png"), rows.reshape(-1, *samples.shape[1:]),
                         ncol=per_row, scale=plot.grid_scale(samples.shape[1:]))
    runs[name] = {"step": step, "train_seconds_this_invocation": seconds,
                  "steps_per_sec": steady_speed(run_dir).get("steps_per_sec"), **record}
    write_json(os.path.join(run_dir, "eval.json"), runs[name])

  results = {
      **results_header(config, feature_net),
      "loss": config.train.loss,
      "samples_per_class": int(e.samples_per_class),
      "floor_train_vs_test": real["floor"],
      "runs": runs,
      "published_parzen_mnist": {k: {"mean": m, "se": s} for k, (m, s) in PUBLISHED_PARZEN.items()},
  }
  write_json(os.path.join(workdir, "results.json"), results)
  print(format_results(results))
  return results


def format_results(results: dict) -> str:
  """The runs' figures side by side, the floor last."""
  lines = [f"cgan on {results['dataset']} ({results['loss']} loss, {results['num_steps']} steps each, "
           f"{results['samples_per_class']} samples per class):",
           f"{'run':<15}{'class acc':>10}{'FID':>9}{'precision':>10}{'recall':>8}{'diversity':>10}{'Parzen':>9}"]
  for name, r in results["runs"].items():
    parzen = r.get("parzen", {}).get("log_likelihood", float("nan"))
    lines.append(f"{name:<15}{r['classifier_accuracy']:>10.3f}{r['samples']['fid']:>9.2f}"
                 f"{r['samples']['precision']:>10.3f}{r['samples']['recall']:>8.3f}"
                 f"{r['intra_class_diversity_ratio']:>10.3f}{parzen:>9.1f}")
  f = results["floor_train_vs_test"]
  lines.append(f"{'real (floor)':<15}{f['classifier_accuracy']:>10.3f}{f['fid']:>9.2f}{f['precision']:>10.3f}"
               f"{f['recall']:>8.3f}{1.0:>10.3f}")
  return "\n".join(lines)
