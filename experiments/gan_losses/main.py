"""Trains DCGAN with each loss of the study and several seeds, then compares their LeNet-FID; see config.py."""

import os

from jaxgen import experiment

CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "config.py")

if __name__ == "__main__":
  experiment.run_main(experiment.train_loss_study, experiment.check_loss_study_config, CONFIG)
