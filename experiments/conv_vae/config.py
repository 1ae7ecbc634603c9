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
    a rolled scan an epoch took about 400 s. 10 epochs not run yet.

  cifar10: 32x32x3 -> 8x8 (32, 64 channels), 64-d latent, Gaussian decoder
    with a learned per-pixel variance, 20 epochs (needs tfds cifar10 in --data_dir).
"""

from experiments.vae.config import base_config

PRESETS = ("digits", "binarized_mnist", "mnist", "cifar10")


def get_config(preset: str = "digits"):
  """The convolutional VAE config of ``preset`` (see the module docstring)."""
  preset = preset or "digits"
  if preset not in PRESETS:
    raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}.")
  config = base_config()
  config.model.name = "conv_vae"
  config.model.image_shape = (28, 28, 1)
  config.model.channels = (32, 64)
  config.model.kernel_size = 3
  config.model.hidden_dim = 0
  config.model.latent_dim = 16
  config.model.activation = "relu"
  config.model.likelihood = "bernoulli"
  config.model.conv_impl = "auto"
  # 'bfloat16': layers compute in bfloat16; parameters, losses and checkpoints stay float32.
  config.model.compute_dtype = "float32"
  config.batch_size = 128
  config.num_epochs = 10
  config.eval.iwae_num_examples = 1000
  if preset == "digits":
    config.dataset = "digits"
    config.model.image_shape = (8, 8, 1)
    config.model.channels = (16, 32)
    config.model.hidden_dim = 128
    config.model.latent_dim = 2
    config.batch_size = 64
    config.num_epochs = 100
    config.steps_per_call = 230
    config.eval.iwae_num_examples = 0
    config.eval.iwae_num_samples = 1000
  elif preset == "binarized_mnist":
    config.dataset = "binarized_mnist"
    config.steps_per_call = 4
    config.unroll_steps = True
  elif preset == "mnist":
    config.dataset = "mnist"
    config.binarize = "dynamic"
    config.steps_per_call = 4
    config.unroll_steps = True
  elif preset == "cifar10":
    config.dataset = "cifar10"
    config.model.image_shape = (32, 32, 3)
    config.model.latent_dim = 64
    config.model.likelihood = "gaussian"
    config.num_epochs = 20
    config.steps_per_call = 4
    config.unroll_steps = True
  return config
