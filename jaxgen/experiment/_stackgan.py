"""The StackGAN experiment at digit scale: captions from a digit's class, stroke thickness and slant.

Zhang et al. (2017) draw birds from sentences in two stages. Here a caption
names what can be measured on a digit: its class, its thickness tercile
(thin, regular, bold) and its slant tercile (leaning left, upright, leaning
right), both measured as Morpho-MNIST does (``jaxgen.data.measure``; Castro
et al. 2019) on the training images and kept in ``workdir/attributes.npz``;
each image gets one of four phrasings ("a bold seven leaning right"). The
text encoder is a fixed bag of random word vectors (``jaxgen.data.
bag_of_words_embedding``), standing in for StackGAN's pre-trained, frozen
char-CNN-RNN: nothing of it is trained, and every attribute word is kept.

Runs (each resumable):

* ``workdir/stage1``: Stage-I, G(z, c) at half the side, matching-aware D;
* ``workdir/stage1_no_ca``: the same without conditioning augmentation
  (c = mu, no KL): the paper's ablation;
* ``workdir/stage2``: Stage-II at the full side, from the Stage-I image and
  the text, with Stage-I restored from ``workdir/stage1`` and frozen.

Measured on ``eval.num_samples`` random captions (``results.json``): the
evaluation LeNet's label of the image = the digit named (digit accuracy);
the measured thickness and slant bins = the caption's (chance 1/3 each);
LeNet-FID against test images of Stage-II and of Stage-I upsampled to the
full side, on the same captions and z (the paper's claim: Stage-II improves
on Stage-I), beside the floors of real training images at the full side and
at half the side upsampled; within-caption diversity, the mean pairwise LeNet-feature
distance among ``eval.samples_per_caption`` images of one caption, with and
without CA (the paper's claim: CA adds variety), beside that of real images
of the same attribute combination. ``captions.png`` shows captions and what
each run draws for them.
"""

from __future__ import annotations

import copy
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jaxgen import data, metrics, objectives, plot, train
from jaxgen.experiment._common import (batch_shape_of, cached_arrays, check_experiment_config, check_positive_int,
                                      fingerprint, in_batches, make_optimizer, results_header, run_from_config,
                                      steady_speed, to_classifier_input, train_images_of, write_json)
from jaxgen.models import build_models, stackgan

RUNS = ("stage1", "stage1_no_ca", "stage2")
# Side at which the attributes are measured: Morpho-MNIST's, for every image (real or generated, any size).
MEASURE_SHAPE = (28, 28, 1)
BINS = 3  # terciles of thickness and of slant, as the captions' words


def check_stackgan_config(config, *, dataset_size: int | None = None) -> None:
  """Checks the experiment's config: the shared layout, the model, both stages' lengths and the evaluation."""
  check_experiment_config(config, dataset_size=dataset_size)
  hp = stackgan.hparams_from_config(config)
  if hp.stage != 1 or not hp.conditioning_augmentation:
    raise ValueError("config.model.stage must be 1 and config.model.conditioning_augmentation true: the experiment "
                     "trains Stage-I, its ablation without CA and Stage-II itself")
  if not config.train.kl_weight >= 0:
    raise ValueError(f"config.train.kl_weight must be >= 0, got {config.train.kl_weight!r}")
  check_positive_int("config.stage2.num_steps", config.stage2.num_steps)
  check_positive_int("config.stage2.df_dim", config.stage2.df_dim)
  e = config.eval
  for name in ("num_samples", "num_captions", "samples_per_caption", "figure_captions", "figure_samples"):
    check_positive_int(f"config.eval.{name}", e[name])
  if e.samples_per_caption < 2:
    raise ValueError(f"config.eval.samples_per_caption must be at least 2 (pairwise distances), got "
                     f"{e.samples_per_caption}")
  if e.num_samples < 2:
    raise ValueError(f"config.eval.num_samples must be at least 2 (FID), got {e.num_samples}")


def _run_config(config, name: str):
  """The config a run saves: the stackgan family at its stage and CA setting, the stage's length."""
  c = copy.deepcopy(config)
  c.unlock()
  c.model.stage = 2 if name == "stage2" else 1
  c.model.conditioning_augmentation = name != "stage1_no_ca"
  if name == "stage2":
    # Each stage has its own settings, as the reference's per-stage config files (cfg/*_s1.yml, *_s2.yml).
    c.train.num_steps = config.stage2.num_steps
    c.model.df_dim = config.stage2.df_dim
  del c.stage2
  return c


def _attribute_view(images: np.ndarray) -> np.ndarray:
  """Images of any side as the attributes are measured: cropped back from padding or resized to 28x28."""
  return to_classifier_input(images, MEASURE_SHAPE)


def _attributes(images: np.ndarray, path: str, progress: bool) -> dict[str, np.ndarray]:
  """Thickness and slant of the training images, measured once and kept in ``path``."""
  def compute():
    m = data.measure(_attribute_view(images), progress=progress)
    return {"thickness": m.thickness, "slant": m.slant}
  return cached_arrays(path, fingerprint(images), compute)


def _caption_table(hp) -> np.ndarray:
  """(10 * 9, phrasings, E): the embedding of every phrasing of every (digit, thickness, slant) combination."""
  texts = [data.caption(k // 9, (k // 3) % 3, k % 3, t) for k in range(90) for t in range(len(data.TEMPLATES))]
  return stackgan.embed_captions(texts, hp).reshape(90, len(data.TEMPLATES), -1)


def _generate(models, hp, phi: np.ndarray, key, *, final: bool = True) -> np.ndarray:
  """Images in [0, 1] for embeddings ``phi``, 500 at a time (batch i: ``fold_in(key, i)``)."""
  out = in_batches(lambda part, i: stackgan.generate_jit(models, hp, jnp.asarray(part), jax.random.fold_in(key, i),
                                                         final=final), phi)
  return np.clip((out + 1.0) / 2.0, 0.0, 1.0)


def _train_run(config, name, workdir, stream, table, grid_phi, progress, stage1=None):
  """Trains (or resumes) one run; returns its networks, the step reached and the seconds it took."""
  c = _run_config(config, name)
  hp = stackgan.hparams_from_config(c)
  t = c.train
  models = build_models(c, nnx.Rngs(c.seed))
  if stage1 is not None:
    nnx.update(models["stage1"], nnx.state(stage1))
  grid_key = jax.random.key(1234)
  grids = train.sample_grid_hook(
      os.path.join(workdir, "samples"), train.split_models(models)[0],
      lambda m: (stackgan.generate_jit(m, hp, grid_phi, grid_key) + 1.0) / 2.0, every_steps=t.sample_every,
      num_steps=t.num_steps, ncol=9)
  optimizer = make_optimizer(t, steps_per_epoch=1)
  updates = objectives.stackgan_updates(stage=hp.stage, latent_dim=hp.latent_dim, caption_table=table,
                                        kl_weight=float(t.kl_weight), augment=hp.conditioning_augmentation)
  t0 = time.perf_counter()
  graphdefs, state = run_from_config(
      c, workdir, models=models, optimizers={"generator": optimizer, "discriminator": optimizer}, updates=updates,
      data={"x": stream}, num_steps=t.num_steps, batch_shape=batch_shape_of(t, t.batch_size), ema_networks=(),
      hooks=[grids], description=name, progress=progress)
  return train.merge_models(graphdefs, state), int(state.step), time.perf_counter() - t0


def _measure(images, digits, t_bins, s_bins, classifier, edges) -> dict:
  """Digit, thickness and slant accuracy of images drawn for captions naming (digits, t_bins, s_bins)."""
  log_probs = classifier.log_probs(to_classifier_input(images, classifier.image_shape))
  m = data.measure(_attribute_view(images))
  # An image without ink measures NaN: it matches no bin.
  t_out = np.where(np.isfinite(m.thickness), data.bin_of(np.nan_to_num(m.thickness), edges["thickness"]), -1)
  s_out = np.where(np.isfinite(m.slant), data.bin_of(np.nan_to_num(m.slant), edges["slant"]), -1)
  digit_ok, t_ok, s_ok = np.argmax(log_probs, axis=1) == digits, t_out == t_bins, s_out == s_bins
  return {"digit_accuracy": float(digit_ok.mean()), "thickness_accuracy": float(t_ok.mean()),
          "slant_accuracy": float(s_ok.mean()), "all_three_accuracy": float((digit_ok & t_ok & s_ok).mean())}


def _diversity(images, groups, classifier) -> float:
  """Mean over groups of the mean pairwise LeNet-feature distance within a group."""
  features = classifier.features(to_classifier_input(images, classifier.image_shape))
  return float(np.nanmean(metrics.intra_class_diversity(features, groups)))


def train_stackgan(config, workdir: str, *, progress: bool = True) -> dict:
  """Trains (or resumes) Stage-I, Stage-I without CA and Stage-II, measures them, writes ``results.json``.

  Args:
    config: the experiment's config (``experiments/stackgan/config.py``).
    workdir: the experiment's folder (``stage1/``, ``stage1_no_ca/``, ``stage2/``, ``attributes.npz``,
      ``captions.png``, ``results.json``).
    progress: show the progress bars.
  """
  ds = data.load_dataset(config.data.name, data_dir=config.data.data_dir)
  if not ds.has_labels:
    raise ValueError(f"dataset {config.data.name} has no labels: a caption names the digit's class")
  if ds.num_classes != 10:
    raise ValueError(f"dataset {config.data.name} has {ds.num_classes} classes: the captions name the ten digits")
  x = train_images_of(config, ds)
  check_stackgan_config(config, dataset_size=x.shape[0])
  hp = stackgan.hparams_from_config(config)
  side = hp.image_shape[0]
  os.makedirs(workdir, exist_ok=True)

  attributes = _attributes(x, os.path.join(workdir, "attributes.npz"), progress)
  t_bins, t_edges = data.attribute_bins(attributes["thickness"], BINS)
  s_bins, s_edges = data.attribute_bins(attributes["slant"], BINS)
  edges = {"thickness": t_edges, "slant": s_edges}
  labels = ds.train_labels.astype(np.int32)
  combination = (labels * 9 + t_bins * 3 + s_bins).astype(np.int32)
  captions = data.caption_digits(labels, t_bins, s_bins, seed=config.seed)
  phi = stackgan.embed_captions(captions, hp)
  table = _caption_table(hp)
  # Training grids: row d shows "a <thickness> <d> <slant>" for the nine attribute pairs.
  grid_phi = jnp.asarray(table[:, 0])
  streams = {
      1: {"x": (2.0 * data.resize(x, side // 2) - 1.0).astype(np.float32), "phi": phi, "combination": combination},
      2: {"x": (2.0 * x - 1.0).astype(np.float32), "phi": phi, "combination": combination},
  }

  runs, trained = {}, {}
  for name in RUNS:
    run_dir = os.path.join(workdir, name)
    stage1 = None
    if name == "stage2":
      # Stage-I as its run saved it, frozen (no optimizer) under Stage-II.
      stage1 = train.restore_models(os.path.join(workdir, "stage1"))[0]["generator"]
    trained[name], step, seconds = _train_run(config, name, run_dir, streams[2 if name == "stage2" else 1], table,
                                              grid_phi, progress, stage1)
    runs[name] = {"step": step, "train_seconds_this_invocation": seconds,
                  "steps_per_sec": steady_speed(run_dir).get("steps_per_sec")}

  e = config.eval
  t0 = time.perf_counter()
  classifier = metrics.feature_network(config.data.name, cache_dir=e.cache_dir or metrics.DEFAULT_CACHE_DIR,
                                       data_dir=config.data.data_dir, progress=progress)
  rng = np.random.default_rng(e.seed)
  n = int(e.num_samples)
  digits, tb, sb = rng.integers(0, 10, n), rng.integers(0, 3, n), rng.integers(0, 3, n)
  texts = [data.caption(d, t, s, p) for d, t, s, p in zip(digits, tb, sb, rng.integers(0, len(data.TEMPLATES), n))]
  eval_phi = stackgan.embed_captions(texts, hp)
  key = jax.random.key(e.seed)
  real_features = classifier.features(ds.test[:max(n, 2)])
  hps = {name: stackgan.hparams_from_config(_run_config(config, name)) for name in RUNS}

  def fid(images):
    return metrics.frechet_distance(classifier.features(to_classifier_input(images, classifier.image_shape)),
                                    real_features)

  measured = {}
  for name in RUNS:
    out = _generate(trained[name], hps[name], eval_phi, key)
    if name == "stage2":
      # The same captions and z through the frozen Stage-I alone, upsampled to the full side.
      stage1_up = data.resize(_generate(trained[name], hps[name], eval_phi, key, final=False), side)
      measured["stage1_upsampled"] = {**_measure(stage1_up, digits, tb, sb, classifier, edges), "fid": fid(stage1_up)}
    measured[name] = {**_measure(out, digits, tb, sb, classifier, edges), "fid": fid(out)}

  # Floors: real training images at the full side, and at half the side upsampled back (Stage-I's resolution),
  # measured against their own captions' bins as the generated ones are.
  real, half = x[:n], data.resize(data.resize(x[:n], side // 2), side)
  for name, images in (("real", real), ("real_half_upsampled", half)):
    measured[name] = {**_measure(images, labels[:n], t_bins[:n], s_bins[:n], classifier, edges), "fid": fid(images)}

  # Within-caption diversity: num_captions captions, samples_per_caption draws of (z, CA's noise) each.
  k, m = int(e.num_captions), int(e.samples_per_caption)
  combos = rng.choice(90, size=k, replace=False)
  div_texts = [data.caption(c // 9, (c // 3) % 3, c % 3, 0) for c in combos]
  div_phi = np.repeat(stackgan.embed_captions(div_texts, hp), m, axis=0)
  groups = np.repeat(np.arange(k), m)
  diversity = {name: _diversity(_generate(trained[name], hps[name], div_phi, jax.random.key(config.seed + 3)),
                                groups, classifier) for name in RUNS}
  # Real images of the same combinations (up to samples_per_caption each), the scale of the figures.
  real_idx = np.concatenate([np.flatnonzero(combination == c)[:m] for c in combos])
  diversity["real"] = _diversity(x[real_idx], np.searchsorted(np.sort(combos), combination[real_idx]), classifier)

  _captions_figure(os.path.join(workdir, "captions.png"), trained, hps, e, e.seed)
  results = {
      **results_header(config, classifier),
      "captions": {"num_combinations": 90, "phrasings": len(data.TEMPLATES), "example": captions[0],
                   "thickness_edges": [float(v) for v in t_edges], "slant_edges": [float(v) for v in s_edges]},
      "runs": runs,
      "num_samples": n,
      "measures": measured,
      "within_caption_diversity": {**diversity, "num_captions": k, "samples_per_caption": m},
      "kl_weight": {"paper_convention_per_example_sum": float(config.train.kl_weight),
                    "reference_code_convention_coordinate_mean": float(config.train.kl_weight) * hp.condition_dim},
      "eval_seconds": time.perf_counter() - t0,
  }
  write_json(os.path.join(workdir, "results.json"), results)
  print(format_results(results))
  return results


def _captions_figure(path, trained, hps, e, seed) -> None:
  """Rows: captions; columns: Stage-I, Stage-I without CA, then Stage-II, ``figure_samples`` draws each."""
  rng = np.random.default_rng(seed + 4)
  k, m = int(e.figure_captions), int(e.figure_samples)
  texts = [data.caption(int(d), int(t), int(s), int(p)) for d, t, s, p in
           zip(rng.permutation(10)[:k] if k <= 10 else rng.integers(0, 10, k), rng.integers(0, 3, k),
               rng.integers(0, 3, k), rng.integers(0, len(data.TEMPLATES), k))]
  phi = np.repeat(stackgan.embed_captions(texts, hps["stage2"]), m, axis=0)
  side = hps["stage2"].image_shape[0]
  draws = []
  for name in RUNS:
    out = _generate(trained[name], hps[name], phi, jax.random.key(seed + 5))
    draws.append((data.resize(out, side) if out.shape[1] != side else out).reshape(k, m, side, side, -1))
  rows = [np.concatenate([d[i] for d in draws]) for i in range(k)]
  plot.save_captioned_rows(path, rows, texts, title=f"{m} draws each: Stage-I | Stage-I without CA | Stage-II")


def format_results(results: dict) -> str:
  """One row per run: digit, thickness, slant accuracy, FID; then the within-caption diversity."""
  lines = [f"stackgan on {results['dataset']}: {results['num_samples']} random captions "
           f"(chance: digit 0.10, thickness 0.33, slant 0.33)",
           f"  {'run':<21}{'digit':>7}{'thick':>7}{'slant':>7}{'all 3':>7}{'LeNet-FID':>11}"]
  for name, r in results["measures"].items():
    lines.append(f"  {name:<21}{r['digit_accuracy']:>7.3f}{r['thickness_accuracy']:>7.3f}{r['slant_accuracy']:>7.3f}"
                 f"{r['all_three_accuracy']:>7.3f}{r['fid']:>11.2f}")
  d = results["within_caption_diversity"]
  lines.append(f"  within-caption diversity ({d['num_captions']} captions x {d['samples_per_caption']}): "
               + ", ".join(f"{name} {d[name]:.3f}" for name in (*RUNS, "real")))
  return "\n".join(lines)
