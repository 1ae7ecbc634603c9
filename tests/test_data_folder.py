"""Tests for the image-folder loaders on files written here with Pillow.

Expected pixels are the uint8 arrays the test writes, divided by 255 (PNG is
lossless), so a wrong crop, order, resize or conversion shows up as a value.
"""

import os

import numpy as np
import pytest
from PIL import Image

from jaxgen import data

# ----------------------------------------------------------------- helpers


def _save(path, pixels):
  """Writes uint8 pixels (H, W) or (H, W, 3) to `path`, making its folders."""
  path.parent.mkdir(parents=True, exist_ok=True)
  Image.fromarray(np.asarray(pixels, np.uint8)).save(path)
  return np.asarray(pixels, np.uint8)


def _random(rng, shape):
  return rng.integers(0, 256, shape, dtype=np.uint8)


def _const(value, h=4, w=4):
  """An RGB image with every pixel (value, 255 - value, 7): identifies the file."""
  return np.broadcast_to(np.array([value, 255 - value, 7], np.uint8), (h, w, 3))


def _ids(images):
  """The value each constant image was written with."""
  return sorted(int(round(v)) for v in images[:, 0, 0, 0] * 255)


def _assert_one_line_error(excinfo, *names):
  message = str(excinfo.value)
  assert "\n" not in message, message
  for name in names:
    assert str(name) in message, f"{name!s} not in: {message}"


def _check_invariants(images):
  assert images.dtype == np.float32
  assert images.ndim == 4
  if images.size:
    assert images.min() >= 0.0 and images.max() <= 1.0


# ----------------------------------------------------------------- labelled layout


def test_labelled_labels_class_order_and_file_order(tmp_path):
  rng = np.random.default_rng(0)
  root = tmp_path / "animals"
  written = {}
  # Classes written out of order; files named so that string order != numeric.
  for cls, files in [("zebra", ["b.png", "a.png"]), ("cat", ["b.png", "10.png", "a.png"]),
                     ("dog", ["x.png"])]:
    for f in files:
      written[(cls, f)] = _save(root / cls / f, _random(rng, (5, 6, 3)))
  (root / "cat" / "notes.txt").write_text("not an image")
  (root / "cat" / ".hidden.png").write_bytes(b"macOS metadata, not a PNG")

  ds = data.load_image_folder(root, test_fraction=0.0)

  assert ds.name == "animals"
  assert ds.class_names == ("cat", "dog", "zebra")
  assert ds.num_classes == 3
  order = [("cat", "10.png"), ("cat", "a.png"), ("cat", "b.png"), ("dog", "x.png"),
           ("zebra", "a.png"), ("zebra", "b.png")]
  expected = np.stack([written[k] for k in order]).astype(np.float32) / 255
  np.testing.assert_array_equal(ds.train, expected)
  np.testing.assert_array_equal(ds.train_labels, [0, 0, 0, 1, 2, 2])
  assert ds.train_labels.dtype == np.int32
  assert ds.test.shape == (0, 5, 6, 3) and ds.test_labels.shape == (0,)
  _check_invariants(ds.train)


def test_labelled_split_is_stratified_deterministic_and_complete(tmp_path):
  root = tmp_path / "digits"
  for c, cls in enumerate(["one", "two", "three"]):
    for i in range(10):
      _save(root / cls / f"{i}.png", _const(10 * c + i))

  ds = data.load_image_folder(root, test_fraction=0.2, split_seed=3)
  again = data.load_image_folder(root, test_fraction=0.2, split_seed=3)
  other = data.load_image_folder(root, test_fraction=0.2, split_seed=4)

  assert (ds.num_train, ds.num_test) == (24, 6)
  # floor(10 * 0.2 + 0.5) = 2 test images from every class.
  np.testing.assert_array_equal(np.bincount(ds.test_labels), [2, 2, 2])
  np.testing.assert_array_equal(np.bincount(ds.train_labels), [8, 8, 8])
  # Every file lands in exactly one split, with its own class's label
  # (sorted classes: one=0, three=1, two=2; file value = 10 * written index + i).
  assert _ids(np.concatenate([ds.train, ds.test])) == list(range(30))
  written_class = {"one": 0, "two": 1, "three": 2}
  label_of_written = {written_class[n]: k for k, n in enumerate(ds.class_names)}
  for images, labels in [(ds.train, ds.train_labels), (ds.test, ds.test_labels)]:
    ids = np.round(images[:, 0, 0, 0] * 255).astype(int)
    np.testing.assert_array_equal(labels, [label_of_written[i // 10] for i in ids])
  np.testing.assert_array_equal(ds.test, again.test)
  assert _ids(ds.test) != _ids(other.test)


def test_labelled_train_test_val_folders(tmp_path):
  root = tmp_path / "ds"
  _save(root / "train" / "a" / "0.png", _const(1))
  _save(root / "train" / "a" / "1.png", _const(2))
  _save(root / "train" / "b" / "0.png", _const(3))
  _save(root / "test" / "b" / "0.png", _const(4))  # test lacks class "a"
  _save(root / "val" / "a" / "0.png", _const(5))

  ds = data.load_image_folder(root, test_fraction=0.5)  # unused: test/ exists

  assert ds.class_names == ("a", "b")
  assert _ids(ds.train) == [1, 2, 3]
  np.testing.assert_array_equal(ds.train_labels, [0, 0, 1])
  assert _ids(ds.test) == [4]
  np.testing.assert_array_equal(ds.test_labels, [1])  # index of "b" in train
  assert _ids(ds.valid) == [5]
  np.testing.assert_array_equal(ds.valid_labels, [0])


def test_val_is_the_test_split_without_test_folder(tmp_path):
  root = tmp_path / "ds"
  _save(root / "train" / "a" / "0.png", _const(1))
  _save(root / "val" / "a" / "0.png", _const(2))
  ds = data.load_image_folder(root)
  assert _ids(ds.test) == [2] and ds.valid is None


def test_flat_folder_is_unlabelled(tmp_path):
  for i in range(4):
    _save(tmp_path / "faces" / f"{i}.png", _const(i))
  ds = data.load_image_folder(tmp_path / "faces", test_fraction=0.25)
  assert ds.train_labels is None and ds.class_names is None and ds.num_classes is None
  assert (ds.num_train, ds.num_test) == (3, 1)
  assert _ids(np.concatenate([ds.train, ds.test])) == [0, 1, 2, 3]


def test_resize_shape_orientation_and_filter(tmp_path):
  rng = np.random.default_rng(1)
  halves = np.zeros((20, 30, 3), np.uint8)
  halves[:, :15] = (255, 0, 0)  # left red
  halves[:, 15:] = (0, 0, 255)  # right blue
  _save(tmp_path / "ds" / "c" / "halves.png", halves)
  noise = _save(tmp_path / "ds" / "c" / "noise.png", _random(rng, (20, 30, 3)))

  ds = data.load_image_folder(tmp_path / "ds", image_size=(6, 10), test_fraction=0.0)

  assert ds.train.shape == (2, 6, 10, 3)
  _check_invariants(ds.train)
  # Pillow sizes are (W, H): a swap would put red at the top, not the left.
  np.testing.assert_allclose(ds.train[0, :, 0], np.tile([1.0, 0.0, 0.0], (6, 1)), atol=1 / 255)
  np.testing.assert_allclose(ds.train[0, :, -1], np.tile([0.0, 0.0, 1.0], (6, 1)), atol=1 / 255)
  bicubic = Image.fromarray(noise).resize((10, 6), Image.Resampling.BICUBIC)
  np.testing.assert_array_equal(ds.train[1], np.asarray(bicubic, np.float32) / 255)
  square = data.load_image_folder(tmp_path / "ds", image_size=8, test_fraction=0.0)
  assert square.image_shape == (8, 8, 3)


def test_greyscale_and_rgb_conversion(tmp_path):
  rgb = _save(tmp_path / "rgb" / "c" / "x.png", np.broadcast_to(np.array([200, 100, 50], np.uint8),
                                                                 (3, 3, 3)))
  grey = _save(tmp_path / "grey" / "c" / "x.png", np.full((3, 3), 77, np.uint8))

  as_rgb = data.load_image_folder(tmp_path / "rgb", test_fraction=0.0)
  as_grey = data.load_image_folder(tmp_path / "rgb", channels=1, test_fraction=0.0)
  grey_default = data.load_image_folder(tmp_path / "grey", test_fraction=0.0)
  grey_as_rgb = data.load_image_folder(tmp_path / "grey", channels=3, test_fraction=0.0)

  np.testing.assert_array_equal(as_rgb.train[0], rgb / np.float32(255))
  # ITU-R 601-2 luma: 0.299 * 200 + 0.587 * 100 + 0.114 * 50 = 124.2 -> 124.
  assert as_grey.train.shape == (1, 3, 3, 1)
  np.testing.assert_array_equal(as_grey.train, np.full((1, 3, 3, 1), 124 / np.float32(255)))
  assert grey_default.image_shape == (3, 3, 1)
  np.testing.assert_array_equal(grey_default.train[0, ..., 0], grey / np.float32(255))
  np.testing.assert_array_equal(grey_as_rgb.train, np.full((1, 3, 3, 3), 77 / np.float32(255)))


def test_channels_default_from_the_first_image(tmp_path):
  _save(tmp_path / "ds" / "c" / "a.png", np.full((2, 2), 10, np.uint8))  # grey, first
  _save(tmp_path / "ds" / "c" / "b.png", _const(200, 2, 2))  # RGB, converted to grey
  ds = data.load_image_folder(tmp_path / "ds", test_fraction=0.0)
  assert ds.image_shape == (2, 2, 1)
  luma = round(0.299 * 200 + 0.587 * 55 + 0.114 * 7)
  np.testing.assert_array_equal(ds.train[:, 0, 0, 0], np.array([10, luma], np.float32) / 255)


def test_sixteen_bit_greyscale_keeps_precision(tmp_path):
  values = np.array([[0, 1, 30000], [40000, 65534, 65535]], np.uint16)
  (tmp_path / "ds").mkdir()
  Image.fromarray(values).save(tmp_path / "ds" / "depth.png")
  ds = data.load_image_folder(tmp_path / "ds", test_fraction=0.0)
  assert ds.image_shape == (2, 3, 1)
  np.testing.assert_allclose(ds.train[0, ..., 0], values / 65535.0, rtol=1e-6, atol=0)


def test_jpeg_and_upper_case_extensions(tmp_path):
  for name in ("a.jpg", "b.JPEG", "c.Bmp"):
    _save(tmp_path / "ds" / name, _const(90, 8, 8))
  ds = data.load_image_folder(tmp_path / "ds", test_fraction=0.0)
  assert ds.num_train == 3
  np.testing.assert_allclose(ds.train[..., 0], 90 / 255, atol=4 / 255)  # JPEG is lossy


def test_class_names_must_match_num_classes():
  x = np.zeros((1, 2, 2, 1), np.float32)
  with pytest.raises(ValueError, match="class names") as excinfo:
    data.ImageDataset(name="t", train=x, test=x, num_classes=3, class_names=("a", "b"))
  _assert_one_line_error(excinfo)


# ----------------------------------------------------------------- unpaired layout


def test_unpaired_domains_of_different_sizes(tmp_path):
  rng = np.random.default_rng(2)
  root = tmp_path / "horse2zebra"
  train_a = [_save(root / "trainA" / f"{i}.png", _random(rng, (8, 8, 3))) for i in range(3)]
  train_b = [_save(root / "trainB" / f"{i}.png", _random(rng, (12, 10))) for i in range(5)]
  test_a = [_save(root / "testA" / "0.png", _random(rng, (8, 8, 3)))]
  test_b = [_save(root / "testB" / f"{i}.png", _random(rng, (12, 10))) for i in range(2)]

  domains = data.load_unpaired_folder(root)

  a, b = domains["a"], domains["b"]
  assert (a.name, b.name) == ("horse2zebra/A", "horse2zebra/B")
  assert a.train.shape == (3, 8, 8, 3) and a.test.shape == (1, 8, 8, 3)
  assert b.train.shape == (5, 12, 10, 1) and b.test.shape == (2, 12, 10, 1)
  np.testing.assert_array_equal(a.train, np.stack(train_a) / np.float32(255))
  np.testing.assert_array_equal(a.test, np.stack(test_a) / np.float32(255))
  np.testing.assert_array_equal(b.train[..., 0], np.stack(train_b) / np.float32(255))
  np.testing.assert_array_equal(b.test[..., 0], np.stack(test_b) / np.float32(255))
  assert a.train_labels is None and b.train_labels is None

  flipped = data.load_unpaired_folder(root, direction="BtoA")
  assert (flipped["a"].name, flipped["b"].name) == ("horse2zebra/B", "horse2zebra/A")
  np.testing.assert_array_equal(flipped["a"].train, b.train)

  resized = data.load_unpaired_folder(root, image_size=(4, 6), channels=3)
  assert resized["a"].image_shape == resized["b"].image_shape == (4, 6, 3)


def test_unpaired_without_test_folders_splits_each_domain(tmp_path):
  root = tmp_path / "u"
  for i in range(10):
    _save(root / "trainA" / f"{i}.png", _const(i))
  for i in range(4):
    _save(root / "trainB" / f"{i}.png", _const(100 + i))
  domains = data.load_unpaired_folder(root, test_fraction=0.2)
  a, b = domains["a"], domains["b"]
  assert (a.num_train, a.num_test, b.num_train, b.num_test) == (8, 2, 3, 1)
  assert _ids(np.concatenate([a.train, a.test])) == list(range(10))
  assert _ids(np.concatenate([b.train, b.test])) == [100, 101, 102, 103]


# ----------------------------------------------------------------- paired layout


def _write_pairs(folder, rng, n, h=6, w=5):
  """n side-by-side files [A | B] of (h, 2w, 3); returns the halves A and B."""
  a, b = _random(rng, (n, h, w, 3)), _random(rng, (n, h, w, 3))
  for i in range(n):
    _save(folder / f"{i}.png", np.concatenate([a[i], b[i]], axis=1))
  return a / np.float32(255), b / np.float32(255)


def test_paired_halves_are_recovered_exactly(tmp_path):
  rng = np.random.default_rng(3)
  root = tmp_path / "facades"
  train_a, train_b = _write_pairs(root / "train", rng, 4)
  test_a, test_b = _write_pairs(root / "test", rng, 2)
  valid_a, valid_b = _write_pairs(root / "val", rng, 1)

  pairs = data.load_paired_folder(root)

  a, b = pairs["a"], pairs["b"]
  assert (a.name, b.name) == ("facades/A", "facades/B")
  assert a.image_shape == (6, 5, 3)
  np.testing.assert_array_equal(a.train, train_a)
  np.testing.assert_array_equal(b.train, train_b)
  np.testing.assert_array_equal(a.test, test_a)
  np.testing.assert_array_equal(b.test, test_b)
  np.testing.assert_array_equal(a.valid, valid_a)
  np.testing.assert_array_equal(b.valid, valid_b)

  flipped = data.load_paired_folder(root, direction="BtoA")
  np.testing.assert_array_equal(flipped["a"].train, train_b)
  np.testing.assert_array_equal(flipped["b"].train, train_a)
  assert flipped["a"].name == "facades/B"


def test_paired_halves_are_resized_separately_and_split_aligned(tmp_path):
  rng = np.random.default_rng(4)
  root = tmp_path / "edges2shoes"
  train_a, train_b = _write_pairs(root / "train", rng, 10, h=8, w=8)

  pairs = data.load_paired_folder(root, image_size=(4, 4), channels=1, test_fraction=0.2)

  a, b = pairs["a"], pairs["b"]
  assert a.train.shape == (8, 4, 4, 1) and a.test.shape == (2, 4, 4, 1)
  _check_invariants(a.train)

  def expected(half):
    img = Image.fromarray(np.round(half * 255).astype(np.uint8)).convert("L")
    return np.asarray(img.resize((4, 4), Image.Resampling.BICUBIC), np.float32)[..., None] / 255

  # Every loaded A row must sit next to the B written with it.
  all_a = np.concatenate([a.train, a.test])
  all_b = np.concatenate([b.train, b.test])
  for row_a, row_b in zip(all_a, all_b):
    i = next(i for i in range(10) if np.array_equal(expected(train_a[i]), row_a))
    np.testing.assert_array_equal(row_b, expected(train_b[i]))


# ----------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "load", [data.load_image_folder, data.load_unpaired_folder, data.load_paired_folder])
def test_missing_folder(tmp_path, load):
  missing = tmp_path / "nowhere"
  with pytest.raises(data.DatasetNotFoundError, match="does not exist") as excinfo:
    load(missing)
  _assert_one_line_error(excinfo, missing)


def test_folder_without_images_lists_extensions(tmp_path):
  (tmp_path / "empty").mkdir()
  (tmp_path / "empty" / "README.txt").write_text("hi")
  with pytest.raises(data.DatasetNotFoundError, match="no images") as excinfo:
    data.load_image_folder(tmp_path / "empty")
  _assert_one_line_error(excinfo, tmp_path / "empty", ".png", ".jpg", ".jpeg", ".bmp")


def test_class_folder_without_images(tmp_path):
  _save(tmp_path / "ds" / "cat" / "a.png", _const(1))
  (tmp_path / "ds" / "dog").mkdir()
  (tmp_path / "ds" / "dog" / "labels.csv").write_text("x")
  with pytest.raises(data.DatasetNotFoundError, match="class folder") as excinfo:
    data.load_image_folder(tmp_path / "ds")
  _assert_one_line_error(excinfo, tmp_path / "ds" / "dog", ".png")


@pytest.mark.parametrize("content", ["garbage", "truncated"])
def test_corrupt_image_names_the_file(tmp_path, content):
  _save(tmp_path / "ds" / "c" / "good.png", _random(np.random.default_rng(5), (16, 16, 3)))
  bad = tmp_path / "ds" / "c" / "bad.png"
  if content == "garbage":
    bad.write_bytes(b"this is not an image")
  else:
    good = (tmp_path / "ds" / "c" / "good.png").read_bytes()
    bad.write_bytes(good[: len(good) // 2])
  with pytest.raises(ValueError, match="cannot read image file") as excinfo:
    data.load_image_folder(tmp_path / "ds", test_fraction=0.0)
  _assert_one_line_error(excinfo, bad)


def test_odd_width_paired_image(tmp_path):
  odd = tmp_path / "p" / "train" / "0.png"
  _save(odd, _random(np.random.default_rng(6), (4, 9, 3)))
  with pytest.raises(ValueError, match="odd width") as excinfo:
    data.load_paired_folder(tmp_path / "p")
  _assert_one_line_error(excinfo, odd, "9 pixels")


def test_images_of_different_sizes_need_image_size(tmp_path):
  first = tmp_path / "ds" / "c" / "a.png"
  second = tmp_path / "ds" / "c" / "b.png"
  _save(first, _const(1, 4, 4))
  _save(second, _const(2, 5, 4))
  with pytest.raises(ValueError, match="image_size") as excinfo:
    data.load_image_folder(tmp_path / "ds", test_fraction=0.0)
  _assert_one_line_error(excinfo, first, second, "5x4")
  ds = data.load_image_folder(tmp_path / "ds", image_size=(4, 4), test_fraction=0.0)
  assert ds.image_shape == (4, 4, 3)


def test_paired_files_of_different_sizes_need_image_size(tmp_path):
  _save(tmp_path / "p" / "train" / "0.png", _const(1, 4, 8))
  second = _save(tmp_path / "p" / "train" / "1.png", _const(2, 4, 10))
  del second
  with pytest.raises(ValueError, match="image_size") as excinfo:
    data.load_paired_folder(tmp_path / "p")
  _assert_one_line_error(excinfo, tmp_path / "p" / "train" / "1.png")


def test_layout_errors(tmp_path):
  # Loose images next to class folders.
  _save(tmp_path / "mixed" / "cat" / "a.png", _const(1))
  _save(tmp_path / "mixed" / "stray.png", _const(2))
  with pytest.raises(ValueError, match="both class folders") as excinfo:
    data.load_image_folder(tmp_path / "mixed")
  _assert_one_line_error(excinfo, tmp_path / "mixed", "stray.png")

  # A test class the train split does not have.
  _save(tmp_path / "s" / "train" / "cat" / "a.png", _const(1))
  _save(tmp_path / "s" / "test" / "owl" / "a.png", _const(2))
  with pytest.raises(ValueError, match="no counterpart") as excinfo:
    data.load_image_folder(tmp_path / "s")
  _assert_one_line_error(excinfo, os.path.join(tmp_path / "s" / "test", "owl"))

  # Labelled train, flat test.
  _save(tmp_path / "f" / "train" / "cat" / "a.png", _const(1))
  _save(tmp_path / "f" / "test" / "a.png", _const(2))
  with pytest.raises(ValueError, match="same layout") as excinfo:
    data.load_image_folder(tmp_path / "f")
  _assert_one_line_error(excinfo, tmp_path / "f" / "test")

  # Unpaired without trainB; paired without train/.
  _save(tmp_path / "u" / "trainA" / "a.png", _const(1))
  with pytest.raises(data.DatasetNotFoundError, match="trainB") as excinfo:
    data.load_unpaired_folder(tmp_path / "u")
  _assert_one_line_error(excinfo, tmp_path / "u")
  with pytest.raises(data.DatasetNotFoundError, match="no train/") as excinfo:
    data.load_paired_folder(tmp_path / "u")
  _assert_one_line_error(excinfo, tmp_path / "u")

  # A file where the folder should be.
  with pytest.raises(data.DatasetNotFoundError, match="not a folder") as excinfo:
    data.load_image_folder(tmp_path / "mixed" / "stray.png")
  _assert_one_line_error(excinfo, tmp_path / "mixed" / "stray.png")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"channels": 2}, "channels"),
        ({"channels": True}, "channels"),
        ({"image_size": (0, 4)}, "image_size"),
        ({"image_size": (4, 4, 3)}, "image_size"),
        ({"image_size": 2.5}, "image_size"),
        ({"test_fraction": 1.0}, "test_fraction"),
        ({"test_fraction": -0.1}, "test_fraction"),
        ({"direction": "AB"}, "direction"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, match):
  _save(tmp_path / "p" / "train" / "0.png", _const(1, 4, 8))
  with pytest.raises(ValueError, match=match) as excinfo:
    data.load_paired_folder(tmp_path / "p", **kwargs)
  _assert_one_line_error(excinfo)
