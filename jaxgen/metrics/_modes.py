"""Mode coverage of known 2-D Gaussian mixtures (the PacGAN synthetic benchmarks).

The definitions follow the authors' evaluation code (fjxmlzn/PacGAN,
``synthetic_data_experiments/PacGAN/pacgan/extensions.py``, ``MetricLogger``):
each generated point is assigned to the mode with the smallest standardized
distance ``sqrt(sum_d (x_d - mu_d)^2 / sigma_d^2)``; it is high quality when that
distance is below ``threshold`` (3 standard deviations). Only high-quality points
enter the mode histogram.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class GaussianMixture2D:
  """An equally weighted mixture of isotropic Gaussians N(means[k], std^2 I).

  Attributes:
    means: mode centers, shape ``(K, d)``.
    std: the common standard deviation of every mode.
  """

  means: np.ndarray
  std: float

  @property
  def num_modes(self) -> int:
    return self.means.shape[0]

  def sample(self, num: int, seed: int) -> np.ndarray:
    """``num`` points ``(num, d)`` (float32): a uniformly drawn mode plus Gaussian noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, self.num_modes, size=num)
    noise = rng.normal(size=(num, self.means.shape[1])) * self.std
    return (self.means[labels] + noise).astype(np.float32)


def ring_modes(n: int = 8, radius: float = 1.0, std: float = 0.01) -> GaussianMixture2D:
  """The 2D-ring: ``n`` modes at ``radius (cos 2 pi k / n, sin 2 pi k / n)``, std ``std``.

  Defaults: PacGAN's ring (Lin et al. 2018, Section 4.1; from Srivastava et al. 2017).
  """
  if n < 1 or radius <= 0 or std <= 0:
    raise ValueError(f"ring_modes needs n >= 1, radius > 0 and std > 0, got n={n}, radius={radius}, std={std}")
  angles = 2 * np.pi * np.arange(n) / n
  return GaussianMixture2D(radius * np.stack([np.cos(angles), np.sin(angles)], axis=1), float(std))


def grid_modes(n: int = 25, spacing: float = 2.0, std: float = 0.05) -> GaussianMixture2D:
  """The 2D-grid: ``n = s^2`` modes on an ``s x s`` grid centered at 0, ``spacing`` apart.

  Defaults: PacGAN's grid, modes at (-4 + 2i, -4 + 2j), i, j = 0..4, std 0.05.
  """
  side = int(round(np.sqrt(n)))
  if side * side != n or spacing <= 0 or std <= 0:
    raise ValueError(f"grid_modes needs a square n (25, 49, ...), spacing > 0, std > 0; got n={n}, spacing={spacing}, std={std}")
  coords = spacing * (np.arange(side) - (side - 1) / 2)
  return GaussianMixture2D(np.stack(np.meshgrid(coords, coords, indexing="ij"), axis=-1).reshape(n, 2), float(std))


def mode_metrics(samples, means, std, threshold: float = 3.0) -> dict:
  r"""Modes covered, high-quality fraction and reverse KL of samples from a known mixture.

  With d_k(x) = ||(x - mu_k) / sigma|| and k*(x) = argmin_k d_k(x), a sample is
  high quality (HQ) when d_{k*}(x) < threshold. With c_k the number of HQ
  samples assigned to mode k and p_k = c_k / sum_j c_j:

  * ``num_modes`` = #{k : c_k >= 1},
  * ``high_quality_fraction`` = sum_k c_k / N,
  * ``reverse_kl`` = KL(p || uniform) = sum_k p_k log(K p_k) (nats; 0 log 0 = 0),
    NaN when there is no HQ sample (the histogram is undefined).

  Args:
    samples: generated points, shape ``(N, d)``.
    means: mode centers, shape ``(K, d)``.
    std: standard deviation, a scalar or per-mode ``(K,)`` or ``(K, d)``.
    threshold: HQ radius in standard deviations (PacGAN: 3).

  Returns:
    dict with ``num_modes`` (int), ``high_quality_fraction``, ``reverse_kl``
    (floats) and ``mode_counts`` (int array ``(K,)``, the c_k).

  Example:
    >>> ring = ring_modes()
    >>> m = mode_metrics(ring.means[[0, 0, 1]], ring.means, ring.std)
    >>> m["num_modes"], m["high_quality_fraction"], round(m["reverse_kl"], 4)  # p = (2/3, 1/3, 0, ...)
    (2, 1.0, 1.4429)

  References:
    Lin, Khetan, Fanti & Oh, "PacGAN: The power of two samples in generative
    adversarial networks", NeurIPS 2018, Section 4.1 and Table 1; the metric
    code of their repository (``MetricLogger``).
  """
  samples = np.asarray(samples, np.float64)
  means = np.asarray(means, np.float64)
  if samples.ndim != 2 or means.ndim != 2 or samples.shape[1] != means.shape[1]:
    raise ValueError(f"samples (N, d) and means (K, d) must share d, got {samples.shape} and {means.shape}")
  std = np.broadcast_to(np.asarray(std, np.float64).reshape(-1, 1) if np.ndim(std) == 1 else np.asarray(std, np.float64), means.shape)
  # (N, K) standardized distances.
  dist = np.sqrt(np.sum(((samples[:, None, :] - means[None]) / std[None]) ** 2, axis=-1))
  nearest = np.argmin(dist, axis=1)
  high_quality = dist[np.arange(len(samples)), nearest] < threshold
  counts = np.bincount(nearest[high_quality], minlength=means.shape[0])
  total = counts.sum()
  if total == 0:
    reverse_kl = float("nan")
  else:
    p = counts[counts > 0] / total
    reverse_kl = float(np.sum(p * np.log(p * means.shape[0])))
  return {
      "num_modes": int(np.count_nonzero(counts)),
      "high_quality_fraction": float(total / len(samples)) if len(samples) else float("nan"),
      "reverse_kl": reverse_kl,
      "mode_counts": counts,
  }
