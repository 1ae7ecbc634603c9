"""Training objectives of every family, and the contract they share with ``jaxgen.train``.

An objective is ``objective(models, ctx) -> (loss, metrics[, new_aux])``
(:class:`Context`); an :class:`Update` says which networks it moves, how often
and how many times per step; a :class:`Forward` computes outputs the updates
after it share. A family is a set of networks (``jaxgen.models``)
plus a function returning its list of updates.
"""

from jaxgen.objectives._core import Context
from jaxgen.objectives._core import Forward
from jaxgen.objectives._core import Objective
from jaxgen.objectives._core import Update
from jaxgen.objectives._encoder import latent_regression_objective
from jaxgen.objectives._gan import GAN_LOSSES
from jaxgen.objectives._gan import GANLoss
from jaxgen.objectives._gan import check_gan_loss
from jaxgen.objectives._gan import discriminator_update_against
from jaxgen.objectives._gan import gan_updates
from jaxgen.objectives._pool import image_pool_init
from jaxgen.objectives._pool import image_pool_query
from jaxgen.objectives._stackgan import mismatched_texts
from jaxgen.objectives._stackgan import stackgan_updates
from jaxgen.objectives._stylegan2 import lazy_adam_hyperparameters
from jaxgen.objectives._stylegan2 import stylegan2_aux_init
from jaxgen.objectives._stylegan2 import stylegan2_updates
from jaxgen.objectives._translation import TRANSLATION_LOSSES
from jaxgen.objectives._translation import cyclegan_aux_init
from jaxgen.objectives._translation import cyclegan_updates
from jaxgen.objectives._translation import mean_absolute_error
from jaxgen.objectives._translation import pix2pix_updates
from jaxgen.objectives._vae import autoencoder_objective
from jaxgen.objectives._vae import negative_elbo_objective

__all__ = [
    "GAN_LOSSES",
    "TRANSLATION_LOSSES",
    "GANLoss",
    "Context",
    "Forward",
    "Objective",
    "Update",
    "autoencoder_objective",
    "check_gan_loss",
    "cyclegan_aux_init",
    "cyclegan_updates",
    "discriminator_update_against",
    "gan_updates",
    "image_pool_init",
    "image_pool_query",
    "latent_regression_objective",
    "lazy_adam_hyperparameters",
    "mean_absolute_error",
    "mismatched_texts",
    "negative_elbo_objective",
    "pix2pix_updates",
    "stackgan_updates",
    "stylegan2_aux_init",
    "stylegan2_updates",
]
