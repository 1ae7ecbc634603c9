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

The translation peers (``pix2pix``, ``cyclegan``) are written as
junyanz/pytorch-CycleGAN-and-pix2pix writes its networks (``models/networks.py``:
UnetGenerator of nested skip blocks, ResnetGenerator, NLayerDiscriminator,
PixelDiscriminator) and its ``optimize_parameters`` (``pix2pix_model.py``,
``cycle_gan_model.py``), with the layers of jaxgen's models (the dropout blocks
and the skip inputs of jaxgen's U-Net; the reference's in-place LeakyReLU,
which also rectifies the skip copy, is not reproduced). The CycleGAN pool is
the reference's ``util/image_pool.py`` rule on a tensor buffer, the batch
processed at once with the same outcome as its image-by-image loop.

The BigGAN peer is ajbrock/BigGAN-PyTorch's ``Generator`` and ``Discriminator``
(``BigGAN.py``, ``layers.py``) with jaxgen's block plan and attention places,
PyTorch's own ``spectral_norm`` parametrization in place of the reference's SN
layers (one power iteration per training forward, as both), and the
reference's ``train_fns.py`` step: k discriminator updates on k real
minibatches, then a generator update whose gradients get the orthogonal
regularisation's term added (``utils.ortho``). D judges real and generated
images in two calls, as jaxgen's objective does (the reference concatenates
them into one call of twice the batch).

The StyleGAN2 peer is ``benchmarks/peers/torch_stylegan2.py`` (NVlabs/stylegan2-ada-pytorch's
networks and its loop's four phases, lazy regularisation and the adjusted Adam
included), built from ``HPARAMS["stylegan2"]``, the dict jaxgen's case reads.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmarks._cases import HPARAMS, learning_rate, synthetic_data
from benchmarks.peers import torch_stylegan2
from jaxgen.models._precision import check_compute_dtype


def _adam(params, hp, lr: float | None = None):
  return torch.optim.Adam(params, lr=hp["lr"] if lr is None else lr, betas=(hp["b1"], hp["b2"]), eps=1e-8)


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


# ---- image translation: Pix2pix and CycleGAN ------------------------------------------------------------


def _norm_layer(kind: str, channels: int) -> nn.Module:
  """The reference's get_norm_layer: BatchNorm2d (affine), InstanceNorm2d (affine=False, no running stats), none."""
  if kind == "batch":
    return nn.BatchNorm2d(channels, momentum=0.1)  # flax momentum 0.9
  if kind == "instance":
    return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
  return nn.Identity()


class UnetSkipBlock(nn.Module):
  """One U-Net level: x -> cat(x, up(inner(down(x)))), or up(inner(down(x))) for the outermost level.

  down = [LeakyReLU(0.2) unless outermost], conv k4 s2 p1, [norm unless outermost or innermost];
  up = ReLU, transposed conv k4 s2 p1 (from inner_nc, or 2 * inner_nc with a submodule), then tanh
  (outermost, which keeps its bias) or norm, then dropout on the levels that have it.
  """

  def __init__(self, outer_nc: int, inner_nc: int, input_nc: int, submodule: nn.Module | None, *,
               outermost: bool, norm: str, dropout: float):
    super().__init__()
    self.outermost = outermost
    innermost = submodule is None
    use_bias = norm != "batch"  # the reference's rule: a conv before BatchNorm has no bias
    down: list[nn.Module] = [] if outermost else [nn.LeakyReLU(0.2)]
    down.append(nn.Conv2d(input_nc, inner_nc, 4, 2, 1, bias=use_bias))
    if not (outermost or innermost):
      down.append(_norm_layer(norm, inner_nc))
    up: list[nn.Module] = [nn.ReLU(), nn.ConvTranspose2d(inner_nc if innermost else 2 * inner_nc, outer_nc, 4, 2, 1,
                                                         bias=use_bias or outermost)]
    up.append(nn.Tanh() if outermost else _norm_layer(norm, outer_nc))
    if dropout > 0:
      up.append(nn.Dropout(dropout))
    self.model = nn.Sequential(*down, *([submodule] if submodule is not None else []), *up)

  def forward(self, x):
    return self.model(x) if self.outermost else torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
  """jaxgen's UNetGenerator: num_downs levels of C_i = ngf * min(2**i, 8), built innermost first."""

  def __init__(self, hp):
    super().__init__()
    n, f = hp["num_downs"], hp["features"]
    channels = [f * min(2**i, 8) for i in range(n)]
    dropout_levels = range(n - 1 - hp["num_dropout_blocks"], n - 1)
    block = None
    for i in reversed(range(n)):
      outer = hp["image_shape"][-1] if i == 0 else channels[i - 1]
      block = UnetSkipBlock(outer, channels[i], hp["input_channels"] if i == 0 else outer, block, outermost=i == 0,
                            norm=hp["norm"], dropout=hp["dropout_rate"] if i in dropout_levels else 0.0)
    self.model = block

  def forward(self, x):
    return self.model(x)


def _patch_discriminator(in_nc: int, ndf: int, kind: str, norm: str) -> nn.Module:
  """The reference's NLayerDiscriminator ("patchN": n_layers 1..5) or PixelDiscriminator ("pixel"), logits."""
  use_bias = norm != "batch"
  if kind == "pixel":
    return nn.Sequential(
        nn.Conv2d(in_nc, ndf, 1, 1, 0), nn.LeakyReLU(0.2),
        nn.Conv2d(ndf, 2 * ndf, 1, 1, 0, bias=use_bias), _norm_layer(norm, 2 * ndf), nn.LeakyReLU(0.2),
        nn.Conv2d(2 * ndf, 1, 1, 1, 0, bias=use_bias),
    )
  n_layers = {"patch16": 1, "patch34": 2, "patch70": 3, "patch142": 4, "patch286": 5}[kind]
  layers: list[nn.Module] = [nn.Conv2d(in_nc, ndf, 4, 2, 1), nn.LeakyReLU(0.2)]
  mult = 1
  for m in range(1, n_layers):
    prev, mult = mult, min(2**m, 8)
    layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, 2, 1, bias=use_bias), _norm_layer(norm, ndf * mult),
               nn.LeakyReLU(0.2)]
  prev, mult = mult, min(2**n_layers, 8)
  layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, 1, 1, bias=use_bias), _norm_layer(norm, ndf * mult),
             nn.LeakyReLU(0.2), nn.Conv2d(ndf * mult, 1, 4, 1, 1)]
  return nn.Sequential(*layers)


class Pix2PixDiscriminator(nn.Module):
  """The PatchGAN on cat(input, output) (conditional) or on the output alone."""

  def __init__(self, hp):
    super().__init__()
    self.conditional = hp["conditional_discriminator"]
    in_nc = hp["image_shape"][-1] + (hp["input_channels"] if self.conditional else 0)
    self.net = _patch_discriminator(in_nc, hp["discriminator_features"], hp["discriminator"], hp["norm"])

  def forward(self, a, b):
    return self.net(torch.cat([a, b], 1) if self.conditional else b)


class ResnetBlock(nn.Module):
  """x + [reflect pad 1, conv 3x3, norm, ReLU, reflect pad 1, conv 3x3, norm](x), no dropout."""

  def __init__(self, dim: int, norm: str):
    super().__init__()
    use_bias = norm != "batch"
    self.conv_block = nn.Sequential(
        nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=use_bias), _norm_layer(norm, dim), nn.ReLU(),
        nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=use_bias), _norm_layer(norm, dim),
    )

  def forward(self, x):
    return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
  """The reference's ResnetGenerator (Johnson et al.): reflect-padded 7x7 stem, stride-2 downs, blocks, ups, 7x7 head."""

  def __init__(self, hp, input_nc: int, output_nc: int):
    super().__init__()
    f, norm, d = hp["features"], hp["norm"], hp["num_downsamplings"]
    use_bias = norm != "batch"
    layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, f, 7, bias=use_bias), _norm_layer(norm, f),
                               nn.ReLU()]
    for i in range(d):
      layers += [nn.Conv2d(f * 2**i, f * 2 ** (i + 1), 3, 2, 1, bias=use_bias), _norm_layer(norm, f * 2 ** (i + 1)),
                 nn.ReLU()]
    layers += [ResnetBlock(f * 2**d, norm) for _ in range(hp["num_blocks"])]
    for i in range(d, 0, -1):
      layers += [nn.ConvTranspose2d(f * 2**i, f * 2 ** (i - 1), 3, 2, 1, output_padding=1, bias=use_bias),
                 _norm_layer(norm, f * 2 ** (i - 1)), nn.ReLU()]
    layers += [nn.ReflectionPad2d(3), nn.Conv2d(f, output_nc, 7), nn.Tanh()]
    self.model = nn.Sequential(*layers)

  def forward(self, x):
    return self.model(x)


class ImagePool:
  """The reference's ImagePool on a tensor buffer (no host round trip, so ``torch.compile`` traces it).

  Image by image, in order: while the pool is not full, the image is stored and returned; once it is
  full, with probability 1/2 a uniformly chosen stored image is returned and the new one takes its
  slot, otherwise the new image is returned. The batch is done at once with that outcome: the fill
  writes first; a swapping image returns its slot as the previous swapping image of the same slot
  (or the fill) left it, and each slot keeps the last image swapped into it.
  """

  def __init__(self, size: int, shape: tuple[int, ...], device=None):
    self.size = size
    self.images = torch.zeros((size, *shape), device=device)
    self.count = torch.zeros((), dtype=torch.long, device=device)

  def query(self, images: torch.Tensor, draws: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """``draws``: the uniform numbers and slots of the images (default: fresh ones), for tests."""
    images = images.detach()
    n, size, dev = images.shape[0], self.size, images.device
    u, slot = draws if draws is not None else (torch.rand(n, device=dev), torch.randint(0, size, (n,), device=dev))
    order = torch.arange(n, device=dev)
    fills = order < (size - self.count)  # the images that go into a free slot (the pool is not full yet)
    # Fill: slot count + i takes image i.
    src = torch.arange(size, device=dev) - self.count
    filled = (src >= 0) & (src < n)
    stored = torch.where(filled.view(-1, *[1] * (images.dim() - 1)), images[src.clamp(0, n - 1)], self.images)
    swap = ~fills & (u > 0.5)
    # The latest earlier image swapped into the same slot, if any: image i then gets it back.
    same = swap[None, :] & (slot[None, :] == slot[:, None])  # (i, j): j swaps into i's slot
    before = same & (order[None, :] < order[:, None])
    prev = torch.where(before, order[None, :], -1).amax(1)
    got = torch.where((prev >= 0).view(-1, *[1] * (images.dim() - 1)), images[prev.clamp(min=0)], stored[slot])
    out = torch.where(swap.view(-1, *[1] * (images.dim() - 1)), got, images)
    # Each slot keeps the last image swapped into it.
    writes = swap[None, :] & (slot[None, :] == torch.arange(size, device=dev)[:, None])  # (slot, image)
    last = torch.where(writes, order[None, :], -1).amax(1)
    self.images.copy_(torch.where((last >= 0).view(-1, *[1] * (images.dim() - 1)), images[last.clamp(min=0)], stored))
    self.count.copy_(torch.clamp(self.count + n, max=size))
    return out


def _pix2pix_step(generator, discriminator, hp):
  """The reference's Pix2PixModel.optimize_parameters: G(a) once, D update, then G update (BCE on logits + L1)."""
  d_opt, g_opt = _adam(discriminator.parameters(), hp), _adam(generator.parameters(), hp)
  g_params = list(generator.parameters())
  l1_weight = hp["l1_weight"]

  def bce(logits, real: bool):
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, 1.0 if real else 0.0))

  def step(a, b):
    fake = generator(a)
    d_opt.zero_grad(set_to_none=True)
    d_loss = 0.5 * (bce(discriminator(a, fake.detach()), False) + bce(discriminator(a, b), True))
    d_loss.backward()
    d_opt.step()
    g_opt.zero_grad(set_to_none=True)
    g_loss = bce(discriminator(a, fake), True) + l1_weight * F.l1_loss(fake, b)
    # G's gradients only (the reference sets D's requires_grad to False for this update).
    for p, g in zip(g_params, torch.autograd.grad(g_loss, g_params)):
      p.grad = g
    g_opt.step()
    return d_loss.detach() + g_loss.detach()

  return step


def _cyclegan_step(g_ab, g_ba, d_a, d_b, hp, device):
  """The reference's CycleGANModel.optimize_parameters: forward, both G's jointly, then both D's with the pools.

  One Adam for both generators and one for both discriminators (``itertools.chain``), LSGAN (MSE against 1
  and 0), L1 cycle and identity losses. jaxgen's names: g_ab = the reference's G_A, g_ba = G_B, d_b (judges
  B images) = D_A, d_a = D_B.
  """
  g_params = list(itertools.chain(g_ab.parameters(), g_ba.parameters()))
  g_opt, d_opt = _adam(g_params, hp), _adam(itertools.chain(d_a.parameters(), d_b.parameters()), hp)
  lam_a = lam_b = hp["cycle_weight"]
  lam_idt = hp["identity"]
  pool_a = ImagePool(hp["pool_size"], (hp["image_shape"][-1], *hp["image_shape"][:2]), device)
  pool_b = ImagePool(hp["pool_size"], (hp["image_shape"][-1], *hp["image_shape"][:2]), device)

  def gan(pred, real: bool):
    return F.mse_loss(pred, torch.full_like(pred, 1.0 if real else 0.0))

  def d_basic(d, real, fake):
    return 0.5 * (gan(d(real), True) + gan(d(fake.detach()), False))

  def step(a, b):
    fake_b = g_ab(a)
    rec_a = g_ba(fake_b)
    fake_a = g_ba(b)
    rec_b = g_ab(fake_a)
    g_opt.zero_grad(set_to_none=True)
    g_loss = (gan(d_b(fake_b), True) + gan(d_a(fake_a), True)
              + lam_a * F.l1_loss(rec_a, a) + lam_b * F.l1_loss(rec_b, b))
    if lam_idt > 0:
      g_loss = g_loss + lam_idt * (lam_b * F.l1_loss(g_ab(b), b) + lam_a * F.l1_loss(g_ba(a), a))
    # The generators' gradients only (the reference sets the D's requires_grad to False for this update).
    for p, g in zip(g_params, torch.autograd.grad(g_loss, g_params)):
      p.grad = g
    g_opt.step()
    d_opt.zero_grad(set_to_none=True)
    d_loss = d_basic(d_b, b, pool_b.query(fake_b)) + d_basic(d_a, a, pool_a.query(fake_a))
    d_loss.backward()
    d_opt.step()
    return g_loss.detach() + d_loss.detach()

  return step


# ---- BigGAN ---------------------------------------------------------------------------------------------


def _biggan_plans(hp) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, bool, int]]]:
  """G's blocks (in, out, output side) and D's (in, out, downsample, output side): ``G_arch`` / ``D_arch`` at 32, 64.

  The sides are the blocks' true output sides (the reference labels all of ``D_arch[32]``'s blocks 16),
  which is where jaxgen puts attention.
  """
  (side, _, channels), c = hp["image_shape"], hp["ch"]
  if side == 32:
    g = [(4 * c, 4 * c, s) for s in (8, 16, 32)]
    d_outs, d_down = [4 * c] * 4, [True, True, False, False]
  elif side == 64:
    g = [(c * a, c * b, s) for a, b, s in zip((16, 16, 8, 4), (16, 8, 4, 2), (8, 16, 32, 64))]
    d_outs, d_down = [c * m for m in (1, 2, 4, 8, 16)], [True] * 4 + [False]
  else:
    raise ValueError(f"the BigGAN peer has the reference's 32 and 64 architectures, not side {side}")
  d, in_ch = [], channels
  for out, down in zip(d_outs, d_down):
    side //= 2 if down else 1
    d.append((in_ch, out, down, side))
    in_ch = out
  return g, d


def _init_weight(layer: nn.Module, hp) -> nn.Module:
  """The reference's init of a conv, linear or embedding weight (``G_init`` "ortho" or "N02"); biases as PyTorch's."""
  if hp["init"] == "ortho":
    nn.init.orthogonal_(layer.weight)
  else:
    nn.init.normal_(layer.weight, 0.0, 0.02)
  return layer


def _sn(layer: nn.Module, hp) -> nn.Module:
  """``layer`` initialised as the reference does, spectrally normalised (one power iteration per training call)."""
  return torch.nn.utils.parametrizations.spectral_norm(_init_weight(layer, hp), eps=hp["sn_eps"])


def _bn_momentum(hp) -> float:
  return 1.0 - hp["batch_norm_momentum"]  # flax keeps momentum of the old statistic, PyTorch weighs the new


class ConditionalBatchNorm(nn.Module):
  """The reference's ``ccbn``: BN without affine, times 1 + W_g cond, plus W_b cond (SN linears, no bias)."""

  def __init__(self, channels: int, cond_features: int, hp):
    super().__init__()
    self.norm = nn.BatchNorm2d(channels, eps=hp["bn_eps"], momentum=_bn_momentum(hp), affine=False)
    self.gain = _sn(nn.Linear(cond_features, channels, bias=False), hp)
    self.bias = _sn(nn.Linear(cond_features, channels, bias=False), hp)

  def forward(self, x, cond):
    gain = 1 + self.gain(cond)
    return self.norm(x) * gain[:, :, None, None] + self.bias(cond)[:, :, None, None]


class SelfAttention(nn.Module):
  """The reference's ``Attention``: x + gamma * o(g beta), phi and g max-pooled 2x2, gamma from 0, no biases."""

  def __init__(self, channels: int, hp):
    super().__init__()
    self.theta = _sn(nn.Conv2d(channels, channels // 8, 1, bias=False), hp)
    self.phi = _sn(nn.Conv2d(channels, channels // 8, 1, bias=False), hp)
    self.g = _sn(nn.Conv2d(channels, channels // 2, 1, bias=False), hp)
    self.o = _sn(nn.Conv2d(channels // 2, channels, 1, bias=False), hp)
    self.gamma = nn.Parameter(torch.zeros(()))

  def forward(self, x):
    b, c, h, w = x.shape
    theta = self.theta(x).flatten(2)  # (B, C/8, HW)
    phi = F.max_pool2d(self.phi(x), 2).flatten(2)  # (B, C/8, HW/4)
    g = F.max_pool2d(self.g(x), 2).flatten(2)  # (B, C/2, HW/4)
    beta = F.softmax(torch.bmm(theta.transpose(1, 2), phi), -1)  # (B, HW, HW/4)
    return x + self.gamma * self.o(torch.bmm(g, beta.transpose(1, 2)).view(b, c // 2, h, w))


class GBlock(nn.Module):
  """relu(ccbn_1) -> nearest 2x -> conv 3x3 -> relu(ccbn_2) -> conv 3x3, plus conv 1x1 of the upsampled input."""

  def __init__(self, in_ch: int, out_ch: int, cond_features: int, hp):
    super().__init__()
    self.bn1 = ConditionalBatchNorm(in_ch, cond_features, hp)
    self.conv1 = _sn(nn.Conv2d(in_ch, out_ch, 3, padding=1), hp)
    self.bn2 = ConditionalBatchNorm(out_ch, cond_features, hp)
    self.conv2 = _sn(nn.Conv2d(out_ch, out_ch, 3, padding=1), hp)
    self.conv_sc = _sn(nn.Conv2d(in_ch, out_ch, 1), hp)  # every block upsamples: the shortcut is learnable

  def forward(self, x, cond):
    h = F.interpolate(F.relu(self.bn1(x, cond)), scale_factor=2)
    h = self.conv2(F.relu(self.bn2(self.conv1(h), cond)))
    return h + self.conv_sc(F.interpolate(x, scale_factor=2))


class DBlock(nn.Module):
  """[relu] -> conv 3x3 -> relu -> conv 3x3 -> [avg pool 2], plus the shortcut (conv 1x1 and pool, when needed)."""

  def __init__(self, in_ch: int, out_ch: int, *, preactivation: bool, downsample: bool, hp):
    super().__init__()
    self.preactivation, self.downsample = preactivation, downsample
    self.conv1 = _sn(nn.Conv2d(in_ch, out_ch, 3, padding=1), hp)
    self.conv2 = _sn(nn.Conv2d(out_ch, out_ch, 3, padding=1), hp)
    self.conv_sc = _sn(nn.Conv2d(in_ch, out_ch, 1), hp) if in_ch != out_ch or downsample else None

  def shortcut(self, x):
    if self.conv_sc is None:
      return x
    if self.preactivation:  # conv then pool; the first block pools then convolves (cheaper, same function)
      x = self.conv_sc(x)
      return F.avg_pool2d(x, 2) if self.downsample else x
    return self.conv_sc(F.avg_pool2d(x, 2) if self.downsample else x)

  def forward(self, x):
    h = F.relu(x) if self.preactivation else x
    h = self.conv2(F.relu(self.conv1(h)))
    if self.downsample:
      h = F.avg_pool2d(h, 2)
    return h + self.shortcut(x)


class BigGANGenerator(nn.Module):
  """G(z, y): shared embedding (no SN), hierarchical z, SN linear to 4x4, GBlocks (+ attention), BN-relu-conv-tanh."""

  def __init__(self, hp):
    super().__init__()
    plan, _ = _biggan_plans(hp)
    self.num_chunks = len(plan) + 1 if hp["hierarchical"] else 1
    self.chunk = hp["latent_dim"] // self.num_chunks
    self.hierarchical = hp["hierarchical"]
    # Not spectrally normalised (the reference: SN on this embedding cripples G).
    self.shared = _init_weight(nn.Embedding(hp["num_classes"], hp["shared_dim"]), hp)
    self.linear = _sn(nn.Linear(self.chunk, 4 * 4 * plan[0][0]), hp)
    cond = hp["shared_dim"] + (self.chunk if self.hierarchical else 0)
    self.blocks = nn.ModuleList([GBlock(i, o, cond, hp) for i, o, _ in plan])
    self.attention = nn.ModuleList(
        [SelfAttention(o, hp) if s in hp["attention"] else nn.Identity() for _, o, s in plan])
    out = plan[-1][1]
    self.output_norm = nn.BatchNorm2d(out, eps=hp["bn_eps"], momentum=_bn_momentum(hp))
    self.output_conv = _sn(nn.Conv2d(out, hp["image_shape"][-1], 3, padding=1), hp)

  def forward(self, z, y):
    e = self.shared(y)
    if self.hierarchical:
      first, *rest = torch.split(z, self.chunk, 1)
      conds = [torch.cat([e, c], 1) for c in rest]
    else:
      first, conds = z, [e] * len(self.blocks)
    h = self.linear(first).view(z.shape[0], -1, 4, 4)
    for block, attention, cond in zip(self.blocks, self.attention, conds):
      h = attention(block(h, cond))
    return torch.tanh(self.output_conv(F.relu(self.output_norm(h))))


class BigGANDiscriminator(nn.Module):
  """D(x, y) = w^T phi + b + embed(y)^T phi, phi = sum over H, W of relu(DBlocks (+ attention)(x)); all SN."""

  def __init__(self, hp):
    super().__init__()
    _, plan = _biggan_plans(hp)
    self.blocks = nn.ModuleList([DBlock(i, o, preactivation=n > 0, downsample=d, hp=hp)
                                 for n, (i, o, d, _) in enumerate(plan)])
    self.attention = nn.ModuleList(
        [SelfAttention(o, hp) if s in hp["attention"] else nn.Identity() for _, o, _, s in plan])
    features = plan[-1][1]
    self.linear = _sn(nn.Linear(features, 1), hp)
    self.embed = _sn(nn.Embedding(hp["num_classes"], features), hp)

  def forward(self, x, y):
    h = x
    for block, attention in zip(self.blocks, self.attention):
      h = attention(block(h))
    phi = F.relu(h).sum((2, 3))
    return self.linear(phi)[:, 0] + (self.embed(y) * phi).sum(1)


def orthogonal_gradients(params: list[torch.Tensor], beta: float) -> list[torch.Tensor]:
  """The reference's ``utils.ortho`` term of each weight's gradient: beta * 2 (W W^T ⊙ (1 - I)) W.

  W = the weight viewed as (shape[0], -1), one row per output unit; shaped back like the weight.
  """
  out = []
  for p in params:
    w = p.detach().view(p.shape[0], -1)
    gram = w @ w.T
    gram.diagonal().zero_()  # ⊙ (1 - I)
    out.append((2.0 * beta * (gram @ w)).view_as(p))
  return out


def _biggan_step(generator, discriminator, hp):
  """The reference's GAN_training_function: k hinge D updates on k real minibatches, then the G update.

  Fake labels uniform over the classes, fresh z and y for every update; G is a constant in D's updates
  (its BatchNorm statistics and SN vectors still update, as the reference's G in train mode). After G's
  backward pass the orthogonal regularisation's gradient is added to every G weight with >= 2 axes but
  the shared embedding. Adam per network with its own learning rate.
  """
  d_opt = _adam(discriminator.parameters(), hp, learning_rate(hp, "discriminator"))
  g_opt = _adam(generator.parameters(), hp, learning_rate(hp, "generator"))
  g_params = list(generator.parameters())
  shared = {id(p) for p in generator.shared.parameters()}
  ortho = [i for i, p in enumerate(g_params) if p.ndim >= 2 and id(p) not in shared]
  beta, k, latent, classes = hp["generator_ortho"], hp["k"], hp["latent_dim"], hp["num_classes"]

  def sample(n, device):
    return torch.randn(n, latent, device=device), torch.randint(0, classes, (n,), device=device)

  def step(x, y):
    """x (k, B, C, H, W), y (k, B): a real minibatch for each D update."""
    n, device = x.shape[1], x.device
    d_loss = None
    for r in range(k):
      z, fake_y = sample(n, device)
      with torch.no_grad():
        fake = generator(z, fake_y)
      d_opt.zero_grad(set_to_none=True)
      d_loss = F.relu(1.0 - discriminator(x[r], y[r])).mean() + F.relu(1.0 + discriminator(fake, fake_y)).mean()
      d_loss.backward()
      d_opt.step()
    g_opt.zero_grad(set_to_none=True)
    z, fake_y = sample(n, device)
    g_loss = -discriminator(generator(z, fake_y), fake_y).mean()
    # G's gradients only (the reference turns off D's requires_grad for this update).
    grads = list(torch.autograd.grad(g_loss, g_params))
    if beta > 0:
      with torch.autocast(device.type, enabled=False):  # float32 weights, float32 regulariser
        for i, extra in zip(ortho, orthogonal_gradients([g_params[i] for i in ortho], beta)):
          grads[i] = grads[i] + extra
    for p, g in zip(g_params, grads):
      p.grad = g
    g_opt.step()
    return d_loss.detach() + g_loss.detach()

  return step


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
  if name == "pix2pix":
    return [UnetGenerator(hp), Pix2PixDiscriminator(hp)]
  if name == "cyclegan":
    c = hp["image_shape"][-1]
    return [ResnetGenerator(hp, c, c), ResnetGenerator(hp, c, c),
            *(_patch_discriminator(c, hp["discriminator_features"], hp["discriminator"], hp["norm"]) for _ in "ab")]
  if name == "biggan":
    return [BigGANGenerator(hp), BigGANDiscriminator(hp)]
  if name == "stylegan2":
    return list(torch_stylegan2.build_models(hp))
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

  def autocast_step(*batch):
    with torch.autocast(device.type, dtype=torch.bfloat16):
      return step(*batch)

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
  elif name == "pix2pix":
    # Aligned pairs: inputs and targets gathered at the same indices.
    a_all, b_all = (_nchw(data["pair"][k]).to(device) for k in "ab")
    step = _pix2pix_step(*(m.train() for m in build_models(name)), hp)
  elif name == "cyclegan":
    # Unpaired: each domain at its own random indices (the reference's unaligned dataset).
    a_all, b_all = (_nchw(data[k]).to(device) for k in "ab")
    step = _cyclegan_step(*(m.train() for m in build_models(name)), hp, device)
  elif name == "biggan":
    # A real minibatch per D update: images and labels gathered at the same (k, batch) indices.
    x_all, y_all = _nchw(data["x"]["x"]).to(device), torch.from_numpy(data["x"]["y"]).long().to(device)
    step = _biggan_step(*(m.train() for m in build_models(name)), hp)
  elif name == "stylegan2":
    # The reference's loop: Gmain, Greg every g_reg_interval steps, Dmain, Dreg every d_reg_interval, on x.
    x_all = _nchw(data["x"]).to(device)
    step = torch_stylegan2.build_step(*build_models(name), hp)
  else:
    raise ValueError(f"no PyTorch peer for '{name}'")
  step = _autocast(step, device, compute_dtype)
  if compile:
    step = torch.compile(step)

  if name in ("pix2pix", "cyclegan"):
    def run_pair():
      idx_a = torch.randint(0, num_examples, (batch_size,), device=a_all.device)
      idx_b = idx_a if name == "pix2pix" else torch.randint(0, num_examples, (batch_size,), device=b_all.device)
      return step(a_all[idx_a], b_all[idx_b])

    return run_pair

  if name == "biggan":
    def run_k():
      idx = torch.randint(0, num_examples, (hp["k"], batch_size), device=x_all.device)
      return step(x_all[idx], y_all[idx])

    return run_k

  def run():
    idx = torch.randint(0, num_examples, (batch_size,), device=x_all.device)
    return step(x_all[idx])

  return run
