"""Flax NNX models of jaxgen; importing this package registers every model family by name."""

from jaxgen.models._registry import ModelSpec
from jaxgen.models._registry import build_models
from jaxgen.models._registry import get_model_spec
from jaxgen.models._registry import model_names
from jaxgen.models._registry import register_model
from jaxgen.models.autoencoder import Autoencoder
from jaxgen.models.autoencoder import AutoencoderConfig
from jaxgen.models.conv_vae import ConvVAE
from jaxgen.models.conv_vae import ConvVAEConfig
from jaxgen.models.dcgan import DCGANConfig
from jaxgen.models.dcgan import DCGANDiscriminator
from jaxgen.models.dcgan import DCGANGenerator
from jaxgen.models.gan_mlp import GANMLPConfig
from jaxgen.models.gan_mlp import MaxoutDiscriminator
from jaxgen.models.gan_mlp import MLPGenerator
from jaxgen.models.layers import Maxout
from jaxgen.models.toy_gan import ToyDiscriminator
from jaxgen.models.toy_gan import ToyGANConfig
from jaxgen.models.toy_gan import ToyGenerator
from jaxgen.models.vae import VAE
from jaxgen.models.vae import VAEConfig
from jaxgen.models.vae_objectives import autoencoder_objective
from jaxgen.models.vae_objectives import negative_elbo_objective

__all__ = [
    "VAE",
    "Autoencoder",
    "AutoencoderConfig",
    "ConvVAE",
    "ConvVAEConfig",
    "DCGANConfig",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "GANMLPConfig",
    "MLPGenerator",
    "Maxout",
    "MaxoutDiscriminator",
    "ModelSpec",
    "ToyDiscriminator",
    "ToyGANConfig",
    "ToyGenerator",
    "VAEConfig",
    "autoencoder_objective",
    "build_models",
    "get_model_spec",
    "model_names",
    "negative_elbo_objective",
    "register_model",
]
