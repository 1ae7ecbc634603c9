"""A small GAN loss study: DCGAN with five losses, three seeds each, one budget; LeNet-FID mean +- s.e. and speed.

Run (from the repository root):

  # offline default: the 8x8 scikit-learn digits
  python -m experiments.gan_losses.main --workdir=/tmp/gan_losses_digits

  # MNIST 28x28 (IDX .gz files in DATA_DIR, or tfds)
  python -m experiments.gan_losses.main --workdir=/tmp/gan_losses_mnist \
      --config=experiments/gan_losses/config.py:mnist --data_dir=DATA_DIR

Variants (``train.variants``): non_saturating (Goodfellow et al. 2014),
least_squares (Mao et al. 2017), wgan_gp (Gulrajani et al. 2017, penalty
weight 10), hinge (Lim & Ye 2017; Miyato et al. 2018) and non_saturating_r1
(R1, Mescheder et al. 2018, gamma ``train.study_r1_gamma``); any name of
``jaxgen.train.GAN_LOSSES``, with ``_r1`` appended for R1, may be listed.
Each trains ``workdir/<variant>/seed<s>`` for ``train.num_steps`` steps with
the same DCGAN (its discriminator normalised per example, so the gradient
penalties are per example) and the same Adam settings; ``results.json``,
``fid_by_loss.png`` and ``samples_by_loss.png`` compare them.

Measured (digits default, 2026-11-28, 2 CPU cores, about 3 minutes): FID
(mean +- s.e. over 3 seeds, floor 3.90) non_saturating 18.1 +- 1.6,
least_squares 21.7 +- 2.5, wgan_gp 92.6 +- 2.9, hinge 27.3 +- 1.8,
non_saturating_r1 9.4 +- 0.5.
"""

import ml_collections

from jaxgen import experiment

_PRESETS = {
    # name: (dcgan preset, features, num_steps, batch_size, eval samples)
    "digits": ("digits", 16, 1000, 64, 1000),
    "mnist": ("mnist", 32, 2000, 64, 10_000),
}


def get_config(preset: str = "digits") -> ml_collections.ConfigDict:
  """Presets: "digits" (default, offline), "mnist"."""
  preset = preset or "digits"
  if preset not in _PRESETS:
    raise ValueError(f"unknown preset {preset!r}: use one of {', '.join(_PRESETS)} (--config=...config.py:mnist)")
  base, features, num_steps, batch_size, num_samples = _PRESETS[preset]
  config = experiment.dcgan_config(base)
  config.model.features = features
  # LayerNorm in D: the same D for every loss, with per-example input gradients for WGAN-GP and R1.
  config.model.discriminator_norm = "layer"
  config.train.variants = ("non_saturating", "least_squares", "wgan_gp", "hinge", "non_saturating_r1")
  config.train.num_seeds = 3
  config.train.study_r1_gamma = 10.0
  config.train.num_steps = num_steps
  config.train.batch_size = batch_size
  config.train.sample_every = num_steps
  config.eval.seed = 0
  config.eval.num_samples = num_samples  # samples (and test images) per FID
  config.eval.cache_dir = ml_collections.config_dict.placeholder(str)  # feature networks; None: ~/.cache/jaxgen
  return config
