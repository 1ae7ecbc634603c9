"""StackGAN v1 (Zhang et al. 2017) on digits captioned with their class, stroke thickness and slant.

Run (from the repository root):

  # offline default: the 8x8 scikit-learn digits, resized to 16x16 (Stage-I 8x8)
  python -m experiments.stackgan.main --workdir=/tmp/stackgan_digits

  # MNIST padded to 32x32 (Stage-I 16x16; IDX .gz files in DATA_DIR, or tfds)
  python -m experiments.stackgan.main --workdir=/tmp/stackgan_mnist \
      --config=experiments/stackgan/config.py:mnist --data_dir=DATA_DIR

Trains ``workdir/stage1``, ``workdir/stage1_no_ca`` (without conditioning
augmentation) and ``workdir/stage2`` (Stage-I restored from its run and
frozen), each resumable, then writes ``results.json`` and ``captions.png``.
Draw from a caption with ``python -m jaxgen.sample --workdir
workdir/stage2 --caption "a bold seven leaning right"``.

Networks: layer for layer the PyTorch reference's (hanzhanggit/
StackGAN-Pytorch, ``code/model.py``) with smaller widths; Adam 2e-4 (0.5,
0.999) for both stages, as the reference's configs; the KL weight 2 /
condition_dim on the per-example KL sum (the reference's COEFF.KL = 2 on the
mean over coordinates; the paper's lambda = 1).

Measured (2026-11-29, one CPU core each, see the README): MNIST, 3,000 steps
a stage: LeNet-FID Stage-II 119.4 against Stage-I upsampled 190.4 (real
digits at 16x16 upsampled 118.2); within-caption diversity with CA 12.1,
without 7.6; the digit named 0.63 with CA, 0.98 without, 0.53 after Stage-II.
"""

import ml_collections

from jaxgen import experiment

_PRESETS = {
    # name: (dataset, side, embedding, condition, z, gf = df width, stage-I steps, stage-II steps, samples)
    "digits": ("digits", 16, 32, 16, 32, 8, 1500, 1000, 500),
    "mnist": ("mnist", 32, 64, 32, 64, 16, 3000, 3000, 1000),
}


def get_config(preset: str = "digits") -> ml_collections.ConfigDict:
  """Presets: "digits" (default, offline), "mnist"."""
  preset = preset or "digits"
  if preset not in _PRESETS:
    raise ValueError(f"unknown preset {preset!r}: use one of {', '.join(_PRESETS)} (--config=...config.py:mnist)")
  dataset, side, embedding, condition, latent, width, steps1, steps2, samples = _PRESETS[preset]
  config = experiment.base_config(model="stackgan", dataset=dataset)

  config.model.image_shape = (side, side, 1)  # Stage-II's; Stage-I draws side / 2
  config.model.embedding_dim = embedding
  config.model.condition_dim = condition
  config.model.latent_dim = latent
  config.model.gf_dim = width
  config.model.df_dim = width
  config.model.r_num = 2
  config.model.ca_activation = "relu"
  config.model.batch_norm_momentum = 0.9
  config.model.conv_impl = "auto"
  config.model.stage = 1  # the experiment sets each run's stage and CA itself
  config.model.conditioning_augmentation = True
  config.model.word_vector_seed = 0

  del config.train.momentum, config.train.num_epochs
  config.train.batch_size = 64
  config.train.num_steps = steps1  # Stage-I and its ablation
  config.train.learning_rate = 2e-4
  config.train.b1 = 0.5
  config.train.b2 = 0.999
  config.train.kl_weight = 2.0 / condition
  # XLA's CPU backend runs convolutions many times slower inside a loop: unrolled chunks.
  config.train.unroll_steps = True
  config.train.steps_per_call = 5
  config.train.checkpoint_every = 1000
  config.train.sample_every = max(steps1 // 4, 1)
  # Stage-II's own settings (the reference has one config file per stage). Its D at half Stage-I's width: with
  # the same width (16 on MNIST) Stage-II collapsed to a few stroke patterns and never recovered in 3,000 steps
  # (LeNet-FID 398, the digit named 14 %); at 8 it collapsed until ~1,500 steps, then drew the captioned digits.
  config.stage2 = ml_collections.ConfigDict(dict(num_steps=steps2, df_dim=max(width // 2, 1)))

  config.eval.seed = 0
  config.eval.cache_dir = ml_collections.config_dict.placeholder(str)  # feature networks; None: ~/.cache/jaxgen
  config.eval.num_samples = samples  # random captions for the accuracies and FID
  config.eval.num_captions = 30  # within-caption diversity: captions ...
  config.eval.samples_per_caption = 20  # ... and draws of each
  config.eval.figure_captions = 8
  config.eval.figure_samples = 6
  return config
