"""Synthetic image-translation datasets built from digit images, all numpy.

The paired tasks of our Pix2pix experiments and the domains of our CycleGAN
experiments (the GAN zoo notes, sections 2 and 3), made from float32
(N, H, W, C) images in [0, 1]:

* Pix2pix, MNIST padded to 32x32 (`pad_to`): `translation_pairs(x, task)`
  with task "completion" (input: `mask_bottom_half(x)`) or "edges" (input:
  `morphological_gradient(x)`), target x.
* CycleGAN A: MNIST shrunk to 16x16 (`resize`) against scikit-learn's 8x8
  digits grown to 16x16 (`digits_to_side`), an unpaired domain gap.
* CycleGAN B: two disjoint halves of MNIST (`split_halves`), domain B the
  second half under the known map `oracle_transform` = `invert` o `thicken`.

Every function is deterministic, checks its input with `check_images`
before any compute, and returns new float32 arrays in [0, 1] (only
`translation_pairs`'s targets are its input, converted to float32).

References:
  Isola, Zhu, Zhou & Efros, "Image-to-Image Translation with Conditional
  Adversarial Networks", CVPR 2017.
  Zhu, Park, Isola & Efros, "Unpaired Image-to-Image Translation using
  Cycle-Consistent Adversarial Networks", ICCV 2017.
  Castro, Tan, Kamnitsas & Glocker, "Morpho-MNIST: Quantitative Assessment
  and Diagnostics for Representation Learning", JMLR 20(178), 2019.
"""

from __future__ import annotations

import difflib
import numbers

import numpy as np
from PIL import Image
from scipy import ndimage

from jaxgen.data._dataset import check_images
from jaxgen.data._folder import RESAMPLE

PAIR_TASKS = ("completion", "edges")

# Images per block in `thicken`: its shifted maxima then stay in the CPU cache.
_CHUNK = 1024


# ----------------------------------------------------------------- checks


def _as_images(images, what: str = "images") -> np.ndarray:
  x = np.asarray(images)
  check_images(x, what=what)
  return x.astype(np.float32, copy=False)


def _is_int(value) -> bool:
  return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_positive_int(value, name: str) -> int:
  if not _is_int(value) or value < 1:
    raise ValueError(f"{name} must be a positive integer, got {value!r}.")
  return int(value)


def _check_real(value, name: str, low: float, high: float = np.inf) -> float:
  if (isinstance(value, bool) or not isinstance(value, numbers.Real)
      or not low <= value <= high):
    bounds = f">= {low:g}" if high == np.inf else f"in [{low:g}, {high:g}]"
    raise ValueError(f"{name} must be a number {bounds}, got {value!r}.")
  return float(value)


# ----------------------------------------------------------------- geometry


def pad_to(images, side: int) -> np.ndarray:
  """Centres images on a zero canvas: (N, H, W, C) -> (N, side, side, C).

  out[:, t:t+H, l:l+W] = images with t = (side - H) // 2, l = (side - W) // 2
  (an odd margin puts the extra row/column at the bottom/right), 0 elsewhere.

  Args:
    images: float (N, H, W, C) in [0, 1].
    side: the canvas side, >= H and >= W (32 for MNIST in a 5-level U-Net).

  Returns:
    float32 (N, side, side, C).

  Raises:
    ValueError: `images` not (N, H, W, C) in [0, 1], or `side` not an integer
      >= H and >= W.

  Example:
    >>> pad_to(np.ones((2, 28, 28, 1)), 32).shape
    (2, 32, 32, 1)
  """
  x = _as_images(images)
  side = _check_positive_int(side, "side")
  _, h, w, _ = x.shape
  if side < max(h, w):
    raise ValueError(f"side {side} is smaller than the {h}x{w} images; pass side >= {max(h, w)}"
                     " or shrink them with resize.")
  top, left = (side - h) // 2, (side - w) // 2
  pad = ((0, 0), (top, side - h - top), (left, side - w - left), (0, 0))
  return np.pad(x, pad)


def resize(images, side: int) -> np.ndarray:
  """Resizes each image and channel to side x side with Pillow's bicubic filter.

  out[n, :, :, c] = clip(bicubic(images[n, :, :, c]), 0, 1), computed on
  float ('F' mode) pixels, so nothing is rounded to 8 bits. When shrinking,
  Pillow widens the kernel by the shrink factor (antialiasing), as
  `load_image_folder(image_size=...)` does; the clip removes the bicubic
  overshoot at edges. One Pillow call per image and channel: about 1 s for
  60,000 28x28 images.

  Args:
    images: float (N, H, W, C) in [0, 1].
    side: output side, a positive integer.

  Returns:
    float32 (N, side, side, C) in [0, 1].

  Raises:
    ValueError: `images` not (N, H, W, C) in [0, 1], or a bad `side`.

  Example:
    >>> resize(np.full((1, 28, 28, 1), 0.5), 16)[0, :2, :2, 0]
    array([[0.5, 0.5],
           [0.5, 0.5]], dtype=float32)
  """
  x = _as_images(images)
  side = _check_positive_int(side, "side")
  n, _, _, c = x.shape
  out = np.empty((n, side, side, c), np.float32)
  for i in range(n):
    for k in range(c):
      channel = Image.fromarray(np.ascontiguousarray(x[i, :, :, k]))  # mode 'F'
      out[i, :, :, k] = np.asarray(channel.resize((side, side), RESAMPLE))
  return np.clip(out, 0.0, 1.0, out=out)


def digits_to_side(images, side: int) -> np.ndarray:
  """scikit-learn's 8x8 digits upsampled to side x side: `resize(images, side)`.

  The second domain of CycleGAN experiment A (MNIST at 16x16 against these
  at 16x16), in the spirit of CyCADA's MNIST <-> USPS.

  Args:
    images: float (N, 8, 8, C) in [0, 1], as `load_digits()` gives them (the
      raw counts 0..16 divided by 16).
    side: output side, a positive integer.

  Returns:
    float32 (N, side, side, C) in [0, 1].

  Raises:
    ValueError: images not 8x8, values above 1 (raw counts), or a bad `side`.
  """
  x = np.asarray(images)
  if x.ndim == 4 and x.shape[1:3] != (8, 8):
    raise ValueError(f"digits_to_side expects 8x8 digits (N, 8, 8, C), got shape {x.shape};"
                     " use resize for other images.")
  if x.size and np.issubdtype(x.dtype, np.number) and 1 < x.max() <= 16:
    raise ValueError(f"digits reach {x.max():g} > 1: raw scikit-learn counts 0..16; divide them"
                     " by 16 (load_digits does).")
  return resize(x, side)


# ----------------------------------------------------------------- pix2pix inputs


def mask_bottom_half(images, fill: float = 0.0) -> np.ndarray:
  """The completion input of Pix2pix: rows H // 2 .. H - 1 set to `fill`.

  out[:, :H//2] = images[:, :H//2], out[:, H//2:] = fill. The task is
  ambiguous (many digits share a top half), which is where L1 alone blurs
  and the cGAN term should help (Isola et al. 2017, Sec. 4.2).

  Args:
    images: float (N, H, W, C) in [0, 1].
    fill: value of the masked rows, in [0, 1].

  Returns:
    float32 (N, H, W, C) in [0, 1].

  Raises:
    ValueError: `images` not (N, H, W, C) in [0, 1], or `fill` outside [0, 1].
  """
  x = _as_images(images)
  fill = _check_real(fill, "fill", 0.0, 1.0)
  out = x.copy()
  out[:, x.shape[1] // 2:] = fill
  return out


def morphological_gradient(images, size: int = 3) -> np.ndarray:
  """Grey dilation minus grey erosion: the edges of the "edges -> digit" task.

  out = max_{d in S} x(p + d) - min_{d in S} x(p + d), S the size x size
  square (per image and channel; edges replicated at the border), so a
  constant image gives 0 and a filled shape gives its outline, one pixel on
  each side of the boundary for size 3. Values stay in [0, 1].

  Args:
    images: float (N, H, W, C) in [0, 1].
    size: side of the square structuring element, a positive integer.

  Returns:
    float32 (N, H, W, C) in [0, 1].

  Raises:
    ValueError: `images` not (N, H, W, C) in [0, 1], or a bad `size`.

  References:
    Isola et al. 2017, Sec. 4 (edges -> photo pairs); Soille, "Morphological
    Image Analysis" (2nd ed. 2003), ch. 3 (the morphological gradient).
  """
  x = _as_images(images)
  size = _check_positive_int(size, "size")
  window = (1, size, size, 1)
  return (ndimage.grey_dilation(x, size=window, mode="nearest")
          - ndimage.grey_erosion(x, size=window, mode="nearest"))


def translation_pairs(images, task: str) -> tuple[np.ndarray, np.ndarray]:
  """(inputs, targets) of a Pix2pix task; targets are the images themselves.

  Tasks (`PAIR_TASKS`): "completion" -> inputs = `mask_bottom_half(images)`;
  "edges" -> inputs = `morphological_gradient(images)`.

  Args:
    images: float (N, H, W, C) in [0, 1], e.g. MNIST padded to 32x32.
    task: "completion" or "edges".

  Returns:
    (inputs, targets), float32 (N, H, W, C) each; targets is `images` as
    float32 (not a copy when it already is).

  Raises:
    ValueError: an unknown task (with the nearest name), or bad images.
  """
  if task not in PAIR_TASKS:
    close = difflib.get_close_matches(str(task), PAIR_TASKS, n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"unknown translation task {task!r}; known tasks:"
                     f" {', '.join(PAIR_TASKS)}.{hint}")
  x = _as_images(images)
  inputs = mask_bottom_half(x) if task == "completion" else morphological_gradient(x)
  return inputs, x


# ----------------------------------------------------------------- cyclegan oracle


def _disk(radius: float) -> np.ndarray:
  """Boolean (2r+1, 2r+1) disk, r = floor(radius): offsets with dy^2 + dx^2 <= radius^2."""
  r = int(np.floor(radius))
  dy, dx = np.ogrid[-r:r + 1, -r:r + 1]
  return dy * dy + dx * dx <= radius * radius


def _subpixel_footprints(radius: float, upsample: int) -> dict[tuple, int]:
  """{original-pixel offsets: how many of the upsample^2 sub-pixels use them}.

  Sub-pixel (a, b) of pixel p, dilated by the disk D in upsampled pixels,
  reaches the original pixels p + ((a + dy) // u, (b + dx) // u) for (dy, dx)
  in D; the set depends on (a, b) but not on p.
  """
  dy, dx = np.nonzero(_disk(radius))
  r = int(np.floor(radius))
  dy, dx = dy - r, dx - r
  counts: dict[tuple, int] = {}
  for a in range(upsample):
    for b in range(upsample):
      offsets = tuple(sorted(set(zip(((a + dy) // upsample).tolist(),
                                     ((b + dx) // upsample).tolist()))))
      counts[offsets] = counts.get(offsets, 0) + 1
  return counts


def thicken(images, amount: float = 1.0, upsample: int = 4) -> np.ndarray:
  """Thickens strokes by `amount` pixels: a grey, fixed-radius Morpho-MNIST dilation.

  out = mean_u(dilate_D(nearest_u(x))): each pixel is repeated into a u x u
  block (u = `upsample`; nearest, so amount = 0 is exactly the identity),
  the result is grey-dilated with the disk D = {dy^2 + dx^2 <= (amount u)^2}
  (radius `amount` original pixels), and each u x u block is averaged back.
  The u^2-times larger image is never built: sub-pixel (a, b) of a block
  sees a fixed set of original-pixel offsets, so out is the mean of u^2 grey
  dilations at the original size (shared sets computed once). Outside the
  image counts as 0. Values stay in [0, 1]; a larger amount never lowers a
  pixel, so the ink (mean intensity) grows with it.

  Morpho-MNIST's Thickening (Castro et al. 2019, `morphomnist/perturb.py`)
  instead dilates the *binarised* 4x bicubic upsampling by a disk of radius
  int(amount * u * t / 2), t the digit's measured mean thickness, and
  downsamples with `pyramid_reduce`: its amount a is ours at a * t / 2
  (t is a few pixels on MNIST); ours needs no skeleton to measure t and
  keeps grey values.

  Args:
    images: float (N, H, W, C) in [0, 1], ink bright on a dark background.
    amount: dilation radius in original pixels, >= 0.
    upsample: sub-pixel factor u, a positive integer: the radius moves in
      steps of 1/u pixel.

  Returns:
    float32 (N, H, W, C) in [0, 1].

  Raises:
    ValueError: `images` not (N, H, W, C) in [0, 1], a negative amount or a
      bad upsample.

  Example:
    >>> x = np.zeros((1, 7, 7, 1)); x[0, 3, 3] = 1.0
    >>> thicken(x, 1.0, upsample=1)[0, 2:5, 2:5, 0]  # a radius-1 disk
    array([[0., 1., 0.],
           [1., 1., 1.],
           [0., 1., 0.]], dtype=float32)

  References:
    Castro et al. 2019 (the thinning/thickening perturbations);
    dccastro/Morpho-MNIST `morphomnist/perturb.py`, class Thickening.
  """
  x = _as_images(images)
  amount = _check_real(amount, "amount", 0.0)
  u = _check_positive_int(upsample, "upsample")
  footprints = _subpixel_footprints(amount * u, u)
  p = max(abs(o) for offsets in footprints for d in offsets for o in d)
  shared = set.intersection(*map(set, footprints))  # their common part, maximised once
  n, h, w, _ = x.shape
  out = np.empty_like(x)
  for start in range(0, n, _CHUNK):
    block = np.pad(x[start:start + _CHUNK], ((0, 0), (p, p), (p, p), (0, 0)))

    def shifted(dy, dx, block=block):  # x(q + (dy, dx)) for every pixel q
      return block[:, p + dy:p + dy + h, p + dx:p + dx + w]

    core = np.zeros_like(x[start:start + _CHUNK])
    for dy, dx in shared:
      np.maximum(core, shifted(dy, dx), out=core)
    acc = np.zeros_like(core)
    for offsets, count in footprints.items():
      dilated = core.copy()
      for dy, dx in set(offsets) - shared:
        np.maximum(dilated, shifted(dy, dx), out=dilated)
      acc += np.float32(count) * dilated
    out[start:start + _CHUNK] = acc / np.float32(u * u)
  return np.clip(out, 0.0, 1.0, out=out)  # only float rounding can leave [0, 1]


def invert(images) -> np.ndarray:
  """1 - x: dark ink on a bright background, and back.

  Args:
    images: float (N, H, W, C) in [0, 1].

  Returns:
    float32 (N, H, W, C) in [0, 1].

  Example:
    >>> invert(np.array([0.0, 0.25, 1.0]).reshape(1, 1, 3, 1))[0, 0, :, 0]
    array([1.  , 0.75, 0.  ], dtype=float32)
  """
  return np.float32(1.0) - _as_images(images)


def oracle_transform(images, amount: float = 1.0) -> np.ndarray:
  """T(x) = invert(thicken(x, amount)): domain B of CycleGAN experiment B.

  A known map between two unpaired domains, so a translator G can be scored
  by ||G(a) - T(a)||_1 on test images. Inversion makes identity a bad
  solution (run with lambda_idt = 0: the identity loss opposes it).

  Args:
    images: float (N, H, W, C) in [0, 1].
    amount: thickening radius in pixels, >= 0 (see `thicken`).

  Returns:
    float32 (N, H, W, C) in [0, 1].

  References:
    Zhu et al. 2017 (the cycle-consistency and identity losses); Castro et
    al. 2019 (thickening).
  """
  return invert(thicken(images, amount))


def split_halves(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
  """Two disjoint halves of range(n): a seeded permutation, cut in two.

  perm = np.random.default_rng(seed).permutation(n); returns
  sort(perm[:n // 2]) and sort(perm[n // 2:]) (sorted, so data order is
  kept within each half), int64. Same seed, same halves on every machine.

  Args:
    n: number of items, a non-negative integer.
    seed: non-negative integer seed.

  Returns:
    (first, second): int64 (n // 2,) and (n - n // 2,) index arrays, disjoint,
    together covering range(n).

  Raises:
    ValueError: `n` or `seed` not a non-negative integer.

  Example:
    >>> a, b = split_halves(10, seed=0)
    >>> len(a), len(b), sorted(np.concatenate([a, b]).tolist()) == list(range(10))
    (5, 5, True)
  """
  for name, value in (("n", n), ("seed", seed)):
    if not _is_int(value) or value < 0:
      raise ValueError(f"{name} must be a non-negative integer, got {value!r}.")
  perm = np.random.default_rng(int(seed)).permutation(int(n))
  return np.sort(perm[:n // 2]), np.sort(perm[n // 2:])
