"""Smoke runs of experiments/gan_toy and experiments/gan_theory (a few steps, tiny networks)."""

import json
import os
import shutil
import subprocess
import sys

from experiments.gan_theory import config as theory_config
from experiments.gan_toy import config as toy_config
from jaxgen import experiment

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tiny(c, num_steps=20, steps_per_call=10, eval_every=10):
  c.data.name = "grid"
  c.data.num_train = 2_000
  c.model.packing = 2
  c.model.generator_hidden = 16
  c.model.discriminator_hidden = 8
  c.train.batch_size = 10
  c.train.num_steps = num_steps
  c.train.steps_per_call = steps_per_call
  c.train.num_trials = 1
  c.eval.every = eval_every
  c.eval.num_samples = 200
  return c


def read_jsonl(path):
  return [json.loads(line) for line in open(path)]


def test_gan_toy_smoke(tmp_path):
  c = tiny(toy_config.get_config())
  experiment.check_gan_toy_config(c)
  summary = experiment.train_gan_toy(c, str(tmp_path), progress=False)
  assert summary["num_trials"] == 1 and summary["num_steps"] == 20
  assert 0 <= summary["num_modes"] <= 25 and 0 <= summary["high_quality_percent"] <= 100
  assert summary["paper_table_1"]["num_modes"] == "23.8"
  assert os.path.exists(tmp_path / "trial_0" / "scatter.png")
  assert [r["step"] for r in read_jsonl(tmp_path / "trial_0" / "mode_metrics.jsonl")] == [10, 20]
  assert len(open(tmp_path / "results.jsonl").readlines()) == 1
  assert json.load(open(tmp_path / "results.json"))["num_modes"] == summary["num_modes"]


def test_gan_toy_resumed_mid_run_evaluates_every_scheduled_step_once(tmp_path):
  # Chunks of 5 steps, evaluations every 10, checkpoints every 15: a run killed after step 30's
  # evaluation but before its checkpoint resumes from step 15 and must redo 20 and 30, once each.
  c = tiny(toy_config.get_config(), num_steps=30, steps_per_call=5, eval_every=10)
  c.train.checkpoint_every = 15
  experiment.train_gan_toy(c, str(tmp_path), progress=False)
  trial = tmp_path / "trial_0"
  uninterrupted = read_jsonl(trial / "mode_metrics.jsonl")
  assert [r["step"] for r in uninterrupted] == [10, 20, 30]
  shutil.rmtree(trial / "checkpoints" / "30")
  experiment.train_gan_toy(c, str(tmp_path), progress=False)
  resumed = read_jsonl(trial / "mode_metrics.jsonl")
  assert [r["step"] for r in resumed] == [10, 20, 30]
  assert resumed == uninterrupted  # a resumed run repeats the uninterrupted one exactly


def test_gan_toy_eval_schedule_survives_chunks_that_do_not_divide_it(tmp_path):
  # Chunks end at 4, 8, 12, ...: the multiples of 10 fall inside chunks and are evaluated at their chunk's end.
  c = tiny(toy_config.get_config(), num_steps=22, steps_per_call=4, eval_every=10)
  experiment.train_gan_toy(c, str(tmp_path), progress=False)
  assert [r["step"] for r in read_jsonl(tmp_path / "trial_0" / "mode_metrics.jsonl")] == [12, 20, 22]


def test_gan_toy_summary_mean_and_standard_error():
  c = toy_config.get_config()
  trials = [{"num_modes": m, "high_quality_fraction": h, "reverse_kl": r, "train_seconds": 1.0}
            for m, h, r in [(6, 0.9, 0.5), (8, 0.95, 0.1), (7, 0.8, 0.3)]]
  s = experiment.summarize(c, trials)
  assert s["num_modes"] == 7.0
  assert abs(s["num_modes_se"] - 1.0 / 3 ** 0.5) < 1e-12  # sample std 1, n = 3
  assert abs(s["high_quality_percent"] - 88.333333333) < 1e-6
  table = experiment.format_table(s)
  assert "7.0 +- 0.6" in table and "PacGAN paper, Table 1" in table and "6.3 +- 0.5" in table


def test_gan_toy_presets_pass_the_check():
  for preset in ("", "full"):
    experiment.check_gan_toy_config(toy_config.get_config(preset))


def test_gan_toy_bad_config_exits_2_with_one_line_before_training(tmp_path):
  out = subprocess.run(
      [sys.executable, "-m", "experiments.gan_toy.main", f"--workdir={tmp_path / 'run'}", "--config.data.name=rign"],
      cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "JAX_PLATFORMS": "cpu"},
  )
  assert out.returncode == 2, out.stderr[-2000:]
  assert out.stderr == (
      "gan_toy: unknown dataset 'rign' in config.data.name. Did you mean 'ring'? Known datasets: grid, ring\n"
  )
  assert not (tmp_path / "run").exists()


def test_gan_theory_smoke(tmp_path):
  c = theory_config.get_config()
  c.model.hidden = 8
  c.data.num_train = 2_000
  c.train.batch_size = 64
  c.train.discriminator.num_steps = 20
  c.train.gan.num_steps = 20
  c.train.steps_per_call = 10
  c.eval.every = 10
  c.eval.num_kde_samples = 300
  experiment.check_gan_theory_config(c)
  results = experiment.train_gan_theory(c, str(tmp_path), progress=False)
  for name in ["optimal_discriminator.png", "jsd_curve.png", "generator_density.png", "results.json", "jsd.jsonl",
               "config.json", "discriminator/config.json", "gan/loss_curves.png"]:
    assert os.path.exists(tmp_path / name), name
  assert [r["step"] for r in read_jsonl(tmp_path / "jsd.jsonl")] == [10, 20]  # step 0: results' jsd_initial
  d = results["discriminator"]
  assert abs(d["v_optimal_d"] - d["minus_log4_plus_2jsd"]) < 1e-5
  assert 0 <= results["generator"]["jsd_final"] <= 0.7
  assert json.load(open(tmp_path / "results.json")) == results
  # Run again: both runs resume at their end, and the JSD curve is read back whole.
  assert experiment.train_gan_theory(c, str(tmp_path), progress=False) == results
