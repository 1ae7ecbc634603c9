"""Pix2pix on digit pairs: Isola et al.'s objective and patch-size ablations in miniature.

Run (from the repository root):

  # offline default: the 8x8 scikit-learn digits resized to 16x16
  python -m experiments.pix2pix.main --workdir=/tmp/pix2pix_digits

  # MNIST padded to 32x32 (IDX .gz files in DATA_DIR, or tfds)
  python -m experiments.pix2pix.main --workdir=/tmp/pix2pix_mnist \
      --config=experiments/pix2pix/config.py:mnist --data_dir=DATA_DIR

  # both tasks on the digits; fewer runs
  ... --config.data.tasks=completion,edges --config.train.discriminators=pixel,

Tasks (``data.tasks``): ``completion`` (the bottom half masked out -> the whole
digit: ambiguous, so L1 alone averages the possible completions; the digits
default runs this one) and ``edges`` (the morphological gradient -> the digit;
the MNIST presets run both). Runs per task:
``l1``, ``gan``, ``cgan``, ``l1_gan``, ``l1_cgan`` with ``model.discriminator``
(Table 1), then ``l1_cgan`` with each of ``train.discriminators`` (Table 2).

Networks (``jaxgen.models.pix2pix``): a U-Net down to 1x1 with skips, BatchNorm
(none in the innermost block) and dropout 0.5 in the decoder of the blocks
just above the innermost (half of the intermediate blocks, as the reference's
256x256 model has 3 of its 6), its only noise; PatchGAN discriminators on
(input, output). Loss: non-saturating cGAN + 100 L1, D's loss halved, Adam
2e-4 beta1 0.5, the learning rate constant for half the run, then linearly
to 0 (the reference: 100 + 100 epochs). Batches of 64 (the paper: 1 to 10)
for CPU throughput; with batch 1 the paper's BatchNorm is an instance norm.
Test: evaluation mode (running averages, no dropout); ``eval.train_mode``
also measures the reference's test mode (batch statistics, dropout on).

Measured (digits default, 2026-11-29, 2 shared CPU cores, 2.5 min of training
for the 8 runs): class accuracy / histogram intersection L1 0.917 / 0.831,
cGAN 0.537 / 0.910, L1 + cGAN 0.907 / 0.884; L1 + cGAN with a 1x1 PixelGAN
0.913 / 0.832, with the whole-image D 0.910 / 0.870.
Measured (mnist preset, 2026-11-29, 35 min of training for the 16 runs on the 2
shared cores, 10,000 test pairs): completion L1 0.672 (FID 284.6: L1's median
leaves the bottom half empty), cGAN 0.641, L1 + cGAN 0.904 (FID 73.5), whole-
image D 0.897 (FID 18.6); edges L1 0.965, L1 + cGAN 0.955 (histogram 0.967
against 0.952). README: the tables and what they show.
"""

import ml_collections

from jaxgen import experiment

_PRESETS = {
    # name: (dataset, side, features, dropout blocks, num_steps, test images, tasks)
    "digits": ("digits", 16, 16, 1, 600, None, ("completion",)),
    "mnist": ("mnist", 32, 16, 2, 1500, 10_000, ("completion", "edges")),
    "fashion_mnist": ("fashion_mnist", 32, 16, 2, 1500, 10_000, ("completion", "edges")),
}


def get_config(preset: str = "digits") -> ml_collections.ConfigDict:
  """Presets: "digits" (default, offline), "mnist", "fashion_mnist"."""
  preset = preset or "digits"
  if preset not in _PRESETS:
    raise ValueError(f"unknown preset {preset!r}: use one of {', '.join(_PRESETS)} (--config=...config.py:mnist)")
  dataset, side, features, dropout_blocks, num_steps, num_test, tasks = _PRESETS[preset]
  config = experiment.base_config(model="pix2pix", dataset=dataset)
  config.data.tasks = tasks
  config.data.num_train = ml_collections.config_dict.placeholder(int)  # None: the whole training split

  config.model.image_shape = (side, side, 1)
  config.model.input_channels = 1
  config.model.features = features
  config.model.discriminator_features = features
  config.model.num_downs = ml_collections.config_dict.placeholder(int)  # None: down to 1x1
  # Table 1's discriminator: 16x16 patches, half the side of a 32x32 digit (the paper's 70x70 is 0.27 of 256).
  config.model.discriminator = "patch16"
  config.model.conditional_discriminator = True  # set per run
  config.model.norm = "batch"
  config.model.dropout_rate = 0.5
  config.model.num_dropout_blocks = dropout_blocks
  config.model.init_std = 0.02
  config.model.batch_norm_momentum = 0.9
  config.model.conv_impl = "auto"
  config.model.compute_dtype = "float32"

  del config.train.momentum, config.train.num_epochs
  config.train.losses = ("l1", "gan", "cgan", "l1_gan", "l1_cgan")
  config.train.discriminators = ("pixel", "patch16", "patch34", "image")
  config.train.loss = "non_saturating"
  config.train.l1_weight = 100.0
  config.train.gan_weight = 1.0  # set per run
  config.train.batch_size = 64
  config.train.num_steps = num_steps
  config.train.learning_rate = 2e-4
  config.train.b1 = 0.5
  config.train.b2 = 0.999
  config.train.schedule = "linear_decay"
  config.train.decay_fraction = 0.5
  # XLA's CPU backend runs convolutions several times slower inside a loop: the steps of a dispatch unroll.
  config.train.unroll_steps = True
  config.train.steps_per_call = 4
  config.train.checkpoint_every = 1000

  config.eval.seed = 0
  config.eval.num_test = num_test  # test pairs measured (None: all)
  config.eval.train_mode = True  # also measure the reference's test mode (batch statistics, dropout)
  config.eval.cache_dir = ml_collections.config_dict.placeholder(str)  # feature networks; None: ~/.cache/jaxgen
  return config
