"""Trains the PacGAN 2-D toy GAN for several trials and reports mode coverage; see config.py."""

import os

from jaxgen import experiment

CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "config.py")

if __name__ == "__main__":
  experiment.run_main(experiment.train_gan_toy, experiment.check_gan_toy_config, CONFIG)
