"""Trains Pix2pix on synthesised digit pairs with each objective and discriminator of Isola et al.'s ablations."""

import os

from jaxgen import experiment

CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "config.py")

if __name__ == "__main__":
  experiment.run_main(experiment.train_pix2pix, experiment.check_pix2pix_config, CONFIG)
