"""Trains the 2014 MNIST GAN and reports its Parzen-window log-likelihood; see config.py."""

import os

from jaxgen import experiment

CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "config.py")

if __name__ == "__main__":
  experiment.run_main(experiment.train_gan_mnist, experiment.check_gan_config, CONFIG)
