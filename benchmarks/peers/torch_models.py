"""PyTorch peers of jaxgen's models, layer for layer, with the same train steps.

Same sizes (read from ``benchmarks._cases.HPARAMS``), same losses, same Adam
(learning rate, betas, eps 1e-8), same batch gathered from an in-memory
dataset by random indices each step. Differences that do not change the work:
PyTorch's default initializers and its NCHW layout (what a PyTorch user
writes); "SAME" padding is written as the symmetric padding that gives the
same output size (the FLOPs are equal).

Each train step is written the way PyTorch users write one (zero_grad,
forward, backward, optimizer.step); ``compile=True`` wraps that whole
function in ``torch.compile`` (the optimizer step included). For jaxgen's
``compute_dtype="bfloat16"`` the peer runs its step under
``torch.autocast(dtype=torch.bfloat16)``, PyTorch's own mixed precision
(float32 parameters, matmuls and convolutions in bfloat16).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmarks._cases import HPARAMS, synthetic_data
from jaxgen.models._precision import check_compute_dtype


def _adam(params, hp):
  return torch.optim.Adam(params, lr=hp["lr"], betas=(hp["b1"], hp["b2"]), eps=1e-8)


def _nchw(images: np.ndarray) -> torch.Tensor:
  return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))


class Maxout(nn.Module):
  """max over k pieces of one Linear to out * k units (pieces of a unit contiguous, as jaxgen's)."""

  def __init__(self, d_in: int, d_out: int, pieces: int):
    super().__init__()
    self.d_out, self.pieces = d_out, pieces
    self.linear = nn.Linear(d_in, d_out * pieces)

  def forward(self, x):
    return self.linear(x).view(x.shape[0], self.d_out, self.pieces).amax(-1)


# ---- autoencoder and MLP VAE ------------------------------------------------------------------


class Autoencoder(nn.Module):
  def __init__(self, hp):
    super().__init__()
    d = math.prod(hp["image_shape"])
    self.enc = nn.Sequential(nn.Linear(d, hp["hidden_dim"]), nn.ReLU(), nn.Linear(hp["hidden_dim"], hp["latent_dim"]), nn.ReLU())
    self.dec = nn.Sequential(nn.Linear(hp["latent_dim"], hp["hidden_dim"]), nn.ReLU(), nn.Linear(hp["hidden_dim"], d))

  def forward(self, x):
    return self.dec(self.enc(x.flatten(1)))  # logits


class MLPVAE(nn.Module):
  def __init__(self, hp):
    super().__init__()
    d, h, z = math.prod(hp["image_shape"]), hp["hidden_dim"], hp["latent_dim"]
    self.latent_dim = z
    self.enc = nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Linear(h, 2 * z))
    self.dec = nn.Sequential(nn.Linear(z, h), nn.ReLU(), nn.Linear(h, d))

  def encode(self, x):
    out = self.enc(x.flatten(1))
    return out[:, : self.latent_dim], out[:, self.latent_dim :]

  def decode(self, z):
    return self.dec(z)


class ConvVAE(nn.Module):
  def __init__(self, hp):
    super().__init__()
    (h, w, c), k, (c1, c2), z = hp["image_shape"], hp["kernel_size"], hp["channels"], hp["latent_dim"]
    p = k // 2
    self.latent_dim, self.bottleneck = z, (c2, h // 4, w // 4)
    flat = c2 * (h // 4) * (w // 4)
    self.down = nn.ModuleList([nn.Conv2d(c, c1, k, 2, p), nn.Conv2d(c1, c2, k, 2, p)])
    self.enc_out = nn.Linear(flat, 2 * z)
    self.dec_in = nn.Linear(z, flat)
    # Flax's transposed-conv "SAME" doubles the side: padding k // 2 plus output_padding 1 does too.
    self.up = nn.ModuleList(
        [nn.ConvTranspose2d(c2, c1, k, 2, p, output_padding=1), nn.ConvTranspose2d(c1, c1, k, 2, p, output_padding=1)]
    )
    self.dec_out = nn.Conv2d(c1, c, k, 1, p)

  def encode(self, x):
    for conv in self.down:
      x = F.relu(conv(x))
    out = self.enc_out(x.flatten(1))
    return out[:, : self.latent_dim], out[:, self.latent_dim :]

  def decode(self, z):
    h = F.relu(self.dec_in(z)).view(z.shape[0], *self.bottleneck)
    for conv in self.up:
      h = F.relu(conv(h))
    return self.dec_out(h)


def _negative_elbo(model, x):
  """-mean ELBO: Bernoulli log p(x|z) from logits, closed-form Gaussian KL (as jaxgen's objective)."""
  mean, logvar = model.encode(x)
  z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
  logits = model.decode(z).reshape(x.shape)
  recon = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
  kl = 0.5 * (torch.exp(logvar) + mean.square() - 1.0 - logvar).sum(1)
  return (recon + kl).mean()


# ---- GANs -----------------------------------------------------------------------------------------


class MLPGenerator(nn.Module):
  def __init__(self, hp):
    super().__init__()
    sizes = (hp["latent_dim"], *hp["generator_features"])
    self.hidden = nn.ModuleList([nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])])
    self.output = nn.Linear(sizes[-1], math.prod(hp["image_shape"]))

  def forward(self, z):
    for layer in self.hidden:
      z = F.relu(layer(z))
    return torch.sigmoid(self.output(z))


class MaxoutDiscriminator(nn.Module):
  def __init__(self, hp):
    super().__init__()
    sizes = (math.prod(hp["image_shape"]), *hp["discriminator_units"])
    self.hidden = nn.ModuleList([Maxout(a, b, hp["discriminator_pieces"]) for a, b in zip(sizes[:-1], sizes[1:])])
    self.output = nn.Linear(sizes[-1], 1)
    self.input_drop, self.hidden_drop = 1.0 - hp["input_keep"], 1.0 - hp["hidden_keep"]

  def forward(self, x):
    h = F.dropout(x.flatten(1), self.input_drop, training=True)
    for layer in self.hidden:
      h = F.dropout(layer(h), self.hidden_drop, training=True)
    return self.output(h)[:, 0]


class DCGANGenerator(nn.Module):
  """z -> base x base x 4f -> 2x: 2f -> 2x: c, as jaxgen's DCGAN with two upsamplings (28 = 7 * 4)."""

  def __init__(self, hp):
    super().__init__()
    f, k, c = hp["features"], hp["kernel_size"], hp["image_shape"][-1]
    self.base = hp["image_shape"][0] // 4
    self.project = nn.Linear(hp["latent_dim"], self.base**2 * 4 * f)
    self.project_norm = nn.BatchNorm2d(4 * f, momentum=0.1)  # flax momentum 0.9
    self.conv1 = nn.ConvTranspose2d(4 * f, 2 * f, k, 2, k // 2, output_padding=1)
    self.norm1 = nn.BatchNorm2d(2 * f, momentum=0.1)
    self.conv2 = nn.ConvTranspose2d(2 * f, c, k, 2, k // 2, output_padding=1)

  def forward(self, z):
    h = self.project(z).view(z.shape[0], -1, self.base, self.base)
    h = F.relu(self.project_norm(h))
    h = F.relu(self.norm1(self.conv1(h)))
    return torch.tanh(self.conv2(h))


class DCGANDiscriminator(nn.Module):
  def __init__(self, hp):
    super().__init__()
    f, k, c = hp["features"], hp["kernel_size"], hp["image_shape"][-1]
    base = hp["image_shape"][0] // 4
    self.conv1 = nn.Conv2d(c, f, k, 2, k // 2)
    self.conv2 = nn.Conv2d(f, 2 * f, k, 2, k // 2)
    self.norm2 = nn.BatchNorm2d(2 * f, momentum=0.1)
    self.output = nn.Linear(base**2 * 2 * f, 1)

  def forward(self, x):
    h = F.leaky_relu(self.conv1(x), 0.2)
    h = F.leaky_relu(self.norm2(self.conv2(h)), 0.2)
    return self.output(h.flatten(1))[:, 0]


class ToyGenerator(nn.Module):
  def __init__(self, hp):
    super().__init__()
    dims = [hp["latent_dim"]] + [hp["generator_hidden"]] * hp["generator_layers"]
    self.hidden = nn.ModuleList([nn.Linear(a, b, bias=False) for a, b in zip(dims[:-1], dims[1:])])
    # jaxgen's momentum 0.95 keeps 95% of the old statistic: PyTorch's momentum is the new-value weight.
    self.norms = nn.ModuleList([nn.BatchNorm1d(hp["generator_hidden"], momentum=0.05) for _ in self.hidden])
    self.out = nn.Linear(dims[-1], hp["data_dim"])

  def forward(self, z):
    for linear, norm in zip(self.hidden, self.norms):
      z = F.relu(norm(linear(z)))
    return self.out(z)


class ToyDiscriminator(nn.Module):
  def __init__(self, hp):
    super().__init__()
    dims = [hp["data_dim"]] + [hp["discriminator_hidden"]] * hp["discriminator_layers"]
    self.hidden = nn.ModuleList([Maxout(a, b, hp["maxout_pieces"]) for a, b in zip(dims[:-1], dims[1:])])
    self.out = nn.Linear(dims[-1], 1)

  def forward(self, x):
    for layer in self.hidden:
      x = layer(x)
    return self.out(x)[:, 0]


# ---- train steps ---------------------------------------------------------------------------------


def _single_step(model, loss_fn, hp):
  opt = _adam(model.parameters(), hp)

  def step(x):
    opt.zero_grad(set_to_none=True)
    loss = loss_fn(model, x)
    loss.backward()
    opt.step()
    return loss.detach()

  return step


def _gan_step(generator, discriminator, hp):
  """One discriminator update then one generator update, non-saturating loss (as jaxgen.train.gan_updates)."""
  d_opt, g_opt = _adam(discriminator.parameters(), hp), _adam(generator.parameters(), hp)
  g_params = list(generator.parameters())
  latent = hp["latent_dim"]

  def step(x):
    n = x.shape[0]
    with torch.no_grad():  # G is a constant in D's update (BatchNorm statistics still update)
      fake = generator(torch.randn(n, latent, device=x.device))
    d_opt.zero_grad(set_to_none=True)
    # -[log D(x) + log(1 - D(G(z)))] = softplus(-real) + softplus(fake)
    d_loss = (F.softplus(-discriminator(x)) + F.softplus(discriminator(fake))).mean()
    d_loss.backward()
    d_opt.step()
    g_opt.zero_grad(set_to_none=True)
    g_loss = F.softplus(-discriminator(generator(torch.randn(n, latent, device=x.device)))).mean()
    # Gradients for G's parameters only, as jaxgen differentiates only the updated network.
    for p, g in zip(g_params, torch.autograd.grad(g_loss, g_params)):
      p.grad = g
    g_opt.step()
    return d_loss.detach() + g_loss.detach()

  return step


def build_torch_step(
    name: str, batch_size: int, num_examples: int, *, compile: bool = False, device: str = "cpu",
    compute_dtype: str = "float32",
) -> Callable[[], torch.Tensor]:
  """A zero-argument function running one train step of the PyTorch peer of ``name``.

  Each call gathers a fresh random batch of ``batch_size`` examples from an
  in-memory dataset of ``num_examples`` on ``device`` (as jaxgen's steps
  gather on the device).
  """
  check_compute_dtype(compute_dtype)
  with torch.device(device):
    return _build(name, batch_size, num_examples, compile, torch.device(device), compute_dtype)


def build_models(name: str) -> list[nn.Module]:
  """The peer's networks of ``name`` (for parameter counts)."""
  hp = HPARAMS[name]
  singles = {"ae": Autoencoder, "vae": MLPVAE, "conv_vae": ConvVAE}
  if name in singles:
    return [singles[name](hp)]
  return [cls(hp) for cls in _GAN_PAIRS[name]]


_GAN_PAIRS = {
    "gan_mlp": (MLPGenerator, MaxoutDiscriminator),
    "dcgan": (DCGANGenerator, DCGANDiscriminator),
    "toy_gan": (ToyGenerator, ToyDiscriminator),
}


def _autocast(step, device: torch.device, compute_dtype: str):
  """``step`` under bfloat16 autocast (PyTorch's mixed precision), or unchanged for float32."""
  if compute_dtype == "float32":
    return step

  def autocast_step(x):
    with torch.autocast(device.type, dtype=torch.bfloat16):
      return step(x)

  return autocast_step


def _build(name, batch_size, num_examples, compile, device, compute_dtype="float32"):
  hp = HPARAMS[name]
  torch.manual_seed(0)
  data = synthetic_data(name, num_examples)
  if name in ("ae", "vae", "conv_vae"):
    x_all = _nchw(data["image"]) if name == "conv_vae" else torch.from_numpy(data["image"]).flatten(1)
    x_all = x_all.to(device)
    if name == "ae":
      model = Autoencoder(hp)
      loss_fn = lambda m, x: (x - torch.sigmoid(m(x))).square().mean(1).mean()
    else:
      model = MLPVAE(hp) if name == "vae" else ConvVAE(hp)
      loss_fn = _negative_elbo
    step = _single_step(model.train(), loss_fn, hp)
  elif name in ("gan_mlp", "dcgan", "toy_gan"):
    g_cls, d_cls = _GAN_PAIRS[name]
    x_all = (_nchw(data["x"]) if name == "dcgan" else torch.from_numpy(data["x"]).flatten(1)).to(device)
    step = _gan_step(g_cls(hp).train(), d_cls(hp).train(), hp)
  else:
    raise ValueError(f"no PyTorch peer for '{name}'")
  step = _autocast(step, device, compute_dtype)
  if compile:
    step = torch.compile(step)

  def run():
    idx = torch.randint(0, num_examples, (batch_size,), device=x_all.device)
    return step(x_all[idx])

  return run
