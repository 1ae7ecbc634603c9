"""BigGAN at digit scale: orthogonal regularisation on and off, raw and EMA generators, the truncation sweep.

Run (from the repository root):

  # offline default: the 8x8 scikit-learn digits resized to 16x16
  python -m experiments.biggan.main --workdir=/tmp/biggan_digits

  # MNIST / Fashion-MNIST padded to 32x32 (IDX .gz files in DATA_DIR, or tfds)
  python -m experiments.biggan.main --workdir=/tmp/biggan_mnist \
      --config=experiments/biggan/config.py:mnist --data_dir=DATA_DIR

  # CIFAR-10 at the reference's settings (scripts/launch_cifar_ema.sh), for an accelerator
  python -m experiments.biggan.main --workdir=/tmp/biggan_cifar10 --config=experiments/biggan/config.py:cifar10

Trains ``workdir/ortho_0.0001`` and ``workdir/ortho_0`` (``train.ortho_betas``),
each resumable and sampled with ``python -m jaxgen.sample --workdir
workdir/ortho_0.0001 --label 7 --truncation 0.5``; writes ``results.json``
(per run, for the raw and the EMA generator and each truncation threshold in
``eval.truncations``: class accuracy, classifier score, precision, recall,
LeNet-FID and intra-class diversity) and each run's ``truncation_raw.png`` and
``truncation_ema.png`` (a row per threshold).

Networks (``jaxgen.models.biggan``, after ajbrock/BigGAN-PyTorch): ResNet
blocks, G with a shared class embedding, hierarchical z (one chunk per block
and one for the first layer) and class-conditional BatchNorm with gain
1 + linear(.), self-attention with its gain starting at 0, spectral norm in G
and D, a projection D with global sum pooling; hinge loss, Adam (0, 0.999),
k = 2 D steps per G step (the paper), an EMA of G started after a quarter of
the run (the paper: 20k of its iterations), decay 0.99 (the paper's 0.9999 is
for 100k+ steps), evaluated with standing batch-norm statistics (16 batches,
``eval.standing_batches``). Learning rates: G 1e-4 and D 4e-4,
the PyTorch port's (the paper's 5e-5 / 2e-4 assume its 100k+ iterations).
Orthogonal regularisation: beta 1e-4 on G's weights, the shared embedding left
out, as the reference code applies it (``jaxgen.losses.orthogonal_regularization_tree``).
Published (CIFAR-10, unconditional FID against the training set): IS 9.22,
FID 14.73 (Brock et al.'s appendix, quoted in Ho et al. 2020, Table 1).

Measured (digits default, 2026-11-29, 2 CPU cores, ~11 min of training for the
two runs at 3.1 steps/s): raw G with ortho, thresholds none -> 0.25: class
accuracy 0.992 -> 1.000, precision 0.903 -> 1.000, recall 0.067 -> 0, diversity
0.617 -> 0.096, FID 9.39 (best 9.38 at 2; 9.88 without ortho). The EMA G
(decay 0.99 from step 250, standing statistics): FID 7.11, best 6.91 at 2
(7.17 without ortho). MNIST preset with ortho (1,500 steps, 5,383 s at 0.36
steps/s): thresholds none -> 0.25, EMA G class accuracy 0.979 -> 1.000,
precision 0.748 -> 0.967, recall 0.407 -> 0, FID 21.54 (raw 29.74 at 2); without
ortho (4,343 s at 0.35 steps/s, one core): EMA G FID 20.67, raw 30.20, the same
sweep's shape. See the README.
"""

import ml_collections

from jaxgen import experiment

_PRESETS = {
    # name: (dataset, image_shape, ch, latent_dim, shared_dim, attention, num_steps, batch, k, samples/class)
    "digits": ("digits", (16, 16, 1), 16, 48, 16, (8,), 1000, 64, 2, 100),
    "mnist": ("mnist", (32, 32, 1), 16, 64, 32, (16,), 1500, 64, 2, 1000),
    "fashion_mnist": ("fashion_mnist", (32, 32, 1), 16, 64, 32, (16,), 1500, 64, 2, 1000),
    # The reference's CIFAR-10 script: G_ch 64, batch 50, 4 D steps, lr 2e-4 both, no attention, N(0, 0.02)
    # init, no ortho (G_ortho 0.0), EMA 0.9999 from step 1000, 500 epochs (~250k G steps at k = 4).
    "cifar10": ("cifar10", (32, 32, 3), 64, 128, 128, (), 250_000, 50, 4, 1000),
}


def get_config(preset: str = "digits") -> ml_collections.ConfigDict:
  """Presets: "digits" (default, offline), "mnist", "fashion_mnist", "cifar10"."""
  preset = preset or "digits"
  if preset not in _PRESETS:
    raise ValueError(f"unknown preset {preset!r}: use one of {', '.join(_PRESETS)} (--config=...config.py:mnist)")
  dataset, image_shape, ch, latent_dim, shared_dim, attention, num_steps, batch, k, per_class = _PRESETS[preset]
  cifar = preset == "cifar10"
  config = experiment.base_config(model="biggan", dataset=dataset)

  config.model.image_shape = image_shape
  config.model.num_classes = 10
  config.model.ch = ch
  config.model.latent_dim = latent_dim
  config.model.shared_dim = shared_dim
  config.model.hierarchical = True
  config.model.attention = attention
  config.model.init = "normal" if cifar else "ortho"
  config.model.bn_eps = 1e-5
  config.model.batch_norm_momentum = 0.9
  config.model.sn_eps = 1e-6
  config.model.conv_impl = "auto"
  config.model.compute_dtype = "float32"

  del config.train.momentum, config.train.num_epochs
  config.train.ortho_betas = (0.0,) if cifar else (1e-4, 0.0)  # one run each (generator_ortho)
  config.train.discriminator_ortho = 0.0
  config.train.loss = "hinge"
  config.train.k = k
  config.train.batch_size = batch
  config.train.num_steps = num_steps
  del config.train.learning_rate  # one per network:
  config.train.generator_learning_rate = 2e-4 if cifar else 1e-4
  config.train.discriminator_learning_rate = 2e-4 if cifar else 4e-4
  config.train.b1 = 0.0
  config.train.b2 = 0.999
  # The reference's 0.9999 from step 20k forgets the start copy over its 100k+ steps (0.9999^80k ~ 3e-4); at
  # 1,000-1,500 steps 0.99 (a half-life of 69 steps) does the same from a quarter of the run: 0.99^750 ~ 5e-4.
  config.train.ema_decay = 0.9999 if cifar else 0.99
  config.train.ema_start = 1000 if cifar else num_steps // 4
  # XLA's CPU backend runs convolutions several times slower inside a loop: the steps of a dispatch unroll.
  config.train.unroll_steps = True
  config.train.steps_per_call = 2
  config.train.checkpoint_every = 1000
  config.train.sample_every = max(num_steps // 4, 1)

  config.eval.seed = 0
  config.eval.samples_per_class = per_class
  config.eval.truncations = (None, 2.0, 1.0, 0.5, 0.25)
  # Batches averaged into the EMA generator's standing batch-norm statistics (0: keep its averaged ones).
  config.eval.standing_batches = 16
  config.eval.grid_columns = 10
  config.eval.cache_dir = ml_collections.config_dict.placeholder(str)  # feature networks; None: ~/.cache/jaxgen
  return config
