"""Train the chapter's autoencoder; write its loss curve (Figure 1) and reconstructions.

Outputs in ``workdir``: ``metrics.jsonl``, ``loss.png`` (training
reconstruction loss per logged chunk, the chapter's Figure 1),
``reconstructions.png`` (rows of test images, each followed by a row of their
reconstructions) and ``results.json``. There is no samples picture: an
autoencoder has no prior to draw codes from.
"""

from __future__ import annotations

import json
import os
import time

import jax
import numpy as np
import optax
from flax import nnx

import jaxgen.models.autoencoder  # noqa: F401  (registers "autoencoder")
from jaxgen import plot, train
from jaxgen.models import vae_objectives
from jaxgen.models._registry import build_models
from jaxgen.models.autoencoder import reconstruction_loss
from experiments.vae.train import epoch_seconds, image_scale, load_data

NETWORK = "autoencoder"


def make_optimizer(opt_config) -> optax.GradientTransformation:
  if opt_config.name == "adam":
    return optax.adam(opt_config.learning_rate)
  if opt_config.name == "sgd":
    return optax.sgd(opt_config.learning_rate, momentum=opt_config.momentum or None)
  raise ValueError(f"unknown optimizer.name {opt_config.name!r}; choose 'adam' or 'sgd'.")


def train_and_evaluate(config, workdir: str, data_dir: str | None = None) -> dict:
  """Trains the autoencoder, writes pictures and ``results.json`` (also returned)."""
  config.binarize = config.get("binarize", "none")
  ds = load_data(config, data_dir)
  steps_per_epoch = train.steps_per_epoch(ds.num_train, config.batch_size)
  num_steps = int(config.num_steps) if config.num_steps > 0 else int(config.num_epochs) * steps_per_epoch
  models = build_models(config, nnx.Rngs(config.seed))
  t0 = time.perf_counter()
  graphdefs, state = train.run_training(
      workdir=workdir,
      config=config,
      models=models,
      optimizers={NETWORK: make_optimizer(config.optimizer)},
      updates=[train.Update(NETWORK, vae_objectives.autoencoder_objective(loss=config.loss, network=NETWORK))],
      data={"image": ds.train},
      num_steps=num_steps,
      batch_shape=(config.batch_size,),
      seed=config.seed,
      steps_per_call=min(config.steps_per_call, num_steps),
      # XLA's own matmul kernels measured faster than YNNPACK's for this model on CPU.
      compiler_options=train.compiler_options(ynnpack_dots=False),
      checkpoint_every=config.checkpoint_every,
      description=f"autoencoder {config.dataset}",
  )
  train_seconds = time.perf_counter() - t0
  model = train.merge_models(graphdefs, state)[NETWORK]
  metrics_path = os.path.join(workdir, "metrics.jsonl")
  plot.save_loss_curves(
      os.path.join(workdir, "loss.png"), train.read_metrics(metrics_path), ["recon"],
      title=f"autoencoder on {config.dataset}: training {config.loss.upper()} per pixel",
  )

  x = ds.test
  test_loss = float(np.mean(reconstruction_loss(x, model.decode_logits(model.encode(x)), config.loss)))
  results = {
      "model": "autoencoder",
      "dataset": config.dataset,
      "loss": config.loss,
      "num_epochs": num_steps / steps_per_epoch,
      "num_steps": num_steps,
      "batch_size": config.batch_size,
      "test_loss": test_loss,
      "train_seconds": train_seconds,
      **epoch_seconds(metrics_path, steps_per_epoch),
      "backend": jax.default_backend(),
  }
  with open(os.path.join(workdir, "results.json"), "w") as f:
    json.dump(results, f, indent=2)
    f.write("\n")

  n = min(max(config.num_images // 2, 1), x.shape[0])
  ncol = min(8, n)
  n -= n % ncol
  rec = np.asarray(model(x[:n]))
  rows = []
  for r in range(0, n, ncol):
    rows += [x[r : r + ncol], rec[r : r + ncol]]
  plot.save_image_grid(
      os.path.join(workdir, "reconstructions.png"), np.concatenate(rows), ncol=ncol, scale=image_scale(ds.image_shape)
  )
  return results
