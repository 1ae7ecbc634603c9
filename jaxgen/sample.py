"""Samples from a saved run, without the dataset or the training code.

    python -m jaxgen.sample --workdir RUN [--num 64] [--seed S] [--out grid.png]
        [--step N] [--no_ema] [--batch_size 256] [--save_npy samples.npy] [--label Y]
        [--truncation T] [--psi PSI] [--style_mixing N [--cutoff K]] [--caption TEXT ...]

The networks are restored by :func:`jaxgen.train.restore_models` (rebuilt
from ``RUN/config.json`` through the model registry, with their parameters,
other state and EMA weights read from the checkpoint). Samples are drawn
``--batch_size`` at a time with the family's registered ``sample`` function;
images (N, H, W, C) go to a PNG grid, 2-D points to a scatter plot, 1-D
points (N, 1) (e.g. ``gan_1d``) to a histogram. A conditional run (its
config has ``model.num_classes``) draws ``--label`` only, or by default a
grid with one row per class. ``--truncation T`` samples with the truncation
trick where the family has one (BigGAN: latent entries redrawn into
[-T, T]; StyleGAN2: ``--psi``). ``--style_mixing N`` draws StyleGAN2's
style-mixing figure instead: N images A down the left, N images B along the
top, and in cell (i, j) A_i's first ``--cutoff`` ws (default 4: the 4x4 and
8x8 layers) with B_j's others. ``--caption TEXT`` (repeatable) draws a
text-to-image run (StackGAN) from captions, one row per caption. With
``--save_npy`` every sample is written to a memory-mapped ``.npy``, so a large
``--num`` needs memory for one batch and the grid only.
"""

from __future__ import annotations

import argparse
import inspect
import math
import os
import sys

import jax
import numpy as np
from flax import nnx

from jaxgen import models as models_lib
from jaxgen import plot
from jaxgen.models import stylegan2
from jaxgen.train import RunNotFoundError, restore_models


class SampleError(ValueError):
  """A run cannot be sampled from (its family registered no sampler, or bad arguments)."""


def draw_samples(
    models: dict[str, nnx.Module],
    config,
    *,
    num: int,
    key: jax.Array,
    batch_size: int = 256,
    out: np.ndarray | None = None,
    keep: int | None = None,
    labels: np.ndarray | None = None,
    truncation: float | None = None,
    truncation_psi: float | None = None,
    captions: list[str] | None = None,
) -> np.ndarray:
  """Draws ``num`` samples ``batch_size`` at a time with the registered ``sample`` function.

  Batch ``i`` uses ``fold_in(key, i)``. Samples go to ``out`` (e.g. a
  memory-mapped array) when given; the first ``keep`` (default all) are
  returned. ``labels`` ``(num,)``: the class of each sample, for a
  conditional family (its ``sample`` takes ``labels=``). ``truncation``: the
  truncation trick at sampling time, for a family whose ``sample`` takes
  ``truncation=`` (BigGAN: latents redrawn into [-t, t]); ``truncation_psi``:
  StyleGAN's, w pulled toward its running mean (1: none). ``captions``
  ``(num,)`` strings: the text of each sample, for a family whose ``sample``
  takes ``captions=`` (StackGAN).
  """
  if num < 1:
    raise ValueError(f"--num must be >= 1, got {num}")
  if batch_size < 1:
    raise ValueError(f"--batch_size must be >= 1, got {batch_size}")
  spec = models_lib.get_model_spec(config.model.name)
  if spec.sample is None:
    if spec.translate is not None:
      raise SampleError(f"model '{spec.name}' translates images rather than sampling them: use python -m jaxgen.translate "
                  "--workdir RUN --input FOLDER --out DIR (its experiment measures the translations)")
    raise SampleError(f"model '{spec.name}' registered no sample function: it cannot be sampled from")
  accepted = inspect.signature(spec.sample).parameters
  for flag, name, value in (("--truncation", "truncation", truncation), ("--psi", "truncation_psi", truncation_psi)):
    if value is not None and name not in accepted:
      raise SampleError(f"{flag}: model '{spec.name}' has no such truncation (its sample() takes no {name})")
  if captions is not None:
    if "captions" not in accepted:
      raise SampleError(f"--caption: model '{spec.name}' is not drawn from text (its sample() takes no captions)")
    if len(captions) != num:
      raise SampleError(f"{len(captions)} captions given for {num} samples")
  keep = num if keep is None else min(keep, num)
  kept = []
  done = 0
  for i in range(math.ceil(num / batch_size)):
    n = min(batch_size, num - done)
    kwargs = {} if labels is None else {"labels": np.asarray(labels[done:done + n])}
    if truncation is not None:
      kwargs["truncation"] = truncation
    if truncation_psi is not None:
      kwargs["truncation_psi"] = truncation_psi
    if captions is not None:
      kwargs["captions"] = list(captions[done:done + n])
    batch = np.asarray(spec.sample(models, jax.random.fold_in(key, i), n, config, **kwargs))
    if batch.shape[0] != n:
      raise SampleError(f"sample() of '{spec.name}' returned {batch.shape[0]} samples, {n} asked")
    if out is not None:
      out[done : done + n] = batch
    if done < keep:
      kept.append(batch[: keep - done])
    done += n
  return np.concatenate(kept)


def class_labels(config, num: int, label: int | None) -> tuple[np.ndarray | None, int | None]:
  """Labels of ``num`` samples of a conditional run, and the grid's columns.

  ``label`` given: every sample of that class. Otherwise one row per class
  (``num // num_classes`` samples each, at least one). Unconditional runs:
  ``(None, None)``; a label for one is an error.
  """
  num_classes = config.model.get("num_classes")
  if num_classes is None:
    if label is not None:
      raise SampleError(f"--label: model '{config.model.name}' is not conditional (its config has no num_classes)")
    return None, None
  if label is not None:
    if not 0 <= label < num_classes:
      raise SampleError(f"--label must be in [0, {num_classes}), got {label}")
    return np.full(num, label, np.int32), None
  per_class = max(1, num // num_classes)
  return np.repeat(np.arange(num_classes, dtype=np.int32), per_class)[:num], per_class


def save_samples_figure(path: str, samples: np.ndarray, *, title: str = "", ncol: int | None = None) -> str:
  """A PNG grid for images (N, H, W, C), a scatter plot for points (N, 2), a histogram for points (N, 1) or (N,)."""
  if samples.ndim == 4:
    ncol = ncol or math.ceil(math.sqrt(len(samples)))
    return plot.save_image_grid(path, np.clip(samples, 0.0, 1.0), ncol=ncol)
  if samples.ndim == 2 and samples.shape[1] == 2:
    return plot.save_scatter(path, {"samples": samples}, title=title)
  if samples.ndim == 1 or (samples.ndim == 2 and samples.shape[1] == 1):
    return plot.save_histogram(path, {"samples": samples}, title=title)
  raise SampleError(
      f"samples of shape {samples.shape} are neither images (N, H, W, C) nor points (N, 2) or (N, 1): use --save_npy"
  )


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(prog="python -m jaxgen.sample", description=__doc__.split("\n\n")[0])
  parser.add_argument("--workdir", required=True, help="directory of a training run")
  parser.add_argument("--num", type=int, default=64, help="number of samples")
  parser.add_argument("--seed", type=int, default=0, help="seed of the samples")
  parser.add_argument("--out", default=None, help="PNG path (default WORKDIR/samples_step<N>.png)")
  parser.add_argument("--step", type=int, default=None, help="checkpoint step (default the latest)")
  parser.add_argument("--no_ema", action="store_true", help="use the raw parameters, not their EMA")
  parser.add_argument("--batch_size", type=int, default=256, help="samples drawn per call")
  parser.add_argument("--max_grid", type=int, default=1024, help="at most this many samples in the figure")
  parser.add_argument("--save_npy", default=None, help="also write all samples to this .npy file")
  parser.add_argument("--label", type=int, default=None,
                      help="class of every sample (conditional runs; default one row per class)")
  parser.add_argument("--truncation", type=float, default=None,
                      help="truncation trick: latent entries redrawn into [-T, T] (BigGAN; default none)")
  parser.add_argument("--psi", type=float, default=None,
                      help="truncation psi: w pulled toward its mean, 1 = none (StyleGAN2)")
  parser.add_argument("--caption", action="append", default=None, metavar="TEXT",
                      help="text-to-image runs (StackGAN): draw from this caption, one row of --num per caption "
                           "(repeat the flag for more rows)")
  parser.add_argument("--style_mixing", type=int, default=None, metavar="N",
                      help="StyleGAN2: an N x N style-mixing grid (coarse styles from the rows, fine from the columns)")
  parser.add_argument("--cutoff", type=int, default=None,
                      help="with --style_mixing: ws taken from the row image (default 4: the 4x4 and 8x8 layers)")
  args = parser.parse_args(argv)
  try:
    if args.style_mixing is not None:
      return _style_mixing(args)
    if args.num < 1:
      raise SampleError(f"--num must be >= 1, got {args.num}")
    if args.batch_size < 1 or args.max_grid < 1:
      raise SampleError("--batch_size and --max_grid must be >= 1")
    models, config, step = restore_models(args.workdir, step=args.step, use_ema=not args.no_ema)
    labels, ncol = class_labels(config, args.num, args.label)
    num = args.num if labels is None else len(labels)
    captions = None
    if args.caption:
      captions = [text for text in args.caption for _ in range(args.num)]
      num, ncol = len(captions), args.num
    key = jax.random.key(args.seed)
    out = None
    if args.save_npy:
      # Shape and dtype from one sample, then every batch written straight to disk.
      probe = draw_samples(models, config, num=1, key=jax.random.key(0), batch_size=1,
                           labels=None if labels is None else labels[:1], truncation=args.truncation,
                           truncation_psi=args.psi, captions=None if captions is None else captions[:1])
      out = np.lib.format.open_memmap(args.save_npy, mode="w+", dtype=probe.dtype, shape=(num, *probe.shape[1:]))
    grid = draw_samples(models, config, num=num, key=key, batch_size=args.batch_size, out=out, keep=args.max_grid,
                        labels=labels, truncation=args.truncation, truncation_psi=args.psi, captions=captions)
    if out is not None:
      out.flush()
      del out
    path = args.out or os.path.join(args.workdir, f"samples_step{step}.png")
    save_samples_figure(path, grid, title=f"{config.model.name}, step {step}", ncol=ncol)
  except (SampleError, RunNotFoundError, ValueError) as e:
    print(f"jaxgen.sample: {e}", file=sys.stderr)
    return 2
  print(f"wrote {path}" + (f" and {args.save_npy}" if args.save_npy else ""))
  return 0


def _style_mixing(args) -> int:
  """The --style_mixing figure (StyleGAN2 only)."""
  if args.style_mixing < 1:
    raise SampleError(f"--style_mixing must be >= 1, got {args.style_mixing}")
  models, config, step = restore_models(args.workdir, step=args.step, use_ema=not args.no_ema)
  if config.model.name != "stylegan2":
    raise SampleError(f"--style_mixing: model '{config.model.name}' has no styles (StyleGAN2 runs only)")
  n = args.style_mixing
  grid = stylegan2.style_mixing_grid(models, jax.random.key(args.seed), config, rows=n, columns=n, cutoff=args.cutoff)
  path = args.out or os.path.join(args.workdir, f"style_mixing_step{step}.png")
  plot.save_image_grid(path, grid, ncol=n + 1, scale=plot.grid_scale(grid.shape[1:]))
  print(f"wrote {path}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
