"""Trains StackGAN's Stage-I (with and without conditioning augmentation) and Stage-II on captioned digits."""

import os

from jaxgen import experiment

CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "config.py")

if __name__ == "__main__":
  experiment.run_main(experiment.train_stackgan, experiment.check_stackgan_config, CONFIG)
