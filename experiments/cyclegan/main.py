"""Trains CycleGAN on two unpaired digit domains (an oracle pair, or MNIST <-> the 8x8 digits) and measures it."""

import os

from jaxgen import experiment

CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "config.py")

if __name__ == "__main__":
  experiment.run_main(experiment.train_cyclegan, experiment.check_cyclegan_config, CONFIG)
