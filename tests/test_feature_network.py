"""The LeNet feature network: shapes, the digits gate, the cache, determinism, bad caches and inputs.

Everything runs offline on scikit-learn's 8x8 digits. Training the real
digits network (30 epochs of 1497 images) takes about 4 s here plus 3 s of
compilation; the other trainings use a 256-image subset for one or two epochs.
"""

import dataclasses
import json
import logging
import os

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from flax import nnx
from scipy import special

from jaxgen import data, metrics
from jaxgen.metrics import _classifier
from jaxgen.models import LeNet, LeNetConfig, build_models


@pytest.fixture(scope="module")
def digits():
  return data.load_digits()


@pytest.fixture(scope="module")
def trained(digits, tmp_path_factory):
  """The real digits network, trained once for the module."""
  cache = tmp_path_factory.mktemp("classifiers")
  return metrics.feature_network("digits", cache_dir=cache, progress=False), cache


def _subset(ds, n=256, name="digits_tiny", image_size=None, channels=1):
  x_train, x_test = ds.train[:n], ds.test[:100]
  if image_size is not None:  # centre-padded, as 8x8 digits on a 32x32 canvas
    p = (image_size - x_train.shape[1]) // 2
    pad = ((0, 0), (p, image_size - x_train.shape[1] - p), (p, image_size - x_train.shape[2] - p), (0, 0))
    x_train, x_test = np.pad(x_train, pad), np.pad(x_test, pad)
  x_train, x_test = np.tile(x_train, (1, 1, 1, channels)), np.tile(x_test, (1, 1, 1, channels))
  return data.ImageDataset(name=name, train=x_train, test=x_test, train_labels=ds.train_labels[:n],
                           test_labels=ds.test_labels[:100], num_classes=10)


def _tiny_network(ds, cache, **kwargs):
  kwargs = {"epochs": 2, "min_accuracy": 0.0, "progress": False, **kwargs}
  return metrics.feature_network(ds, cache_dir=cache, **kwargs)


@pytest.mark.parametrize("shape", [(8, 8, 1), (28, 28, 1), (32, 32, 3)])
def test_network_shapes(shape):
  cfg = LeNetConfig.for_images(shape, 10)
  net = LeNet(cfg, rngs=nnx.Rngs(0))
  x = jnp.asarray(np.random.default_rng(0).uniform(size=(5, *shape)), jnp.float32)
  chex.assert_shape(net(x, train=False), (5, 10))
  chex.assert_shape(net(x, train=True, key=jax.random.key(1)), (5, 10))
  chex.assert_shape(net.features(x), (5, cfg.hidden_dim))
  # Evaluation is deterministic; dropout changes training logits but never the features.
  np.testing.assert_array_equal(net(x, train=False), net(x, train=False))
  assert not np.allclose(net(x, train=True, key=jax.random.key(1)), net(x, train=False))
  assert cfg.kernel_size == (3 if shape[0] < 16 else 5)


def test_network_is_registered_and_checks_its_inputs():
  config = ml_collections.ConfigDict({"model": {"name": "lenet", "image_shape": [32, 32, 3], "num_classes": 7}})
  net = build_models(config, nnx.Rngs(0))["classifier"]
  chex.assert_shape(net(jnp.zeros((2, 32, 32, 3)), train=False), (2, 7))
  with pytest.raises(ValueError, match=r"takes images \(B, 32, 32, 3\), got shape \(2, 28, 28, 1\)"):
    net(jnp.zeros((2, 28, 28, 1)), train=False)
  with pytest.raises(ValueError, match="pass key= when train=True"):
    net(jnp.zeros((2, 32, 32, 3)), train=True)
  with pytest.raises(ValueError, match="H and W must be >= 4"):
    LeNetConfig(image_shape=(2, 2, 1))


def test_digits_network_passes_its_gate_and_is_cached(trained, digits):
  net, cache = trained
  assert net.accuracy >= metrics.FEATURE_NETWORK_GATES["digits"] == 0.97
  assert net.path == os.path.join(cache, "digits-seed0")
  info = json.loads(open(os.path.join(net.path, "info.json")).read())
  assert info["dataset"] == "digits" and info["seed"] == 0 and info["accuracy"] == net.accuracy
  assert info["epochs"] == 30 and info["seconds"] > 0 and "jax" in info["versions"]
  feats, log_probs = net.features(digits.test), net.log_probs(digits.test)
  assert feats.dtype == np.float32 and feats.shape == (300, net.feature_dim)
  assert log_probs.dtype == np.float32 and log_probs.shape == (300, 10)
  np.testing.assert_allclose(special.logsumexp(log_probs, axis=1), 0.0, atol=1e-5)
  assert np.mean(np.argmax(log_probs, axis=1) == digits.test_labels) == net.accuracy
  assert metrics.classifier_accuracy(log_probs, digits.test_labels) == net.accuracy


def test_cache_round_trip_gives_identical_outputs(trained, digits, monkeypatch):
  net, cache = trained

  def no_loading(*args, **kwargs):
    raise AssertionError("a cache hit must not load the data")

  def no_training(*args, **kwargs):
    raise AssertionError("a cache hit must not train")

  monkeypatch.setattr(data, "load_dataset", no_loading)
  monkeypatch.setattr(_classifier, "_train", no_training)
  again = metrics.feature_network("digits", cache_dir=cache, progress=False)
  assert again.accuracy == net.accuracy and again.path == net.path
  np.testing.assert_array_equal(again.features(digits.test), net.features(digits.test))
  np.testing.assert_array_equal(again.log_probs(digits.test), net.log_probs(digits.test))


def test_outputs_do_not_depend_on_the_batch_size(trained, digits):
  net, _ = trained
  x = digits.test[:101]  # not a multiple of the batch: the last batch is padded
  np.testing.assert_allclose(net.features(x, batch_size=16), net.features(x), rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(net.log_probs(x, batch_size=16), net.log_probs(x), rtol=1e-5, atol=1e-5)


def test_same_seed_same_parameters(digits, tmp_path):
  ds = _subset(digits)
  a = _tiny_network(ds, tmp_path / "a", seed=3)
  b = _tiny_network(ds, tmp_path / "b", seed=3)
  c = _tiny_network(ds, tmp_path / "c", seed=4)
  chex.assert_trees_all_equal(a._params, b._params)
  assert open(os.path.join(a.path, "params.npz"), "rb").read() == open(os.path.join(b.path, "params.npz"), "rb").read()
  assert not np.array_equal(a.features(ds.test), c.features(ds.test))


def _corrupt_params(path):
  with open(os.path.join(path, "params.npz"), "r+b") as f:
    f.seek(200)
    f.write(b"\xff" * 64)


def _corrupt_info(path):
  with open(os.path.join(path, "info.json"), "w") as f:
    f.write('{"dataset": "digits_tin')


def _remove_params(path):
  os.remove(os.path.join(path, "params.npz"))


@pytest.mark.parametrize("damage", [_corrupt_params, _corrupt_info, _remove_params],
                         ids=["params", "info", "missing_params"])
def test_corrupt_cache_is_retrained(digits, tmp_path, caplog, damage):
  ds = _subset(digits)
  first = _tiny_network(ds, tmp_path)
  damage(first.path)
  with caplog.at_level(logging.WARNING, logger=_classifier.__name__):
    second = _tiny_network(ds, tmp_path)
  notes = [r.getMessage() for r in caplog.records]
  assert len(notes) == 1 and "retraining it" in notes[0] and "\n" not in notes[0], notes
  np.testing.assert_array_equal(second.features(ds.test), first.features(ds.test))
  caplog.clear()
  _tiny_network(ds, tmp_path)  # repaired: loaded without a note
  assert not caplog.records


def test_mismatching_cache_is_retrained(digits, tmp_path, caplog):
  ds = _subset(digits)
  _tiny_network(ds, tmp_path, epochs=1)
  with caplog.at_level(logging.WARNING, logger=_classifier.__name__):
    net = _tiny_network(ds, tmp_path, epochs=2)
  assert "trained with epochs=1, not 2" in caplog.text
  assert net.info["epochs"] == 2
  caplog.clear()
  other = dataclasses.replace(ds, train=ds.train[::-1].copy())  # same name, other images
  with caplog.at_level(logging.WARNING, logger=_classifier.__name__):
    _tiny_network(other, tmp_path, epochs=2)
  assert "other images or labels" in caplog.text


def test_gate_failure_names_the_accuracy_and_the_gate(digits, tmp_path):
  ds = _subset(digits, n=128)
  with pytest.raises(ValueError, match=r"reached \d+\.\d\d% test accuracy, below the gate of 99\.90%") as e:
    _tiny_network(ds, tmp_path, epochs=1, min_accuracy=0.999)
  assert "\n" not in str(e.value) and "digits_tiny" in str(e.value)
  assert not os.path.exists(os.path.join(tmp_path, "digits_tiny-seed0", "info.json"))


def test_works_on_padded_three_channel_32x32_images(digits, tmp_path):
  ds = _subset(digits, n=128, name="digits32", image_size=32, channels=3)
  net = _tiny_network(ds, tmp_path, epochs=1)
  assert net.image_shape == (32, 32, 3) and net.config.kernel_size == 5
  chex.assert_shape(net.features(ds.test), (100, net.feature_dim))
  chex.assert_shape(net.log_probs(ds.test), (100, 10))


def test_bad_inputs_get_one_line_errors(trained, digits, tmp_path):
  net, cache = trained
  with pytest.raises(ValueError, match=r"takes images \(N, 8, 8, 1\), got shape \(3, 28, 28, 1\)"):
    net.features(np.zeros((3, 28, 28, 1), np.float32))
  with pytest.raises(ValueError, match="must lie in \\[0, 1\\]"):
    net.features(digits.test * 2.0)
  with pytest.raises(ValueError, match="dtype uint8"):
    net.log_probs((digits.test * 16).astype(np.uint8))
  with pytest.raises(ValueError, match="unknown dataset 'mnsit'.*Did you mean 'mnist'"):
    metrics.feature_network("mnsit", cache_dir=cache)
  unlabelled = data.ImageDataset(name="x", train=digits.train, test=digits.test)
  with pytest.raises(ValueError, match="no class labels"):
    metrics.feature_network(unlabelled, cache_dir=tmp_path)
  with pytest.raises(ValueError, match="min_accuracy is a fraction"):
    metrics.feature_network("digits", cache_dir=cache, min_accuracy=97)


def test_a_higher_gate_rejects_a_cached_network(trained):
  net, cache = trained
  if net.accuracy == 1.0:
    pytest.skip("the network is perfect on the test split: no gate rejects it")
  with pytest.raises(ValueError, match="below the gate of 100.00%"):
    metrics.feature_network("digits", cache_dir=cache, min_accuracy=1.0)
