"""The StyleGAN2 experiment: against DCGAN at equal steps, style mixing, path length in W and Z, the psi sweep.

:func:`train_stylegan` trains, each in its own sub-folder of ``workdir`` (a
run of its own: resumable, sampled by ``python -m jaxgen.sample --workdir
workdir/stylegan2 --psi 0.7``), an unconditional StyleGAN2
(``jaxgen.models.stylegan2``, the phases of ``jaxgen.objectives.stylegan2_updates``:
logistic loss, lazy R1 and path-length regularisation, style mixing, Adam
adjusted for the lazy steps, an EMA of G with StyleGAN2's ramped half-life)
and the DCGAN of ``config.baseline`` for the same steps at the same batch.
Then, on the dataset's LeNet (``jaxgen.metrics.feature_network``):

* LeNet-FID, precision, recall and classifier score of DCGAN's G and of
  StyleGAN2's raw and EMA G;
* the psi sweep (truncation toward w_avg, Karras et al. 2019, Appendix B) of
  the EMA G: FID, precision, recall, diversity (mean pairwise feature
  distance, generated / real);
* style mixing (2019, Section 3.1): images of A, of B, and of A's coarse ws
  (4x4 and 8x8 blocks) with B's fine ones; over the pairs the classifier
  labels differently, how often the mix takes A's label and how often B's.
  The paper's claim: coarse styles carry pose and identity (here: the digit);
* perceptual path length (2019, Section 4.2) in Z (slerp) and in W (lerp),
  full paths, eps ``config.eval.ppl_epsilon``, squared LeNet-feature
  distances. The paper's claim: W is smoother (shorter paths).

It writes ``results.json`` and, in the StyleGAN2 run's folder,
``truncation.png`` (a row per psi), ``style_mixing.png`` (row 0: B; column
0: A; cells: A's coarse styles with B's fine ones).
"""

from __future__ import annotations

import copy
import functools
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from jaxgen import data, metrics, objectives, plot, train
from jaxgen.experiment._common import (check_experiment_config, results_header, run_from_config, steady_speed,
                                       to_classifier_input, train_images_of, write_json)
from jaxgen.experiment._gan import _generator_images, _train, dcgan_config, generate
from jaxgen.models import build_models, dcgan, stylegan2

# Karras et al. 2020 (stylegan2-ada-pytorch README, CIFAR-10 with ADA, unconditional): for the cifar10 preset.
PUBLISHED_CIFAR10 = {"fid": 2.42, "source": "Karras et al. 2020 (ADA), CIFAR-10, unconditional"}
RUNS = ("stylegan2", "dcgan")


def _psis(config) -> list[float]:
  return [float(p) for p in config.eval.psis]


def check_stylegan_config(config, *, dataset_size: int | None = None) -> None:
  """Checks the experiment's config: StyleGAN2's training knobs, the evaluation, the DCGAN baseline."""
  check_experiment_config(config, dataset_size=dataset_size)
  t, e = config.train, config.eval
  stylegan2.hparams_from_config(config)  # its one-line errors for the networks
  group = config.model.get("mbstd_group_size")
  if group is not None and t.batch_size % min(group, t.batch_size):
    raise ValueError(f"config.model.mbstd_group_size {group} must divide config.train.batch_size {t.batch_size}")
  if t.batch_size // t.pl_batch_shrink < 2 and t.pl_weight > 0:
    raise ValueError(f"the path-length batch, batch_size // pl_batch_shrink = {t.batch_size // t.pl_batch_shrink}, "
                     "needs 2 images or more: raise train.batch_size or lower train.pl_batch_shrink")
  objectives.stylegan2_updates(latent_dim=config.model.latent_dim, r1_gamma=t.r1_gamma, r1_interval=t.r1_interval,
                               pl_weight=t.pl_weight, pl_interval=t.pl_interval, pl_batch_shrink=t.pl_batch_shrink,
                               pl_decay=t.pl_decay, mixing_prob=t.mixing_prob)
  objectives.lazy_adam_hyperparameters(t.learning_rate, (t.b1, t.b2), t.r1_interval)
  if not t.ema_half_life_examples > 0:
    raise ValueError(f"config.train.ema_half_life_examples must be > 0, got {t.ema_half_life_examples}")
  try:
    psis = _psis(config)
  except (TypeError, ValueError):
    raise ValueError(f"config.eval.psis must be numbers, got {tuple(e.psis)}") from None
  if not psis or 1.0 not in psis:
    raise ValueError(f"config.eval.psis must hold 1 (no truncation) among its values, got {tuple(e.psis)}")
  for name in ("num_samples", "mixing_pairs", "ppl_pairs"):
    if isinstance(e[name], bool) or not isinstance(e[name], int) or e[name] < 2:
      raise ValueError(f"config.eval.{name} must be an integer >= 2, got {e[name]!r}")
  if not 0 < e.ppl_epsilon < 0.1:
    raise ValueError(f"config.eval.ppl_epsilon must lie in (0, 0.1) (the paper: 1e-4), got {e.ppl_epsilon}")
  check_experiment_config(_baseline_config(config), dataset_size=dataset_size)


def _baseline_config(config):
  """DCGAN's config: ``config.baseline`` over the DCGAN experiment's, with StyleGAN2's data, steps and batch."""
  c = dcgan_config("digits")
  c.data = copy.deepcopy(config.data)
  c.seed = config.seed
  c.model.image_shape = tuple(config.model.image_shape)
  for key, value in config.baseline.items():
    c.model[key] = value
  for key in ("batch_size", "num_steps", "checkpoint_every", "checkpoint_every_minutes", "sample_every",
              "unroll_steps", "steps_per_call"):
    c.train[key] = config.train[key]
  c.eval.num_images = 64
  c.eval.use_ema = False
  return c


def _optimizers(config):
  """Adam per network with its lr and betas adjusted for its lazy regulariser (``lazy_adam_hyperparameters``)."""
  t = config.train
  out = {}
  for name, interval in (("generator", t.pl_interval if t.pl_weight > 0 else 0),
                         ("discriminator", t.r1_interval if t.r1_gamma > 0 else 0)):
    lr, (b1, b2) = objectives.lazy_adam_hyperparameters(t.learning_rate, (t.b1, t.b2), interval)
    out[name] = optax.adam(lr, b1=b1, b2=b2, eps=t.eps)
  return out


@functools.partial(nnx.jit, static_argnames=("noise_mode",))
def _stylegan_images(models, z, key, psi, *, noise_mode: str = "random"):
  """G(z) in [0, 1] (clipped), inference mode: truncation psi (traced: one compilation for the sweep), noise."""
  x = models["generator"](z, train=False, key=key, truncation_psi=jnp.float32(psi), noise_mode=noise_mode)
  return jnp.clip(stylegan2.to_unit_range(x), 0.0, 1.0)


def _sample_stylegan(models, latent_dim: int, key, num: int, *, psi: float = 1.0, batch_size: int = 500):
  out = []
  for i in range(-(-num // batch_size)):
    z_key, noise_key = jax.random.split(jax.random.fold_in(key, i))
    z = jax.random.normal(z_key, (batch_size, latent_dim))
    out.append(np.asarray(_stylegan_images(models, z, noise_key, psi)))
  return np.concatenate(out)[:num]


def _train_stylegan(config, workdir: str, x: np.ndarray, *, progress: bool):
  t = config.train
  models = build_models(config, nnx.Rngs(config.seed))
  grid_z = jax.random.normal(jax.random.key(1234), (64, config.model.latent_dim))
  grids = train.sample_grid_hook(
      os.path.join(workdir, "samples"), train.split_models(models)[0],
      lambda m: _stylegan_images(m, grid_z, None, 1.0, noise_mode="const"),
      every_steps=t.sample_every, num_steps=t.num_steps, use_ema=True,
  )
  updates = objectives.stylegan2_updates(
      latent_dim=config.model.latent_dim, r1_gamma=t.r1_gamma, r1_interval=t.r1_interval, pl_weight=t.pl_weight,
      pl_interval=t.pl_interval, pl_batch_shrink=t.pl_batch_shrink, pl_decay=t.pl_decay, mixing_prob=t.mixing_prob)
  ema = train.ema_rampup(t.ema_half_life_examples, t.batch_size, t.ema_rampup)
  t0 = time.perf_counter()
  graphdefs, state = run_from_config(
      config, workdir, models=models, optimizers=_optimizers(config), updates=updates, data={"x": x},
      num_steps=t.num_steps, batch_shape=(t.batch_size,), ema_networks=("generator",), ema_schedule=ema,
      aux=objectives.stylegan2_aux_init(), hooks=[grids], description="stylegan2", progress=progress,
  )
  seconds = time.perf_counter() - t0
  raw = train.merge_models(graphdefs, state, use_ema=False)
  ema_models = train.merge_models(graphdefs, state, use_ema=True)
  return raw, ema_models, int(state.step), seconds


def _quality(feature_net, samples: np.ndarray, real: dict, seed: int) -> dict:
  shown = to_classifier_input(samples, feature_net.image_shape)
  features = feature_net.features(shown)
  return {
      **metrics.sample_quality(features, real["features"], seed=seed),
      "classifier_score": metrics.classifier_score(feature_net.log_probs(shown))["mean"],
      "diversity_ratio": _mean_pairwise_distance(features, seed) / real["diversity"],
  }


def _mean_pairwise_distance(features: np.ndarray, seed: int, num: int = 2000) -> float:
  """Mean Euclidean distance between random pairs of feature vectors (0 when every sample is the same)."""
  rng = np.random.default_rng(seed)
  i, j = rng.integers(0, len(features), num), rng.integers(0, len(features), num)
  return float(np.mean(np.linalg.norm(features[i] - features[j], axis=-1)))


def _style_mixing(models, feature_net, config, seed: int) -> tuple[dict, np.ndarray]:
  """How often the classifier's label of the mix follows A's (coarse) and B's (fine), on pairs it labels apart."""
  e = config.eval
  n, latent_dim = int(e.mixing_pairs), int(config.model.latent_dim)
  cutoff = min(stylegan2.coarse_styles(), models["generator"].num_ws - 1)  # an 8x8 G has no fine styles beyond
  a_key, b_key = jax.random.split(jax.random.key(seed))
  z_a, z_b = jax.random.normal(a_key, (n, latent_dim)), jax.random.normal(b_key, (n, latent_dim))
  a, b, mixed = stylegan2.mix_styles(models, z_a, z_b, cutoff=cutoff)
  label = lambda x: np.argmax(feature_net.log_probs(to_classifier_input(x, feature_net.image_shape)), axis=-1)
  la, lb, lm = label(a), label(b), label(mixed)
  apart = la != lb
  record = {
      "cutoff_ws": cutoff,
      "num_ws": int(models["generator"].num_ws),
      "pairs": n,
      "pairs_labelled_apart": int(apart.sum()),
      "follows_coarse_A": float(np.mean(lm[apart] == la[apart])),
      "follows_fine_B": float(np.mean(lm[apart] == lb[apart])),
  }
  return record, stylegan2.style_mixing_grid(models, jax.random.key(seed + 1), config, rows=6, columns=8,
                                             cutoff=cutoff)


@functools.partial(nnx.jit, static_argnames=("space", "epsilon", "num", "latent_dim"))
def _path_endpoints(models, key, *, space: str, epsilon: float, num: int, latent_dim: int):
  """Images at t and t + eps on random full paths in Z (slerp) or W (lerp); constant noise."""
  g = models["generator"]
  z_key, t_key = jax.random.split(key)
  z = jax.random.normal(z_key, (2 * num, latent_dim))
  t = jax.random.uniform(t_key, (num,))
  if space == "z":
    z0, z1 = z[:num], z[num:]
    ws = g.mapping(jnp.concatenate([metrics.slerp(z0, z1, t), metrics.slerp(z0, z1, t + epsilon)]), None,
                   train=False)
  else:
    w = g.mapping(z, None, train=False)
    w0, w1 = w[:num], w[num:]
    lerp = lambda s: w0 + s[:, None, None] * (w1 - w0)
    ws = jnp.concatenate([lerp(t), lerp(t + epsilon)])
  images = jnp.clip(stylegan2.to_unit_range(g.synthesis(ws, noise_mode="const")), 0.0, 1.0)
  return images[:num], images[num:]


def _path_length(models, feature_net, config, space: str, seed: int) -> float:
  """PPL in ``space`` ("z" or "w") on squared LeNet-feature distances (``metrics.perceptual_path_length``)."""
  e = config.eval
  distances, batch = [], 250
  for i in range(-(-int(e.ppl_pairs) // batch)):
    a, b = _path_endpoints(models, jax.random.fold_in(jax.random.key(seed), i), space=space,
                           epsilon=float(e.ppl_epsilon), num=batch, latent_dim=int(config.model.latent_dim))
    fa = feature_net.features(to_classifier_input(np.asarray(a), feature_net.image_shape)).astype(np.float64)
    fb = feature_net.features(to_classifier_input(np.asarray(b), feature_net.image_shape)).astype(np.float64)
    distances.append(np.sum(np.square(fa - fb), axis=-1))
  return metrics.perceptual_path_length(np.concatenate(distances)[:int(e.ppl_pairs)], float(e.ppl_epsilon))


def _truncation_figure(path: str, models, config, psis: list[float], seed: int) -> None:
  """A row per psi, the same z (and noise) in every row."""
  z = jax.random.normal(jax.random.key(seed), (10, config.model.latent_dim))
  rows = [np.asarray(_stylegan_images(models, z, None, psi, noise_mode="const")) for psi in psis]
  grid = np.concatenate(rows)
  plot.save_image_grid(path, grid, ncol=10, scale=plot.grid_scale(grid.shape[1:]))


def train_stylegan(config, workdir: str, *, progress: bool = True) -> dict:
  """Trains (or resumes) StyleGAN2 and its DCGAN baseline, measures them, writes ``results.json`` (also returned).

  Args:
    config: the experiment's config (``experiments/stylegan/config.py``).
    workdir: the experiment's folder (``workdir/stylegan2``, ``workdir/dcgan``).
    progress: show the progress bars.
  """
  ds = data.load_dataset(config.data.name, data_dir=config.data.data_dir)
  shape = tuple(config.model.image_shape)
  x = train_images_of(config, ds)
  check_stylegan_config(config, dataset_size=x.shape[0])
  os.makedirs(workdir, exist_ok=True)

  sg_dir, dc_dir = (os.path.join(workdir, name) for name in RUNS)
  raw, ema, sg_step, sg_seconds = _train_stylegan(config, sg_dir, stylegan2.to_model_range(x), progress=progress)
  baseline = _baseline_config(config)
  dc_images = _generator_images(dcgan.to_unit_range)
  dc_models, dc_step, dc_seconds, _ = _train(baseline, dc_dir, dcgan.to_model_range(x), dc_images, progress=progress)

  e = config.eval
  feature_net = metrics.feature_network(config.data.name, cache_dir=e.cache_dir or metrics.DEFAULT_CACHE_DIR,
                                        data_dir=config.data.data_dir, progress=progress)
  real_features = feature_net.features(ds.test)
  real = {"features": real_features, "diversity": _mean_pairwise_distance(real_features, e.seed)}
  n = min(ds.num_train, int(e.num_samples))
  floor = metrics.sample_quality(feature_net.features(ds.train[:n]), real_features, seed=e.seed)
  latent_dim = int(config.model.latent_dim)
  t0 = time.perf_counter()
  key = jax.random.key(e.seed)
  generators = {
      "dcgan": _quality(feature_net, generate(dc_images, dc_models, int(baseline.model.latent_dim), key, n), real,
                        e.seed),
      "stylegan2_raw": _quality(feature_net, _sample_stylegan(raw, latent_dim, key, n), real, e.seed),
      "stylegan2_ema": _quality(feature_net, _sample_stylegan(ema, latent_dim, key, n), real, e.seed),
  }
  psis = _psis(config)
  sweep = {f"{psi:g}": _quality(feature_net, _sample_stylegan(ema, latent_dim, key, n, psi=psi), real, e.seed)
           for psi in psis}
  _truncation_figure(os.path.join(sg_dir, "truncation.png"), ema, config, psis, e.seed)
  mixing, grid = _style_mixing(ema, feature_net, config, e.seed)
  plot.save_image_grid(os.path.join(sg_dir, "style_mixing.png"), grid, ncol=9, scale=plot.grid_scale(grid.shape[1:]))
  ppl = {space: _path_length(ema, feature_net, config, space, e.seed) for space in ("z", "w")}

  results = {
      **results_header(config, feature_net),
      "image_shape": list(shape),
      "num_samples": n,
      "floor_train_vs_test": floor,
      "runs": {
          "stylegan2": {"step": sg_step, "train_seconds_this_invocation": sg_seconds,
                        "steps_per_sec": steady_speed(sg_dir).get("steps_per_sec"),
                        "parameters": _parameters(raw)},
          "dcgan": {"step": dc_step, "train_seconds_this_invocation": dc_seconds,
                    "steps_per_sec": steady_speed(dc_dir).get("steps_per_sec"), "parameters": _parameters(dc_models)},
      },
      "generators": generators,
      "psi_sweep": sweep,
      "style_mixing": mixing,
      "perceptual_path_length": {**ppl, "epsilon": float(e.ppl_epsilon), "pairs": int(e.ppl_pairs),
                                 "distance": "squared LeNet-feature distance"},
      "eval_seconds": time.perf_counter() - t0,
      "published_cifar10": PUBLISHED_CIFAR10,
  }
  write_json(os.path.join(workdir, "results.json"), results)
  print(format_results(results))
  return results


def _parameters(models) -> dict[str, int]:
  return {name: int(sum(x.size for x in jax.tree.leaves(nnx.state(m, nnx.Param)))) for name, m in models.items()}


def format_results(results: dict) -> str:
  """The generators' quality, the psi sweep, style mixing and PPL, the real-data floor last."""
  r = results["runs"]
  lines = [f"stylegan on {results['dataset']} {tuple(results['image_shape'])}: {results['num_steps']} steps at batch "
           f"{results['batch_size']} (StyleGAN2 {r['stylegan2']['steps_per_sec'] or float('nan'):.2f} steps/s, "
           f"DCGAN {r['dcgan']['steps_per_sec'] or float('nan'):.2f} steps/s), {results['num_samples']} samples:"]
  header = f"  {'':<16}{'FID':>9}{'precision':>10}{'recall':>8}{'score':>8}{'diversity':>10}"
  row = lambda name, m: (f"  {name:<16}{m['fid']:>9.2f}{m['precision']:>10.3f}{m['recall']:>8.3f}"
                         f"{m['classifier_score']:>8.2f}{m['diversity_ratio']:>10.3f}")
  lines += [header] + [row(name, m) for name, m in results["generators"].items()]
  lines += ["  psi sweep (EMA G):"] + [row(f"psi {psi}", m) for psi, m in results["psi_sweep"].items()]
  m = results["style_mixing"]
  lines.append(f"  style mixing (ws < {m['cutoff_ws']} of {m['num_ws']} from A): on {m['pairs_labelled_apart']} of "
               f"{m['pairs']} pairs labelled apart, the mix takes A's label {m['follows_coarse_A']:.3f}, B's "
               f"{m['follows_fine_B']:.3f}")
  p = results["perceptual_path_length"]
  lines.append(f"  perceptual path length (eps {p['epsilon']:g}, {p['pairs']} paths): Z {p['z']:.1f}, W {p['w']:.1f}")
  f = results["floor_train_vs_test"]
  lines.append(f"real (floor): FID {f['fid']:.2f}, precision {f['precision']:.3f}, recall {f['recall']:.3f}")
  return "\n".join(lines)
