"""A LeNet-style classifier, the feature network of the sample-quality metrics.

Two convolutions and two dense layers, as LeNet-5 (LeCun et al. 1998) and
the Caffe/TensorFlow MNIST networks::

  x (B, H, W, C) -> [Conv k x k, 'SAME', ReLU, max-pool 2x2] x 2
                 -> flatten (B, (H // 4) (W // 4) channels[1])
                 -> Dense hidden_dim, ReLU          = features(x)  (B, hidden_dim)
                 -> dropout (training only) -> Dense num_classes = logits (B, num_classes)

'SAME' padding adapts the network to the input size: two poolings take 8x8
(scikit-learn digits) to 2x2, 28x28 (MNIST, Fashion-MNIST) to 7x7 and 32x32
(CIFAR-10, padded digits) to 8x8; only the first dense layer's width depends
on it. The penultimate activations are the features that Frechet distances and
precision/recall compare (the role of Inception's pool layer for ImageNet-like
data).

Registered as ``"lenet"``: ``config.model`` holds the fields of
:class:`LeNetConfig`, ``build`` returns ``{"classifier": LeNet}``; there is no
``sample`` (it is not a generative model). ``jaxgen.metrics.feature_network``
trains, gates and caches one per dataset.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from jaxgen.models._registry import hparams_from_config, register_model

# Two 2x2 poolings: inputs must be at least 4 pixels on each side.
_DOWNSAMPLING = 4


@dataclasses.dataclass(frozen=True)
class LeNetConfig:
  """Hyperparameters of the LeNet-style classifier.

  Attributes:
    image_shape: (H, W, C) of the inputs; H, W >= 4.
    num_classes: number of classes (logits).
    channels: feature maps of the two convolutions.
    kernel_size: side of both convolution kernels.
    hidden_dim: width of the penultimate dense layer, the feature dimension.
    dropout: probability of dropping a hidden unit in training (0: none).
  """

  image_shape: tuple[int, int, int] = (28, 28, 1)
  num_classes: int = 10
  channels: tuple[int, int] = (32, 64)
  kernel_size: int = 5
  hidden_dim: int = 256
  dropout: float = 0.5

  def __post_init__(self):
    shape = tuple(self.image_shape)
    if len(shape) != 3 or any(int(d) != d or d < 1 for d in shape):
      raise ValueError(f"image_shape must be (H, W, C) of positive integers, got {self.image_shape}.")
    if shape[0] < _DOWNSAMPLING or shape[1] < _DOWNSAMPLING:
      raise ValueError(f"image_shape {shape}: LeNet pools twice by 2, so H and W must be >= {_DOWNSAMPLING}.")
    if self.num_classes < 2:
      raise ValueError(f"num_classes must be >= 2, got {self.num_classes}.")
    if len(self.channels) != 2 or min(self.channels) < 1:
      raise ValueError(f"channels must be two positive integers (one per convolution), got {self.channels}.")
    if self.kernel_size < 1 or self.hidden_dim < 1:
      raise ValueError(f"kernel_size and hidden_dim must be >= 1, got {self.kernel_size} and {self.hidden_dim}.")
    if not 0.0 <= self.dropout < 1.0:
      raise ValueError(f"dropout must be in [0, 1), got {self.dropout}.")

  @classmethod
  def from_config(cls, model_config) -> "LeNetConfig":
    """Reads ``config.model``; unknown keys are an error."""
    return hparams_from_config(cls, model_config, family="lenet")

  @classmethod
  def for_images(cls, image_shape: tuple[int, int, int], num_classes: int) -> "LeNetConfig":
    """The default network for images of ``image_shape``: 5x5 kernels, 3x3 below 16 pixels a side.

    On 8x8 digits the second convolution sees a 4x4 map, which a 5x5 kernel
    would mostly cover with padding (and XLA's CPU backend ran the network's
    forward pass 40x slower with it: 57 ms vs 1.3 ms at batch 128).
    """
    small = min(image_shape[0], image_shape[1]) < 16
    return cls(image_shape=tuple(image_shape), num_classes=num_classes, kernel_size=3 if small else 5)

  @property
  def flat_dim(self) -> int:
    """Width of the flattened last feature map, the first dense layer's input."""
    h, w, _ = self.image_shape
    return (h // _DOWNSAMPLING) * (w // _DOWNSAMPLING) * self.channels[1]


def _max_pool_2x2(x: jax.Array) -> jax.Array:
  """Max over non-overlapping 2x2 windows, (B, H, W, C) -> (B, H // 2, W // 2, C) (an odd last row/column is dropped).

  A reshape and a max, not ``nnx.max_pool``: the gradient of XLA's windowed
  max (select-and-scatter) measured 4x slower on the CPU backend than that of
  a plain reduction (28x28x64, batch 128: 118 ms vs 26 ms).
  """
  b, h, w, c = x.shape
  x = x[:, :h - h % 2, :w - w % 2]
  return jnp.max(x.reshape(b, h // 2, 2, w // 2, 2, c), axis=(2, 4))


class LeNet(nnx.Module):
  """logits = W_2 relu(W_1 flatten(conv_block_2(conv_block_1(x)))): a LeNet-style classifier."""

  def __init__(self, cfg: LeNetConfig, *, rngs: nnx.Rngs):
    self.cfg = cfg
    k = (cfg.kernel_size, cfg.kernel_size)
    c_in = cfg.image_shape[-1]
    self.conv1 = nnx.Conv(c_in, cfg.channels[0], k, padding="SAME", rngs=rngs)
    self.conv2 = nnx.Conv(cfg.channels[0], cfg.channels[1], k, padding="SAME", rngs=rngs)
    self.hidden = nnx.Linear(cfg.flat_dim, cfg.hidden_dim, rngs=rngs)
    self.out = nnx.Linear(cfg.hidden_dim, cfg.num_classes, rngs=rngs)

  def _check_input(self, x: jax.Array) -> None:
    if x.ndim != 4 or tuple(x.shape[1:]) != tuple(self.cfg.image_shape):
      raise ValueError(
          f"LeNet takes images (B, {', '.join(map(str, self.cfg.image_shape))}), got shape {tuple(x.shape)}: "
          f"build it with image_shape={tuple(x.shape[1:])} or resize the images."
      )

  def features(self, x: jax.Array) -> jax.Array:
    """Penultimate activations ``(B, hidden_dim)`` of images ``(B, H, W, C)`` in [0, 1] (no dropout)."""
    self._check_input(x)
    h = x
    for conv in (self.conv1, self.conv2):
      h = _max_pool_2x2(jax.nn.relu(conv(h)))
    return jax.nn.relu(self.hidden(h.reshape(h.shape[0], -1)))

  def __call__(self, x: jax.Array, *, train: bool, key: jax.Array | None = None) -> jax.Array:
    """Logits ``(B, num_classes)`` of images ``(B, H, W, C)``; ``train`` applies dropout with ``key``."""
    h = self.features(x)
    if train and self.cfg.dropout > 0.0:
      if key is None:
        raise ValueError("LeNet uses dropout in training: pass key= when train=True (or build it with dropout=0).")
      keep = 1.0 - self.cfg.dropout
      # Inverted dropout: the kept units are scaled by 1 / keep so that evaluation needs no rescaling.
      h = jnp.where(jax.random.bernoulli(key, keep, h.shape), h / keep, 0.0)
    return self.out(h)


def build(config, rngs: nnx.Rngs) -> dict[str, nnx.Module]:
  return {"classifier": LeNet(LeNetConfig.from_config(config.model), rngs=rngs)}


register_model("lenet", build, hparams=LeNetConfig)
