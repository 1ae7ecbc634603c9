"""Datasets read through `tfds.data_source`: random access, no TensorFlow.

`tfds.data_source` reads datasets prepared in the ArrayRecord format. Every
record is read once and stacked into numpy arrays; the datasets here are small
enough to live in memory.
"""

from __future__ import annotations

import contextlib

import numpy as np
from absl import logging

from jaxgen.data._dataset import DatasetNotFoundError, ImageDataset

# name -> (tfds splits in the order train, test[, validation], has labels,
# images already binary, number of classes).
TFDS_DATASETS = {
    "mnist": (("train", "test"), True, False, 10),
    "fashion_mnist": (("train", "test"), True, False, 10),
    "cifar10": (("train", "test"), True, False, 10),
    "binarized_mnist": (("train", "test", "validation"), False, True, None),
}


@contextlib.contextmanager
def _absl_errors_only():
  verbosity = logging.get_verbosity()
  logging.set_verbosity(logging.ERROR)
  try:
    yield
  finally:
    logging.set_verbosity(verbosity)


def download_hint(name: str, data_dir: str | None) -> str:
  """How to prepare `name` for `tfds.data_source` on a machine with a network."""
  where = "" if data_dir is None else f", data_dir={str(data_dir)!r}"
  return (
      "on a machine with a network run `python -c \"import tensorflow_datasets as tfds;"
      f" tfds.data_source({name!r}{where}, download=True)\"` (or call"
      " load_dataset(..., download=True)) and copy the data_dir over"
  )


def load_tfds(name: str, *, data_dir: str | None = None, download: bool = False) -> ImageDataset:
  """Loads one of `TFDS_DATASETS` with `tfds.data_source` into memory.

  Args:
    name: a key of `TFDS_DATASETS`.
    data_dir: tfds data directory (None: tfds's default, `TFDS_DATA_DIR` or
      ~/tensorflow_datasets).
    download: let tfds download and prepare the data if it is missing.

  Returns:
    The dataset, images float32 in [0, 1] (uint8 / 255; binarized MNIST is
    stored as 0/1 and kept as is).

  Raises:
    DatasetNotFoundError: the data is not prepared in `data_dir`.
  """
  import tensorflow_datasets as tfds  # Imported here: digits and local files do not need it.

  splits, has_labels, binary, num_classes = TFDS_DATASETS[name]
  try:
    # tfds logs its search of data_dir at WARNING before it raises; the error below says it in one line.
    with _absl_errors_only():
      sources = tfds.data_source(name, split=list(splits), data_dir=data_dir, download=download)
  except (KeyError, AssertionError, NotImplementedError, FileNotFoundError, OSError) as e:
    # tfds signals unprepared data in several ways (an empty split dict, the
    # TFRecord format being unsupported, a missing directory); the original
    # error stays attached as __cause__.
    where = "tfds's default data_dir" if data_dir is None else f"data_dir={data_dir!r}"
    raise DatasetNotFoundError(
        f"tfds dataset {name!r} is not prepared (in ArrayRecord format) in {where};"
        f" {download_hint(name, data_dir)}."
    ) from e

  arrays = {}
  for split, source in zip(splits, sources):
    records = [source[i] for i in range(len(source))]
    images = np.stack([np.asarray(r["image"]) for r in records])
    if images.dtype != np.uint8:
      raise ValueError(f"tfds {name} {split} images have dtype {images.dtype}, expected uint8.")
    # Binarized MNIST holds 0/1 bytes; scaling them by 1/255 would be wrong.
    images = images.astype(np.float32) if binary else images.astype(np.float32) / 255.0
    labels = (
        np.asarray([r["label"] for r in records], np.int32) if has_labels else None
    )
    arrays[split] = (images, labels)

  valid = arrays.get("validation", (None, None))
  return ImageDataset(
      name=name,
      train=arrays["train"][0],
      test=arrays["test"][0],
      valid=valid[0],
      train_labels=arrays["train"][1],
      test_labels=arrays["test"][1],
      valid_labels=valid[1],
      num_classes=num_classes,
      binarization="static" if binary else "none",
  )
