"""StyleGAN2 at digit scale: against DCGAN at equal steps, style mixing, path length in W and Z, the psi sweep.

Run (from the repository root):

  # offline default: the 8x8 scikit-learn digits resized to 16x16
  python -m experiments.stylegan.main --workdir=/tmp/stylegan_digits

  # MNIST / Fashion-MNIST padded to 32x32 (IDX .gz files in DATA_DIR, or tfds)
  python -m experiments.stylegan.main --workdir=/tmp/stylegan_mnist \
      --config=experiments/stylegan/config.py:mnist --data_dir=DATA_DIR

  # CIFAR-10 at the reference's "cifar" settings, for an accelerator
  python -m experiments.stylegan.main --workdir=/tmp/stylegan_cifar10 --config=experiments/stylegan/config.py:cifar10

Trains ``workdir/stylegan2`` and ``workdir/dcgan`` (the baseline: the same
steps at the same batch), each resumable (``python -m jaxgen.sample --workdir
workdir/stylegan2 --psi 0.7``, ``--style_mixing`` for the mixing grid), and
writes ``results.json``: LeNet-FID, precision, recall, classifier score and
diversity of DCGAN's G and StyleGAN2's raw and EMA G; the psi sweep
(``eval.psis``); the style-mixing label-follow rates (4x4 and 8x8 styles from
A, the rest from B); perceptual path length in Z and in W. Figures in
``workdir/stylegan2``: ``truncation.png``, ``style_mixing.png``.

Networks and training (``jaxgen.models.stylegan2``,
``jaxgen.objectives.stylegan2_updates``, after NVlabs/stylegan2-ada-pytorch):
mapping of 8 layers with lr multiplier 0.01, equalised learning rate,
modulated convolutions with demodulation, noise inputs, skip G, residual D
with minibatch stddev (groups of 4); non-saturating logistic loss, R1 every
16 steps (gamma 0.01, the reference's CIFAR-10 value at 32x32; its "auto"
rule 0.0002 side^2 / batch gives 0.0064 at 32x32, batch 32), path-length
regularisation every 4 steps (weight 2, half batch), style mixing 0.9, Adam
lr 0.0025, betas (0, 0.99) adjusted by k / (k + 1) for each lazy interval k,
EMA of G with a half-life of 10k images ramped up over the first 5 % of the
images seen (the reference's ema_kimg 10, ema_rampup 0.05). Channels per
resolution: min(channel_base / r, channel_max), scaled down from the
reference's (32768, 512).
Measured (2026-11-29, 2 shared CPU cores): digits default, 1,500 steps (476 s at
4.4 steps/s): style mixing follows the coarse styles' label on 89.1 % of the
pairs labelled apart (the fine styles' 2.0 %); PPL Z 683.4, W 276.1; psi 1 -> 0
raises precision 0.794 -> 1.000 and lowers diversity 0.780 -> 0.008; FID EMA G
27.8 against DCGAN's 12.9 at equal steps. MNIST preset, 20,000 steps (3,652 s at
5.9 steps/s, one core): collapsed to one stroke pattern by 2,000 steps, a few digit
classes from 6,000 on; style mixing 94.3 % coarse / 0.8 % fine; PPL Z 59,302, W 26,559;
psi 1 -> 0 precision 0.646 -> 1.000, diversity 0.755 -> 0.001; FID EMA G 296.7 against
DCGAN's 11.2 at equal steps (recall 0 against 0.83). Runs of 500-2,000 steps stop
inside the collapse (gamma 0.1 and 1, a mapping of 2 layers, lr 0.001, no path-length
regularisation, minibatch-stddev over the whole batch, 16x16): see the README.
Published: CIFAR-10 FID 2.42 (StyleGAN2 with ADA, unconditional; Karras et
al. 2020, README of stylegan2-ada-pytorch), not comparable with LeNet-FID.
"""

import ml_collections

from jaxgen import experiment

_PRESETS = {
    # name: (dataset, image_shape, latent/w dim, channel_base, channel_max, num_steps, batch, dcgan features)
    "digits": ("digits", (16, 16, 1), 64, 512, 32, 1500, 32, 32),
    # 32 channels per resolution (16 at 32x32): 20,000 steps run in ~1 h on one CPU core. Shorter runs stop inside
    # the collapse every run of this size (the PyTorch reference's too) goes through first (README).
    "mnist": ("mnist", (32, 32, 1), 128, 512, 32, 20_000, 32, 32),
    "fashion_mnist": ("fashion_mnist", (32, 32, 1), 128, 512, 32, 20_000, 32, 32),
    # The reference's "cifar" config: 512 channels at every resolution, map 2, mbstd 32, gamma 0.01, no path-length
    # regularisation, no style mixing, batch 64, 100M images (~1.5M steps); an accelerator's job.
    "cifar10": ("cifar10", (32, 32, 3), 512, 16384, 512, 1_500_000, 64, 64),
}


def get_config(preset: str = "digits") -> ml_collections.ConfigDict:
  """Presets: "digits" (default, offline), "mnist", "fashion_mnist", "cifar10"."""
  preset = preset or "digits"
  if preset not in _PRESETS:
    raise ValueError(f"unknown preset {preset!r}: use one of {', '.join(_PRESETS)} (--config=...config.py:mnist)")
  dataset, image_shape, dim, channel_base, channel_max, num_steps, batch, dcgan_features = _PRESETS[preset]
  cifar = preset == "cifar10"
  config = experiment.base_config(model="stylegan2", dataset=dataset)

  config.model.image_shape = image_shape
  config.model.latent_dim = dim
  config.model.w_dim = dim
  config.model.mapping_layers = 2 if cifar else 8
  config.model.channel_base = channel_base
  config.model.channel_max = channel_max
  config.model.mbstd_group_size = 32 if cifar else 4
  config.model.compute_dtype = "float32"

  del config.train.momentum, config.train.num_epochs
  config.train.batch_size = batch
  config.train.num_steps = num_steps
  config.train.learning_rate = 0.0025
  config.train.b1 = 0.0
  config.train.b2 = 0.99
  config.train.r1_gamma = 0.01
  config.train.r1_interval = 16
  config.train.pl_weight = 0.0 if cifar else 2.0
  config.train.pl_interval = 4
  config.train.pl_batch_shrink = 2
  config.train.pl_decay = 0.01
  config.train.mixing_prob = 0.0 if cifar else 0.9
  config.train.ema_half_life_examples = 500_000 if cifar else 10_000
  config.train.ema_rampup = 0.05
  # XLA's CPU backend runs convolutions several times slower inside a loop: the steps of a dispatch unroll.
  config.train.unroll_steps = True
  config.train.steps_per_call = 4
  config.train.checkpoint_every = 1000
  config.train.sample_every = max(num_steps // 4, 1)

  # The baseline: jaxgen's DCGAN (experiments/dcgan) with these model fields, trained the same steps and batch.
  config.baseline = ml_collections.ConfigDict({"features": dcgan_features})

  config.eval.seed = 0
  config.eval.num_samples = 10_000
  config.eval.psis = (1.0, 0.7, 0.5, 0.25, 0.0)
  config.eval.mixing_pairs = 1000
  config.eval.ppl_pairs = 2000
  config.eval.ppl_epsilon = 1e-4
  config.eval.cache_dir = ml_collections.config_dict.placeholder(str)  # feature networks; None: ~/.cache/jaxgen
  return config
