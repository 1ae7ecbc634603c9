"""Trains DCGAN and writes sample grids as it goes; see config.py."""

from __future__ import annotations

import json
import os
import time

import jax
import numpy as np
import optax
from absl import app, flags
from flax import nnx
from ml_collections import config_flags

from jaxgen import data as jdata
from jaxgen import plot, train
from jaxgen.models import dcgan
from jaxgen.models._registry import build_models



def generator_fn(graphdefs, *, use_ema: bool):
  """A compiled ``g(state, z) -> G(z)`` in [0, 1], batch norm in inference mode, EMA weights when asked."""
  graphdef = graphdefs["generator"]
  apply = jax.jit(lambda params, rest, z: dcgan.to_unit_range(nnx.merge(graphdef, params, rest)(z, train=False)))
  return lambda state, z: np.asarray(
      apply(state.ema["generator"] if use_ema else state.params["generator"], state.rest["generator"], z)
  )


def sample_grid_hook(workdir, graphdefs, config, every: int, use_ema: bool):
  """Saves G(z) in [0, 1] for one fixed latent batch of 64 every ``every`` steps."""
  z = jax.random.normal(jax.random.key(1234), (64, config.model.latent_dim))
  g = generator_fn(graphdefs, use_ema=use_ema)

  def save(state, step):
    images = g(state, z)
    plot.save_image_grid(os.path.join(workdir, "samples", f"step_{step:07d}.png"), images, ncol=8,
                         scale=4 if images.shape[1] < 16 else 2)

  return train.every(every, save, num_steps=config.train.num_steps)


def train_and_sample(config, workdir: str, *, progress: bool = True) -> dict:
  """Trains (or resumes) in ``workdir``; writes samples.png and summary.json; returns the summary."""
  ds = jdata.load_dataset(config.data.name, data_dir=config.data.data_dir)
  jdata.check_images(ds.train, image_shape=tuple(config.model.image_shape), what="train images")
  t = config.train
  models = build_models(config, nnx.Rngs(config.seed))
  adam = lambda: optax.adam(t.learning_rate, b1=t.beta1)
  optimizers = {"generator": adam(), "discriminator": adam()}
  updates = train.gan_updates(loss=t.loss, k=t.k, latent_dim=config.model.latent_dim)
  batch_shape = (t.k, t.batch_size) if t.k > 1 else (t.batch_size,)
  ema = t.ema_decay is not None
  graphdefs = train.split_models(models)[0]
  t0 = time.perf_counter()
  graphdefs, state = train.run_training(
      workdir=workdir, config=config, models=models, optimizers=optimizers, updates=updates,
      data={"x": dcgan.to_model_range(ds.train)}, num_steps=t.num_steps, batch_shape=batch_shape,
      seed=config.seed, ema_networks=("generator",) if ema else (), ema_decay=t.ema_decay,
      steps_per_call=t.steps_per_call, unroll_steps=t.unroll_steps, checkpoint_every=t.checkpoint_every, description="dcgan",
      progress=progress, hooks=[sample_grid_hook(workdir, graphdefs, config, t.sample_every, ema)],
  )
  seconds = time.perf_counter() - t0

  records = train.read_metrics(os.path.join(workdir, "metrics.jsonl"))
  plot.save_loss_curves(os.path.join(workdir, "gan_curves.png"), records, ["d_real", "d_fake", "d_loss", "g_loss"],
                        title="dcgan: D(x), D(G(z)) and losses")
  z = jax.random.normal(jax.random.key(config.seed + 2), (64, config.model.latent_dim))
  images = generator_fn(graphdefs, use_ema=ema)(state, z)
  plot.save_image_grid(os.path.join(workdir, "samples.png"), images, ncol=8, scale=4 if images.shape[1] < 16 else 2)
  # Steady-state speed: the chunks after the first (which includes compilation).
  steady = [r["steps_per_sec"] for r in records[1:] if "steps_per_sec" in r]
  summary = {
      "step": int(state.step),
      "train_seconds_this_invocation": seconds,
      "median_steps_per_sec": float(np.median(steady)) if steady else None,
      "batch_size": int(t.batch_size),
      "device": jax.devices()[0].device_kind,
      "final": {k: records[-1][k] for k in ("d_real", "d_fake", "d_loss", "g_loss") if records and k in records[-1]},
  }
  with open(os.path.join(workdir, "summary.json"), "w") as f:
    json.dump(summary, f, indent=2)
  print(f"dcgan: {summary['step']} steps, {summary['median_steps_per_sec']} steps/s, samples in {workdir}")
  return summary


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  if flags.FLAGS.workdir is None:
    raise app.UsageError("--workdir is required")
  config = flags.FLAGS.config
  if flags.FLAGS.data_dir is not None:
    config.data.data_dir = flags.FLAGS.data_dir
  train_and_sample(config, flags.FLAGS.workdir)


if __name__ == "__main__":
  # Flags are defined here, not at import, so tests can import several experiments.
  config_flags.DEFINE_config_file("config", os.path.join(os.path.dirname(__file__), "config.py"))
  flags.DEFINE_string("workdir", None, "Directory of the run (resumed if it holds checkpoints).")
  flags.DEFINE_string("data_dir", None, "Folder with local data files or tfds data (same as --config.data.data_dir).")
  app.run(main)
