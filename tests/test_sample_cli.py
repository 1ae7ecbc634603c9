"""python -m jaxgen.sample: samples from a run's workdir alone (config.json + checkpoint)."""

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import nnx

from jaxgen import sample
from jaxgen import train
from jaxgen.models import register_model


class _Generator(nnx.Module):
  def __init__(self, latent_dim, *, rngs: nnx.Rngs):
    self.latent_dim = latent_dim
    self.hidden = nnx.Linear(latent_dim, 16, rngs=rngs)
    self.norm = nnx.BatchNorm(16, rngs=rngs)

  def __call__(self, z, *, train: bool):
    return jax.nn.sigmoid(self.norm(self.hidden(z), use_running_average=not train)).reshape(-1, 4, 4, 1)


def _build_images(config, rngs):
  return {"generator": _Generator(config.model.latent_dim, rngs=rngs), "discriminator": nnx.Linear(16, 1, rngs=rngs)}


def _sample_images(models, key, num, config):
  g = models["generator"]
  return np.asarray(g(jax.random.normal(key, (num, g.latent_dim)), train=False))


def _build_points(config, rngs):
  return {"net": nnx.Linear(2, 2, rngs=rngs)}


def _sample_points(models, key, num, config):
  return np.asarray(models["net"](jax.random.normal(key, (num, 2))))


register_model("test_sample_images", _build_images, _sample_images)
register_model("test_sample_points", _build_points, _sample_points)
_IMAGES_CONFIG = {"model": {"name": "test_sample_images", "latent_dim": 3}}


def _image_run(workdir):
  """A workdir as run_training leaves it, with EMA weights that differ from the parameters."""
  models = _build_images(ml_collections.ConfigDict(_IMAGES_CONFIG), nnx.Rngs(0))
  opts = {"generator": optax.adam(1e-3), "discriminator": optax.adam(1e-3)}
  graphdefs, state = train.init_train_state(models, opts, jax.random.key(0), ema_networks=("generator",))
  rng = np.random.default_rng(0)
  shift = lambda x: x + jnp.asarray(rng.normal(size=x.shape), x.dtype)
  # BatchNorm statistics that sampling must use; shifted up so the variances stay positive.
  shift_up = lambda x: x + jnp.abs(jnp.asarray(rng.normal(size=x.shape), x.dtype))
  state = state.replace(
      step=jnp.asarray(6, jnp.int32),
      params=jax.tree.map(shift, state.params),
      rest=jax.tree.map(shift_up, state.rest),
      ema={"generator": {"params": jax.tree.map(shift, state.ema["generator"]["params"]),
                         "rest": jax.tree.map(shift_up, state.ema["generator"]["rest"])}},
  )
  os.makedirs(workdir)
  with open(os.path.join(workdir, "config.json"), "w") as f:
    json.dump(_IMAGES_CONFIG, f)
  with train.CheckpointManager(os.path.join(workdir, "checkpoints")) as manager:
    manager.save(state)
  return graphdefs, state


def _reference(graphdefs, state, *, num, seed, batch_size, use_ema):
  """Samples drawn directly from the saved state, batch i with fold_in(key(seed), i)."""
  g = train.merge_models(graphdefs, state, use_ema=use_ema)["generator"]
  key = jax.random.key(seed)
  out = []
  for i, start in enumerate(range(0, num, batch_size)):
    n = min(batch_size, num - start)
    out.append(np.asarray(g(jax.random.normal(jax.random.fold_in(key, i), (n, 3)), train=False)))
  return np.concatenate(out)


def test_samples_images_with_ema_in_batches(tmp_path):
  graphdefs, state = _image_run(tmp_path / "run")
  npy, png = tmp_path / "s.npy", tmp_path / "grid.png"
  argv = ["--workdir", str(tmp_path / "run"), "--num", "10", "--batch_size", "4", "--seed", "3"]
  assert sample.main([*argv, "--out", str(png), "--save_npy", str(npy)]) == 0
  got = np.load(npy)
  assert got.shape == (10, 4, 4, 1) and png.exists()
  np.testing.assert_allclose(got, _reference(graphdefs, state, num=10, seed=3, batch_size=4, use_ema=True), rtol=1e-6)
  assert sample.main([*argv, "--no_ema", "--out", str(png), "--save_npy", str(npy)]) == 0
  np.testing.assert_allclose(
      np.load(npy), _reference(graphdefs, state, num=10, seed=3, batch_size=4, use_ema=False), rtol=1e-6
  )
  # Default output name: the checkpoint's step in the workdir.
  assert sample.main(["--workdir", str(tmp_path / "run"), "--num", "4"]) == 0
  assert (tmp_path / "run" / "samples_step6.png").exists()


def test_samples_points_from_a_trained_run(tmp_path):
  def objective(models, ctx):
    x = ctx.batch["x"]
    loss = jnp.mean((models["net"](x) - x) ** 2)
    return loss, {}

  train.run_training(
      workdir=tmp_path, config={"model": {"name": "test_sample_points"}}, models=_build_points(None, nnx.Rngs(0)),
      optimizers={"net": optax.sgd(0.1)}, updates=[train.Update("net", objective)],
      data={"x": np.random.default_rng(0).normal(size=(16, 2)).astype(np.float32)}, num_steps=2,
      batch_shape=(4,), seed=0, steps_per_call=2, progress=False,
  )
  assert sample.main(["--workdir", str(tmp_path), "--num", "50", "--out", str(tmp_path / "scatter.png")]) == 0
  assert (tmp_path / "scatter.png").stat().st_size > 0
  models, config, step = train.restore_models(tmp_path)
  assert step == 2 and config.model.name == "test_sample_points"


def test_errors_are_one_line(tmp_path, capsys):
  def error(argv):
    assert sample.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("jaxgen.sample: ")
    return err

  assert "no workdir" in error(["--workdir", str(tmp_path / "nope")])
  os.makedirs(tmp_path / "empty")
  assert "no config.json" in error(["--workdir", str(tmp_path / "empty")])
  with open(tmp_path / "empty" / "config.json", "w") as f:
    json.dump(_IMAGES_CONFIG, f)
  assert "no checkpoint in" in error(["--workdir", str(tmp_path / "empty")])
  _image_run(tmp_path / "run")
  assert "no checkpoint of step 99" in error(["--workdir", str(tmp_path / "run"), "--step", "99"])
  assert "--num must be >= 1" in error(["--workdir", str(tmp_path / "run"), "--num", "0"])
  with open(tmp_path / "run" / "config.json", "w") as f:
    json.dump({"model": {"name": "test_sample_imagez"}}, f)
  assert "Did you mean 'test_sample_images'?" in error(["--workdir", str(tmp_path / "run")])


def test_module_entry_point(tmp_path):
  proc = subprocess.run(
      [sys.executable, "-m", "jaxgen.sample", "--workdir", str(tmp_path / "missing")],
      capture_output=True, text=True, timeout=120,
  )
  assert proc.returncode == 2
  assert proc.stderr.strip() == f"jaxgen.sample: no workdir {tmp_path / 'missing'}: pass the --workdir of a training run"


def test_sampling_falls_back_from_a_corrupt_checkpoint(tmp_path, capsys):
  def objective(models, ctx):
    return jnp.mean((models["net"](ctx.batch["x"]) - ctx.batch["x"]) ** 2), {}

  train.run_training(
      workdir=tmp_path, config={"model": {"name": "test_sample_points"}}, models=_build_points(None, nnx.Rngs(0)),
      optimizers={"net": optax.sgd(0.1)}, updates=[train.Update("net", objective)],
      data={"x": np.random.default_rng(0).normal(size=(16, 2)).astype(np.float32)}, num_steps=4,
      batch_shape=(4,), seed=0, steps_per_call=2, checkpoint_every=2, progress=False,
  )
  for f in (tmp_path / "checkpoints" / "4" / "params").rglob("*"):
    if f.is_file() and f.parent.name == "d":  # orbax's array data files
      f.write_bytes(f.read_bytes()[:8])
  capsys.readouterr()
  assert sample.main(["--workdir", str(tmp_path), "--num", "8", "--out", str(tmp_path / "s.png")]) == 0
  err = capsys.readouterr().err
  assert "checkpoint 4 in" in err and "falling back to checkpoint 2" in err
  assert train.restore_models(tmp_path)[2] == 2
  # Asked for by step, the damaged one is an error of one line, not a fall back.
  assert sample.main(["--workdir", str(tmp_path), "--step", "4"]) == 2
  assert "is unreadable" in capsys.readouterr().err
