"""A run owns its workdir: one process at a time, one model family, one config (or a recorded change).

* :class:`WorkdirLock`: an exclusive ``fcntl`` lock on ``workdir/.lock``,
  held while the run lives. The kernel drops it when the process dies (even
  by SIGKILL), so a stale lock is taken over without asking; a live holder is
  named by its pid.
* :func:`check_config_change`: a workdir written by another model family is
  refused; resuming with a changed config is refused unless asked for, and
  then every config the run has had is kept in ``config_history.jsonl``.
* :func:`set_aside`: a run starting from step 0 in a workdir that already has
  a ``metrics.jsonl`` keeps the old file under a new name rather than
  emptying it.
"""

from __future__ import annotations

import datetime
import fcntl
import json
import os
import socket
from typing import Any

# Keys that may differ on resume without asking: they change how long the run goes, how it
# reports or how it is evaluated afterwards, not what it trains.
RESUMABLE_CHANGES = ("num_steps", "num_epochs", "num_trials", "data_dir", "steps_per_call", "checkpoint_every",
                     "checkpoint_every_minutes", "keep_checkpoints", "sample_every", "allow_config_change",
                     "num_devices")
RESUMABLE_SECTIONS = ("eval",)


class WorkdirInUseError(RuntimeError):
  """Another live process holds the workdir."""


class WorkdirLock:
  """Holds ``workdir/.lock`` exclusively; use as a context manager."""

  def __init__(self, workdir: str):
    self.path = os.path.join(workdir, ".lock")
    self._file = None

  def __enter__(self):
    f = open(self.path, "a+")
    try:
      fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      f.seek(0)
      holder = f.read().strip() or "an unknown process"
      f.close()
      raise WorkdirInUseError(
          f"workdir {os.path.dirname(self.path)} is in use by {holder}: wait for that run to end, "
          "stop it, or pass another --workdir"
      ) from None
    f.seek(0)
    f.truncate()
    f.write(f"pid {os.getpid()} on {socket.gethostname()} since {datetime.datetime.now().isoformat(timespec='seconds')}")
    f.flush()
    self._file = f
    return self

  def __exit__(self, *exc):
    if self._file is not None:
      self._file.truncate(0)
      fcntl.flock(self._file, fcntl.LOCK_UN)
      self._file.close()
      self._file = None


def _flat(tree: Any, prefix: str = "") -> dict[str, Any]:
  if isinstance(tree, dict):
    out = {}
    for k, v in tree.items():
      out.update(_flat(v, f"{prefix}{k}."))
    return out
  return {prefix[:-1]: tree}


def config_changes(old: dict, new: dict) -> list[str]:
  """Dotted keys whose values differ between two configs, resumable ones (and the eval section) excepted."""
  a, b = _flat(old or {}), _flat(new or {})
  return sorted(k for k in set(a) | set(b)
                if a.get(k) != b.get(k) and k.rsplit(".", 1)[-1] not in RESUMABLE_CHANGES
                and k.split(".", 1)[0] not in RESUMABLE_SECTIONS)


def check_config_change(workdir: str, config: dict, *, allow_change: bool) -> None:
  """Refuses a workdir of another family, and an unasked-for config change; records an allowed one.

  Args:
    workdir: the run's directory (its ``config.json`` is the config it was started with).
    config: the config of this invocation, as a JSON-able dict.
    allow_change: whether a changed config may resume the run (recorded in
      ``config_history.jsonl``, the old config kept).

  Raises:
    ValueError: another model family, or a changed config not allowed.
  """
  path = os.path.join(workdir, "config.json")
  if not os.path.exists(path):
    return
  try:
    with open(path) as f:
      old = json.load(f)
  except (json.JSONDecodeError, UnicodeDecodeError):
    raise ValueError(f"{path} is not valid JSON: restore it, or use a new --workdir") from None
  old_family = (old.get("model") or {}).get("name") if isinstance(old, dict) else None
  new_family = (config.get("model") or {}).get("name") if isinstance(config, dict) else None
  if old_family != new_family:
    raise ValueError(
        f"workdir {workdir} holds a run of model '{old_family}', not '{new_family}': use another --workdir")
  changed = config_changes(old, config)
  if not changed:
    return
  if not allow_change:
    shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
    raise ValueError(
        f"the config differs from the one workdir {workdir} was started with ({shown}): resume with the same "
        "config, use a new --workdir, or pass --config.allow_config_change=True to continue with the new one "
        "(the change is recorded in config_history.jsonl)")
  with open(os.path.join(workdir, "config_history.jsonl"), "a") as f:
    stamp = datetime.datetime.now().isoformat(timespec="seconds")
    if os.path.getsize(f.name) == 0:
      f.write(json.dumps({"time": None, "changed": [], "config": old}) + "\n")
    f.write(json.dumps({"time": stamp, "changed": changed, "config": config}) + "\n")


def config_to_dict(config: Any) -> Any:
  """A JSON-able copy of a ConfigDict, a dict or a dataclass."""
  if config is None:
    return None
  if hasattr(config, "to_json_best_effort"):
    return json.loads(config.to_json_best_effort())
  if hasattr(config, "to_dict"):
    return json.loads(json.dumps(config.to_dict(), default=repr))
  return json.loads(json.dumps(config, default=repr))


def claim_workdir(workdir: str | os.PathLike, config: Any, *, allow_config_change: bool = False) -> None:
  """Makes ``workdir`` this run's: checked against its ``config.json`` (:func:`check_config_change`), then written.

  ``run_training`` calls it; a program that keeps several runs under one
  folder (the trials of an experiment) calls it for the folder too, so that
  the folder of another model is never written into.
  """
  workdir = os.fspath(workdir)
  os.makedirs(workdir, exist_ok=True)
  config = config_to_dict(config)
  check_config_change(workdir, config, allow_change=allow_config_change)
  write_json(os.path.join(workdir, "config.json"), config)


def write_json(path: str, obj: Any) -> None:
  """Writes ``obj`` as JSON through a temporary file, so a crash never leaves half a file."""
  with open(path + ".tmp", "w") as f:
    json.dump(obj, f, indent=2)
    f.write("\n")
  os.replace(path + ".tmp", path)


def set_aside(path: str) -> str | None:
  """Renames ``path`` to ``path.<n>.old`` (the first free n) when it exists; returns the new name."""
  if not os.path.exists(path):
    return None
  n = 1
  while os.path.exists(f"{path}.{n}.old"):
    n += 1
  os.replace(path, f"{path}.{n}.old")
  return f"{path}.{n}.old"


def truncate_records(path: str, step: int) -> None:
  """Drops the JSON-lines records past ``step``: a resumed run redoes those steps and writes them again."""
  if not os.path.exists(path):
    return
  with open(path) as f:
    kept = [line for line in f if line.strip() and json.loads(line).get("step", 0) <= step]
  with open(path + ".tmp", "w") as f:
    f.writelines(kept)
  os.replace(path + ".tmp", path)
