"""Digit morphometrics as Morpho-MNIST measures them: stroke thickness, slant, their bins.

Each image x (H x W) goes through Morpho-MNIST's pipeline (Castro et al. 2019,
section 3.1; reference code `morphomnist/morpho.py`, `measure.py`):

  u = floor(255 pyramid_expand(x, 4))        bicubic 4x upsampling, Gaussian-smoothed, 8-bit
  b = u >= min(u) + (max(u) - min(u)) / 2     binarised at half of the image's own range
  S = medial_axis(b),  D = edt(b)             skeleton; distance to the nearest background pixel
  thickness = 2 mean_{p in S} D(p) / 4        in pixels of the original image
  slant = arctan(-mu_11 / mu_02)              central moments of u, x = column, y = row (downward)

`thickening` / `thinning` dilate / erode b with a disk of radius
int(amount 4 thickness / 2) and bring it back to H x W (`pyramid_reduce`), as
Morpho-MNIST's Thickening / Thinning perturbations do. `attribute_bins`
and `bin_of` turn measures into class labels (thickness quintiles are the
"age" groups of our Age-cGAN, thickness and slant bins the words of our
StackGAN captions).

Images are MNIST-like: (H, W), (N, H, W) or (N, H, W, 1), bright ink on a
dark background, uint8 in [0, 255] or floats in [0, 1]. Floats are read at
8-bit precision (rounded to the nearest of the 256 levels uint8 has), the
precision of MNIST: a uint8 image x and its float version x / 255 give the
same measures, bit for bit. With those 8-bit inputs every step matches the
reference code (its skeleton uses scikit-image's medial axis with the same
seed, 42, for tie-breaking), so our measures are Morpho-MNIST's.

References:
  Castro, Tan, Kamnitsas & Glocker, "Morpho-MNIST: Quantitative Assessment
  and Diagnostics for Representation Learning", JMLR 20(178), 2019.
"""

from __future__ import annotations

import functools
import numbers
from typing import NamedTuple

import numpy as np
from scipy import ndimage

SCALE = 4  # Morpho-MNIST's upsampling factor: distances are measured to 1/4 pixel.
_SIGMA = 2 * SCALE / 6  # skimage's pyramid default: +-3 sigma spans 2 SCALE pixels
_SEED = 42  # the reference's medial-axis tie-breaking seed, so our skeletons are its skeletons
_CHUNK = 512  # images upsampled at once: 512 x 112 x 112 float64 is 51 MB


class Morphometrics(NamedTuple):
  """Morpho-MNIST's measures of a batch, each of the batch shape (() for one image).

  Attributes:
    thickness: mean stroke thickness along the skeleton, in pixels.
    slant: horizontal shear angle in radians, positive when the digit leans
      right (its top further right than its bottom, like italics).
  """
  thickness: np.ndarray
  slant: np.ndarray


# ------------------------------------------------------------------ inputs


def _as_levels(images, what: str) -> tuple[np.ndarray, tuple[int, ...]]:
  """uint8 (N, H, W) levels 0..255 and the batch shape: () for one (H, W) image, (N,) otherwise."""
  x = np.asarray(images)
  if not (x.dtype == np.uint8 or np.issubdtype(x.dtype, np.floating)):
    raise ValueError(f"{what} have dtype {x.dtype}; pass uint8 in [0, 255] or floats in [0, 1].")
  if x.ndim == 4 and x.shape[-1] == 1:
    x = x[..., 0]
  elif x.ndim == 3 and x.shape[-1] == 1:
    raise ValueError(f"{what} of shape {x.shape} read as {x.shape[0]} images of {x.shape[1]}x1 pixels; pass"
                     " x[..., 0] for one image or x[None] for a batch of one.")
  elif x.ndim not in (2, 3):
    raise ValueError(f"{what} must be (H, W), (N, H, W) or (N, H, W, 1), got shape {x.shape}.")
  if x.size == 0:
    raise ValueError(f"{what} are empty (shape {np.shape(images)}); pass at least one image with pixels.")
  batch = () if x.ndim == 2 else x.shape[:1]
  x = x.reshape((-1,) + x.shape[-2:])
  if x.dtype == np.uint8:
    return x, batch
  if not np.all(np.isfinite(x)):
    raise ValueError(f"{what} hold NaN or infinite values; measure finite images only.")
  low, high = float(x.min()), float(x.max())
  if low < 0 or high > 1:
    raise ValueError(f"{what} range over [{low:g}, {high:g}], outside [0, 1]; divide 0..255 images by 255.")
  return np.rint(x * 255).astype(np.uint8), batch


def _check_amount(amount) -> float:
  if isinstance(amount, bool) or not isinstance(amount, numbers.Real) or not 0 <= amount < np.inf:
    raise ValueError(f"amount must be a finite number >= 0 (a fraction of the thickness), got {amount!r}.")
  return float(amount)


# ------------------------------------------------------- the 4x pipeline


def _spline_zoom_matrix(n: int, factor: float) -> np.ndarray:
  """The (round(n factor), n) matrix of skimage's order-3 `resize` of a length-n axis (mode "reflect").

  skimage calls ndimage.zoom(grid_mode=True) with numpy's "reflect", which is
  ndimage's "mirror"; the resize is linear and separable, so a 2-D resize is
  M x M^T before skimage's clipping to the input's range.
  """
  return np.stack([ndimage.zoom(e, factor, order=3, mode="mirror", grid_mode=True) for e in np.eye(n)], axis=1)


@functools.cache
def _upsampling(n: int) -> np.ndarray:
  return _spline_zoom_matrix(n, SCALE)


@functools.cache
def _downsampling(n: int) -> np.ndarray:
  return _spline_zoom_matrix(n, 1 / SCALE)


def _smooth(x: np.ndarray) -> np.ndarray:
  """skimage's pyramid smoothing of (N, h, w): ndimage's "reflect" here (pyramids pass the name unchanged)."""
  for axis in (1, 2):
    x = ndimage.gaussian_filter1d(x, _SIGMA, axis=axis, mode="reflect", truncate=4.0)
  return x


def _resize(x: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
  """skimage's order-3 resize of (N, h, w): the separable product, clipped to each image's input range."""
  out = rows @ x @ cols.T
  np.maximum(out, x.min(axis=(1, 2), keepdims=True), out=out)
  return np.minimum(out, x.max(axis=(1, 2), keepdims=True), out=out)


def _upsample(levels: np.ndarray) -> np.ndarray:
  """(N, H, W) uint8 -> (N, 4H, 4W) uint8: Morpho-MNIST's `(255 pyramid_expand(x, 4, order=3)).astype(uint8)`."""
  _, h, w = levels.shape
  x = levels * (1.0 / 255)  # skimage's img_as_float multiplies by the reciprocal; the same rounding
  u = _smooth(_resize(x, _upsampling(h), _upsampling(w)))
  return (255.0 * u).astype(np.uint8)  # a cast truncates, as the reference's astype does


def _downsample(binary: np.ndarray) -> np.ndarray:
  """(N, 4H, 4W) bool -> (N, H, W) float64 in [0, 1]: skimage's `pyramid_reduce(x, 4, order=3)`."""
  _, h, w = binary.shape
  return _resize(_smooth(binary.astype(np.float64)), _downsampling(h), _downsampling(w))


def _binarise(hires: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """b = u >= min + (max - min) / 2 per image, and which images have no ink (max = min)."""
  low = hires.min(axis=(1, 2)).astype(np.float64)
  high = hires.max(axis=(1, 2)).astype(np.float64)
  binary = hires >= (low + (high - low) * 0.5)[:, None, None]
  return binary, high == low


# ------------------------------------------------------------- skeleton


@functools.cache
def _skeleton_tables() -> tuple[np.ndarray, np.ndarray]:
  """skimage's medial-axis lookup tables over the 512 3x3 neighbourhoods (bit k = pixel k, row-major).

  keep: the centre is foreground and removing it changes the number of
  8-connected components, or the neighbourhood holds fewer than 3 pixels
  (line ends stay). cornerness: the number of background pixels, so corners
  are processed last among equals and keep their skeleton branch.
  """
  bits = (np.arange(512)[:, None] >> np.arange(9)) & 1
  patterns = bits.reshape(512, 3, 3).astype(bool)
  hollow = patterns.copy()
  hollow[:, 1, 1] = False
  eight = np.ones((3, 3), bool)
  components = np.array([ndimage.label(p, eight)[1] for p in patterns])
  components_without = np.array([ndimage.label(p, eight)[1] for p in hollow])
  keep = patterns[:, 1, 1] & ((components != components_without) | (bits.sum(1) < 3))
  return keep.astype(np.uint8), 9 - bits.sum(1)


@functools.cache
def _skeletonize_loop():
  """skimage's compiled inner loop of `medial_axis`, or None where this version does not have it.

  The public `medial_axis` rebuilds its lookup tables with 512 connected-
  component labellings on every call (~28 ms, 15x the rest); with the tables
  built once and this loop, the skeleton is the same, 15x faster. A private
  name, so tests pin our skeleton to the public function's, and without it
  we call the public function.
  """
  try:
    from skimage.morphology._skeletonize_various_cy import _skeletonize_loop as loop  # 0.26
  except ImportError:
    try:
      from skimage.morphology._skeletonize_cy import _skeletonize_loop as loop  # 0.22
    except ImportError:
      return None
  return loop


def _neighbourhood_codes(binary: np.ndarray) -> np.ndarray:
  """(h, w) bool -> int the 3x3 neighbourhood of each pixel as sum_k 2^k [pixel k], outside = 0."""
  h, w = binary.shape
  padded = np.pad(binary, 1).astype(np.int32)
  codes = np.zeros((h, w), np.int32)
  for k in range(9):
    dy, dx = divmod(k, 3)
    codes += padded[dy:dy + h, dx:dx + w] << k
  return codes


def _medial_axis(binary: np.ndarray, distance: np.ndarray) -> np.ndarray:
  """skimage's `medial_axis(binary, rng=42)` of one (h, w) image, `distance` its Euclidean distance transform.

  Foreground pixels are visited by increasing distance, then cornerness,
  then a seeded random rank, and removed where the lookup table allows.
  """
  loop = _skeletonize_loop()
  if loop is None:
    from skimage.morphology import medial_axis
    return medial_axis(binary, rng=_SEED)
  keep, cornerness = _skeleton_tables()
  rows, cols = np.nonzero(binary)
  tiebreak = np.random.default_rng(_SEED).permutation(np.arange(rows.size))
  corner = cornerness[_neighbourhood_codes(binary)[rows, cols]]
  order = np.lexsort((tiebreak, corner, distance[rows, cols])).astype(np.int32)
  result = np.ascontiguousarray(binary, np.uint8)
  loop(result, rows.astype(np.intp), cols.astype(np.intp), order, keep)
  return result.astype(bool)


def _ink_box(binary: np.ndarray) -> tuple[slice, slice]:
  """The ink's bounding box grown by one background pixel on each side (within the image).

  Distances to the nearest background and the skeleton are the same in
  this box as in the whole image (the nearest background pixel of an ink
  pixel is never beyond the frame, and pixels keep their row-major order),
  and the box is about half of the image for MNIST.
  """
  rows, cols = np.flatnonzero(binary.any(axis=1)), np.flatnonzero(binary.any(axis=0))
  return slice(max(rows[0] - 1, 0), rows[-1] + 2), slice(max(cols[0] - 1, 0), cols[-1] + 2)


def _thickness(binary: np.ndarray) -> tuple[float, np.ndarray]:
  """2 mean_{p in skeleton} D(p) / SCALE of one upsampled binary image, and D."""
  box = _ink_box(binary)
  distance = np.zeros(binary.shape)
  distance[box] = ndimage.distance_transform_edt(binary[box])
  return 2.0 * distance[box][_medial_axis(binary[box], distance[box])].mean() / SCALE, distance


def _slant(hires: np.ndarray) -> np.ndarray:
  """arctan(-mu_11 / mu_02) of (N, h, w) grey images; NaN without ink or with ink on one row only."""
  m = hires.astype(np.float64)
  mass = m.sum(axis=(1, 2))
  rows, cols = m.sum(axis=2), m.sum(axis=1)  # marginal masses
  with np.errstate(invalid="ignore", divide="ignore"):
    dy = np.arange(m.shape[1]) - (rows @ np.arange(m.shape[1]) / mass)[:, None]
    dx = np.arange(m.shape[2]) - (cols @ np.arange(m.shape[2]) / mass)[:, None]
    mu_02 = np.einsum("nh,nh->n", rows, dy**2) / mass
    mu_11 = np.einsum("nhw,nh,nw->n", m, dy, dx) / mass
    return np.arctan(-mu_11 / mu_02)


def _chunks(n: int, progress: bool, desc: str):
  """Slices of at most _CHUNK images, with a tqdm bar over images when `progress`."""
  bar = None
  if progress:
    from tqdm import tqdm
    bar = tqdm(total=n, desc=desc, unit="img")
  for start in range(0, n, _CHUNK):
    yield slice(start, min(start + _CHUNK, n))
    if bar is not None:
      bar.update(min(_CHUNK, n - start))
  if bar is not None:
    bar.close()


# ------------------------------------------------------------- measures


def measure(images, *, progress: bool = False) -> Morphometrics:
  """Morpho-MNIST's stroke thickness and slant of each image (see `stroke_thickness`, `slant`).

  thickness = 2 mean_{p in medial_axis(b)} edt(b)(p) / 4 and
  slant = arctan(-mu_11 / mu_02), with b the 4x-upsampled image u binarised at
  half of its range. Images without ink (u constant) measure NaN. 700 to
  900 images a second on one core (the skeleton is most of it: MNIST's
  60,000 training images took 64 s); `progress` shows a tqdm bar.

  Args:
    images: (H, W), (N, H, W) or (N, H, W, 1); uint8 in [0, 255] or floats
      in [0, 1] (read at 8-bit precision), bright ink on a dark background.
    progress: show a progress bar over the images.

  Returns:
    Morphometrics(thickness, slant): float64 arrays of shape () for one
    (H, W) image, (N,) otherwise; thickness in pixels, slant in radians,
    positive leaning right.

  Raises:
    ValueError: a wrong rank or dtype, no pixels, NaN or values outside the range.

  Example:
    >>> x = np.zeros((28, 28), np.uint8)
    >>> for row in range(4, 24): x[row, 16 - row // 2:19 - row // 2] = 255  # "/": 1 pixel right per 2 up
    >>> m = measure(x)
    >>> round(float(np.degrees(m.slant)), 1), round(float(m.thickness), 2)  # arctan(1 / 2) = 26.6 degrees
    (26.2, 2.43)

  References:
    Castro et al. 2019, section 3.1 and appendix A; dccastro/Morpho-MNIST
    `morphomnist/measure.py` (`measure_image`).
  """
  return _measure(images, thickness=True, slant=True, progress=progress)


def _measure(images, *, thickness: bool, slant: bool, progress: bool) -> Morphometrics:
  """The measures asked for (the others None), chunk by chunk of upsampled images."""
  levels, batch = _as_levels(images, "images")
  thick = np.full(len(levels), np.nan) if thickness else None
  slant_ = np.full(len(levels), np.nan) if slant else None
  for part in _chunks(len(levels), progress, "measure"):
    hires = _upsample(levels[part])
    binary, blank = _binarise(hires)
    if slant:
      slant_[part] = np.where(blank, np.nan, _slant(hires))
    if thickness:
      for i in np.flatnonzero(~blank):
        thick[part.start + i] = _thickness(binary[i])[0]
  return Morphometrics(*(None if a is None else a.reshape(batch) for a in (thick, slant_)))


def stroke_thickness(images, *, progress: bool = False) -> np.ndarray:
  """Mean stroke thickness in pixels: 2 mean_{p in medial_axis(b)} edt(b)(p) / 4.

  b is the image upsampled 4x (bicubic, Gaussian-smoothed, 8-bit) and
  binarised at half of its range; edt(b)(p) is the distance from skeleton
  pixel p to the centre of the nearest background pixel, in upsampled
  pixels, so twice its mean over the skeleton, divided by 4, is the stroke
  width in pixels of the original image. On a straight stroke binarised W
  upsampled pixels wide the ridge pixel measures ceil(W / 2) / 2 pixels (it
  lies on the 4x grid): w - 1/4 to w + 1/2 for a true width w. Skeleton
  spurs into stroke ends and corners pull the mean down (a round-ended
  stroke of width 4 and length 16 can measure 3.4). Images without ink
  measure NaN.

  Args:
    images: (H, W), (N, H, W) or (N, H, W, 1); uint8 in [0, 255] or floats in [0, 1].
    progress: show a progress bar over the images (~1.5 ms an image).

  Returns:
    float64 of shape () for one (H, W) image, (N,) otherwise.

  Example:
    >>> x = np.zeros((28, 28), np.uint8); x[4:24, 13:15] = 255  # an upright bar 2 pixels wide
    >>> stroke_thickness(x)
    array(2.)

  References:
    Castro et al. 2019, section 3.1 ("thickness"); `morphomnist/morpho.py`,
    `ImageMorphology.mean_thickness`.
  """
  return _measure(images, thickness=True, slant=False, progress=progress).thickness


def slant(images) -> np.ndarray:
  """Slant = arctan(-mu_11 / mu_02), the horizontal shear angle of the image, in radians.

  mu_pq are the central moments of the 4x-upsampled grey image u with
  x = column and y = row, rows increasing downward: mu_11 = mean (x - x_bar)(y - y_bar),
  mu_02 = mean (y - y_bar)^2, weighted by intensity. A digit whose column
  centre moves by -s pixels per row down (its top right of its bottom) has
  mu_11 = -s mu_02 and slant arctan(s) > 0: positive leans right, like
  italics; negative leans left; 0 is upright. Moments are of the grey image,
  as the reference code takes them (not of the binarised one). NaN for
  images without ink or with ink on one row only (no vertical extent to
  shear). Vectorised: ~0.4 ms an image.

  Args:
    images: (H, W), (N, H, W) or (N, H, W, 1); uint8 in [0, 255] or floats in [0, 1].

  Returns:
    float64 of shape () for one (H, W) image, (N,) otherwise, in (-pi/2, pi/2).

  Example:
    >>> x = np.zeros((28, 28), np.uint8)
    >>> for row in range(4, 24): x[row, 16 - row // 2:19 - row // 2] = 255  # "/": 1 pixel right per 2 up
    >>> np.degrees(slant(np.stack([x, x[:, ::-1]]))).round(1)  # "/" and its mirror image "\\"
    array([ 26.2, -26.2])

  References:
    Castro et al. 2019, section 3.1 ("slant"); `morphomnist/measure.py`
    (`np.arctan(-moments.horizontal_shear)`) and `morpho.py` (`ImageMoments`).
  """
  return _measure(images, thickness=False, slant=True, progress=False).slant


# -------------------------------------------------------- perturbations


def _perturb(images, amount: float, dilate: bool, progress: bool, desc: str) -> np.ndarray:
  """Dilates (or erodes) each upsampled binary image by a disk of radius int(amount 4 t / 2), t its thickness."""
  amount = _check_amount(amount)
  levels, _ = _as_levels(images, "images")
  x = np.asarray(images)
  out = np.empty(levels.shape)
  blank = np.zeros(len(levels), bool)
  for part in _chunks(len(levels), progress, desc):
    binary, blank[part] = _binarise(_upsample(levels[part]))
    for i in np.flatnonzero(~blank[part]):
      t, distance = _thickness(binary[i])
      radius = int(amount * SCALE * t / 2)
      # p is within the disk of radius r of some ink pixel iff its distance to the nearest ink is <= r (and
      # is kept by an erosion iff its distance to the nearest background is > r): skimage's `disk(r)`,
      # {dy^2 + dx^2 <= r^2}, exactly, with nothing outside the image (skimage's default "reflect" mode).
      if dilate:
        binary[i] = ndimage.distance_transform_edt(~binary[i]) <= radius
      else:
        binary[i] = distance > radius
    out[part] = _downsample(binary)
  if x.dtype == np.uint8:
    out = (255.0 * out).astype(np.uint8)  # truncated, as Morpho-MNIST's `downscale`
  else:
    out = out.astype(x.dtype)
  out[blank] = x.reshape(levels.shape)[blank]  # no ink: nothing to thicken or thin
  return out.reshape(x.shape)


def thickening(images, amount: float = 1.0, *, progress: bool = False) -> np.ndarray:
  """Morpho-MNIST's Thickening: dilate the 4x binarised digit by a disk of radius int(amount 4 t / 2).

  t is the digit's measured thickness (`stroke_thickness`), so the stroke
  grows by about amount t pixels: amount = 1 roughly doubles it (x1.6 to x3
  on scikit-learn's digits at 28 x 28). The dilated 4H x 4W binary image is
  brought back to H x W by skimage's `pyramid_reduce` (Gaussian smoothing,
  then order-3 resize), so the result is grey at the edges. Images without
  ink are returned unchanged. Unlike `thicken` (CycleGAN's oracle map: a
  grey dilation by a radius fixed in pixels), the radius follows each
  digit's thickness and the grey levels are those of the binarised digit.

  Args:
    images: (H, W), (N, H, W) or (N, H, W, 1); uint8 in [0, 255] or floats in [0, 1].
    amount: added thickness as a fraction of the measured thickness, >= 0.
    progress: show a progress bar over the images (~1.5 ms an image).

  Returns:
    The input's shape and dtype: uint8 in [0, 255] (truncated, as the
    reference's `downscale`) or the input's float dtype in [0, 1].

  Example:
    >>> x = np.zeros((28, 28), np.uint8); x[4:24, 12:15] = 255
    >>> round(float(stroke_thickness(x)), 2), round(float(stroke_thickness(thickening(x))), 2)
    (2.96, 5.31)

  References:
    Castro et al. 2019, section 3.2 ("thickening"); `morphomnist/perturb.py`, class Thickening.
  """
  return _perturb(images, amount, True, progress, "thickening")


def thinning(images, amount: float = 0.7, *, progress: bool = False) -> np.ndarray:
  """Morpho-MNIST's Thinning: erode the 4x binarised digit by a disk of radius int(amount 4 t / 2).

  t is the digit's measured thickness (`stroke_thickness`), so the stroke
  loses about amount t pixels. With the reference's default 0.7 the measured
  thickness falls to x0.4 to x0.7 on scikit-learn's digits at 28 x 28 (the
  radius is rounded down, and `pyramid_reduce` blurs thin strokes back
  wider); strokes thinner than the disk vanish. Brought back to H x W as in
  `thickening`. Images without ink are returned unchanged.

  Args:
    images: (H, W), (N, H, W) or (N, H, W, 1); uint8 in [0, 255] or floats in [0, 1].
    amount: removed thickness as a fraction of the measured thickness, >= 0.
    progress: show a progress bar over the images (~1.5 ms an image).

  Returns:
    The input's shape and dtype: uint8 in [0, 255] or the input's float dtype in [0, 1].

  Example:
    >>> x = np.zeros((28, 28), np.uint8); x[4:24, 11:17] = 255
    >>> round(float(stroke_thickness(x)), 2), round(float(stroke_thickness(thinning(x, 0.5))), 2)
    (5.57, 3.43)

  References:
    Castro et al. 2019, section 3.2 ("thinning"); `morphomnist/perturb.py`, class Thinning.
  """
  return _perturb(images, amount, False, progress, "thinning")


# ----------------------------------------------------------------- bins


def _as_values(values, what: str) -> np.ndarray:
  v = np.asarray(values)
  if not (np.issubdtype(v.dtype, np.integer) or np.issubdtype(v.dtype, np.floating)):
    raise ValueError(f"{what} have dtype {v.dtype}; pass real numbers.")
  v = v.astype(np.float64)
  if not np.all(np.isfinite(v)):
    raise ValueError(f"{what} hold {int(np.sum(~np.isfinite(v)))} NaN or infinite value(s) (images without ink"
                     " measure NaN); drop them with values[np.isfinite(values)] first.")
  return v


def bin_of(values, edges) -> np.ndarray:
  """The bin of each value: b(v) = #{k in 1..B-1 : e_k <= v}, in 0..B-1, for edges e_0 < ... < e_B.

  Bins are half-open [e_k, e_{k+1}); values below e_0 or above e_B (a
  generated digit thinner or thicker than any training digit) fall in the
  first or last bin. With the edges `attribute_bins` computed on training
  data, this places new values (e.g. measured on generated images) in the
  training bins.

  Args:
    values: array of any shape, finite.
    edges: (B + 1,) strictly increasing finite edges, B >= 2.

  Returns:
    int32 bin indices of the shape of `values`.

  Example:
    >>> bin_of([0.5, 1.0, 2.5, 9.0], [0.0, 1.0, 2.0, 3.0])
    array([0, 1, 2, 2], dtype=int32)
  """
  e = _as_values(edges, "edges")
  if e.ndim != 1 or e.size < 3:
    raise ValueError(f"edges must be 1-D with at least 3 entries (2 bins), got shape {e.shape}.")
  if np.any(np.diff(e) <= 0):
    raise ValueError(f"edges must be strictly increasing, got {e.tolist()}.")
  v = _as_values(values, "values")
  return np.searchsorted(e[1:-1], v, side="right").astype(np.int32)


def attribute_bins(values, num_bins: int) -> tuple[np.ndarray, np.ndarray]:
  """Equal-count bins: edges e_k = Q(k / B), k = 0..B, Q the empirical quantile function of the values.

  Each bin [e_k, e_{k+1}) then holds about n / B of the n values (exactly
  floor or ceil of it when values are distinct); `bin_of(values, edges)`
  gives the same indices, so the edges computed on training data bin new
  values the same way. B = 5 on MNIST's thickness gives the "age" groups
  of our Age-cGAN.

  Args:
    values: array of any shape, finite (e.g. `stroke_thickness` of the training images).
    num_bins: B, an integer >= 2.

  Returns:
    (indices, edges): int32 bin indices of the shape of `values`, in 0..B-1,
    and the (B + 1,) float64 edges, strictly increasing, from min to max.

  Raises:
    ValueError: num_bins < 2, no values, NaN, or ties so heavy that a bin is empty.

  Example:
    >>> indices, edges = attribute_bins(np.arange(10.0), 5)
    >>> indices
    array([0, 0, 1, 1, 2, 2, 3, 3, 4, 4], dtype=int32)
    >>> edges
    array([0. , 1.8, 3.6, 5.4, 7.2, 9. ])
  """
  if isinstance(num_bins, bool) or not isinstance(num_bins, numbers.Integral) or num_bins < 2:
    raise ValueError(f"num_bins must be an integer >= 2, got {num_bins!r}.")
  v = _as_values(values, "values")
  if v.size == 0:
    raise ValueError("values are empty; quantile bins need at least num_bins values.")
  edges = np.quantile(v, np.linspace(0.0, 1.0, num_bins + 1))
  counts = np.bincount(np.searchsorted(edges[1:-1], v.ravel(), side="right"), minlength=num_bins)
  if np.any(counts == 0):
    raise ValueError(f"{int(np.sum(counts == 0))} of {num_bins} quantile bins are empty ({v.size} values,"
                     f" {np.unique(v).size} distinct); use fewer bins.")
  return bin_of(v, edges), edges
