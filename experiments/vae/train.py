"""Train a VAE (MLP or convolutional) from a config, then evaluate and draw it.

Shared by ``experiments/vae`` and ``experiments/conv_vae``; the model family
is ``config.model.name``. Outputs in ``workdir``: ``metrics.jsonl``,
``loss_terms.png`` (negative ELBO and its two terms), ``reconstructions.png``
(rows of test images, each followed by a row of their reconstructions),
``samples.png`` (decoder means of z ~ N(0, I)), for a 2-d latent
``manifold.png`` and ``latent_scatter.png``, and ``results.json``.
"""

from __future__ import annotations

import json
import math
import os
import time

import jax
import numpy as np
import optax
from flax import nnx
from scipy import stats

import jaxgen.models.conv_vae  # noqa: F401  (registers "conv_vae")
import jaxgen.models.vae  # noqa: F401  (registers "vae")
from jaxgen import data, metrics, plot, train
from jaxgen.models import vae_objectives
from jaxgen.models._registry import build_models

NETWORK = "vae"


def learning_rate_schedule(opt_config, steps_per_epoch: int):
  """A constant learning rate, or the IWAE paper's schedule.

  schedule "iwae" (Burda et al. 2016, Section 5): stage i < num_stages lasts
  3^i epochs at learning rate ``learning_rate * 10^(-i/7)``.
  """
  lr = opt_config.learning_rate
  if opt_config.schedule == "constant":
    return lr  # A float, not a schedule: Adam then keeps no step count in its state.
  if opt_config.schedule == "iwae":
    boundaries, epochs = {}, 0
    for i in range(1, opt_config.num_stages):
      epochs += 3 ** (i - 1)
      boundaries[epochs * steps_per_epoch] = 10.0 ** (-1.0 / 7.0)
    return optax.piecewise_constant_schedule(lr, boundaries)
  raise ValueError(f"unknown optimizer.schedule {opt_config.schedule!r}; choose 'constant' or 'iwae'.")


def make_optimizer(opt_config, steps_per_epoch: int) -> optax.GradientTransformation:
  """Adam with ``learning_rate_schedule``."""
  return optax.adam(
      learning_rate_schedule(opt_config, steps_per_epoch), b1=opt_config.b1, b2=opt_config.b2, eps=opt_config.eps
  )


def num_epochs_of(config) -> int:
  if config.optimizer.get("schedule", "constant") == "iwae":
    return sum(3**i for i in range(config.optimizer.num_stages))
  return int(config.num_epochs)


def load_data(config, data_dir):
  """The dataset, with ``config.model.image_shape`` set to its image shape."""
  binarize = config.binarize
  ds = data.load_dataset(config.dataset, data_dir=data_dir, binarize=binarize)
  if tuple(config.model.image_shape) != ds.image_shape:
    print(f"model.image_shape {tuple(config.model.image_shape)} -> {ds.image_shape} (the dataset's)")
    config.model.image_shape = ds.image_shape
  return ds


def test_images(config, ds) -> np.ndarray:
  """The test set as the model is scored on it: one fixed binarization when training binarizes dynamically."""
  if ds.binarization != "dynamic":
    return ds.test
  rng = np.random.default_rng(config.eval.test_binarization_seed)
  return (rng.random(ds.test.shape, dtype=np.float32) < ds.test).astype(np.float32)


def epoch_seconds(metrics_path: str, steps_per_epoch: int) -> dict[str, float]:
  """Steady-state seconds per epoch from the chunk timings (the first chunk includes compilation)."""
  records = train.read_metrics(metrics_path)
  rates = [r["steps_per_sec"] for r in records[1:]] or [r["steps_per_sec"] for r in records]
  out = {"epoch_seconds": steps_per_epoch / float(np.median(rates))}
  if records:
    out["first_chunk_seconds"] = float(records[0]["seconds"])
  return out


def image_scale(image_shape) -> int:
  return max(1, 64 // image_shape[0])


def save_latent_pictures(workdir, model, x, labels, image_shape, num_per_side: int = 15):
  """For a 2-d latent: decoder means on a grid of prior quantiles, and the encoded test set."""
  # Grid at Gaussian quantiles so that every cell covers equal prior mass (Kingma & Welling 2014, Fig. 4).
  q = stats.norm.ppf(np.linspace(0.05, 0.95, num_per_side)).astype(np.float32)
  zz = np.stack(np.meshgrid(q, q[::-1]), axis=-1).reshape(-1, 2)
  images = np.asarray(nnx.jit(lambda m, z: m.mean_image(z))(model, zz))
  plot.save_image_grid(os.path.join(workdir, "manifold.png"), images, ncol=num_per_side, scale=image_scale(image_shape))
  mean, _ = nnx.jit(lambda m, x: m.encode(x))(model, x)
  plot.save_scatter(
      os.path.join(workdir, "latent_scatter.png"), {"test set, mean of q(z|x)": np.asarray(mean)},
      labels=labels, title="encoded test set",
  )


def save_pictures(workdir, model, x_test, key, num_images, image_shape):
  k_rec, k_sample = jax.random.split(key)
  n = min(max(num_images // 2, 1), x_test.shape[0])
  ncol = min(8, n)
  n -= n % ncol
  x = x_test[:n]
  # Compiled: eager CPU convolutions run op by op, slowly.
  rec = np.asarray(nnx.jit(lambda m, x, k: m.reconstruct(x, k))(model, x, k_rec))
  rows = []
  for r in range(0, n, ncol):
    rows += [x[r : r + ncol], rec[r : r + ncol]]
  scale = image_scale(image_shape)
  plot.save_image_grid(os.path.join(workdir, "reconstructions.png"), np.concatenate(rows), ncol=ncol, scale=scale)
  samples = np.asarray(nnx.jit(lambda m, k: m.sample(k, num_images))(model, k_sample))
  plot.save_image_grid(os.path.join(workdir, "samples.png"), samples, ncol=8, scale=scale)


def train_and_evaluate(config, workdir: str, data_dir: str | None = None) -> dict:
  """Trains ``config.model.name`` on ``config.dataset``, evaluates on the test set, writes everything.

  Returns:
    The dict also written to ``workdir/results.json``.
  """
  ds = load_data(config, data_dir)
  steps_per_epoch = train.steps_per_epoch(ds.num_train, config.batch_size)
  num_epochs = num_epochs_of(config)
  num_steps = int(config.num_steps) if config.num_steps > 0 else num_epochs * steps_per_epoch
  models = build_models(config, nnx.Rngs(config.seed))
  optimizer = make_optimizer(config.optimizer, steps_per_epoch)
  objective = vae_objectives.negative_elbo_objective(
      beta=config.beta, binarize="dynamic" if ds.binarization == "dynamic" else "none", network=NETWORK
  )
  t0 = time.perf_counter()
  graphdefs, state = train.run_training(
      workdir=workdir,
      config=config,
      models=models,
      optimizers={NETWORK: optimizer},
      updates=[train.Update(NETWORK, objective)],
      data={"image": ds.train},
      num_steps=num_steps,
      batch_shape=(config.batch_size,),
      seed=config.seed,
      steps_per_call=min(config.steps_per_call, num_steps),
      unroll_steps=config.unroll_steps,
      # XLA's own matmul kernels measured faster than YNNPACK's for these models on CPU.
      compiler_options=train.compiler_options(ynnpack_dots=False),
      checkpoint_every=config.checkpoint_every,
      description=f"{config.model.name} {config.dataset}",
  )
  train_seconds = time.perf_counter() - t0
  model = train.merge_models(graphdefs, state)[NETWORK]
  metrics_path = os.path.join(workdir, "metrics.jsonl")
  records = train.read_metrics(metrics_path)
  plot.save_loss_curves(
      os.path.join(workdir, "loss_terms.png"), records, ["neg_elbo", "recon", "kl"],
      title=f"{config.model.name} on {config.dataset}: -ELBO = recon + KL (train, nats)",
  )

  x_test = test_images(config, ds)
  key = jax.random.key(config.eval.seed)
  k_elbo, k_iwae, k_pic = jax.random.split(key, 3)
  t0 = time.perf_counter()
  elbo = metrics.evaluate_elbo(
      model, x_test, k_elbo, batch_size=config.eval.elbo_batch_size, num_samples=config.eval.elbo_samples
  )
  n_iwae = min(config.eval.iwae_num_examples or x_test.shape[0], x_test.shape[0])
  # A seeded random subset: test sets can be ordered (the first 1000 binarized-MNIST test
  # images score about 10 nats worse than the rest), so the first n would be biased.
  subset = np.sort(np.random.default_rng(config.eval.seed).permutation(x_test.shape[0])[:n_iwae])
  log_px = metrics.iwae_log_likelihood(
      model, x_test[subset], k_iwae, num_samples=config.eval.iwae_num_samples,
      batch_size=config.eval.iwae_batch_size, sample_chunk=config.eval.iwae_sample_chunk,
      progress=f"IWAE k={config.eval.iwae_num_samples}",
  )
  eval_seconds = time.perf_counter() - t0

  results = {
      "model": config.model.name,
      "dataset": config.dataset,
      "binarization": ds.binarization,
      "num_train": ds.num_train,
      "num_epochs": num_steps / steps_per_epoch,
      "num_steps": num_steps,
      "batch_size": config.batch_size,
      "test_neg_elbo": float(-elbo.mean()),
      "test_neg_elbo_stderr": float(elbo.std() / math.sqrt(elbo.size)),
      "test_num_examples": int(elbo.size),
      "iwae_num_samples": int(config.eval.iwae_num_samples),
      "iwae_num_examples": int(n_iwae),
      "test_nll_iwae": float(-log_px.mean()),
      "test_nll_iwae_stderr": float(log_px.std() / math.sqrt(log_px.size)),
      # The ELBO of the same examples, so the gap to the IWAE estimate is paired.
      "test_neg_elbo_on_iwae_examples": float(-elbo[subset].mean()),
      "train_seconds": train_seconds,
      "eval_seconds": eval_seconds,
      **epoch_seconds(metrics_path, steps_per_epoch),
      "backend": jax.default_backend(),
  }
  with open(os.path.join(workdir, "results.json"), "w") as f:
    json.dump(results, f, indent=2)
    f.write("\n")

  save_pictures(workdir, model, x_test, k_pic, config.num_images, ds.image_shape)
  if model.latent_dim == 2:
    save_latent_pictures(workdir, model, x_test, ds.test_labels, ds.image_shape)
  return results
