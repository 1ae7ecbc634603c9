"""A run owns its workdir, and its checkpoints fail safe (the issue's list, one regression test each)."""

import json
import pathlib
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from jaxgen import train

_X = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)


def _objective(models, ctx):
  loss = jnp.mean((models["net"](ctx.batch["x"]) - ctx.batch["x"]) ** 2)
  return loss, {}


def run(workdir, num_steps=8, *, lr=1e-2, name="tiny", **kwargs):
  kwargs = {"steps_per_call": 2, "checkpoint_every": 2, "keep_checkpoints": 5, "progress": False} | kwargs
  return train.run_training(
      workdir=workdir, config={"model": {"name": name}, "train": {"learning_rate": lr, "num_steps": num_steps}},
      models={"net": nnx.Linear(4, 4, rngs=nnx.Rngs(0))}, optimizers={"net": optax.adam(lr)},
      updates=[train.Update("net", _objective)], data={"x": _X}, num_steps=num_steps, batch_shape=(8,), seed=0,
      **kwargs)


def _equal(a, b):
  jax.tree.map(np.testing.assert_array_equal, train.host_copy(a), train.host_copy(b))


def test_a_second_run_on_a_busy_workdir_is_refused_naming_the_holder(tmp_path):
  holder = subprocess.Popen(
      [sys.executable, "-c", "import sys, time; from jaxgen.train._workdir import WorkdirLock\n"
       f"with WorkdirLock({str(tmp_path)!r}):\n  print('held', flush=True); time.sleep(60)"],
      stdout=subprocess.PIPE, text=True)
  try:
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(train.WorkdirInUseError, match=f"in use by pid {holder.pid} on") as info:
      run(tmp_path)
    assert "\n" not in str(info.value)
  finally:
    holder.kill()
    holder.wait()
  # Killed holder (SIGKILL): the kernel dropped its lock, the stale file is taken over.
  assert (tmp_path / ".lock").read_text().startswith(f"pid {holder.pid}")
  assert int(run(tmp_path)[1].step) == 8


def test_a_workdir_of_another_family_is_refused(tmp_path):
  run(tmp_path, 2)
  with pytest.raises(ValueError, match="holds a run of model 'tiny', not 'other': use another --workdir"):
    run(tmp_path, 2, name="other")


def test_a_changed_config_is_refused_unless_asked_and_then_recorded(tmp_path):
  run(tmp_path, 4)
  with pytest.raises(ValueError, match=r"differs from the one .* \(train.learning_rate\).*allow_config_change"):
    run(tmp_path, 6, lr=1e-3)
  assert json.loads((tmp_path / "config.json").read_text())["train"]["learning_rate"] == 1e-2
  run(tmp_path, 6)  # a longer run is not a change
  run(tmp_path, 8, lr=1e-3, allow_config_change=True)
  history = [json.loads(line) for line in (tmp_path / "config_history.jsonl").read_text().splitlines()]
  assert [h["config"]["train"]["learning_rate"] for h in history] == [1e-2, 1e-3]
  assert history[1]["changed"] == ["train.learning_rate"]


def _data_files(step_dir: pathlib.Path) -> list[pathlib.Path]:
  """The files of the parameters' array data (orbax's OCDBT data files)."""
  return [p for p in (step_dir / "params").rglob("*") if p.is_file() and p.parent.name == "d"]


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_a_corrupt_latest_checkpoint_falls_back_to_the_newest_intact_one(tmp_path, damage, capfd):
  full = run(tmp_path / "full", 12)[1]
  run(tmp_path / "cut", 8)
  for victim in _data_files(tmp_path / "cut" / "checkpoints" / "8"):
    data = bytearray(victim.read_bytes())
    if damage == "truncate":
      victim.write_bytes(bytes(data[: len(data) // 2]))
    else:
      mid = len(data) // 2
      data[mid : mid + 8] = bytes(b ^ 0xFF for b in data[mid : mid + 8])
      victim.write_bytes(bytes(data))
  resumed = run(tmp_path / "cut", 12)[1]
  err = capfd.readouterr().err
  assert "checkpoint 8 in" in err and "falling back to checkpoint 6" in err
  assert "Resuming from step 6 of 12" in err
  assert (tmp_path / "cut" / "corrupt_checkpoints" / "8").is_dir()
  _equal(full, resumed)  # the steps after 6 were redone exactly


def test_a_run_without_checkpoint_keeps_the_old_metrics_aside(tmp_path, capfd):
  run(tmp_path, 4)
  import shutil
  shutil.rmtree(tmp_path / "checkpoints")
  old = (tmp_path / "metrics.jsonl").read_text()
  run(tmp_path, 4)
  assert "starting from step 0" in capfd.readouterr().err
  assert (tmp_path / "metrics.jsonl.1.old").read_text() == old
  assert [json.loads(l)["step"] for l in (tmp_path / "metrics.jsonl").read_text().splitlines()] == [2, 4]


def test_checkpoints_by_wall_time(tmp_path):
  # checkpoint_every far away, every 0 minutes: a save after every chunk.
  run(tmp_path, 8, checkpoint_every=1000, checkpoint_every_minutes=0)
  assert train.checkpoint_steps(tmp_path / "checkpoints") == [2, 4, 6, 8]
  run(tmp_path / "b", 8, checkpoint_every=1000, checkpoint_every_minutes=None)
  assert train.checkpoint_steps(tmp_path / "b" / "checkpoints") == [8]


def test_newest_intact_reports_every_corrupt_one(tmp_path):
  run(tmp_path, 4)
  for step in (2, 4):
    for victim in _data_files(tmp_path / "checkpoints" / str(step)):
      victim.write_bytes(victim.read_bytes()[:10])
  template = train.init_train_state({"net": nnx.Linear(4, 4, rngs=nnx.Rngs(0))}, {"net": optax.adam(1e-2)},
                                    jax.random.key(0))[1]
  notes = []
  with train.CheckpointManager(tmp_path / "checkpoints", create=False) as mngr:
    with pytest.raises(train.CorruptCheckpointError, match=r"every checkpoint in .* is corrupt \(steps \[2, 4\]\)"):
      mngr.newest_intact(lambda s: mngr.restore(template, step=s), log=notes.append)
  assert len(notes) == 2 and "falling back to checkpoint 2" in notes[0] and "no older checkpoint" in notes[1]


def test_arrays_that_decode_but_differ_fail_their_checksum(tmp_path):
  # Damage that the storage layer cannot see (its own checks pass): the saved CRC-32 must.
  run(tmp_path, 4)
  info_path = tmp_path / "checkpoints" / "4" / "info" / "metadata"  # orbax JsonSave writes the record here
  info = json.loads(info_path.read_text())
  path = next(iter(info["checksums"]["params"]))
  info["checksums"]["params"][path] ^= 1
  info_path.write_text(json.dumps(info))
  template = train.init_train_state({"net": nnx.Linear(4, 4, rngs=nnx.Rngs(0))}, {"net": optax.adam(1e-2)},
                                    jax.random.key(0))[1]
  with train.CheckpointManager(tmp_path / "checkpoints", create=False) as mngr:
    with pytest.raises(train.CorruptCheckpointError, match=r"checkpoint 4 in .* is corrupt: params.* fails its checksum"):
      mngr.restore(template, step=4)
    assert int(mngr.restore(template, step=2).step) == 2
