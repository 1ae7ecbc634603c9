"""Re-ages digits with a trained Age-cGAN: thinner or bolder strokes, the same digit.

    python -m jaxgen.reage --workdir EXPERIMENT --input FOLDER_OR_NPY --out OUT_DIR
        [--groups 0,4] [--method pixelwise|encoder] [--steps 300] [--learning_rate 0.05]

``EXPERIMENT`` is the workdir of ``experiments/age_cgan`` (its ``encoder/``
run holds G and E; its ``age_groups.json`` the thickness edges of the
groups). Each input's own group y0 is its measured stroke thickness's
(``jaxgen.data.stroke_thickness``); z0 = E(x), refined by pixel-wise
latent optimisation (``--method pixelwise``, the default; ``encoder`` keeps
z0), then G(z*, y) for every group of ``--groups`` (default all). The
identity-preserving optimisation needs the experiment's identity network and
runs inside the experiment. ``--input`` is a folder of images (resized to the
run's size) or a ``.npy`` / ``.npz`` of (N, H, W, C) in [0, 1]. Outputs:
``OUT_DIR/reaged.npy`` (N, groups, H, W, C) and ``OUT_DIR/grid.png`` (a row
per input: the input, then each group).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import jax.numpy as jnp
import numpy as np
from flax import nnx

from jaxgen import data, plot
from jaxgen.experiment._age_cgan import GROUPS_FILE, encode, invert
from jaxgen.models import age_cgan
from jaxgen.train import RunNotFoundError, restore_models
from jaxgen.translate import TranslateError, load_inputs


def _groups(text: str | None, num_groups: int) -> list[int]:
  if text is None:
    return list(range(num_groups))
  try:
    groups = [int(g) for g in text.split(",") if g.strip()]
  except ValueError:
    raise ValueError(f"--groups must be comma-separated integers in [0, {num_groups}), got {text!r}") from None
  if not groups or min(groups) < 0 or max(groups) >= num_groups:
    raise ValueError(f"--groups must be integers in [0, {num_groups}), got {text!r}")
  return groups


def _edges(workdir: str) -> np.ndarray:
  path = os.path.join(workdir, GROUPS_FILE)
  if not os.path.exists(path):
    raise RunNotFoundError(f"no {GROUPS_FILE} in {workdir}: pass the workdir of experiments/age_cgan")
  with open(path) as f:
    return np.asarray(json.load(f)["thickness_edges"])


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(prog="python -m jaxgen.reage", description=__doc__.split("\n\n")[0])
  parser.add_argument("--workdir", required=True, help="workdir of experiments/age_cgan")
  parser.add_argument("--input", required=True, help="a folder of images, or a .npy/.npz of (N, H, W, C) in [0, 1]")
  parser.add_argument("--out", required=True, help="output folder")
  parser.add_argument("--groups", default=None, help="target groups, e.g. 0,4 (default every group)")
  parser.add_argument("--method", default="pixelwise", choices=("pixelwise", "encoder"), help="how z is found")
  parser.add_argument("--steps", type=int, default=300, help="latent optimisation steps (pixelwise)")
  parser.add_argument("--learning_rate", type=float, default=0.05, help="Adam's step size on z")
  args = parser.parse_args(argv)
  try:
    edges = _edges(args.workdir)
    models, config, step = restore_models(os.path.join(args.workdir, "encoder"), use_ema=False)
    groups = _groups(args.groups, len(edges) - 1)
    x, _ = load_inputs(args.input, tuple(config.model.image_shape))
    thickness = data.stroke_thickness(x)
    if not np.all(np.isfinite(thickness)):
      raise ValueError(f"input {int(np.argmin(np.isfinite(thickness)))} has no ink: nothing to re-age")
    y0 = data.bin_of(thickness, edges)
    z = encode(models["encoder"], x)
    if args.method == "pixelwise":
      z, _ = invert("pixelwise", models["generator"], x, y0, z, steps=args.steps, learning_rate=args.learning_rate)
    generate = nnx.jit(lambda g, z, y: age_cgan.to_unit_range(g(z, y, train=False)))
    reaged = np.stack([np.clip(np.asarray(generate(models["generator"], jnp.asarray(z), jnp.full(len(x), g, jnp.int32))),
                               0.0, 1.0) for g in groups], axis=1)
    os.makedirs(args.out, exist_ok=True)
    np.save(os.path.join(args.out, "reaged.npy"), reaged)
    n = min(16, len(x))
    grid = np.concatenate([x[:n, None], reaged[:n]], axis=1).reshape(-1, *x.shape[1:])
    plot.save_image_grid(os.path.join(args.out, "grid.png"), grid, ncol=1 + len(groups),
                         scale=plot.grid_scale(x.shape[1:]))
  except (TranslateError, RunNotFoundError, data.DatasetNotFoundError, ValueError) as e:
    print(f"jaxgen.reage: {' '.join(str(e).split())}", file=sys.stderr)
    return 2
  print(f"re-aged {len(x)} images (groups {y0.tolist()[:8]}{'...' if len(x) > 8 else ''}) to groups {groups} with "
        f"{args.method} z (encoder run, step {step}) into {args.out}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
