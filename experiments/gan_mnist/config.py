"""The MNIST GAN of Goodfellow et al. (2014) and its Parzen-window log-likelihood (Table 1).

Run (from the repository root):

  # offline default: the 8x8 scikit-learn digits, about a minute on 2 CPU cores
  python -m experiments.gan_mnist.main --workdir=/tmp/gan_mnist_digits

  # MNIST (IDX .gz files in DATA_DIR, or tfds): the paper's setting
  python -m experiments.gan_mnist.main --workdir=/tmp/gan_mnist \
      --config=experiments/gan_mnist/config.py:mnist --data_dir=DATA_DIR

Protocol (the released code, github.com/goodfeli/adversarial: mnist.yaml and
parzen_ll.py): train on the first 50,000 MNIST training images; draw 10,000
samples; pick the Parzen width from logspace(-1, 0, 10) by the mean
log-likelihood of 1,000 validation images, training images 50,000..50,999;
report the mean log-likelihood of the 10,000 test images +- its standard error.
On digits: train on the first 1,297 training images, validate on the last 200,
test on the 300 test images.

Expected: the paper reports 225 +- 2 nats on MNIST (Table 1). Measured here
(2 shared CPU cores, no GPU): the mnist preset stopped at 10,000 steps (20
epochs, 2,608 s of training on a loaded machine) gives 112.3 +- 1.6 nats
(sigma 0.215; evaluation 27 s); for scale, 10,000 real training images used as
the "samples" give 241.2 +- 2.1 (sigma 0.167) with the same code. The released
model trained far longer (mnist.yaml has no stopping criterion). On digits
(64 dimensions) the numbers are not comparable to MNIST's (2,000-step default:
5.8 +- 1.0 nats on the 300 test digits, 112 s wall; 3,000 steps: 14.9 +- 0.8).

Training (mnist.yaml): batch 100, one discriminator step per generator step,
non-saturating generator loss (AdversaryCost2 trains G on -log D(G(z))), SGD
with lr 0.1 divided by 1.000004 each step (floor 1e-6) and momentum rising
linearly from 0.5 to 0.7 over 250 epochs.
"""

import ml_collections

from jaxgen import experiment


def get_config(preset: str = "digits") -> ml_collections.ConfigDict:
  """Presets: "digits" (default, offline) and "mnist"."""
  if preset not in ("digits", "mnist"):
    raise ValueError(f"unknown preset {preset!r}: use 'digits' or 'mnist' (--config=...config.py:mnist)")
  mnist = preset == "mnist"
  config = experiment.base_config(model="gan_mlp", dataset="mnist" if mnist else "digits")
  # Held out from the end of the training set (MNIST: images 50,000..59,999).
  config.data.num_valid = 10_000 if mnist else 200

  config.model.image_shape = (28, 28, 1) if mnist else (8, 8, 1)
  config.model.latent_dim = 100
  config.model.generator_features = (1200, 1200)
  config.model.discriminator_units = (240, 240)
  config.model.discriminator_pieces = 5
  config.model.input_keep = 0.8
  config.model.hidden_keep = 0.5
  # 'bfloat16': layers compute in bfloat16; parameters, losses and checkpoints stay float32.
  config.model.compute_dtype = "float32"

  # SGD, counted in steps; a field absent from saved runs' config.json would make resuming them a config change.
  del config.train.b1, config.train.b2, config.train.eps, config.train.num_epochs
  config.train.loss = "non_saturating"
  config.train.k = 1
  # A name of jaxgen.train.GAN_LOSSES: non_saturating, minimax, hinge, least_squares, wgan_gp, relativistic_average.
  # Penalties on D: WGAN-GP's weight (None: the loss's own, 10 for wgan_gp), R1 / R2 gamma (gamma / 2 E||grad D||^2).
  config.train.gradient_penalty = ml_collections.config_dict.placeholder(float)
  config.train.r1_gamma = 0.0
  config.train.r2_gamma = 0.0
  # DiffAugment policy for every image D sees, e.g. "color,translation,cutout" ("" none; Zhao et al. 2020).
  config.train.augment = ""
  config.train.batch_size = 100
  config.train.num_steps = 100_000 if mnist else 2_000
  config.train.optimizer = "sgd"
  config.train.learning_rate = 0.1
  config.train.schedule = "exponential"  # lr_t = learning_rate / lr_decay**t, floored
  config.train.lr_decay = 1.000004
  config.train.min_learning_rate = 1e-6
  # mnist.yaml's MomentumAdjustor: from 0.5 to 0.7, saturating at epoch 250 (500 steps per epoch).
  config.train.momentum = 0.5
  config.train.momentum_final = 0.7
  config.train.momentum_saturate_steps = 250 * 500
  config.train.init_output_bias = True  # G's sigmoid bias from the data's mean image
  config.train.checkpoint_every = 5_000 if mnist else 1_000
  config.train.sample_every = 2_000 if mnist else 500

  config.eval.num_images = 100  # the sample grids
  config.eval.num_samples = 10_000
  config.eval.num_valid = 1_000
  config.eval.sigma_log10_start = -1.0
  config.eval.sigma_log10_end = 0.0
  config.eval.num_sigmas = 10
  config.eval.batch_size = 100
  config.eval.use_ema = True  # when the run keeps an EMA of G
  return config
