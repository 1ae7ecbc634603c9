"""Sample quality from feature arrays: FID, KID, precision/recall, density/coverage, classifier scores.

Every function takes features already extracted from real and generated
examples (an Inception network's pool features, or any classifier's embedding),
one example per row, and returns Python floats (or a small dict of them), so a
result goes straight into a JSON metrics file.

Moments (FID) and kernel sums (KID) are computed in float64 on the host. The
k-nearest-neighbour metrics compare distances between every real and every
generated example; they run in one compiled JAX function over blocks of rows,
so memory stays at ``_BLOCK_ELEMENTS`` distances (64 MiB) however many
examples there are (50,000 x 50,000 never exists at once).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from scipy import special

# Pairwise distances held at once by the k-NN metrics: a block of query rows
# against every reference row.
_BLOCK_ELEMENTS = 1 << 24
# Rows per float64 chunk when accumulating moments, so float32 features of
# 50,000 x 2048 are never copied to float64 whole.
_MOMENT_CHUNK = 4096


def _check_features(fn: str, name: str, x, min_rows: int, why: str = "") -> np.ndarray:
  """``x`` as a 2-D floating numpy array of at least ``min_rows`` finite rows (no copy if possible)."""
  x = np.asarray(x)
  if x.ndim != 2:
    raise ValueError(f"{fn}: {name} must be a 2-D array (examples, features), got shape {x.shape}.")
  if not np.issubdtype(x.dtype, np.floating):
    raise ValueError(f"{fn}: {name} has dtype {x.dtype}: pass float features, e.g. {name}.astype(np.float32).")
  if x.shape[0] < min_rows:
    raise ValueError(f"{fn}: {name} has {x.shape[0]} rows but needs at least {min_rows}{why}.")
  if x.shape[1] == 0:
    raise ValueError(f"{fn}: {name} has shape {x.shape}: every example needs at least one feature.")
  if not np.all(np.isfinite(x)):
    raise ValueError(f"{fn}: {name} contains NaN or infinite values.")
  return x


def _check_same_dim(fn: str, a: np.ndarray, b: np.ndarray, a_name: str, b_name: str) -> None:
  if a.shape[1] != b.shape[1]:
    raise ValueError(
        f"{fn}: {a_name} has {a.shape[1]} features per example but {b_name} has {b.shape[1]}; both must come from one feature extractor."
    )


def _check_count(fn: str, name: str, value, minimum: int) -> int:
  if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
    raise ValueError(f"{fn}: {name} must be an integer >= {minimum}, got {value!r}.")
  return int(value)


# ---------------------------------------------------------------------------
# Frechet distance (FID)


def _moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Mean ``(d,)`` and unbiased covariance ``(d, d)`` (as ``np.cov``) in float64, in row chunks."""
  n, d = x.shape
  mu = np.zeros(d)
  for start in range(0, n, _MOMENT_CHUNK):
    mu += np.sum(x[start:start + _MOMENT_CHUNK], axis=0, dtype=np.float64)
  mu /= n
  # Centering each chunk on the final mean (two passes) avoids the cancellation
  # of E[x x^T] - mu mu^T on features with a large mean.
  cov = np.zeros((d, d))
  for start in range(0, n, _MOMENT_CHUNK):
    c = x[start:start + _MOMENT_CHUNK].astype(np.float64) - mu[None, :]
    cov += c.T @ c
  return mu, cov / (n - 1)


def _psd_eigh(fn: str, name: str, sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Eigenvalues (negatives from rounding set to 0) and eigenvectors of a covariance; refuses non-covariances."""
  scale = float(np.max(np.abs(sigma)))
  if float(np.max(np.abs(sigma - sigma.T))) > 1e-5 * scale:
    raise ValueError(f"{fn}: {name} is not symmetric; pass a covariance matrix (d, d).")
  w, v = np.linalg.eigh(0.5 * (sigma + sigma.T))
  # A float32 covariance of correlated features has eigenvalues of order
  # -1e-7 * max; only clearly negative ones mean the input is not a covariance.
  if w.size and w[0] < -1e-4 * max(float(w[-1]), 0.0) - 1e-12 * scale:
    raise ValueError(f"{fn}: {name} has a negative eigenvalue {w[0]:.3g}; pass a positive semi-definite covariance matrix.")
  return np.maximum(w, 0.0), v


def frechet_distance_from_moments(mu1, sigma1, mu2, sigma2) -> float:
  r"""Frechet distance between N(mu1, sigma1) and N(mu2, sigma2).

  FD = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)),

  the squared 2-Wasserstein distance between the two Gaussians. The trace of the
  matrix square root is taken in the symmetric form
  Tr((S1 S2)^(1/2)) = Tr((S1^(1/2) S2 S1^(1/2))^(1/2)) = sum_i sqrt(lambda_i),
  with lambda_i the eigenvalues of the positive semi-definite matrix
  S1^(1/2) S2 S1^(1/2): two symmetric eigendecompositions in float64, exact for
  singular covariances (fewer examples than features) where ``scipy.linalg.sqrtm``
  of the non-symmetric S1 S2 needs an ``eps`` added to the diagonals.

  Args:
    mu1: mean of the first Gaussian, shape ``(d,)``.
    sigma1: its covariance, shape ``(d, d)``, symmetric positive semi-definite.
    mu2: mean of the second Gaussian, shape ``(d,)``.
    sigma2: its covariance, shape ``(d, d)``.

  Returns:
    The distance as a Python float, >= 0 (a rounding residue below 0 is
    returned as 0).

  Example:
    >>> import numpy as np
    >>> # ||(1, 1)||^2 + 2 (sqrt(1) - sqrt(4))^2 = 2 + 2
    >>> frechet_distance_from_moments(np.zeros(2), np.eye(2), np.ones(2), 4 * np.eye(2))
    4.0

  References:
    Heusel, Ramsauer, Unterthiner, Nessler & Hochreiter, "GANs trained by a two
    time-scale update rule converge to a local Nash equilibrium", NeurIPS 2017
    (the FID formula); Dowson & Landau,
    "The Frechet distance between multivariate normal distributions", Journal
    of Multivariate Analysis 1982.
  """
  fn = "frechet_distance_from_moments"
  mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
  sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
  if mu1.ndim != 1 or mu1.shape != mu2.shape:
    raise ValueError(f"{fn}: mu1 and mu2 must be vectors (d,) of one length, got shapes {mu1.shape} and {mu2.shape}.")
  d = mu1.shape[0]
  for name, sigma in (("sigma1", sigma1), ("sigma2", sigma2)):
    if sigma.shape != (d, d):
      raise ValueError(f"{fn}: {name} must have shape ({d}, {d}) to match the means, got {sigma.shape}.")
  for name, a in (("mu1", mu1), ("sigma1", sigma1), ("mu2", mu2), ("sigma2", sigma2)):
    if not np.all(np.isfinite(a)):
      raise ValueError(f"{fn}: {name} contains NaN or infinite values.")
  w1, v1 = _psd_eigh(fn, "sigma1", sigma1)
  w2, _ = _psd_eigh(fn, "sigma2", sigma2)
  root1 = (v1 * np.sqrt(w1)[None, :]) @ v1.T
  middle = root1 @ sigma2 @ root1
  lam = np.linalg.eigvalsh(0.5 * (middle + middle.T))
  trace_sqrt = np.sum(np.sqrt(np.maximum(lam, 0.0)))
  diff = mu1 - mu2
  fd = float(diff @ diff + np.sum(w1) + np.sum(w2) - 2.0 * trace_sqrt)
  # FD is a squared distance; only rounding makes it negative (identical inputs).
  return max(fd, 0.0)


def frechet_distance(features_a, features_b) -> float:
  r"""Frechet distance between Gaussian fits of two feature sets (FID on Inception features).

  FD = ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)),

  with mu the mean and S the unbiased (``np.cov``) covariance of each set,
  accumulated in float64; see :func:`frechet_distance_from_moments` for the
  square root. Symmetric in its arguments.

  Args:
    features_a: features of one set (e.g. real images), shape ``(N, d)``, N >= 2.
    features_b: features of the other set (generated), shape ``(M, d)``, M >= 2.

  Returns:
    The distance as a Python float, >= 0.

  Example:
    >>> import numpy as np
    >>> x = np.array([[0., 0.], [1., 0.], [0., 1.], [1., 1.]])
    >>> round(frechet_distance(x, x + 1.0), 6)  # same covariance: ||(1, 1)||^2
    2.0

  References:
    Heusel, Ramsauer, Unterthiner, Nessler & Hochreiter, "GANs trained by a two
    time-scale update rule converge to a local Nash equilibrium", NeurIPS 2017.
  """
  fn = "frechet_distance"
  why = " to estimate a covariance"
  features_a = _check_features(fn, "features_a", features_a, 2, why)
  features_b = _check_features(fn, "features_b", features_b, 2, why)
  _check_same_dim(fn, features_a, features_b, "features_a", "features_b")
  return frechet_distance_from_moments(*_moments(features_a), *_moments(features_b))


# ---------------------------------------------------------------------------
# Kernel inception distance (KID)


def _polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
  """k(x, y) = (x.y / d + 1)^3 for every pair of rows: ``(n, d), (m, d) -> (n, m)``."""
  return (x @ y.T / x.shape[1] + 1.0) ** 3


def _mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
  """Unbiased MMD^2 of two equally sized float64 samples ``(m, d)`` under the cubic kernel."""
  m = x.shape[0]
  k_xx, k_yy, k_xy = _polynomial_kernel(x, x), _polynomial_kernel(y, y), _polynomial_kernel(x, y)
  # The diagonal k(x_i, x_i) is left out of the within-set means (U-statistic).
  within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
  return float(within - 2.0 * k_xy.sum() / (m * m))


def kernel_inception_distance(
    features_a, features_b, *, num_subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> dict:
  r"""Kernel inception distance: unbiased MMD^2 under a cubic kernel, over random subsets.

  With k(x, y) = (x.y / d + 1)^3 and subsets x_1..x_m of ``features_a`` and
  y_1..y_m of ``features_b`` drawn without replacement,

  MMD^2 = 1/(m(m-1)) sum_{i != j} [k(x_i, x_j) + k(y_i, y_j)] - 2/m^2 sum_{i, j} k(x_i, y_j),

  an unbiased estimate (it can be slightly negative when both sets come from one
  distribution). The mean and standard deviation are over ``num_subsets``
  independent pairs of subsets, as in the authors' code.

  Args:
    features_a: features of one set (e.g. real images), shape ``(N, d)``, N >= 2.
    features_b: features of the other set (generated), shape ``(M, d)``, M >= 2.
    num_subsets: pairs of subsets averaged over.
    subset_size: m, clipped to ``min(N, M)``.
    seed: seed of the subset draws (``numpy.random.default_rng``).

  Returns:
    dict with ``mean`` and ``std`` (Python floats) of MMD^2 over the subsets.

  Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(size=(200, 4)), rng.normal(size=(200, 4))
    >>> same = kernel_inception_distance(x, y, num_subsets=10, subset_size=100)
    >>> shifted = kernel_inception_distance(x, y + 1.0, num_subsets=10, subset_size=100)
    >>> abs(same["mean"]) < 0.05 < shifted["mean"]
    True

  References:
    Binkowski, Sutherland, Arbel & Gretton, "Demystifying MMD GANs", ICLR 2018
    (the KID and its polynomial kernel); Gretton et al., "A kernel
    two-sample test", JMLR 2012 (the unbiased MMD^2 estimate, Lemma 6).
  """
  fn = "kernel_inception_distance"
  why = " for an unbiased MMD estimate"
  features_a = _check_features(fn, "features_a", features_a, 2, why)
  features_b = _check_features(fn, "features_b", features_b, 2, why)
  _check_same_dim(fn, features_a, features_b, "features_a", "features_b")
  num_subsets = _check_count(fn, "num_subsets", num_subsets, 1)
  subset_size = _check_count(fn, "subset_size", subset_size, 2)
  m = min(subset_size, features_a.shape[0], features_b.shape[0])
  rng = np.random.default_rng(seed)
  values = np.empty(num_subsets)
  for s in range(num_subsets):
    x = features_a[rng.choice(features_a.shape[0], m, replace=False)].astype(np.float64)
    y = features_b[rng.choice(features_b.shape[0], m, replace=False)].astype(np.float64)
    values[s] = _mmd2_unbiased(x, y)
  return {"mean": float(np.mean(values)), "std": float(np.std(values))}


# ---------------------------------------------------------------------------
# k-nearest-neighbour metrics: precision/recall, density/coverage


def _squared_distances(queries: jax.Array, refs: jax.Array) -> jax.Array:
  """||q - r||^2 for every pair ``(B, d), (M, d) -> (B, M)``, as a matrix product."""
  # HIGHEST: on GPUs the default float32 matmul may run in TF32 (10-bit
  # mantissa), which would move points across ball boundaries.
  cross = jnp.matmul(queries, refs.T, precision=jax.lax.Precision.HIGHEST)
  sq = jnp.sum(queries * queries, axis=1)[:, None] + jnp.sum(refs * refs, axis=1)[None, :] - 2.0 * cross
  return jnp.maximum(sq, 0.0)  # rounding can make a tiny distance negative


@functools.partial(jax.jit, static_argnames=("k", "exclude_self"))
def _kth_smallest_block(queries, refs, start, *, k: int, exclude_self: bool):
  """k-th smallest ||q - r||^2 over the rows r of ``refs``, for each of ``queries`` ``(B, d)``.

  With ``exclude_self``, ``queries`` are rows ``start .. start + B`` of ``refs``
  and each row's distance to itself is left out (not other duplicates of it).
  """
  sq = _squared_distances(queries, refs)
  if exclude_self:
    own = (start + jnp.arange(queries.shape[0]))[:, None] == jnp.arange(refs.shape[0])[None, :]
    sq = jnp.where(own, jnp.inf, sq)
  # k passes of (argmin, mask that one entry): for the small k used here this
  # is several times faster on CPU than lax.top_k, which sorts each row. Masking
  # one index at a time keeps tied distances, as top_k does.
  rows = jnp.arange(sq.shape[0])
  for _ in range(k - 1):
    sq = sq.at[rows, jnp.argmin(sq, axis=1)].set(jnp.inf)
  return jnp.min(sq, axis=1)


@functools.partial(jax.jit, static_argnames=("closed",))
def _ball_count_block(queries, centers, sq_radii, *, closed: bool):
  """For each of ``queries`` ``(B, d)``, how many balls B(centers_i, sqrt(sq_radii_i)) hold it."""
  sq = _squared_distances(queries, centers)
  inside = sq <= sq_radii[None, :] if closed else sq < sq_radii[None, :]
  return jnp.sum(inside, axis=1, dtype=jnp.int32)


def _map_blocks(fn, queries: np.ndarray, num_refs: int, **kwargs) -> np.ndarray:
  """``fn(block, start=..., ...)`` over blocks of query rows, concatenated; one padded block shape."""
  n = queries.shape[0]
  rows = max(1, min(n, _BLOCK_ELEMENTS // max(num_refs, 1)))
  out = []
  for start in range(0, n, rows):
    block = queries[start:start + rows]
    count = block.shape[0]
    if count < rows:  # pad the last block so every call reuses one compilation
      block = np.concatenate([block, np.zeros((rows - count, block.shape[1]), block.dtype)])
    out.append(np.asarray(fn(block, start, **kwargs))[:count])
  return np.concatenate(out)


def _centered_float32(x: np.ndarray, center: np.ndarray) -> np.ndarray:
  """``x - center`` in float32, chunk by chunk (no float64 copy of all of ``x``)."""
  out = np.empty(x.shape, np.float32)
  for start in range(0, x.shape[0], _MOMENT_CHUNK):
    out[start:start + _MOMENT_CHUNK] = x[start:start + _MOMENT_CHUNK] - center[None, :]
  return out


def _prepare(fn: str, real, fake, min_real: int, min_fake: int, why_real: str, why_fake: str):
  real = _check_features(fn, "real_features", real, min_real, why_real)
  fake = _check_features(fn, "fake_features", fake, min_fake, why_fake)
  _check_same_dim(fn, real, fake, "real_features", "fake_features")
  # ||q||^2 + ||r||^2 - 2 q.r loses the digits of the norms in float32; centering
  # both sets on the real mean keeps the norms at the spread of the data.
  center = np.mean(real, axis=0, dtype=np.float64)
  return _centered_float32(real, center), _centered_float32(fake, center)


def _kth_nn_sq_radii(x: np.ndarray, k: int) -> np.ndarray:
  """Squared distance from each row of ``x`` to its k-th nearest other row of ``x``."""
  refs = jnp.asarray(x)
  return _map_blocks(
      lambda block, start: _kth_smallest_block(block, refs, start, k=k, exclude_self=True), x, x.shape[0]
  )


def _ball_counts(queries: np.ndarray, centers: np.ndarray, sq_radii: np.ndarray, closed: bool) -> np.ndarray:
  centers_j, sq_radii_j = jnp.asarray(centers), jnp.asarray(sq_radii)
  return _map_blocks(
      lambda block, start: _ball_count_block(block, centers_j, sq_radii_j, closed=closed), queries, centers.shape[0]
  )


def precision_recall(real_features, fake_features, *, k: int = 3) -> dict:
  r"""Improved precision and recall: each set's k-NN balls as an estimate of its support.

  With r_k(x) the distance from x to its k-th nearest neighbour in its own set
  (itself left out), and the manifold of a set Phi the union of closed balls
  B(x, r_k(x)), x in Phi:

  * precision = 1/M sum_j 1[fake_j in manifold(real)],
  * recall = 1/N sum_i 1[real_i in manifold(fake)],

  where y is in manifold(Phi) when ||y - x|| <= r_k(x) for some x in Phi.
  Precision is the share of generated examples that look real; recall the
  share of real examples the generator covers.

  Args:
    real_features: N real examples, shape ``(N, d)``, N > k.
    fake_features: M generated examples, shape ``(M, d)``, M > k.
    k: the neighbour that sets each radius (the authors use 3).

  Returns:
    dict with ``precision`` and ``recall``, Python floats in [0, 1].

  Example:
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(20, 2))
    >>> precision_recall(x, x)
    {'precision': 1.0, 'recall': 1.0}

  References:
    Kynkaanniemi, Karras, Laine, Lehtinen & Aila, "Improved precision and
    recall metric for assessing generative models", NeurIPS 2019 (Section 2,
    the k-NN manifold estimate); their code uses the same closed balls.
  """
  fn = "precision_recall"
  k = _check_count(fn, "k", k, 1)
  why = f" (more than k={k}, for a k-th neighbour other than itself)"
  real, fake = _prepare(fn, real_features, fake_features, k + 1, k + 1, why, why)
  real_sq_radii = _kth_nn_sq_radii(real, k)
  fake_sq_radii = _kth_nn_sq_radii(fake, k)
  precision = np.mean(_ball_counts(fake, real, real_sq_radii, closed=True) > 0)
  recall = np.mean(_ball_counts(real, fake, fake_sq_radii, closed=True) > 0)
  return {"precision": float(precision), "recall": float(recall)}


def density_coverage(real_features, fake_features, *, k: int = 5) -> dict:
  r"""Density and coverage: generated examples counted in the real examples' k-NN balls.

  With r_i the distance from real_i to its k-th nearest other real example and
  B(x, r) the open ball ||y - x|| < r (strict, as in the authors' code), over
  N real and M generated examples:

  * density = 1/(kM) sum_j sum_i 1[fake_j in B(real_i, r_i)],
  * coverage = 1/N sum_i 1[exists j: fake_j in B(real_i, r_i)].

  Density is unbounded (about 1 when both sets come from one distribution,
  above 1 when fakes crowd dense real regions); coverage is in [0, 1] and
  about 1 - 2^-k for one distribution and N = M.

  Args:
    real_features: N real examples, shape ``(N, d)``, N > k.
    fake_features: M generated examples, shape ``(M, d)``, M >= 1.
    k: the neighbour that sets each real radius (the authors use 5).

  Returns:
    dict with ``density`` and ``coverage``, Python floats.

  Example:
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(20, 2))
    >>> density_coverage(x, x)["coverage"]
    1.0

  References:
    Naeem, Oh, Uh, Choi & Yoo, "Reliable fidelity and diversity metrics for
    generative models", ICML 2020 (Section 3, the definitions of density and
    coverage; Lemmas 1-2 for their expected values).
  """
  fn = "density_coverage"
  k = _check_count(fn, "k", k, 1)
  why_real = f" (more than k={k}, for a k-th neighbour other than itself)"
  real, fake = _prepare(fn, real_features, fake_features, k + 1, 1, why_real, "")
  real_sq_radii = _kth_nn_sq_radii(real, k)
  counts = _ball_counts(fake, real, real_sq_radii, closed=False)
  density = np.sum(counts, dtype=np.int64) / (k * fake.shape[0])
  # real_i is covered when its nearest fake lies inside its ball.
  fakes = jnp.asarray(fake)
  nearest_fake = _map_blocks(
      lambda block, start: _kth_smallest_block(block, fakes, start, k=1, exclude_self=False), real, fake.shape[0]
  )
  coverage = np.mean(nearest_fake < real_sq_radii)
  return {"density": float(density), "coverage": float(coverage)}


# ---------------------------------------------------------------------------
# Classifier-based scores


def classifier_accuracy(logits_or_probs, labels) -> float:
  r"""Accuracy of a classifier on conditional samples against the labels they were generated for.

  accuracy = 1/N sum_i 1[argmax_c s_ic = y_i],

  with s_i the classifier's scores for sample i. Logits, log-probabilities and
  probabilities all give the same argmax, so any of them may be passed (ties go
  to the lowest class index).

  Args:
    logits_or_probs: the classifier's per-class scores for N samples, shape
      ``(N, C)``: logits, log-probabilities or probabilities.
    labels: the class each sample was conditioned on, integers in ``[0, C)``,
      shape ``(N,)``.

  Returns:
    The accuracy as a Python float in [0, 1].

  Example:
    >>> import numpy as np
    >>> classifier_accuracy(np.array([[2.0, 1.0], [0.0, 3.0]]), np.array([0, 0]))
    0.5

  References:
    Odena, Olah & Shlens, "Conditional image synthesis with auxiliary classifier
    GANs", ICML 2017 (accuracy of a pre-trained classifier on class-conditional
    samples).
  """
  fn = "classifier_accuracy"
  scores = np.asarray(logits_or_probs)
  labels = np.asarray(labels)
  if scores.ndim != 2 or scores.shape[0] == 0 or scores.shape[1] == 0:
    raise ValueError(f"{fn}: logits_or_probs must have shape (N, C) with N, C >= 1, got {scores.shape}.")
  if not np.issubdtype(scores.dtype, np.floating):
    raise ValueError(f"{fn}: logits_or_probs has dtype {scores.dtype}: pass the classifier's float scores (N, C).")
  if np.any(np.isnan(scores)):
    raise ValueError(f"{fn}: logits_or_probs contains NaN.")
  if labels.shape != scores.shape[:1]:
    raise ValueError(f"{fn}: labels must have shape ({scores.shape[0]},), one per row of logits_or_probs, got {labels.shape}.")
  if not np.issubdtype(labels.dtype, np.integer):
    raise ValueError(f"{fn}: labels has dtype {labels.dtype}: pass integer class indices, not one-hot or float labels.")
  if np.any(labels < 0) or np.any(labels >= scores.shape[1]):
    raise ValueError(f"{fn}: labels must lie in [0, {scores.shape[1]}) for {scores.shape[1]} classes, got values in [{labels.min()}, {labels.max()}].")
  return float(np.mean(np.argmax(scores, axis=1) == labels))


def classifier_score(log_probs, *, num_splits: int = 1) -> dict:
  r"""Classifier score (the Inception Score on any classifier): exp of the mean KL to the marginal.

  score = exp(E_x KL(p(y|x) || p(y))),  p(y) = 1/N sum_i p(y|x_i),

  computed in log space: log p(y) = logsumexp_i log p(y|x_i) - log N, and
  KL_i = sum_y p(y|x_i) (log p(y|x_i) - log p(y)) with 0 log 0 = 0. It is 1 when
  every prediction is the same and C when confident predictions spread evenly
  over C classes. As in the original code, the N samples can be cut into
  ``num_splits`` consecutive parts, each scored with its own marginal.

  Args:
    log_probs: log p(y|x) of N generated samples, shape ``(N, C)``; each row
      must logsumexp to 0 (``jax.nn.log_softmax(logits)``); -inf is allowed.
    num_splits: parts scored separately (the original uses 10 of 5,000 each).

  Returns:
    dict with ``mean`` and ``std`` (Python floats) of the score over the splits
    (std 0.0 for one split).

  Example:
    >>> import numpy as np
    >>> one_hot = np.where(np.eye(3) > 0, 0.0, -np.inf)  # log of one-hot rows
    >>> round(classifier_score(one_hot)["mean"], 6)
    3.0

  References:
    Salimans, Goodfellow, Zaremba, Cheung, Radford & Chen, "Improved techniques
    for training GANs", NeurIPS 2016 (Section 4, the Inception score).
  """
  fn = "classifier_score"
  log_probs = np.asarray(log_probs)
  if log_probs.ndim != 2 or log_probs.shape[1] == 0:
    raise ValueError(f"{fn}: log_probs must have shape (N, C), got {log_probs.shape}.")
  if not np.issubdtype(log_probs.dtype, np.floating):
    raise ValueError(f"{fn}: log_probs has dtype {log_probs.dtype}: pass float log-probabilities, e.g. jax.nn.log_softmax(logits).")
  num_splits = _check_count(fn, "num_splits", num_splits, 1)
  n = log_probs.shape[0]
  if n < num_splits:
    raise ValueError(f"{fn}: log_probs has {n} rows but num_splits={num_splits} needs at least one per split.")
  log_probs = log_probs.astype(np.float64)
  if np.any(np.isnan(log_probs)) or np.any(log_probs == np.inf):
    raise ValueError(f"{fn}: log_probs contains NaN or +inf.")
  row_norm = special.logsumexp(log_probs, axis=1)
  if not np.all(np.abs(row_norm) < 1e-3):
    raise ValueError(
        f"{fn}: rows of log_probs must be normalized log-probabilities (logsumexp 0, got up to {np.max(np.abs(row_norm)):.3g}); pass jax.nn.log_softmax(logits)."
    )
  scores = np.empty(num_splits)
  for s in range(num_splits):
    part = log_probs[s * n // num_splits:(s + 1) * n // num_splits]
    log_marginal = special.logsumexp(part, axis=0) - np.log(part.shape[0])
    # 0 log 0 = 0: a class the classifier rules out (log p = -inf) adds nothing,
    # and its marginal can only be -inf where every row is -inf there.
    finite = part > -np.inf
    safe_part = np.where(finite, part, 0.0)
    safe_marginal = np.where(finite, log_marginal[None, :], 0.0)
    terms = np.where(finite, np.exp(safe_part) * (safe_part - safe_marginal), 0.0)
    scores[s] = np.exp(np.mean(np.sum(terms, axis=1)))
  return {"mean": float(np.mean(scores)), "std": float(np.std(scores))}
