"""Smoke run of experiments/gan_losses: every loss of the study trains by name, seeds aggregate, outputs exist."""

import json

import numpy as np
import pytest

from experiments.gan_losses import config as study_config
from jaxgen import experiment


def test_loss_study_digits_smoke(tmp_path, feature_network_cache):
  config = study_config.get_config()
  config.model.features = 8
  config.model.latent_dim = 8
  config.train.num_steps = 6
  config.train.steps_per_call = 3
  config.train.num_seeds = 2
  config.eval.num_samples = 100
  config.eval.cache_dir = feature_network_cache
  experiment.check_loss_study_config(config)
  config.lock()
  results = experiment.train_loss_study(config, str(tmp_path / "study"), progress=False)
  saved = json.loads((tmp_path / "study" / "results.json").read_text())
  assert list(saved["variants"]) == list(config.train.variants)
  for name, v in saved["variants"].items():
    assert len(v["fids"]) == 2 and np.isfinite(v["fid_mean"]) and np.isfinite(v["fid_se"])
    np.testing.assert_allclose(v["fid_se"], np.std(v["fids"], ddof=1) / np.sqrt(2), rtol=1e-9)
    assert v["steps_per_sec_mean"] > 0
  # The R1 variant trained with R1 on; the WGAN-GP one logged its penalty and raw critic values.
  r1 = json.loads((tmp_path / "study" / "non_saturating_r1" / "seed1" / "config.json").read_text())
  assert r1["train"]["r1_gamma"] == 10.0 and r1["train"]["loss"] == "non_saturating" and r1["seed"] == 1
  last = json.loads((tmp_path / "study" / "wgan_gp" / "seed0" / "metrics.jsonl").read_text().splitlines()[-1])
  assert "gradient_penalty" in last and "critic_real" in last
  for picture in ("fid_by_loss.png", "samples_by_loss.png"):
    assert (tmp_path / "study" / picture).stat().st_size > 0
  assert results["floor_train_vs_test"]["fid"] < min(v["fid_mean"] for v in saved["variants"].values())


def test_loss_study_bad_variants():
  config = study_config.get_config()
  config.train.variants = ("hinge", "lsgan")
  with pytest.raises(ValueError, match="unknown loss in 'lsgan'"):
    experiment.check_loss_study_config(config)
  experiment.check_loss_study_config(study_config.get_config("mnist"))
