"""Class-conditional DCGAN: G(z, y) and D(x, y) with concat, cBN, AC and projection conditioning.

The trunk is DCGAN's (:mod:`jaxgen.models.dcgan`, Radford et al. 2015); only the
way the label y in {0, ..., K - 1} enters changes. Generator
(``generator_conditioning``):

* ``"concat"``: G(z, y) = DCGAN_G([z, onehot(y)]) (Mirza & Osindero 2014);
* ``"cbn"``: every batch norm of G is a :class:`ConditionalBatchNorm`,
  gamma_y * BN(h) + beta_y (Dumoulin et al. 2017; de Vries et al. 2017);
* ``"none"``: G(z) = DCGAN_G(z), y ignored (the unconditional baseline with the
  same architecture; with the same ``rngs`` its parameters are DCGAN's).

Discriminator: phi(x) in R^F is the global *sum* pool of DCGAN's last activated
convolutional map (as the projection discriminator's reference code does), and
psi(phi) = w^T phi + b; the heads (``discriminator_head``) differ only in how y
enters:

* ``"concat"``: logits = psi(phi([x, onehot(y)])), the one-hot broadcast over
  H x W and stacked on the image channels (Mirza & Osindero's y input to D, in
  convolutional form);
* ``"ac"``: logits = psi(phi(x)), class_logits = V phi(x) + c (AC-GAN, Odena et
  al. 2017, Section 3: both the source and the class are predicted);
* ``"projection"``: logits = psi(phi(x)) + embed(y)^T phi(x) (Miyato & Koyama
  2018, eq. 3);
* ``"none"``: logits = psi(phi(x)), unconditional.

With ``spectral_norm`` every convolution, linear layer and the projection
embedding of D is divided by its largest singular value (Miyato et al. 2018;
the embedding as their ``SNEmbedID``), G is left as it is.

References:
  Radford, Metz, Chintala. "Unsupervised Representation Learning with Deep
  Convolutional Generative Adversarial Networks", 2015.
  Mirza, Osindero. "Conditional Generative Adversarial Nets", 2014.
  Odena, Olah, Shlens. "Conditional Image Synthesis with Auxiliary Classifier
  GANs", ICML 2017.
  Miyato, Koyama. "cGANs with Projection Discriminator", ICLR 2018.
  Miyato, Kataoka, Koyama, Yoshida. "Spectral Normalization for Generative
  Adversarial Networks", ICLR 2018.
  Dumoulin, Shlens, Kudlur. "A Learned Representation for Artistic Style",
  ICLR 2017. de Vries et al. "Modulating early visual processing by language",
  NeurIPS 2017.
"""

from __future__ import annotations

import dataclasses
import difflib
import numbers

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

import jaxgen.nn

from jaxgen.models import _registry
from jaxgen.models._latent import sample_labels
from jaxgen.models._precision import compute_dtype, to_float32
from jaxgen.models._registry import register_model
from jaxgen.models.dcgan import DCGANConfig, _batch_norm, _conv, to_model_range, to_unit_range

__all__ = [
    "CGANConfig",
    "ConditionalBatchNorm",
    "ConditionalDiscriminator",
    "ConditionalGenerator",
    "build",
    "hparams_from_config",
    "sample",
    "sample_generator",
    "to_model_range",
    "to_unit_range",
]

GENERATOR_CONDITIONINGS = ("concat", "cbn", "none")
DISCRIMINATOR_HEADS = ("concat", "ac", "projection", "none")
DISCRIMINATOR_NORMS = ("batch", "none")
DISCRIMINATOR_POOLINGS = ("flatten", "sum")


def _check_choice(field: str, value, choices: tuple[str, ...]) -> None:
  if value not in choices:
    close = difflib.get_close_matches(str(value), choices, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise ValueError(f"unknown {field} {value!r}.{hint} Choose one of {', '.join(choices)}.")


@dataclasses.dataclass(frozen=True)
class CGANConfig(DCGANConfig):
  """Hyperparameters of the conditional DCGAN: :class:`DCGANConfig`'s trunk plus the conditioning.

  The resolution rule (``num_upsamplings``, ``base``) is DCGAN's.
  """

  num_classes: int = 10
  # How y enters G: "concat" (z ++ onehot(y)), "cbn" (conditional batch norm) or "none".
  generator_conditioning: str = "cbn"
  # How y enters D: "concat" (one-hot image channels), "ac" (class logits), "projection" or "none".
  discriminator_head: str = "projection"
  # Batch norm after every convolution of D but the first ("batch") or no norm ("none").
  discriminator_norm: str = "batch"
  # Spectral normalisation of every layer of D (convolutions, linears, the projection embedding).
  spectral_norm: bool = False
  # phi(x) from D's last map: "flatten" (DCGAN's D: where a stroke is stays known) or "sum" (global sum
  # pooling, the projection discriminator's deep ResNet; after DCGAN's two or three convolutions it
  # keeps too little of the layout to tell digits apart, measured on the 8x8 digits).
  discriminator_pooling: str = "flatten"

  def __post_init__(self):
    _check_choice("generator_conditioning", self.generator_conditioning, GENERATOR_CONDITIONINGS)
    _check_choice("discriminator_head", self.discriminator_head, DISCRIMINATOR_HEADS)
    _check_choice("discriminator_norm", self.discriminator_norm, DISCRIMINATOR_NORMS)
    _check_choice("discriminator_pooling", self.discriminator_pooling, DISCRIMINATOR_POOLINGS)
    _check_choice("conv_impl", self.conv_impl, jaxgen.nn.IMPLS)
    for name in ("num_classes", "latent_dim", "features", "kernel_size"):
      value = getattr(self, name)
      if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not isinstance(self.spectral_norm, bool):
      raise ValueError(f"spectral_norm must be True or False, got {self.spectral_norm!r}")
    if not 0.0 <= self.batch_norm_momentum < 1.0:
      raise ValueError(f"batch_norm_momentum must lie in [0, 1), got {self.batch_norm_momentum}")
    super().__post_init__()


def _check_labels(y, batch: int, num_classes: int, where: str) -> None:
  """Static checks of a label batch (its values are checked by :func:`sample`, outside jit)."""
  if y is None:
    raise ValueError(f"{where} is class-conditional: pass integer labels y of shape ({batch},)")
  if tuple(y.shape) != (batch,):
    raise ValueError(f"{where}: labels y must have shape ({batch},), got {tuple(y.shape)}")
  if not jnp.issubdtype(y.dtype, jnp.integer):
    raise ValueError(f"{where}: labels y must be integers in [0, {num_classes}), got dtype {y.dtype}")


class ConditionalBatchNorm(nnx.Module):
  """Categorical conditional batch norm: gamma_y * (h - mu) / sqrt(sigma^2 + eps) + beta_y.

  mu, sigma^2 are the batch (training) or running (inference) statistics of a
  batch norm without its own affine; gamma_y and beta_y are rows y of two
  (num_classes, num_features) tables initialised to ones and zeros, so at
  initialisation the layer is a plain batch norm.

  Args:
    num_features: channels F (the last axis of the input).
    num_classes: number of labels K.
    momentum, epsilon, dtype: as ``nnx.BatchNorm``.
    rngs: draws nothing random (the tables are constant at init) but keeps the
      key stream of a plain ``nnx.BatchNorm`` (two draws).

  Example:
    >>> cbn = ConditionalBatchNorm(4, 3, rngs=nnx.Rngs(0))
    >>> cbn(jnp.ones((2, 5, 5, 4)), jnp.array([0, 2]), use_running_average=True).shape
    (2, 5, 5, 4)

  References:
    Dumoulin, Shlens, Kudlur, "A Learned Representation for Artistic Style",
    ICLR 2017 (conditional instance norm, eq. 5); de Vries et al.,
    "Modulating early visual processing by language", NeurIPS 2017;
    Miyato & Koyama, ICLR 2018, Section 4 ("categorical conditional BN").
  """

  def __init__(
      self,
      num_features: int,
      num_classes: int,
      *,
      momentum: float = 0.99,
      epsilon: float = 1e-5,
      dtype=None,
      rngs: nnx.Rngs,
  ):
    self.norm = nnx.BatchNorm(
        num_features, momentum=momentum, epsilon=epsilon, use_scale=False, use_bias=False, dtype=dtype, rngs=rngs
    )
    self.gain = nnx.Embed(num_classes, num_features, embedding_init=nnx.initializers.ones, dtype=dtype, rngs=rngs)
    self.bias = nnx.Embed(num_classes, num_features, embedding_init=nnx.initializers.zeros, dtype=dtype, rngs=rngs)

  def __call__(self, x: jax.Array, y: jax.Array, *, use_running_average: bool) -> jax.Array:
    """x (B, ..., F), y (B,) integer labels -> (B, ..., F)."""
    h = self.norm(x, use_running_average=use_running_average)
    shape = (x.shape[0],) + (1,) * (x.ndim - 2) + (x.shape[-1],)
    return h * self.gain(y).reshape(shape).astype(h.dtype) + self.bias(y).reshape(shape).astype(h.dtype)


class ConditionalGenerator(nnx.Module):
  """(z (B, latent_dim), y (B,)) -> images (B, H, W, C) in [-1, 1]; DCGAN's generator conditioned on y."""

  def __init__(self, hp: CGANConfig, *, rngs: nnx.Rngs):
    self.base = hp.base
    self.num_classes = hp.num_classes
    self.conditioning = hp.generator_conditioning
    num = hp.upsamplings
    channels = [hp.features * 2 ** (num - j) for j in range(num)]  # levels 0 .. L-1
    self.base_channels = channels[0]
    in_features = hp.latent_dim + (hp.num_classes if self.conditioning == "concat" else 0)
    self.project = nnx.Linear(
        in_features, hp.base**2 * channels[0], kernel_init=nnx.initializers.normal(hp.init_std),
        dtype=compute_dtype(hp.compute_dtype), rngs=rngs,
    )
    self.project_norm = self._norm(hp, channels[0], rngs)
    outs = channels[1:] + [hp.image_shape[-1]]
    self.convs = nnx.List([_conv(hp, a, b, transpose=True, rngs=rngs) for a, b in zip(channels, outs)])
    # No batch norm on the output layer (Radford et al., Section 3).
    self.norms = nnx.List([self._norm(hp, b, rngs) for b in outs[:-1]])

  @staticmethod
  def _norm(hp: CGANConfig, features: int, rngs: nnx.Rngs):
    if hp.generator_conditioning == "cbn":
      return ConditionalBatchNorm(
          features, hp.num_classes, momentum=hp.batch_norm_momentum, dtype=compute_dtype(hp.compute_dtype), rngs=rngs
      )
    return _batch_norm(hp, features, rngs)

  def _apply_norm(self, norm, h, y, train: bool):
    if self.conditioning == "cbn":
      return norm(h, y, use_running_average=not train)
    return norm(h, use_running_average=not train)

  def __call__(self, z: jax.Array, y: jax.Array | None, *, train: bool) -> jax.Array:
    """z (B, latent_dim), y (B,) integer labels (ignored, may be None, for "none") -> (B, H, W, C)."""
    if self.conditioning != "none":
      _check_labels(y, z.shape[0], self.num_classes, "ConditionalGenerator")
    if self.conditioning == "concat":
      z = jnp.concatenate([z, jax.nn.one_hot(y, self.num_classes, dtype=z.dtype)], axis=-1)
    h = self.project(z).reshape((z.shape[0], self.base, self.base, self.base_channels))
    h = jax.nn.relu(self._apply_norm(self.project_norm, h, y, train))
    for conv, norm in zip(self.convs[:-1], self.norms):
      h = jax.nn.relu(self._apply_norm(norm, conv(h), y, train))
    return jnp.tanh(to_float32(self.convs[-1](h)))


class ConditionalDiscriminator(nnx.Module):
  """(x (B, H, W, C) in [-1, 1], y (B,)) -> (logits (B,), class_logits (B, K) or None).

  logits = psi(phi) [+ embed(y)^T phi for "projection"], phi = the last
  leaky-ReLU map of DCGAN's convolutions flattened (or summed over H, W; the
  input carries one-hot label channels for "concat"); class_logits = V phi + c
  for "ac" only.
  """

  def __init__(self, hp: CGANConfig, *, rngs: nnx.Rngs):
    self.slope = hp.leaky_relu_slope
    self.num_classes = hp.num_classes
    self.head = hp.discriminator_head
    self.spectral_norm = hp.spectral_norm
    num = hp.upsamplings
    in_channels = hp.image_shape[-1] + (hp.num_classes if self.head == "concat" else 0)
    channels = [in_channels] + [hp.features * 2**i for i in range(num)]
    dtype = compute_dtype(hp.compute_dtype)
    init = nnx.initializers.normal(hp.init_std)
    sn = self._spectral_norm
    self.convs = nnx.List([
        sn(_conv(hp, a, b, transpose=False, rngs=rngs), rngs) for a, b in zip(channels[:-1], channels[1:])
    ])
    # No batch norm on the input layer (Radford et al., Section 3).
    self.norms = nnx.List([_batch_norm(hp, b, rngs) for b in channels[2:]] if hp.discriminator_norm == "batch" else [])
    self.pooling = hp.discriminator_pooling
    features = channels[-1] * (hp.base**2 if self.pooling == "flatten" else 1)
    self.psi = sn(nnx.Linear(features, 1, kernel_init=init, dtype=dtype, rngs=rngs), rngs)
    self.classifier = (
        sn(nnx.Linear(features, hp.num_classes, kernel_init=init, dtype=dtype, rngs=rngs), rngs)
        if self.head == "ac" else None
    )
    self.embed = (
        sn(nnx.Embed(hp.num_classes, features, embedding_init=init, dtype=dtype, rngs=rngs), rngs, "embedding")
        if self.head == "projection" else None
    )

  def _spectral_norm(self, layer, rngs: nnx.Rngs, param_name: str | None = None):
    if not self.spectral_norm:
      return layer
    return jaxgen.nn.SpectralNorm(layer, param_name=param_name, rngs=rngs)

  def _layer(self, layer, x: jax.Array, train: bool) -> jax.Array:
    # Power iteration (the u vector of spectral norm) advances only in training.
    return layer(x, update_stats=train) if self.spectral_norm else layer(x)

  def phi(self, x: jax.Array, y: jax.Array | None, *, train: bool) -> jax.Array:
    """phi(x) (B, F): the last activated map flattened or sum-pooled (y only used by the "concat" head)."""
    if self.head == "concat":
      _check_labels(y, x.shape[0], self.num_classes, "ConditionalDiscriminator")
      onehot = jax.nn.one_hot(y, self.num_classes, dtype=x.dtype)[:, None, None, :]
      x = jnp.concatenate([x, jnp.broadcast_to(onehot, x.shape[:3] + (self.num_classes,))], axis=-1)
    h = jax.nn.leaky_relu(self._layer(self.convs[0], x, train), self.slope)
    for i, conv in enumerate(self.convs[1:]):
      h = self._layer(conv, h, train)
      if self.norms:
        h = self.norms[i](h, use_running_average=not train)
      h = jax.nn.leaky_relu(h, self.slope)
    return h.reshape((h.shape[0], -1)) if self.pooling == "flatten" else jnp.sum(h, axis=(1, 2))

  def __call__(
      self, x: jax.Array, y: jax.Array | None, *, train: bool, key: jax.Array | None = None
  ) -> tuple[jax.Array, jax.Array | None]:
    """x (B, H, W, C), y (B,) integer labels (unused, may be None, for "ac" and "none")."""
    del key  # no dropout
    if self.head == "projection":
      _check_labels(y, x.shape[0], self.num_classes, "ConditionalDiscriminator")
    phi = self.phi(x, y, train=train)
    logits = to_float32(self._layer(self.psi, phi, train))[:, 0]
    if self.head == "projection":
      # Miyato & Koyama (2018), eq. 3: the class enters through an inner product with phi(x).
      logits = logits + jnp.sum(to_float32(self._layer(self.embed, y, train)) * to_float32(phi), axis=-1)
    class_logits = to_float32(self._layer(self.classifier, phi, train)) if self.head == "ac" else None
    return logits, class_logits


def hparams_from_config(config) -> CGANConfig:
  """The model's hyperparameters from ``config.model`` (its ``name`` key aside)."""
  return _registry.hparams_from_config(CGANConfig, config.model, family="cgan")


def build(config, rngs: nnx.Rngs) -> dict[str, nnx.Module]:
  """{"generator": ConditionalGenerator, "discriminator": ConditionalDiscriminator} from ``config.model``."""
  hp = hparams_from_config(config)
  return {"generator": ConditionalGenerator(hp, rngs=rngs), "discriminator": ConditionalDiscriminator(hp, rngs=rngs)}


def sample(models, key: jax.Array, num: int, config, labels=None) -> np.ndarray:
  """``num`` images (num, H, W, C) in [0, 1] of G(z, y), z ~ N(0, I), batch norm in inference mode.

  ``labels`` (num,) integers in [0, num_classes); by default ``arange(num) %
  num_classes``, a balanced grid whose rows are the classes when shown
  ``num_classes`` to a row.
  """
  return sample_generator(models["generator"], hparams_from_config(config), key, num, labels)


def sample_generator(generator: ConditionalGenerator, hp: CGANConfig, key: jax.Array, num: int,
                     labels=None) -> np.ndarray:
  """G(z, y) in [0, 1] for ``labels`` (checked; default a grid), z ~ N(0, I) from ``key``, inference mode."""
  labels = sample_labels(labels, num, hp.num_classes)
  z = jax.random.normal(key, (num, hp.latent_dim))
  return np.asarray(to_unit_range(generator(z, jnp.asarray(labels, jnp.int32), train=False)))


register_model("cgan", build, sample, hparams=CGANConfig)
