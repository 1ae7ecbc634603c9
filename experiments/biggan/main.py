"""Trains BigGAN with and without orthogonal regularisation, then measures the raw and EMA generators and the truncation sweep."""

import os

from jaxgen import experiment

CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "config.py")

if __name__ == "__main__":
  experiment.run_main(experiment.train_biggan, experiment.check_biggan_config, CONFIG)
