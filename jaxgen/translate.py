"""Translates images with a saved image-to-image run (Pix2pix, CycleGAN), without its training data.

    python -m jaxgen.translate --workdir RUN --input FOLDER_OR_NPY --out OUT_DIR
        [--direction AtoB|BtoA] [--step N] [--train_mode] [--seed S] [--batch_size 64]

The networks are restored from ``RUN`` (:func:`jaxgen.train.restore_models`:
rebuilt from ``RUN/config.json`` through the model registry) and applied by
the family's registered ``translate`` function. ``--input`` is a folder
(every image file below it, resized to the run's image size with Pillow's
bicubic filter, converted to its channels) or a ``.npy`` / ``.npz`` array of
images (N, H, W, C) in [0, 1] (an ``.npz``'s first array). Outputs: one PNG
per input image under ``OUT_DIR`` (a folder input keeps its file names and
sub-folders), or ``OUT_DIR/translated.npy`` for an array input, and
``OUT_DIR/grid.png`` (inputs above their translations, up to 16 pairs).

Test mode: by default BatchNorm uses its running averages and dropout is off
(evaluation mode); ``--train_mode`` uses the batch's statistics and dropout,
as the Pix2pix reference code tests (its outputs then depend on the batch
and on ``--seed``). CycleGAN's InstanceNorm is the same in both modes.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
from PIL import Image

from jaxgen import data
from jaxgen import models as models_lib
from jaxgen import plot
from jaxgen.train import RunNotFoundError, restore_models


class TranslateError(ValueError):
  """A run cannot translate these inputs (not a translation family, wrong image shape, bad arguments)."""


def load_inputs(path: str, image_shape: tuple[int, int, int]) -> tuple[np.ndarray, list[str] | None]:
  """Images (N, H, W, C) in [0, 1] from a folder or an array file, and the folder files' relative paths."""
  if os.path.isdir(path):
    images, paths = data.read_image_files(path, image_size=image_shape[:2], channels=image_shape[2])
    return images, [os.path.relpath(p, path) for p in paths]
  if not os.path.exists(path):
    raise TranslateError(f"--input {path} does not exist: give a folder of images or a .npy/.npz file")
  if not path.endswith((".npy", ".npz")):
    raise TranslateError(f"--input {path}: give a folder of images or a .npy/.npz file of (N, H, W, C) images")
  if path.endswith(".npz"):
    with np.load(path) as arrays:
      images = np.asarray(arrays[arrays.files[0]], np.float32)
  else:
    images = np.asarray(np.load(path), np.float32)
  if images.ndim == 3:
    images = images[..., None]
  if images.shape[1:] != tuple(image_shape):
    raise TranslateError(f"--input holds images of shape {images.shape[1:]}, the run translates {tuple(image_shape)}")
  data.check_images(images, image_shape=tuple(image_shape), what="--input images")
  return images, None


def translate_images(models, config, images: np.ndarray, *, direction: str = "AtoB", train_mode: bool = False,
                     seed: int = 0, batch_size: int = 64) -> np.ndarray:
  """:func:`jaxgen.models.translate_images`, its errors as :class:`TranslateError`."""
  try:
    return models_lib.translate_images(models, config, images, direction=direction, train_mode=train_mode, seed=seed,
                                       batch_size=batch_size)
  except ValueError as e:
    raise TranslateError(str(e).replace("batch_size", "--batch_size")) from e


def _input_shape(config, direction: str) -> tuple[int, int, int]:
  hp = models_lib.model_hparams(config)
  h, w, c = hp.image_shape
  if config.model.name == "pix2pix":
    return (h, w, hp.input_channels)
  if direction == "BtoA":
    return (h, w, hp.channels_b or c)
  return (h, w, c)


def _save_png(path: str, image: np.ndarray) -> None:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  pixels = np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)
  Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(path)


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(prog="python -m jaxgen.translate", description=__doc__.split("\n\n")[0])
  parser.add_argument("--workdir", required=True, help="directory of a Pix2pix or CycleGAN run")
  parser.add_argument("--input", required=True, help="a folder of images, or a .npy/.npz of (N, H, W, C) in [0, 1]")
  parser.add_argument("--out", required=True, help="output folder")
  parser.add_argument("--direction", default="AtoB", choices=data.DIRECTIONS, help="CycleGAN: which generator")
  parser.add_argument("--step", type=int, default=None, help="checkpoint step (default the latest)")
  parser.add_argument("--train_mode", action="store_true", help="batch statistics and dropout (the reference's test)")
  parser.add_argument("--seed", type=int, default=0, help="seed of the dropout in --train_mode")
  parser.add_argument("--batch_size", type=int, default=64, help="images translated per call")
  args = parser.parse_args(argv)
  try:
    models, config, step = restore_models(args.workdir, step=args.step, use_ema=False)
    if getattr(models_lib.get_model_spec(config.model.name), "translate", None) is None:
      raise TranslateError(f"{args.workdir} is a '{config.model.name}' run, not an image-to-image one "
                           "(pix2pix, cyclegan): use python -m jaxgen.sample")
    images, names = load_inputs(args.input, _input_shape(config, args.direction))
    outputs = translate_images(models, config, images, direction=args.direction, train_mode=args.train_mode,
                               seed=args.seed, batch_size=args.batch_size)
    os.makedirs(args.out, exist_ok=True)
    if names is None:
      np.save(os.path.join(args.out, "translated.npy"), outputs)
    else:
      for name, image in zip(names, outputs):
        _save_png(os.path.join(args.out, os.path.splitext(name)[0] + ".png"), image)
    n = min(16, len(images))  # two rows: inputs above their translations
    shown_in = images[:n] if images.shape[-1] == outputs.shape[-1] else np.repeat(images[:n].mean(-1, keepdims=True),
                                                                                  outputs.shape[-1], -1)
    plot.save_image_grid(os.path.join(args.out, "grid.png"), np.concatenate([shown_in, outputs[:n]]),
                         ncol=n, scale=plot.grid_scale(outputs.shape[1:]))
  except (TranslateError, RunNotFoundError, data.DatasetNotFoundError, ValueError) as e:
    print(f"jaxgen.translate: {' '.join(str(e).split())}", file=sys.stderr)
    return 2
  print(f"translated {len(images)} images with {config.model.name} ({args.direction}, step {step}) into {args.out}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
