"""Smoke runs of experiments/gan_toy and experiments/gan_theory (a few steps, tiny networks)."""

import json
import os

from experiments.gan_theory import config as theory_config
from experiments.gan_theory import main as theory_main
from experiments.gan_toy import config as toy_config
from experiments.gan_toy import main as toy_main


def test_gan_toy_smoke(tmp_path):
  c = toy_config.get_config()
  c.dataset = "grid"
  c.model.packing = 2
  c.model.generator_hidden = 16
  c.model.discriminator_hidden = 8
  c.num_train = 2_000
  c.batch_size = 10
  c.num_steps = 20
  c.steps_per_call = 10
  c.num_trials = 1
  c.num_eval_samples = 200
  summary = toy_main.run(c, str(tmp_path))
  assert summary["num_trials"] == 1 and summary["num_steps"] == 20
  assert 0 <= summary["num_modes"] <= 25 and 0 <= summary["high_quality_percent"] <= 100
  assert summary["paper_table_1"]["num_modes"] == "23.8"
  assert os.path.exists(tmp_path / "trial_0" / "scatter.png")
  records = [json.loads(l) for l in open(tmp_path / "trial_0" / "mode_metrics.jsonl")]
  assert [r["step"] for r in records] == [10, 20]
  assert len(open(tmp_path / "results.jsonl").readlines()) == 1
  assert json.load(open(tmp_path / "results.json"))["num_modes"] == summary["num_modes"]


def test_gan_toy_summary_mean_and_standard_error():
  c = toy_config.get_config()
  trials = [{"num_modes": m, "high_quality_fraction": h, "reverse_kl": r, "train_seconds": 1.0}
            for m, h, r in [(6, 0.9, 0.5), (8, 0.95, 0.1), (7, 0.8, 0.3)]]
  s = toy_main.summarize(c, trials)
  assert s["num_modes"] == 7.0
  assert abs(s["num_modes_se"] - 1.0 / 3 ** 0.5) < 1e-12  # sample std 1, n = 3
  assert abs(s["high_quality_percent"] - 88.333333333) < 1e-6
  table = toy_main.format_table(s)
  assert "7.0 +- 0.6" in table and "PacGAN paper, Table 1" in table and "6.3 +- 0.5" in table


def test_gan_theory_smoke(tmp_path):
  c = theory_config.get_config()
  c.hidden = 8
  c.num_data = 2_000
  c.batch_size = 64
  c.d_steps = 20
  c.gan_steps = 20
  c.eval_every = 10
  c.steps_per_call = 10
  c.num_kde_samples = 300
  results = theory_main.run(c, str(tmp_path))
  for name in ["optimal_discriminator.png", "jsd_curve.png", "generator_density.png", "results.json", "jsd.jsonl"]:
    assert os.path.exists(tmp_path / name), name
  assert [json.loads(l)["step"] for l in open(tmp_path / "jsd.jsonl")] == [0, 10, 20]
  d = results["discriminator"]
  assert abs(d["v_optimal_d"] - d["minus_log4_plus_2jsd"]) < 1e-5
  assert 0 <= results["generator"]["jsd_final"] <= 0.7
