"""Trains the 2014 MNIST GAN and reports its Parzen-window log-likelihood; see config.py.

Writes to --workdir: config.json, metrics.jsonl, loss_curves.png,
gan_curves.png (D(x), D(G(z))), samples/step_<n>.png (a fixed latent batch,
as training goes), samples.png, parzen.json, checkpoints/.
"""

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
from jaxgen import metrics, plot, train
from jaxgen.models import gan_mlp  # noqa: F401  (registers "gan_mlp")
from jaxgen.models._registry import build_models



def split_data(config):
  """(train, valid, test) images (N, H, W, C) in [0, 1]: valid is held out from the end of train."""
  ds = jdata.load_dataset(config.data.name, data_dir=config.data.data_dir)
  num_valid = int(config.data.num_valid)
  if not 0 < num_valid < ds.train.shape[0]:
    raise ValueError(f"data.num_valid={num_valid} must be in (0, {ds.train.shape[0]}) for {config.data.name}")
  return ds.train[:-num_valid], ds.train[-num_valid:], ds.test


def make_optimizer(t) -> optax.GradientTransformation:
  """SGD with mnist.yaml's schedules: lr / decay**step (floored), momentum ramped linearly."""
  lr = optax.exponential_decay(
      t.learning_rate, transition_steps=1, decay_rate=1.0 / t.lr_decay, end_value=t.min_learning_rate
  )
  momentum = optax.linear_schedule(t.momentum_init, t.momentum_final, t.momentum_saturate_steps)
  return optax.inject_hyperparams(optax.sgd)(learning_rate=lr, momentum=momentum)


def generator_fn(graphdefs, *, use_ema: bool):
  """A compiled ``g(state, z) -> G(z)`` in inference mode, with G's EMA weights when asked."""
  graphdef = graphdefs["generator"]
  apply = jax.jit(lambda params, rest, z: nnx.merge(graphdef, params, rest)(z, train=False))
  return lambda state, z: apply(
      state.ema["generator"] if use_ema else state.params["generator"], state.rest["generator"], z
  )


def generate(graphdefs, state, config, key, num, *, use_ema: bool, batch_size: int = 1000) -> np.ndarray:
  """``num`` samples (num, H, W, C) in [0, 1] from the generator (its EMA when asked and kept)."""
  g = generator_fn(graphdefs, use_ema=use_ema)
  out = []
  for i, k in enumerate(jax.random.split(key, -(-num // batch_size))):
    z = jax.random.normal(k, (batch_size, config.model.latent_dim))  # one shape: one compilation
    out.append(np.asarray(g(state, z))[: num - i * batch_size])
  return np.concatenate(out)


def sample_grid_hook(workdir, graphdefs, config, every: int, use_ema: bool):
  """Saves a grid of G(z) for one fixed latent batch every ``every`` steps."""
  z = jax.random.normal(jax.random.key(1234), (100, config.model.latent_dim))
  g = generator_fn(graphdefs, use_ema=use_ema)

  def save(state, step):
    images = np.asarray(g(state, z))
    plot.save_image_grid(os.path.join(workdir, "samples", f"step_{step:07d}.png"), images, ncol=10,
                         scale=4 if images.shape[1] < 16 else 2)

  return train.every(every, save, num_steps=config.train.num_steps)


def parzen_evaluation(graphdefs, state, config, valid, test, *, use_ema: bool) -> dict:
  e = config.eval
  t0 = time.perf_counter()
  samples = generate(graphdefs, state, config, jax.random.key(config.seed + 1), e.num_samples, use_ema=use_ema)
  sigmas = np.logspace(e.sigma_log10_start, e.sigma_log10_end, e.num_sigmas)
  sigma, valid_ll = metrics.parzen_select_sigma(samples, valid[: e.num_valid], sigmas, batch_size=e.batch_size)
  mean, se = metrics.parzen_log_likelihood(samples, test, sigma, batch_size=e.batch_size)
  return {
      "step": int(state.step),
      "parzen_log_likelihood": mean,
      "parzen_standard_error": se,
      "sigma": sigma,
      "valid_log_likelihood_per_sigma": {f"{s:.4f}": float(v) for s, v in zip(sigmas, valid_ll)},
      "num_samples": int(e.num_samples),
      "num_valid": int(min(e.num_valid, valid.shape[0])),
      "num_test": int(test.shape[0]),
      "used_ema": use_ema,
      "eval_seconds": time.perf_counter() - t0,
  }


def train_and_evaluate(config, workdir: str, *, progress: bool = True) -> dict:
  """Trains (or resumes) in ``workdir``, then writes samples.png and parzen.json; returns the Parzen record."""
  train_x, valid_x, test_x = split_data(config)
  jdata.check_images(train_x, image_shape=tuple(config.model.image_shape), what="train images")
  t = config.train
  models = build_models(config, nnx.Rngs(config.seed))
  if t.init_output_bias:
    models["generator"].init_output_bias(train_x.mean(axis=0))
  optimizers = {"generator": make_optimizer(t), "discriminator": make_optimizer(t)}
  updates = train.gan_updates(loss=t.loss, k=t.k, latent_dim=config.model.latent_dim)
  batch_shape = (t.k, t.batch_size) if t.k > 1 else (t.batch_size,)
  ema = t.ema_decay is not None
  use_ema = ema and config.eval.use_ema
  graphdefs = train.split_models(models)[0]
  t0 = time.perf_counter()
  graphdefs, state = train.run_training(
      workdir=workdir, config=config, models=models, optimizers=optimizers, updates=updates,
      data={"x": train_x}, num_steps=t.num_steps, batch_shape=batch_shape, seed=config.seed,
      ema_networks=("generator",) if ema else (), ema_decay=t.ema_decay, steps_per_call=t.steps_per_call,
      checkpoint_every=t.checkpoint_every, description="gan_mnist", progress=progress,
      hooks=[sample_grid_hook(workdir, graphdefs, config, t.sample_every, use_ema)],
  )
  train_seconds = time.perf_counter() - t0

  records = train.read_metrics(os.path.join(workdir, "metrics.jsonl"))
  plot.save_loss_curves(os.path.join(workdir, "gan_curves.png"), records, ["d_real", "d_fake", "d_loss", "g_loss"],
                        title="gan_mnist: D(x), D(G(z)) and losses")
  images = generate(graphdefs, state, config, jax.random.key(config.seed + 2), 100, use_ema=use_ema)
  plot.save_image_grid(os.path.join(workdir, "samples.png"), images, ncol=10, scale=4 if images.shape[1] < 16 else 2)

  result = parzen_evaluation(graphdefs, state, config, valid_x, test_x, use_ema=use_ema)
  result["train_seconds_this_invocation"] = train_seconds
  result["device"] = jax.devices()[0].device_kind
  with open(os.path.join(workdir, "parzen.json"), "w") as f:
    json.dump(result, f, indent=2)
  print(
      f"Parzen log-likelihood of {result['num_test']} test images: {result['parzen_log_likelihood']:.1f}"
      f" +- {result['parzen_standard_error']:.1f} (sigma {result['sigma']:.3f}, step {result['step']});"
      " Goodfellow et al. 2014, Table 1 (MNIST): 225 +- 2"
  )
  return result


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  if flags.FLAGS.workdir is None:
    raise app.UsageError("--workdir is required")
  config = flags.FLAGS.config
  if flags.FLAGS.data_dir is not None:
    config.data.data_dir = flags.FLAGS.data_dir
  train_and_evaluate(config, flags.FLAGS.workdir)


if __name__ == "__main__":
  # Flags are defined here, not at import, so tests can import several experiments.
  config_flags.DEFINE_config_file("config", os.path.join(os.path.dirname(__file__), "config.py"))
  flags.DEFINE_string("workdir", None, "Directory of the run (resumed if it holds checkpoints).")
  flags.DEFINE_string("data_dir", None, "Folder with local data files or tfds data (same as --config.data.data_dir).")
  app.run(main)
