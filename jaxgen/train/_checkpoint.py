"""Checkpoints of a :class:`~jaxgen.train.TrainState` with orbax-checkpoint.

A checkpoint is one orbax step directory (written to a temporary name and
renamed when complete, so a killed save never leaves a half checkpoint) holding
separate items, so that sampling can restore the networks without the
optimizer:

* ``params``, ``rest``, ``opt_state``, ``ema``, ``aux``: the state's pytrees
  as nested dicts with string keys (NNX ``State``, optax states and the
  auxiliary pytree flattened by path, one rule for all of them; empty parts
  are not written);
* ``key``: the run's typed PRNG key, through orbax's own handler for JAX keys;
* ``meta``: the step;
* ``info``: JSON with the step, the data-order seed, the key implementation,
  which networks keep an EMA, the shape and dtype of every array (so a
  checkpoint of another model is told apart from a damaged one) and a CRC-32
  of every array's bytes, checked on restore: a truncated or bit-flipped file
  is reported as corrupt, and :meth:`CheckpointManager.restore_newest_intact`
  falls back to the newest checkpoint that is intact.

Restoring needs a template state of the same structure (a freshly
initialized one): the template gives the tree structure, shapes, dtypes and
shardings, the checkpoint gives the values.
"""

from __future__ import annotations

import logging
import os
import zlib
from collections.abc import Iterable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from jaxgen.train._state import TrainState

_TREE_ITEMS = ("params", "rest", "opt_state", "ema", "aux")

# orbax reports every save and restore at INFO through absl logging.
for _name in ("absl", "orbax", "orbax.checkpoint"):
  logging.getLogger(_name).setLevel(logging.WARNING)


class _QuietKeyHandler(logging.Filter):
  """Drops the warning orbax's JAX-key handler logs at every save of a single-process run."""

  def filter(self, record):
    return "Skipping merge of OCDBT checkpoints" not in record.getMessage()


logging.getLogger("absl").addFilter(_QuietKeyHandler())


class CheckpointNotFoundError(FileNotFoundError):
  """There is no checkpoint where one was asked for."""


class CorruptCheckpointError(ValueError):
  """A checkpoint's files are unreadable or its arrays fail their checksums."""


def _is_key(x) -> bool:
  return isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jax.dtypes.prng_key)


def _path_names(path) -> tuple[str, ...]:
  names = []
  for entry in path:
    for attr in ("key", "name", "idx"):
      if hasattr(entry, attr):
        names.append(str(getattr(entry, attr)))
        break
    else:
      names.append(str(entry))
  return tuple(names)


def _to_nested(tree) -> dict[str, Any]:
  """A pytree as a nested dict of arrays keyed by the string path of each leaf."""
  out: dict[str, Any] = {}
  for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
    if _is_key(leaf):
      raise ValueError("typed PRNG keys are only supported as the state's key; store key_data elsewhere")
    node = out
    names = _path_names(path)
    for name in names[:-1]:
      node = node.setdefault(name, {})
    if names[-1] in node:
      raise ValueError(f"two leaves share the checkpoint path {'/'.join(names)}")
    node[names[-1]] = leaf
  return out


def _from_nested(template, nested: dict[str, Any]):
  """The values of ``nested`` put back into the structure of ``template``."""
  leaves_with_paths, treedef = jax.tree_util.tree_flatten_with_path(template)
  leaves = []
  for path, _ in leaves_with_paths:
    node = nested
    for name in _path_names(path):
      node = node[name]
    leaves.append(node)
  return jax.tree_util.tree_unflatten(treedef, leaves)


def _abstract(tree):
  return jax.tree.map(ocp.utils.to_shape_dtype_struct, tree)


def _nested_items(state: TrainState) -> dict[str, dict[str, Any]]:
  items = {name: _to_nested(getattr(state, name)) for name in _TREE_ITEMS}
  return {name: tree for name, tree in items.items() if tree}


def _meta(state: TrainState) -> dict[str, jax.Array]:
  return {"step": jnp.asarray(state.step)}


def _leaves(nested: dict[str, Any]):
  return jax.tree_util.tree_flatten_with_path(nested)[0]


def _signature(nested: dict[str, Any]) -> dict[str, str]:
  """path -> "dtype[shape]" of every array of a nested item."""
  return {jax.tree_util.keystr(p): f"{np.dtype(x.dtype).name}{list(np.shape(x))}" for p, x in _leaves(nested)}


def _checksums(nested: dict[str, Any]) -> dict[str, int]:
  """path -> CRC-32 of the array's bytes (C order)."""
  return {jax.tree_util.keystr(p): zlib.crc32(np.ascontiguousarray(jax.device_get(x)).tobytes())
          for p, x in _leaves(nested)}


class CheckpointManager:
  """Synchronous orbax checkpoints of a train state in ``directory``, the last ``max_to_keep`` kept.

  Example:
    >>> mngr = CheckpointManager(workdir + "/checkpoints", max_to_keep=3)  # doctest: +SKIP
    >>> mngr.save(state, data_seed=0)  # doctest: +SKIP
    >>> state = mngr.restore(template_state)  # doctest: +SKIP
  """

  def __init__(self, directory: str | os.PathLike, *, max_to_keep: int | None = 3, create: bool = True):
    if max_to_keep is not None and max_to_keep < 1:
      raise ValueError(f"keep_checkpoints must be >= 1 (or None to keep all), got {max_to_keep}")
    self.directory = os.path.abspath(os.fspath(directory))
    if not create and not os.path.isdir(self.directory):
      raise CheckpointNotFoundError(f"no checkpoint directory {self.directory}")
    options = ocp.CheckpointManagerOptions(
        max_to_keep=max_to_keep,
        create=create,
        # Synchronous: a save is complete (and renamed into place) when save() returns.
        enable_async_checkpointing=False,
    )
    self._manager = ocp.CheckpointManager(self.directory, options=options)

  def latest_step(self) -> int | None:
    """The step of the newest complete checkpoint, or None."""
    self._manager.reload()
    return self._manager.latest_step()

  def all_steps(self) -> list[int]:
    self._manager.reload()
    return sorted(self._manager.all_steps())

  def save(self, state: TrainState, *, data_seed: int | None = None) -> int:
    """Saves ``state`` under its step and waits until it is on disk; returns the step."""
    step = int(state.step)
    if step in self.all_steps():
      # Saving the same step again (a resumed run that stops before its next save) is a no-op.
      return step
    nested = _nested_items(state)
    items = {name: ocp.args.StandardSave(tree) for name, tree in nested.items()}
    items["meta"] = ocp.args.StandardSave(_meta(state))
    items["key"] = ocp.args.JaxRandomKeySave(state.key)
    info = {
        "step": step,
        "data_seed": None if data_seed is None else int(data_seed),
        "key_impl": str(jax.random.key_impl(state.key)),
        "items": sorted(items),
        # Which networks keep an EMA, so that sampling can restore it without the training code.
        "ema_networks": sorted(state.ema),
        "signature": {name: _signature(tree) for name, tree in nested.items()},
        "checksums": {name: _checksums(tree) for name, tree in nested.items()},
    }
    items["info"] = ocp.args.JsonSave(info)
    # force: the manager's own save interval policy is not used; the caller decides when.
    self._manager.save(step, args=ocp.args.Composite(**items), force=True)
    self._manager.wait_until_finished()
    return step

  def _step_or_latest(self, step: int | None) -> int:
    steps = self.all_steps()
    if not steps:
      raise CheckpointNotFoundError(f"no checkpoint in {self.directory}")
    if step is None:
      return steps[-1]
    if step not in steps:
      raise CheckpointNotFoundError(
          f"no checkpoint of step {step} in {self.directory}; available steps: {steps}"
      )
    return step

  def info(self, step: int | None = None) -> dict[str, Any]:
    """The JSON record of a checkpoint (step, data_seed, key_impl, items, ema_networks)."""
    step = self._step_or_latest(step)
    try:
      info = self._manager.restore(step, args=ocp.args.Composite(info=ocp.args.JsonRestore()))["info"]
    except Exception as e:  # noqa: BLE001 - orbax raises many kinds for a damaged file
      raise CorruptCheckpointError(f"checkpoint {step} in {self.directory} has an unreadable info record "
                                   f"({type(e).__name__})") from e
    if not isinstance(info, dict) or "step" not in info:
      raise CorruptCheckpointError(f"checkpoint {step} in {self.directory} has an unreadable info record")
    return info

  def _read(self, step: int, nested: dict[str, dict[str, Any]], extra: dict[str, Any] | None = None):
    """Reads items ``nested`` (and ``extra`` args) of ``step``: a mismatch or damage raises in one line."""
    info = self.info(step)
    saved = info.get("signature")
    if saved is not None:
      for name, tree in nested.items():
        if saved.get(name) != _signature(tree):
          raise ValueError(
              f"checkpoint {step} in {self.directory} does not match the model being built ({name} differs): "
              "use the config the run was started with, or a new workdir."
          )
    args = {name: ocp.args.StandardRestore(_abstract(tree)) for name, tree in nested.items()}
    args.update(extra or {})
    try:
      restored = self._manager.restore(step, args=ocp.args.Composite(**args))
    except Exception as e:  # noqa: BLE001 - TensorStore and orbax raise many kinds for damaged files
      if saved is None:  # a checkpoint without a signature: a mismatch is as likely as damage
        raise ValueError(f"checkpoint {step} in {self.directory} cannot be read into the model being built "
                         f"({type(e).__name__}): use the run's config, or a new workdir.") from e
      raise CorruptCheckpointError(
          f"checkpoint {step} in {self.directory} is unreadable ({type(e).__name__}: "
          f"{str(e).splitlines()[0][:120] if str(e) else ''})") from e
    sums = info.get("checksums") or {}
    for name in nested:
      if name in sums and _checksums(restored[name]) != sums[name]:
        bad = sorted(k for k, v in _checksums(restored[name]).items() if sums[name].get(k) != v)
        raise CorruptCheckpointError(
            f"checkpoint {step} in {self.directory} is corrupt: {name}{bad[0]} fails its checksum"
            + (f" (and {len(bad) - 1} more arrays)" if len(bad) > 1 else ""))
    return restored

  def restore(self, template: TrainState, *, step: int | None = None) -> TrainState:
    """The state of checkpoint ``step`` (default: the latest), shaped like ``template``."""
    step = self._step_or_latest(step)
    nested = _nested_items(template)
    # The key goes where the template's key is (one device; DataParallel replicates it after).
    key_sharding = getattr(template.key, "sharding", None) or jax.sharding.SingleDeviceSharding(jax.devices()[0])
    extra = {"meta": ocp.args.StandardRestore(_abstract(_meta(template))),
             "key": ocp.args.JaxRandomKeyRestore(ocp.ArrayRestoreArgs(sharding=key_sharding))}
    restored = self._read(step, nested, extra)
    parts = {name: _from_nested(getattr(template, name), restored[name]) for name in nested}
    key = restored["key"]
    if jax.random.key_impl(key) != jax.random.key_impl(template.key):
      raise ValueError(
          f"checkpoint {step} in {self.directory} holds a {jax.random.key_impl(key)} key, the run uses "
          f"{jax.random.key_impl(template.key)}: resume with the PRNG implementation the run started with"
      )
    return template.replace(step=jnp.asarray(restored["meta"]["step"], template.step.dtype), key=key, **parts)

  def restore_items(self, templates: dict[str, Any], *, step: int | None = None) -> dict[str, Any]:
    """Restores only some parts (e.g. ``{"params": ..., "ema": ...}``), each shaped like its template.

    Parts whose template is empty are returned as given (they were not written).
    """
    step = self._step_or_latest(step)
    unknown = set(templates) - set(_TREE_ITEMS)
    if unknown:
      raise ValueError(f"unknown checkpoint parts {sorted(unknown)}; parts: {', '.join(_TREE_ITEMS)}")
    nested = {name: _to_nested(tree) for name, tree in templates.items()}
    wanted = {name: tree for name, tree in nested.items() if tree}
    if not wanted:
      return dict(templates)
    restored = self._read(step, wanted)
    out = dict(templates)
    for name in wanted:
      out[name] = _from_nested(templates[name], restored[name])
    return out

  def newest_intact(self, read, *, max_step: int | None = None, log=print):
    """``read(step)`` of the newest checkpoint it succeeds on, skipping corrupt ones (saying so).

    Args:
      read: ``read(step) -> value``, e.g. ``lambda s: self.restore(template, step=s)``;
        it raises :class:`CorruptCheckpointError` for a damaged checkpoint.
      max_step: ignore checkpoints past this step.
      log: where the one-line notes about skipped checkpoints go.

    Returns:
      ``(step, value)``.

    Raises:
      CheckpointNotFoundError: no checkpoint at all (or none up to ``max_step``).
      CorruptCheckpointError: every checkpoint is corrupt.
    """
    steps = [s for s in self.all_steps() if max_step is None or s <= max_step]
    if not steps:
      raise CheckpointNotFoundError(f"no checkpoint in {self.directory}")
    errors = []
    for step in reversed(steps):
      try:
        value = read(step)
      except CorruptCheckpointError as e:
        errors.append(str(e))
        older = [s for s in steps if s < step]
        log(f"{e}; " + (f"falling back to checkpoint {older[-1]}." if older else "no older checkpoint is left."))
        continue
      return step, value
    raise CorruptCheckpointError(f"every checkpoint in {self.directory} is corrupt (steps {steps}): "
                                 "start a new run in another workdir")

  def close(self) -> None:
    self._manager.wait_until_finished()
    self._manager.close()

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()


def latest_step(directory: str | os.PathLike) -> int | None:
  """The newest complete checkpoint step in ``directory``, or None (also when it does not exist)."""
  if not os.path.isdir(directory):
    return None
  with CheckpointManager(directory, max_to_keep=None, create=False) as mngr:
    return mngr.latest_step()


def checkpoint_steps(directory: str | os.PathLike) -> Iterable[int]:
  """All complete checkpoint steps in ``directory`` (empty when it does not exist)."""
  if not os.path.isdir(directory):
    return []
  with CheckpointManager(directory, max_to_keep=None, create=False) as mngr:
    return mngr.all_steps()


def host_copy(tree):
  """A numpy copy of a pytree (typed keys as their key data), for comparisons in tests and tools."""
  return jax.tree.map(lambda x: np.asarray(jax.random.key_data(x) if _is_key(x) else x), tree)
