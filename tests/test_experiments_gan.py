"""Smoke runs of experiments/gan_mnist and experiments/dcgan: a few steps, every output written."""

import json
import math
import os
import subprocess
import sys

import pytest

from experiments.dcgan import config as dcgan_config
from experiments.gan_mnist import config as gan_mnist_config
from jaxgen import experiment

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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
  experiment.check_gan_config(config)
  result = experiment.train_gan_mnist(config, str(tmp_path), progress=False)

  for name in ("config.json", "metrics.jsonl", "loss_curves.png", "gan_curves.png", "samples.png", "parzen.json"):
    assert (tmp_path / name).exists(), name
  assert sorted(os.listdir(tmp_path / "samples")) == ["step_0000010.png", "step_0000020.png"]
  saved = json.loads((tmp_path / "parzen.json").read_text())
  assert saved["step"] == 20 and saved["used_ema"] and saved["num_valid"] == 50 and saved["num_test"] == 300
  assert math.isfinite(saved["parzen_log_likelihood"]) and saved["parzen_standard_error"] > 0
  assert 0.1 <= saved["sigma"] <= 1.0
  assert result["parzen_log_likelihood"] == saved["parzen_log_likelihood"]


def test_gan_mnist_presets_and_errors():
  mnist = gan_mnist_config.get_config("mnist")
  assert tuple(mnist.model.image_shape) == (28, 28, 1) and mnist.data.num_valid == 10_000
  for preset in ("digits", "mnist"):
    experiment.check_gan_config(gan_mnist_config.get_config(preset))
  with pytest.raises(ValueError, match="preset"):
    gan_mnist_config.get_config("svhn")


def test_gan_mnist_optimizer_follows_mnist_yaml():
  t = gan_mnist_config.get_config().train
  schedule = experiment.learning_rate_schedule(t, steps_per_epoch=500)
  assert math.isclose(float(schedule(1000)), 0.1 / 1.000004**1000, rel_tol=1e-5)
  state = experiment.make_optimizer(t, steps_per_epoch=500).init({"w": 0.0})
  assert math.isclose(float(state.hyperparams["momentum"]), 0.5)


@pytest.mark.parametrize("compute_dtype", ["float32", "bfloat16"])
def test_dcgan_digits_smoke(tmp_path, compute_dtype):
  config = dcgan_config.get_config()
  config.model.features = 4
  config.model.compute_dtype = compute_dtype
  config.train.batch_size = 32
  config.train.num_steps = 10
  config.train.steps_per_call = 5
  config.train.sample_every = 5
  config.train.ema_decay = 0.9 if compute_dtype == "float32" else None
  experiment.check_gan_config(config)
  summary = experiment.train_dcgan(config, str(tmp_path), progress=False)
  for name in ("config.json", "metrics.jsonl", "loss_curves.png", "gan_curves.png", "samples.png", "summary.json"):
    assert (tmp_path / name).exists(), name
  assert sorted(os.listdir(tmp_path / "samples")) == ["step_0000005.png", "step_0000010.png"]
  assert summary["step"] == 10 and summary["median_steps_per_sec"] > 0


def test_dcgan_presets():
  assert tuple(dcgan_config.get_config("mnist").model.image_shape) == (28, 28, 1)
  assert tuple(dcgan_config.get_config("cifar10").model.image_shape) == (32, 32, 3)
  for preset in ("digits", "mnist", "cifar10"):
    experiment.check_gan_config(dcgan_config.get_config(preset))
  with pytest.raises(ValueError, match="preset"):
    dcgan_config.get_config("lsun")


@pytest.mark.parametrize(
    "name, override, message",
    [
        ("gan_mnist", "--config.train.learning_rate=0", "gan_mnist: config.train.learning_rate must be a number > 0"),
        ("dcgan", "--config.train.batch_size=0", "dcgan: config.train.batch_size must hold integers >= 1, got 0"),
        ("dcgan", "--config.train.loss=non_saturate", "dcgan: unknown loss 'non_saturate' in config.train.loss. "
         "Did you mean 'non_saturating'?"),
    ],
)
def test_bad_config_exits_2_with_one_line_before_training(tmp_path, name, override, message):
  out = subprocess.run(
      [sys.executable, "-m", f"experiments.{name}.main", f"--workdir={tmp_path / 'run'}", override],
      cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "JAX_PLATFORMS": "cpu"},
  )
  assert out.returncode == 2, out.stderr[-2000:]
  assert out.stderr.count("\n") == 1 and out.stderr.startswith(message), out.stderr
  assert not (tmp_path / "run").exists()  # nothing written, nothing trained
