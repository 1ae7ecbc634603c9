"""Smoke run of experiments/stylegan at toy size: both runs, every measurement and figure, psi and mixing samples."""

import json

import numpy as np
import pytest

from experiments.stylegan import config as stylegan_config
from jaxgen import experiment, sample


@pytest.fixture(scope="module")
def stylegan_run(tmp_path_factory, feature_network_cache):
  workdir = tmp_path_factory.mktemp("stylegan")
  config = stylegan_config.get_config()
  config.model.image_shape = (8, 8, 1)  # blocks 4 and 8: the smallest StyleGAN2
  config.model.latent_dim = config.model.w_dim = 4
  config.model.mapping_layers = 1
  config.model.channel_base = 32
  config.model.channel_max = 4
  config.baseline.features = 4
  config.train.num_steps = 4
  config.train.batch_size = 8
  config.train.r1_interval = 2
  config.train.sample_every = 2
  config.train.steps_per_call = 1  # one step compiled, not the preset's four unrolled,
  config.train.unroll_steps = False  # and rolled: its lazy updates in lax.cond, one program, not one per schedule
  config.eval.num_samples = 100
  config.eval.mixing_pairs = 20
  config.eval.ppl_pairs = 20
  config.eval.cache_dir = feature_network_cache
  experiment.check_stylegan_config(config)
  config.lock()  # as the command line's flags give it
  results = experiment.train_stylegan(config, str(workdir), progress=False)
  return workdir, results


def test_both_runs_are_trained_and_measured(stylegan_run):
  workdir, results = stylegan_run
  saved = json.loads((workdir / "results.json").read_text())
  assert {name: run["step"] for name, run in saved["runs"].items()} == {"stylegan2": 4, "dcgan": 4}
  assert set(saved["generators"]) == {"dcgan", "stylegan2_raw", "stylegan2_ema"}
  assert list(saved["psi_sweep"]) == ["1", "0.7", "0.5", "0.25", "0"]
  for record in [*saved["generators"].values(), *saved["psi_sweep"].values()]:
    assert np.isfinite(record["fid"]) and 0 <= record["precision"] <= 1 and record["diversity_ratio"] >= 0
  # psi = 0 draws w_avg for every z: all samples alike.
  assert saved["psi_sweep"]["0"]["diversity_ratio"] < saved["psi_sweep"]["1"]["diversity_ratio"]
  mixing = saved["style_mixing"]
  assert (mixing["cutoff_ws"], mixing["num_ws"]) == (3, 4)  # at 8x8 every block is coarse: all ws but the last
  assert 0 <= mixing["follows_coarse_A"] + mixing["follows_fine_B"] <= 1
  ppl = saved["perceptual_path_length"]
  assert ppl["z"] > 0 and ppl["w"] > 0
  for output in ("truncation.png", "style_mixing.png", "metrics.jsonl", "checkpoints"):
    assert (workdir / "stylegan2" / output).exists(), output
  assert (workdir / "dcgan" / "checkpoints").exists()
  assert saved["published_cifar10"]["fid"] == 2.42


def test_sample_cli_psi_and_style_mixing(stylegan_run, tmp_path, capsys):
  workdir, _ = stylegan_run
  run = str(workdir / "stylegan2")
  out = tmp_path / "s.npy"
  assert sample.main(["--workdir", run, "--num", "5", "--psi", "0.5", "--save_npy", str(out),
                      "--out", str(tmp_path / "s.png")]) == 0
  assert np.load(out).shape == (5, 8, 8, 1)
  assert sample.main(["--workdir", run, "--style_mixing", "3", "--cutoff", "2", "--out", str(tmp_path / "m.png")]) == 0
  assert (tmp_path / "m.png").exists()
  capsys.readouterr()
  assert sample.main(["--workdir", run, "--style_mixing", "3", "--cutoff", "9"]) == 2
  assert "cutoff must be an integer in [1, 3]" in capsys.readouterr().err
  assert sample.main(["--workdir", str(workdir / "dcgan"), "--style_mixing", "3"]) == 2
  assert "StyleGAN2 runs only" in capsys.readouterr().err


def test_presets_and_bad_configs():
  for preset in ("digits", "mnist", "fashion_mnist", "cifar10"):
    experiment.check_stylegan_config(stylegan_config.get_config(preset))
  for field, value, match in (("train.batch_size", 30, "mbstd_group_size 4 must divide"),
                              ("eval.psis", (0.5, 0.7), "must hold 1"),
                              ("eval.ppl_epsilon", 0.5, "ppl_epsilon"),
                              ("train.r1_gamma", -1.0, "r1_gamma"),
                              ("train.ema_half_life_examples", 0, "ema_half_life_examples")):
    config = stylegan_config.get_config()
    section, name = field.split(".")
    config[section][name] = value
    with pytest.raises(ValueError, match=match):
      experiment.check_stylegan_config(config)
  with pytest.raises(ValueError, match="preset"):
    stylegan_config.get_config("ffhq")
