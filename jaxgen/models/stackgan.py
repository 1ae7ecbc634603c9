"""StackGAN v1's networks at digit scale (Zhang et al. 2017): conditioning augmentation, Stage-I and Stage-II.

Layer for layer after the PyTorch reference (hanzhanggit/StackGAN-Pytorch,
``code/model.py``), with the sides scaled down: Stage-I draws a side/2 image
from (z, c) (the reference: 64x64), Stage-II redraws it at the full side from
the Stage-I image and the text again, without z (the reference: 256x256).

* Stage-I G: [z, c] -> linear (no bias) -> BatchNorm -> ReLU -> 4x4 map of
  8 gf_dim channels -> up-blocks (nearest 2x, 3x3 conv, BatchNorm, ReLU),
  halving the channels, to side/2 -> 3x3 conv -> tanh.
* Stage-II G: the Stage-I image -> 3x3 conv, ReLU, then two 4x4 stride-2
  convolutions with BatchNorm and ReLU (to side/8) -> [., c replicated] ->
  3x3 conv, BatchNorm, ReLU -> ``r_num`` residual blocks -> up-blocks to the
  full side -> 3x3 conv -> tanh.
* Discriminators: 4x4 stride-2 convolutions with leaky ReLU (BatchNorm after
  all but the first), doubling the channels, down to a 4x4 map (Stage-II adds
  two 3x3 convolutions, as the reference); the conditional logit is
  [map, c replicated 4x4] -> 3x3 conv, BatchNorm, leaky ReLU -> a 4x4 conv of
  stride 4 to one number; Stage-II's D adds an unconditional logit (a 4x4
  conv of the map alone). Logits, not the reference's sigmoids: the losses
  take logits.

Every convolution is bias-free and initialised N(0, 0.02), BatchNorm scales
N(1, 0.02), as the reference's ``weights_init``.

A text embedding phi_t is mapped by one fully connected layer and a
non-linearity to 2 C numbers; the first C are the mean mu, the last C the
log-variance log sigma^2 of a Gaussian N(mu, diag(sigma^2)), and the
condition the generators see is a sample of it, c = mu + sigma * eps with
eps ~ N(0, I). Sampling c around mu, with KL(N(mu, sigma^2) || N(0, I))
added to the generator's loss, smooths the conditioning manifold and gives
more variety for one caption (the paper's ablation, its Table 2 and Fig. 7).

Conventions (recorded because ports differ): the PyTorch reference
(hanzhanggit/StackGAN-Pytorch, ``CA_NET``) applies ReLU before the split and
reads the second half as log-variance, as here; the TensorFlow original
applies a leaky ReLU and reads log sigma. The KL is summed over the C
coordinates of each example (``jaxgen.losses.gaussian_kl``); the paper
weights it by lambda = 1, the reference code by ``COEFF.KL`` = 2 on the KL
*averaged* over batch and coordinates, i.e. 2 / C per example's sum (2 / 128
at C = 128).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

import jaxgen.nn
from jaxgen import data
from jaxgen.models import _registry
from jaxgen.models._registry import register_model

__all__ = ["ConditioningAugmentation", "StackGANConfig", "Stage1Discriminator", "Stage1Generator",
           "Stage2Discriminator", "Stage2Generator", "build", "embed_captions", "generate", "generate_jit",
           "hparams_from_config", "sample"]

ACTIVATIONS = {"relu": jax.nn.relu, "leaky_relu": lambda h: jax.nn.leaky_relu(h, 0.2)}


class ConditioningAugmentation(nnx.Module):
  """phi_t (B, embedding_dim) -> (c, mu, logvar), each (B, condition_dim)."""

  def __init__(self, embedding_dim: int, condition_dim: int, *, activation: str = "relu", rngs: nnx.Rngs):
    for name, value in (("embedding_dim", embedding_dim), ("condition_dim", condition_dim)):
      if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if activation not in ACTIVATIONS:
      raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
    self.condition_dim = int(condition_dim)
    self.activation = activation
    self.fc = nnx.Linear(int(embedding_dim), 2 * self.condition_dim, rngs=rngs)

  def __call__(self, phi: jax.Array, *, key: jax.Array | None = None) -> tuple[jax.Array, jax.Array, jax.Array]:
    """c = mu + exp(logvar / 2) * eps with eps ~ N(0, I) from ``key``; c = mu without a key (deterministic)."""
    h = ACTIVATIONS[self.activation](self.fc(phi))
    mu, logvar = h[..., :self.condition_dim], h[..., self.condition_dim:]
    if key is None:
      return mu, mu, logvar
    return mu + jnp.exp(0.5 * logvar) * jax.random.normal(key, mu.shape, mu.dtype), mu, logvar


@dataclasses.dataclass(frozen=True)
class StackGANConfig:
  """Hyperparameters of both stages (the reference's names in brackets)."""

  image_shape: tuple[int, int, int] = (32, 32, 1)  # Stage-II's output; Stage-I draws half the side
  embedding_dim: int = 64  # phi_t [TEXT.DIMENSION]
  condition_dim: int = 128  # c [GAN.CONDITION_DIM]
  latent_dim: int = 100  # z [Z_DIM]
  gf_dim: int = 16  # [GAN.GF_DIM]: Stage-I starts at 8 gf_dim channels, Stage-II's encoder at gf_dim
  df_dim: int = 16  # [GAN.DF_DIM]
  r_num: int = 2  # Stage-II's residual blocks [GAN.R_NUM]
  ca_activation: str = "relu"
  batch_norm_momentum: float = 0.9  # PyTorch's momentum 0.1
  conv_impl: str = "auto"
  # Which networks a run trains: 1, Stage-I's G and D; 2, Stage-II's G and D beside the frozen Stage-I G.
  stage: int = 1
  # False: the ablation without CA, c = mu (no noise; the objective then adds no KL).
  conditioning_augmentation: bool = True
  # Seed of the fixed bag-of-words word vectors (jaxgen.data.bag_of_words_embedding): the text encoder.
  word_vector_seed: int = 0

  def __post_init__(self):
    side = self.image_shape[0]
    if len(self.image_shape) != 3 or self.image_shape[1] != side or side < 16 or side & (side - 1):
      raise ValueError(f"image_shape must be square with a side a power of two >= 16, got {self.image_shape}")
    if self.stage not in (1, 2) or isinstance(self.stage, bool):
      raise ValueError(f"stage must be 1 or 2, got {self.stage!r}")
    if not isinstance(self.conditioning_augmentation, bool):
      raise ValueError(f"conditioning_augmentation must be true or false, got {self.conditioning_augmentation!r}")
    for name in ("embedding_dim", "condition_dim", "latent_dim", "gf_dim", "df_dim", "r_num"):
      value = getattr(self, name)
      if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")

  @property
  def stage1_shape(self) -> tuple[int, int, int]:
    return (self.image_shape[0] // 2, self.image_shape[1] // 2, self.image_shape[2])


def _conv(hp: StackGANConfig, a: int, b: int, kernel: int, stride: int, rngs: nnx.Rngs):
  # PyTorch's padding: 1 for the 3x3 (stride 1) and the 4x4 stride-2 convolutions, 0 for the 4x4 stride-4 one.
  padding = 0 if stride == 4 else 1
  return jaxgen.nn.Conv(a, b, (kernel, kernel), strides=(stride, stride), padding=padding, use_bias=False,
                        kernel_init=nnx.initializers.normal(0.02), impl=hp.conv_impl, rngs=rngs)


def _norm(hp: StackGANConfig, features: int, rngs: nnx.Rngs):
  return nnx.BatchNorm(features, momentum=hp.batch_norm_momentum, epsilon=1e-5,
                       scale_init=lambda key, shape, dtype: 1.0 + 0.02 * jax.random.normal(key, shape, dtype),
                       rngs=rngs)


def _upsample(x: jax.Array) -> jax.Array:
  return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)  # nearest, 2x


class _UpBlock(nnx.Module):
  def __init__(self, hp, a, b, rngs):
    self.conv, self.norm = _conv(hp, a, b, 3, 1, rngs), _norm(hp, b, rngs)

  def __call__(self, x, train: bool):
    return jax.nn.relu(self.norm(self.conv(_upsample(x)), use_running_average=not train))


class _ResBlock(nnx.Module):
  def __init__(self, hp, channels, rngs):
    self.conv1, self.norm1 = _conv(hp, channels, channels, 3, 1, rngs), _norm(hp, channels, rngs)
    self.conv2, self.norm2 = _conv(hp, channels, channels, 3, 1, rngs), _norm(hp, channels, rngs)

  def __call__(self, x, train: bool):
    h = jax.nn.relu(self.norm1(self.conv1(x), use_running_average=not train))
    return jax.nn.relu(x + self.norm2(self.conv2(h), use_running_average=not train))


def _replicate(c: jax.Array, side: int) -> jax.Array:
  return jnp.broadcast_to(c[:, None, None, :], (c.shape[0], side, side, c.shape[-1]))


class Stage1Generator(nnx.Module):
  """(phi_t (B, embedding_dim), z (B, latent_dim)) -> (image (B, side/2, side/2, C) in [-1, 1], mu, logvar)."""

  def __init__(self, hp: StackGANConfig, *, rngs: nnx.Rngs):
    self.hp = hp
    ngf = hp.gf_dim * 8
    self.ca = ConditioningAugmentation(hp.embedding_dim, hp.condition_dim, activation=hp.ca_activation, rngs=rngs)
    self.fc = nnx.Linear(hp.latent_dim + hp.condition_dim, ngf * 16, use_bias=False,
                         kernel_init=nnx.initializers.normal(0.02), rngs=rngs)
    self.fc_norm = _norm(hp, ngf * 16, rngs)
    channels = [ngf // 2**i for i in range(int(math.log2(hp.stage1_shape[0] // 4)) + 1)]
    self.ups = nnx.List([_UpBlock(hp, a, b, rngs) for a, b in zip(channels[:-1], channels[1:])])
    self.img = _conv(hp, channels[-1], hp.image_shape[-1], 3, 1, rngs)

  def __call__(self, phi, z, *, train: bool, key: jax.Array | None = None):
    c, mu, logvar = self.ca(phi, key=key)
    h = jax.nn.relu(self.fc_norm(self.fc(jnp.concatenate([z, c], axis=-1)), use_running_average=not train))
    h = h.reshape(h.shape[0], 4, 4, -1)  # PyTorch's view(-1, ngf, 4, 4) read channels-last: same information
    for up in self.ups:
      h = up(h, train)
    return jnp.tanh(self.img(h)), mu, logvar


class Stage2Generator(nnx.Module):
  """(Stage-I image (B, side/2, side/2, C), phi_t) -> (image (B, side, side, C) in [-1, 1], mu, logvar). No z."""

  def __init__(self, hp: StackGANConfig, *, rngs: nnx.Rngs):
    ngf, channels = hp.gf_dim, hp.image_shape[-1]
    self.ca = ConditioningAugmentation(hp.embedding_dim, hp.condition_dim, activation=hp.ca_activation, rngs=rngs)
    self.enc0 = _conv(hp, channels, ngf, 3, 1, rngs)
    self.enc1, self.enc1_norm = _conv(hp, ngf, ngf * 2, 4, 2, rngs), _norm(hp, ngf * 2, rngs)
    self.enc2, self.enc2_norm = _conv(hp, ngf * 2, ngf * 4, 4, 2, rngs), _norm(hp, ngf * 4, rngs)
    self.joint, self.joint_norm = _conv(hp, ngf * 4 + hp.condition_dim, ngf * 4, 3, 1, rngs), _norm(hp, ngf * 4, rngs)
    self.residual = nnx.List([_ResBlock(hp, ngf * 4, rngs) for _ in range(hp.r_num)])
    ups = int(math.log2(hp.image_shape[0] // (hp.stage1_shape[0] // 4)))
    widths = [max(ngf * 4 // 2**i, 1) for i in range(ups + 1)]
    self.ups = nnx.List([_UpBlock(hp, a, b, rngs) for a, b in zip(widths[:-1], widths[1:])])
    self.img = _conv(hp, widths[-1], channels, 3, 1, rngs)

  def __call__(self, stage1_image, phi, *, train: bool, key: jax.Array | None = None):
    x = jax.lax.stop_gradient(stage1_image)  # Stage-I is frozen: its output is an input here
    h = jax.nn.relu(self.enc0(x))
    h = jax.nn.relu(self.enc1_norm(self.enc1(h), use_running_average=not train))
    h = jax.nn.relu(self.enc2_norm(self.enc2(h), use_running_average=not train))
    c, mu, logvar = self.ca(phi, key=key)
    h = jnp.concatenate([h, _replicate(c, h.shape[1])], axis=-1)
    h = jax.nn.relu(self.joint_norm(self.joint(h), use_running_average=not train))
    for block in self.residual:
      h = block(h, train)
    for up in self.ups:
      h = up(h, train)
    return jnp.tanh(self.img(h)), mu, logvar


class _ConditionalLogits(nnx.Module):
  """[4x4 map, c replicated] -> 3x3 conv, BatchNorm, leaky ReLU -> 4x4 stride-4 conv -> (B,) (``D_GET_LOGITS``)."""

  def __init__(self, hp, features, rngs):
    self.conv, self.norm = _conv(hp, features + hp.condition_dim, features, 3, 1, rngs), _norm(hp, features, rngs)
    self.out = _conv(hp, features, 1, 4, 4, rngs)

  def __call__(self, h, c, train: bool):
    h = jnp.concatenate([h, _replicate(c, h.shape[1])], axis=-1)
    h = jax.nn.leaky_relu(self.norm(self.conv(h), use_running_average=not train), 0.2)
    return self.out(h).reshape(h.shape[0])


class _Encoder(nnx.Module):
  """Images -> a 4x4 map: 4x4 stride-2 convolutions, leaky ReLU, BatchNorm after all but the first."""

  def __init__(self, hp, side, rngs, *, extra: bool):
    n = int(math.log2(side // 4))
    widths = [hp.image_shape[-1]] + [hp.df_dim * 2**i for i in range(n)]
    self.convs = nnx.List([_conv(hp, a, b, 4, 2, rngs) for a, b in zip(widths[:-1], widths[1:])])
    self.norms = nnx.List([_norm(hp, b, rngs) for b in widths[2:]])
    # Stage-II's two 3x3 convolutions at 4x4 (to 16 df_dim, then 8 df_dim channels, as the reference).
    tail = [widths[-1], hp.df_dim * 16, hp.df_dim * 8] if extra else [widths[-1]]
    self.tail = nnx.List([_conv(hp, a, b, 3, 1, rngs) for a, b in zip(tail[:-1], tail[1:])])
    self.tail_norms = nnx.List([_norm(hp, b, rngs) for b in tail[1:]])
    self.features = tail[-1]

  def __call__(self, x, train: bool):
    h = jax.nn.leaky_relu(self.convs[0](x), 0.2)
    for conv, norm in zip(self.convs[1:], self.norms):
      h = jax.nn.leaky_relu(norm(conv(h), use_running_average=not train), 0.2)
    for conv, norm in zip(self.tail, self.tail_norms):
      h = jax.nn.leaky_relu(norm(conv(h), use_running_average=not train), 0.2)
    return h


class Stage1Discriminator(nnx.Module):
  """(image (B, side/2, side/2, C) in [-1, 1], c (B, condition_dim)) -> conditional logits (B,)."""

  def __init__(self, hp: StackGANConfig, *, rngs: nnx.Rngs):
    self.encode = _Encoder(hp, hp.stage1_shape[0], rngs, extra=False)
    self.cond = _ConditionalLogits(hp, self.encode.features, rngs)

  def __call__(self, x, c, *, train: bool) -> jax.Array:
    return self.cond(self.encode(x, train), c, train)


class Stage2Discriminator(nnx.Module):
  """(image (B, side, side, C), c) -> (conditional logits (B,), unconditional logits (B,))."""

  def __init__(self, hp: StackGANConfig, *, rngs: nnx.Rngs):
    self.encode = _Encoder(hp, hp.image_shape[0], rngs, extra=True)
    self.cond = _ConditionalLogits(hp, self.encode.features, rngs)
    self.uncond = _conv(hp, self.encode.features, 1, 4, 4, rngs)

  def __call__(self, x, c, *, train: bool) -> tuple[jax.Array, jax.Array]:
    h = self.encode(x, train)
    return self.cond(h, c, train), self.uncond(h).reshape(h.shape[0])


def hparams_from_config(config) -> StackGANConfig:
  """The model's hyperparameters from ``config.model`` (its ``name`` key aside)."""
  return _registry.hparams_from_config(StackGANConfig, config.model, family="stackgan")


def build(config, rngs: nnx.Rngs) -> dict[str, nnx.Module]:
  """Stage 1: {"generator", "discriminator"}; stage 2: theirs and "stage1", the Stage-I generator it builds on."""
  hp = hparams_from_config(config)
  if hp.stage == 1:
    return {"generator": Stage1Generator(hp, rngs=rngs), "discriminator": Stage1Discriminator(hp, rngs=rngs)}
  return {"generator": Stage2Generator(hp, rngs=rngs), "discriminator": Stage2Discriminator(hp, rngs=rngs),
          "stage1": Stage1Generator(hp, rngs=rngs)}


def embed_captions(captions, hp: StackGANConfig) -> np.ndarray:
  """phi_t (N, embedding_dim) of caption strings, with the run's word vectors; unknown words are a ValueError."""
  return data.bag_of_words_embedding(list(captions), dim=hp.embedding_dim, seed=hp.word_vector_seed)


def generate(models, hp: StackGANConfig, phi: jax.Array, key: jax.Array, *, final: bool = True) -> jax.Array:
  """Images in [-1, 1] for text embeddings ``phi`` (B, E), inference mode: Stage-I's at side/2, or the run's last
  stage's (``final``). CA draws c around mu when the run trained with it (the paper samples c at test time)."""
  z_key, k1, k2 = jax.random.split(key, 3)
  augment = hp.conditioning_augmentation
  z = jax.random.normal(z_key, (phi.shape[0], hp.latent_dim))
  first = models["generator"] if hp.stage == 1 else models["stage1"]
  low, _, _ = first(phi, z, train=False, key=k1 if augment else None)
  if hp.stage == 1 or not final:
    return low
  image, _, _ = models["generator"](low, phi, train=False, key=k2 if augment else None)
  return image


# ``generate`` compiled once for every caller (a new nnx.jit wrapper per call would compile again each time).
generate_jit = nnx.jit(generate, static_argnames=("hp", "final"))


def sample(models, key: jax.Array, num: int, config, captions=None) -> np.ndarray:
  """``num`` images (num, H, W, C) in [0, 1] for ``captions`` (strings, one per image; default: random digits and
  attributes, one digit per row of ten)."""
  hp = hparams_from_config(config)
  if captions is None:
    picks = np.asarray(jax.random.randint(jax.random.fold_in(key, 1), (num, 3), 0, 3))
    captions = [data.caption(i % 10, int(t), int(s), int(p)) for i, (t, s, p) in enumerate(picks)]
  if len(captions) != num:
    raise ValueError(f"{len(captions)} captions given for {num} samples")
  phi = jnp.asarray(embed_captions(captions, hp))
  image = generate_jit(models, hp, phi, key)
  return np.asarray((image + 1.0) / 2.0)


register_model("stackgan", build, sample, hparams=StackGANConfig)
