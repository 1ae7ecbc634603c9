"""The experiments' training and evaluation, so that ``experiments/<name>/main.py`` is one call.

Above :mod:`jaxgen.train` in the layering: it uses the training core, the
models, metrics, data and pictures, and nothing in ``jaxgen`` imports it. An
experiment is ``experiments/<name>/config.py`` (``get_config(preset)``) and a
``main.py`` calling ``run_main(train_<family>, check_<family>_config,
config_file)``. Every experiment's config has one layout:

* ``seed``, and ``allow_config_change`` (resume a run whose config changed);
* ``data``: ``name``, ``data_dir`` (a placeholder; ``--data_dir`` sets it) and
  the data's options (``binarize``, ``num_valid``, ``num_train``, ``tasks``);
* ``model``: ``name`` and the family's hyperparameters, read by the model
  registry (``jaxgen.models.model_hparams``);
* ``train``: ``batch_size``, ``num_steps`` (``None``: ``num_epochs`` epochs),
  ``num_epochs``, the optimizer's fields (:func:`make_optimizer`), ``loss``,
  ``k``, ``ema_decay``, ``steps_per_call``, ``unroll_steps``,
  ``checkpoint_every``, ``checkpoint_every_minutes``, ``num_devices``
  (``None``: every accelerator), ``sample_every``, ...;
* ``eval``: the evaluation's settings.
"""

from jaxgen.experiment._common import OPTIMIZERS
from jaxgen.experiment._common import SCHEDULES
from jaxgen.experiment._common import USER_ERRORS
from jaxgen.experiment._common import base_config
from jaxgen.experiment._common import batch_shape_of
from jaxgen.experiment._common import check_experiment_config
from jaxgen.experiment._common import define_flags
from jaxgen.experiment._common import learning_rate_schedule
from jaxgen.experiment._common import make_optimizer
from jaxgen.experiment._common import num_epochs_of
from jaxgen.experiment._common import num_steps_of
from jaxgen.experiment._common import run_from_config
from jaxgen.experiment._common import run_main
from jaxgen.experiment._common import steady_speed
from jaxgen.experiment._age_cgan import check_age_cgan_config
from jaxgen.experiment._age_cgan import train_age_cgan
from jaxgen.experiment._biggan import check_biggan_config
from jaxgen.experiment._biggan import train_biggan
from jaxgen.experiment._cgan import check_cgan_config
from jaxgen.experiment._cgan import train_cgan
from jaxgen.experiment._cyclegan import check_cyclegan_config
from jaxgen.experiment._cyclegan import train_cyclegan
from jaxgen.experiment._gan import check_gan_config
from jaxgen.experiment._gan import dcgan_config
from jaxgen.experiment._gan import train_dcgan
from jaxgen.experiment._gan import train_gan_mnist
from jaxgen.experiment._loss_study import check_loss_study_config
from jaxgen.experiment._loss_study import train_loss_study
from jaxgen.experiment._pix2pix import check_pix2pix_config
from jaxgen.experiment._pix2pix import run_names as pix2pix_run_names
from jaxgen.experiment._pix2pix import train_pix2pix
from jaxgen.experiment._stackgan import check_stackgan_config
from jaxgen.experiment._stackgan import train_stackgan
from jaxgen.experiment._stylegan import check_stylegan_config
from jaxgen.experiment._stylegan import train_stylegan
from jaxgen.experiment._theory import check_gan_theory_config
from jaxgen.experiment._theory import train_gan_theory
from jaxgen.experiment._toy import PAPER_TABLE_1
from jaxgen.experiment._toy import TOY_DATASETS
from jaxgen.experiment._toy import check_gan_toy_config
from jaxgen.experiment._toy import format_table
from jaxgen.experiment._toy import summarize
from jaxgen.experiment._toy import train_gan_toy
from jaxgen.experiment._vae import AUTOENCODER_LOSSES
from jaxgen.experiment._vae import check_autoencoder_config
from jaxgen.experiment._vae import check_vae_config
from jaxgen.experiment._vae import train_autoencoder
from jaxgen.experiment._vae import train_vae

__all__ = [
    "AUTOENCODER_LOSSES",
    "OPTIMIZERS",
    "PAPER_TABLE_1",
    "SCHEDULES",
    "TOY_DATASETS",
    "USER_ERRORS",
    "base_config",
    "batch_shape_of",
    "check_autoencoder_config",
    "check_age_cgan_config",
    "check_biggan_config",
    "check_stackgan_config",
    "check_stylegan_config",
    "check_cgan_config",
    "check_cyclegan_config",
    "check_experiment_config",
    "check_gan_config",
    "check_gan_theory_config",
    "check_gan_toy_config",
    "check_loss_study_config",
    "check_pix2pix_config",
    "check_vae_config",
    "dcgan_config",
    "define_flags",
    "format_table",
    "learning_rate_schedule",
    "make_optimizer",
    "num_epochs_of",
    "num_steps_of",
    "pix2pix_run_names",
    "run_from_config",
    "run_main",
    "steady_speed",
    "summarize",
    "train_autoencoder",
    "train_age_cgan",
    "train_biggan",
    "train_cgan",
    "train_cyclegan",
    "train_dcgan",
    "train_gan_mnist",
    "train_gan_theory",
    "train_gan_toy",
    "train_loss_study",
    "train_pix2pix",
    "train_stackgan",
    "train_stylegan",
    "train_vae",
]
