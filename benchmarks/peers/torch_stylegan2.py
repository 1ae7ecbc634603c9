"""PyTorch peer of jaxgen's StyleGAN2 (``jaxgen/models/stylegan2.py``) and of the reference's train step.

The networks as NVlabs/stylegan2-ada-pytorch writes them (``training/networks.py``),
layer for layer, module names included (``mapping.fc0``, ``synthesis.b8.conv0``,
``b32.skip``, ``b4.fc``), with plain torch ops in place of its custom CUDA ops:

* equalised learning rate: weights stored N(0, 1) / lr_multiplier, used times
  lr_multiplier / sqrt(fan_in); biases used times lr_multiplier (0.01 in the
  mapping, 1 elsewhere);
* ``bias_act``: x + b, lrelu (slope 0.2) times sqrt 2 times the call's gain;
* ``upfirdn2d``: the FIR filter [1, 3, 3, 1] / 8 per axis, as its 4x4 outer
  product in a depthwise ``conv2d`` (filter, and subsample by the stride) or
  ``conv_transpose2d`` (zero insertion and filter in one op, gain 4);
* ``conv2d_resample``: an upsampling 3x3 convolution is a stride-2
  ``conv_transpose2d`` then the FIR filter (padding 1, gain 4); a downsampling
  3x3 convolution the FIR filter (padding 2) then a stride-2 ``conv2d``; a
  downsampling 1x1 convolution the filter with stride 2 (padding 1), then the
  1x1 ``conv2d``;
* ``modulated_conv2d`` in the non-fused form the reference trains with:
  y = conv(x * s, w) * d, d_o = rsqrt(sum_{i,k,k} (w_{oikk} s_i)^2 + 1e-8),
  the noise (times its 0-initialised strength) added after d.

G is the "skip" architecture, D the "resnet" one with minibatch standard
deviation; unconditional. Style mixing as jaxgen's ``StyleGAN2Generator.styles``
(one cutoff per batch, uniform in [1, num_ws), used with probability
``mixing_prob``), drawn on the device so the step never waits on the host
(the reference slices ``ws[:, cutoff:]`` with a device scalar, a sync).

The train step (:func:`build_step`) is the reference's loop
(``training/training_loop.py`` and ``training/loss.py``, ``StyleGAN2Loss``):
on the same real batch, the phases Gmain, Greg (every ``g_reg_interval``
steps, counted from 0), Dmain, Dreg (every ``d_reg_interval``), each with
fresh latents and its own backward pass into its network's Adam, shared by
the network's main and regularisation phases, with the lazy-regularisation
correction lr * r, betas ** r, r = interval / (interval + 1). Only the
phase's network requires gradients during the phase, as the reference's
``requires_grad_`` toggling.

Left out (none of them in jaxgen's networks either, or outside the step
being timed): fp16 and ``conv_clamp``, labels, truncation, ADA augmentation,
G's EMA copy, and the reference's ``nan_to_num`` of the gradients before
each optimizer step.

References:
  Karras, Laine, Aittala, Hellsten, Lehtinen, Aila. "Analyzing and Improving
  the Image Quality of StyleGAN", CVPR 2020 (demodulation, Section 2.2;
  lazy regularisation and path-length regularisation, Section 3; skip G and
  residual D, Section 4).
  Mescheder, Geiger, Nowozin. "Which Training Methods for GANs do actually
  Converge?", ICML 2018 (R1, eq. 9).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "Discriminator",
    "Generator",
    "build_models",
    "build_step",
    "default_hparams",
    "lazy_adam_settings",
    "minibatch_std",
    "modulated_conv2d",
]

# The reference's resample_filter; normalised to unit DC gain by _fir_weight (its setup_filter).
FIR_TAPS = (1.0, 3.0, 3.0, 1.0)
LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2.0)
NOISE_MODES = ("random", "const", "none")


def default_hparams() -> dict[str, Any]:
  """The 32x32 digits sizes (jaxgen's ``StyleGAN2Config`` defaults) and the reference's training settings.

  Adam lr 0.0025, betas (0, 0.99), eps 1e-8 (the reference's ``--cfg auto``
  below 1024 px), before the lazy-regularisation correction; R1 gamma 1 for
  digits; path length weight 2, decay 0.01, on batch // 2; intervals 4 (G)
  and 16 (D); style mixing 0.9.
  """
  return dict(
      image_shape=(32, 32, 1), latent_dim=128, w_dim=128, mapping_layers=8, mapping_lr_multiplier=0.01,
      w_avg_beta=0.995, channel_base=4096, channel_max=128, use_noise=True, mbstd_group_size=4,
      mbstd_num_channels=1, batch_size=32, lr=0.0025, b1=0.0, b2=0.99, eps=1e-8, mixing_prob=0.9, r1_gamma=1.0,
      pl_weight=2.0, pl_decay=0.01, pl_batch_shrink=2, g_reg_interval=4, d_reg_interval=16,
  )


def _channels(hp: dict[str, Any], resolution: int) -> int:
  return min(hp["channel_base"] // resolution, hp["channel_max"])


def _fir_weight(channels: int, gain: float = 1.0) -> torch.Tensor:
  """(channels, 1, 4, 4): the separable FIR filter's outer product, sum ``gain``, for a depthwise conv.

  Symmetric, so correlation (conv2d) and convolution (upfirdn2d) agree.
  """
  taps = torch.tensor(FIR_TAPS)
  kernel = torch.outer(taps, taps)
  return (kernel * (gain / kernel.sum())).expand(channels, 1, 4, 4).contiguous()


def _bias_act(x: torch.Tensor, bias: torch.Tensor | None, *, activation: str, gain: float = 1.0) -> torch.Tensor:
  """bias_act: (x + b) -> act -> times the activation's gain (lrelu: sqrt 2) and ``gain``; b on axis 1."""
  if bias is not None:
    x = x + bias.reshape(1, -1, *([1] * (x.ndim - 2)))
  if activation == "lrelu":
    x = F.leaky_relu(x, LRELU_SLOPE)
    gain = gain * LRELU_GAIN
  if gain != 1:
    x = x * gain
  return x


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
  return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, *, demodulate: bool = True,
                     up_fir: torch.Tensor | None = None) -> torch.Tensor:
  """conv(x, w * s) * d, d_o = rsqrt(sum_{ikk} (w_{oikk} s_i)^2 + 1e-8): the reference's non-fused form.

  Args:
    x: (N, I, H, W).
    weight: (O, I, k, k), as stored (demodulation removes its scale).
    styles: (N, I).
    demodulate: multiply output channel o by d_o (False: ToRGB).
    up_fir: ``_fir_weight(O, 4)`` to upsample by 2 (transposed convolution, a
      true convolution as the reference's ``flip_weight=False``, then the
      filter); None keeps the side ("same" padding).

  Returns:
    (N, O, H, W), or (N, O, 2H, 2W) with ``up_fir``.
  """
  n = x.shape[0]
  if demodulate:
    # The per-example weights only for d, as the reference's training path (the convolution shares w).
    w = weight.unsqueeze(0) * styles.reshape(n, 1, -1, 1, 1)
    dcoefs = (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt()
  x = x * styles.reshape(n, -1, 1, 1)
  if up_fir is None:
    x = F.conv2d(x, weight, padding=weight.shape[-1] // 2)
  else:
    # (H - 1) 2 + k, then the filter with padding 1 (the reference's px0 - (k - 1) = 1 for k = 3) to 2H.
    x = F.conv_transpose2d(x, weight.transpose(0, 1), stride=2)
    x = F.conv2d(x, up_fir, padding=1, groups=x.shape[1])
  if demodulate:
    x = x * dcoefs.reshape(n, -1, 1, 1)
  return x


def minibatch_std(x: torch.Tensor, group_size: int | None, num_channels: int = 1) -> torch.Tensor:
  """(N, C, H, W) -> (N, C + F, H, W): per group the mean over pixels and channels of sqrt(var + 1e-8).

  Groups of G = min(group_size, N): example i in group i mod (N / G); the
  F = ``num_channels`` slices of contiguous channels each get one statistic
  (``MinibatchStdLayer``).
  """
  n, c, h, w = x.shape
  g = n if group_size is None else min(group_size, n)
  f = num_channels
  y = x.reshape(g, -1, f, c // f, h, w)
  y = y - y.mean(dim=0)
  y = (y.square().mean(dim=0) + 1e-8).sqrt()  # (n / G, F, c, H, W), the biased variance
  y = y.mean(dim=[2, 3, 4]).reshape(-1, f, 1, 1)
  return torch.cat([x, y.repeat(g, 1, h, w)], dim=1)


# --- layers with an equalised learning rate ------------------------------------------------------------------


class FullyConnectedLayer(nn.Module):
  """act(x (W g)^T + b lr_multiplier), g = lr_multiplier / sqrt(in); W (out, in) stored N(0, 1) / lr_multiplier."""

  def __init__(self, in_features: int, out_features: int, *, bias: bool = True, activation: str = "linear",
               lr_multiplier: float = 1.0, bias_init: float = 0.0):
    super().__init__()
    self.activation = activation
    self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
    self.bias = nn.Parameter(torch.full([out_features], float(bias_init))) if bias else None
    self.weight_gain = lr_multiplier / math.sqrt(in_features)
    self.bias_gain = lr_multiplier

  def forward(self, x: torch.Tensor) -> torch.Tensor:
    b = self.bias
    if b is not None and self.bias_gain != 1:
      b = b * self.bias_gain
    return _bias_act(F.linear(x, self.weight * self.weight_gain, b), None, activation=self.activation)


class Conv2dLayer(nn.Module):
  """act(conv(x, W / sqrt(k^2 in)) + b) * gain, optionally FIR-downsampling by 2; W (out, in, k, k) ~ N(0, 1)."""

  def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, bias: bool = True,
               activation: str = "linear", down: int = 1):
    super().__init__()
    self.activation = activation
    self.down = down
    self.padding = kernel_size // 2
    self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
    self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
    self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size**2)
    if down == 2:
      self.register_buffer("fir", _fir_weight(in_channels), persistent=False)

  def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
    w = self.weight * self.weight_gain
    if self.down == 1:
      x = F.conv2d(x, w, padding=self.padding)
    elif w.shape[-1] == 1:
      # Filter and subsample first (the reference's 1x1 fast path): the convolution then runs at H / 2.
      x = F.conv2d(F.conv2d(x, self.fir, stride=2, padding=1, groups=x.shape[1]), w)
    else:
      x = F.conv2d(F.conv2d(x, self.fir, padding=self.padding + 1, groups=x.shape[1]), w, stride=2)
    return _bias_act(x, self.bias, activation=self.activation, gain=gain)


# --- the generator ---------------------------------------------------------------------------------------------


class MappingNetwork(nn.Module):
  """z (N, z_dim) -> ws (N, num_ws, w_dim): normalised z, ``num_layers`` lrelu layers at lr multiplier 0.01.

  In training mode w_avg <- lerp(mean_batch(w), w_avg, beta) (a buffer).
  """

  def __init__(self, z_dim: int, w_dim: int, num_ws: int, *, num_layers: int, lr_multiplier: float,
               w_avg_beta: float):
    super().__init__()
    self.num_ws = num_ws
    self.num_layers = num_layers
    self.w_avg_beta = w_avg_beta
    features = [z_dim] + [w_dim] * num_layers
    for i in range(num_layers):
      setattr(self, f"fc{i}", FullyConnectedLayer(features[i], features[i + 1], activation="lrelu",
                                                  lr_multiplier=lr_multiplier))
    self.register_buffer("w_avg", torch.zeros(w_dim))

  def forward(self, z: torch.Tensor, *, update_w_avg: bool = True) -> torch.Tensor:
    x = normalize_2nd_moment(z)
    for i in range(self.num_layers):
      x = getattr(self, f"fc{i}")(x)
    if self.training and update_w_avg:
      self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
    return x.unsqueeze(1).repeat(1, self.num_ws, 1)


class SynthesisLayer(nn.Module):
  """(N, in, r', r'), w -> lrelu(modconv(x, A(w)) + noise * strength + b) sqrt 2, r' = r / 2 when ``up``.

  A: w_dim -> in, bias initialised to 1; noise (N, 1, r, r) fresh N(0, 1)
  ("random"), the fixed buffer ``noise_const`` ("const"), or none.
  """

  def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, *, up: bool = False,
               use_noise: bool = True):
    super().__init__()
    self.resolution = resolution
    self.use_noise = use_noise
    self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1.0)
    self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 3, 3))
    if use_noise:
      self.register_buffer("noise_const", torch.randn(resolution, resolution))
      self.noise_strength = nn.Parameter(torch.zeros([]))
    self.bias = nn.Parameter(torch.zeros(out_channels))
    self.register_buffer("up_fir", _fir_weight(out_channels, 4.0) if up else None, persistent=False)

  def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "random") -> torch.Tensor:
    x = modulated_conv2d(x, self.weight, self.affine(w), up_fir=self.up_fir)
    if self.use_noise and noise_mode == "random":
      x = x + torch.randn(x.shape[0], 1, self.resolution, self.resolution, device=x.device) * self.noise_strength
    elif self.use_noise and noise_mode == "const":
      x = x + self.noise_const * self.noise_strength
    return _bias_act(x, self.bias, activation="lrelu")


class ToRGBLayer(nn.Module):
  """(N, in, r, r), w -> modconv(x, A(w) / sqrt(in), no demodulation) + b, a 1x1 kernel."""

  def __init__(self, in_channels: int, out_channels: int, w_dim: int):
    super().__init__()
    self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1.0)
    self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 1, 1))
    self.bias = nn.Parameter(torch.zeros(out_channels))
    self.weight_gain = 1.0 / math.sqrt(in_channels)

  def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    x = modulated_conv2d(x, self.weight, self.affine(w) * self.weight_gain, demodulate=False)
    return _bias_act(x, self.bias, activation="linear")


class SynthesisBlock(nn.Module):
  """One "skip" resolution: the const (4x4) or an upsampling layer, a layer, ToRGB; img = up(img) + ToRGB(x)."""

  def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, img_channels: int, *,
               use_noise: bool):
    super().__init__()
    self.in_channels = in_channels
    self.num_conv = 1 if in_channels == 0 else 2
    if in_channels == 0:
      self.const = nn.Parameter(torch.randn(out_channels, resolution, resolution))
    else:
      self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=True, use_noise=use_noise)
    self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution, use_noise=use_noise)
    self.torgb = ToRGBLayer(out_channels, img_channels, w_dim)
    self.register_buffer("img_fir", _fir_weight(img_channels, 4.0) if in_channels else None, persistent=False)

  def forward(self, x: torch.Tensor | None, img: torch.Tensor | None, ws: torch.Tensor,
              noise_mode: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``ws`` (N, num_conv + 1, w_dim): one per layer, the last for ToRGB."""
    if self.in_channels == 0:
      x = self.const.unsqueeze(0).expand(ws.shape[0], -1, -1, -1)
      x = self.conv1(x, ws[:, 0], noise_mode)
    else:
      x = self.conv0(x, ws[:, 0], noise_mode)
      x = self.conv1(x, ws[:, 1], noise_mode)
    y = self.torgb(x, ws[:, self.num_conv])
    if img is None:
      return x, y
    # upsample2d: zeros inserted, padding (2, 1), gain 4, in one transposed depthwise convolution.
    img = F.conv_transpose2d(img, self.img_fir, stride=2, padding=1, groups=img.shape[1])
    return x, img + y


class SynthesisNetwork(nn.Module):
  """ws (N, num_ws, w_dim) -> images (N, C, side, side); block b_r reads ws[first : first + num_conv + 1]."""

  def __init__(self, hp: dict[str, Any]):
    super().__init__()
    side, img_channels = hp["image_shape"][0], hp["image_shape"][-1]
    self.resolutions = [2**i for i in range(2, int(math.log2(side)) + 1)]
    self.num_ws = 0
    for res in self.resolutions:
      block = SynthesisBlock(_channels(hp, res // 2) if res > 4 else 0, _channels(hp, res), hp["w_dim"], res,
                             img_channels, use_noise=hp["use_noise"])
      setattr(self, f"b{res}", block)
      self.num_ws += block.num_conv
    self.num_ws += 1  # the last ToRGB's

  def forward(self, ws: torch.Tensor, noise_mode: str = "random") -> torch.Tensor:
    x = img = None
    first = 0
    for res in self.resolutions:
      block = getattr(self, f"b{res}")
      x, img = block(x, img, ws.narrow(1, first, block.num_conv + 1), noise_mode)
      first += block.num_conv
    return img


class Generator(nn.Module):
  """z (N, latent_dim) -> images (N, C, side, side): synthesis(mapping(z)), style-mixed when asked."""

  def __init__(self, hp: dict[str, Any]):
    super().__init__()
    self.latent_dim = hp["latent_dim"]
    self.synthesis = SynthesisNetwork(hp)
    self.num_ws = self.synthesis.num_ws
    self.mapping = MappingNetwork(hp["latent_dim"], hp["w_dim"], self.num_ws, num_layers=hp["mapping_layers"],
                                  lr_multiplier=hp["mapping_lr_multiplier"], w_avg_beta=hp["w_avg_beta"])

  def styles(self, z: torch.Tensor, mixing_prob: float = 0.0) -> torch.Tensor:
    """ws = mapping(z); with ``mixing_prob`` > 0, ws[:, cutoff:] = mapping(z2)[:, cutoff:], z2 ~ N(0, I).

    One cutoff per batch: uniform in [1, num_ws) with probability
    ``mixing_prob``, else num_ws (no mixing); the second mapping call leaves
    w_avg alone (``loss.py``, ``run_G``).
    """
    ws = self.mapping(z)
    if mixing_prob <= 0:
      return ws
    device = z.device
    cutoff = torch.randint(1, self.num_ws, (), device=device)
    cutoff = torch.where(torch.rand((), device=device) < mixing_prob, cutoff, self.num_ws)
    other = self.mapping(torch.randn_like(z), update_w_avg=False)
    return torch.where((torch.arange(self.num_ws, device=device) >= cutoff)[None, :, None], other, ws)

  def forward(self, z: torch.Tensor, mixing_prob: float = 0.0, noise_mode: str = "random") -> torch.Tensor:
    return self.synthesis(self.styles(z, mixing_prob), noise_mode)


# --- the discriminator ---------------------------------------------------------------------------------------


class DiscriminatorBlock(nn.Module):
  """(N, tmp, r, r) [the image, first block] -> (N, out, r / 2, r / 2): sqrt(.5) (skip(x) + conv1(conv0(x)))."""

  def __init__(self, in_channels: int, tmp_channels: int, out_channels: int, img_channels: int):
    super().__init__()
    self.in_channels = in_channels
    if in_channels == 0:
      self.fromrgb = Conv2dLayer(img_channels, tmp_channels, 1, activation="lrelu")
    self.conv0 = Conv2dLayer(tmp_channels, tmp_channels, 3, activation="lrelu")
    self.conv1 = Conv2dLayer(tmp_channels, out_channels, 3, activation="lrelu", down=2)
    self.skip = Conv2dLayer(tmp_channels, out_channels, 1, bias=False, down=2)

  def forward(self, x: torch.Tensor) -> torch.Tensor:
    if self.in_channels == 0:
      x = self.fromrgb(x)
    gain = math.sqrt(0.5)
    return self.skip(x, gain=gain) + self.conv1(self.conv0(x), gain=gain)


class DiscriminatorEpilogue(nn.Module):
  """(N, C, 4, 4) -> (N, 1): minibatch std, conv 3x3, fc (lrelu) of the flattened map, out."""

  def __init__(self, channels: int, *, mbstd_group_size: int | None, mbstd_num_channels: int):
    super().__init__()
    self.mbstd_group_size = mbstd_group_size
    self.mbstd_num_channels = mbstd_num_channels
    self.conv = Conv2dLayer(channels + mbstd_num_channels, channels, 3, activation="lrelu")
    self.fc = FullyConnectedLayer(channels * 16, channels, activation="lrelu")
    self.out = FullyConnectedLayer(channels, 1)

  def forward(self, x: torch.Tensor) -> torch.Tensor:
    if self.mbstd_num_channels > 0:
      x = minibatch_std(x, self.mbstd_group_size, self.mbstd_num_channels)
    return self.out(self.fc(self.conv(x).flatten(1)))


class Discriminator(nn.Module):
  """images (N, C, side, side) -> logits (N, 1): blocks b_side ... b8, then the epilogue b4."""

  def __init__(self, hp: dict[str, Any]):
    super().__init__()
    side, img_channels = hp["image_shape"][0], hp["image_shape"][-1]
    self.resolutions = [2**i for i in range(int(math.log2(side)), 2, -1)]
    for res in self.resolutions:
      setattr(self, f"b{res}", DiscriminatorBlock(0 if res == side else _channels(hp, res), _channels(hp, res),
                                                  _channels(hp, res // 2), img_channels))
    self.b4 = DiscriminatorEpilogue(_channels(hp, 4), mbstd_group_size=hp["mbstd_group_size"],
                                    mbstd_num_channels=hp["mbstd_num_channels"])

  def forward(self, img: torch.Tensor) -> torch.Tensor:
    x = img
    for res in self.resolutions:
      x = getattr(self, f"b{res}")(x)
    return self.b4(x)


# --- models and the train step ---------------------------------------------------------------------------------


def build_models(hp: dict[str, Any]) -> tuple[Generator, Discriminator]:
  """(G, D) in training mode, on the current default device; seed torch first for repeatable weights."""
  return Generator(hp).train(), Discriminator(hp).train()


def lazy_adam_settings(hp: dict[str, Any], interval: int) -> dict[str, Any]:
  """Adam's lr * r and betas ** r, r = interval / (interval + 1) (``training_loop.py``, lazy regularisation).

  One step in ``interval`` runs the regulariser too, so per step the
  optimizer sees (interval + 1) / interval updates; r keeps its time scales.
  """
  ratio = interval / (interval + 1)
  return dict(lr=hp["lr"] * ratio, betas=(hp["b1"] ** ratio, hp["b2"] ** ratio), eps=hp["eps"])


def build_step(generator: Generator, discriminator: Discriminator,
               hp: dict[str, Any]) -> Callable[[torch.Tensor], None]:
  """step(x): one iteration of the reference's loop on real images x (N, C, H, W) in [-1, 1].

  Phases, in order, each with fresh z ~ N(0, I), style mixing ``mixing_prob``
  and random noise inputs (step t counts from 0):

  * Gmain: mean softplus(-D(G(z))).
  * Greg, when t % g_reg_interval == 0: on N // pl_batch_shrink images,
    y ~ N(0, I) / sqrt(H W), g = d sum(G(ws) y) / d ws (a graph kept for the
    second derivative), l = sqrt(mean_ws sum_{w_dim} g^2), a = lerp(a,
    mean(l), pl_decay), loss mean((l - a)^2) pl_weight g_reg_interval (a
    differentiated as the reference leaves it, stored detached).
  * Dmain: mean softplus(D(G(z))) (G a constant), then mean softplus(-D(x)).
  * Dreg, when t % d_reg_interval == 0: mean(r1_gamma / 2 ||grad_x D(x)||^2)
    d_reg_interval (a graph kept for the second derivative).

  Build after moving the models to their device. The step holds its state in
  attributes: ``step.optimizers`` {"G", "D"} and ``step.state`` ({"count":
  steps run, "pl_mean": a, "phases": how often each phase ran, "r1_penalty",
  "pl_penalty": the last batch means, detached}).
  """
  device = next(generator.parameters()).device
  g_opt = torch.optim.Adam(generator.parameters(), **lazy_adam_settings(hp, hp["g_reg_interval"]))
  d_opt = torch.optim.Adam(discriminator.parameters(), **lazy_adam_settings(hp, hp["d_reg_interval"]))
  generator.requires_grad_(False)
  discriminator.requires_grad_(False)
  latent, mixing = hp["latent_dim"], hp["mixing_prob"]
  state = {"count": 0, "pl_mean": torch.zeros([], device=device), "phases": dict.fromkeys(
      ("Gmain", "Greg", "Dmain", "Dreg"), 0), "r1_penalty": None, "pl_penalty": None}

  def run_g(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    ws = generator.styles(torch.randn(n, latent, device=device), mixing)
    return generator.synthesis(ws, "random"), ws

  def g_main(x, gain):
    img, _ = run_g(x.shape[0])
    F.softplus(-discriminator(img)).mean().mul(gain).backward()

  def g_reg(x, gain):
    img, ws = run_g(x.shape[0] // hp["pl_batch_shrink"])
    pl_noise = torch.randn_like(img) / math.sqrt(img.shape[2] * img.shape[3])
    (pl_grads,) = torch.autograd.grad((img * pl_noise).sum(), ws, create_graph=True)
    pl_lengths = pl_grads.square().sum(2).mean(1).sqrt()
    pl_mean = state["pl_mean"].lerp(pl_lengths.mean(), hp["pl_decay"])
    state["pl_mean"].copy_(pl_mean.detach())
    pl_penalty = (pl_lengths - pl_mean).square()
    state["pl_penalty"] = pl_penalty.detach().mean()
    (pl_penalty * hp["pl_weight"]).mean().mul(gain).backward()

  def d_main(x, gain):
    with torch.no_grad():  # G is a constant here (the reference: its parameters do not require grad)
      img, _ = run_g(x.shape[0])
    F.softplus(discriminator(img)).mean().mul(gain).backward()
    F.softplus(-discriminator(x.detach())).mean().mul(gain).backward()

  def d_reg(x, gain):
    real = x.detach().requires_grad_(True)
    (r1_grads,) = torch.autograd.grad(discriminator(real).sum(), real, create_graph=True)
    r1_penalty = r1_grads.square().sum(dim=[1, 2, 3])
    state["r1_penalty"] = r1_penalty.detach().mean()
    (r1_penalty * (hp["r1_gamma"] / 2)).mean().mul(gain).backward()

  phases = (("Gmain", g_main, generator, g_opt, 1), ("Greg", g_reg, generator, g_opt, hp["g_reg_interval"]),
            ("Dmain", d_main, discriminator, d_opt, 1), ("Dreg", d_reg, discriminator, d_opt, hp["d_reg_interval"]))

  def step(x: torch.Tensor) -> None:
    for name, run, module, opt, interval in phases:
      if state["count"] % interval:
        continue
      opt.zero_grad(set_to_none=True)
      module.requires_grad_(True)
      # The phase's interval as the loss's gain: the lazy regulariser stands for `interval` steps.
      run(x, interval)
      module.requires_grad_(False)
      opt.step()
      state["phases"][name] += 1
    state["count"] += 1

  step.optimizers = {"G": g_opt, "D": d_opt}
  step.state = state
  return step
