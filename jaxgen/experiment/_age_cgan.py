"""The Age-cGAN experiment at digit scale: "age" is the stroke thickness, identity is everything else.

Antipov et al. (2017) age faces in three steps, each run here on digits
whose age group is the quintile of their Morpho-MNIST stroke thickness
(``jaxgen.data.measure``; Castro et al. 2019), measured on the training
images (``workdir/thickness.npz``):

1. a conditional GAN G(z, y) on the images labelled with their group
   (``workdir/cgan``, the cgan family: y appended to z, as the paper injects
   it at G's input);
2. an encoder E trained on a fixed set of synthetic pairs (G(z, y), z) to
   give z0 = E(x) (``workdir/encoder``, the age_cgan family, G frozen);
3. per test image x of group y0, latent optimisation from z0 with G frozen
   (``jaxgen.inversion``): pixel-wise, min ||x - G(z, y0)||^2, or
   identity-preserving, min ||FR(x) - FR(G(z, y0))||^2, where FR is the
   feature layer of a second LeNet trained on thickened, thinned and
   original digits, so that it tells digits apart whatever their thickness
   (the paper's face-recognition network; never the evaluation classifier,
   or the measure would be circular). Re-ageing is G(z*, y_target).

Measured on test images, for E alone, pixel-wise and identity-preserving,
at the original group (reconstruction) and at every target group: identity
kept (the evaluation LeNet's label of the output equals the input's; and
top-1 retrieval of the input among ``eval.num_references`` test images by
the nearest LeNet feature vector), age accuracy (the measured thickness
group of the output equals the target; chance 1 / groups) and pixel error.
The paper's claim under test: identity-preserving keeps identity better
than pixel-wise, which beats E alone.
"""

from __future__ import annotations

import copy
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jaxgen import data, inversion, metrics, plot, train
from jaxgen.experiment._cgan import train_conditional
from jaxgen.experiment._common import (cached_arrays, check_positive_int, fingerprint, in_batches, make_optimizer,
                                      run_from_config, steady_speed, train_images_of, write_json)
from jaxgen.experiment._gan import check_gan_config
from jaxgen.models import age_cgan, build_models
from jaxgen.objectives import Update, latent_regression_objective

METHODS = ("encoder", "pixelwise", "identity")
GROUPS_FILE = "age_groups.json"
# Antipov et al. 2017, their face-reconstruction table: the share of reconstructions that the OpenFace
# verifier accepts as the input's person, with the initial z0 = E(x), pixel-wise and identity-preserving
# optimisation. Copied from ../shared/ZOO.md, where it is marked as not yet checked against the paper.
PUBLISHED_VERIFICATION = {"encoder": 53.2, "pixelwise": 59.8, "identity": 82.9}


def check_age_cgan_config(config, *, dataset_size: int | None = None) -> None:
  """Checks the experiment's config: a GAN config, its groups, the encoder's run and the inversion."""
  check_gan_config(config, dataset_size=dataset_size)
  groups = config.data.num_groups
  check_positive_int("config.data.num_groups", groups)
  if groups < 2:
    raise ValueError(f"config.data.num_groups must be at least 2 (thickness quantile groups), got {groups}")
  if config.model.num_classes != groups:
    raise ValueError(f"config.model.num_classes={config.model.num_classes} must equal config.data.num_groups={groups}: "
                     "G is conditioned on the age group")
  # The sizes and rates the shared validator knows by name (batch_size, num_steps, learning_rate, ...) are checked.
  e, inv, ev = config.encoder, config.inversion, config.eval
  check_positive_int("config.encoder.num_pairs", e.num_pairs)
  if e.batch_size > e.num_pairs:
    raise ValueError(f"config.encoder.batch_size={e.batch_size} exceeds config.encoder.num_pairs={e.num_pairs}")
  check_positive_int("config.inversion.steps", inv.steps)
  if not inv.prior_weight >= 0:
    raise ValueError(f"config.inversion.prior_weight must be >= 0, got {inv.prior_weight!r}")
  check_positive_int("config.eval.num_references", ev.num_references)
  if ev.num_references < inv.num_images:
    raise ValueError(f"config.eval.num_references={ev.num_references} must be at least config.inversion.num_images="
                     f"{inv.num_images}: the inputs are retrieved among the references")


def _thickness(ds, path: str, key: str, progress: bool) -> tuple[np.ndarray, np.ndarray]:
  """Stroke thickness of the train and test images, measured once and kept in ``path``."""
  t = cached_arrays(path, key, lambda: {name: data.stroke_thickness(images, progress=progress)
                                  for name, images in (("train", ds.train), ("test", ds.test))})
  return t["train"], t["test"]


def _cgan_config(config):
  """The config of the cGAN run: the cgan family's model section, the experiment's training."""
  c = copy.deepcopy(config)
  c.unlock()
  c.model.name = "cgan"
  del c.model.encoder_features, c.encoder, c.inversion, c.data.num_groups
  return c


def _encoder_config(config):
  """The config of the encoder's run: the age_cgan family, trained with ``config.encoder``'s settings."""
  c = copy.deepcopy(config)
  c.unlock()
  e = c.encoder
  for name in ("batch_size", "num_steps", "steps_per_call"):
    c.train[name] = e[name]
  c.train.learning_rate, c.train.b1, c.train.b2 = e.learning_rate, 0.9, 0.999
  c.train.ema_decay = None
  del c.inversion
  return c


def _train_encoder(config, workdir, generator, progress):
  """Trains E on ``encoder.num_pairs`` fixed pairs (G(z, y), z) with G frozen; returns the networks and timings."""
  e = config.encoder
  models = build_models(config, nnx.Rngs(config.seed + 1))
  nnx.update(models["generator"], nnx.state(generator))
  key_z, key_y = jax.random.split(jax.random.key(config.seed + 2))
  pairs = {"z": np.asarray(jax.random.normal(key_z, (e.num_pairs, config.model.latent_dim))),
           "y": np.asarray(jax.random.randint(key_y, (e.num_pairs,), 0, config.model.num_classes), np.int32)}
  t0 = time.perf_counter()
  graphdefs, state = run_from_config(
      config, workdir, models=models, optimizers={"encoder": make_optimizer(config.train, steps_per_epoch=1)},
      updates=[Update("encoder", latent_regression_objective())], data={"pairs": pairs}, num_steps=e.num_steps,
      batch_shape=(e.batch_size,), ema_networks=(), description=os.path.basename(workdir), progress=progress,
  )
  return train.merge_models(graphdefs, state), int(state.step), time.perf_counter() - t0


def _fr_network(config, ds, path: str, key: str, progress):
  """The identity network, a LeNet trained on every image thickened, thinned or as it is (one of the three
  each, kept in ``path``), and its mixed-thickness test images."""

  def mixed():
    rng = np.random.default_rng(config.seed)
    split = {}
    for name, images in (("train", ds.train), ("test", ds.test)):
      version = rng.integers(0, 3, len(images))  # 0 as it is, 1 thickened, 2 thinned
      out = images.copy()
      out[version == 1] = data.thickening(images[version == 1], progress=progress)
      out[version == 2] = data.thinning(images[version == 2], progress=progress)
      split[name] = np.clip(out, 0.0, 1.0).astype(np.float32)
    return split

  split = cached_arrays(path, key, mixed)
  fr_ds = data.ImageDataset(name=f"{ds.name}-thickness-invariant", train=split["train"], test=split["test"],
                            train_labels=ds.train_labels, test_labels=ds.test_labels, num_classes=ds.num_classes)
  e = config.eval
  fr = metrics.feature_network(fr_ds, cache_dir=e.cache_dir or metrics.DEFAULT_CACHE_DIR, progress=progress)
  return fr, split["test"]


def encode(encoder, x: np.ndarray) -> np.ndarray:
  """z0 = E(x) of images (N, H, W, C) in [0, 1], inference mode, 500 at a time."""
  fn = nnx.jit(lambda e, x: e(age_cgan.to_model_range(x), train=False))
  return in_batches(lambda xb, _: fn(encoder, xb), x)


def invert(method: str, generator, x: np.ndarray, y0: np.ndarray, z0: np.ndarray, *, steps: int,
           learning_rate: float, prior_weight: float = 0.0, steps_per_call: int = 10, identity_network=None,
           progress: bool = False) -> tuple[np.ndarray, dict]:
  """Age-cGAN's latent optimisation from ``z0`` with G frozen: z* and the objective's history.

  ``method``: "pixelwise", min_z ||x - G(z, y0)||^2 over the pixels, or
  "identity", min_z ||FR(x) - FR(G(z, y0))||^2 with FR the features of
  ``identity_network`` (a ``jaxgen.metrics.FeatureNetwork``).
  """
  if method not in METHODS[1:]:
    raise ValueError(f"unknown inversion method {method!r}: choose pixelwise or identity")
  if method == "identity" and identity_network is None:
    raise ValueError("the identity-preserving inversion needs an identity network (FR)")
  g_def, g_state = nnx.split(generator)

  def images(d, z):
    return age_cgan.to_unit_range(nnx.merge(g_def, d["g"])(z, d["y"], train=False))

  d = {"g": g_state, "y": jnp.asarray(y0, jnp.int32), "x": jnp.asarray(x)}
  if method == "pixelwise":
    def loss_fn(z, d):
      return jnp.sum(jnp.square(images(d, z) - d["x"]), axis=(1, 2, 3))
  else:
    fr_fn, d["fr"] = identity_network.features_fn()
    d["target"] = jnp.asarray(identity_network.features(x))

    def loss_fn(z, d):
      return jnp.sum(jnp.square(fr_fn(d["fr"], images(d, z)) - d["target"]), axis=-1)

  return inversion.optimize_latents(loss_fn, z0, d, steps=steps, learning_rate=learning_rate,
                                    prior_weight=prior_weight, steps_per_call=steps_per_call, progress=progress,
                                    description=method)


def _invert(config, generator, encoder, fr, x, y0, progress) -> tuple[dict, dict]:
  """z of every method: E(x), then pixel-wise and identity-preserving optimisation from it."""
  inv = config.inversion
  z0 = encode(encoder, x)
  zs, histories = {"encoder": z0}, {}
  for name in METHODS[1:]:
    zs[name], histories[name] = invert(
        name, generator, x, y0, z0, steps=inv.steps, learning_rate=inv.learning_rate, prior_weight=inv.prior_weight,
        steps_per_call=inv.steps_per_call, identity_network=fr, progress=progress)
  return zs, histories


def _measure_outputs(outputs, labels, refs, ref_index, classifier, edges, target) -> dict:
  """Identity (label kept, retrieval top-1) and age (measured group = target) of generated images."""
  features, log_probs = classifier.features_and_log_probs(outputs)
  # Squared distances to every reference, |f|^2 - 2 f.r + |r|^2 (no (N, R, D) array).
  d2 = (features**2).sum(-1)[:, None] - 2.0 * features @ refs.T + (refs**2).sum(-1)[None, :]
  thickness = data.stroke_thickness(outputs)
  measured = np.isfinite(thickness)
  groups = np.full(len(outputs), -1)
  groups[measured] = data.bin_of(thickness[measured], edges)
  return {
      "label_kept": float(np.mean(np.argmax(log_probs, axis=1) == labels)),
      "retrieval_top1": float(np.mean(np.argmin(d2, axis=1) == ref_index)),
      "age_accuracy": float(np.mean(groups == target)),
      "mean_thickness": float(np.nanmean(thickness)),
  }


def train_age_cgan(config, workdir: str, *, progress: bool = True) -> dict:
  """Trains (or resumes) the cGAN and the encoder, inverts and re-ages test images, writes ``results.json``.

  Args:
    config: the experiment's config (``experiments/age_cgan/config.py``).
    workdir: the experiment's folder (``cgan/``, ``encoder/``, ``thickness.npz``, ``fr_data.npz``,
      ``age_groups.json`` for ``python -m jaxgen.reage``, ``reageing.png``, ``results.json``).
    progress: show the progress bars.
  """
  ds = data.load_dataset(config.data.name, data_dir=config.data.data_dir)
  if not ds.has_labels:
    raise ValueError(f"dataset {config.data.name} has no labels: identity is measured by the digit's class")
  x = train_images_of(config, ds)
  check_age_cgan_config(config, dataset_size=x.shape[0])
  os.makedirs(workdir, exist_ok=True)
  groups = int(config.data.num_groups)
  key = fingerprint(ds.train, ds.test)  # of the data the cached measures and images were made from
  t_train, t_test = _thickness(ds, os.path.join(workdir, "thickness.npz"), key, progress)
  y_train, edges = data.attribute_bins(t_train, groups)
  # What python -m jaxgen.reage needs to place new images in the groups.
  write_json(os.path.join(workdir, GROUPS_FILE), {"num_groups": groups, "thickness_edges": [float(v) for v in edges],
                                                  "dataset": config.data.name})
  class_probs = np.bincount(y_train, minlength=groups) / y_train.size

  cgan_dir, encoder_dir = os.path.join(workdir, "cgan"), os.path.join(workdir, "encoder")
  cgan, cgan_step, cgan_seconds = train_conditional(_cgan_config(config), cgan_dir, age_cgan.to_model_range(x),
                                                    y_train, class_probs, progress=progress)
  trained, encoder_step, encoder_seconds = _train_encoder(_encoder_config(config), encoder_dir, cgan["generator"],
                                                          progress)
  generator, encoder = cgan["generator"], trained["encoder"]

  e, inv = config.eval, config.inversion
  cache_dir = e.cache_dir or metrics.DEFAULT_CACHE_DIR
  classifier = metrics.feature_network(config.data.name, cache_dir=cache_dir, data_dir=config.data.data_dir,
                                       progress=progress)
  fr, fr_test = _fr_network(config, ds, os.path.join(workdir, "fr_data.npz"), key, progress)
  t0 = time.perf_counter()
  n = int(inv.num_images)
  x_test, labels = ds.test[:n], ds.test_labels[:n]
  y0 = data.bin_of(t_test[:n], edges)
  zs, histories = _invert(config, generator, encoder, fr, x_test, y0, progress)
  refs = classifier.features(ds.test[:e.num_references])
  ref_index = np.arange(n)
  images = nnx.jit(lambda g, z, y: age_cgan.to_unit_range(g(z, y, train=False)))
  methods, outputs = {}, {}
  for name in METHODS:
    z = jnp.asarray(zs[name])
    recon = np.clip(np.asarray(images(generator, z, jnp.asarray(y0))), 0.0, 1.0)
    record = {"reconstruction": {**_measure_outputs(recon, labels, refs, ref_index, classifier, edges, y0),
                                 "pixel_mse": float(np.mean((recon - x_test) ** 2))}}
    aged = []
    for target in range(groups):
      out = np.clip(np.asarray(images(generator, z, jnp.full(n, target, jnp.int32))), 0.0, 1.0)
      aged.append(out)
      record[f"group_{target}"] = _measure_outputs(out, labels, refs, ref_index, classifier, edges, target)
    record["aged"] = {k: float(np.mean([record[f"group_{t}"][k] for t in range(groups)]))
                      for k in ("label_kept", "retrieval_top1", "age_accuracy")}
    if name in histories:
      record["objective_start_end"] = [float(histories[name]["loss"][0].mean()), float(histories[name]["loss"][-1].mean())]
    methods[name], outputs[name] = record, (recon, aged)
  _reageing_figure(os.path.join(workdir, "reageing.png"), x_test, outputs, e.figure_images)
  fr_reference = {"test_accuracy_on_mixed_thickness": fr.accuracy,
                  "evaluation_classifier_accuracy_on_them": float(np.mean(
                      np.argmax(classifier.log_probs(fr_test), axis=1) == ds.test_labels))}
  results = {
      "dataset": config.data.name,
      "num_groups": groups,
      "thickness_edges": [float(v) for v in edges],
      "thickness_train_mean_std": [float(np.mean(t_train)), float(np.std(t_train))],
      "num_images": n,
      "num_references": int(e.num_references),
      "seed": int(config.seed),
      "device": jax.devices()[0].device_kind,
      "runs": {
          "cgan": {"step": cgan_step, "train_seconds_this_invocation": cgan_seconds,
                   "steps_per_sec": steady_speed(cgan_dir).get("steps_per_sec")},
          "encoder": {"step": encoder_step, "train_seconds_this_invocation": encoder_seconds,
                      "steps_per_sec": steady_speed(encoder_dir).get("steps_per_sec"),
                      "num_pairs": int(config.encoder.num_pairs)},
      },
      "inversion": {"steps": int(inv.steps), "learning_rate": float(inv.learning_rate),
                    "prior_weight": float(inv.prior_weight)},
      "evaluation_classifier": {"dataset": classifier.dataset, "test_accuracy": classifier.accuracy},
      "identity_network": fr_reference,
      "methods": methods,
      "eval_seconds": time.perf_counter() - t0,
      "published_verification_percent": PUBLISHED_VERIFICATION,
  }
  write_json(os.path.join(workdir, "results.json"), results)
  print(format_results(results))
  return results


def _reageing_figure(path, x, outputs, num) -> None:
  """Rows: test images; columns: the input, its three reconstructions, then identity-preserving at every group."""
  num = min(num, len(x))
  columns = [x[:num]] + [outputs[m][0][:num] for m in METHODS] + [a[:num] for a in outputs["identity"][1]]
  grid = np.stack(columns, axis=1).reshape(-1, *x.shape[1:])
  plot.save_image_grid(path, grid, ncol=len(columns), scale=plot.grid_scale(x.shape[1:]))


def format_results(results: dict) -> str:
  """One row per method: reconstruction and re-ageing figures, the published verification rates beside."""
  lines = [f"age_cgan on {results['dataset']}: {results['num_images']} test images, {results['num_groups']} "
           f"thickness groups, retrieval among {results['num_references']}:",
           f"  {'method':<11}{'recon label':>12}{'recon top1':>11}{'recon age':>10}{'aged label':>11}"
           f"{'aged top1':>10}{'aged age':>9}{'published':>10}"]
  for name, m in results["methods"].items():
    r, a = m["reconstruction"], m["aged"]
    lines.append(f"  {name:<11}{r['label_kept']:>12.3f}{r['retrieval_top1']:>11.3f}{r['age_accuracy']:>10.3f}"
                 f"{a['label_kept']:>11.3f}{a['retrieval_top1']:>10.3f}{a['age_accuracy']:>9.3f}"
                 f"{results['published_verification_percent'][name]:>9.1f}%")
  return "\n".join(lines)
