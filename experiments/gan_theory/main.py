"""Measures the 2014 GAN theory in 1-D: D vs D*, V(G, D) vs -log 4 + 2 JSD, then JSD falling; see config.py."""

import os

from jaxgen import experiment

CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "config.py")

if __name__ == "__main__":
  experiment.run_main(experiment.train_gan_theory, experiment.check_gan_theory_config, CONFIG)
