"""Convolutional VAE configs. Pick one with ``--config=experiments/conv_vae/config.py:<preset>``.

Presets:
  digits (default): scikit-learn's 8x8 digits (offline); two stride-2
    convolutions (16, 32 channels) down to 2x2, 2-d latent, Bernoulli decoder
    on the grey values. About a minute on 2 CPU cores:

      python -m experiments.conv_vae.main --workdir=/tmp/conv_vae_digits

    Expected: test negative ELBO about 24.4 nats (measured), with
    reconstructions, samples and a 2-d manifold of recognisable digits;
    41 s in all (measured).

  binarized_mnist: 28x28 -> 14x14 -> 7x7 (32, 64 channels), 16-d latent,
    Adam 1e-3, batch 128, 10 epochs, on the static binarization:

      python -m experiments.conv_vae.main --config=experiments/conv_vae/config.py:binarized_mnist \\
          --data_dir=DIR_WITH_binarized_mnist.npz --workdir=/tmp/conv_vae_bmnist

    Measured: one epoch in 34.9 s on 2 CPU cores (test -ELBO 126.9 after
    that epoch) with conv_impl="auto" (jaxgen.nn's sub-pixel transposed
    convolutions) and 4 unrolled steps per dispatch; with XLA's own layers in
    a rolled scan an epoch took about 400 s.

  mnist: grey MNIST with dynamic binarization, the binarized_mnist network.
    Measured (2026-11-28, 2 CPU cores): 10 epochs at 24.5 s each (249 s of
    training), test -ELBO 99.46 +- 0.26 nats, k = 5000 IWAE NLL 92.12 +- 0.75
    on 1000 random test images (555 s of evaluation: k = 5000 decoder passes
    for 1000 images are twice the FLOPs of the 10 training epochs;
    --config.eval.iwae_num_examples=450 evaluates in the training's time).

  cifar10: 32x32x3 -> 8x8 (32, 64 channels), 64-d latent, Gaussian decoder
    with a learned per-pixel variance, 20 epochs (needs tfds cifar10 in --data_dir).
"""

import ml_collections

from jaxgen import experiment

PRESETS = ("digits", "binarized_mnist", "mnist", "cifar10")


def get_config(preset: str = "digits") -> ml_collections.ConfigDict:
  """The convolutional VAE config of ``preset`` (see the module docstring)."""
  preset = preset or "digits"
  if preset not in PRESETS:
    raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}.")
  config = experiment.base_config(model="conv_vae")
  # "none", "static" (threshold at 0.5) or "dynamic" (x ~ Bernoulli(pixel) every step).
  config.data.binarize = "none"

  config.model.image_shape = (28, 28, 1)
  config.model.channels = (32, 64)
  config.model.kernel_size = 3
  # None: the feature map maps straight to the latent.
  config.model.hidden_dim = ml_collections.config_dict.placeholder(int)
  config.model.latent_dim = 16
  config.model.activation = "relu"
  config.model.likelihood = "bernoulli"
  config.model.conv_impl = "auto"
  # 'bfloat16': layers compute in bfloat16; parameters, losses and checkpoints stay float32.
  config.model.compute_dtype = "float32"

  # Adam only. A field absent from saved runs' config.json would make resuming them a config change.
  del config.train.momentum
  config.train.batch_size = 128
  config.train.num_epochs = 10
  config.train.num_stages = 1
  config.train.beta = 1.0
  # XLA's CPU backend runs convolutions several times slower inside a loop body, so the
  # 28x28 and larger models unroll a few steps per dispatch instead of scanning.
  config.train.steps_per_call = 4
  config.train.unroll_steps = True

  config.eval.elbo_batch_size = 500
  config.eval.elbo_samples = 1
  config.eval.iwae_num_samples = 5000
  config.eval.iwae_num_examples = 1000  # 0: the whole test set; else a seeded random subset.
  config.eval.iwae_batch_size = 20
  config.eval.iwae_sample_chunk = 5  # decodes per step = batch x chunk: small stays in cache
  config.eval.test_binarization_seed = 0
  config.eval.seed = 1
  config.eval.num_images = 64
  config.eval.use_ema = True

  if preset == "digits":
    config.model.image_shape = (8, 8, 1)
    config.model.channels = (16, 32)
    config.model.hidden_dim = 128
    config.model.latent_dim = 2
    config.train.batch_size = 64
    config.train.num_epochs = 100
    config.train.steps_per_call = 230
    config.train.unroll_steps = False
    config.eval.iwae_num_examples = 0
    config.eval.iwae_num_samples = 1000
  elif preset == "binarized_mnist":
    config.data.name = "binarized_mnist"
  elif preset == "mnist":
    config.data.name = "mnist"
    config.data.binarize = "dynamic"
  elif preset == "cifar10":
    config.data.name = "cifar10"
    config.model.image_shape = (32, 32, 3)
    config.model.latent_dim = 64
    config.model.likelihood = "gaussian"
    config.train.num_epochs = 20
  return config
