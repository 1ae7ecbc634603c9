"""MLP VAE configs. Pick one with ``--config=experiments/vae/config.py:<preset>``.

Presets:
  digits (default): scikit-learn's 8x8 digits (offline), 64-256-2 ReLU,
    Bernoulli decoder on the grey values, 2-d latent so the manifold and the
    encoded test set can be drawn. About a minute on 2 CPU cores:

      python -m experiments.vae.main --workdir=/tmp/vae_digits

    Expected: results.json with test negative ELBO about 24.4 nats per 8x8
    image and k = 5000 IWAE NLL about 24.0 (grey-valued Bernoulli, so not a
    probability of binary data); samples and a manifold of recognisable
    digits; 7 s of training, 30 s in all (measured).

  binarized_mnist_flax: the Flax VAE example (784-500-20 ReLU, Adam 1e-3,
    batch 128, 10 epochs) on the static binarization of Larochelle & Murray:

      python -m experiments.vae.main --config=experiments/vae/config.py:binarized_mnist_flax \\
          --data_dir=DIR_WITH_binarized_mnist.npz --workdir=/tmp/vae_bmnist

    Expected: test negative ELBO <= 104 nats (the example's published
    figure). Measured: 103.06 +- 0.27 nats on the 10000 test images; k = 5000
    IWAE NLL 99.14 +- 0.80 on 1000 random test images (their ELBO: 105.04, so
    the IWAE estimate is 5.9 nats tighter), and 97.35 +- 0.25 on all 10000
    with --config.eval.iwae_num_examples=0 (20 min of evaluation); 2.2-3.5 s
    per epoch on 2 CPU cores (11 s while other jobs shared them).

  iwae_1layer: the one-stochastic-layer architecture of Burda et al. (2016)
    (784-200-200-50, tanh), dynamically binarized MNIST (60000 train images),
    Adam (lr 1e-3, beta1 0.9, beta2 0.999, eps 1e-4), their schedule of
    3^i epochs at lr 1e-3 * 10^(-i/7), i < num_stages, batch 20; the run
    lasts all the stages (train.num_epochs unset). The paper trains 8 stages
    (3280 epochs) and reports 86.76 nats (VAE, k = 1);
    ``--config.train.num_stages=4`` is 40 epochs. Measured after those 40 epochs
    (7.3 s each on 2 CPU cores; 11 s while other jobs shared them): test negative ELBO 97.77 nats,
    k = 5000 IWAE NLL 90.87 +- 0.77 on 1000 random test images:

      python -m experiments.vae.main --config=experiments/vae/config.py:iwae_1layer \\
          --data_dir=DIR_WITH_MNIST_IDX --workdir=/tmp/vae_iwae

  mnist: grey MNIST with dynamic binarization, 784-500-20, 10 epochs.
"""

import ml_collections

from jaxgen import experiment

PRESETS = ("digits", "binarized_mnist_flax", "iwae_1layer", "mnist")


def get_config(preset: str = "digits") -> ml_collections.ConfigDict:
  """The MLP VAE config of ``preset`` (see the module docstring for commands and results)."""
  preset = preset or "digits"
  if preset not in PRESETS:
    raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}.")
  config = experiment.base_config(model="vae")
  # "none": use pixel values as they are; "static": threshold once at 0.5;
  # "dynamic": a fresh x ~ Bernoulli(pixel) every step (the test set gets one
  # fixed draw from eval.test_binarization_seed).
  config.data.binarize = "none"

  config.model.image_shape = (28, 28, 1)
  config.model.hidden_sizes = (500,)
  config.model.latent_dim = 20
  config.model.activation = "relu"
  config.model.likelihood = "bernoulli"
  # 'bfloat16': layers compute in bfloat16; parameters, losses and checkpoints stay float32.
  config.model.compute_dtype = "float32"

  # Adam only. A field absent from saved runs' config.json would make resuming them a config change.
  del config.train.momentum
  config.train.num_epochs = 10
  config.train.num_stages = 1  # stages of the "iwae" schedule (3^i epochs each)
  config.train.beta = 1.0  # weight of the KL term (a beta-VAE when not 1)

  config.eval.elbo_batch_size = 500
  config.eval.elbo_samples = 1
  config.eval.iwae_num_samples = 5000
  config.eval.iwae_num_examples = 0  # 0: the whole test set; else a seeded random subset.
  config.eval.iwae_batch_size = 20
  config.eval.iwae_sample_chunk = 25  # decodes per step = batch x chunk: small stays in cache
  config.eval.test_binarization_seed = 0
  config.eval.seed = 1
  config.eval.num_images = 64
  config.eval.use_ema = True  # when the run keeps an EMA

  if preset == "digits":
    config.model.image_shape = (8, 8, 1)
    config.model.hidden_sizes = (256,)
    config.model.latent_dim = 2
    config.train.num_epochs = 300
    config.train.steps_per_call = 230
  elif preset == "binarized_mnist_flax":
    config.data.name = "binarized_mnist"
    config.train.batch_size = 128
    config.train.steps_per_call = 390
    config.eval.iwae_num_examples = 1000
  elif preset == "iwae_1layer":
    config.data.name = "mnist"
    config.data.binarize = "dynamic"
    config.model.hidden_sizes = (200, 200)
    config.model.latent_dim = 50
    config.model.activation = "tanh"
    config.train.batch_size = 20
    config.train.num_epochs = None  # None: the schedule's length, all num_stages stages
    config.train.eps = 1e-4
    config.train.schedule = "iwae"
    config.train.num_stages = 4
    config.train.steps_per_call = 1000
    config.eval.iwae_num_examples = 1000
  elif preset == "mnist":
    config.data.name = "mnist"
    config.data.binarize = "dynamic"
    config.train.batch_size = 128
    config.train.steps_per_call = 468
    config.eval.iwae_num_examples = 1000
  return config
