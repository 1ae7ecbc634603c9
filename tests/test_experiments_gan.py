"""Smoke runs of experiments/gan_mnist and experiments/dcgan: a few steps, every output written."""

import json
import math
import os

import pytest

from experiments.dcgan import config as dcgan_config
from experiments.dcgan import main as dcgan_main
from experiments.gan_mnist import config as gan_mnist_config
from experiments.gan_mnist import main as gan_mnist_main


def test_gan_mnist_digits_smoke(tmp_path):
  config = gan_mnist_config.get_config()
  config.model.generator_features = (32, 32)
  config.model.discriminator_units = (16, 16)
  config.train.num_steps = 20
  config.train.steps_per_call = 10
  config.train.sample_every = 10
  config.train.ema_decay = 0.9
  config.eval.num_samples = 300
  config.eval.num_valid = 50
  config.eval.num_sigmas = 3
  result = gan_mnist_main.train_and_evaluate(config, str(tmp_path), progress=False)

  for name in ("config.json", "metrics.jsonl", "loss_curves.png", "gan_curves.png", "samples.png", "parzen.json"):
    assert (tmp_path / name).exists(), name
  assert sorted(os.listdir(tmp_path / "samples")) == ["step_0000010.png", "step_0000020.png"]
  saved = json.loads((tmp_path / "parzen.json").read_text())
  assert saved["step"] == 20 and saved["used_ema"] and saved["num_valid"] == 50 and saved["num_test"] == 300
  assert math.isfinite(saved["parzen_log_likelihood"]) and saved["parzen_standard_error"] > 0
  assert saved["sigma"] in [float(f"{s:.4f}") for s in (0.1, 10**-0.5, 1.0)] or 0.1 <= saved["sigma"] <= 1.0
  assert result["parzen_log_likelihood"] == saved["parzen_log_likelihood"]


def test_gan_mnist_presets_and_errors():
  mnist = gan_mnist_config.get_config("mnist")
  assert tuple(mnist.model.image_shape) == (28, 28, 1) and mnist.data.num_valid == 10_000
  with pytest.raises(ValueError, match="preset"):
    gan_mnist_config.get_config("svhn")


@pytest.mark.parametrize("compute_dtype", ["float32", "bfloat16"])
def test_dcgan_digits_smoke(tmp_path, compute_dtype):
  config = dcgan_config.get_config()
  config.model.features = 4
  config.model.compute_dtype = compute_dtype
  config.train.batch_size = 32
  config.train.num_steps = 10
  config.train.steps_per_call = 5
  config.train.sample_every = 5
  summary = dcgan_main.train_and_sample(config, str(tmp_path), progress=False)
  for name in ("config.json", "metrics.jsonl", "loss_curves.png", "gan_curves.png", "samples.png", "summary.json"):
    assert (tmp_path / name).exists(), name
  assert sorted(os.listdir(tmp_path / "samples")) == ["step_0000005.png", "step_0000010.png"]
  assert summary["step"] == 10 and summary["median_steps_per_sec"] > 0


def test_dcgan_presets():
  assert tuple(dcgan_config.get_config("mnist").model.image_shape) == (28, 28, 1)
  assert tuple(dcgan_config.get_config("cifar10").model.image_shape) == (32, 32, 3)
  with pytest.raises(ValueError, match="preset"):
    dcgan_config.get_config("lsun")
