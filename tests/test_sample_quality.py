"""Sample-quality metrics on feature arrays against closed forms and brute-force numpy references.

The references here are written independently of the library: full distance
matrices from explicit differences, Python double loops for the MMD, scipy's
``sqrtm`` for the Frechet distance and the Inception score in probability space
as in the original code.
"""

import json

import jax
import numpy as np
import pytest
import scipy.linalg

from jaxgen import metrics
from jaxgen.metrics import _sample_quality


# ---------------------------------------------------------------------------
# Independent references


def _sqrtm_frechet(mu1, s1, mu2, s2, eps=1e-10):
  """The usual FID code: scipy.linalg.sqrtm of S1 S2, eps on the diagonals if it fails."""
  covmean = scipy.linalg.sqrtm(s1 @ s2)
  if not np.all(np.isfinite(covmean)):
    offset = np.eye(s1.shape[0]) * eps
    covmean = scipy.linalg.sqrtm((s1 + offset) @ (s2 + offset))
  covmean = np.real(covmean)
  diff = mu1 - mu2
  return diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)


def _with_moments(rng, n, mu, cov):
  """n points whose sample mean is exactly mu and sample (ddof=1) covariance exactly cov."""
  z = rng.normal(size=(n, len(mu)))
  z -= z.mean(axis=0)
  z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T
  return mu + z @ np.linalg.cholesky(cov).T


def _random_cov(rng, d):
  a = rng.normal(size=(d, d))
  return a @ a.T / d + 0.1 * np.eye(d)


def _naive_mmd2(x, y):
  """Unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3, by explicit loops over pairs."""
  m, d = x.shape
  k = lambda a, b: (float(np.dot(a, b)) / d + 1.0) ** 3
  xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
  yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
  xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
  return xx + yy - 2 * xy


def _distances(a, b):
  return np.sqrt(np.sum((a[:, None, :].astype(np.float64) - b[None, :, :]) ** 2, axis=-1))


def _knn_radii(x, k):
  dist = _distances(x, x)
  np.fill_diagonal(dist, np.inf)
  return np.sort(dist, axis=1)[:, k - 1]


def _brute_precision_recall(real, fake, k):
  real_r, fake_r = _knn_radii(real, k), _knn_radii(fake, k)
  d = _distances(real, fake)  # (N, M)
  precision = np.mean(np.any(d <= real_r[:, None], axis=0))
  recall = np.mean(np.any(d <= fake_r[None, :], axis=1))
  return precision, recall


def _brute_density_coverage(real, fake, k):
  real_r = _knn_radii(real, k)
  d = _distances(real, fake)  # (N, M)
  inside = d < real_r[:, None]
  return inside.sum() / (k * fake.shape[0]), np.mean(inside.any(axis=1))


def _probability_inception_score(probs, splits):
  """Salimans et al.'s code: exp(mean_x sum_y p log(p / p(y))) per consecutive split."""
  n = probs.shape[0]
  scores = []
  for i in range(splits):
    part = probs[i * n // splits:(i + 1) * n // splits]
    py = part.mean(axis=0, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
      kl = np.where(part > 0, part * (np.log(part) - np.log(py)), 0.0)
    scores.append(np.exp(np.mean(np.sum(kl, axis=1))))
  return np.mean(scores), np.std(scores)


def _log_softmax(logits):
  return logits - scipy.special.logsumexp(logits, axis=1, keepdims=True)


def _clusters(rng, centers, n, std=0.05):
  labels = rng.integers(0, len(centers), size=n)
  return centers[labels] + std * rng.normal(size=(n, centers.shape[1]))


# ---------------------------------------------------------------------------
# Frechet distance


def test_frechet_diagonal_closed_form():
  rng = np.random.default_rng(0)
  d = 6
  mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
  a, b = rng.uniform(0.1, 3.0, size=d), rng.uniform(0.1, 3.0, size=d)
  expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
  got = metrics.frechet_distance_from_moments(mu1, np.diag(a), mu2, np.diag(b))
  assert isinstance(got, float)
  np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_frechet_commuting_closed_form_with_singular_covariances():
  # S1 = Q diag(a) Q^T, S2 = Q diag(b) Q^T commute: Tr term = sum (sqrt(a) - sqrt(b))^2,
  # also when some eigenvalues are 0 (fewer examples than features).
  rng = np.random.default_rng(1)
  d = 8
  q, _ = np.linalg.qr(rng.normal(size=(d, d)))
  a, b = rng.uniform(0.1, 2.0, size=d), rng.uniform(0.1, 2.0, size=d)
  a[:3], b[2:5] = 0.0, 0.0
  mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
  s1, s2 = q @ np.diag(a) @ q.T, q @ np.diag(b) @ q.T
  expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
  # sqrt of an eigenvalue that rounding moved from 0 to ~1e-16 is ~1e-8: the
  # accuracy any square root has at a singular covariance.
  np.testing.assert_allclose(metrics.frechet_distance_from_moments(mu1, s1, mu2, s2), expected, rtol=1e-7)


def test_frechet_general_matches_scipy_sqrtm_and_is_symmetric():
  rng = np.random.default_rng(2)
  d = 10
  mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
  s1, s2 = _random_cov(rng, d), _random_cov(rng, d)
  got = metrics.frechet_distance_from_moments(mu1, s1, mu2, s2)
  np.testing.assert_allclose(got, _sqrtm_frechet(mu1, s1, mu2, s2), rtol=1e-9)
  np.testing.assert_allclose(metrics.frechet_distance_from_moments(mu2, s2, mu1, s1), got, rtol=1e-9)
  assert metrics.frechet_distance_from_moments(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-9)


def test_frechet_one_dimensional_is_squared_wasserstein():
  # W2^2(N(m1, s1^2), N(m2, s2^2)) = (m1 - m2)^2 + (s1 - s2)^2.
  got = metrics.frechet_distance_from_moments([1.0], [[4.0]], [-2.0], [[0.25]])
  assert got == pytest.approx(9.0 + 1.5**2, rel=1e-12)


def test_frechet_distance_of_samples_with_known_moments():
  rng = np.random.default_rng(3)
  d = 5
  mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
  s1, s2 = _random_cov(rng, d), _random_cov(rng, d)
  a, b = _with_moments(rng, 300, mu1, s1), _with_moments(rng, 200, mu2, s2)
  expected = _sqrtm_frechet(mu1, s1, mu2, s2)
  np.testing.assert_allclose(metrics.frechet_distance(a, b), expected, rtol=1e-8)
  np.testing.assert_allclose(metrics.frechet_distance(b, a), expected, rtol=1e-8)


def test_frechet_distance_uses_unbiased_moments_chunked_and_float32(monkeypatch):
  rng = np.random.default_rng(4)
  a = (rng.normal(size=(257, 7)) * 3 + 100).astype(np.float32)  # a large mean
  b = rng.normal(size=(101, 7)).astype(np.float32)
  a64, b64 = a.astype(np.float64), b.astype(np.float64)
  expected = _sqrtm_frechet(a64.mean(0), np.cov(a64, rowvar=False), b64.mean(0), np.cov(b64, rowvar=False))
  np.testing.assert_allclose(metrics.frechet_distance(a, b), expected, rtol=1e-9)
  monkeypatch.setattr(_sample_quality, "_MOMENT_CHUNK", 16)
  np.testing.assert_allclose(metrics.frechet_distance(a, b), expected, rtol=1e-9)
  assert metrics.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)


def test_frechet_with_fewer_examples_than_features():
  rng = np.random.default_rng(5)
  a, b = rng.normal(size=(6, 20)), rng.normal(size=(9, 20)) + 0.5
  mu1, s1, mu2, s2 = a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)
  got = metrics.frechet_distance(a, b)
  assert np.isfinite(got) and got > 0
  np.testing.assert_allclose(got, _sqrtm_frechet(mu1, s1, mu2, s2), rtol=1e-6)


# ---------------------------------------------------------------------------
# Kernel inception distance


def test_mmd2_unbiased_matches_double_loop():
  rng = np.random.default_rng(6)
  x, y = rng.normal(size=(12, 3)), rng.normal(size=(12, 3)) + 0.3
  np.testing.assert_allclose(_sample_quality._mmd2_unbiased(x, y), _naive_mmd2(x, y), rtol=1e-10)


def test_kid_one_subset_of_everything_is_the_full_estimate():
  # A subset as large as both sets is a permutation of each; MMD^2 ignores order.
  rng = np.random.default_rng(7)
  x, y = rng.normal(size=(15, 4)), rng.normal(size=(15, 4)) * 1.5
  kid = metrics.kernel_inception_distance(x, y, num_subsets=1, subset_size=1000)
  np.testing.assert_allclose(kid["mean"], _naive_mmd2(x, y), rtol=1e-10)
  assert kid["std"] == 0.0


def test_kid_near_zero_for_one_distribution_and_seeded():
  rng = np.random.default_rng(8)
  x, y = rng.normal(size=(400, 8)), rng.normal(size=(300, 8))
  same = metrics.kernel_inception_distance(x, y, num_subsets=20, subset_size=200)
  shifted = metrics.kernel_inception_distance(x, y + 0.5, num_subsets=20, subset_size=200)
  assert shifted["mean"] > 0.1
  assert abs(same["mean"]) < 0.05 * shifted["mean"]
  assert same["std"] > 0
  assert metrics.kernel_inception_distance(x, y, num_subsets=20, subset_size=200) == same
  assert metrics.kernel_inception_distance(x, y, num_subsets=20, subset_size=200, seed=1) != same


def test_kid_subset_size_clipped_to_smaller_set():
  rng = np.random.default_rng(9)
  x, y = rng.normal(size=(30, 3)), rng.normal(size=(10, 3))
  kid = metrics.kernel_inception_distance(x, y, num_subsets=5, subset_size=1000)
  # With m = 10 every y subset is all of y; the x subsets are 10 of 30.
  draws = np.random.default_rng(0)
  values = []
  for _ in range(5):
    xi = x[draws.choice(30, 10, replace=False)]
    yi = y[draws.choice(10, 10, replace=False)]
    values.append(_naive_mmd2(xi, yi))
  np.testing.assert_allclose(kid["mean"], np.mean(values), rtol=1e-10)
  np.testing.assert_allclose(kid["std"], np.std(values), rtol=1e-8)


# ---------------------------------------------------------------------------
# Precision / recall, density / coverage


@pytest.mark.parametrize(
    "n, m, d, k, seed",
    [(120, 90, 2, 3, 0), (200, 250, 5, 3, 1), (80, 80, 16, 1, 2), (150, 100, 3, 5, 3)],
)
def test_knn_metrics_match_brute_force(n, m, d, k, seed):
  rng = np.random.default_rng(seed)
  real = rng.normal(size=(n, d)).astype(np.float32)
  fake = (rng.normal(size=(m, d)) * 1.3 + 0.4).astype(np.float32)
  pr = metrics.precision_recall(real, fake, k=k)
  dc = metrics.density_coverage(real, fake, k=k)
  precision, recall = _brute_precision_recall(real, fake, k)
  density, coverage = _brute_density_coverage(real, fake, k)
  assert pr == {"precision": precision, "recall": recall}
  assert dc["density"] == pytest.approx(density, abs=1e-12)
  assert dc["coverage"] == coverage
  assert 0 < precision < 1 and 0 < recall < 1 and 0 < coverage < 1  # a test that can fail


def test_knn_metrics_in_small_blocks_match_brute_force(monkeypatch):
  # Blocks of 1-2 query rows (and a padded last block) give the same answer.
  rng = np.random.default_rng(10)
  real, fake = rng.normal(size=(45, 3)), rng.normal(size=(37, 3)) + 0.5
  monkeypatch.setattr(_sample_quality, "_BLOCK_ELEMENTS", 80)
  monkeypatch.setattr(_sample_quality, "_MOMENT_CHUNK", 8)
  pr = metrics.precision_recall(real, fake, k=3)
  dc = metrics.density_coverage(real, fake, k=4)
  assert (pr["precision"], pr["recall"]) == _brute_precision_recall(real, fake, 3)
  density, coverage = _brute_density_coverage(real, fake, 4)
  assert dc["density"] == pytest.approx(density, abs=1e-12)
  assert dc["coverage"] == coverage


def test_identical_sets():
  x = np.random.default_rng(11).normal(size=(200, 4))
  assert metrics.precision_recall(x, x) == {"precision": 1.0, "recall": 1.0}
  assert metrics.density_coverage(x, x)["coverage"] == 1.0


def test_half_the_modes_gives_half_recall_full_precision():
  rng = np.random.default_rng(12)
  angles = 2 * np.pi * np.arange(8) / 8
  centers = 3 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
  real = _clusters(rng, centers, 400)
  fake = _clusters(rng, centers[:4], 400)  # two clusters of four: modes 0-3 only
  full = metrics.precision_recall(real, _clusters(rng, centers, 400))
  pr = metrics.precision_recall(real, fake)
  # k = 3 balls miss a few tail points, so even all eight modes give about 0.95.
  assert pr["precision"] > 0.9 and full["precision"] > 0.9
  assert full["recall"] > 0.9
  assert 0.4 < pr["recall"] < 0.6
  assert 0.4 < metrics.density_coverage(real, fake)["coverage"] < 0.6


def test_single_repeated_point_has_no_recall():
  rng = np.random.default_rng(13)
  real = rng.normal(size=(300, 3))
  fake = np.repeat(np.full((1, 3), 0.1), 100, axis=0)  # mode collapse onto one point
  pr = metrics.precision_recall(real, fake)
  dc = metrics.density_coverage(real, fake)
  assert pr["precision"] == 1.0  # the point is realistic ...
  assert pr["recall"] == 0.0  # ... but its k-NN balls have radius 0
  assert dc["coverage"] < 0.05


def test_density_and_coverage_expectations_for_one_distribution():
  # Naeem et al. 2020, Lemmas 1-2: E[density] = 1; E[coverage] = 1 - prod_{i<k} (N-1-i)/(N+M-1-i) (about 1 - 2^-k).
  rng = np.random.default_rng(14)
  n, k = 500, 5
  densities, coverages = [], []
  for _ in range(3):
    dc = metrics.density_coverage(rng.normal(size=(n, 2)), rng.normal(size=(n, 2)), k=k)
    densities.append(dc["density"])
    coverages.append(dc["coverage"])
  expected_coverage = 1 - np.prod([(n - 1 - i) / (2 * n - 1 - i) for i in range(k)])
  assert abs(np.mean(densities) - 1) < 0.06
  assert abs(np.mean(coverages) - expected_coverage) < 0.03


# ---------------------------------------------------------------------------
# Classifier scores


def test_classifier_score_uniform_is_one_and_even_one_hot_is_num_classes():
  uniform = np.full((12, 5), np.log(1 / 5))
  assert metrics.classifier_score(uniform)["mean"] == pytest.approx(1.0, abs=1e-12)
  one_hot = np.where(np.eye(4)[np.arange(12) % 4] > 0, 0.0, -np.inf)
  score = metrics.classifier_score(one_hot)
  assert score["mean"] == pytest.approx(4.0, rel=1e-12) and score["std"] == 0.0
  # Three splits of four, each holding all four classes once.
  assert metrics.classifier_score(one_hot, num_splits=3) == pytest.approx({"mean": 4.0, "std": 0.0}, abs=1e-12)


@pytest.mark.parametrize("num_splits", [1, 3])
def test_classifier_score_matches_probability_space_reference(num_splits):
  rng = np.random.default_rng(15)
  log_probs = _log_softmax(3 * rng.normal(size=(101, 7)))
  expected_mean, expected_std = _probability_inception_score(np.exp(log_probs), num_splits)
  score = metrics.classifier_score(log_probs, num_splits=num_splits)
  np.testing.assert_allclose(score["mean"], expected_mean, rtol=1e-10)
  np.testing.assert_allclose(score["std"], expected_std, rtol=1e-8, atol=1e-12)


def test_classifier_score_accepts_float32_log_softmax():
  logits = np.random.default_rng(16).normal(size=(50, 10)).astype(np.float32)
  log_probs = np.asarray(jax.nn.log_softmax(logits))
  expected, _ = _probability_inception_score(np.exp(_log_softmax(logits.astype(np.float64))), 1)
  np.testing.assert_allclose(metrics.classifier_score(log_probs)["mean"], expected, rtol=1e-5)


def test_classifier_accuracy_same_for_logits_probs_and_log_probs():
  rng = np.random.default_rng(17)
  logits = rng.normal(size=(200, 6))
  labels = rng.integers(0, 6, size=200)
  expected = np.mean(np.argmax(logits, axis=1) == labels)
  log_probs = _log_softmax(logits)
  for scores in (logits, log_probs, np.exp(log_probs)):
    got = metrics.classifier_accuracy(scores, labels)
    assert isinstance(got, float) and got == expected
  assert metrics.classifier_accuracy(logits, np.argmax(logits, axis=1)) == 1.0


def test_results_serialize_to_json():
  rng = np.random.default_rng(18)
  x, y = rng.normal(size=(40, 3)), rng.normal(size=(40, 3))
  results = {
      "fid": metrics.frechet_distance(x, y),
      "kid": metrics.kernel_inception_distance(x, y, num_subsets=2, subset_size=20),
      "pr": metrics.precision_recall(x, y),
      "dc": metrics.density_coverage(x, y),
      "acc": metrics.classifier_accuracy(x, np.zeros(40, int)),
      "score": metrics.classifier_score(_log_softmax(x), num_splits=2),
  }
  assert json.loads(json.dumps(results)) == results


# ---------------------------------------------------------------------------
# Bad inputs: one line each


_X = np.zeros((10, 3))
_Y = np.ones((10, 3))
_BAD = [
    (lambda: metrics.frechet_distance(np.zeros(10), _Y), "2-D array"),
    (lambda: metrics.frechet_distance(_X, np.ones((10, 4))), "3 features per example but features_b has 4"),
    (lambda: metrics.frechet_distance(_X[:1], _Y), "needs at least 2"),
    (lambda: metrics.frechet_distance(_X.astype(int), _Y), "pass float features"),
    (lambda: metrics.frechet_distance(_X, np.full((10, 3), np.nan)), "NaN"),
    (lambda: metrics.frechet_distance_from_moments(np.zeros(2), np.eye(3), np.zeros(2), np.eye(2)), r"shape \(2, 2\)"),
    (lambda: metrics.frechet_distance_from_moments(np.zeros(2), np.eye(2), np.zeros(3), np.eye(2)), "one length"),
    (lambda: metrics.frechet_distance_from_moments(np.zeros(2), [[1, 1], [0, 1]], np.zeros(2), np.eye(2)), "not symmetric"),
    (lambda: metrics.frechet_distance_from_moments(np.zeros(2), -np.eye(2), np.zeros(2), np.eye(2)), "negative eigenvalue"),
    (lambda: metrics.kernel_inception_distance(_X, _Y, num_subsets=0), "num_subsets must be an integer >= 1"),
    (lambda: metrics.kernel_inception_distance(_X, _Y, subset_size=1), "subset_size must be an integer >= 2"),
    (lambda: metrics.kernel_inception_distance(_X, _Y[:1]), "needs at least 2"),
    (lambda: metrics.precision_recall(_X, _Y, k=0), "k must be an integer >= 1"),
    (lambda: metrics.precision_recall(_X, _Y[:3], k=3), "needs at least 4"),
    (lambda: metrics.precision_recall(_X, np.ones((10, 2))), "both must come from one feature extractor"),
    (lambda: metrics.density_coverage(_X[:5], _Y, k=5), "real_features has 5 rows but needs at least 6"),
    (lambda: metrics.density_coverage(_X, _Y[:0]), "fake_features has 0 rows"),
    (lambda: metrics.classifier_accuracy(np.zeros((4, 3)), np.array([0, 1, 2, 3])), r"in \[0, 3\)"),
    (lambda: metrics.classifier_accuracy(np.zeros((4, 3)), np.zeros((4, 3), int)), r"shape \(4,\)"),
    (lambda: metrics.classifier_accuracy(np.zeros((4, 3)), np.zeros(4)), "integer class indices"),
    (lambda: metrics.classifier_score(np.zeros((4, 3))), "normalized log-probabilities"),
    (lambda: metrics.classifier_score(np.log(np.full((4, 2), 0.5)), num_splits=5), "num_splits=5"),
    (lambda: metrics.classifier_score(np.full((4, 2), np.nan)), "NaN"),
]


@pytest.mark.parametrize("call, match", _BAD, ids=[m for _, m in _BAD])
def test_bad_inputs_raise_one_line_value_errors(call, match):
  with pytest.raises(ValueError, match=match) as info:
    call()
  assert "\n" not in str(info.value)


def test_intra_class_diversity_matches_scipy_pdist():
  from scipy.spatial.distance import pdist

  from jaxgen.metrics import intra_class_diversity

  rng = np.random.default_rng(0)
  f = rng.normal(size=(60, 5))
  y = rng.integers(0, 3, size=60)
  y[0] = 3  # one lone example of class 3: NaN
  got = intra_class_diversity(f, y, num_classes=5)
  for c in range(3):
    np.testing.assert_allclose(got[c], pdist(f[y == c]).mean(), rtol=1e-10)
  assert np.isnan(got[3]) and np.isnan(got[4])
  # Collapse to one point per class: zero diversity.
  assert np.all(intra_class_diversity(np.repeat(f[:2], 10, axis=0), np.repeat([0, 1], 10)) < 1e-6)
  with pytest.raises(ValueError, match="labels must be non-negative integers"):
    intra_class_diversity(f, y.astype(float))
