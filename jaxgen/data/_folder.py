"""Image folders on disk: labelled classes, and the two layouts of image translation.

Each loader reads image files into float32 (N, H, W, C) arrays in [0, 1]:

* `load_image_folder(root)`: `root/<class>/*.png` with labels = index of the
  class folder in sorted order (as torchvision's `ImageFolder`), or
  `root/*.png` unlabelled; already split when `root/train/` and `root/test/`
  (or `root/val/`) exist.
* `load_unpaired_folder(root)`: the unaligned layout of
  junyanz/pytorch-CycleGAN-and-pix2pix (`datasets/horse2zebra/trainA`,
  `trainB`, `testA`, `testB`), two unlabelled domains of any sizes.
* `read_image_files(folder)`: every image below a folder, unlabelled and
  unsplit, with its path (the input of `python -m jaxgen.translate`).
* `load_paired_folder(root)`: its aligned layout (`datasets/facades/train/`,
  `val/`, `test/`), each file one image with A in its left half and B in its
  right half.

Files are taken in sorted order of their path below the folder they were
found in; hidden files (names starting with '.', e.g. macOS `._x.jpg`) are
skipped. An image becomes 1 channel via Pillow's 'L' (ITU-R 601-2 luma,
L = 0.299 R + 0.587 G + 0.114 B) or 3 via 'RGB' (an alpha channel is dropped,
as pix2pix's `.convert('RGB')` does); 16-bit greyscale keeps its precision.
Augmentation (pix2pix's random crop and flip) is left to the training code.
"""

from __future__ import annotations

import numbers
import os

import numpy as np
from PIL import Image

from jaxgen.data._dataset import DatasetNotFoundError, ImageDataset

IMAGE_EXTENSIONS = (".bmp", ".jpeg", ".jpg", ".png", ".ppm", ".tif", ".tiff", ".webp")
DIRECTIONS = ("AtoB", "BtoA")

# Bicubic, as pix2pix/CycleGAN resize (`data/base_dataset.py`, get_transform's
# method=BICUBIC). Pillow widens the kernel by the shrink factor when
# downscaling, so this also antialiases: no moire on large reductions.
RESAMPLE = Image.Resampling.BICUBIC

_GREY_MODES = ("1", "L", "LA")
_EXTENSIONS_TEXT = ", ".join(IMAGE_EXTENSIONS)


# ----------------------------------------------------------------- arguments


def _check_image_size(image_size) -> tuple[int, int] | None:
  if image_size is None:
    return None
  size = (image_size, image_size) if isinstance(image_size, (int, np.integer)) else image_size
  try:
    size = tuple(size)
  except TypeError:
    size = ()
  if (len(size) != 2 or not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool)
                                 for d in size) or min(size) < 1):
    raise ValueError(
        f"image_size must be (H, W) with positive integers, or one integer for"
        f" square images, got {image_size!r}."
    )
  return int(size[0]), int(size[1])


def _check_args(image_size, channels, test_fraction, direction=None) -> tuple[int, int] | None:
  if channels is not None and (not isinstance(channels, (int, np.integer))
                               or isinstance(channels, bool) or channels not in (1, 3)):
    raise ValueError(
        f"channels must be 1 (greyscale), 3 (RGB) or None (from the first image),"
        f" got {channels!r}."
    )
  if (isinstance(test_fraction, bool) or not isinstance(test_fraction, numbers.Real)
      or not 0 <= test_fraction < 1):
    raise ValueError(f"test_fraction must lie in [0, 1), got {test_fraction!r}.")
  if direction is not None and direction not in DIRECTIONS:
    raise ValueError(f"direction must be 'AtoB' or 'BtoA', got {direction!r}.")
  return _check_image_size(image_size)


def _check_dir(path, what: str, layout: str) -> str:
  path = os.fspath(path)
  if os.path.isdir(path):
    return path
  if os.path.exists(path):
    raise DatasetNotFoundError(f"{what} {path} is a file, not a folder; pass the folder (expected layout: {layout}).")
  raise DatasetNotFoundError(f"{what} {path} does not exist; check the path (expected layout: {layout}).")


def _name_of(root: str) -> str:
  return os.path.basename(os.path.normpath(os.path.abspath(root)))


# ----------------------------------------------------------------- finding files


def _is_image(name: str) -> bool:
  return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def _list_images(folder: str) -> list[str]:
  """Image files in `folder` and its sub-folders, sorted by their relative path."""
  paths = []
  for dirpath, dirnames, filenames in os.walk(folder):
    dirnames[:] = [d for d in dirnames if not d.startswith(".")]
    paths.extend(os.path.join(dirpath, n) for n in filenames if _is_image(n))
  # Sorting on path components, not the joined string, keeps "a/x.png" next
  # to "a/y.png" whatever the separator sorts like.
  return sorted(paths, key=lambda p: os.path.relpath(p, folder).split(os.sep))


def _require_images(folder: str, what: str) -> list[str]:
  paths = _list_images(folder)
  if not paths:
    raise DatasetNotFoundError(
        f"{what} {folder} holds no images (accepted extensions: {_EXTENSIONS_TEXT});"
        " put the image files there."
    )
  return paths


def _scan_classes(
    folder: str, class_names: tuple[str, ...] | None = None, like: str | None = None
) -> tuple[list[str], np.ndarray | None, tuple[str, ...] | None]:
  """The image files of one split folder, with labels when it has class folders.

  Args:
    folder: holds either one sub-folder per class or the images themselves.
    class_names: the classes of the train split, to label a test split with
      the same indices; None to take this folder's sorted sub-folders.
    like: the train folder, named in errors about a test folder.

  Returns:
    (paths, labels, class_names): labels int32 (N,) and class_names None when
    the images lie directly in `folder`.
  """
  names = sorted(os.listdir(folder))
  classes = [n for n in names if not n.startswith(".") and os.path.isdir(os.path.join(folder, n))]
  loose = [n for n in names if _is_image(n) and os.path.isfile(os.path.join(folder, n))]
  if classes and loose:
    raise ValueError(
        f"{folder} holds both class folders ({classes[0]}, ...) and {len(loose)} loose"
        f" image(s) ({loose[0]}, ...); move the images into a class folder."
    )
  if like is not None and bool(classes) != (class_names is not None):
    has, lacks = (folder, like) if classes else (like, folder)
    raise ValueError(
        f"{has} holds class folders but {lacks} holds images directly; give both"
        " splits the same layout."
    )
  if not classes:
    if not loose:
      raise DatasetNotFoundError(
          f"{folder} holds no images (accepted extensions: {_EXTENSIONS_TEXT}) and no"
          " class folders; put the images in it, or in one sub-folder per class."
      )
    return [os.path.join(folder, n) for n in loose], None, None
  if class_names is None:
    class_names = tuple(classes)
  paths, labels = [], []
  for name in classes:
    if name not in class_names:
      raise ValueError(
          f"class folder {os.path.join(folder, name)} has no counterpart in {like};"
          f" add {os.path.join(like, name)} or remove it."
      )
    files = _list_images(os.path.join(folder, name))
    if not files:
      raise DatasetNotFoundError(
          f"class folder {os.path.join(folder, name)} holds no images (accepted"
          f" extensions: {_EXTENSIONS_TEXT}); add images or delete the folder."
      )
    paths.extend(files)
    labels.extend([class_names.index(name)] * len(files))
  return paths, np.asarray(labels, np.int32), class_names


def _find_splits(root: str, suffix: str = "") -> tuple[str | None, str | None, str | None]:
  """(train, test, valid) folders `root/train<suffix>` etc.; None where absent.

  The test split is `test<suffix>/`, else `val<suffix>/`; `val<suffix>/` is
  the validation split only when both exist (pix2pix's facades has all three).
  """
  def folder(split):
    path = os.path.join(root, split + suffix)
    return path if os.path.isdir(path) else None

  test, valid = folder("test"), folder("val")
  if test is None:
    test, valid = valid, None
  return folder("train"), test, valid


def _split_indices(
    n: int, labels: np.ndarray | None, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
  """Deterministic train/test indices, stratified by class when labelled.

  Each class (or the whole set) of n_c images gives floor(n_c * test_fraction
  + 0.5) images to the test split, at most n_c - 1 so that every class keeps a
  training image; both index arrays are sorted, keeping the file order.
  """
  rng = np.random.default_rng(seed)
  groups = [np.arange(n)] if labels is None else [np.flatnonzero(labels == c)
                                                  for c in np.unique(labels)]
  test = []
  for group in groups:
    k = min(int(np.floor(len(group) * test_fraction + 0.5)), len(group) - 1)
    test.extend(rng.permutation(group)[:k].tolist())
  test = np.sort(np.asarray(test, np.int64))
  return np.setdiff1d(np.arange(n), test), test


# ----------------------------------------------------------------- reading pixels


def _one_line(error: BaseException) -> str:
  return " ".join(str(error).split())


class _Reader:
  """Reads image files to float32 (H, W, C) arrays in [0, 1], all of one shape.

  Without `image_size`, the first file read fixes the size every other file
  must have; without `channels`, its Pillow mode fixes the channel count.
  """

  def __init__(self, image_size: tuple[int, int] | None, channels: int | None):
    self.image_size = image_size
    self.channels = channels
    self._first: tuple[str, tuple[int, int]] | None = None
    self.shape: tuple[int, int, int] | None = None

  def _open(self, path: str) -> Image.Image:
    try:
      with Image.open(path) as img:
        img.load()
    except (OSError, SyntaxError, ValueError) as e:
      # UnidentifiedImageError and truncated files are OSErrors; some broken
      # PNG chunks surface as SyntaxError.
      raise ValueError(
          f"cannot read image file {path} ({type(e).__name__}: {_one_line(e)});"
          " replace or delete the file."
      ) from e
    mode = img.mode
    if self.channels is None:
      self.channels = 1 if mode in _GREY_MODES or mode.startswith("I") else 3
    if mode.startswith("I"):
      # 16-bit greyscale: 'L' would clip it to 8 bits, so keep it as float 'F'.
      values = np.asarray(img, np.float32)
      if values.min() < 0 or values.max() > 65535:
        raise ValueError(
            f"{path} holds 32-bit integers outside 0..65535 (Pillow mode {mode});"
            " save it as an 8- or 16-bit image."
        )
      return Image.fromarray(values / np.float32(65535))
    if mode == "F":
      raise ValueError(
          f"{path} holds floating-point pixels of unknown range (Pillow mode F); save"
          " it as an 8- or 16-bit image."
      )
    return img.convert("L" if self.channels == 1 else "RGB")

  def _check_size(self, path: str, size: tuple[int, int], what: str) -> None:
    if self.image_size is not None:
      return
    if self._first is None:
      self._first = (path, size)
    elif size != self._first[1]:
      (h, w), (h0, w0) = size, self._first[1]
      raise ValueError(
          f"{what} {path} is {h}x{w} (HxW) but {self._first[0]} is {h0}x{w0}; pass"
          " image_size=(H, W) to resize all images to one size."
      )

  def _to_array(self, img: Image.Image) -> np.ndarray:
    if self.image_size is not None and img.size != self.image_size[::-1]:
      img = img.resize(self.image_size[::-1], RESAMPLE)  # Pillow sizes are (W, H).
    if img.mode == "F":
      # Bicubic overshoots near edges; 8-bit modes are clipped by Pillow itself.
      x = np.clip(np.asarray(img, np.float32), 0.0, 1.0)
    else:
      x = np.asarray(img, np.float32) / np.float32(255)
    if x.ndim == 2:
      x = x[..., None]
    if x.shape[-1] != self.channels:
      x = np.repeat(x, self.channels, axis=-1)  # 16-bit grey asked for as RGB.
    if self.shape is None:
      self.shape = x.shape
    return x

  def read(self, path: str) -> np.ndarray:
    """One image as float32 (H, W, C) in [0, 1]."""
    img = self._open(path)
    self._check_size(path, img.size[::-1], "image")
    return self._to_array(img)

  def read_pair(self, path: str) -> tuple[np.ndarray, np.ndarray]:
    """A side-by-side image A|B (H, 2W) as two float32 (H, W, C) images (A, B)."""
    img = self._open(path)
    w, h = img.size
    if w % 2:
      raise ValueError(
          f"paired image {path} is {w} pixels wide; an odd width cannot be split into"
          " equal A|B halves, so crop or pad it to an even width."
      )
    self._check_size(path, (h, w), "paired image")
    half = w // 2
    return self._to_array(img.crop((0, 0, half, h))), self._to_array(img.crop((half, 0, w, h)))


def _read_images(reader: _Reader, paths: list[str]) -> np.ndarray:
  """float32 (N, H, W, C); the first file read fixes (H, W, C)."""
  if not paths:
    return np.zeros((0, *reader.shape), np.float32)
  first = reader.read(paths[0])
  out = np.empty((len(paths), *first.shape), np.float32)  # no list + stack copy
  out[0] = first
  for i, path in enumerate(paths[1:], start=1):
    out[i] = reader.read(path)
  return out


def _read_pairs(reader: _Reader, paths: list[str]) -> tuple[np.ndarray, np.ndarray]:
  """Two float32 (N, H, W, C) arrays: left halves A and right halves B."""
  if not paths:
    empty = np.zeros((0, *reader.shape), np.float32)
    return empty, empty.copy()
  a0, b0 = reader.read_pair(paths[0])
  a = np.empty((len(paths), *a0.shape), np.float32)
  b = np.empty_like(a)
  a[0], b[0] = a0, b0
  for i, path in enumerate(paths[1:], start=1):
    a[i], b[i] = reader.read_pair(path)
  return a, b


def read_image_files(
    folder: str | os.PathLike,
    *,
    image_size: int | tuple[int, int] | None = None,
    channels: int | None = None,
) -> tuple[np.ndarray, list[str]]:
  """Every image file below `folder`, in sorted order: (float32 (N, H, W, C) in [0, 1], their paths).

  For images to translate or score, unlabelled and unsplit; sizes and channels
  as in :func:`load_image_folder`.
  """
  image_size = _check_args(image_size, channels, 0.0)
  folder = _check_dir(folder, "image folder", "folder/*.png (any depth)")
  paths = _require_images(folder, "image folder")
  return _read_images(_Reader(image_size, channels), paths), paths


def _take(paths: list[str], indices: np.ndarray) -> list[str]:
  return [paths[i] for i in indices]


# ----------------------------------------------------------------- loaders


_LABELLED_LAYOUT = "root/<class>/*.png, root/*.png, or root/train/ with root/test/ or root/val/"


def load_image_folder(
    root: str | os.PathLike,
    *,
    image_size: int | tuple[int, int] | None = None,
    channels: int | None = None,
    test_fraction: float = 0.1,
    split_seed: int = 0,
) -> ImageDataset:
  """Loads a folder of images, labelled by class sub-folder, into memory.

  Layouts, in this order:
    * `root/train/` and `root/test/` (or `root/val/`; with both, `val/` is the
      validation split): the splits, each laid out as below, with the test
      classes a subset of the train classes.
    * `root/<class>/**/*.png` (or any of `IMAGE_EXTENSIONS`): label = index
      of the class folder among the sorted class folders.
    * `root/*.png`: unlabelled images.
  So `train`, `test` and `val` directly under `root` name splits, not classes.
  Without a test folder (also when only `root/train/` exists), each class of
  n_c images gives floor(n_c * test_fraction + 0.5) of them (at most n_c - 1)
  to the test split, drawn by `np.random.default_rng(split_seed)`.

  Args:
    root: the folder.
    image_size: (H, W), or one integer for (H, W) = (n, n): every image is
      resized to it with Pillow's bicubic filter (`RESAMPLE`); None keeps the
      files' size, which must then be the same for all.
    channels: 1 (greyscale, Pillow 'L'), 3 ('RGB') or None for the channel
      count of the first image (in sorted order).
    test_fraction: share of each class held out when there is no test folder,
      in [0, 1).
    split_seed: seed of that held-out draw.

  Returns:
    `ImageDataset` named after `root`, float32 (N, H, W, C) in [0, 1]; int32
    labels, `num_classes` and `class_names` (the sorted class folder names)
    when labelled, None otherwise.

  Raises:
    DatasetNotFoundError: `root` is missing, or it or a class folder holds no
      images.
    ValueError: a bad argument, an unreadable image file, images of different
      sizes without `image_size`, or splits whose layouts or classes differ.

  Example:
    >>> ds = load_image_folder("flowers", image_size=(64, 64))  # doctest: +SKIP
    >>> ds.class_names, ds.train.shape  # doctest: +SKIP
    (('daisy', 'rose'), (180, 64, 64, 3))
  """
  image_size = _check_args(image_size, channels, test_fraction)
  root = _check_dir(root, "image folder", _LABELLED_LAYOUT)
  train_dir, test_dir, valid_dir = _find_splits(root)
  if test_dir is not None and train_dir is None:
    raise DatasetNotFoundError(
        f"{root} has {os.path.basename(test_dir)}/ but no train/ folder; add train/"
        " or move the images into class folders directly under it."
    )
  paths, labels, class_names = _scan_classes(train_dir or root)
  valid_paths = valid_labels = None
  if test_dir is None:
    train_idx, test_idx = _split_indices(len(paths), labels, test_fraction, split_seed)
    test_paths = _take(paths, test_idx)
    test_labels = None if labels is None else labels[test_idx]
    paths = _take(paths, train_idx)
    labels = None if labels is None else labels[train_idx]
  else:
    test_paths, test_labels, _ = _scan_classes(test_dir, class_names, like=train_dir)
    if valid_dir is not None:
      valid_paths, valid_labels, _ = _scan_classes(valid_dir, class_names, like=train_dir)

  reader = _Reader(image_size, channels)
  train = _read_images(reader, paths)
  return ImageDataset(
      name=_name_of(root),
      train=train,
      test=_read_images(reader, test_paths),
      valid=None if valid_paths is None else _read_images(reader, valid_paths),
      train_labels=labels,
      test_labels=test_labels,
      valid_labels=valid_labels,
      num_classes=None if class_names is None else len(class_names),
      class_names=class_names,
  )


def _swap(direction: str, a: ImageDataset, b: ImageDataset) -> dict[str, ImageDataset]:
  return {"a": a, "b": b} if direction == "AtoB" else {"a": b, "b": a}


def load_unpaired_folder(
    root: str | os.PathLike,
    *,
    direction: str = "AtoB",
    image_size: int | tuple[int, int] | None = None,
    channels: int | None = None,
    test_fraction: float = 0.1,
    split_seed: int = 0,
) -> dict[str, ImageDataset]:
  """Loads two unpaired image domains (CycleGAN's unaligned layout).

  Layout of junyanz/pytorch-CycleGAN-and-pix2pix (`datasets/horse2zebra/`):
  `root/trainA/`, `root/trainB/`, `root/testA/`, `root/testB/`, images at any
  depth below each. A domain without its test folder gives floor(N *
  test_fraction + 0.5) (at most N - 1) training images to its test split. The
  domains may hold different numbers of images; nothing pairs image i of A
  with image i of B.

  Args:
    root: the dataset folder, e.g. `datasets/horse2zebra`.
    direction: "AtoB" (translate A to B) or "BtoA": which domain is returned
      as the source "a".
    image_size: (H, W), or one integer for square images; each image is
      resized to it with Pillow's bicubic filter. None keeps the files' size,
      which must be the same within a domain.
    channels: 1, 3, or None for the channel count of each domain's first
      image (a greyscale A and an RGB B stay so).
    test_fraction: held-out share of a domain without a test folder, in [0, 1).
    split_seed: seed of that held-out draw.

  Returns:
    {"a": source, "b": target}: unlabelled `ImageDataset`s named
    "<root>/A" and "<root>/B", float32 (N_a, H, W, C_a) and (N_b, H', W', C_b)
    in [0, 1].

  Raises:
    DatasetNotFoundError: `root`, `trainA/` or `trainB/` is missing, or a
      domain folder holds no images.
    ValueError: a bad argument, an unreadable image file, or images of
      different sizes within a domain without `image_size`.
  """
  image_size = _check_args(image_size, channels, test_fraction, direction)
  layout = "root/trainA, root/trainB, optionally root/testA, root/testB"
  root = _check_dir(root, "unpaired dataset folder", layout)
  domains = {}
  for domain in ("A", "B"):
    train_dir, test_dir, _ = _find_splits(root, domain)
    if train_dir is None:
      raise DatasetNotFoundError(
          f"{root} has no train{domain}/ folder; the unpaired layout is {layout}."
      )
    paths = _require_images(train_dir, f"domain {domain} folder")
    if test_dir is None:
      train_idx, test_idx = _split_indices(len(paths), None, test_fraction, split_seed)
      paths, test_paths = _take(paths, train_idx), _take(paths, test_idx)
    else:
      test_paths = _require_images(test_dir, f"domain {domain} folder")
    reader = _Reader(image_size, channels)
    train = _read_images(reader, paths)
    domains[domain] = ImageDataset(
        name=f"{_name_of(root)}/{domain}", train=train, test=_read_images(reader, test_paths)
    )
  return _swap(direction, domains["A"], domains["B"])


def load_paired_folder(
    root: str | os.PathLike,
    *,
    direction: str = "AtoB",
    image_size: int | tuple[int, int] | None = None,
    channels: int | None = None,
    test_fraction: float = 0.1,
    split_seed: int = 0,
) -> dict[str, ImageDataset]:
  """Loads aligned image pairs stored side by side (pix2pix's aligned layout).

  Layout of junyanz/pytorch-CycleGAN-and-pix2pix (`datasets/facades/`):
  `root/train/`, and `root/test/` or `root/val/` (with both, `val/` is the
  validation split); each file is one (H, 2W) image, A = columns [0, W) and
  B = columns [W, 2W), as its `data/aligned_dataset.py` crops them. The
  halves are split before resizing, so each is resized on its own. Without a
  test folder, floor(N * test_fraction + 0.5) (at most N - 1) training pairs
  form the test split.

  Args:
    root: the dataset folder, e.g. `datasets/facades`.
    direction: "AtoB" (the left half is the source "a") or "BtoA" (the right
      half is).
    image_size: (H, W) of each half, or one integer for square halves,
      resized with Pillow's bicubic filter; None keeps them as they are, so
      all files must then be the same size.
    channels: 1, 3, or None for the channel count of the first file; both
      halves get it.
    test_fraction: held-out share of pairs without a test folder, in [0, 1).
    split_seed: seed of that held-out draw.

  Returns:
    {"a": source, "b": target}: unlabelled `ImageDataset`s named "<root>/A"
    (left halves) and "<root>/B" (right halves), float32 (N, H, W, C) in
    [0, 1], row i of "a" paired with row i of "b" in every split.

  Raises:
    DatasetNotFoundError: `root` or `root/train/` is missing, or a split
      folder holds no images.
    ValueError: a bad argument, an unreadable image file, an odd-width image,
      or files of different sizes without `image_size`.
  """
  image_size = _check_args(image_size, channels, test_fraction, direction)
  layout = "root/train/*.jpg and root/test/ or root/val/, each image A|B side by side"
  root = _check_dir(root, "paired dataset folder", layout)
  train_dir, test_dir, valid_dir = _find_splits(root)
  if train_dir is None:
    raise DatasetNotFoundError(f"{root} has no train/ folder; the paired layout is {layout}.")
  paths = _require_images(train_dir, "paired split folder")
  if test_dir is None:
    train_idx, test_idx = _split_indices(len(paths), None, test_fraction, split_seed)
    paths, test_paths = _take(paths, train_idx), _take(paths, test_idx)
  else:
    test_paths = _require_images(test_dir, "paired split folder")
  reader = _Reader(image_size, channels)
  train_a, train_b = _read_pairs(reader, paths)
  test_a, test_b = _read_pairs(reader, test_paths)
  valid_a = valid_b = None
  if valid_dir is not None:
    valid_a, valid_b = _read_pairs(reader, _require_images(valid_dir, "paired split folder"))
  name = _name_of(root)
  a = ImageDataset(name=f"{name}/A", train=train_a, test=test_a, valid=valid_a)
  b = ImageDataset(name=f"{name}/B", train=train_b, test=test_b, valid=valid_b)
  return _swap(direction, a, b)
