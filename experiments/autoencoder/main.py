"""Trains the chapter autoencoder; see config.py for the presets, commands and expected results.

  python -m experiments.autoencoder.main --workdir=/tmp/ae_digits
  python -m experiments.autoencoder.main --config=experiments/autoencoder/config.py:mnist \
      --data_dir=/path/to/mnist_idx --workdir=/tmp/ae_bmnist
"""

import json

from absl import app, flags
from ml_collections import config_flags

from experiments.autoencoder import train as ae_train

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", "experiments/autoencoder/config.py", "Config file (optionally :preset).", lock_config=False)
flags.DEFINE_string("workdir", None, "Directory for checkpoints, metrics, pictures and results.json.", required=True)
flags.DEFINE_string("data_dir", None, "Folder with local data files or tfds data (not needed for digits).")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  results = ae_train.train_and_evaluate(FLAGS.config, FLAGS.workdir, FLAGS.data_dir)
  print(json.dumps(results, indent=2))


if __name__ == "__main__":
  app.run(main)
