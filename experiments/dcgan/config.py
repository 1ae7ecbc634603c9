"""DCGAN (Radford, Metz and Chintala 2015) with sample grids written as training goes.

Run (from the repository root):

  # offline default: the 8x8 scikit-learn digits, about a minute on 2 CPU cores
  python -m experiments.dcgan.main --workdir=/tmp/dcgan_digits

  # MNIST 28x28 (IDX .gz files in DATA_DIR, or tfds)
  python -m experiments.dcgan.main --workdir=/tmp/dcgan_mnist \
      --config=experiments/dcgan/config.py:mnist --data_dir=DATA_DIR

  # CIFAR-10 32x32x3 (tfds data in DATA_DIR)
  python -m experiments.dcgan.main --workdir=/tmp/dcgan_cifar10 \
      --config=experiments/dcgan/config.py:cifar10 --data_dir=DATA_DIR

Writes samples/step_<n>.png for one fixed latent batch every
``train.sample_every`` steps, samples.png at the end, metrics.jsonl,
loss_curves.png, gan_curves.png (D(x), D(G(z))) and summary.json.

Training as in Section 4 of the paper: batch 128, Adam lr 2e-4 with beta1 0.5
(``train.b1``) for both networks, weights from N(0, 0.02), images scaled to
[-1, 1] (tanh output). The generator uses the non-saturating loss -log D(G(z)).

Measured (2 shared CPU cores, no GPU; the machine was loaded by other jobs):
digits preset, 1,500 steps at batch 128 in 210 s (9.4 steps/s median),
blurry digit-like samples, D(x) ~ D(G(z)) ~ 0.5 at the end. MNIST preset with
--config.model.features=16 --config.train.batch_size=64: 2.5 s per step
(0.40 steps/s median, 0.78 when the machine was quieter); after 300 steps
(0.3 epoch) the samples are stroke-like digit shapes. The full-width MNIST
preset (features 64, batch 128) costs ~16x more per step: use an accelerator.
"""

import ml_collections

from jaxgen import experiment


def get_config(preset: str = "digits") -> ml_collections.ConfigDict:
  """Presets: "digits" (default, offline), "mnist", "cifar10" (``jaxgen.experiment.dcgan_config``)."""
  return experiment.dcgan_config(preset)
