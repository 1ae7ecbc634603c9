"""Pictures a person would rather look at than read: image grids, loss curves, scatter plots.

Matplotlib runs with the non-interactive Agg backend, so these work on machines
without a display.
"""

from __future__ import annotations

import math
import os
import statistics
import warnings
from collections.abc import Callable, Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402


def image_grid(images, *, ncol: int | None = None, pad: int = 1, value_range=(0.0, 1.0)) -> np.ndarray:
  """Tiles images ``(N, H, W, C)`` (C in {1, 3}) into one uint8 array ``(rows*H', cols*W', C)``."""
  images = np.asarray(images, dtype=np.float32)
  if images.ndim == 3:
    images = images[..., None]
  if images.ndim != 4 or images.shape[-1] not in (1, 3):
    raise ValueError(f"image_grid needs images (N, H, W, 1 or 3), got shape {images.shape}")
  lo, hi = value_range
  bad = ~np.isfinite(images)
  if bad.any():
    # A diverged model's samples: draw them (NaN black, +-inf clipped) and say so, rather than
    # letting the uint8 cast turn NaN into arbitrary values.
    warnings.warn(
        f"image_grid: {int(bad.any(axis=(1, 2, 3)).sum())} of {len(images)} images have non-finite pixels "
        "(NaN drawn black)",
        RuntimeWarning,
        stacklevel=2,
    )
    images = np.nan_to_num(images, nan=lo, posinf=hi, neginf=lo)
  images = np.clip((images - lo) / (hi - lo), 0.0, 1.0)
  n, h, w, c = images.shape
  ncol = ncol or int(math.ceil(math.sqrt(n)))
  nrow = int(math.ceil(n / ncol))
  grid = np.ones((nrow * (h + pad) + pad, ncol * (w + pad) + pad, c), np.float32)
  for i in range(n):
    r, q = divmod(i, ncol)
    grid[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + q * (w + pad) : pad + q * (w + pad) + w] = images[i]
  return (grid * 255.0 + 0.5).astype(np.uint8)


def save_image_grid(path, images, *, ncol: int | None = None, scale: int = 1, value_range=(0.0, 1.0)) -> str:
  """Writes a PNG grid of images; ``scale`` enlarges small images (nearest neighbour)."""
  grid = image_grid(images, ncol=ncol, value_range=value_range)
  img = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)
  if scale > 1:
    img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
  os.makedirs(os.path.dirname(os.fspath(path)) or ".", exist_ok=True)
  img.save(path)
  return os.fspath(path)


def grid_scale(image_shape: Sequence[int]) -> int:
  """The nearest-neighbour enlargement that draws an image of height H at about 64 pixels (1 from H = 33 up)."""
  return max(1, 64 // int(image_shape[0]))


def save_captioned_rows(path, rows: Sequence[np.ndarray], captions: Sequence[str], *, title: str = "") -> str:
  """Writes one row of images ``(K, H, W, C)`` in [0, 1] per caption, the caption written at its left."""
  if len(rows) != len(captions) or not rows:
    raise ValueError(f"save_captioned_rows needs one caption per row, got {len(rows)} rows and {len(captions)} captions")
  strips = [image_grid(r, ncol=len(r)) for r in rows]
  height, width = strips[0].shape[:2]
  fig, axes = plt.subplots(len(strips), 1, figsize=(2.5 + width / 40, 0.2 + len(strips) * height / 40), squeeze=False)
  for ax, strip, text in zip(axes[:, 0], strips, captions):
    ax.imshow(strip[..., 0] if strip.shape[-1] == 1 else strip, cmap="gray", vmin=0, vmax=255)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_ylabel(text, rotation=0, ha="right", va="center", fontsize=8)
  if title:
    fig.suptitle(title, fontsize=9)
  os.makedirs(os.path.dirname(os.fspath(path)) or ".", exist_ok=True)
  fig.savefig(path, dpi=100, bbox_inches="tight")
  plt.close(fig)
  return os.fspath(path)


def save_reconstructions(path, images, reconstructions, *, ncol: int = 8, scale: int = 1) -> str:
  """Writes rows of ``images`` ``(N, H, W, C)``, each followed by a row of their ``reconstructions``.

  ``ncol`` images a row (at most N); the last ``N % ncol`` are left out so
  that every row of originals has its row of reconstructions under it.
  """
  images, reconstructions = np.asarray(images), np.asarray(reconstructions)
  if images.shape != reconstructions.shape:
    raise ValueError(f"images {images.shape} and reconstructions {reconstructions.shape} must have the same shape")
  ncol = min(ncol, len(images))
  rows = []
  for r in range(0, len(images) - len(images) % ncol, ncol):
    rows += [images[r : r + ncol], reconstructions[r : r + ncol]]
  return save_image_grid(path, np.concatenate(rows), ncol=ncol, scale=scale)


def latent_grid(num_per_side: int = 15) -> np.ndarray:
  """Codes ``(num_per_side**2, 2)`` at the N(0, 1) quantiles 0.05..0.95 of each axis.

  Row-major with z_2 decreasing down the rows, so drawn as an image grid the
  plane has its usual orientation; at quantiles, every cell covers the same
  prior mass (Kingma & Welling 2014, Figure 4).
  """
  normal = statistics.NormalDist()
  q = np.asarray([normal.inv_cdf(p) for p in np.linspace(0.05, 0.95, num_per_side)], np.float32)
  return np.stack(np.meshgrid(q, q[::-1]), axis=-1).reshape(-1, 2)


def save_latent_manifold(path, decode: Callable[[np.ndarray], np.ndarray], *, num_per_side: int = 15,
                         scale: int = 1) -> str:
  """Writes ``decode(z)`` (images ``(n, H, W, C)`` in [0, 1]) over :func:`latent_grid`: the learned 2-D manifold."""
  images = np.asarray(decode(latent_grid(num_per_side)))
  return save_image_grid(path, images, ncol=num_per_side, scale=scale)


def save_loss_curves(
    path, records: Sequence[Mapping], keys: Sequence[str], *, title: str = "", x: str = "step", logy: bool = False
) -> str:
  """Plots ``keys`` of metric records (one dict per logged point) against ``x``."""
  fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
  for key in keys:
    pts = [(r[x], r[key]) for r in records if key in r and x in r]
    if pts:
      xs, ys = zip(*pts)
      ax.plot(xs, ys, label=key)
  ax.set_xlabel(x)
  if logy:
    ax.set_yscale("log")
  if title:
    ax.set_title(title)
  ax.legend()
  ax.grid(alpha=0.3)
  fig.tight_layout()
  os.makedirs(os.path.dirname(os.fspath(path)) or ".", exist_ok=True)
  fig.savefig(path)
  plt.close(fig)
  return os.fspath(path)


def save_scatter(path, points: Mapping[str, np.ndarray], *, title: str = "", lim=None, labels=None) -> str:
  """Scatter plot of named 2-D point sets ``(N, 2)``; ``labels`` colours the first set by class."""
  fig, ax = plt.subplots(figsize=(5, 5), dpi=120)
  for i, (name, pts) in enumerate(points.items()):
    pts = np.asarray(pts)
    if i == 0 and labels is not None:
      sc = ax.scatter(pts[:, 0], pts[:, 1], s=3, c=np.asarray(labels), cmap="tab10", label=name)
      fig.colorbar(sc, ax=ax)
    else:
      ax.scatter(pts[:, 0], pts[:, 1], s=3, alpha=0.6, label=name)
  if lim is not None:
    ax.set_xlim(*lim)
    ax.set_ylim(*lim)
  ax.set_aspect("equal")
  if title:
    ax.set_title(title)
  ax.legend(loc="upper right", markerscale=3)
  fig.tight_layout()
  os.makedirs(os.path.dirname(os.fspath(path)) or ".", exist_ok=True)
  fig.savefig(path)
  plt.close(fig)
  return os.fspath(path)


def save_histogram(path, samples: Mapping[str, np.ndarray], *, title: str = "", bins: int = 100) -> str:
  """Overlaid density histograms of named 1-D sample sets, each ``(N,)`` or ``(N, 1)``, on shared bins.

  Non-finite values (a diverged generator's) are left out with a warning, as
  :func:`image_grid` does for pixels, instead of failing the bin range.
  """
  sets = {}
  for name, values in samples.items():
    values = np.asarray(values, dtype=np.float64)
    if not (values.ndim == 1 or (values.ndim == 2 and values.shape[1] == 1)):
      raise ValueError(f"save_histogram needs 1-D samples (N,) or (N, 1), got shape {values.shape} for {name!r}")
    values = values.reshape(-1)
    finite = np.isfinite(values)
    if not finite.all():
      warnings.warn(
          f"save_histogram: {int((~finite).sum())} of {len(values)} {name!r} values are not finite (left out)",
          RuntimeWarning,
          stacklevel=2,
      )
    sets[name] = values[finite]
  pooled = np.concatenate([np.zeros(0), *sets.values()])
  # One set of edges for every set, so the bars of different sets compare.
  edges = np.histogram_bin_edges(pooled, bins=bins) if pooled.size else np.linspace(-1.0, 1.0, bins + 1)
  fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
  for name, values in sets.items():
    ax.hist(values, bins=edges, density=values.size > 0, alpha=0.5, label=f"{name} ({values.size})")
  ax.set_xlabel("x")
  ax.set_ylabel("density")
  if title:
    ax.set_title(title)
  ax.legend(loc="upper right")
  fig.tight_layout()
  os.makedirs(os.path.dirname(os.fspath(path)) or ".", exist_ok=True)
  fig.savefig(path)
  plt.close(fig)
  return os.fspath(path)


def save_bar_chart(path, names: Sequence[str], values: Sequence[float], *, errors: Sequence[float] | None = None,
                   floor: float | None = None, title: str = "", ylabel: str = "") -> str:
  """Bars of ``values`` (with ``errors`` as error bars where finite) and an optional dashed ``floor`` line."""
  fig, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(names)), 4), dpi=120)
  err = None if errors is None else [e if np.isfinite(e) else 0.0 for e in errors]
  ax.bar(range(len(names)), values, yerr=err, capsize=4, color="tab:blue", alpha=0.8)
  ax.set_xticks(range(len(names)), names, rotation=20, ha="right")
  if floor is not None:
    ax.axhline(floor, color="k", linestyle="--", linewidth=1, label=f"floor {floor:.3g}")
    ax.legend()
  ax.set_ylabel(ylabel)
  if title:
    ax.set_title(title)
  ax.grid(alpha=0.3, axis="y")
  fig.tight_layout()
  os.makedirs(os.path.dirname(os.fspath(path)) or ".", exist_ok=True)
  fig.savefig(path)
  plt.close(fig)
  return os.fspath(path)
