"""A catalogue of a new user's mistakes, each through an experiment's real entry point.

Every case must end with exit status 2 and exactly one line on stderr, before
any training: what is wrong and what to change. (The issue's list: zero and
negative rates and sizes, unknown names, a missing or empty data folder,
corrupt data files, data the model cannot mean, a workdir of another model.)
"""

import gzip
import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = {
    "vae": ["--config.train.num_steps=2"], "conv_vae": ["--config.train.num_steps=2"],
    "autoencoder": ["--config.train.num_steps=2"], "dcgan": ["--config.train.num_steps=2"],
    "gan_mnist": ["--config.train.num_steps=2"], "gan_toy": ["--config.train.num_steps=2"],
}


def _run(experiment, args, workdir, timeout=300):
  cmd = [sys.executable, "-m", f"experiments.{experiment}.main", f"--workdir={workdir}", *args]
  env = {k: v for k, v in os.environ.items() if k != "JAXGEN_DEBUG"}
  return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def _assert_one_line(proc, *needles):
  lines = proc.stderr.strip().splitlines()
  assert proc.returncode == 2, proc.stderr[-3000:]
  assert len(lines) == 1, proc.stderr[-3000:]
  for needle in needles:
    assert needle in lines[0], lines[0]


CONFIG_CASES = [
    ("vae", ["--config.train.learning_rate=0"], "learning_rate"),
    ("vae", ["--config.train.num_steps=-5"], "num_steps"),
    ("vae", ["--config.train.batch_size=0"], "batch_size"),
    ("vae", ["--config.model.name=vea"], "Did you mean 'vae'"),
    ("vae", ["--config.data.name=mnsit"], "Did you mean 'mnist'"),
    ("vae", ["--config.eval.iwae_num_samples=0"], "iwae_num_samples"),
    ("vae", ["--config.nonexistent=1"], "nonexistent"),
    ("vae", ["--config=experiments/vae/config.py:nosuchpreset"], "nosuchpreset"),
    ("conv_vae", ["--config.train.num_epochs=-1"], "num_epochs"),
    ("autoencoder", ["--config.train.loss=l1"], "l1"),
    ("gan_mnist", ["--config.train.learning_rate=0"], "learning_rate"),
    ("gan_mnist", ["--config.train.loss=non-saturating"], "Did you mean 'non_saturating'"),
    ("gan_mnist", ["--config.train.k=0"], "k"),
    ("dcgan", ["--config.train.ema_decay=1.5"], "ema_decay"),
    ("dcgan", ["--config.train.batch_size=100000"], "batch"),
    ("gan_toy", ["--config.data.name=rings"], "ring"),
]


@pytest.mark.parametrize("experiment,args,needle", CONFIG_CASES, ids=[f"{c[0]}:{c[1][0]}" for c in CONFIG_CASES])
def test_bad_config_is_one_line_and_exit_2_before_any_run(tmp_path, experiment, args, needle):
  proc = _run(experiment, [*TINY[experiment], *args], tmp_path / "run")
  _assert_one_line(proc, needle)
  assert not (tmp_path / "run" / "checkpoints").exists()


def _idx_images(path, n):
  with gzip.open(path, "wb") as f:
    f.write(np.array([2051, n, 28, 28], ">i4").tobytes() + np.zeros((n, 28, 28), np.uint8).tobytes())


def test_missing_data_dir_is_named(tmp_path):
  proc = _run("vae", ["--config=experiments/vae/config.py:mnist", *TINY["vae"], f"--data_dir={tmp_path / 'nope'}"],
              tmp_path / "run")
  _assert_one_line(proc, str(tmp_path / "nope"))


def test_empty_data_dir_is_named(tmp_path):
  (tmp_path / "empty").mkdir()
  proc = _run("vae", ["--config=experiments/vae/config.py:mnist", *TINY["vae"], f"--data_dir={tmp_path / 'empty'}"],
              tmp_path / "run")
  _assert_one_line(proc, str(tmp_path / "empty"))


def test_corrupt_gz_names_the_file(tmp_path):
  data = tmp_path / "data"
  data.mkdir()
  for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
               "t10k-labels-idx1-ubyte.gz"):
    (data / name).write_bytes(b"\x1f\x8b\x08\x00garbage")
  proc = _run("vae", ["--config=experiments/vae/config.py:mnist", *TINY["vae"], f"--data_dir={data}"], tmp_path / "run")
  _assert_one_line(proc, "-idx")


def test_grey_values_in_a_binarized_npz_give_advice_that_works(tmp_path):
  data = tmp_path / "data"
  data.mkdir()
  grey = np.full((100, 784), 128, np.uint8)
  np.savez(data / "binarized_mnist.npz", train=grey, valid=grey, test=grey)
  proc = _run("vae", ["--config=experiments/vae/config.py:binarized_mnist_flax", *TINY["vae"], f"--data_dir={data}"],
              tmp_path / "run")
  # Not "use binarize='static'" for this file (that fails the same way): grey MNIST is the way.
  _assert_one_line(proc, "binarized_mnist.npz", "values other than 0 and 1", "data.name='mnist'")


def test_a_workdir_of_another_model_is_refused(tmp_path):
  first = _run("vae", TINY["vae"], tmp_path / "run")
  assert first.returncode == 0, first.stderr[-3000:]
  proc = _run("gan_toy", TINY["gan_toy"], tmp_path / "run")
  _assert_one_line(proc, "holds a run of model 'vae'")
  assert json.loads((tmp_path / "run" / "config.json").read_text())["model"]["name"] == "vae"


def test_a_corrupt_config_json_is_named(tmp_path):
  (tmp_path / "run").mkdir()
  (tmp_path / "run" / "config.json").write_text("{not json")
  proc = _run("vae", TINY["vae"], tmp_path / "run")
  _assert_one_line(proc, "config.json")


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_a_signal_during_evaluation_ends_in_one_line_and_leaves_the_run_resumable(tmp_path, sig):
  import signal
  import time

  workdir = tmp_path / "run"
  cmd = [sys.executable, "-m", "experiments.vae.main", f"--workdir={workdir}", "--config.train.num_steps=20",
         "--config.train.steps_per_call=20", "--config.eval.iwae_num_samples=50000", "--config.eval.iwae_num_examples=0"]
  # As from a terminal: a pytest-xdist worker ignores SIGINT, and a child would inherit that (Python keeps an
  # ignored SIGINT ignored), so the child starts with the default disposition.
  proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, text=True,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
  try:
    deadline = time.time() + 240
    while not (workdir / "checkpoints" / "20").is_dir() and time.time() < deadline and proc.poll() is None:
      time.sleep(0.2)
    # Inside the k = 50,000 evaluation of the 300 test digits (half a minute; k = 5000 took only 3.5 s on quiet
    # cores, and a signal after its end found the run finished).
    time.sleep(2.0)
    assert proc.poll() is None, "the run ended before the signal"
    proc.send_signal(getattr(signal, sig))
    _, err = proc.communicate(timeout=120)
  finally:
    proc.kill()
  assert proc.returncode == 128 + getattr(signal, sig), err[-3000:]
  assert "Traceback" not in err
  # Besides the progress bars, the one line.
  lines = [l for l in err.replace("\r", "\n").splitlines() if l.strip() and "it/s" not in l and "ex/s" not in l
           and "%|" not in l]
  assert lines == ["vae: interrupted; run the same command to resume from the last checkpoint."], lines
  assert (workdir / "checkpoints" / "20").is_dir()
