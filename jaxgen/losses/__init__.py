"""Losses and divergences for generative models, as pure per-example JAX functions."""

from jaxgen.losses._divergences import gaussian_kl
from jaxgen.losses._divergences import js_divergence
from jaxgen.losses._divergences import kl_divergence
from jaxgen.losses._divergences import monte_carlo_kl
from jaxgen.losses._elbo import elbo
from jaxgen.losses._elbo import iwae_bound
from jaxgen.losses._gan import gan_value_from_densities
from jaxgen.losses._gan import gan_value_from_samples
from jaxgen.losses._gan import hinge_discriminator_loss
from jaxgen.losses._gan import hinge_generator_loss
from jaxgen.losses._gan import least_squares_discriminator_loss
from jaxgen.losses._gan import least_squares_generator_loss
from jaxgen.losses._gan import minimax_discriminator_loss
from jaxgen.losses._gan import minimax_generator_loss
from jaxgen.losses._gan import non_saturating_generator_loss
from jaxgen.losses._gan import optimal_discriminator
from jaxgen.losses._gan import optimal_discriminator_logit
from jaxgen.losses._gan import relativistic_average_discriminator_loss
from jaxgen.losses._gan import relativistic_average_generator_loss
from jaxgen.losses._gan import wasserstein_discriminator_loss
from jaxgen.losses._gan import wasserstein_generator_loss
from jaxgen.losses._likelihoods import bernoulli_log_likelihood
from jaxgen.losses._likelihoods import gaussian_log_likelihood
from jaxgen.losses._likelihoods import gaussian_mixture_log_likelihood
from jaxgen.losses._likelihoods import reconstruction_loss
from jaxgen.losses._penalties import gradient_penalty
from jaxgen.losses._penalties import orthogonal_regularization
from jaxgen.losses._penalties import orthogonal_regularization_tree
from jaxgen.losses._penalties import path_lengths
from jaxgen.losses._penalties import r1_penalty
from jaxgen.losses._penalties import r2_penalty

__all__ = (
    "bernoulli_log_likelihood",
    "elbo",
    "gan_value_from_densities",
    "gan_value_from_samples",
    "gaussian_kl",
    "gaussian_log_likelihood",
    "gaussian_mixture_log_likelihood",
    "gradient_penalty",
    "hinge_discriminator_loss",
    "hinge_generator_loss",
    "iwae_bound",
    "js_divergence",
    "kl_divergence",
    "least_squares_discriminator_loss",
    "least_squares_generator_loss",
    "minimax_discriminator_loss",
    "minimax_generator_loss",
    "monte_carlo_kl",
    "non_saturating_generator_loss",
    "optimal_discriminator",
    "optimal_discriminator_logit",
    "orthogonal_regularization",
    "orthogonal_regularization_tree",
    "path_lengths",
    "r1_penalty",
    "r2_penalty",
    "reconstruction_loss",
    "relativistic_average_discriminator_loss",
    "relativistic_average_generator_loss",
    "wasserstein_discriminator_loss",
    "wasserstein_generator_loss",
)
