"""scikit-learn's bundled handwritten digits: real data with no download.

1797 greyscale 8x8 images of the digits 0-9 (the UCI "Optical Recognition of
Handwritten Digits" test set), shipped inside scikit-learn, so the default
experiments run on a machine without a network.
"""

from __future__ import annotations

import numpy as np

from jaxgen.data._dataset import ImageDataset

# A fixed split: a permutation from this seed, the last NUM_TEST images are the
# test set. Pinned so that numbers reported on "digits" are comparable.
SPLIT_SEED = 0
NUM_TEST = 300


def load_digits() -> ImageDataset:
  """The 1797 digits as float32 (8, 8, 1) in [0, 1]: 1497 train, 300 test.

  Pixel values are counts 0..16 (each pixel sums a 4x4 block of a 32x32 binary
  bitmap), so they are divided by 16. The split is a permutation seeded with
  `SPLIT_SEED`, identical on every machine.
  """
  from sklearn import datasets  # Imported here: only this loader needs it.

  bunch = datasets.load_digits()
  images = (bunch.images / 16.0).astype(np.float32)[..., None]
  labels = bunch.target.astype(np.int32)
  order = np.random.default_rng(SPLIT_SEED).permutation(images.shape[0])
  train, test = order[:-NUM_TEST], order[-NUM_TEST:]
  return ImageDataset(
      name="digits",
      train=images[train],
      test=images[test],
      train_labels=labels[train],
      test_labels=labels[test],
      num_classes=10,
  )
