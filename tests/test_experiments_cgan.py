"""Smoke run of experiments/cgan on the offline digits: every head, the baseline, every output, sampling by label."""

import json
import os

import numpy as np
import pytest

from experiments.cgan import config as cgan_config
from jaxgen import experiment, sample


@pytest.fixture(scope="module")
def cgan_run(tmp_path_factory, feature_network_cache):
  workdir = tmp_path_factory.mktemp("cgan")
  config = cgan_config.get_config()
  config.model.features = 8
  config.model.latent_dim = 8
  config.train.num_steps = 10
  config.train.steps_per_call = 5
  config.train.sample_every = 5
  config.eval.samples_per_class = 20
  config.eval.parzen_num_samples = 200
  config.eval.num_sigmas = 3
  config.eval.cache_dir = feature_network_cache
  experiment.check_cgan_config(config)
  config.lock()  # as the command line's flags give it
  results = experiment.train_cgan(config, str(workdir), progress=False)
  return workdir, results


def test_every_head_and_the_baseline_are_trained_and_measured(cgan_run):
  workdir, results = cgan_run
  assert set(results["runs"]) == {"concat", "ac", "projection", "unconditional"}
  saved = json.loads((workdir / "results.json").read_text())
  assert saved["runs"].keys() == results["runs"].keys()
  for name, run in saved["runs"].items():
    assert run["step"] == 10 and run["num_samples"] == 200
    assert 0.0 <= run["classifier_accuracy"] <= 1.0 and len(run["classifier_accuracy_per_class"]) == 10
    assert np.isfinite(run["samples"]["fid"]) and np.isfinite(run["parzen"]["log_likelihood"])
    assert run["intra_class_diversity_ratio"] > 0
    for output in ("config.json", "metrics.jsonl", "eval.json", "samples_by_class.png", "checkpoints"):
      assert (workdir / name / output).exists(), (name, output)
    run_config = json.loads((workdir / name / "config.json").read_text())
    assert run_config["model"]["discriminator_head"] == ("none" if name == "unconditional" else name)
  # The floor: real test images are classified as their labels.
  assert saved["floor_train_vs_test"]["classifier_accuracy"] > 0.9
  assert saved["published_parzen_mnist"]["conditional adversarial net"]["mean"] == 132.0
  # Hinge loss: raw critic values are logged, no sigmoid of them.
  record = json.loads((workdir / "ac" / "metrics.jsonl").read_text().splitlines()[-1])
  assert "critic_real" in record and "d_real" not in record and "class_acc_fake" in record


def test_sample_cli_draws_a_label_or_one_row_per_class(cgan_run, tmp_path, capsys):
  workdir, _ = cgan_run
  out = tmp_path / "sevens.npy"
  assert sample.main(["--workdir", str(workdir / "projection"), "--label", "7", "--num", "6",
                      "--save_npy", str(out), "--out", str(tmp_path / "g.png")]) == 0
  assert np.load(out).shape == (6, 8, 8, 1)
  assert sample.main(["--workdir", str(workdir / "ac"), "--num", "30", "--out", str(tmp_path / "grid.png")]) == 0
  assert os.path.getsize(tmp_path / "grid.png") > 0
  capsys.readouterr()
  assert sample.main(["--workdir", str(workdir / "ac"), "--label", "10"]) == 2
  assert "--label must be in [0, 10)" in capsys.readouterr().err


def test_presets_and_bad_heads():
  for preset in ("digits", "mnist", "fashion_mnist"):
    experiment.check_cgan_config(cgan_config.get_config(preset))
  config = cgan_config.get_config()
  config.train.heads = ("projection", "acgan")
  with pytest.raises(ValueError, match="config.train.heads must be distinct names"):
    experiment.check_cgan_config(config)
  with pytest.raises(ValueError, match="preset"):
    cgan_config.get_config("svhn")
