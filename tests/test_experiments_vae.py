"""Smoke tests of the autoencoder, VAE and conv-VAE experiments: a few steps, every output written."""

import json
import math
import os
import subprocess
import sys

import ml_collections
import pytest
import tensorflow_datasets as tfds
from flax import nnx

from experiments.autoencoder import config as ae_config
from experiments.autoencoder import train as ae_train
from experiments.conv_vae import config as conv_config
from experiments.vae import config as vae_config
from experiments.vae import train as vae_train
from jaxgen.models._registry import build_models, get_model_spec

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def shrink(config):
  config.num_steps = 2
  config.batch_size = 8
  config.steps_per_call = 1
  config.num_images = 16
  if "eval" in config:
    config.eval.update(dict(elbo_batch_size=8, iwae_num_samples=4, iwae_num_examples=4,
                            iwae_batch_size=4, iwae_sample_chunk=3))
  return config


def check_vae_outputs(workdir, results, latent_2d):
  for key in ("test_neg_elbo", "test_nll_iwae", "epoch_seconds"):
    assert math.isfinite(results[key]), key
  assert results["num_steps"] == 2
  with open(os.path.join(workdir, "results.json")) as f:
    assert json.load(f) == results
  pictures = ["loss_terms.png", "reconstructions.png", "samples.png"]
  pictures += ["manifold.png", "latent_scatter.png"] if latent_2d else []
  for name in pictures + ["metrics.jsonl", "config.json"]:
    assert os.path.getsize(os.path.join(workdir, name)) > 0, name
  assert not os.path.exists(os.path.join(workdir, "manifold.png")) or latent_2d
  # The saved config alone rebuilds the network and samples from it (what `jaxgen.sample` does).
  with open(os.path.join(workdir, "config.json")) as f:
    saved = ml_collections.ConfigDict(json.load(f))
  models = build_models(saved, nnx.Rngs(0))
  import jax

  images = get_model_spec(saved.model.name).sample(models, jax.random.key(0), 3, saved)
  assert images.shape == (3, *saved.model.image_shape)


@pytest.mark.parametrize(
    "module, preset, compute_dtype",
    [(vae_config, "digits", "float32"), (conv_config, "digits", "float32"), (conv_config, "digits", "bfloat16")],
)
def test_vae_experiments_on_digits(tmp_path, module, preset, compute_dtype):
  config = shrink(module.get_config(preset))
  config.model.compute_dtype = compute_dtype
  results = vae_train.train_and_evaluate(config, str(tmp_path))
  check_vae_outputs(str(tmp_path), results, latent_2d=True)


def test_vae_experiment_on_mock_mnist(tmp_path):
  # The IWAE preset: grey MNIST, dynamic binarization, the paper's schedule.
  preset = "iwae_1layer"
  config = shrink(vae_config.get_config(preset))
  with tfds.testing.mock_data(num_examples=16):
    results = vae_train.train_and_evaluate(config, str(tmp_path / "run"), data_dir=str(tmp_path / "data"))
  check_vae_outputs(str(tmp_path / "run"), results, latent_2d=False)
  assert results["binarization"] == "dynamic"
  if preset == "iwae_1layer":
    assert results["num_epochs"] == 2 / 2  # 16 mock examples, batch 8


@pytest.mark.parametrize("preset", ["digits", "mnist"])
def test_autoencoder_experiment(tmp_path, preset):
  config = shrink(ae_config.get_config(preset))
  with tfds.testing.mock_data(num_examples=16):
    results = ae_train.train_and_evaluate(config, str(tmp_path / "run"), data_dir=str(tmp_path / "data"))
  assert math.isfinite(results["test_loss"]) and results["test_loss"] > 0.0
  for name in ("loss.png", "reconstructions.png", "results.json"):
    assert os.path.getsize(tmp_path / "run" / name) > 0
  assert not (tmp_path / "run" / "samples.png").exists()  # an autoencoder cannot generate
  assert get_model_spec("autoencoder").sample is None


def test_unknown_preset_is_a_clear_error():
  with pytest.raises(ValueError, match="binarized_mnist_flax"):
    vae_config.get_config("binarised")


def test_iwae_schedule_matches_the_paper():
  config = vae_config.get_config("iwae_1layer")
  assert vae_train.num_epochs_of(config) == 1 + 3 + 9 + 27
  config.optimizer.num_stages = 8
  assert vae_train.num_epochs_of(config) == 3280  # Burda et al. (2016), Section 5
  schedule = vae_train.learning_rate_schedule(config.optimizer, steps_per_epoch=10)
  # Stage i covers epochs [sum_{j<i} 3^j, sum_{j<=i} 3^j) at 1e-3 * 10^(-i/7).
  start = 0
  for i in range(8):
    for epoch in (start, start + 3**i - 1):
      assert math.isclose(float(schedule(epoch * 10 + 5)), 1e-3 * 10 ** (-i / 7), rel_tol=1e-5), (i, epoch)
    start += 3**i


def test_main_runs_with_flags(tmp_path):
  cmd = [sys.executable, "-m", "experiments.vae.main", f"--workdir={tmp_path}",
         "--config=experiments/vae/config.py:digits", "--config.num_steps=2", "--config.steps_per_call=1",
         "--config.eval.iwae_num_samples=2", "--config.eval.iwae_num_examples=3", "--config.num_images=8"]
  out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300,
                       env={**os.environ, "JAX_PLATFORMS": "cpu"})
  assert out.returncode == 0, out.stderr[-2000:]
  results = json.loads((tmp_path / "results.json").read_text())
  assert results["dataset"] == "digits" and results["iwae_num_samples"] == 2
