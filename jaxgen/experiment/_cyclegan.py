"""The CycleGAN experiment: unpaired translation measured where the answer is known, or the labels are shared.

:func:`train_cyclegan` builds two unpaired domains (``config.data.domain_b``):

* ``"oracle"``: A = one half of the training digits, B = T(the other half),
  T = stroke thickening then intensity inversion
  (``jaxgen.data.oracle_transform``). T is known, so a translation G(a) is
  scored against T(a) (L1), and by a classifier C_B trained on labelled
  T(training digits) against a's label;
* ``"digits"``: A = MNIST resized to ``side``, B = scikit-learn's 8x8 digits
  resized to ``side``: a real domain gap with shared labels (as MNIST <->
  USPS). G(MNIST test) is scored by the digits classifier against the label,
  beside the same classifier on the untranslated images ("source only",
  CyCADA's Table 1);
* ``config.data.folder`` set: the ``trainA/trainB/testA/testB`` layout of
  pytorch-CycleGAN-and-pix2pix, unlabelled: cycle errors and pictures only.

Each of ``config.train.variants`` trains in ``workdir/<variant>`` (a run of
its own, resumable, translated with ``python -m jaxgen.translate``):
``cyclegan`` (GAN + cycle, identity weight ``train.identity``), ``gan_only``
(cycle weight 0: Zhu et al.'s Table 4 ablation, the claim that the cycle loss
is what keeps the translation tied to its input) and ``cycle_only`` (no
adversarial term). It writes ``results.json`` and per run
``translations.png`` (rows: a, G(a), F(G(a)), [T(a)], b, F(b), G(F(b))).
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
from jaxgen.experiment._common import (check_experiment_config, make_optimizer, run_from_config, steady_speed,
                                       to_classifier_input, write_json)
from jaxgen.models import build_models, model_hparams, translate_images
from jaxgen.objectives import TRANSLATION_LOSSES, cyclegan_aux_init, cyclegan_updates

DOMAINS_B = ("oracle", "digits")
# variant: (adversarial weight, cycle weight multiplier)
VARIANTS = {"cyclegan": (1.0, 1.0), "gan_only": (1.0, 0.0), "cycle_only": (0.0, 1.0)}
# CyCADA (Hoffman et al. 2018), Table 1: digit classification accuracy (%) on the target domain.
PUBLISHED_CYCADA = {"MNIST->USPS": {"source only": 82.2, "CyCADA": 95.6, "target supervised": 96.3},
                    "USPS->MNIST": {"source only": 69.6, "CyCADA": 96.5, "target supervised": 99.2}}


def check_cyclegan_config(config, *, dataset_size: int | None = None) -> None:
  """The experiment's config: the shared layout, known variants and domains, a valid model."""
  check_experiment_config(config, dataset_size=dataset_size, known_losses=TRANSLATION_LOSSES,
                          known_datasets=(*data.DATASETS, "folder"))
  if config.data.name == "folder" and not config.data.folder:
    raise ValueError("the folder preset needs --config.data.folder=PATH (a folder with trainA/ and trainB/)")
  variants = names_of(config.train.variants)
  if not variants or any(v not in VARIANTS for v in variants) or len(set(variants)) != len(variants):
    raise ValueError(f"config.train.variants must be distinct names among {', '.join(VARIANTS)}, got {variants}")
  if not config.data.folder and config.data.domain_b not in DOMAINS_B:
    raise ValueError(f"config.data.domain_b must be one of {', '.join(DOMAINS_B)}, got {config.data.domain_b!r}")
  if config.train.pool_size < 0:
    raise ValueError(f"config.train.pool_size must be >= 0 (0: no pool), got {config.train.pool_size}")
  model_hparams(config)


def _run_config(config, variant: str):
  c = copy.deepcopy(config)
  c.unlock()  # the flags' config comes locked
  gan, cycle = VARIANTS[variant]
  c.train.gan_weight = gan
  c.train.cycle_weight = float(config.train.cycle_weight) * cycle
  del c.train.variants
  return c


def _domains(config) -> dict:
  """Train/test images of A and B in [0, 1] at the model's size, labels where known, and the oracle's T(a)."""
  side = int(config.model.image_shape[0])
  d = config.data
  if d.folder:
    pair = data.load_unpaired_folder(d.folder, image_size=side, channels=int(config.model.image_shape[2]))
    return {"a": pair["a"].train, "b": pair["b"].train, "a_test": pair["a"].test, "b_test": pair["b"].test}
  ds = data.load_dataset(d.name, data_dir=d.data_dir)
  train_images = data.resize(ds.train, side) if ds.train.shape[1] != side else ds.train
  test_images = data.resize(ds.test, side) if ds.test.shape[1] != side else ds.test
  num_test = config.eval.num_test or len(test_images)
  out = {"a_test": test_images[:num_test], "a_test_labels": ds.test_labels[:num_test]}
  if d.domain_b == "oracle":
    half_a, half_b = data.split_halves(len(train_images), seed=config.seed)
    out.update(a=train_images[half_a], b=data.oracle_transform(train_images[half_b], d.oracle_amount))
    out["oracle"] = data.oracle_transform(out["a_test"], d.oracle_amount)
    out["b_test"] = out["oracle"]
    # C_B: a classifier of T(digits), trained on every labelled training image through T.
    out["classifier_data"] = data.ImageDataset(
        name=f"{d.name}-oracle{d.oracle_amount:g}-{side}", train=data.oracle_transform(train_images, d.oracle_amount),
        test=out["oracle"], train_labels=ds.train_labels, test_labels=out["a_test_labels"], num_classes=ds.num_classes)
  else:
    digits = data.load_dataset("digits")
    out.update(a=train_images, b=data.digits_to_side(digits.train, side), b_test=data.digits_to_side(digits.test, side))
    out["classifier_data"] = "digits"
  return out


def _train_one(config, workdir, a, b, *, progress):
  t = config.train
  models = build_models(config, nnx.Rngs(config.seed))
  optimizer = make_optimizer(t, train.steps_per_epoch(max(len(a), len(b)), t.batch_size))
  updates = cyclegan_updates(loss=t.loss, cycle_weight=t.cycle_weight, identity=t.identity, gan_weight=t.gan_weight)
  aux = cyclegan_aux_init(t.pool_size, a.shape[1:], b.shape[1:], t.batch_size)
  t0 = time.perf_counter()
  graphdefs, state = run_from_config(
      config, workdir, models=models, optimizers={name: optimizer for name in models}, updates=updates,
      data={"a": 2.0 * a - 1.0, "b": 2.0 * b - 1.0}, num_steps=t.num_steps, batch_shape=(t.batch_size,),
      ema_networks=(), description=os.path.basename(workdir), progress=progress, aux=aux,
  )
  return train.merge_models(graphdefs, state), int(state.step), time.perf_counter() - t0


def train_cyclegan(config, workdir: str, *, progress: bool = True) -> dict:
  """Trains (or resumes) every variant, measures it, writes ``results.json`` (also returned).

  Args:
    config: the experiment's config (``experiments/cyclegan/config.py``).
    workdir: the experiment's folder; variant ``<name>`` lives in ``workdir/<name>``.
    progress: show the progress bars.
  """
  d = _domains(config)
  check_cyclegan_config(config, dataset_size=min(len(d["a"]), len(d["b"])))
  e = config.eval
  classifier = None
  if "classifier_data" in d:
    classifier = metrics.feature_network(d["classifier_data"], cache_dir=e.cache_dir or metrics.DEFAULT_CACHE_DIR,
                                         data_dir=config.data.data_dir, progress=progress,
                                         min_accuracy=e.classifier_min_accuracy)

  def accuracy(images):
    x = to_classifier_input(images, classifier.image_shape)
    return metrics.classifier_accuracy(classifier.log_probs(x), d["a_test_labels"])

  results = {"domains": config.data.folder or f"{config.data.name} <-> {config.data.domain_b}",
             "image_side": int(config.model.image_shape[0]), "num_steps": int(config.train.num_steps),
             "batch_size": int(config.train.batch_size), "identity": float(config.train.identity),
             "device": jax.devices()[0].device_kind, "num_test": int(len(d["a_test"])), "runs": {}}
  if classifier is not None:
    results["classifier"] = {"dataset": classifier.dataset, "test_accuracy": classifier.accuracy}
    results["source_only_accuracy"] = accuracy(d["a_test"])
    if "oracle" in d:
      results["oracle_accuracy"] = accuracy(d["oracle"])
    else:
      results["published_cycada"] = PUBLISHED_CYCADA
  for variant in names_of(config.train.variants):
    c = _run_config(config, variant)
    run_dir = os.path.join(workdir, variant)
    models, step, seconds = _train_one(c, run_dir, d["a"], d["b"], progress=progress)
    t0 = time.perf_counter()
    fake_b = translate_images(models, c, d["a_test"])
    rec_a = translate_images(models, c, fake_b, direction="BtoA")
    fake_a = translate_images(models, c, d["b_test"], direction="BtoA")
    rec_b = translate_images(models, c, fake_a)
    record = {"step": step, "train_seconds_this_invocation": seconds,
              "steps_per_sec": steady_speed(run_dir).get("steps_per_sec"),
              "cycle_l1_a": float(np.mean(np.abs(rec_a - d["a_test"]))),
              "cycle_l1_b": float(np.mean(np.abs(rec_b - d["b_test"])))}
    if classifier is not None:
      record["translated_accuracy"] = accuracy(fake_b)
    if "oracle" in d:
      record["oracle_l1"] = float(np.mean(np.abs(fake_b - d["oracle"])))
    record["eval_seconds"] = time.perf_counter() - t0
    rows = [d["a_test"][:10], fake_b[:10], rec_a[:10]] + ([d["oracle"][:10]] if "oracle" in d else [])
    rows += [d["b_test"][:10], fake_a[:10], rec_b[:10]]
    plot.save_image_grid(os.path.join(run_dir, "translations.png"), np.concatenate(rows), ncol=10,
                         scale=plot.grid_scale(d["a_test"].shape[1:]))
    write_json(os.path.join(run_dir, "eval.json"), record)
    results["runs"][variant] = record
  write_json(os.path.join(workdir, "results.json"), results)
  print(format_results(results))
  return results


def format_results(results: dict) -> str:
  """The variants side by side, with the source-only and oracle references."""
  lines = [f"cyclegan {results['domains']} {results['image_side']}x{results['image_side']} "
           f"({results['num_steps']} steps each, identity {results['identity']:g}):",
           f"{'run':<14}{'class acc':>10}{'L1 to T(a)':>12}{'cycle A':>9}{'cycle B':>9}"]
  def cell(value, width: int, digits: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{digits}f}"

  for name, r in results["runs"].items():
    lines.append(f"{name:<14}{cell(r.get('translated_accuracy'), 10, 3)}{cell(r.get('oracle_l1'), 12, 4)}"
                 f"{r['cycle_l1_a']:>9.4f}{r['cycle_l1_b']:>9.4f}")
  if "source_only_accuracy" in results:
    lines.append(f"{'source only':<14}{results['source_only_accuracy']:>10.3f}")
  if "oracle_accuracy" in results:
    lines.append(f"{'T(a) (oracle)':<14}{results['oracle_accuracy']:>10.3f}{0.0:>12.4f}")
  return "\n".join(lines)
