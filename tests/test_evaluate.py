"""jaxgen.evaluate: the metrics order known cases correctly, and the command evaluates saved runs.

Calibration on the offline 8x8 digits with their own LeNet (trained once per
test session into a temporary cache): real training images against the test
split (the floor) < blurred < noisy < uniform noise in FID; half of the
classes dropped cuts recall and coverage but not precision; one image repeated
has no recall.
"""

import json
import os

import numpy as np
import pytest
from scipy import ndimage

from jaxgen import data, evaluate, metrics


@pytest.fixture(scope="module")
def digits_features(tmp_path_factory):
  cache = tmp_path_factory.mktemp("feature_networks")
  net = metrics.feature_network("digits", cache_dir=cache, progress=False)
  ds = data.load_dataset("digits")
  return net, ds, cache


def test_calibration_orders_known_cases(digits_features):
  net, ds, _ = digits_features
  rng = np.random.default_rng(0)
  n = min(len(ds.train), 1000)
  real, train = net.features(ds.test), ds.train[:n]
  fid = lambda x: metrics.sample_quality(net.features(np.asarray(x, np.float32)), real, seed=0)["fid"]
  # Each corruption made stronger makes the figure worse.
  blurs = [fid(ndimage.gaussian_filter(train, sigma=(0, s, s, 0))) for s in (0.5, 1.0)]
  noises = [fid(np.clip(train + rng.normal(0, std, train.shape), 0, 1)) for std in (0.1, 0.3, 0.5)]
  assert blurs == sorted(blurs) and noises == sorted(noises), (blurs, noises)
  # The ordering, at digit scale (an 8x8 image: blur sigma 0.5, noise std 0.3; measured on MNIST
  # with sigma 1 in the README): floor < blurred < noisy < uniform noise.
  cases = {
      "floor": train,
      "blurred": ndimage.gaussian_filter(train, sigma=(0, 0.5, 0.5, 0)),
      "noisy": np.clip(train + rng.normal(0, 0.3, train.shape), 0, 1).astype(np.float32),
      "uniform": rng.uniform(0, 1, train.shape).astype(np.float32),
  }
  q = {name: metrics.sample_quality(net.features(x), real, seed=0) for name, x in cases.items()}
  fids = [q[name]["fid"] for name in ("floor", "blurred", "noisy", "uniform")]
  assert fids == sorted(fids), fids
  assert q["floor"]["kid_mean"] < q["uniform"]["kid_mean"]
  # Five of ten classes: what is there is real (precision high), half of the real data is missed.
  half = net.features(train[ds.train_labels[:n] < 5])
  dropped = metrics.sample_quality(half, real, seed=0)
  assert dropped["precision"] > 0.8
  assert dropped["recall"] < q["floor"]["recall"] - 0.3 and dropped["coverage"] < q["floor"]["coverage"] - 0.3
  # One image, many times: no variety at all.
  single = metrics.sample_quality(net.features(np.repeat(train[:1], 200, axis=0)), real, seed=0)
  assert single["recall"] < 0.05


def _gan_mnist_run(workdir):
  from experiments.gan_mnist import config as gan_mnist_config
  from jaxgen import experiment

  config = gan_mnist_config.get_config()
  config.model.generator_features = (32, 32)
  config.model.discriminator_units = (16, 16)
  config.train.num_steps = 20
  config.train.steps_per_call = 10
  config.train.ema_decay = 0.9
  config.eval.num_samples = 100
  config.eval.num_valid = 50
  config.eval.num_sigmas = 2
  experiment.train_gan_mnist(config, str(workdir), progress=False)


def _vae_run(workdir):
  from experiments.vae import config as vae_config
  from jaxgen import experiment

  config = vae_config.get_config()
  config.train.num_steps = 20
  config.train.steps_per_call = 10
  config.eval.iwae_num_samples = 10
  experiment.train_vae(config, str(workdir), progress=False)


def _dcgan_run(workdir):
  from experiments.dcgan import config as dcgan_config
  from jaxgen import experiment

  config = dcgan_config.get_config()
  config.train.num_steps = 4
  config.train.steps_per_call = 2
  experiment.train_dcgan(config, str(workdir), progress=False)


def _cgan_run(workdir):
  from experiments.cgan import config as cgan_config
  from jaxgen import experiment

  config = cgan_config.get_config()
  config.model.features = 8
  config.train.num_steps = 4
  config.train.steps_per_call = 2
  config.train.batch_size = 10
  run_config = experiment._cgan._run_config(config, "projection")
  experiment._cgan.train_conditional(run_config, str(workdir), np.zeros((20, 8, 8, 1), np.float32),
                              np.arange(20, dtype=np.int32) % 10, np.full(10, 0.1), progress=False)


@pytest.mark.parametrize("make_run", [_gan_mnist_run, _vae_run, _dcgan_run, _cgan_run],
                         ids=["gan_mnist", "vae", "dcgan", "cgan"])
def test_evaluate_command_on_saved_runs(tmp_path, digits_features, make_run, capsys):
  _, _, cache = digits_features
  make_run(tmp_path / "run")
  capsys.readouterr()
  assert evaluate.main(["--workdir", str(tmp_path / "run"), "--num", "120", "--batch_size", "50",
                        "--cache_dir", str(cache)]) == 0
  out = capsys.readouterr().out
  assert "floor" in out and "fid" in out
  record = json.loads((tmp_path / "run" / "eval.json").read_text())
  assert record["num_samples"] == 120 and record["sample_seed"] == 0 and record["dataset"] == "digits"
  for part in ("samples", "floor_train_vs_test"):
    assert set(record[part]) == {"fid", "kid_mean", "kid_std", "precision", "recall", "density", "coverage"}
    assert all(np.isfinite(v) for v in record[part].values())
  # A barely trained generator is far from the floor.
  assert record["samples"]["fid"] > record["floor_train_vs_test"]["fid"]
  assert record["feature_network"]["test_accuracy"] >= 0.97
  assert os.path.getsize(tmp_path / "run" / "eval_neighbours.png") > 0
  # A conditional run is scored against the labels its samples were drawn for.
  assert ("classifier_accuracy" in record) == (make_run is _cgan_run)
  if make_run is _cgan_run:
    assert 0.0 <= record["classifier_accuracy"] <= 1.0 and record["classifier_accuracy_of_test_images"] > 0.9
    assert "class acc" in out


def test_evaluate_errors_are_one_line(tmp_path, capsys):
  assert evaluate.main(["--workdir", str(tmp_path / "nope")]) == 2
  err = capsys.readouterr().err.strip()
  assert err.startswith("jaxgen.evaluate: no workdir") and "\n" not in err
  assert evaluate.main(["--workdir", str(tmp_path), "--num", "3"]) == 2
  assert "--num must be >= 10" in capsys.readouterr().err


def test_eval_vs_train_benchmark_reads_both_kinds_of_run(tmp_path, digits_features, capsys):
  from benchmarks import eval_vs_train

  _, _, cache = digits_features
  _vae_run(tmp_path / "vae")
  _dcgan_run(tmp_path / "dcgan")
  capsys.readouterr()
  out = tmp_path / "rows.json"
  assert eval_vs_train.main(["--workdirs", str(tmp_path / "vae"), str(tmp_path / "dcgan"), "--num", "100",
                             "--cache_dir", str(cache), "--out", str(out)]) == 0
  rows = {r["model"]: r for r in json.loads(out.read_text())["rows"]}
  assert set(rows) == {"vae", "dcgan"}
  assert rows["vae"]["steps"] == 20 and rows["dcgan"]["steps"] == 4
  assert "IWAE k=10" in rows["vae"]["eval"] and "jaxgen.evaluate, 100 samples" in rows["dcgan"]["eval"]
  for r in rows.values():
    assert r["train_seconds"] > 0 and r["eval_seconds"] > 0
    assert r["eval_over_train"] == pytest.approx(r["eval_seconds"] / r["train_seconds"])
  # A folder that is not a run: one line, exit 2.
  assert eval_vs_train.main(["--workdirs", str(tmp_path)]) == 2
  assert "\n" not in capsys.readouterr().err.strip()
