"""`load_dataset`: one entry point from a name to an `ImageDataset`."""

from __future__ import annotations

import dataclasses
import difflib
import functools
import os

from jaxgen.data import _digits, _local, _tfds
from jaxgen.data._binarize import binarize_static
from jaxgen.data._dataset import BINARIZATIONS, DatasetNotFoundError, ImageDataset

DATASETS = ("digits", "mnist", "fashion_mnist", "binarized_mnist", "cifar10")
SOURCES = ("auto", "local", "tfds", "sklearn")

# Local-file loaders, tried before tfds when data_dir holds their files.
_LOCAL = {
    "mnist": (_local.find_mnist_idx, _local.load_mnist_idx),
    # Fashion-MNIST ships in MNIST's IDX layout, under the same file names.
    "fashion_mnist": (functools.partial(_local.find_mnist_idx, name="fashion_mnist"),
                      functools.partial(_local.load_mnist_idx, name="fashion_mnist")),
    "binarized_mnist": (_local.find_binarized_mnist_npz, _local.load_binarized_mnist_npz),
}


def check_dataset_name(name: str) -> str:
  """Returns the canonical name ('Fashion-MNIST' -> 'fashion_mnist') or raises.

  Raises:
    ValueError: unknown name; the message lists the known names and the
      nearest one.
  """
  canonical = str(name).strip().lower().replace("-", "_")
  if canonical in DATASETS:
    return canonical
  close = difflib.get_close_matches(canonical, DATASETS, n=1, cutoff=0.5)
  hint = f" Did you mean {close[0]!r}?" if close else ""
  raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}.{hint}")


def load_dataset(
    name: str,
    *,
    data_dir: str | os.PathLike | None = None,
    source: str = "auto",
    binarize: str = "none",
    download: bool = False,
) -> ImageDataset:
  """Loads a dataset into memory as float32 images in [0, 1].

  Sources, by `source`:
    * "auto": "digits" from scikit-learn; "mnist" from the IDX files and
      "binarized_mnist" from `binarized_mnist.npz` when `data_dir` (or
      `data_dir/<name>/`) holds them; otherwise `tfds.data_source` with
      `data_dir` as the tfds data directory.
    * "local": only the local files ("mnist", "binarized_mnist").
    * "tfds": only `tfds.data_source` (all but "digits").
    * "sklearn": only "digits".

  Args:
    name: one of `DATASETS` ("digits", "mnist", "fashion_mnist",
      "binarized_mnist", "cifar10"); case and '-' vs '_' do not matter.
    data_dir: folder with local files and/or tfds data.
    source: "auto", "local", "tfds" or "sklearn", as above.
    binarize: "none" keeps grey values; "static" thresholds every split once
      at 0.5 (`binarize_static`); "dynamic" keeps grey values and marks the
      dataset `binarization="dynamic"` for the train step to resample
      x ~ Bernoulli(pixel) every batch. Binarized MNIST is binary already
      ("none" and "static" both return it as is).
    download: let tfds download and prepare missing data (needs a network).

  Returns:
    The `ImageDataset`.

  Raises:
    ValueError: unknown name, source or binarization.
    DatasetNotFoundError: the data is not on this machine; the message says
      how to get it.
  """
  name = check_dataset_name(name)
  if source not in SOURCES:
    raise ValueError(f"source must be one of {SOURCES}, got {source!r}.")
  if binarize not in BINARIZATIONS:
    raise ValueError(f"binarize must be one of {BINARIZATIONS}, got {binarize!r}.")
  data_dir = None if data_dir is None else os.fspath(data_dir)
  if data_dir is not None and name != "digits":
    if not os.path.isdir(data_dir):
      raise DatasetNotFoundError(f"data_dir {data_dir} does not exist or is not a folder: pass the folder that "
                                 f"holds the {name} files (--data_dir)")

  if name == "digits":
    if source not in ("auto", "sklearn"):
      raise ValueError(f"'digits' ships with scikit-learn; use source='auto' or 'sklearn', not {source!r}.")
    dataset = _digits.load_digits()
  elif source == "sklearn":
    raise ValueError(f"source='sklearn' only provides 'digits', not {name!r}.")
  elif source == "local" or (source == "auto" and name in _LOCAL and _LOCAL[name][0](data_dir)):
    if name not in _LOCAL:
      raise ValueError(
          f"no local-file loader for {name!r} (only {', '.join(_LOCAL)}); use source='tfds'."
      )
    if data_dir is None:
      raise DatasetNotFoundError(f"source='local' needs data_dir, the folder holding the {name} files.")
    dataset = _LOCAL[name][1](data_dir)
  else:
    try:
      dataset = _tfds.load_tfds(name, data_dir=data_dir, download=download)
    except DatasetNotFoundError as e:
      if name in ("mnist", "fashion_mnist") and source == "auto":
        raise DatasetNotFoundError(
            f"{e} Or pass a data_dir holding"
            f" {', '.join(s + '.gz' for s in _local.MNIST_FILES.values())}."
        ) from e.__cause__
      if name == "binarized_mnist" and source == "auto":
        raise DatasetNotFoundError(
            f"{e} Or pass a data_dir holding {_local.BINARIZED_MNIST_FILE}"
            " (arrays train, valid, test of shape (N, 784), uint8 in {0, 1})."
        ) from e.__cause__
      raise

  return _apply_binarization(dataset, binarize)


def _apply_binarization(dataset: ImageDataset, binarize: str) -> ImageDataset:
  if dataset.binarization == "static":
    if binarize == "dynamic":
      raise ValueError(
          f"{dataset.name} is already binary; dynamic binarization needs grey"
          " values (use binarize='none', or a grey dataset such as 'mnist')."
      )
    return dataset
  if binarize == "static":
    return dataclasses.replace(
        dataset,
        train=binarize_static(dataset.train),
        test=binarize_static(dataset.test),
        valid=None if dataset.valid is None else binarize_static(dataset.valid),
        binarization="static",
    )
  return dataclasses.replace(dataset, binarization=binarize) if binarize == "dynamic" else dataset
