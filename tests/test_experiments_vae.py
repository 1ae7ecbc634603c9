"""Smoke tests of the autoencoder, VAE and conv-VAE experiments: a few steps, every output written."""

import json
import math
import os
import subprocess
import sys

import jax
import ml_collections
import pytest
import tensorflow_datasets as tfds
from flax import nnx

from experiments.autoencoder import config as ae_config
from experiments.conv_vae import config as conv_config
from experiments.vae import config as vae_config
from jaxgen import experiment
from jaxgen.models import build_models, get_model_spec

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def shrink(config):
  config.train.num_steps = 2
  config.train.batch_size = 8
  config.train.steps_per_call = 1
  config.eval.num_images = 16
  if "iwae_num_samples" in config.eval:
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
  images = get_model_spec(saved.model.name).sample(models, jax.random.key(0), 3, saved)
  assert images.shape == (3, *saved.model.image_shape)


@pytest.mark.parametrize(
    "module, preset, compute_dtype",
    [(vae_config, "digits", "float32"), (conv_config, "digits", "float32"), (conv_config, "digits", "bfloat16")],
)
def test_vae_experiments_on_digits(tmp_path, module, preset, compute_dtype):
  config = shrink(module.get_config(preset))
  config.model.compute_dtype = compute_dtype
  experiment.check_vae_config(config)
  results = experiment.train_vae(config, str(tmp_path), progress=False)
  check_vae_outputs(str(tmp_path), results, latent_2d=True)


def test_vae_experiment_on_mock_mnist_with_ema(tmp_path):
  # The IWAE preset: grey MNIST, dynamic binarization, the paper's schedule; evaluated with the EMA.
  config = shrink(vae_config.get_config("iwae_1layer"))
  config.data.data_dir = None  # tfds mock data: no folder is read
  config.train.ema_decay = 0.5
  with tfds.testing.mock_data(num_examples=16):
    results = experiment.train_vae(config, str(tmp_path / "run"), progress=False)
  check_vae_outputs(str(tmp_path / "run"), results, latent_2d=False)
  assert results["binarization"] == "dynamic"
  assert results["num_epochs"] == 2 / 2  # 16 mock examples, batch 8


@pytest.mark.parametrize("preset", ["digits", "mnist"])
def test_autoencoder_experiment(tmp_path, preset):
  config = shrink(ae_config.get_config(preset))
  config.data.data_dir = None  # tfds mock data: no folder is read
  experiment.check_autoencoder_config(config)
  with tfds.testing.mock_data(num_examples=16):
    results = experiment.train_autoencoder(config, str(tmp_path / "run"), progress=False)
  assert math.isfinite(results["test_loss"]) and results["test_loss"] > 0.0
  for name in ("loss.png", "reconstructions.png", "results.json"):
    assert os.path.getsize(tmp_path / "run" / name) > 0
  assert not (tmp_path / "run" / "samples.png").exists()  # an autoencoder cannot generate
  assert get_model_spec("autoencoder").sample is None


def test_unknown_preset_is_a_clear_error():
  with pytest.raises(ValueError, match="binarized_mnist_flax"):
    vae_config.get_config("binarised")


@pytest.mark.parametrize(
    "module, preset", [(vae_config, p) for p in vae_config.PRESETS] + [(conv_config, p) for p in conv_config.PRESETS]
)
def test_every_vae_preset_passes_the_check(module, preset):
  experiment.check_vae_config(module.get_config(preset))


@pytest.mark.parametrize("preset", ae_config.PRESETS)
def test_every_autoencoder_preset_passes_the_check(preset):
  experiment.check_autoencoder_config(ae_config.get_config(preset))


def test_iwae_schedule_matches_the_paper():
  t = vae_config.get_config("iwae_1layer").train
  assert t.num_epochs is None and experiment.num_epochs_of(t) == 1 + 3 + 9 + 27
  t.num_stages = 8
  assert experiment.num_epochs_of(t) == 3280  # Burda et al. (2016), Section 5
  assert experiment.num_steps_of(t, steps_per_epoch=10) == 32800
  schedule = experiment.learning_rate_schedule(t, steps_per_epoch=10)
  # Stage i covers epochs [sum_{j<i} 3^j, sum_{j<=i} 3^j) at 1e-3 * 10^(-i/7).
  start = 0
  for i in range(8):
    for epoch in (start, start + 3**i - 1):
      assert math.isclose(float(schedule(epoch * 10 + 5)), 1e-3 * 10 ** (-i / 7), rel_tol=1e-5), (i, epoch)
    start += 3**i


def test_num_steps_placeholder_counts_epochs_and_both_unset_is_an_error():
  config = vae_config.get_config("mnist")
  assert config.train.num_steps is None and experiment.num_steps_of(config.train, steps_per_epoch=7) == 70
  config.train.num_steps = 5
  assert experiment.num_steps_of(config.train, steps_per_epoch=7) == 5
  config.train.num_steps = None
  config.train.num_epochs = None
  with pytest.raises(ValueError, match="num_steps and config.train.num_epochs are both unset"):
    experiment.check_vae_config(config)


def _run_main(name, *args):
  cmd = [sys.executable, "-m", f"experiments.{name}.main", *args]
  return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300,
                        env={**os.environ, "JAX_PLATFORMS": "cpu"})


def test_main_runs_with_flags(tmp_path):
  out = _run_main("vae", f"--workdir={tmp_path}", "--config=experiments/vae/config.py:digits",
                  "--config.train.num_steps=2", "--config.train.steps_per_call=1",
                  "--config.eval.iwae_num_samples=2", "--config.eval.iwae_num_examples=3", "--config.eval.num_images=8")
  assert out.returncode == 0, out.stderr[-2000:]
  results = json.loads((tmp_path / "results.json").read_text())
  assert results["dataset"] == "digits" and results["iwae_num_samples"] == 2


@pytest.mark.parametrize(
    "name, override, message",
    [
        ("vae", "--config.train.learning_rate=0", "vae: config.train.learning_rate must be a number > 0, got 0.0"),
        ("conv_vae", "--config.train.batch_size=0", "conv_vae: config.train.batch_size must hold integers >= 1, got 0"),
        ("autoencoder", "--config.train.loss=mae", "autoencoder: unknown loss 'mae' in config.train.loss"),
    ],
)
def test_bad_config_exits_2_with_one_line_before_training(tmp_path, name, override, message):
  out = _run_main(name, f"--workdir={tmp_path / 'run'}", override)
  assert out.returncode == 2, out.stderr[-2000:]
  assert out.stderr.count("\n") == 1 and out.stderr.startswith(message), out.stderr
  assert not (tmp_path / "run").exists()  # nothing written, nothing trained
