"""The chapter's autoencoder (784-256-20, ReLU; Sigmoid output), trained with mini-batch Adam.

Presets (``--config=experiments/autoencoder/config.py:<preset>``):
  digits (default): scikit-learn's 8x8 digits (offline), 64-256-20.
    Seconds on 2 CPU cores:

      python -m experiments.autoencoder.main --workdir=/tmp/ae_digits

    Expected: the loss curve (the chapter's Figure 1) falls fast then
    flattens; test MSE per pixel about 0.006 (pixel values in [0, 1]);
    reconstructions close to the inputs.

  mnist: the chapter's setting, 784-256-20 on MNIST, batch 128, 10 epochs:

      python -m experiments.autoencoder.main --config=experiments/autoencoder/config.py:mnist \\
          --data_dir=DIR_WITH_MNIST_IDX --workdir=/tmp/ae_mnist

    Expected: test MSE per pixel about 0.014 after 10 epochs; 2 s per
    epoch on 2 CPU cores (measured).

The loss is the mean squared error between the image and the Sigmoid output
(``train.loss="mse"``): the autoencoder is not a probabilistic model, so
nothing asks for a likelihood, and MSE is what the chapter's loss curve plots.
``--config.train.loss=bce`` (cross-entropy from the pre-sigmoid outputs) is
the choice that matches the VAE's Bernoulli decoder;
``--config.train.optimizer=sgd`` trains with SGD and ``train.momentum``.
"""

import ml_collections

from jaxgen import experiment

PRESETS = ("digits", "mnist")


def get_config(preset: str = "digits") -> ml_collections.ConfigDict:
  """The autoencoder config of ``preset``."""
  preset = preset or "digits"
  if preset not in PRESETS:
    raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}.")
  config = experiment.base_config(model="autoencoder")
  config.data.binarize = "none"

  config.model.image_shape = (8, 8, 1)
  config.model.hidden_dim = 256
  config.model.latent_dim = 20
  # 'bfloat16': layers compute in bfloat16; parameters, losses and checkpoints stay float32.
  config.model.compute_dtype = "float32"

  config.train.loss = "mse"  # or "bce"
  config.train.num_epochs = 100
  config.train.steps_per_call = 23

  config.eval.num_images = 64
  config.eval.use_ema = True
  if preset == "mnist":
    config.data.name = "mnist"
    config.model.image_shape = (28, 28, 1)
    config.train.batch_size = 128
    config.train.num_epochs = 10
    config.train.steps_per_call = 117  # four points per epoch on the loss curve
  return config
