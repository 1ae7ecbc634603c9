"""GAN and PacGAN on the 2-D ring and grid mixtures (Lin et al. 2018, Table 1).

Run (from the repository root):

  # default: GAN on the ring, 1 trial of 2,000 iterations (about 3 minutes on 2 busy CPU cores)
  python -m experiments.gan_toy.main --workdir=/tmp/gan_toy

  # PacGAN2 on the grid, 3 trials of 10,000 iterations
  python -m experiments.gan_toy.main --workdir=/tmp/gan_toy_grid_pac2 \
      --config.data.name=grid --config.model.packing=2 --config.train.num_trials=3 \
      --config.train.num_steps=10000

  # the paper's protocol: 400 epochs of 1,000 iterations, 10 trials
  python -m experiments.gan_toy.main --workdir=/tmp/gan_toy_full --config=experiments/gan_toy/config.py:full

Protocol (the authors' code, github.com/fjxmlzn/PacGAN, synthetic_data_experiments):
ring of 8 modes on the unit circle, std 0.01; grid of 25 modes at
(-4 + 2i, -4 + 2j), std 0.05; 100,000 training points; z ~ N(0, I_2); generator
4 x 400 (Linear, BatchNorm, ReLU); discriminator 3 maxout layers of 200 units x
5 pieces; weights N(0, 0.02^2); Adam lr 1e-4, beta1 0.8; 100 discriminator inputs
per minibatch (with packing m: 100 packs of m points, so 100 m real and 100 m
generated points); non-saturating generator loss; 2,500 generated points
(generator in evaluation mode) for the metrics; mean +- standard error over trials.
One difference: the authors update D and G simultaneously from one minibatch
(ALI's algorithm); here D is updated, then G (Algorithm 1 of Goodfellow et al. 2014).

Expected (the paper's Table 1, 400 epochs, 10 trials): GAN ring 6.3 +- 0.5 modes,
98.2% high quality, reverse KL 0.45; grid 17.3 +- 0.8 modes, 94.8%, 0.70; PacGAN2
ring 7.9 modes, grid 23.8 modes. With far fewer iterations than the paper's 400,000
the high-quality fractions are lower; what was measured, with the compute, is in
the README.

Measured (2 trials x 10,000 iterations = 10 of the paper's 400 epochs, CPU, 2 cores;
training 166-274 s per trial; 2026-11-22):
  ring GAN      7.5 +- 0.5 modes, 79.9 +- 0.1% HQ, reverse KL 0.37 +- 0.21
  ring PacGAN2  8.0 +- 0.0 modes, 79.8 +- 3.2% HQ, reverse KL 0.20 +- 0.04
  grid GAN     15.0 +- 1.0 modes, 27.6 +- 2.3% HQ, reverse KL 1.05 +- 0.07
  grid PacGAN2 17.5 +- 6.5 modes,  5.2 +- 3.4% HQ, reverse KL 0.78 +- 0.42
At this budget the generators have not converged (the grid's points lie between
the modes), so these numbers are not comparable with Table 1.
"""

import ml_collections

from jaxgen import experiment


def get_config(preset: str = "") -> ml_collections.ConfigDict:
  """Presets: "" (the quick default) and "full" (the paper's iterations and trials)."""
  if preset not in ("", "full"):
    raise ValueError(f"unknown preset {preset!r}: use '' or 'full' (--config=...config.py:full)")
  # config.data.name: "ring" or "grid". Trial t uses the seed config.seed + t.
  config = experiment.base_config(model="toy_gan", dataset="ring")
  # The points are drawn, no files read (so --data_dir is refused); Adam, counted in steps. A field absent
  # from saved runs' config.json would make resuming them a config change.
  del config.data.data_dir, config.train.momentum, config.train.num_epochs
  config.data.num_train = 100_000

  config.model.latent_dim = 2
  config.model.data_dim = 2
  config.model.generator_hidden = 400
  config.model.generator_layers = 4
  config.model.discriminator_hidden = 200
  config.model.discriminator_layers = 3
  config.model.maxout_pieces = 5
  config.model.packing = 1
  config.model.init_std = 0.02
  # 'bfloat16': layers compute in bfloat16; parameters, losses and checkpoints stay float32.
  config.model.compute_dtype = "float32"

  config.train.loss = "non_saturating"
  config.train.k = 1
  config.train.batch_size = 100  # discriminator inputs (packs) per minibatch
  config.train.num_steps = 400_000 if preset == "full" else 2_000
  config.train.num_trials = 10 if preset == "full" else 1
  config.train.learning_rate = 1e-4
  config.train.b1 = 0.8
  config.train.steps_per_call = 500
  config.train.checkpoint_every = 50_000

  # mode_metrics.jsonl: every this many steps (a multiple of steps_per_call hits the step exactly).
  config.eval.every = 500
  config.eval.num_samples = 2_500
  config.eval.hq_threshold = 3.0  # a point is high quality within 3 standard deviations of a mode
  config.eval.use_ema = True  # when the run keeps an EMA of G
  return config
