"""The GAN theory in 1-D, measured: D* = p_data / (p_data + p_g) and C(G) = -log 4 + 2 JSD.

Run (from the repository root; about a minute on 2 CPU cores):

  python -m experiments.gan_theory.main --workdir=/tmp/gan_theory

Part 1 (Goodfellow et al. 2014, Prop. 1 and Theorem 1; Figure 1): p_data is a
known two-component Gaussian mixture and p_g a fixed Gaussian. A small MLP
discriminator is trained on samples (a fixed set of ``num_data`` data points,
fresh p_g samples every step) by minimizing the minimax discriminator loss with
Adam, its learning rate decayed to 0 by a cosine schedule (both parts).
On a grid we plot D against D*(x) and report max |D - D*| where the average
density (p_data + p_g) / 2 exceeds ``support_density`` (elsewhere D is not
constrained by the data). V(G, D) of the trained D and V(G, D*) =
-log 4 + 2 JSD(p_data || p_g) are computed by quadrature on a fine grid.

Part 2: a 1-D MLP generator is trained against an MLP discriminator
(non-saturating loss, one D step per G step); JSD(p_data || p_g) is measured
every ``eval_every`` steps, with p_g a Gaussian kernel density estimate
(``jax.scipy.stats.gaussian_kde``, Scott's bandwidth) of ``num_kde_samples``
generator samples and the JSD by quadrature.
The same estimator applied to as many samples of p_data gives the estimator's
floor, also reported.

Expected: max |D - D*| of a few hundredths; V(G, D) a little below
V(G, D*) (D is only near-optimal); the JSD falls from its initial value towards
the KDE floor. Measured with this config (2 shared CPU cores, 81 s wall):
max |D - D*| = 0.025 on [-2.74, 3.43]; V(G, D) = -1.25637 vs V(G, D*) =
-log 4 + 2 JSD = -1.25612 (JSD = 0.0651); JSD(p_data || KDE(p_g)) 0.560 at
step 0 -> 0.027 at step 6,000 (estimator floor 0.0007).
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.seed = 0

  # p_data: sum_k w_k N(mu_k, sigma_k^2); p_g: N(mu_g, sigma_g^2) in part 1.
  config.data_weights = (0.4, 0.6)
  config.data_means = (-1.5, 1.0)
  config.data_stds = (0.5, 0.7)
  config.g_mean = 0.5
  config.g_std = 1.5
  config.num_data = 100_000

  # The tanh MLPs of jaxgen.models.gan_1d (generator and discriminator alike).
  config.model = ml_collections.ConfigDict()
  config.model.name = "gan_1d"
  config.model.latent_dim = 1
  config.model.hidden = 64
  config.model.num_layers = 2

  config.batch_size = 1024
  config.learning_rate = 1e-2  # part 1; decayed to 0 (cosine)

  # Part 1: the discriminator alone.
  config.d_steps = 3_000
  config.support_density = 0.02
  config.grid_min = -6.0
  config.grid_max = 6.0
  config.num_grid = 2_001

  # Part 2: the generator against the discriminator.
  config.gan_k = 1  # discriminator steps per generator step
  config.gan_steps = 6_000
  config.gan_learning_rate = 2e-4  # 5e-4 oscillates more; k = 5 with 5e-4 or 1e-3 diverged (JSD -> log 2)
  config.beta1 = 0.5
  config.eval_every = 250
  config.num_kde_samples = 10_000

  config.steps_per_call = 250
  return config
