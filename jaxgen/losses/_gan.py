"""GAN objectives from discriminator logits, D(x) = sigmoid(logit(x)).

All losses are elementwise (one value per logit, i.e. per example); the
caller averages over the batch. ``log D = -softplus(-logit)`` and
``log(1 - D) = -softplus(logit)`` keep values and gradients finite for any
finite logit (also +-1e4), with no probability clipping. Logits, critic
outputs and log-densities must be floats; integer arrays are refused.
"""

from typing import Sequence

import jax
import jax.numpy as jnp

from jaxgen.losses._divergences import _check_axis, _check_floats, _check_same_shape

Axis = int | Sequence[int] | None


def _as_logits(fn: str, name: str, logits: jax.Array) -> jax.Array:
  """``logits`` as an array, refused unless float (a network's outputs are never integers)."""
  logits = jnp.asarray(logits)
  _check_floats(fn, name, logits, "float logits (the discriminator's outputs)")
  return logits


def _as_log_densities(fn: str, name: str, log_density: jax.Array) -> jax.Array:
  """``log_density`` as an array, refused unless float."""
  log_density = jnp.asarray(log_density)
  _check_floats(fn, name, log_density, "float log-densities (jnp.log of the densities)")
  return log_density


def minimax_discriminator_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
  r"""-log D(x) - log(1 - D(G(z))) = softplus(-real_logits) + softplus(fake_logits).

  Minus the discriminator's part of the value function V(D, G) (Goodfellow et
  al. 2014, eq. 1), for paired real and fake examples; the discriminator
  minimizes its mean.

  Args:
    real_logits: logits of D on data samples, float (any real), shape ``[...]``.
    fake_logits: logits of D on generated samples, float, same shape.

  Returns:
    Elementwise loss (>= 0), shape of ``real_logits``.

  Example:
    >>> import jax.numpy as jnp
    >>> print(f"{minimax_discriminator_loss(jnp.array(0.0), jnp.array(0.0)):.4f}")  # log 4
    1.3863

  References:
    Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014, eq. 1.
  """
  real_logits = _as_logits("minimax_discriminator_loss", "real_logits", real_logits)
  fake_logits = _as_logits("minimax_discriminator_loss", "fake_logits", fake_logits)
  _check_same_shape("minimax_discriminator_loss", real_logits, fake_logits, "real_logits", "fake_logits")
  return jax.nn.softplus(-real_logits) + jax.nn.softplus(fake_logits)


def minimax_generator_loss(fake_logits: jax.Array) -> jax.Array:
  r"""log(1 - D(G(z))) = -softplus(fake_logits).

  The generator's part of min_G max_D V(D, G) (Goodfellow et al. 2014, eq. 1):
  the saturating objective, whose gradient vanishes when D confidently rejects
  the samples (fake logits << 0). The generator minimizes its mean.

  Args:
    fake_logits: logits of D on generated samples, float (any real), shape
      ``[...]``.

  Returns:
    Elementwise loss (<= 0), shape of ``fake_logits``.

  Example:
    >>> import jax.numpy as jnp
    >>> print(f"{minimax_generator_loss(jnp.array(0.0)):.4f}")  # log(1/2)
    -0.6931

  References:
    Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014, eq. 1.
  """
  return -jax.nn.softplus(_as_logits("minimax_generator_loss", "fake_logits", fake_logits))


def non_saturating_generator_loss(fake_logits: jax.Array) -> jax.Array:
  r"""-log D(G(z)) = softplus(-fake_logits).

  The heuristic generator loss of Goodfellow et al. (2014), Section 3: same
  fixed point as the minimax loss, strong gradients early in training.

  Args:
    fake_logits: logits of D on generated samples, float (any real), shape
      ``[...]``.

  Returns:
    Elementwise loss (>= 0), shape of ``fake_logits``.

  Example:
    >>> import jax.numpy as jnp
    >>> print(f"{non_saturating_generator_loss(jnp.array(0.0)):.4f}")  # log 2
    0.6931

  References:
    Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014, Section 3.
  """
  return jax.nn.softplus(-_as_logits("non_saturating_generator_loss", "fake_logits", fake_logits))


def _safe_logit(log_p_data: jax.Array, log_p_g: jax.Array) -> jax.Array:
  """log p_data - log p_g, with 0 where both densities are 0 (instead of nan)."""
  both_zero = (log_p_data == -jnp.inf) & (log_p_g == -jnp.inf)
  # Double-where: -inf - (-inf) = nan would otherwise leak into gradients.
  safe_data = jnp.where(both_zero, 0.0, log_p_data)
  safe_g = jnp.where(both_zero, 0.0, log_p_g)
  return safe_data - safe_g


def optimal_discriminator_logit(log_p_data: jax.Array, log_p_g: jax.Array) -> jax.Array:
  r"""logit D*(x) = log p_data(x) - log p_g(x).

  The logit of the optimal discriminator (Goodfellow et al. 2014, Prop. 1):
  ``+inf`` where p_g = 0 < p_data, ``-inf`` where p_data = 0 < p_g, and 0 where
  both are 0 (there D does not enter V, and 0 means D* = 1/2). Gradients are
  finite everywhere.

  Args:
    log_p_data: log-density (or log-mass) of the data, float (a real or
      -inf), shape ``[...]``.
    log_p_g: log-density of the generator at the same points, float, same
      shape.

  Returns:
    The logits, shape of ``log_p_data``: in [-inf, +inf].

  Example:
    >>> import jax.numpy as jnp
    >>> print(optimal_discriminator_logit(jnp.log(jnp.array([0.2, 0.0])), jnp.log(jnp.array([0.2, 0.5]))))
    [  0. -inf]

  References:
    Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014, Prop. 1.
  """
  log_p_data = _as_log_densities("optimal_discriminator_logit", "log_p_data", log_p_data)
  log_p_g = _as_log_densities("optimal_discriminator_logit", "log_p_g", log_p_g)
  _check_same_shape("optimal_discriminator_logit", log_p_data, log_p_g, "log_p_data", "log_p_g")
  return _safe_logit(log_p_data, log_p_g)


def optimal_discriminator(log_p_data: jax.Array, log_p_g: jax.Array) -> jax.Array:
  r"""D*(x) = p_data(x) / (p_data(x) + p_g(x)) = sigmoid(log p_data(x) - log p_g(x)).

  The optimal discriminator for a fixed generator (Goodfellow et al. 2014,
  Prop. 1), from log-densities so that no ratio of tiny numbers is formed.
  D* = 1 where p_g = 0 < p_data, D* = 0 where p_data = 0 < p_g, and, by
  convention, D* = 1/2 where both are 0 (any value is optimal there, since
  such points do not enter V). Values are in [0, 1]; gradients are finite.

  Args:
    log_p_data: log-density of the data, float (a real or -inf), shape
      ``[...]``.
    log_p_g: log-density of the generator at the same points, float, same
      shape.

  Returns:
    D*(x), shape of ``log_p_data``: in [0, 1].

  Example:
    >>> import jax.numpy as jnp
    >>> d = optimal_discriminator(jnp.log(jnp.array([0.3, 0.5, 0.0, 0.0])),
    ...                           jnp.log(jnp.array([0.1, 0.0, 0.4, 0.0])))
    >>> print(jnp.round(d, 4))
    [0.75 1.   0.   0.5 ]

  References:
    Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014, Prop. 1.
  """
  # Checked here too, so that an error names the function the caller called.
  log_p_data = _as_log_densities("optimal_discriminator", "log_p_data", log_p_data)
  log_p_g = _as_log_densities("optimal_discriminator", "log_p_g", log_p_g)
  _check_same_shape("optimal_discriminator", log_p_data, log_p_g, "log_p_data", "log_p_g")
  return jax.nn.sigmoid(optimal_discriminator_logit(log_p_data, log_p_g))


def _mass_times(log_mass: jax.Array, value: jax.Array) -> jax.Array:
  """exp(log_mass) * value, exactly 0 (finite gradients) where the mass is 0."""
  is_zero = jnp.exp(log_mass) == 0
  safe_log_mass = jnp.where(is_zero, 0.0, log_mass)
  return jnp.where(is_zero, 0.0, jnp.exp(safe_log_mass) * value)


def gan_value_from_densities(
    log_p_data: jax.Array, log_p_g: jax.Array, logits: jax.Array, axis: Axis = -1
) -> jax.Array:
  r"""V(G, D) = sum_x p_data(x) log D(x) + p_g(x) log(1 - D(x)), D = sigmoid(logits).

  The value function of Goodfellow et al. (2014), eq. 1, evaluated exactly on
  a discrete support (or a quadrature grid: add the log quadrature weights to
  both log-densities). Points where a mass is 0 contribute exactly 0 to that
  mass's term even if the logit there is +-inf, so the optimal discriminator
  can be plugged in: V(G, D*) = -log 4 + 2 JSD(p_data || p_g) (Theorem 1).

  Args:
    log_p_data: log-masses of the data distribution, float (entries in
      [-inf, 0]), shape ``[..., K]``.
    log_p_g: log-masses of the generator distribution, float, same shape.
    logits: discriminator logits at the same points, float (reals or +-inf),
      same shape.
    axis: axis or axes summed over (the support).

  Returns:
    V(G, D), ``logits`` with ``axis`` removed: <= 0; at D = D*, in
    [-log 4, 0].

  Example:
    >>> import jax.numpy as jnp
    >>> log_p_data = jnp.log(jnp.array([0.5, 0.5, 0.0]))
    >>> log_p_g = jnp.log(jnp.array([0.0, 0.5, 0.5]))
    >>> d_star = optimal_discriminator_logit(log_p_data, log_p_g)
    >>> print(f"{gan_value_from_densities(log_p_data, log_p_g, d_star):.4f}")  # -log 4 + 2 JSD
    -0.6931

  References:
    Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014, eq. 1 and
    Theorem 1.
  """
  log_p_data = _as_log_densities("gan_value_from_densities", "log_p_data", log_p_data)
  log_p_g = _as_log_densities("gan_value_from_densities", "log_p_g", log_p_g)
  logits = _as_logits("gan_value_from_densities", "logits", logits)
  _check_same_shape("gan_value_from_densities", log_p_data, log_p_g, "log_p_data", "log_p_g")
  _check_same_shape("gan_value_from_densities", log_p_data, logits, "log_p_data", "logits")
  # Where a mass is 0 the log-D term may be -inf (D* = 0 or 1 there); mask the
  # logit itself too so the unused branch has a finite gradient.
  data_zero = jnp.exp(log_p_data) == 0
  g_zero = jnp.exp(log_p_g) == 0
  log_d = jnp.where(data_zero, 0.0, -jax.nn.softplus(-jnp.where(data_zero, 0.0, logits)))
  log_one_minus_d = jnp.where(g_zero, 0.0, -jax.nn.softplus(jnp.where(g_zero, 0.0, logits)))
  return jnp.sum(_mass_times(log_p_data, log_d) + _mass_times(log_p_g, log_one_minus_d), axis=axis)


def gan_value_from_samples(real_logits: jax.Array, fake_logits: jax.Array, axis: Axis = -1) -> jax.Array:
  r"""V(G, D) ~= mean_i log D(x_i) + mean_j log(1 - D(G(z_j))), D = sigmoid(logit).

  The Monte Carlo estimate of the value function of Goodfellow et al. (2014),
  eq. 1, from discriminator logits on data samples x_i ~ p_data and generated
  samples G(z_j) ~ p_g. The two sample sets may differ in size along ``axis``.
  It equals minus the mean ``minimax_discriminator_loss`` when they are paired.

  Args:
    real_logits: logits on data samples, float (any real), shape ``[..., N]``.
    fake_logits: logits on generated samples, float, shape ``[..., M]``
      (same leading shape).
    axis: the sample axis or axes averaged over.

  Returns:
    The estimate of V(G, D), ``real_logits`` with ``axis`` removed: <= 0.

  Example:
    >>> import jax.numpy as jnp
    >>> print(f"{gan_value_from_samples(jnp.zeros(3), jnp.zeros(5)):.4f}")  # D = 1/2: -log 4
    -1.3863

  References:
    Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014, eq. 1.
  """
  real_logits = _as_logits("gan_value_from_samples", "real_logits", real_logits)
  fake_logits = _as_logits("gan_value_from_samples", "fake_logits", fake_logits)
  return jnp.mean(-jax.nn.softplus(-real_logits), axis=axis) + jnp.mean(
      -jax.nn.softplus(fake_logits), axis=axis
  )


def hinge_discriminator_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
  r"""max(0, 1 - D(x)) + max(0, 1 + D(G(z))) for raw critic outputs D.

  The hinge adversarial loss of Lim & Ye (2017) as used by Miyato et al.
  (2018), eq. 16; elementwise over paired real and fake examples.

  Args:
    real_logits: critic outputs on data samples, float (any real), shape
      ``[...]``.
    fake_logits: critic outputs on generated samples, float, same shape.

  Returns:
    Elementwise loss (>= 0), shape of ``real_logits``.

  Example:
    >>> import jax.numpy as jnp
    >>> print(hinge_discriminator_loss(jnp.array([2.0, 0.5]), jnp.array([-2.0, 0.5])))
    [0. 2.]

  References:
    Lim & Ye, "Geometric GAN", 2017; Miyato et al., "Spectral Normalization for
    Generative Adversarial Networks", ICLR 2018, eq. 16.
  """
  real_logits = _as_logits("hinge_discriminator_loss", "real_logits", real_logits)
  fake_logits = _as_logits("hinge_discriminator_loss", "fake_logits", fake_logits)
  _check_same_shape("hinge_discriminator_loss", real_logits, fake_logits, "real_logits", "fake_logits")
  return jax.nn.relu(1.0 - real_logits) + jax.nn.relu(1.0 + fake_logits)


def hinge_generator_loss(fake_logits: jax.Array) -> jax.Array:
  r"""-D(G(z)) for raw critic outputs D (the generator half of the hinge GAN).

  Args:
    fake_logits: critic outputs on generated samples, float (any real), shape
      ``[...]``.

  Returns:
    Elementwise loss (any real), shape of ``fake_logits``.

  Example:
    >>> import jax.numpy as jnp
    >>> print(hinge_generator_loss(jnp.array([1.5, -2.0])))
    [-1.5  2. ]

  References:
    Miyato et al., "Spectral Normalization for Generative Adversarial
    Networks", ICLR 2018, eq. 17.
  """
  return -_as_logits("hinge_generator_loss", "fake_logits", fake_logits)


def wasserstein_discriminator_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
  r"""D(G(z)) - D(x) for raw critic outputs D (the WGAN critic loss).

  Minimizing its mean maximizes E_data[D] - E_g[D], the Kantorovich-Rubinstein
  estimate of W_1 when D is 1-Lipschitz (Arjovsky et al. 2017, eq. 3); the
  Lipschitz constraint (clipping or a gradient penalty) is the caller's.

  Args:
    real_logits: critic outputs on data samples, float (any real), shape
      ``[...]``.
    fake_logits: critic outputs on generated samples, float, same shape.

  Returns:
    Elementwise loss (any real), shape of ``real_logits``.

  Example:
    >>> import jax.numpy as jnp
    >>> print(wasserstein_discriminator_loss(jnp.array([3.0]), jnp.array([1.0])))
    [-2.]

  References:
    Arjovsky, Chintala & Bottou, "Wasserstein GAN", ICML 2017, eq. 3.
  """
  real_logits = _as_logits("wasserstein_discriminator_loss", "real_logits", real_logits)
  fake_logits = _as_logits("wasserstein_discriminator_loss", "fake_logits", fake_logits)
  _check_same_shape("wasserstein_discriminator_loss", real_logits, fake_logits, "real_logits", "fake_logits")
  return fake_logits - real_logits


def wasserstein_generator_loss(fake_logits: jax.Array) -> jax.Array:
  r"""-D(G(z)) for raw critic outputs D (the WGAN generator loss).

  Args:
    fake_logits: critic outputs on generated samples, float (any real), shape
      ``[...]``.

  Returns:
    Elementwise loss (any real), shape of ``fake_logits``.

  Example:
    >>> import jax.numpy as jnp
    >>> print(wasserstein_generator_loss(jnp.array([0.5])))
    [-0.5]

  References:
    Arjovsky, Chintala & Bottou, "Wasserstein GAN", ICML 2017, Algorithm 1.
  """
  return -_as_logits("wasserstein_generator_loss", "fake_logits", fake_logits)


def least_squares_discriminator_loss(
    real_logits: jax.Array, fake_logits: jax.Array, *, a: float = 0.0, b: float = 1.0
) -> jax.Array:
  r"""1/2 (D(x) - b)^2 + 1/2 (D(G(z)) - a)^2 for raw discriminator outputs D.

  The LSGAN discriminator loss (Mao et al. 2017, eq. 2): D regresses its raw
  output (no sigmoid) to the label b on data and a on generated samples.
  The defaults a = 0, b = 1 (with c = 1 in
  :func:`least_squares_generator_loss`) are the paper's 0-1 binary coding
  (c = b), also that of the CycleGAN reference code, whose ``nn.MSELoss``
  against the targets 1 and 0 has no 1/2: its D loss, halved afterwards,
  equals the mean of this one, and its G loss is twice
  :func:`least_squares_generator_loss` (a constant factor, i.e. a
  learning-rate scale). The paper's other choice, a = -1, b = 1, c = 0
  (b - c = 1, b - a = 2), makes G minimize the Pearson chi^2 divergence
  between p_data + p_g and 2 p_g (Section 3.2).

  Args:
    real_logits: D's raw outputs on data samples, float (any real), shape
      ``[...]``.
    fake_logits: D's raw outputs on generated samples, float, same shape.
    a: the label of generated samples.
    b: the label of data samples.

  Returns:
    Elementwise loss (>= 0, and 0 where D(x) = b and D(G(z)) = a), shape of
    ``real_logits``.

  Example:
    >>> import jax.numpy as jnp
    >>> print(least_squares_discriminator_loss(jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0])))
    [0. 1.]

  References:
    Mao et al., "Least Squares Generative Adversarial Networks", ICCV 2017,
    eq. 2 and Section 3.2 (choices of a, b, c).
  """
  real_logits = _as_logits("least_squares_discriminator_loss", "real_logits", real_logits)
  fake_logits = _as_logits("least_squares_discriminator_loss", "fake_logits", fake_logits)
  _check_same_shape("least_squares_discriminator_loss", real_logits, fake_logits, "real_logits", "fake_logits")
  return 0.5 * jnp.square(real_logits - b) + 0.5 * jnp.square(fake_logits - a)


def least_squares_generator_loss(fake_logits: jax.Array, *, c: float = 1.0) -> jax.Array:
  r"""1/2 (D(G(z)) - c)^2 for raw discriminator outputs D (the LSGAN generator loss).

  G pulls D's raw output on its samples to c, the value it wants D to believe
  for them (Mao et al. 2017, eq. 2): c = 1 = b with the default 0-1 coding
  (see :func:`least_squares_discriminator_loss`; the CycleGAN code's
  ``nn.MSELoss`` against 1 is twice this loss), c = 0 with the Pearson
  chi^2 choice a = -1, b = 1.

  Args:
    fake_logits: D's raw outputs on generated samples, float (any real),
      shape ``[...]``.
    c: the target of G.

  Returns:
    Elementwise loss (>= 0, and 0 where D(G(z)) = c), shape of
    ``fake_logits``.

  Example:
    >>> import jax.numpy as jnp
    >>> print(least_squares_generator_loss(jnp.array([1.0, 0.0, -1.0])))
    [0.  0.5 2. ]

  References:
    Mao et al., "Least Squares Generative Adversarial Networks", ICCV 2017,
    eq. 2 and Section 3.2.
  """
  fake_logits = _as_logits("least_squares_generator_loss", "fake_logits", fake_logits)
  return 0.5 * jnp.square(fake_logits - c)


def _relativistic_average_logits(fn: str, real_logits: jax.Array, fake_logits: jax.Array, axis: Axis):
  """The checked inputs of the relativistic average losses: float, paired, a valid batch axis."""
  real_logits = _as_logits(fn, "real_logits", real_logits)
  fake_logits = _as_logits(fn, "fake_logits", fake_logits)
  _check_same_shape(fn, real_logits, fake_logits, "real_logits", "fake_logits")
  _check_axis(fn, axis, real_logits, "real_logits")
  return real_logits, fake_logits


def _relativistic_average_terms(more_real: jax.Array, less_real: jax.Array, axis: Axis) -> jax.Array:
  """-log sigmoid(m_i - mean l) - log(1 - sigmoid(l_i - mean m)), in softplus form."""
  mean_more = jnp.mean(more_real, axis=axis, keepdims=True)
  mean_less = jnp.mean(less_real, axis=axis, keepdims=True)
  # -log sigmoid(u) = softplus(-u), -log(1 - sigmoid(v)) = softplus(v): finite for any finite logits.
  return jax.nn.softplus(mean_less - more_real) + jax.nn.softplus(less_real - mean_more)


def relativistic_average_discriminator_loss(
    real_logits: jax.Array, fake_logits: jax.Array, *, axis: Axis = -1
) -> jax.Array:
  r"""-log D_ra(x_i) - log(1 - D_ra(G(z_i))), D_ra(x) = sigmoid(C(x) - mean C(other set)).

  The RaSGAN discriminator loss (Jolicoeur-Martineau 2019, Section 4.3):
  with C the raw critic, D_ra(x_r) = sigmoid(C(x_r) - mean_f C(x_f)) is the
  probability that a real example is more realistic than the fakes on
  average, and D_ra(x_f) = sigmoid(C(x_f) - mean_r C(x_r)). Per example i::

    softplus(mean(fake_logits) - real_logits[i]) + softplus(fake_logits[i] - mean(real_logits))

  with the means over ``axis`` (the batch) of the other set; the mean of the
  result over the batch is the paper's L_D. When both sets have mean 0 it is
  :func:`minimax_discriminator_loss`.

  Args:
    real_logits: critic outputs C on data samples, float (any real), shape
      ``[..., B]``.
    fake_logits: critic outputs C on generated samples, float, same shape.
    axis: the batch axis or axes the other set's mean is taken over.

  Returns:
    Per-example loss (>= 0), shape of ``real_logits``.

  Example:
    >>> import jax.numpy as jnp
    >>> print(f"{relativistic_average_discriminator_loss(jnp.zeros(4), jnp.zeros(4))[0]:.4f}")  # 2 log 2
    1.3863

  References:
    Jolicoeur-Martineau, "The relativistic discriminator: a key element
    missing from standard GAN", ICLR 2019, Section 4.3 (RaSGAN).
  """
  real_logits, fake_logits = _relativistic_average_logits(
      "relativistic_average_discriminator_loss", real_logits, fake_logits, axis
  )
  return _relativistic_average_terms(real_logits, fake_logits, axis)


def relativistic_average_generator_loss(
    real_logits: jax.Array, fake_logits: jax.Array, *, axis: Axis = -1
) -> jax.Array:
  r"""-log D_ra(G(z_i)) - log(1 - D_ra(x_i)): the RaSGAN discriminator loss with real and fake swapped.

  The RaSGAN generator loss (Jolicoeur-Martineau 2019, Section 4.3): G wants
  its samples to look more realistic than the data on average, and the data
  less realistic than its samples, so, unlike the standard GAN, its loss
  reads the critic's outputs on real data too. Per example i::

    softplus(mean(real_logits) - fake_logits[i]) + softplus(real_logits[i] - mean(fake_logits))

  with the means over ``axis`` (the batch). It equals
  ``relativistic_average_discriminator_loss(fake_logits, real_logits)``.

  Args:
    real_logits: critic outputs C on data samples, float (any real), shape
      ``[..., B]``.
    fake_logits: critic outputs C on generated samples, float, same shape.
    axis: the batch axis or axes the other set's mean is taken over.

  Returns:
    Per-example loss (>= 0), shape of ``real_logits``.

  Example:
    >>> import jax.numpy as jnp
    >>> loss = relativistic_average_generator_loss(jnp.array([2.0, 2.0]), jnp.array([-2.0, -2.0]))
    >>> print(f"{loss[0]:.4f}")  # 2 softplus(4): the fakes look far less real than the data
    8.0363

  References:
    Jolicoeur-Martineau, "The relativistic discriminator: a key element
    missing from standard GAN", ICLR 2019, Section 4.3 (RaSGAN).
  """
  real_logits, fake_logits = _relativistic_average_logits(
      "relativistic_average_generator_loss", real_logits, fake_logits, axis
  )
  return _relativistic_average_terms(fake_logits, real_logits, axis)
