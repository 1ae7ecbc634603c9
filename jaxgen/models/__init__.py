"""Flax NNX models of jaxgen; importing this package registers every model family by name."""

from jaxgen.models._registry import ModelSpec
from jaxgen.models._registry import build_models
from jaxgen.models._registry import get_model_spec
from jaxgen.models._registry import hparams_from_config
from jaxgen.models._registry import model_hparams
from jaxgen.models._registry import model_names
from jaxgen.models._registry import register_model
from jaxgen.models.autoencoder import Autoencoder
from jaxgen.models.autoencoder import AutoencoderConfig
from jaxgen.models.cgan import CGANConfig
from jaxgen.models.cgan import ConditionalBatchNorm
from jaxgen.models.cgan import ConditionalDiscriminator
from jaxgen.models.cgan import ConditionalGenerator
from jaxgen.models.conv_vae import ConvVAE
from jaxgen.models.conv_vae import ConvVAEConfig
from jaxgen.models.dcgan import DCGANConfig
from jaxgen.models.dcgan import DCGANDiscriminator
from jaxgen.models.dcgan import DCGANGenerator
from jaxgen.models.gan_1d import Discriminator1D
from jaxgen.models.gan_1d import GAN1DConfig
from jaxgen.models.gan_1d import Generator1D
from jaxgen.models.gan_mlp import GANMLPConfig
from jaxgen.models.gan_mlp import MaxoutDiscriminator
from jaxgen.models.gan_mlp import MLPGenerator
from jaxgen.models.layers import Maxout
from jaxgen.models.lenet import LeNet
from jaxgen.models.lenet import LeNetConfig
from jaxgen.models.toy_gan import ToyDiscriminator
from jaxgen.models.toy_gan import ToyGANConfig
from jaxgen.models.toy_gan import ToyGenerator
from jaxgen.models.vae import VAE
from jaxgen.models.vae import VAEConfig

__all__ = [
    "VAE",
    "Autoencoder",
    "AutoencoderConfig",
    "CGANConfig",
    "ConditionalBatchNorm",
    "ConditionalDiscriminator",
    "ConditionalGenerator",
    "ConvVAE",
    "ConvVAEConfig",
    "DCGANConfig",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "Discriminator1D",
    "GAN1DConfig",
    "GANMLPConfig",
    "Generator1D",
    "LeNet",
    "LeNetConfig",
    "MLPGenerator",
    "Maxout",
    "MaxoutDiscriminator",
    "ModelSpec",
    "ToyDiscriminator",
    "ToyGANConfig",
    "ToyGenerator",
    "VAEConfig",
    "build_models",
    "get_model_spec",
    "hparams_from_config",
    "model_hparams",
    "model_names",
    "register_model",
]
