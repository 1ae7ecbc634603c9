"""The autoencoder and VAE experiments: train, evaluate on the test set, draw.

:func:`train_vae` trains the MLP or convolutional VAE (``config.model.name``
"vae" or "conv_vae") and writes to ``workdir``: ``metrics.jsonl``,
``loss_terms.png`` (negative ELBO and its two terms), ``reconstructions.png``
(rows of test images, each followed by a row of their reconstructions),
``samples.png`` (decoder means of z ~ N(0, I)), for a 2-d latent
``manifold.png`` and ``latent_scatter.png``, and ``results.json`` (test
negative ELBO and the k-sample IWAE estimate of the NLL).

:func:`train_autoencoder` trains the chapter's autoencoder and writes
``loss.png`` (the training reconstruction loss, the chapter's Figure 1),
``reconstructions.png`` and ``results.json``; there is no samples picture, as
an autoencoder has no prior to draw codes from.
"""

from __future__ import annotations

import math
import os
import time

import jax
import numpy as np
from flax import nnx

from jaxgen import data, metrics, objectives, plot, train
from jaxgen.experiment._common import check_experiment_config, make_optimizer, num_steps_of, run_from_config
from jaxgen.experiment._common import steady_speed, write_json
from jaxgen.losses import reconstruction_loss
from jaxgen.models import build_models

AUTOENCODER_LOSSES = ("mse", "bce")


def check_vae_config(config, *, dataset_size: int | None = None) -> None:
  """Checks a VAE experiment's config (see ``check_experiment_config``)."""
  check_experiment_config(config, dataset_size=dataset_size)


def check_autoencoder_config(config, *, dataset_size: int | None = None) -> None:
  """Checks an autoencoder experiment's config; ``train.loss`` is "mse" or "bce"."""
  check_experiment_config(config, dataset_size=dataset_size, known_losses=AUTOENCODER_LOSSES)


def load_images(config) -> data.ImageDataset:
  """``config.data``'s dataset, its images checked against ``config.model.image_shape``."""
  ds = data.load_dataset(config.data.name, data_dir=config.data.data_dir, binarize=config.data.binarize)
  data.check_images(ds.train, image_shape=tuple(config.model.image_shape), what=f"{ds.name} train images")
  return ds


def _train(config, workdir, network, objective, ds, *, progress):
  """Trains ``network`` on ``ds.train``; returns the model (EMA when kept and ``eval.use_ema``), steps and timings."""
  t = config.train
  steps_per_epoch = train.steps_per_epoch(ds.num_train, t.batch_size)
  num_steps = num_steps_of(t, steps_per_epoch)
  t0 = time.perf_counter()
  graphdefs, state = run_from_config(
      config, workdir, models=build_models(config, nnx.Rngs(config.seed)),
      optimizers={network: make_optimizer(t, steps_per_epoch)}, updates=[train.Update(network, objective)],
      data={"image": ds.train}, num_steps=num_steps, batch_shape=(t.batch_size,), ema_networks=(network,),
      # XLA's own matmul kernels measured faster than YNNPACK's for these models on CPU.
      compiler_options=train.compiler_options(ynnpack_dots=False),
      description=f"{config.model.name} {config.data.name}", progress=progress,
  )
  model = train.merge_models(graphdefs, state, use_ema=config.eval.use_ema)[network]
  run = {
      "num_epochs": num_steps / steps_per_epoch,
      "num_steps": num_steps,
      "batch_size": int(t.batch_size),
      "train_seconds": time.perf_counter() - t0,
      **steady_speed(workdir, steps_per_epoch),
      "backend": jax.default_backend(),
  }
  return model, run


def _save_reconstructions(workdir, model, x, key, num_images, image_shape):
  # Compiled: eager CPU convolutions run op by op, slowly.
  x = x[: min(max(num_images // 2, 1), x.shape[0])]
  rec = np.asarray(nnx.jit(lambda m, x, k: m.reconstruct(x, k))(model, x, key))
  plot.save_reconstructions(os.path.join(workdir, "reconstructions.png"), x, rec, scale=plot.grid_scale(image_shape))


def train_vae(config, workdir: str, *, progress: bool = True) -> dict:
  """Trains the VAE of ``config.model.name`` on ``config.data``, evaluates it on the test set, draws it.

  Args:
    config: the experiment's config (``experiments/vae/config.py``).
    workdir: the run's directory (resumed when it holds checkpoints).
    progress: show the progress bars.

  Returns:
    The dict also written to ``workdir/results.json``.
  """
  ds = load_images(config)
  check_vae_config(config, dataset_size=ds.num_train)
  dynamic = ds.binarization == "dynamic"
  objective = objectives.negative_elbo_objective(
      beta=config.train.beta, binarize="dynamic" if dynamic else "none", network="vae"
  )
  model, run = _train(config, workdir, "vae", objective, ds, progress=progress)
  plot.save_loss_curves(
      os.path.join(workdir, "loss_terms.png"), train.read_metrics(os.path.join(workdir, "metrics.jsonl")),
      ["neg_elbo", "recon", "kl"],
      title=f"{config.model.name} on {config.data.name}: -ELBO = recon + KL (train, nats)",
  )

  e = config.eval
  x_test = data.binarize_seeded(ds.test, e.test_binarization_seed) if dynamic else ds.test
  k_elbo, k_iwae, k_pictures = jax.random.split(jax.random.key(e.seed), 3)
  t0 = time.perf_counter()
  elbo = metrics.evaluate_elbo(model, x_test, k_elbo, batch_size=e.elbo_batch_size, num_samples=e.elbo_samples)
  subset = metrics.random_subset(x_test.shape[0], e.iwae_num_examples, seed=e.seed)
  log_px = metrics.iwae_log_likelihood(
      model, x_test[subset], k_iwae, num_samples=e.iwae_num_samples, batch_size=e.iwae_batch_size,
      sample_chunk=e.iwae_sample_chunk, progress=f"IWAE k={e.iwae_num_samples}" if progress else None,
  )
  results = {
      "model": config.model.name,
      "dataset": config.data.name,
      "binarization": ds.binarization,
      "num_train": ds.num_train,
      "test_neg_elbo": float(-elbo.mean()),
      "test_neg_elbo_stderr": float(elbo.std() / math.sqrt(elbo.size)),
      "test_num_examples": int(elbo.size),
      "iwae_num_samples": int(e.iwae_num_samples),
      "iwae_num_examples": int(subset.size),
      "test_nll_iwae": float(-log_px.mean()),
      "test_nll_iwae_stderr": float(log_px.std() / math.sqrt(log_px.size)),
      # The ELBO of the same examples, so the gap to the IWAE estimate is paired.
      "test_neg_elbo_on_iwae_examples": float(-elbo[subset].mean()),
      "eval_seconds": time.perf_counter() - t0,
      **run,
  }
  write_json(os.path.join(workdir, "results.json"), results)

  scale = plot.grid_scale(ds.image_shape)
  k_rec, k_sample = jax.random.split(k_pictures)
  _save_reconstructions(workdir, model, x_test, k_rec, e.num_images, ds.image_shape)
  samples = np.asarray(nnx.jit(lambda m, k: m.sample(k, e.num_images))(model, k_sample))
  plot.save_image_grid(os.path.join(workdir, "samples.png"), samples, ncol=8, scale=scale)
  if model.latent_dim == 2:
    mean_image = nnx.jit(lambda m, z: m.mean_image(z))
    plot.save_latent_manifold(os.path.join(workdir, "manifold.png"), lambda z: mean_image(model, z), scale=scale)
    codes, _ = nnx.jit(lambda m, x: m.encode(x))(model, x_test)
    plot.save_scatter(
        os.path.join(workdir, "latent_scatter.png"), {"test set, mean of q(z|x)": np.asarray(codes)},
        labels=ds.test_labels, title="encoded test set",
    )
  print(
      f"{config.model.name} on {config.data.name}: test -ELBO {results['test_neg_elbo']:.2f} nats, "
      f"IWAE NLL (k={e.iwae_num_samples}, {subset.size} images) {results['test_nll_iwae']:.2f}; results in {workdir}"
  )
  return results


def train_autoencoder(config, workdir: str, *, progress: bool = True) -> dict:
  """Trains the autoencoder, writes its loss curve, reconstructions and ``results.json`` (also returned).

  Args:
    config: the experiment's config (``experiments/autoencoder/config.py``).
    workdir: the run's directory (resumed when it holds checkpoints).
    progress: show the progress bar.
  """
  ds = load_images(config)
  check_autoencoder_config(config, dataset_size=ds.num_train)
  t = config.train
  objective = objectives.autoencoder_objective(loss=t.loss, network="autoencoder")
  model, run = _train(config, workdir, "autoencoder", objective, ds, progress=progress)
  plot.save_loss_curves(
      os.path.join(workdir, "loss.png"), train.read_metrics(os.path.join(workdir, "metrics.jsonl")), ["recon"],
      title=f"autoencoder on {config.data.name}: training {t.loss.upper()} per pixel",
  )
  x = ds.test
  test_loss = float(np.mean(reconstruction_loss(x, model.decode_logits(model.encode(x)), t.loss)))
  results = {"model": "autoencoder", "dataset": config.data.name, "loss": t.loss, "test_loss": test_loss, **run}
  write_json(os.path.join(workdir, "results.json"), results)
  _save_reconstructions(workdir, model, x, None, config.eval.num_images, ds.image_shape)
  print(f"autoencoder on {config.data.name}: test {t.loss.upper()} per pixel {test_loss:.4f}; results in {workdir}")
  return results
