"""Age-cGAN: its encoder's objective, its family, and a smoke run of experiments/age_cgan on the offline digits."""

import json

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest
from flax import nnx

from experiments.age_cgan import config as age_config
from jaxgen import experiment, objectives, sample, train
from jaxgen.models import age_cgan, build_models


def _tiny_model_config():
  return ml_collections.ConfigDict({"model": {
      "name": "age_cgan", "image_shape": (8, 8, 1), "num_classes": 5, "latent_dim": 6, "features": 8,
      "kernel_size": 3, "generator_conditioning": "concat", "encoder_features": 8}})


def test_family_builds_the_generator_and_an_encoder_to_z():
  models = build_models(_tiny_model_config(), nnx.Rngs(0))
  assert set(models) == {"generator", "encoder"}
  z = models["encoder"](jnp.zeros((3, 8, 8, 1)), train=False)
  assert z.shape == (3, 6)
  images = age_cgan.sample(models, jax.random.key(0), 10, _tiny_model_config(), labels=np.arange(10) % 5)
  assert images.shape == (10, 8, 8, 1) and 0.0 <= images.min() and images.max() <= 1.0
  with pytest.raises(ValueError, match="encoder_features must be a positive integer"):
    age_cgan.AgeCGANConfig(image_shape=(8, 8, 1), encoder_features=0)


def test_encoder_learns_to_invert_a_frozen_generator(tmp_path):
  models = build_models(_tiny_model_config(), nnx.Rngs(0))
  g_before = jax.tree.map(np.array, nnx.state(models["generator"]))
  pairs = {"z": np.asarray(jax.random.normal(jax.random.key(1), (512, 6))),
           "y": np.asarray(jax.random.randint(jax.random.key(2), (512,), 0, 5), np.int32)}
  graphdefs, state = train.run_training(
      workdir=tmp_path, config={}, models=models, optimizers={"encoder": optax.adam(3e-3)},
      updates=[objectives.Update("encoder", objectives.latent_regression_objective())], data={"pairs": pairs},
      num_steps=300, batch_shape=(64,), seed=0, steps_per_call=50, progress=False)
  records = train.read_metrics(tmp_path / "metrics.jsonl")
  # z has unit variance: a blind encoder (E = 0) scores 1 per coordinate.
  assert records[0]["latent_mse"] > 0.5 and records[-1]["latent_mse"] < 0.7 * records[0]["latent_mse"]
  trained = train.merge_models(graphdefs, state)
  jax.tree.map(np.testing.assert_array_equal, jax.tree.map(np.array, nnx.state(trained["generator"])), g_before)
  assert "generator" not in state.opt_state


@pytest.fixture(scope="module")
def age_run(tmp_path_factory, feature_network_cache):
  workdir = tmp_path_factory.mktemp("age_cgan")
  config = age_config.get_config()
  config.model.features = config.model.encoder_features = 8
  config.model.latent_dim = 8
  config.train.num_steps = 10
  config.train.steps_per_call = 5
  config.train.sample_every = 5
  config.encoder.num_pairs = 256
  config.encoder.num_steps = 10
  config.encoder.steps_per_call = 5
  config.inversion.num_images = 12
  config.inversion.steps = 6
  config.inversion.steps_per_call = 3
  config.eval.num_references = 40
  config.eval.figure_images = 4
  config.eval.cache_dir = feature_network_cache
  experiment.check_age_cgan_config(config)
  config.lock()  # as the command line's flags give it
  results = experiment.train_age_cgan(config, str(workdir), progress=False)
  return workdir, config, results


def test_every_method_is_measured_at_every_group(age_run):
  workdir, _, results = age_run
  saved = json.loads((workdir / "results.json").read_text())
  assert set(saved["methods"]) == {"encoder", "pixelwise", "identity"}
  edges = saved["thickness_edges"]
  assert len(edges) == 6 and all(a < b for a, b in zip(edges, edges[1:]))
  for name, m in saved["methods"].items():
    for part in ["reconstruction"] + [f"group_{t}" for t in range(5)]:
      for key in ("label_kept", "retrieval_top1", "age_accuracy"):
        assert 0.0 <= m[part][key] <= 1.0, (name, part, key)
    assert m["aged"]["age_accuracy"] == pytest.approx(np.mean([m[f"group_{t}"]["age_accuracy"] for t in range(5)]))
  for name in ("pixelwise", "identity"):
    start, end = saved["methods"][name]["objective_start_end"]
    assert end < start  # six Adam steps from E's z already lower each objective
  assert saved["runs"]["cgan"]["step"] == 10 and saved["runs"]["encoder"]["step"] == 10
  assert saved["published_verification_percent"]["identity"] == 82.9
  for output in ("reageing.png", "thickness.npz", "fr_data.npz", "cgan/checkpoints", "encoder/checkpoints",
                 "cgan/samples"):
    assert (workdir / output).exists(), output
  assert json.loads((workdir / "cgan" / "config.json").read_text())["model"]["name"] == "cgan"
  assert json.loads((workdir / "encoder" / "config.json").read_text())["model"]["name"] == "age_cgan"


def test_a_second_call_resumes_and_measures_the_same(age_run):
  workdir, config, results = age_run
  again = experiment.train_age_cgan(config, str(workdir), progress=False)
  assert again["runs"]["cgan"]["train_seconds_this_invocation"] < results["runs"]["cgan"]["train_seconds_this_invocation"] + 5
  assert again["methods"]["pixelwise"]["reconstruction"] == results["methods"]["pixelwise"]["reconstruction"]


def test_the_encoder_run_samples_by_group(age_run, tmp_path):
  workdir, _, _ = age_run
  out = tmp_path / "thick.npy"
  assert sample.main(["--workdir", str(workdir / "encoder"), "--label", "4", "--num", "5", "--save_npy", str(out),
                      "--out", str(tmp_path / "g.png")]) == 0
  assert np.load(out).shape == (5, 8, 8, 1)


@pytest.mark.parametrize("field, value, message", [
    ("model.num_classes", 4, "must equal config.data.num_groups=5"),
    ("data.num_groups", 1, "num_groups must be at least 2"),
    ("eval.num_references", 10, "num_references=10 must be at least config.inversion.num_images"),
    ("encoder.batch_size", 10**6, "exceeds config.encoder.num_pairs"),
    ("inversion.learning_rate", 0.0, "inversion.learning_rate must be a number > 0"),
    ("inversion.prior_weight", -1.0, "prior_weight must be >= 0"),
    ("encoder.num_pairs", 0, "num_pairs must be a positive integer"),
    ("inversion.steps", 0, "inversion.steps must be a positive integer"),
])
def test_bad_configs_fail_in_one_line(field, value, message):
  config = age_config.get_config()
  section, name = field.split(".")
  config[section][name] = value
  with pytest.raises(ValueError, match=message):
    experiment.check_age_cgan_config(config)


def test_presets():
  for preset in ("digits", "mnist"):
    experiment.check_age_cgan_config(age_config.get_config(preset))
  with pytest.raises(ValueError, match="preset"):
    age_config.get_config("faces")


def test_reage_cli_reages_inputs_to_the_chosen_groups(age_run, tmp_path, capsys):
  from jaxgen import data, reage

  workdir, _, _ = age_run
  images = data.load_dataset("digits").test[:3]
  np.save(tmp_path / "in.npy", images)
  out = tmp_path / "out"
  assert reage.main(["--workdir", str(workdir), "--input", str(tmp_path / "in.npy"), "--out", str(out),
                     "--groups", "0,4", "--steps", "3"]) == 0
  reaged = np.load(out / "reaged.npy")
  assert reaged.shape == (3, 2, 8, 8, 1) and 0.0 <= reaged.min() and reaged.max() <= 1.0
  assert (out / "grid.png").exists()
  assert reage.main(["--workdir", str(workdir), "--input", str(tmp_path / "in.npy"), "--out", str(out),
                     "--groups", "0,9"]) == 2
  assert "--groups must be integers in [0, 5)" in capsys.readouterr().err
  assert reage.main(["--workdir", str(tmp_path), "--input", str(tmp_path / "in.npy"), "--out", str(out)]) == 2
  assert "no age_groups.json" in capsys.readouterr().err
