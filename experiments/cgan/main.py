"""Trains the conditional GAN with each discriminator head (and the unconditional baseline), then measures them."""

import os

from jaxgen import experiment

CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "config.py")

if __name__ == "__main__":
  experiment.run_main(experiment.train_cgan, experiment.check_cgan_config, CONFIG)
