"""Age-cGAN (Antipov et al. 2017) on digits whose "age" is the quintile of their stroke thickness.

Run (from the repository root):

  # offline default: the 8x8 scikit-learn digits
  python -m experiments.age_cgan.main --workdir=/tmp/age_cgan_digits

  # MNIST 28x28 (IDX .gz files in DATA_DIR, or tfds)
  python -m experiments.age_cgan.main --workdir=/tmp/age_cgan_mnist \
      --config=experiments/age_cgan/config.py:mnist --data_dir=DATA_DIR

Trains ``workdir/cgan`` (G(z, y), y the thickness group) and
``workdir/encoder`` (E on synthetic pairs (G(z, y), z), G frozen), each
resumable; then inverts ``inversion.num_images`` test images three ways (E
alone, pixel-wise and identity-preserving latent optimisation), re-ages
them to every group and writes ``results.json`` and ``reageing.png`` (rows:
the input, its three reconstructions, then the identity-preserving one at
every group, thinnest first). Re-age with ``python -m jaxgen.sample
--workdir workdir/encoder --label 4`` for samples of a group.

Networks: the cgan family's DCGAN trunk (y appended to z in G, as the paper
injects it at G's input; D sees y through its projection head: a choice of
ours, see ``model.discriminator_head``), hinge loss, spectral norm in D,
Adam 2e-4 (0.5, 0.999); the encoder is DCGAN's discriminator trunk with a
linear output of z's size, Adam 1e-3.
"""

import ml_collections

from jaxgen import experiment

_PRESETS = {
    # name: (dataset, image_shape, features, num_steps, encoder pairs, encoder steps, test images, references)
    "digits": ("digits", (8, 8, 1), 16, 1500, 20_000, 1500, 200, 500),
    "mnist": ("mnist", (28, 28, 1), 32, 3000, 100_000, 4000, 500, 1000),
}


def get_config(preset: str = "digits") -> ml_collections.ConfigDict:
  """Presets: "digits" (default, offline), "mnist"."""
  preset = preset or "digits"
  if preset not in _PRESETS:
    raise ValueError(f"unknown preset {preset!r}: use one of {', '.join(_PRESETS)} (--config=...config.py:mnist)")
  dataset, image_shape, features, num_steps, num_pairs, encoder_steps, num_images, num_refs = _PRESETS[preset]
  config = experiment.base_config(model="age_cgan", dataset=dataset)
  # Quantile groups of the measured stroke thickness of the training images (the paper: 6 age groups).
  config.data.num_groups = 5

  config.model.image_shape = image_shape
  config.model.num_classes = 5  # = data.num_groups
  config.model.latent_dim = 100
  config.model.features = features
  config.model.kernel_size = 5 if image_shape[0] > 8 else 3
  config.model.init_std = 0.02
  config.model.batch_norm_momentum = 0.9
  config.model.leaky_relu_slope = 0.2
  config.model.generator_conditioning = "concat"
  config.model.discriminator_head = "projection"
  config.model.discriminator_norm = "none"
  config.model.spectral_norm = True
  config.model.conv_impl = "auto"
  config.model.compute_dtype = "float32"
  config.model.encoder_features = features

  del config.train.momentum, config.train.num_epochs
  config.train.loss = "hinge"
  config.train.k = 1
  config.train.ac_weight = 1.0
  config.train.batch_size = 64
  config.train.num_steps = num_steps
  config.train.learning_rate = 2e-4
  config.train.b1 = 0.5
  config.train.b2 = 0.999
  # XLA's CPU backend runs convolutions several times slower inside a loop: the 28x28 models unroll.
  config.train.unroll_steps = preset != "digits"
  config.train.steps_per_call = 50 if preset == "digits" else 4
  config.train.checkpoint_every = 1000
  config.train.sample_every = max(num_steps // 4, 1)

  # Step 1 of the paper: E on a fixed set of synthetic pairs (G(z, y), z) (the paper: 100K pairs).
  config.encoder = ml_collections.ConfigDict(dict(
      num_pairs=num_pairs, batch_size=64, num_steps=encoder_steps, learning_rate=1e-3,
      steps_per_call=50 if preset == "digits" else 4))

  # Step 2: latent optimisation from z0 = E(x), Adam on z alone, G and the identity network frozen.
  config.inversion = ml_collections.ConfigDict(dict(
      num_images=num_images, steps=300, learning_rate=0.05, prior_weight=0.0, steps_per_call=10))

  config.eval.use_ema = True  # when the cGAN keeps an EMA of G (train.ema_decay)
  config.eval.grid_columns = 10
  config.eval.cache_dir = ml_collections.config_dict.placeholder(str)  # feature networks; None: ~/.cache/jaxgen
  config.eval.num_references = num_refs  # retrieval of the input among this many test images
  config.eval.figure_images = 10
  return config
