"""Checkpoints: a train state (auxiliary state and typed key included) survives a save and restore bit for bit."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from jaxgen import train


class _Net(nnx.Module):
  def __init__(self, *, rngs: nnx.Rngs):
    self.hidden = nnx.Linear(3, 5, rngs=rngs)
    self.norm = nnx.BatchNorm(5, rngs=rngs)
    # A list of layers: integer keys in the state's paths.
    self.heads = nnx.List([nnx.Linear(5, 2, rngs=rngs), nnx.Linear(5, 1, rngs=rngs)])


def _state(seed, *, step=0):
  models = {"a": _Net(rngs=nnx.Rngs(seed)), "b": _Net(rngs=nnx.Rngs(seed + 1))}
  opts = {"a": optax.adam(1e-3), "b": optax.sgd(0.1, momentum=0.9)}
  aux = {"pool": {"images": jnp.zeros((4, 2, 2)), "count": jnp.zeros((), jnp.int32)}, "pl_mean": jnp.zeros(())}
  _, state = train.init_train_state(models, opts, jax.random.key(seed), ema_networks=("b",), aux=aux)
  # Make every part differ from a fresh state so a restore that kept the template would fail.
  rng = np.random.default_rng(seed)
  bump = lambda x: x + jnp.asarray(rng.normal(size=x.shape), x.dtype) if jnp.issubdtype(x.dtype, jnp.floating) else x
  return state.replace(
      step=jnp.asarray(step, jnp.int32),
      params=jax.tree.map(bump, state.params),
      rest=jax.tree.map(bump, state.rest),
      opt_state=jax.tree.map(bump, state.opt_state),
      ema=jax.tree.map(bump, state.ema),
      aux=jax.tree.map(bump, state.aux),
  )


def _save(directory, state, *, data_seed=None, keep=3):
  with train.CheckpointManager(directory, max_to_keep=keep) as mngr:
    return mngr.save(state, data_seed=data_seed)


def _restore(directory, template, *, step=None):
  with train.CheckpointManager(directory, max_to_keep=None, create=False) as mngr:
    return mngr.restore(template, step=step)


def _assert_equal(a, b):
  assert jax.tree.structure(a) == jax.tree.structure(b)
  jax.tree.map(np.testing.assert_array_equal, train.host_copy(a), train.host_copy(b))


def test_round_trip_is_exact_including_typed_key(tmp_path):
  state = _state(3, step=7)
  assert _save(tmp_path, state, data_seed=11) == 7
  restored = _restore(tmp_path, _state(20))
  _assert_equal(state, restored)
  assert jnp.issubdtype(restored.key.dtype, jax.dtypes.prng_key)
  # The restored key draws what the saved one drew.
  np.testing.assert_array_equal(jax.random.normal(restored.key, (3,)), jax.random.normal(state.key, (3,)))
  with train.CheckpointManager(tmp_path) as mngr:
    info = mngr.info()
  assert info["step"] == 7 and info["data_seed"] == 11 and info["ema_networks"] == ["b"]


def test_keeps_the_last_k_and_finds_the_latest(tmp_path):
  assert train.latest_step(tmp_path / "missing") is None
  with train.CheckpointManager(tmp_path, max_to_keep=2) as mngr:
    for step in (1, 2, 3):
      mngr.save(_state(0, step=step))
    assert mngr.all_steps() == [2, 3]
    # An interrupted save leaves a temporary directory, which is not a train.
    os.makedirs(tmp_path / "4.orbax-checkpoint-tmp-123")
    assert mngr.latest_step() == 3
  assert train.latest_step(tmp_path) == 3
  older = _restore(tmp_path, _state(9), step=2)
  _assert_equal(_state(0, step=2), older)


def test_restore_only_the_networks(tmp_path):
  state = _state(4, step=5)
  with train.CheckpointManager(tmp_path) as mngr:
    mngr.save(state)
    template = _state(8)
    parts = mngr.restore_items({"params": template.params, "rest": template.rest, "ema": template.ema})
  _assert_equal(state.params, parts["params"])
  _assert_equal(state.rest, parts["rest"])
  _assert_equal(state.ema, parts["ema"])


def test_missing_and_mismatched_checkpoints_are_one_line_errors(tmp_path):
  with pytest.raises(train.CheckpointNotFoundError, match="no checkpoint directory"):
    _restore(tmp_path / "nothing", _state(0))
  os.makedirs(tmp_path / "empty")
  with pytest.raises(train.CheckpointNotFoundError, match="no checkpoint in"):
    _restore(tmp_path / "empty", _state(0))
  _save(tmp_path / "ck", _state(0, step=1))
  with pytest.raises(train.CheckpointNotFoundError, match=r"no checkpoint of step 5 .*available steps: \[1\]"):
    _restore(tmp_path / "ck", _state(0), step=5)
  # A different model (a wider layer) does not fit the train.
  other = {"a": nnx.Linear(3, 7, rngs=nnx.Rngs(0)), "b": _Net(rngs=nnx.Rngs(1))}
  _, wrong = train.init_train_state(other, {"a": optax.adam(1e-3), "b": optax.sgd(0.1, momentum=0.9)},
                                    jax.random.key(0), ema_networks=("b",))
  with pytest.raises(ValueError, match="does not match the model being built") as info:
    _restore(tmp_path / "ck", wrong)
  assert "\n" not in str(info.value)
