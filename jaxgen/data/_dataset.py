"""The in-memory image dataset every loader returns, and its checks.

All datasets jaxgen trains on (digits, MNIST, Fashion-MNIST, binarized MNIST,
CIFAR-10) fit in host memory, so a dataset is a handful of numpy arrays; the
training code moves them to the device once and runs whole epochs inside
`jax.lax.scan`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

BINARIZATIONS = ("none", "static", "dynamic")


class DatasetNotFoundError(FileNotFoundError):
  """The requested data is not on this machine; the message says how to get it."""


def check_images(
    x: Any,
    *,
    image_shape: tuple[int, ...] | None = None,
    binary: bool = False,
    what: str = "images",
) -> None:
  """Checks a batch of images once, before any compute, with one-line errors.

  Args:
    x: array (N, H, W, C) of images (numpy or jax; copied to the host).
    image_shape: (H, W, C) the model expects, or None to skip the shape check.
    binary: also require every value to be exactly 0 or 1 (a dataset that was
      binarized statically).
    what: how the error messages name `x` (e.g. "train images").

  Raises:
    ValueError: on a wrong rank, a shape or channel count different from
      `image_shape`, NaN or infinite values, values outside [0, 1] (a
      Bernoulli likelihood needs them in [0, 1]), or non-binary values when
      `binary` is set.
  """
  x = np.asarray(x)
  if x.ndim != 4:
    raise ValueError(
        f"{what} must have shape (N, H, W, C), got shape {x.shape}; add a"
        " channel axis with x[..., None] for greyscale images."
    )
  if image_shape is not None:
    image_shape = tuple(int(d) for d in image_shape)
    if len(image_shape) != 3:
      raise ValueError(f"image_shape must be (H, W, C), got {image_shape}.")
    if x.shape[-1] != image_shape[-1]:
      raise ValueError(
          f"{what} have {x.shape[-1]} channel(s) but the model expects"
          f" {image_shape[-1]} (image_shape {image_shape}); set the model's"
          f" image_shape to {tuple(x.shape[1:])} or pick a dataset with"
          f" {image_shape[-1]} channel(s)."
      )
    if tuple(x.shape[1:]) != image_shape:
      raise ValueError(
          f"{what} have shape {tuple(x.shape[1:])} but the model expects"
          f" {image_shape}; set the model's image_shape to"
          f" {tuple(x.shape[1:])}."
      )
  if x.size == 0:
    return
  if not np.issubdtype(x.dtype, np.floating):
    raise ValueError(
        f"{what} have dtype {x.dtype}; convert them to float32 in [0, 1]"
        " (e.g. uint8 images divided by 255)."
    )
  nan = np.isnan(x)
  if nan.any():
    first = tuple(int(i) for i in np.argwhere(nan)[0])
    raise ValueError(
        f"{what} contain {int(nan.sum())} NaN value(s) (first at index"
        f" {first}); clean or drop those images."
    )
  lo, hi = float(x.min()), float(x.max())
  if not (np.isfinite(lo) and np.isfinite(hi)):
    raise ValueError(f"{what} contain infinite values; clean or drop those images.")
  if lo < 0.0 or hi > 1.0:
    raise ValueError(
        f"{what} must lie in [0, 1] (a Bernoulli likelihood needs values in"
        f" [0, 1]) but range over [{lo:g}, {hi:g}]; divide uint8 images by 255."
    )
  if binary and not np.all((x == 0.0) | (x == 1.0)):
    raise ValueError(
        f"{what} must be binary (0 or 1) but hold values strictly between 0"
        " and 1; binarize them (binarize='static') or set binary=False."
    )


def _check_labels(labels: np.ndarray | None, images: np.ndarray, what: str) -> None:
  if labels is None:
    return
  if labels.shape != (images.shape[0],):
    raise ValueError(
        f"{what} labels have shape {labels.shape} but there are"
        f" {images.shape[0]} images; expected shape ({images.shape[0]},)."
    )
  if labels.dtype != np.int32:
    raise ValueError(f"{what} labels must be int32, got {labels.dtype}.")


@dataclasses.dataclass(frozen=True, eq=False)
class ImageDataset:
  """Images as float32 arrays (N, H, W, C) in [0, 1], split in train/test.

  Construction checks the invariants (rank, shared image shape, float32,
  finite values in [0, 1], binary values when `binarization == "static"`,
  label lengths), so code holding an `ImageDataset` can rely on them.

  Attributes:
    name: dataset name, e.g. "mnist".
    train: float32 (N, H, W, C) training images in [0, 1].
    test: float32 (M, H, W, C) test images in [0, 1].
    valid: float32 (V, H, W, C) validation images, or None.
    train_labels: int32 (N,) class labels, or None (unlabelled data).
    test_labels: int32 (M,) class labels, or None.
    valid_labels: int32 (V,) class labels, or None.
    num_classes: number of classes of the labels, or None.
    class_names: name of each class, indexed by label (e.g. the sorted class
      folders of `load_image_folder`), or None.
    binarization: "none" (grey values), "static" (values are exactly 0 or 1)
      or "dynamic" (grey values here; the train step draws
      x ~ Bernoulli(pixel) afresh for every batch).
  """

  name: str
  train: np.ndarray
  test: np.ndarray
  valid: np.ndarray | None = None
  train_labels: np.ndarray | None = None
  test_labels: np.ndarray | None = None
  valid_labels: np.ndarray | None = None
  num_classes: int | None = None
  binarization: str = "none"
  class_names: tuple[str, ...] | None = None

  def __post_init__(self):
    if self.binarization not in BINARIZATIONS:
      raise ValueError(
          f"binarization must be one of {BINARIZATIONS}, got {self.binarization!r}."
      )
    if self.class_names is not None and len(self.class_names) != self.num_classes:
      raise ValueError(
          f"{self.name} has {len(self.class_names)} class names but num_classes ="
          f" {self.num_classes}; give one name per class."
      )
    splits = [("train", self.train, self.train_labels), ("test", self.test, self.test_labels)]
    if self.valid is not None:
      splits.append(("valid", self.valid, self.valid_labels))
    elif self.valid_labels is not None:
      raise ValueError("valid_labels given without valid images.")
    shape = tuple(self.train.shape[1:])
    for split, images, labels in splits:
      what = f"{self.name} {split} images"
      if not isinstance(images, np.ndarray) or images.dtype != np.float32:
        raise ValueError(f"{what} must be a float32 numpy array, got {type(images).__name__}"
                         f" of dtype {getattr(images, 'dtype', None)}.")
      check_images(images, image_shape=shape if images.ndim == 4 else None,
                   binary=self.binarization == "static", what=what)
      _check_labels(labels, images, f"{self.name} {split}")

  @property
  def image_shape(self) -> tuple[int, int, int]:
    """(H, W, C) of one image."""
    return tuple(int(d) for d in self.train.shape[1:])

  @property
  def num_train(self) -> int:
    return int(self.train.shape[0])

  @property
  def num_test(self) -> int:
    return int(self.test.shape[0])

  @property
  def has_labels(self) -> bool:
    return self.train_labels is not None

  def __repr__(self) -> str:
    valid = "" if self.valid is None else f", valid={self.valid.shape[0]}"
    return (
        f"ImageDataset(name={self.name!r}, image_shape={self.image_shape},"
        f" train={self.num_train}{valid}, test={self.num_test},"
        f" num_classes={self.num_classes}, binarization={self.binarization!r})"
    )
