"""Evaluation time against training time, for finished experiment runs.

Run (from the repository root), after training the runs with their
experiments' own commands::

  python -m benchmarks.eval_vs_train --workdirs /tmp/vae_bmnist /tmp/conv_vae_bmnist /tmp/dcgan_mnist \\
      --cache_dir /tmp/jaxgen_classifiers --out results.json

For each run it reads the training time from ``metrics.jsonl`` (the sum of
the wall time of every dispatched chunk of steps, first compilation included,
checkpoint writes and pictures left out) and takes the evaluation time:

* VAEs: ``results.json``'s ``eval_seconds``, which the experiment measured
  when it evaluated the test ELBO and the k-importance-sample NLL (the run's
  own ``config.eval`` sets k and the number of test images);
* GANs (and any run without its own evaluation): ``python -m jaxgen.evaluate``
  on the run, timed here (``--num`` samples; the feature network must already
  be cached in ``--cache_dir``, or its one-off training would be counted).

It prints one row per run (training seconds, evaluation seconds, their ratio)
and writes them as JSON (``--out``) with the machine and the date. A ratio
above 1 means the evaluation took longer than the training.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time


def _read_jsonl(path: str) -> list[dict]:
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]


def train_seconds(workdir: str) -> tuple[float, int]:
  """Wall seconds of the run's dispatched training chunks, and the last step, from ``metrics.jsonl``."""
  path = os.path.join(workdir, "metrics.jsonl")
  if not os.path.exists(path):
    raise ValueError(f"{workdir} has no metrics.jsonl: is it a finished training run?")
  records = [r for r in _read_jsonl(path) if "seconds" in r and "step" in r]
  if not records:
    raise ValueError(f"{path} records no training chunks")
  return float(sum(r["seconds"] for r in records)), int(records[-1]["step"])


def eval_seconds(workdir: str, *, num: int, cache_dir: str) -> tuple[float, str]:
  """The run's own evaluation time (VAE ``results.json``), else ``jaxgen.evaluate``'s, timed here."""
  results = os.path.join(workdir, "results.json")
  if os.path.exists(results):
    with open(results) as f:
      record = json.load(f)
    if "eval_seconds" in record:
      what = (f"test ELBO + IWAE k={record.get('iwae_num_samples')} on {record.get('iwae_num_examples')} "
              "test images")
      return float(record["eval_seconds"]), what
  from jaxgen import evaluate

  t0 = time.perf_counter()
  record = evaluate.evaluate_run(workdir, num=num, cache_dir=cache_dir, progress=False)
  return time.perf_counter() - t0, f"jaxgen.evaluate, {record['num_samples']} samples (FID {record['samples']['fid']:.1f})"


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(prog="python -m benchmarks.eval_vs_train", description=__doc__.split("\n\n")[0])
  parser.add_argument("--workdirs", nargs="+", required=True, help="finished experiment runs")
  parser.add_argument("--num", type=int, default=10_000, help="samples for jaxgen.evaluate")
  parser.add_argument("--cache_dir", default=None, help="feature-network cache of jaxgen.evaluate")
  parser.add_argument("--out", default=None, help="write the rows as JSON here")
  args = parser.parse_args(argv)
  from jaxgen import evaluate

  cache_dir = args.cache_dir or evaluate.DEFAULT_CACHE_DIR
  rows = []
  try:
    for workdir in args.workdirs:
      with open(os.path.join(workdir, "config.json")) as f:
        config = json.load(f)
      t_train, steps = train_seconds(workdir)
      t_eval, what = eval_seconds(workdir, num=args.num, cache_dir=cache_dir)
      rows.append({"workdir": workdir, "model": config["model"]["name"], "dataset": config["data"]["name"],
                   "steps": steps, "train_seconds": t_train, "eval_seconds": t_eval, "eval": what,
                   "eval_over_train": t_eval / t_train})
  except (ValueError, OSError) as e:
    print(f"eval_vs_train: {' '.join(str(e).split())}", file=sys.stderr)
    return 2
  print(f"{'run':<40}{'train s':>10}{'eval s':>10}{'ratio':>8}  evaluation")
  for r in rows:
    name = f"{r['model']}:{r['dataset']} ({r['steps']} steps)"
    print(f"{name:<40}{r['train_seconds']:>10.0f}{r['eval_seconds']:>10.0f}{r['eval_over_train']:>8.2f}  {r['eval']}")
  if args.out:
    import jax

    with open(args.out, "w") as f:
      json.dump({"date": datetime.date.today().isoformat(), "machine": platform.processor() or platform.machine(),
                 "cpu_count": os.cpu_count(), "backend": jax.default_backend(), "rows": rows}, f, indent=1)
  return 0


if __name__ == "__main__":
  sys.exit(main())
