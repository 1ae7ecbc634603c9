"""Trains DCGAN and writes sample grids as it goes; see config.py."""

import os

from jaxgen import experiment

CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "config.py")

if __name__ == "__main__":
  experiment.run_main(experiment.train_dcgan, experiment.check_gan_config, CONFIG)
