"""Tests for jaxgen.data: loaders (tfds mocks, tiny local files), checks, batching."""

import gzip
import struct

import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow_datasets as tfds

from jaxgen import data

# ----------------------------------------------------------------- helpers


def _write_idx(path, array, *, compress):
  """Writes `array` (uint8) in IDX format, independently of the reader."""
  array = np.asarray(array, np.uint8)
  magic = 0x0800 | array.ndim  # 2051 for 3-d images, 2049 for 1-d labels
  header = struct.pack(">i", magic) + struct.pack(f">{array.ndim}i", *array.shape)
  payload = header + array.tobytes()
  if compress:
    with gzip.open(str(path) + ".gz", "wb") as f:
      f.write(payload)
  else:
    path.write_bytes(payload)


def _write_mnist(folder, *, n_train=7, n_test=5, compress=True, seed=0):
  rng = np.random.default_rng(seed)
  arrays = {
      "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
      "train-labels-idx1-ubyte": rng.integers(0, 10, (n_train,)),
      "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
      "t10k-labels-idx1-ubyte": rng.integers(0, 10, (n_test,)),
  }
  folder.mkdir(parents=True, exist_ok=True)
  for stem, a in arrays.items():
    _write_idx(folder / stem, a, compress=compress)
  return arrays


def _write_binarized_npz(folder, sizes=(6, 3, 4), seed=0):
  rng = np.random.default_rng(seed)
  arrays = {k: rng.integers(0, 2, (n, 784)).astype(np.uint8)
            for k, n in zip(("train", "valid", "test"), sizes)}
  folder.mkdir(parents=True, exist_ok=True)
  np.savez(folder / "binarized_mnist.npz", **arrays)
  return arrays


# ----------------------------------------------------------------- digits


def test_digits_offline_split_and_scaling():
  from sklearn.datasets import load_digits as sk_digits

  ds = data.load_dataset("digits")
  assert ds.image_shape == (8, 8, 1)
  assert (ds.num_train, ds.num_test, ds.num_classes) == (1497, 300, 10)
  assert ds.train.dtype == np.float32 and ds.train_labels.dtype == np.int32
  # The splits partition the 1797 images: together they are the sklearn
  # images / 16, each exactly once (compare as sorted rows).
  raw = sk_digits()
  expected = np.concatenate([raw.images.reshape(1797, 64) / 16.0, raw.target[:, None]], 1)
  got = np.concatenate([
      np.concatenate([ds.train.reshape(-1, 64), ds.train_labels[:, None]], 1),
      np.concatenate([ds.test.reshape(-1, 64), ds.test_labels[:, None]], 1),
  ])
  np.testing.assert_allclose(np.unique(got, axis=0), np.unique(expected, axis=0))
  assert got.shape == expected.shape
  # Deterministic: the same split on a second call.
  np.testing.assert_array_equal(data.load_dataset("digits").test, ds.test)


# ----------------------------------------------------------------- local files


@pytest.mark.parametrize("compress", [True, False])
def test_mnist_idx_round_trip(tmp_path, compress):
  arrays = _write_mnist(tmp_path, compress=compress)
  ds = data.load_dataset("mnist", data_dir=tmp_path)
  assert ds.name == "mnist" and ds.image_shape == (28, 28, 1)
  np.testing.assert_allclose(ds.train[..., 0], arrays["train-images-idx3-ubyte"] / 255.0, rtol=1e-6)
  np.testing.assert_allclose(ds.test[..., 0], arrays["t10k-images-idx3-ubyte"] / 255.0, rtol=1e-6)
  np.testing.assert_array_equal(ds.train_labels, arrays["train-labels-idx1-ubyte"])
  np.testing.assert_array_equal(ds.test_labels, arrays["t10k-labels-idx1-ubyte"])
  assert ds.train_labels.dtype == np.int32 and ds.num_classes == 10


def test_local_files_found_in_named_subfolder(tmp_path):
  _write_mnist(tmp_path / "mnist")
  _write_binarized_npz(tmp_path / "binarized_mnist")
  assert data.load_dataset("mnist", data_dir=tmp_path).num_train == 7
  assert data.load_dataset("binarized_mnist", data_dir=tmp_path).num_train == 6


def test_read_idx_rejects_truncated_and_bad_magic(tmp_path):
  _write_idx(tmp_path / "x", np.zeros((3, 4, 4)), compress=False)
  raw = (tmp_path / "x").read_bytes()
  (tmp_path / "short").write_bytes(raw[:-5])
  with pytest.raises(ValueError, match="truncated"):
    data.read_idx(str(tmp_path / "short"))
  (tmp_path / "bad").write_bytes(b"\x01\x02" + raw[2:])
  with pytest.raises(ValueError, match="not an IDX file"):
    data.read_idx(str(tmp_path / "bad"))


def test_binarized_mnist_npz(tmp_path):
  arrays = _write_binarized_npz(tmp_path)
  ds = data.load_dataset("binarized_mnist", data_dir=tmp_path)
  assert (ds.num_train, ds.valid.shape[0], ds.num_test) == (6, 3, 4)
  assert ds.binarization == "static" and not ds.has_labels and ds.num_classes is None
  np.testing.assert_array_equal(ds.valid.reshape(3, 784), arrays["valid"].astype(np.float32))
  np.testing.assert_array_equal(ds.test[1, :, :, 0], arrays["test"][1].reshape(28, 28))


def test_binarized_npz_missing_array_and_non_binary(tmp_path):
  np.savez(tmp_path / "binarized_mnist.npz", train=np.zeros((2, 784), np.uint8),
           test=np.zeros((2, 784), np.uint8))
  with pytest.raises(ValueError, match=r"missing \['valid'\]"):
    data.load_dataset("binarized_mnist", data_dir=tmp_path)
  np.savez(tmp_path / "binarized_mnist.npz", train=np.full((2, 784), 1, np.uint8),
           valid=np.zeros((2, 784), np.uint8), test=np.full((2, 784), 255, np.uint8))
  with pytest.raises(ValueError, match=r"values other than 0 and 1 \(e.g. \[255\]\).*data.name='mnist'"):
    data.load_dataset("binarized_mnist", data_dir=tmp_path)


def test_missing_local_files_say_how_to_get_them(tmp_path):
  with pytest.raises(data.DatasetNotFoundError, match="train-images-idx3-ubyte.gz"):
    data.load_dataset("mnist", data_dir=tmp_path, source="local")
  with pytest.raises(data.DatasetNotFoundError, match="binarized_mnist.npz"):
    data.load_dataset("binarized_mnist", data_dir=tmp_path, source="local")
  # DatasetNotFoundError is a FileNotFoundError, so generic handlers catch it.
  assert issubclass(data.DatasetNotFoundError, FileNotFoundError)


def test_unprepared_tfds_data_says_how_to_get_it(tmp_path):
  # An empty data_dir: no local files, and tfds has nothing prepared there.
  with pytest.raises(data.DatasetNotFoundError) as info:
    data.load_dataset("mnist", data_dir=tmp_path)
  message = str(info.value)
  assert "download=True" in message and "train-images-idx3-ubyte.gz" in message
  assert "\n" not in message
  with pytest.raises(data.DatasetNotFoundError, match="tfds.data_source\\('cifar10'"):
    data.load_dataset("cifar10", data_dir=tmp_path)


# ----------------------------------------------------------------- tfds mocks


def _binary_source(self, split, **kwargs):
  """Stands in for binarized_mnist's `as_data_source`: records of 0/1 bytes.

  The default mock draws uint8 images in 0..254 (it ignores `max_value` for
  data sources), unlike the real dataset, which stores 0 and 1.
  """
  del self, kwargs
  rng = np.random.default_rng(0)
  return [[{"image": rng.integers(0, 2, (28, 28, 1)).astype(np.uint8)} for _ in range(6)]
          for _ in split]


def test_tfds_binarized_mnist_with_grey_values_is_rejected(tmp_path):
  # The default mock's 0..254 bytes are not binary: the load-time check says so.
  with tfds.testing.mock_data(num_examples=3):
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
      data.load_dataset("binarized_mnist", data_dir=tmp_path)


@pytest.mark.parametrize(
    "name, shape, has_valid",
    [("mnist", (28, 28, 1), False), ("fashion_mnist", (28, 28, 1), False),
     ("cifar10", (32, 32, 3), False), ("binarized_mnist", (28, 28, 1), True)],
)
def test_tfds_data_source_under_mock_data(tmp_path, name, shape, has_valid):
  binary = name == "binarized_mnist"
  with tfds.testing.mock_data(num_examples=6, policy=tfds.testing.MockPolicy.USE_CODE,
                              as_data_source_fn=_binary_source if binary else None):
    ds = data.load_dataset(name, data_dir=tmp_path, source="tfds")
  assert ds.name == name and ds.image_shape == shape
  assert ds.num_train == 6 and ds.num_test == 6
  assert (ds.valid is not None) == has_valid
  assert ds.train.dtype == np.float32
  assert 0.0 <= ds.train.min() and ds.train.max() <= 1.0
  if binary:
    assert ds.binarization == "static" and not ds.has_labels
    assert set(np.unique(ds.train)) == {0.0, 1.0}  # 0/1 bytes kept, not divided by 255
  else:
    assert ds.train.max() > 0.5  # uint8 up to 255 scaled, not left as 0..255
    assert ds.train_labels.shape == (6,) and ds.num_classes == 10
    assert 0 <= ds.train_labels.min() and ds.train_labels.max() < 10


def test_tfds_mnist_mock_is_used_when_data_dir_has_no_idx_files(tmp_path):
  with tfds.testing.mock_data(num_examples=4):
    ds = data.load_dataset("mnist", data_dir=tmp_path)
  assert ds.num_train == 4


# ----------------------------------------------------------------- names, binarization


@pytest.mark.parametrize("bad, nearest", [("mnsit", "mnist"), ("cifar", "cifar10"),
                                          ("fashion", "fashion_mnist")])
def test_unknown_name_suggests_nearest(bad, nearest):
  with pytest.raises(ValueError, match=f"Did you mean '{nearest}'") as info:
    data.load_dataset(bad)
  assert "digits, mnist, fashion_mnist, binarized_mnist, cifar10" in str(info.value)


def test_name_normalisation_and_bad_options():
  assert data.check_dataset_name("Fashion-MNIST") == "fashion_mnist"
  with pytest.raises(ValueError, match="binarize must be one of"):
    data.load_dataset("digits", binarize="yes")
  with pytest.raises(ValueError, match="source must be one of"):
    data.load_dataset("digits", source="web")
  with pytest.raises(ValueError, match="ships with scikit-learn"):
    data.load_dataset("digits", source="tfds")


def test_static_and_dynamic_binarization(tmp_path):
  grey = data.load_dataset("digits")
  static = data.load_dataset("digits", binarize="static")
  assert static.binarization == "static"
  np.testing.assert_array_equal(static.train, np.where(grey.train > 0.5, 1.0, 0.0))
  dynamic = data.load_dataset("digits", binarize="dynamic")
  assert dynamic.binarization == "dynamic"
  np.testing.assert_array_equal(dynamic.train, grey.train)
  _write_binarized_npz(tmp_path)
  with pytest.raises(ValueError, match="already binary"):
    data.load_dataset("binarized_mnist", data_dir=tmp_path, binarize="dynamic")


def test_binarize_static_threshold():
  x = np.array([0.0, 0.25, 0.5, 0.51, 1.0], np.float32)
  np.testing.assert_array_equal(data.binarize_static(x), [0, 0, 0, 1, 1])
  np.testing.assert_array_equal(data.binarize_static(x, threshold=0.2), [0, 1, 1, 1, 1])
  assert data.binarize_static(x).dtype == np.float32


# ----------------------------------------------------------------- checks


def test_check_images_errors():
  good = np.full((2, 4, 4, 1), 0.5, np.float32)
  data.check_images(good, image_shape=(4, 4, 1))
  with pytest.raises(ValueError, match="3 channel\\(s\\) but the model expects 1"):
    data.check_images(np.zeros((2, 4, 4, 3), np.float32), image_shape=(4, 4, 1))
  with pytest.raises(ValueError, match="shape \\(8, 8, 1\\) but the model expects"):
    data.check_images(np.zeros((2, 8, 8, 1), np.float32), image_shape=(4, 4, 1))
  with pytest.raises(ValueError, match="\\(N, H, W, C\\)"):
    data.check_images(np.zeros((2, 16), np.float32))
  nan = good.copy()
  nan[1, 2, 3, 0] = np.nan
  with pytest.raises(ValueError, match=r"1 NaN value\(s\) \(first at index \(1, 2, 3, 0\)\)"):
    data.check_images(nan)
  with pytest.raises(ValueError, match=r"Bernoulli likelihood needs values in \[0, 1\]"):
    data.check_images(good * 255)
  with pytest.raises(ValueError, match="dtype uint8"):
    data.check_images(np.zeros((2, 4, 4, 1), np.uint8))
  with pytest.raises(ValueError, match="must be binary"):
    data.check_images(good, binary=True)
  data.check_images(jnp.ones((2, 4, 4, 1)), binary=True)  # jax arrays work too


def test_dataset_rejects_inconsistent_splits():
  x = np.zeros((3, 4, 4, 1), np.float32)
  with pytest.raises(ValueError, match="expects \\(4, 4, 1\\)"):
    data.ImageDataset(name="t", train=x, test=np.zeros((3, 5, 5, 1), np.float32))
  with pytest.raises(ValueError, match="labels have shape \\(2,\\)"):
    data.ImageDataset(name="t", train=x, test=x, train_labels=np.zeros(2, np.int32))
  with pytest.raises(ValueError, match="float32 numpy array"):
    data.ImageDataset(name="t", train=x.astype(np.float64), test=x)


def test_fashion_mnist_from_local_idx_files(tmp_path):
  # Fashion-MNIST ships under MNIST's file names; found in data_dir or data_dir/fashion_mnist.
  arrays = _write_mnist(tmp_path / "fashion_mnist", seed=3)
  ds = data.load_dataset("fashion_mnist", data_dir=tmp_path)
  assert ds.name == "fashion_mnist" and ds.num_train == 7 and ds.num_test == 5
  np.testing.assert_array_equal(ds.train_labels, arrays["train-labels-idx1-ubyte"])
  (tmp_path / "empty").mkdir()
  with pytest.raises(data.DatasetNotFoundError, match="no fashion_mnist IDX files"):
    data.load_dataset("fashion_mnist", data_dir=tmp_path / "empty", source="local")
