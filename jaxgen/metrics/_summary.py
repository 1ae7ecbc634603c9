"""Summaries built from the feature metrics: every sample-quality figure at once, and diversity within classes."""

from __future__ import annotations

import numpy as np

from jaxgen.metrics._sample_quality import density_coverage, frechet_distance, kernel_inception_distance
from jaxgen.metrics._sample_quality import precision_recall


def sample_quality(fake, real, *, seed: int, k: int = 3) -> dict[str, float]:
  """FID, KID (mean, std), precision and recall (k), density and coverage (k = 5) of ``fake`` against ``real``.

  Args:
    fake: features of generated examples ``(M, d)``.
    real: features of real examples ``(N, d)``.
    seed: seed of KID's random subsets (of ``min(1000, M, N)`` rows).
    k: the neighbour of improved precision and recall (their authors' 3).

  Returns:
    dict with ``fid``, ``kid_mean``, ``kid_std``, ``precision``, ``recall``,
    ``density``, ``coverage`` (Python floats).
  """
  kid = kernel_inception_distance(fake, real, seed=seed, subset_size=min(1000, len(fake), len(real)))
  pr = precision_recall(real, fake, k=k)
  dc = density_coverage(real, fake, k=5)
  return {"fid": frechet_distance(fake, real), "kid_mean": kid["mean"], "kid_std": kid["std"],
          "precision": pr["precision"], "recall": pr["recall"], "density": dc["density"], "coverage": dc["coverage"]}


def intra_class_diversity(features, labels, *, num_classes: int | None = None, max_per_class: int = 1000) -> np.ndarray:
  r"""Mean pairwise feature distance within each class: d_c = mean_{i != j, y_i = y_j = c} ||f_i - f_j||_2.

  A conditional generator that draws one or a few images per class (the
  loss of intra-class diversity reported for AC-GAN) scores low against the
  same figure for real images of the class; the ratio generated / real
  compares runs.

  Args:
    features: ``(N, d)`` features.
    labels: ``(N,)`` integer classes.
    num_classes: length of the result (default ``max(labels) + 1``).
    max_per_class: the first this many examples of each class are used (the
      cost is quadratic in it).

  Returns:
    numpy ``(num_classes,)``; NaN for a class with fewer than two examples.

  Example:
    >>> import numpy as np
    >>> intra_class_diversity(np.array([[0.0], [3.0], [1.0], [1.0]]), np.array([0, 0, 1, 1]))
    array([3., 0.])

  References:
    Odena, Olah & Shlens, "Conditional image synthesis with auxiliary
    classifier GANs", ICML 2017, Section 4.2 (diversity within a class, there
    by MS-SSIM).
  """
  f = np.asarray(features, np.float64)
  y = np.asarray(labels)
  if f.ndim != 2 or y.shape != (f.shape[0],):
    raise ValueError(f"intra_class_diversity: features must be (N, d) and labels (N,), got {f.shape} and {y.shape}")
  if y.size and (not np.issubdtype(y.dtype, np.integer) or y.min() < 0):
    raise ValueError("intra_class_diversity: labels must be non-negative integers")
  num_classes = int(y.max()) + 1 if num_classes is None else int(num_classes)
  out = np.full(num_classes, np.nan)
  for c in range(num_classes):
    fc = f[y == c][:max_per_class]
    n = fc.shape[0]
    if n < 2:
      continue
    sq = np.sum(fc * fc, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * fc @ fc.T, 0.0)
    np.fill_diagonal(d2, 0.0)
    out[c] = np.sqrt(d2).sum() / (n * (n - 1))
  return out
