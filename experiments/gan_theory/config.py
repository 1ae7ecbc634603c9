"""The GAN theory in 1-D, measured: D* = p_data / (p_data + p_g) and C(G) = -log 4 + 2 JSD.

Run (from the repository root; about a minute on 2 CPU cores):

  python -m experiments.gan_theory.main --workdir=/tmp/gan_theory

Two training runs share ``config.train``'s fields; ``config.train.discriminator``
and ``config.train.gan`` hold what each sets for itself (its length, learning
rate, Adam's b1; the GAN's loss and k), e.g.
``--config.train.gan.num_steps=10000 --config.train.gan.learning_rate=5e-4``.
Both train with Adam, its learning rate decayed to 0 by a cosine schedule, on
one fixed sample of ``data.num_train`` points of p_data.

Part 1, ``train.discriminator`` (Goodfellow et al. 2014, Prop. 1 and Theorem 1;
Figure 1): p_data is a known two-component Gaussian mixture and p_g a fixed
Gaussian (``data.g_mean``, ``data.g_std``). A small MLP discriminator is
trained by minimizing the minimax discriminator loss on the data sample and
fresh p_g samples every step. On a grid we plot D against D*(x) and report
max |D - D*| where the average density (p_data + p_g) / 2 exceeds
``eval.support_density`` (elsewhere D is not constrained by the data).
V(G, D) of the trained D and V(G, D*) = -log 4 + 2 JSD(p_data || p_g) are
computed by quadrature on a fine grid.

Part 2, ``train.gan``: a 1-D MLP generator is trained against an MLP
discriminator (non-saturating loss, one D step per G step); JSD(p_data || p_g)
is measured at step 0 and every ``eval.every`` steps, with p_g a Gaussian
kernel density estimate (``jax.scipy.stats.gaussian_kde``, Scott's bandwidth)
of ``eval.num_kde_samples`` generator samples and the JSD by quadrature.
The same estimator applied to as many samples of p_data gives the estimator's
floor, also reported.

Expected: max |D - D*| of a few hundredths; V(G, D) a little below
V(G, D*) (D is only near-optimal); the JSD falls from its initial value towards
the KDE floor. Measured with this config (2 shared CPU cores, 31-37 s wall):
max |D - D*| = 0.027 on [-2.74, 3.43]; V(G, D) = -1.25637 vs V(G, D*) =
-log 4 + 2 JSD = -1.25612 (JSD = 0.0651); JSD(p_data || KDE(p_g)) 0.560 at
step 0 -> 0.046 at step 6,000, lowest 0.019 at step 3,250 (estimator floor
0.0007).
"""

import ml_collections

from jaxgen import experiment


def get_config() -> ml_collections.ConfigDict:
  """The config of both runs (see the module docstring)."""
  config = experiment.base_config(model="gan_1d", dataset="mixture_1d")
  # The points are drawn, no files read (so --data_dir is refused).
  del config.data.data_dir
  # p_data: sum_k w_k N(mu_k, sigma_k^2); p_g of part 1: N(g_mean, g_std^2).
  config.data.weights = (0.4, 0.6)
  config.data.means = (-1.5, 1.0)
  config.data.stds = (0.5, 0.7)
  config.data.g_mean = 0.5
  config.data.g_std = 1.5
  config.data.num_train = 100_000

  # The tanh MLPs of jaxgen.models.gan_1d (generator and discriminator alike).
  config.model.latent_dim = 1
  config.model.hidden = 64
  config.model.num_layers = 2

  # Adam with a cosine decay is fixed; each run's section sets its length and learning rate.
  t = config.train
  del t.num_steps, t.num_epochs, t.optimizer, t.learning_rate, t.momentum, t.schedule
  t.batch_size = 1024
  t.steps_per_call = 250
  t.discriminator = ml_collections.ConfigDict(dict(num_steps=3_000, learning_rate=1e-2))
  t.gan = ml_collections.ConfigDict(dict(
      num_steps=6_000,
      # 5e-4 oscillates more; k = 5 with 5e-4 or 1e-3 diverged (JSD -> log 2).
      learning_rate=2e-4,
      b1=0.5,
      loss="non_saturating",
      k=1,  # discriminator steps per generator step
  ))

  # Part 1's plotting grid and support; part 2's JSD measurements.
  config.eval.support_density = 0.02
  config.eval.grid_min = -6.0
  config.eval.grid_max = 6.0
  config.eval.num_grid = 2_001
  config.eval.every = 250
  config.eval.num_kde_samples = 10_000
  config.eval.use_ema = True  # when a run keeps an EMA (config.train.ema_decay)
  return config
