"""The image GAN experiments: the 2014 MNIST GAN with its Parzen-window score, and DCGAN.

Both train k discriminator steps per generator step (``train.gan_updates``)
and write to ``workdir``: ``config.json``, ``metrics.jsonl``,
``loss_curves.png``, ``gan_curves.png`` (D(x), D(G(z)) and the losses),
``samples/step_<n>.png`` (one fixed latent batch every
``config.train.sample_every`` steps), ``samples.png`` and ``checkpoints/``;
:func:`train_gan_mnist` adds ``parzen.json``, :func:`train_dcgan`
``summary.json``. Samples come from the generator in inference mode, with its
EMA when the run keeps one and ``config.eval.use_ema``.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable

import jax
import ml_collections
import numpy as np
from flax import nnx

from jaxgen import data, metrics, plot, train
from jaxgen.experiment._common import base_config, batch_shape_of, check_experiment_config, make_optimizer
from jaxgen.experiment._common import run_from_config
from jaxgen.experiment._common import steady_speed, write_json
from jaxgen.models import build_models, dcgan

# D's outputs as probabilities (logistic losses) or raw critic values (the others), then the losses.
_CURVES = ["d_real", "d_fake", "critic_real", "critic_fake", "d_loss", "g_loss"]


def check_gan_config(config, *, dataset_size: int | None = None) -> None:
  """Checks an image GAN experiment's config; ``train.loss`` is one of ``train.GAN_LOSSES``."""
  check_experiment_config(config, dataset_size=dataset_size, known_losses=train.GAN_LOSSES)


def gan_updates_of(config, **kwargs):
  """``train.gan_updates`` with the loss, k, DiffAugment policy and penalties of ``config.train``."""
  t = config.train
  return train.gan_updates(
      loss=t.loss, k=t.k, latent_dim=config.model.latent_dim, augment=t.get("augment", ""),
      gradient_penalty=t.get("gradient_penalty"), r1_gamma=t.get("r1_gamma", 0.0), r2_gamma=t.get("r2_gamma", 0.0),
      generator_ortho=t.get("generator_ortho", 0.0), discriminator_ortho=t.get("discriminator_ortho", 0.0),
      **kwargs)


def _curves(records) -> list[str]:
  """The curves of ``_CURVES`` the run logged."""
  return [c for c in _CURVES if records and c in records[-1]]


def _generator_images(to_unit_range: Callable[[jax.Array], jax.Array]):
  """``images(models, z)``: G(z) in [0, 1], inference mode, compiled."""
  return nnx.jit(lambda models, z: to_unit_range(models["generator"](z, train=False)))


def _train(config, workdir, x, images, *, progress):
  """Trains the GAN of ``config`` on ``x`` (in the generator's range); returns the networks to sample and timings."""
  t = config.train
  models = build_models(config, nnx.Rngs(config.seed))
  if t.get("init_output_bias"):
    models["generator"].init_output_bias(x.mean(axis=0))
  z = jax.random.normal(jax.random.key(1234), (config.eval.num_images, config.model.latent_dim))
  grids = train.sample_grid_hook(
      os.path.join(workdir, "samples"), train.split_models(models)[0], lambda m: images(m, z),
      every_steps=t.sample_every, num_steps=t.num_steps, use_ema=config.eval.use_ema,
  )
  batch_shape = batch_shape_of(t, t.batch_size)
  optimizer = make_optimizer(t, train.steps_per_epoch(x.shape[0], math.prod(batch_shape)))
  t0 = time.perf_counter()
  graphdefs, state = run_from_config(
      config, workdir, models=models, optimizers={"generator": optimizer, "discriminator": optimizer},
      updates=gan_updates_of(config), data={"x": x},
      num_steps=t.num_steps, batch_shape=batch_shape, ema_networks=("generator",),
      hooks=[grids], description=config.model.name, progress=progress,
  )
  seconds = time.perf_counter() - t0
  records = train.read_metrics(os.path.join(workdir, "metrics.jsonl"))
  plot.save_loss_curves(os.path.join(workdir, "gan_curves.png"), records, _curves(records),
                        title=f"{config.model.name}: D's outputs on real and generated data, and losses")
  trained = train.merge_models(graphdefs, state, use_ema=config.eval.use_ema)
  z = jax.random.normal(jax.random.key(config.seed + 2), (config.eval.num_images, config.model.latent_dim))
  samples = np.asarray(images(trained, z))
  plot.save_image_grid(os.path.join(workdir, "samples.png"), samples, scale=plot.grid_scale(samples.shape[1:]))
  return trained, int(state.step), seconds, records


def generate(images, models, latent_dim: int, key: jax.Array, num: int, *, batch_size: int = 1000) -> np.ndarray:
  """``num`` samples ``images(models, z)``, z ~ N(0, I) drawn ``batch_size`` at a time (one shape: one compilation)."""
  out = []
  for i, k in enumerate(jax.random.split(key, -(-num // batch_size))):
    out.append(np.asarray(images(models, jax.random.normal(k, (batch_size, latent_dim))))[: num - i * batch_size])
  return np.concatenate(out)


def split_data(config) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """(train, valid, test) images in [0, 1]: valid is the last ``config.data.num_valid`` training images."""
  ds = data.load_dataset(config.data.name, data_dir=config.data.data_dir)
  num_valid = int(config.data.num_valid)
  if not 0 < num_valid < ds.num_train:
    raise ValueError(
        f"config.data.num_valid={num_valid} must be in (0, {ds.num_train}) for {config.data.name}: lower it"
    )
  return ds.train[:-num_valid], ds.train[-num_valid:], ds.test


def parzen_evaluation(images, models, config, valid, test) -> dict:
  """The Parzen-window log-likelihood of ``test``, its width chosen on ``valid`` (Goodfellow et al. 2014, Table 1)."""
  e = config.eval
  t0 = time.perf_counter()
  samples = generate(images, models, config.model.latent_dim, jax.random.key(config.seed + 1), e.num_samples)
  sigmas = np.logspace(e.sigma_log10_start, e.sigma_log10_end, e.num_sigmas)
  sigma, valid_ll = metrics.parzen_select_sigma(samples, valid[: e.num_valid], sigmas, batch_size=e.batch_size)
  mean, se = metrics.parzen_log_likelihood(samples, test, sigma, batch_size=e.batch_size)
  return {
      "parzen_log_likelihood": mean,
      "parzen_standard_error": se,
      "sigma": sigma,
      "valid_log_likelihood_per_sigma": {f"{s:.4f}": float(v) for s, v in zip(sigmas, valid_ll)},
      "num_samples": int(e.num_samples),
      "num_valid": int(min(e.num_valid, valid.shape[0])),
      "num_test": int(test.shape[0]),
      "eval_seconds": time.perf_counter() - t0,
  }


def train_gan_mnist(config, workdir: str, *, progress: bool = True) -> dict:
  """Trains (or resumes) the 2014 MNIST GAN, then writes ``parzen.json`` (also returned).

  Args:
    config: the experiment's config (``experiments/gan_mnist/config.py``).
    workdir: the run's directory.
    progress: show the progress bar.
  """
  train_x, valid_x, test_x = split_data(config)
  data.check_images(train_x, image_shape=tuple(config.model.image_shape), what="train images")
  check_gan_config(config, dataset_size=train_x.shape[0])
  images = _generator_images(lambda x: x)
  models, step, seconds, _ = _train(config, workdir, train_x, images, progress=progress)
  use_ema = config.eval.use_ema and config.train.ema_decay is not None
  result = {"step": step, **parzen_evaluation(images, models, config, valid_x, test_x), "used_ema": use_ema,
            "train_seconds_this_invocation": seconds, "device": jax.devices()[0].device_kind}
  write_json(os.path.join(workdir, "parzen.json"), result)
  print(
      f"Parzen log-likelihood of {result['num_test']} test images: {result['parzen_log_likelihood']:.1f}"
      f" +- {result['parzen_standard_error']:.1f} (sigma {result['sigma']:.3f}, step {step});"
      " Goodfellow et al. 2014, Table 1 (MNIST): 225 +- 2"
  )
  return result


def train_dcgan(config, workdir: str, *, progress: bool = True) -> dict:
  """Trains (or resumes) DCGAN on images scaled to its tanh range; writes ``summary.json`` (also returned).

  Args:
    config: the experiment's config (``experiments/dcgan/config.py``).
    workdir: the run's directory.
    progress: show the progress bar.
  """
  ds = data.load_dataset(config.data.name, data_dir=config.data.data_dir)
  data.check_images(ds.train, image_shape=tuple(config.model.image_shape), what="train images")
  check_gan_config(config, dataset_size=ds.num_train)
  images = _generator_images(dcgan.to_unit_range)
  _, step, seconds, records = _train(config, workdir, dcgan.to_model_range(ds.train), images, progress=progress)
  summary = {
      "step": step,
      "train_seconds_this_invocation": seconds,
      "median_steps_per_sec": steady_speed(workdir).get("steps_per_sec"),
      "batch_size": int(config.train.batch_size),
      "device": jax.devices()[0].device_kind,
      "final": {k: records[-1][k] for k in _curves(records)},
  }
  write_json(os.path.join(workdir, "summary.json"), summary)
  print(f"dcgan: {step} steps, {summary['median_steps_per_sec']} steps/s, samples in {workdir}")
  return summary



DCGAN_PRESETS = {
    # name: (dataset, image_shape, features, num_steps, sample_every)
    "digits": ("digits", (8, 8, 1), 32, 1500, 250),
    "mnist": ("mnist", (28, 28, 1), 64, 5000, 250),
    "cifar10": ("cifar10", (32, 32, 3), 64, 50_000, 1000),
}


def dcgan_config(preset: str = "digits") -> ml_collections.ConfigDict:
  """The DCGAN experiment's config of ``preset`` ("digits", "mnist", "cifar10"); other GAN studies start from it."""
  if preset not in DCGAN_PRESETS:
    raise ValueError(f"unknown preset {preset!r}: use one of {', '.join(DCGAN_PRESETS)} (--config=...config.py:mnist)")
  dataset, image_shape, features, num_steps, sample_every = DCGAN_PRESETS[preset]
  config = base_config(model="dcgan", dataset=dataset)

  config.model.image_shape = image_shape
  config.model.latent_dim = 100
  config.model.features = features
  config.model.kernel_size = 5
  config.model.init_std = 0.02
  config.model.batch_norm_momentum = 0.9
  config.model.leaky_relu_slope = 0.2
  # 'bfloat16': layers compute in bfloat16; parameters, losses and checkpoints stay float32.
  config.model.compute_dtype = "float32"

  # Adam, counted in steps; a field absent from saved runs' config.json would make resuming them a config change.
  del config.train.momentum, config.train.num_epochs
  config.train.loss = "non_saturating"
  config.train.k = 1
  # A name of jaxgen.train.GAN_LOSSES: non_saturating, minimax, hinge, least_squares, wgan_gp, relativistic_average.
  # Penalties on D: WGAN-GP's weight (None: the loss's own, 10 for wgan_gp), R1 / R2 gamma (gamma / 2 E||grad D||^2).
  config.train.gradient_penalty = ml_collections.config_dict.placeholder(float)
  config.train.r1_gamma = 0.0
  config.train.r2_gamma = 0.0
  # DiffAugment policy for every image D sees, e.g. "color,translation,cutout" ("" none; Zhao et al. 2020).
  config.train.augment = ""
  config.train.batch_size = 128
  config.train.num_steps = num_steps
  config.train.learning_rate = 2e-4
  config.train.b1 = 0.5
  # XLA's CPU backend runs convolutions several times slower inside a loop, so
  # the 28x28 and larger models unroll a few steps per dispatch instead of scanning.
  config.train.unroll_steps = preset != "digits"
  config.train.steps_per_call = 50 if preset == "digits" else 4
  config.train.checkpoint_every = 1000
  config.train.sample_every = sample_every

  config.eval.num_images = 64  # the sample grids
  config.eval.use_ema = True  # when the run keeps an EMA of G
  return config
