"""Loaders for data files in a local folder, for machines without a network.

* MNIST in its original IDX format (LeCun et al.): `train-images-idx3-ubyte`,
  `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
  `t10k-labels-idx1-ubyte`, each gzipped (`.gz`) or not.
* Binarized MNIST (Larochelle & Murray, 2011) as `binarized_mnist.npz` with
  uint8 arrays `train` (50000, 784), `valid` (10000, 784), `test` (10000, 784)
  of zeros and ones.

Files are looked for in `data_dir` itself and in `data_dir/<dataset name>/`, so
one folder holding `mnist/` and `binarized_mnist/` serves both datasets.
"""

from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

from jaxgen.data._dataset import DatasetNotFoundError, ImageDataset

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
BINARIZED_MNIST_FILE = "binarized_mnist.npz"

# IDX type codes (third byte of the magic number) and their big-endian dtypes.
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: str) -> np.ndarray:
  """Reads one IDX file (gzipped if its name ends in `.gz`) into an array.

  Format: magic number (two zero bytes, a type code, the number of
  dimensions), the dimensions as big-endian int32, then the values row-major.
  MNIST images have magic 2051 (uint8, 3 dims), labels 2049 (uint8, 1 dim).
  """
  opener = gzip.open if path.endswith(".gz") else open
  try:
    with opener(path, "rb") as f:
      data = f.read()
  except (OSError, EOFError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
    raise ValueError(f"{path} cannot be read ({type(e).__name__}: {e}): the file is corrupt or truncated, "
                     "download it again.") from None
  if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
    raise ValueError(f"{path} is not an IDX file (bad magic number {data[:4]!r}).")
  dtype, ndim = _IDX_DTYPES[data[2]], data[3]
  header = 4 + 4 * ndim
  dims = tuple(int(d) for d in np.frombuffer(data, ">i4", count=ndim, offset=4))
  expected = header + int(np.prod(dims)) * dtype.itemsize
  if len(data) != expected:
    raise ValueError(
        f"{path} holds {len(data)} bytes but its header {dims} implies {expected};"
        " the file is truncated or corrupt, download it again."
    )
  return np.frombuffer(data, dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def _candidate_dirs(data_dir: str, name: str) -> list[str]:
  return [data_dir, os.path.join(data_dir, name)]


def find_mnist_idx(data_dir: str | None, name: str = "mnist") -> dict[str, str] | None:
  """Paths of the four IDX files of MNIST (or Fashion-MNIST, same names) in `data_dir` or `data_dir/<name>`, or None."""
  if data_dir is None:
    return None
  for folder in _candidate_dirs(os.fspath(data_dir), name):
    paths = {}
    for key, stem in MNIST_FILES.items():
      for candidate in (stem + ".gz", stem):
        if os.path.isfile(os.path.join(folder, candidate)):
          paths[key] = os.path.join(folder, candidate)
          break
    if len(paths) == len(MNIST_FILES):
      return paths
  return None


def find_binarized_mnist_npz(data_dir: str | None) -> str | None:
  """Path of `binarized_mnist.npz` in `data_dir` (or `data_dir/binarized_mnist`), or None."""
  if data_dir is None:
    return None
  for folder in _candidate_dirs(os.fspath(data_dir), "binarized_mnist"):
    path = os.path.join(folder, BINARIZED_MNIST_FILE)
    if os.path.isfile(path):
      return path
  return None


def load_mnist_idx(data_dir: str, name: str = "mnist") -> ImageDataset:
  """MNIST (or Fashion-MNIST) from the four IDX files: 60000 train / 10000 test, (28, 28, 1) in [0, 1]."""
  paths = find_mnist_idx(data_dir, name)
  if paths is None:
    raise DatasetNotFoundError(
        f"no {name} IDX files in {data_dir!r} or {os.path.join(data_dir, name)!r}: put"
        f" {', '.join(s + '.gz' for s in MNIST_FILES.values())} there."
    )
  arrays = {key: read_idx(path) for key, path in paths.items()}
  images = {}
  for split in ("train", "test"):
    x, y = arrays[f"{split}_images"], arrays[f"{split}_labels"]
    if x.ndim != 3 or y.ndim != 1 or x.shape[0] != y.shape[0]:
      raise ValueError(
          f"{name} {split} files disagree: images {x.shape}, labels {y.shape};"
          " expected (N, 28, 28) images and (N,) labels."
      )
    images[split] = (x.astype(np.float32) / 255.0)[..., None]
  return ImageDataset(
      name=name,
      train=images["train"],
      test=images["test"],
      train_labels=arrays["train_labels"].astype(np.int32),
      test_labels=arrays["test_labels"].astype(np.int32),
      num_classes=10,
  )


def load_binarized_mnist_npz(data_dir: str) -> ImageDataset:
  """Binarized MNIST from `binarized_mnist.npz`: 50000 / 10000 / 10000 of (28, 28, 1) in {0, 1}."""
  path = find_binarized_mnist_npz(data_dir)
  if path is None:
    raise DatasetNotFoundError(
        f"no {BINARIZED_MNIST_FILE} in {data_dir!r} or"
        f" {os.path.join(data_dir, 'binarized_mnist')!r}: save the Larochelle & Murray"
        " arrays there as np.savez(path, train=..., valid=..., test=...) (uint8, 784 columns)."
    )
  with np.load(path) as npz:
    missing = {"train", "valid", "test"} - set(npz.files)
    if missing:
      raise ValueError(
          f"{path} must hold arrays 'train', 'valid' and 'test'; missing"
          f" {sorted(missing)} (found {sorted(npz.files)})."
      )
    splits = {k: npz[k] for k in ("train", "valid", "test")}
  images = {}
  for split, x in splits.items():
    if x.ndim != 2 or x.shape[1] != 28 * 28:
      raise ValueError(
          f"{path}: array {split!r} has shape {x.shape}; expected (N, 784) rows of"
          " 28x28 images."
      )
    if not np.isin(x, (0, 1)).all():
      # Not the static binarization: binarize='static' cannot help (this loader is for binary data).
      values = np.unique(x)
      raise ValueError(
          f"{path}: array {split!r} holds values other than 0 and 1 (e.g. {values[~np.isin(values, (0, 1))][:3].tolist()}), "
          "so it is not the static binarization of Larochelle & Murray: save the 0/1 arrays there, or load grey "
          "MNIST with data.name='mnist' and data.binarize='static' or 'dynamic'."
      )
    images[split] = x.astype(np.float32).reshape(-1, 28, 28, 1)
  return ImageDataset(
      name="binarized_mnist",
      train=images["train"],
      valid=images["valid"],
      test=images["test"],
      binarization="static",
  )
