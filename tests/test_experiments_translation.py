"""Smoke runs of experiments/pix2pix and experiments/cyclegan on the offline digits, and translation from a run."""

import json

import numpy as np
import pytest
from PIL import Image

from experiments.cyclegan import config as cyclegan_config
from experiments.pix2pix import config as pix2pix_config
from jaxgen import experiment, sample, translate


@pytest.fixture(scope="module")
def pix2pix_run(tmp_path_factory, feature_network_cache):
  workdir = tmp_path_factory.mktemp("pix2pix")
  config = pix2pix_config.get_config()
  config.model.features = 4
  config.model.discriminator_features = 4
  config.train.num_steps = 4
  config.train.steps_per_call = 1  # one step compiled, not the preset's unrolled chunk
  config.train.batch_size = 8
  config.data.tasks = ("edges",)
  config.train.losses = ("l1", "cgan")
  config.train.discriminators = ("image",)
  config.eval.num_test = 40
  config.eval.cache_dir = feature_network_cache
  experiment.check_pix2pix_config(config)
  config.lock()  # as the command line's flags give it
  return workdir, experiment.train_pix2pix(config, str(workdir), progress=False)


def test_pix2pix_runs_are_the_two_tables_without_repeats():
  config = pix2pix_config.get_config()
  assert experiment.pix2pix_run_names(config) == [
      "l1", "gan-patch16", "cgan-patch16", "l1_gan-patch16", "l1_cgan-patch16",
      "l1_cgan-pixel", "l1_cgan-patch34", "l1_cgan-image"]


def test_pix2pix_trains_every_run_and_measures_it(pix2pix_run):
  workdir, results = pix2pix_run
  saved = json.loads((workdir / "results.json").read_text())
  assert set(saved["tasks"]) == {"edges"}
  for task, t in saved["tasks"].items():
    assert list(t["runs"]) == ["l1", "cgan-patch16", "l1_cgan-image"]
    for name, run in t["runs"].items():
      assert run["step"] == 4
      assert 0 <= run["classifier_accuracy"] <= 1 and 0 <= run["histogram_intersection"] <= 1
      assert np.isfinite(run["fid"]) and run["l1"] >= 0 and "train_mode" in run
      run_config = json.loads((workdir / task / name / "config.json").read_text())
      assert run_config["train"]["gan_weight"] == (0.0 if name == "l1" else 1.0)
      assert run_config["train"]["l1_weight"] == (0.0 if name.startswith("cgan") else 100.0)
    assert (workdir / task / "comparison.png").exists()
  # The L1 run has no discriminator update; the cGAN runs log D's outputs.
  l1_record = json.loads((workdir / "edges" / "l1" / "metrics.jsonl").read_text().splitlines()[-1])
  cgan_record = json.loads((workdir / "edges" / "cgan-patch16" / "metrics.jsonl").read_text().splitlines()[-1])
  assert "d_loss" not in l1_record and "d_real" in cgan_record
  assert saved["published_fcn_scores"]["table_1"]["l1_cgan"][0] == 0.66


def test_translate_cli_reads_a_folder_and_an_array(pix2pix_run, tmp_path, capsys):
  workdir, _ = pix2pix_run
  run = str(workdir / "edges" / "l1_cgan-image")
  folder = tmp_path / "inputs" / "sub"
  folder.mkdir(parents=True)
  rng = np.random.default_rng(0)
  for i in range(3):
    Image.fromarray((rng.uniform(size=(20, 20)) * 255).astype(np.uint8)).save(folder / f"im{i}.png")
  out = tmp_path / "out"
  assert translate.main(["--workdir", run, "--input", str(tmp_path / "inputs"), "--out", str(out)]) == 0
  written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
  assert written == ["grid.png", "sub/im0.png", "sub/im1.png", "sub/im2.png"]
  assert Image.open(out / "sub" / "im0.png").size == (16, 16)  # resized to the run's images
  arrays = tmp_path / "x.npy"
  np.save(arrays, rng.uniform(size=(5, 16, 16, 1)).astype(np.float32))
  assert translate.main(["--workdir", run, "--input", str(arrays), "--out", str(out), "--train_mode"]) == 0
  assert np.load(out / "translated.npy").shape == (5, 16, 16, 1)
  capsys.readouterr()
  # A user's mistakes: one line, exit status 2.
  assert translate.main(["--workdir", run, "--input", str(tmp_path / "nope"), "--out", str(out)]) == 2
  np.save(arrays, np.zeros((2, 8, 8, 1), np.float32))
  assert translate.main(["--workdir", run, "--input", str(arrays), "--out", str(out)]) == 2
  assert translate.main(["--workdir", run, "--input", str(arrays), "--out", str(out), "--direction", "BtoA"]) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 3 and all(line.startswith("jaxgen.translate: ") for line in err)
  # Sampling a translation run points to the translate command.
  assert sample.main(["--workdir", run]) == 2
  assert "python -m jaxgen.translate" in capsys.readouterr().err


@pytest.fixture(scope="module")
def cyclegan_run(tmp_path_factory, feature_network_cache):
  workdir = tmp_path_factory.mktemp("cyclegan")
  config = cyclegan_config.get_config()
  config.model.features = 4
  config.model.discriminator_features = 4
  config.model.num_blocks = 1
  config.train.num_steps = 4
  config.train.steps_per_call = 1  # one step compiled, not the preset's unrolled chunk
  config.train.batch_size = 4
  config.train.pool_size = 3
  config.eval.num_test = 30
  config.eval.cache_dir = feature_network_cache
  experiment.check_cyclegan_config(config)
  config.lock()
  return workdir, experiment.train_cyclegan(config, str(workdir), progress=False)


def test_cyclegan_oracle_trains_both_variants_and_measures_them(cyclegan_run):
  workdir, results = cyclegan_run
  saved = json.loads((workdir / "results.json").read_text())
  assert set(saved["runs"]) == {"cyclegan", "gan_only"}
  for name, run in saved["runs"].items():
    assert run["step"] == 4 and 0 <= run["translated_accuracy"] <= 1
    assert run["oracle_l1"] >= 0 and run["cycle_l1_a"] >= 0 and run["cycle_l1_b"] >= 0
    assert (workdir / name / "translations.png").exists()
    run_config = json.loads((workdir / name / "config.json").read_text())
    assert run_config["train"]["cycle_weight"] == (0.0 if name == "gan_only" else 10.0)
  # C_B reads T(digits) well; the untranslated digits are not T(digits).
  assert saved["oracle_accuracy"] > 0.9 and saved["source_only_accuracy"] < saved["oracle_accuracy"]
  record = json.loads((workdir / "cyclegan" / "metrics.jsonl").read_text().splitlines()[-1])
  assert {"cycle_a", "cycle_b", "d_a_loss", "d_b_loss", "g_gan_ab"} <= set(record)


def test_cyclegan_translates_both_directions(cyclegan_run, tmp_path):
  workdir, _ = cyclegan_run
  arrays = tmp_path / "x.npz"
  np.savez(arrays, images=np.random.default_rng(0).uniform(size=(3, 16, 16, 1)).astype(np.float32))
  for direction in ("AtoB", "BtoA"):
    out = tmp_path / direction
    assert translate.main(["--workdir", str(workdir / "cyclegan"), "--input", str(arrays), "--out", str(out),
                           "--direction", direction]) == 0
    assert np.load(out / "translated.npy").shape == (3, 16, 16, 1)


def test_images_are_padded_by_small_margins_and_resized_otherwise():
  from jaxgen.experiment import _common
  x = np.random.default_rng(0).uniform(size=(3, 28, 28, 1)).astype(np.float32)
  padded = _common.prepare_images(x, 32)
  assert padded.shape == (3, 32, 32, 1) and np.array_equal(_common.to_classifier_input(padded, (28, 28, 1)), x)
  digits = np.zeros((2, 8, 8, 1), np.float32)
  digits[:, 2:6, 3:5] = 1.0
  grown = _common.prepare_images(digits, 16)  # resized, not padded: the stroke fills the same share of the image
  assert grown[:, 4:12, 6:10].mean() > 0.8 and grown[:, :, :4].max() < 0.1
  assert np.abs(_common.to_classifier_input(grown, (8, 8, 1)) - digits).mean() < 0.1


def test_bad_configs_fail_in_one_line():
  config = pix2pix_config.get_config()
  config.data.tasks = ("completion", "inpainting")
  with pytest.raises(ValueError, match="config.data.tasks"):
    experiment.check_pix2pix_config(config)
  config = cyclegan_config.get_config()
  config.train.variants = ("cyclegan", "gan")
  with pytest.raises(ValueError, match="config.train.variants"):
    experiment.check_cyclegan_config(config)
  config = cyclegan_config.get_config("folder")
  with pytest.raises(ValueError, match="config.data.folder"):
    experiment.check_cyclegan_config(config)
