"""Trains StyleGAN2 and a DCGAN of equal steps, then measures them, style mixing, path lengths in W and Z, and psi."""

import os

from jaxgen import experiment

CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "config.py")

if __name__ == "__main__":
  experiment.run_main(experiment.train_stylegan, experiment.check_stylegan_config, CONFIG)
