"""DCGAN (Radford, Metz and Chintala 2015) with sample grids written as training goes.

Run (from the repository root):

  # offline default: the 8x8 scikit-learn digits, about a minute on 2 CPU cores
  python -m experiments.dcgan.main --workdir=/tmp/dcgan_digits

  # MNIST 28x28 (IDX .gz files in DATA_DIR, or tfds)
  python -m experiments.dcgan.main --workdir=/tmp/dcgan_mnist \
      --config=experiments/dcgan/config.py:mnist --data_dir=DATA_DIR

  # CIFAR-10 32x32x3 (tfds data in DATA_DIR)
  python -m experiments.dcgan.main --workdir=/tmp/dcgan_cifar10 \
      --config=experiments/dcgan/config.py:cifar10 --data_dir=DATA_DIR

Writes samples/step_<n>.png for one fixed latent batch every
``train.sample_every`` steps, samples.png at the end, metrics.jsonl,
loss_curves.png, gan_curves.png (D(x), D(G(z))) and summary.json.

Training as in Section 4 of the paper: batch 128, Adam lr 2e-4 with beta1 0.5
(``train.b1``) for both networks, weights from N(0, 0.02), images scaled to
[-1, 1] (tanh output). The generator uses the non-saturating loss -log D(G(z)).

Measured (2 shared CPU cores, no GPU; the machine was loaded by other jobs):
digits preset, 1,500 steps at batch 128 in 210 s (9.4 steps/s median),
blurry digit-like samples, D(x) ~ D(G(z)) ~ 0.5 at the end. MNIST preset with
--config.model.features=16 --config.train.batch_size=64: 2.5 s per step
(0.40 steps/s median, 0.78 when the machine was quieter); after 300 steps
(0.3 epoch) the samples are stroke-like digit shapes. The full-width MNIST
preset (features 64, batch 128) costs ~16x more per step: use an accelerator.
"""

import ml_collections

from jaxgen import experiment

_PRESETS = {
    # name: (dataset, image_shape, features, num_steps, sample_every)
    "digits": ("digits", (8, 8, 1), 32, 1500, 250),
    "mnist": ("mnist", (28, 28, 1), 64, 5000, 250),
    "cifar10": ("cifar10", (32, 32, 3), 64, 50_000, 1000),
}


def get_config(preset: str = "digits") -> ml_collections.ConfigDict:
  """Presets: "digits" (default, offline), "mnist", "cifar10"."""
  if preset not in _PRESETS:
    raise ValueError(f"unknown preset {preset!r}: use one of {', '.join(_PRESETS)} (--config=...config.py:mnist)")
  dataset, image_shape, features, num_steps, sample_every = _PRESETS[preset]
  config = experiment.base_config(model="dcgan", dataset=dataset)

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
