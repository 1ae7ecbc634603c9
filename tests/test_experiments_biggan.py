"""Smoke run of experiments/biggan on the offline digits: both runs, the sweep, every output, truncated sampling."""

import json

import numpy as np
import pytest

from experiments.biggan import config as biggan_config
from jaxgen import experiment, sample


@pytest.fixture(scope="module")
def biggan_run(tmp_path_factory, feature_network_cache):
  workdir = tmp_path_factory.mktemp("biggan")
  config = biggan_config.get_config()
  config.model.image_shape = (8, 8, 1)  # one G block: the smallest BigGAN
  config.model.ch = 4
  config.model.latent_dim = 8
  config.model.shared_dim = 4
  config.model.attention = ()
  config.train.num_steps = 4
  config.train.batch_size = 16
  config.train.ema_start = 2
  config.train.sample_every = 2
  config.train.steps_per_call = 1  # one step compiled, not the preset's two unrolled
  config.eval.samples_per_class = 10
  config.eval.standing_batches = 2  # the EMA G's standing statistics: the path, not the estimate
  config.eval.cache_dir = feature_network_cache
  experiment.check_biggan_config(config)
  config.lock()  # as the command line's flags give it
  results = experiment.train_biggan(config, str(workdir), progress=False)
  return workdir, results


def test_both_runs_are_trained_and_swept(biggan_run):
  workdir, results = biggan_run
  assert set(results["runs"]) == {"ortho_0.0001", "ortho_0"}
  saved = json.loads((workdir / "results.json").read_text())
  for name, run in saved["runs"].items():
    assert run["step"] == 4
    assert run["generator_ortho"] == (1e-4 if name == "ortho_0.0001" else 0.0)
    assert list(run["truncation"]) == ["raw", "ema"]
    for sweep in run["truncation"].values():
      assert list(sweep) == ["none", "2", "1", "0.5", "0.25"]
      for record in sweep.values():
        assert 0.0 <= record["classifier_accuracy"] <= 1.0 and np.isfinite(record["samples"]["fid"])
    for output in ("config.json", "metrics.jsonl", "eval.json", "truncation_raw.png", "truncation_ema.png",
                   "checkpoints"):
      assert (workdir / name / output).exists(), (name, output)
    assert json.loads((workdir / name / "config.json").read_text())["train"]["generator_ortho"] == run["generator_ortho"]
  # The regularised run logs its penalty; the other does not compute it.
  logged = lambda name: json.loads((workdir / name / "metrics.jsonl").read_text().splitlines()[-1])
  assert logged("ortho_0.0001")["g_ortho"] > 0 and "g_ortho" not in logged("ortho_0")
  assert saved["published_cifar10"]["fid"] == 14.73


def test_sample_cli_truncates(biggan_run, tmp_path, capsys):
  workdir, _ = biggan_run
  out = tmp_path / "t.npy"
  assert sample.main(["--workdir", str(workdir / "ortho_0"), "--label", "3", "--num", "5", "--truncation", "0.5",
                      "--save_npy", str(out), "--out", str(tmp_path / "t.png")]) == 0
  assert np.load(out).shape == (5, 8, 8, 1)
  capsys.readouterr()
  assert sample.main(["--workdir", str(workdir / "ortho_0"), "--truncation", "-1"]) == 2
  assert "truncation must be a positive number" in capsys.readouterr().err
  assert sample.main(["--workdir", str(workdir / "ortho_0"), "--psi", "0.7"]) == 2
  assert "--psi: model 'biggan' has no such truncation" in capsys.readouterr().err


def test_presets_and_bad_configs():
  for preset in ("digits", "mnist", "fashion_mnist", "cifar10"):
    experiment.check_biggan_config(biggan_config.get_config(preset))
  config = biggan_config.get_config()
  config.train.ortho_betas = (1e-4, 1e-4)
  with pytest.raises(ValueError, match="ortho_betas must be distinct"):
    experiment.check_biggan_config(config)
  config = biggan_config.get_config()
  config.eval.truncations = (None, 0.0)
  with pytest.raises(ValueError, match="truncations must be numbers > 0"):
    experiment.check_biggan_config(config)
  with pytest.raises(ValueError, match="preset"):
    biggan_config.get_config("imagenet")
