"""Flax NNX models of jaxgen; importing this package registers every model family by name.

Families: "vae", "conv_vae", "autoencoder", "lenet", "gan_mlp", "toy_gan", "gan_1d", "dcgan", "cgan", "age_cgan"
(the cgan generator and Age-cGAN's encoder), "biggan", "stylegan2", "stackgan" (StackGAN's two stages; sampled from captions), and the image-to-image "pix2pix" (U-Net generator, conditional PatchGAN) and "cyclegan" (two ResNet
generators, two PatchGANs), which register a ``translate`` instead of a ``sample``.
"""

from jaxgen.models._registry import ModelSpec
from jaxgen.models._registry import build_models
from jaxgen.models._registry import get_model_spec
from jaxgen.models._registry import hparams_from_config
from jaxgen.models._registry import model_hparams
from jaxgen.models._registry import model_names
from jaxgen.models._registry import register_model
from jaxgen.models._registry import translate_images
from jaxgen.models.age_cgan import AgeCGANConfig
from jaxgen.models.age_cgan import LatentEncoder
from jaxgen.models.autoencoder import Autoencoder
from jaxgen.models.autoencoder import AutoencoderConfig
from jaxgen.models.biggan import BigGANConfig
from jaxgen.models.biggan import BigGANDiscriminator
from jaxgen.models.biggan import BigGANGenerator
from jaxgen.models.cgan import CGANConfig
from jaxgen.models.cgan import ConditionalBatchNorm
from jaxgen.models.cgan import ConditionalDiscriminator
from jaxgen.models.cgan import ConditionalGenerator
from jaxgen.models.conv_vae import ConvVAE
from jaxgen.models.conv_vae import ConvVAEConfig
from jaxgen.models.cyclegan import CycleGANConfig
from jaxgen.models.cyclegan import ResnetGenerator
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
from jaxgen.models.patchgan import PatchDiscriminator
from jaxgen.models.patchgan import receptive_field
from jaxgen.models.pix2pix import Pix2PixConfig
from jaxgen.models.pix2pix import Pix2PixDiscriminator
from jaxgen.models.pix2pix import UNetGenerator
from jaxgen.models.stackgan import StackGANConfig
from jaxgen.models.stackgan import Stage1Discriminator
from jaxgen.models.stackgan import Stage1Generator
from jaxgen.models.stackgan import Stage2Discriminator
from jaxgen.models.stackgan import Stage2Generator
from jaxgen.models.stylegan2 import StyleGAN2Config
from jaxgen.models.stylegan2 import StyleGAN2Discriminator
from jaxgen.models.stylegan2 import StyleGAN2Generator
from jaxgen.models.toy_gan import ToyDiscriminator
from jaxgen.models.toy_gan import ToyGANConfig
from jaxgen.models.toy_gan import ToyGenerator
from jaxgen.models.vae import VAE
from jaxgen.models.vae import VAEConfig

__all__ = [
    "VAE",
    "AgeCGANConfig",
    "LatentEncoder",
    "Autoencoder",
    "AutoencoderConfig",
    "BigGANConfig",
    "BigGANDiscriminator",
    "BigGANGenerator",
    "CGANConfig",
    "ConditionalBatchNorm",
    "ConditionalDiscriminator",
    "ConditionalGenerator",
    "ConvVAE",
    "ConvVAEConfig",
    "CycleGANConfig",
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
    "PatchDiscriminator",
    "Pix2PixConfig",
    "Pix2PixDiscriminator",
    "ResnetGenerator",
    "StackGANConfig",
    "Stage1Discriminator",
    "Stage1Generator",
    "Stage2Discriminator",
    "Stage2Generator",
    "StyleGAN2Config",
    "StyleGAN2Discriminator",
    "StyleGAN2Generator",
    "ToyDiscriminator",
    "ToyGANConfig",
    "ToyGenerator",
    "UNetGenerator",
    "VAEConfig",
    "build_models",
    "get_model_spec",
    "hparams_from_config",
    "model_hparams",
    "model_names",
    "receptive_field",
    "register_model",
    "translate_images",
]
