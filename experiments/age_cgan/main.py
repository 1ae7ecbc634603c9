"""Trains Age-cGAN's conditional GAN and encoder on digits grouped by stroke thickness, then re-ages test digits."""

import os

from jaxgen import experiment

CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "config.py")

if __name__ == "__main__":
  experiment.run_main(experiment.train_age_cgan, experiment.check_age_cgan_config, CONFIG)
