"""Trains the PyTorch StyleGAN2 peer on digits, to tell a fault of jaxgen's port from the training's own dynamics.

    python -m benchmarks.peer_training [--dataset mnist --data_dir DIR] [--side 16] [--steps 500]
        [--out DIR] [--threads 1] [--seed 0]

The peer (``benchmarks/peers/torch_stylegan2.py``) is NVlabs/stylegan2-ada-
pytorch's networks and training step, layer for layer; here it trains with
the sizes of ``experiments/stylegan``'s digits preset (z = w = 64, 32
channels, batch 32, R1 gamma 0.01 every 16 steps, path length 2 every 4,
style mixing 0.9) on images resized to ``--side``. It reports what the
README's StyleGAN2 table reports for jaxgen's runs: the spread of G(z) (the
per-pixel standard deviation over 256 fixed z's, noise inputs constant, in
[-1, 1]) and D's mean probabilities on real and generated batches over the
last 100 steps; ``OUT/peer_training.json`` and a grid of 64 samples,
``OUT/samples.png``. Needs ``pip install -e ".[bench]"`` (torch).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

from jaxgen import data, plot


def _spread(generator, z, torch) -> float:
  with torch.no_grad():
    images = generator.synthesis(generator.styles(z, 0.0), "const")
  return float(images.std(dim=0).mean())


def train_peer(images: np.ndarray, *, steps: int, seed: int = 0, log_every: int = 100, progress=print) -> dict:
  """Trains the peer on ``images`` (N, side, side, 1) in [0, 1]; returns the measures and the trained G."""
  import torch

  from benchmarks.peers import torch_stylegan2 as peer

  torch.manual_seed(seed)
  side = images.shape[1]
  x = torch.from_numpy(np.ascontiguousarray((images * 2.0 - 1.0).transpose(0, 3, 1, 2))).float()
  hp = peer.default_hparams()
  hp.update(image_shape=(side, side, 1), latent_dim=64, w_dim=64, channel_base=512, channel_max=32, batch_size=32,
            r1_gamma=0.01)
  generator, discriminator = peer.build_models(hp)
  step = peer.build_step(generator, discriminator, hp)
  rng = np.random.default_rng(seed)
  z_fixed = torch.randn(256, hp["latent_dim"], generator=torch.Generator().manual_seed(seed + 1))
  history, d_last = [{"step": 0, "spread": _spread(generator, z_fixed, torch)}], []
  t0 = time.perf_counter()
  for t in range(steps):
    batch = x[rng.integers(0, len(x), hp["batch_size"])]
    step(batch)
    if t >= steps - 100:
      with torch.no_grad():
        fake = generator(torch.randn(hp["batch_size"], hp["latent_dim"]))
        d_last.append((torch.sigmoid(discriminator(batch)).mean().item(),
                       torch.sigmoid(discriminator(fake)).mean().item()))
    if (t + 1) % log_every == 0 or t + 1 == steps:
      history.append({"step": t + 1, "spread": _spread(generator, z_fixed, torch)})
      progress(f"step {t + 1}: spread {history[-1]['spread']:.3f}, {(t + 1) / (time.perf_counter() - t0):.2f} steps/s")
  with torch.no_grad():
    samples = generator.synthesis(generator.styles(z_fixed[:64], 0.0), "const").numpy().transpose(0, 2, 3, 1)
  return {
      "steps": steps, "seconds": time.perf_counter() - t0, "side": side, "hparams": hp,
      "spread": history[-1]["spread"], "spread_history": history,
      "d_real_last100": float(np.mean([a for a, _ in d_last])),
      "d_fake_last100": float(np.mean([b for _, b in d_last])),
      "torch_threads": torch.get_num_threads(), "samples": np.clip((samples + 1.0) / 2.0, 0.0, 1.0),
  }


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(prog="python -m benchmarks.peer_training", description=__doc__.split("\n\n")[0])
  parser.add_argument("--dataset", default="digits", help="digits (offline), mnist or fashion_mnist")
  parser.add_argument("--data_dir", default=None, help="folder of the IDX files (mnist, fashion_mnist)")
  parser.add_argument("--side", type=int, default=16, help="image side the peer trains at")
  parser.add_argument("--steps", type=int, default=500)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--threads", type=int, default=1, help="torch's intra-op threads")
  parser.add_argument("--log_every", type=int, default=100)
  parser.add_argument("--out", default="peer_training", help="folder of peer_training.json and samples.png")
  args = parser.parse_args(argv)
  try:
    import torch
  except ImportError:
    print("benchmarks.peer_training: needs torch (pip install -e '.[bench]')", file=sys.stderr)
    return 2
  if args.steps < 1 or args.side < 8 or args.side & (args.side - 1):
    print("benchmarks.peer_training: --steps must be >= 1 and --side a power of two >= 8", file=sys.stderr)
    return 2
  try:
    ds = data.load_dataset(args.dataset, data_dir=args.data_dir)
  except (ValueError, FileNotFoundError) as e:
    print(f"benchmarks.peer_training: {e}", file=sys.stderr)
    return 2
  torch.set_num_threads(args.threads)
  result = train_peer(data.resize(ds.train, args.side), steps=args.steps, seed=args.seed, log_every=args.log_every)
  os.makedirs(args.out, exist_ok=True)
  plot.save_image_grid(os.path.join(args.out, "samples.png"), result.pop("samples"), ncol=8,
                       scale=plot.grid_scale((args.side,)))
  with open(os.path.join(args.out, "peer_training.json"), "w") as f:
    json.dump({"dataset": args.dataset, **result}, f, indent=1)
  print(f"spread {result['spread']:.3f}, D(x) {result['d_real_last100']:.3f}, D(G(z)) {result['d_fake_last100']:.3f} "
        f"after {args.steps} steps ({result['seconds']:.0f} s); wrote {args.out}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
