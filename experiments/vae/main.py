"""Trains the MLP VAE, evaluates its test ELBO and IWAE NLL, draws it; see config.py for the presets."""

import os

from jaxgen import experiment

CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "config.py")

if __name__ == "__main__":
  experiment.run_main(experiment.train_vae, experiment.check_vae_config, CONFIG)
