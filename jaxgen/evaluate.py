"""Sample quality of a saved run, offline: FID, KID, precision/recall, density/coverage on LeNet features.

    python -m jaxgen.evaluate --workdir RUN [--num 10000] [--seed 0]
        [--cache_dir DIR] [--data_dir DIR] [--step N] [--no_ema]

Draws ``--num`` samples from the run's checkpoint (EMA weights where kept;
a conditional run's classes in turn, each sample scored by the feature
network's classifier against its label),
embeds them with the dataset's own LeNet feature network
(``jaxgen.metrics.feature_network``: trained on first use, gated, cached in
``--cache_dir``), and compares them with the test split. Beside every figure
it reports the same metric for real training images against the test split,
the floor a perfect generator would reach with this many samples. Writes
``RUN/eval.json`` (figures, floors, sample counts, seeds, the feature
network's accuracy and cache) and ``RUN/eval_neighbours.png`` (a few samples,
each followed by its nearest training images in feature space: a copy of the
training set shows up there). Samples are drawn, embedded and dropped batch by
batch, so memory stays bounded for ``--num 50000``.

These are not Inception scores: no package ships Inception weights, and this
library must evaluate offline. LeNet-feature figures compare runs of this
library on the same dataset, not numbers from papers.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import jax
import numpy as np

from jaxgen import data, metrics, models, plot, train

DEFAULT_CACHE_DIR = metrics.DEFAULT_CACHE_DIR


class EvaluateError(ValueError):
  """A run cannot be evaluated (bad arguments, samples that are not images of the dataset)."""


def _embed_samples(nets, config, feature_net, *, num: int, key: jax.Array, batch_size: int, keep: int,
                   labels: np.ndarray | None = None):
  """Features and class log-probabilities of ``num`` samples (of ``labels``), and the first ``keep`` samples."""
  spec = models.get_model_spec(config.model.name)
  if spec.sample is None:
    if spec.translate is not None:
      raise EvaluateError(f"model '{spec.name}' translates images rather than sampling them: use python -m jaxgen.translate "
                  "--workdir RUN --input FOLDER --out DIR (its experiment measures the translations)")
    raise EvaluateError(f"model '{spec.name}' registered no sample function: it cannot be evaluated")
  features, log_probs, kept = [], [], []
  for i in range(math.ceil(num / batch_size)):
    n = min(batch_size, num - i * batch_size)
    kwargs = {} if labels is None else {"labels": labels[i * batch_size:i * batch_size + n]}
    x = np.asarray(spec.sample(nets, jax.random.fold_in(key, i), n, config, **kwargs), np.float32)
    if x.ndim != 4 or tuple(x.shape[1:]) != feature_net.image_shape:
      raise EvaluateError(
          f"the run's samples have shape {x.shape[1:]}, the {feature_net.dataset} feature network takes images of "
          f"shape {feature_net.image_shape}: only image models of that dataset can be evaluated")
    features.append(feature_net.features(x))
    log_probs.append(feature_net.log_probs(x))
    if sum(len(k) for k in kept) < keep:
      kept.append(x[: keep - sum(len(k) for k in kept)])
  return np.concatenate(features), np.concatenate(log_probs), np.concatenate(kept)


def _save_neighbours(path: str, samples: np.ndarray, sample_features: np.ndarray, train_images: np.ndarray,
                     train_features: np.ndarray, num_neighbours: int = 4) -> str:
  rows = []
  for x, f in zip(samples, sample_features):
    nearest = np.argsort(np.sum((train_features - f) ** 2, axis=1))[:num_neighbours]
    rows += [x[None], train_images[nearest]]
  return plot.save_image_grid(path, np.clip(np.concatenate(rows), 0.0, 1.0), ncol=num_neighbours + 1,
                              scale=plot.grid_scale(samples.shape[1:]))


def evaluate_run(
    workdir: str | os.PathLike,
    *,
    num: int = 10_000,
    seed: int = 0,
    cache_dir: str | os.PathLike = DEFAULT_CACHE_DIR,
    data_dir: str | None = None,
    step: int | None = None,
    use_ema: bool = True,
    batch_size: int = 500,
    progress: bool = True,
) -> dict:
  """Evaluates a run's samples against its dataset's test split; writes and returns the ``eval.json`` record.

  Args:
    workdir: the run's directory.
    num: samples to draw (and at most this many test and training images).
    seed: seed of the samples and of the KID subsets (the floor uses the
      first ``num`` training images in their stored order).
    cache_dir: where the feature networks are cached (trained on first use).
    data_dir: the dataset's folder, default the run's ``config.data.data_dir``.
    step: checkpoint step, default the newest intact one.
    use_ema: sample with the EMA weights where the run keeps them.
    batch_size: samples drawn and embedded at a time.
    progress: show the feature network's training progress (first use).
  """
  if num < 10:
    raise EvaluateError(f"--num must be >= 10 (the k-NN metrics need neighbours), got {num}")
  if batch_size < 1:
    raise EvaluateError(f"--batch_size must be >= 1, got {batch_size}")
  t0 = time.perf_counter()
  nets, config, step = train.restore_models(workdir, step=step, use_ema=use_ema)
  dataset = config.data.name
  data_dir = data_dir if data_dir is not None else config.data.get("data_dir")
  ds = data.load_dataset(dataset, data_dir=data_dir)
  feature_net = metrics.feature_network(dataset, cache_dir=cache_dir, data_dir=data_dir, progress=progress)

  test = ds.test[:num]
  train_images = ds.train[:num]
  test_features, train_features = feature_net.features(test), feature_net.features(train_images)
  # A conditional run: the same number of samples of every class, each scored against its label.
  num_classes = config.model.get("num_classes")
  labels = None if num_classes is None else (np.arange(num) % num_classes).astype(np.int32)
  fake_features, fake_log_probs, shown = _embed_samples(
      nets, config, feature_net, num=num, key=jax.random.key(seed), batch_size=batch_size, keep=8, labels=labels)
  samples = metrics.sample_quality(fake_features, test_features, seed=seed)
  floor = metrics.sample_quality(train_features, test_features, seed=seed)
  score = metrics.classifier_score(fake_log_probs)
  real_score = metrics.classifier_score(feature_net.log_probs(test))
  record = {
      "workdir": os.path.abspath(os.fspath(workdir)),
      "model": config.model.name,
      "step": int(step),
      "used_ema": bool(use_ema),
      "dataset": dataset,
      "num_samples": int(num),
      "num_test": int(len(test)),
      "num_train_for_floor": int(len(train_images)),
      "sample_seed": int(seed),
      "samples": samples,
      "floor_train_vs_test": floor,
      "classifier_score": score["mean"],
      "classifier_score_of_test_images": real_score["mean"],
      **({} if labels is None else {
          "classifier_accuracy": metrics.classifier_accuracy(fake_log_probs, labels),
          "classifier_accuracy_of_test_images": metrics.classifier_accuracy(feature_net.log_probs(test),
                                                                            ds.test_labels[:num])}),
      "feature_network": {"dataset": feature_net.dataset, "test_accuracy": feature_net.accuracy,
                          "features": feature_net.feature_dim, "cache": feature_net.path},
      "seconds": time.perf_counter() - t0,
  }
  train.write_json(os.path.join(os.fspath(workdir), "eval.json"), record)
  _save_neighbours(os.path.join(os.fspath(workdir), "eval_neighbours.png"), shown, fake_features[: len(shown)],
                   train_images, train_features)
  return record


def format_record(record: dict) -> str:
  """The figures of an ``eval.json`` record beside their floors, as a small table."""
  lines = [f"{record['model']} step {record['step']} on {record['dataset']}: {record['num_samples']} samples "
           f"(seed {record['sample_seed']}) against {record['num_test']} test images, LeNet features "
           f"(test accuracy {100 * record['feature_network']['test_accuracy']:.2f} %)",
           f"{'':<12}{'samples':>12}{'floor':>12}"]
  for name in ("fid", "kid_mean", "precision", "recall", "density", "coverage"):
    lines.append(f"{name:<12}{record['samples'][name]:>12.4g}{record['floor_train_vs_test'][name]:>12.4g}")
  lines.append(f"{'class score':<12}{record['classifier_score']:>12.4g}{record['classifier_score_of_test_images']:>12.4g}"
               "  (test images)")
  if "classifier_accuracy" in record:
    lines.append(f"{'class acc':<12}{record['classifier_accuracy']:>12.4g}"
                 f"{record['classifier_accuracy_of_test_images']:>12.4g}  (samples against the label drawn for)")
  return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(prog="python -m jaxgen.evaluate", description=__doc__.split("\n\n")[0])
  parser.add_argument("--workdir", required=True, help="directory of a training run")
  parser.add_argument("--num", type=int, default=10_000, help="samples (and test images) compared")
  parser.add_argument("--seed", type=int, default=0, help="seed of the samples and the KID subsets")
  parser.add_argument("--cache_dir", default=DEFAULT_CACHE_DIR, help="where feature networks are cached")
  parser.add_argument("--data_dir", default=None, help="the dataset's folder (default: the run's)")
  parser.add_argument("--step", type=int, default=None, help="checkpoint step (default: the newest intact)")
  parser.add_argument("--no_ema", action="store_true", help="sample with the raw weights, not their EMA")
  parser.add_argument("--batch_size", type=int, default=500, help="samples drawn and embedded at a time")
  args = parser.parse_args(argv)
  try:
    record = evaluate_run(args.workdir, num=args.num, seed=args.seed, cache_dir=args.cache_dir,
                          data_dir=args.data_dir, step=args.step, use_ema=not args.no_ema, batch_size=args.batch_size)
  except (ValueError, data.DatasetNotFoundError) as e:
    print(f"jaxgen.evaluate: {' '.join(str(e).split())}", file=sys.stderr)
    return 2
  except KeyboardInterrupt:
    print("jaxgen.evaluate: interrupted", file=sys.stderr)
    return 130
  print(format_record(record))
  return 0


if __name__ == "__main__":
  sys.exit(main())
