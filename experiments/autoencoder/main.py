"""Trains the chapter's autoencoder, writes its loss curve and reconstructions; see config.py."""

import os

from jaxgen import experiment

CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "config.py")

if __name__ == "__main__":
  experiment.run_main(experiment.train_autoencoder, experiment.check_autoencoder_config, CONFIG)
