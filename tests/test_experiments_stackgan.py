"""StackGAN: its family (stages, CA switch, sampling from captions) and a smoke run of experiments/stackgan."""

import json

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from flax import nnx

from experiments.stackgan import config as stackgan_config
from jaxgen import experiment, sample, train
from jaxgen.models import build_models, stackgan


def _model_config(**overrides):
  model = {"name": "stackgan", "image_shape": (16, 16, 1), "embedding_dim": 8, "condition_dim": 4, "latent_dim": 4,
           "gf_dim": 2, "df_dim": 2, "r_num": 1, "conv_impl": "xla", **overrides}
  return ml_collections.ConfigDict({"model": model})


def test_family_builds_each_stage_and_draws_from_captions():
  one = build_models(_model_config(), nnx.Rngs(0))
  two = build_models(_model_config(stage=2), nnx.Rngs(0))
  assert set(one) == {"generator", "discriminator"} and set(two) == {"generator", "discriminator", "stage1"}
  # Stage-II's samples: the smoke run's sampling test.
  images = stackgan.sample(one, jax.random.key(0), 2, _model_config(), captions=["a bold seven leaning right",
                                                                                  "a thin upright one"])
  assert images.shape == (2, 8, 8, 1) and 0.0 <= images.min() and images.max() <= 1.0
  assert stackgan.sample(one, jax.random.key(0), 3, _model_config()).shape == (3, 8, 8, 1)
  with pytest.raises(ValueError, match="unknown words"):
    stackgan.sample(one, jax.random.key(0), 1, _model_config(), captions=["a bold sevn"])
  with pytest.raises(ValueError, match="stage must be 1 or 2"):
    stackgan.StackGANConfig(stage=3)


def test_without_ca_the_condition_is_its_mean():
  """c = mu: images depend on z alone, whatever CA's key; with CA they change with it."""
  models = build_models(_model_config(), nnx.Rngs(0))
  phi = jnp.asarray(stackgan.embed_captions(["a bold seven leaning right"] * 4, stackgan.StackGANConfig(embedding_dim=8)))

  def draw(augment, ca_seed):
    hp = stackgan.StackGANConfig(image_shape=(16, 16, 1), embedding_dim=8, condition_dim=4, latent_dim=4, gf_dim=2,
                                 df_dim=2, r_num=1, conditioning_augmentation=augment)
    z = jax.random.normal(jax.random.key(0), (4, hp.latent_dim))
    key = jax.random.key(ca_seed) if augment else None
    return np.asarray(models["generator"](phi, z, train=False, key=key)[0])

  np.testing.assert_array_equal(draw(False, 1), draw(False, 2))
  assert np.abs(draw(True, 1) - draw(True, 2)).max() > 1e-4


@pytest.fixture(scope="module")
def stackgan_run(tmp_path_factory, feature_network_cache):
  workdir = tmp_path_factory.mktemp("stackgan")
  config = stackgan_config.get_config()
  config.model.update(embedding_dim=8, condition_dim=4, latent_dim=4, gf_dim=2, df_dim=2, r_num=1, conv_impl="xla")
  config.train.kl_weight = 2.0 / 4
  config.train.num_steps = 2
  config.train.steps_per_call = 1
  config.train.sample_every = 1
  config.stage2.num_steps = 2
  config.stage2.df_dim = 2
  config.eval.update(num_samples=30, num_captions=3, samples_per_caption=3, figure_captions=2, figure_samples=2,
                     cache_dir=feature_network_cache)
  experiment.check_stackgan_config(config)
  config.lock()  # as the command line's flags give it
  results = experiment.train_stackgan(config, str(workdir), progress=False)
  return workdir, config, results


def test_every_run_is_trained_and_measured(stackgan_run):
  workdir, _, results = stackgan_run
  saved = json.loads((workdir / "results.json").read_text())
  assert set(saved["measures"]) == {"stage1", "stage1_no_ca", "stage1_upsampled", "stage2",
                                     "real", "real_half_upsampled"}
  for r in saved["measures"].values():
    for name in ("digit_accuracy", "thickness_accuracy", "slant_accuracy", "all_three_accuracy"):
      assert 0.0 <= r[name] <= 1.0
    assert np.isfinite(r["fid"])
  # Real digits are named by their captions: the measures' own agreement.
  assert saved["measures"]["real"]["digit_accuracy"] > 0.5 and saved["measures"]["real"]["thickness_accuracy"] > 0.9
  assert {run: saved["runs"][run]["step"] for run in ("stage1", "stage1_no_ca", "stage2")} == {
      "stage1": 2, "stage1_no_ca": 2, "stage2": 2}
  d = saved["within_caption_diversity"]
  assert all(d[name] >= 0.0 for name in ("stage1", "stage1_no_ca", "stage2", "real")) and d["real"] > 0.0
  # The conventions of the KL weight: per-example sum (here) = the reference's coordinate mean / C.
  assert saved["kl_weight"]["reference_code_convention_coordinate_mean"] == pytest.approx(2.0)
  for path in ("captions.png", "attributes.npz", "stage1/samples", "stage2/samples"):
    assert (workdir / path).exists()
  # Stage-II's frozen Stage-I is the Stage-I run's generator, parameters and BatchNorm statistics unchanged by
  # Stage-II's training; every run's losses and D's probabilities are finite.
  s1 = train.restore_models(workdir / "stage1")[0]["generator"]
  s2 = train.restore_models(workdir / "stage2")[0]["stage1"]
  jax.tree.map(np.testing.assert_array_equal, nnx.state(s1), nnx.state(s2))
  for run in ("stage1", "stage1_no_ca", "stage2"):
    record = train.read_metrics(workdir / run / "metrics.jsonl")[-1]
    assert all(np.isfinite(record[k]) for k in ("d_loss", "d_real", "d_wrong", "d_fake", "g_loss", "kl")), run


def test_a_finished_run_resumes_without_training(stackgan_run, capsys):
  workdir, config, first = stackgan_run
  again = experiment.train_stackgan(config, str(workdir), progress=False)
  assert again["measures"] == first["measures"]
  assert all(r["train_seconds_this_invocation"] < 30 for r in again["runs"].values())
  assert "stage2" in capsys.readouterr().out


def test_sampling_from_a_caption_and_a_misspelt_one(stackgan_run, tmp_path, capsys):
  workdir, _, _ = stackgan_run
  out = tmp_path / "captions.png"
  assert sample.main(["--workdir", str(workdir / "stage2"), "--num", "3", "--caption", "a bold seven leaning right",
                      "--caption", "a thin upright one", "--out", str(out)]) == 0
  assert out.exists()
  assert sample.main(["--workdir", str(workdir / "stage2"), "--num", "2", "--caption", "a bold sevn"]) == 2
  assert "unknown words ['sevn']" in capsys.readouterr().err
  assert sample.main(["--workdir", str(workdir / "stage2"), "--num", "2", "--label", "3"]) == 2


def test_config_errors_are_one_line():
  config = stackgan_config.get_config()
  config.eval.samples_per_caption = 1
  with pytest.raises(ValueError, match="samples_per_caption must be at least 2"):
    experiment.check_stackgan_config(config)
  config = stackgan_config.get_config()
  config.model.stage = 2
  with pytest.raises(ValueError, match="config.model.stage must be 1"):
    experiment.check_stackgan_config(config)
  with pytest.raises(ValueError, match="unknown preset"):
    stackgan_config.get_config("cub")
