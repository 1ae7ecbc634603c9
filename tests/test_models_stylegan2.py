"""The StyleGAN2 family "stylegan2": equalised learning rate, mapping, modulated synthesis, mixing, mbstd, resnet D.

Each test aims at a known re-implementation mistake of NVlabs/stylegan2-ada-pytorch's
``training/networks.py`` (and ``training/loss.py``'s style mixing,
``torch_utils/ops/upfirdn2d.py`` / ``conv2d_resample.py``'s resampling); the
references the tests compare against are written here in numpy, separately.
Models are tiny (widths 4-8, sides 8-16, batch 2-4).
"""

import doctest
import functools
import math

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from flax import nnx

import jaxgen.models
from jaxgen.models import stylegan2 as sg
from jaxgen.models._registry import build_models, get_model_spec, model_hparams

SQRT2 = math.sqrt(2.0)


def _hp(**changes):
  # side 8: blocks 4 and 8, num_ws 4; 8 channels at 4 and 8 (channel_base 64).
  return sg.StyleGAN2Config(**{"image_shape": (8, 8, 1), "latent_dim": 6, "w_dim": 8, "mapping_layers": 2,
                               "channel_base": 64, "channel_max": 8, "mbstd_group_size": 2, **changes})


@pytest.fixture(scope="module")
def nets():
  """Unconditional G and D at side 8."""
  hp = _hp()
  return sg.StyleGAN2Generator(hp, rngs=nnx.Rngs(0)), sg.StyleGAN2Discriminator(hp, rngs=nnx.Rngs(1))


@pytest.fixture(scope="module")
def conditional():
  """The same sizes, conditional on 3 classes; D's label mapping of 2 layers."""
  hp = _hp(num_classes=3, discriminator_mapping_layers=2)
  return hp, sg.StyleGAN2Generator(hp, rngs=nnx.Rngs(2)), sg.StyleGAN2Discriminator(hp, rngs=nnx.Rngs(3))


# Compiled once per static combination and shared by the tests (eager calls compile op by op, slowly).
@functools.partial(nnx.jit, static_argnames=("train", "noise_mode", "mixing_prob", "truncation_psi"))
def _generate(g, z, key=None, *, train=False, noise_mode=None, mixing_prob=0.0, truncation_psi=1.0):
  return g(z, train=train, key=key, noise_mode=noise_mode, mixing_prob=mixing_prob, truncation_psi=truncation_psi)


@functools.partial(nnx.jit, static_argnames=("train", "truncation_psi", "truncation_cutoff"))
def _map(mapping, z, y=None, *, train=False, truncation_psi=1.0, truncation_cutoff=None):
  return mapping(z, y, train=train, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)


@nnx.jit
def _call(module, *args):
  return module(*args)


_upfirdn2d = jax.jit(sg.upfirdn2d, static_argnames=("up", "down", "padding"))
_modulated_conv2d = jax.jit(sg.modulated_conv2d, static_argnames=("demodulate", "up"))
_minibatch_std = jax.jit(sg.minibatch_std, static_argnums=(1, 2))


# --- numpy references, written separately -------------------------------------------------------------


def _np_upfirdn(x, up=1, down=1, pad=(0, 0), gain=None):
  """upfirdn2d as _upfirdn2d_ref: zeros after each pixel, pad, convolve with the 2D filter outer([1,3,3,1]) / 64."""
  x = np.asarray(x, np.float64)
  f = np.outer([1.0, 3.0, 3.0, 1.0], [1.0, 3.0, 3.0, 1.0])
  f = f / f.sum() * (up**2 if gain is None else gain)
  b, h, w, c = x.shape
  u = np.zeros((b, h * up, w * up, c))
  u[:, ::up, ::up] = x
  p = np.pad(u, ((0, 0), pad, pad, (0, 0)))
  flipped = f[::-1, ::-1]  # a convolution
  ho, wo = p.shape[1] - 3, p.shape[2] - 3
  out = sum(flipped[a, c2] * p[:, a:a + ho, c2:c2 + wo] for a in range(4) for c2 in range(4))
  return out[:, ::down, ::down]


def _np_correlate(x, k, pad=0, stride=1):
  """VALID cross-correlation after zero padding, NHWC / HWIO."""
  x = np.pad(np.asarray(x, np.float64), ((0, 0), (pad, pad), (pad, pad), (0, 0)))
  k = np.asarray(k, np.float64)
  kh, kw = k.shape[:2]
  ho, wo = x.shape[1] - kh + 1, x.shape[2] - kw + 1
  out = sum(x[:, a:a + ho, c:c + wo] @ k[a, c] for a in range(kh) for c in range(kw))
  return out[:, ::stride, ::stride]


def _np_lrelu(x):
  return np.where(x >= 0, x, 0.2 * x) * SQRT2


def _np_fc(layer, x, activation="linear"):
  w = np.asarray(layer.weight[...], np.float64) * layer.lr_multiplier / math.sqrt(layer.weight.shape[0])
  y = np.asarray(x, np.float64) @ w
  if layer.bias is not None:
    y = y + np.asarray(layer.bias[...], np.float64) * layer.lr_multiplier
  return _np_lrelu(y) if activation == "lrelu" else y


def _np_normalize(x):
  x = np.asarray(x, np.float64)
  return x / np.sqrt(np.mean(x**2, axis=-1, keepdims=True) + 1e-8)


# --- plans ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("side", [8, 16, 32, 64])
def test_num_ws_is_two_per_resolution_minus_two(side):
  hp = sg.StyleGAN2Config(image_shape=(side, side, 1))
  assert hp.num_ws == 2 * int(math.log2(side)) - 2
  blocks = hp.generator_blocks
  assert [b.num_conv for b in blocks] == [1] + [2] * (len(blocks) - 1)
  # Each block's ToRGB reads w[first_w + num_conv], the next block's first w.
  assert [b.first_w for b in blocks[1:]] == [b.first_w + b.num_conv for b in blocks[:-1]]
  assert blocks[-1].first_w + blocks[-1].num_conv == hp.num_ws - 1


def test_channel_rule_and_block_plans():
  # min(channel_base // r, channel_max), as SynthesisNetwork / Discriminator.
  hp = sg.StyleGAN2Config(image_shape=(64, 64, 3), channel_base=2048, channel_max=128)
  assert [hp.channels(r) for r in (4, 8, 16, 32, 64)] == [128, 128, 128, 64, 32]
  assert [tuple(b) for b in hp.generator_blocks] == [
      (0, 128, 4, 1, 0), (128, 128, 8, 2, 1), (128, 128, 16, 2, 3), (128, 64, 32, 2, 5), (64, 32, 64, 2, 7)]
  # D: block r has C_r -> C_r, then C_r -> C_{r/2}; the first reads the image (in_channels 0).
  assert [tuple(b) for b in hp.discriminator_blocks] == [
      (0, 32, 64, 64), (64, 64, 128, 32), (128, 128, 128, 16), (128, 128, 128, 8)]
  assert hp.d_cmap_dim == 0 and _hp(num_classes=3).d_cmap_dim == 8 and _hp(num_classes=3, cmap_dim=5).d_cmap_dim == 5


# --- equalised learning rate ------------------------------------------------------------------------------


def _layers(module, kind):
  return [(path, m) for path, m in nnx.iter_graph(module) if isinstance(m, kind)]


def test_equalized_lr_runtime_scale_on_every_layer(conditional):
  _, g, d = conditional
  fcs = _layers(g, sg.FullyConnectedLayer) + _layers(d, sg.FullyConnectedLayer)
  # G: mapping 2, embed, 3 layer + 2 ToRGB affines; D: fc, out, label mapping 2, embed.
  assert len(fcs) == 2 + 1 + 3 + 2 + 2 + 2 + 1
  for path, layer in fcs:
    in_features = layer.weight.shape[0]
    # The mapping layers (G's and D's label mapping) learn 100x slower; embeddings, affines and D's head do not.
    lr = 0.01 if "mapping" in path and "layers" in path else 1.0
    assert layer.lr_multiplier == lr, path
    assert layer.weight_gain == pytest.approx(lr / math.sqrt(in_features)), path
    assert layer.bias_gain == lr, path
  convs = _layers(d, sg.Conv2dLayer)
  assert len(convs) == 1 + 3 + 1  # FromRGB, one block's conv, down-conv and skip, the epilogue's conv
  for path, layer in convs:
    k, _, in_channels, _ = layer.weight.shape
    assert layer.weight_gain == pytest.approx(1 / math.sqrt(k * k * in_channels)), path
  for path, layer in _layers(g, sg.ToRGBLayer):
    assert layer.weight_gain == pytest.approx(1 / math.sqrt(layer.weight.shape[2])), path


def test_layers_compute_with_the_runtime_scale():
  rngs = nnx.Rngs(0)
  x = np.asarray(jax.random.normal(jax.random.key(1), (3, 5)))
  for activation, lr, bias_init in (("lrelu", 0.01, 0.0), ("linear", 1.0, 1.0), ("lrelu", 0.1, 0.5)):
    layer = sg.FullyConnectedLayer(5, 4, activation=activation, lr_multiplier=lr, bias_init=bias_init, rngs=rngs)
    # The bias is stored as bias_init and used times lr (networks.py lines 101, 103).
    np.testing.assert_allclose(layer.bias[...], bias_init)
    np.testing.assert_allclose(_call(layer, jnp.asarray(x)), _np_fc(layer, x, activation), rtol=1e-5, atol=1e-5)
  conv = sg.Conv2dLayer(3, 4, 3, activation="lrelu", conv_clamp=0.5, rngs=rngs)
  conv.bias[...] = jnp.arange(4.0) / 10
  x = np.asarray(jax.random.normal(jax.random.key(2), (2, 6, 6, 3)))
  w = np.asarray(conv.weight[...]) / math.sqrt(27)
  outputs = nnx.jit(lambda conv, x: (conv(x), conv(x, gain=math.sqrt(0.5))))(conv, jnp.asarray(x))
  for gain, out in zip((1.0, math.sqrt(0.5)), outputs):
    by_hand = _np_lrelu(_np_correlate(x, w, pad=1) + np.arange(4.0) / 10) * gain
    np.testing.assert_allclose(out, np.clip(by_hand, -0.5 * gain, 0.5 * gain), rtol=1e-5, atol=1e-5)


def test_stored_weights_are_standard_normal_over_lr_multiplier():
  # The lucidrains port's known omission: the mapping's lr multiplier 0.01. Stored N(0, 1 / 0.01^2) = N(0, 100^2),
  # used times 0.01 / sqrt(128): the used weight starts N(0, 1 / 128) all the same.
  mapping = sg.MappingNetwork(128, None, 128, 4, num_layers=2, lr_multiplier=0.01, rngs=nnx.Rngs(0))
  for layer in mapping.layers:
    w = np.asarray(layer.weight[...])
    assert abs(w.std() - 100.0) < 3.0 and abs(w.mean()) < 3 * 100.0 / 128
    used = w * layer.weight_gain
    assert abs(used.std() * math.sqrt(128) - 1.0) < 0.03
    np.testing.assert_array_equal(layer.bias[...], 0.0)
  affine = sg.FullyConnectedLayer(128, 128, bias_init=1.0, rngs=nnx.Rngs(1))
  assert abs(float(affine.weight[...].std()) - 1.0) < 0.03
  np.testing.assert_array_equal(affine.bias[...], 1.0)  # styles start near 1
  conv = sg.Conv2dLayer(64, 64, 3, rngs=nnx.Rngs(2))
  assert abs(float(conv.weight[...].std()) - 1.0) < 0.03


# --- mapping network ------------------------------------------------------------------------------------------


def test_mapping_by_hand_with_normalized_label_embedding(conditional):
  hp, g, _ = conditional
  z = np.asarray(jax.random.normal(jax.random.key(0), (3, hp.latent_dim))) * 3.0
  y = np.array([0, 2, 1])
  x = np.concatenate([_np_normalize(z), _np_normalize(_np_fc(g.mapping.embed, np.eye(3)[y]))], axis=-1)
  for layer in g.mapping.layers:
    x = _np_fc(layer, x, "lrelu")
  ws = _map(g.mapping, jnp.asarray(z), jnp.asarray(y))
  chex.assert_shape(ws, (3, hp.num_ws, hp.w_dim))
  np.testing.assert_allclose(ws, np.broadcast_to(x[:, None], ws.shape), rtol=1e-4, atol=1e-5)
  # z's scale does not matter (second-moment normalisation).
  np.testing.assert_allclose(_map(g.mapping, jnp.asarray(z) / 7.0, jnp.asarray(y)), ws, rtol=1e-4, atol=1e-5)


def test_w_avg_moves_only_in_training_calls(nets):
  g = nnx.clone(nets[0])
  g.mapping.w_avg[...] = jnp.linspace(-1.0, 1.0, 8)
  before = np.asarray(g.mapping.w_avg[...])
  z = jax.random.normal(jax.random.key(0), (4, 6))
  w = np.asarray(_map(g.mapping, z)[:, 0])
  np.testing.assert_array_equal(g.mapping.w_avg[...], before)
  _generate(g, z)
  np.testing.assert_array_equal(g.mapping.w_avg[...], before)
  # Training: w_avg <- 0.995 w_avg + 0.005 mean(w); the mixing's second mapping call leaves it alone.
  _generate(g, z, jax.random.key(1), train=True, mixing_prob=1.0)
  np.testing.assert_allclose(g.mapping.w_avg[...], 0.995 * before + 0.005 * w.mean(axis=0), rtol=1e-5, atol=1e-6)


def test_w_avg_threads_through_a_plain_jit_over_split_state(nets):
  g = nets[0]
  graphdef, params, rest = nnx.split(g, nnx.Param, ...)

  @jax.jit
  def step(params, rest, z):
    model = nnx.merge(graphdef, params, rest)
    images = model(z, train=True)
    return images, nnx.split(model, nnx.Param, ...)[2]

  _, new_rest = step(params, rest, jax.random.normal(jax.random.key(0), (2, 6)))
  assert float(jnp.abs(new_rest["mapping"]["w_avg"][...] - rest["mapping"]["w_avg"][...]).max()) > 0
  # noise_const buffers are fixed.
  chex.assert_trees_all_equal(jax.tree.leaves(nnx.state(nnx.merge(graphdef, params, new_rest), sg.Buffer)),
                              jax.tree.leaves(nnx.state(g, sg.Buffer)))


def test_truncation_psi_one_is_identity_and_zero_gives_w_avg(nets):
  g = nnx.clone(nets[0])
  w_avg = jax.random.normal(jax.random.key(3), (8,))
  g.mapping.w_avg[...] = w_avg
  z = jax.random.normal(jax.random.key(0), (3, 6))
  ws = np.asarray(_map(g.mapping, z))
  np.testing.assert_array_equal(_map(g.mapping, z, truncation_psi=1.0), ws)
  w_avg = np.asarray(w_avg)
  np.testing.assert_allclose(_map(g.mapping, z, truncation_psi=0.0), np.broadcast_to(w_avg, ws.shape), atol=1e-6)
  half = np.asarray(_map(g.mapping, z, truncation_psi=0.5, truncation_cutoff=2))
  np.testing.assert_allclose(half[:, :2], w_avg + 0.5 * (ws[:, :2] - w_avg), rtol=1e-5, atol=1e-6)
  np.testing.assert_array_equal(half[:, 2:], ws[:, 2:])
  # Sampling with psi = 0: every image is G's image of w_avg.
  images = _generate(g, z, truncation_psi=0.0, noise_mode="const")
  np.testing.assert_allclose(images, np.broadcast_to(images[:1], images.shape), atol=1e-5)


# --- synthesis --------------------------------------------------------------------------------------------------


def _per_sample_modconv(x, weight, styles, demodulate, up):
  """The definition: per example w' = w s (over in-channels), w'' = w' / sqrt(sum w'^2 + 1e-8), one conv each."""
  x, weight, styles = (np.asarray(a, np.float64) for a in (x, weight, styles))
  out = []
  for xb, sb in zip(x, styles):
    wb = weight * sb[None, None, :, None]
    if demodulate:
      wb = wb / np.sqrt(np.sum(wb**2, axis=(0, 1, 2), keepdims=True) + 1e-8)
    if up:  # FIR upsampling as upfirdn2d, then a convolution (kernel flipped), as the reference's up = 2
      out.append(_np_correlate(_np_upfirdn(xb[None], up=2, pad=(3, 2)), wb[::-1, ::-1])[0])
    else:
      out.append(_np_correlate(xb[None], wb, pad=weight.shape[0] // 2)[0])
  return np.stack(out)


@pytest.mark.parametrize("demodulate,up,kernel", [(True, False, 3), (True, True, 3), (False, False, 1)])
def test_modulated_conv_equals_per_sample_weights(demodulate, up, kernel):
  keys = jax.random.split(jax.random.key(0), 3)
  x = jax.random.normal(keys[0], (3, 5, 5, 4))
  weight = jax.random.normal(keys[1], (kernel, kernel, 4, 6))
  styles = 1.0 + jax.random.normal(keys[2], (3, 4))
  out = _modulated_conv2d(x, weight, styles, demodulate=demodulate, up=up)
  np.testing.assert_allclose(out, _per_sample_modconv(x, weight, styles, demodulate, up), rtol=1e-4, atol=1e-4)


def test_demodulated_conv_keeps_unit_variance():
  keys = jax.random.split(jax.random.key(0), 3)
  x = jax.random.normal(keys[0], (4, 20, 20, 32))
  weight = jax.random.normal(keys[1], (3, 3, 32, 16))
  for styles in (1.0 + 0.5 * jax.random.normal(keys[2], (4, 32)), 3.0 * jax.random.normal(keys[2], (4, 32))):
    out = np.asarray(_modulated_conv2d(x, weight, styles))[:, 1:-1, 1:-1]  # away from the zero padding
    var = out.var(axis=(1, 2))  # per example and output channel, over pixels
    assert abs(var.mean() - 1.0) < 0.05 and np.all(np.abs(var - 1.0) < 0.4), var.mean()
    raw = np.asarray(_modulated_conv2d(x, weight, styles, demodulate=False))[:, 1:-1, 1:-1]
    assert raw.var() > 10.0  # without demodulation the scale follows w and s


def test_upfirdn2d_matches_the_reference_definition():
  x = jax.random.normal(jax.random.key(0), (2, 6, 6, 3))
  for up, down, pad in ((2, 1, (2, 1)), (2, 1, (3, 2)), (1, 1, (2, 2)), (1, 2, (1, 1))):
    np.testing.assert_allclose(_upfirdn2d(x, up=up, down=down, padding=pad), _np_upfirdn(x, up, down, pad),
                               rtol=1e-5, atol=1e-5)
  up = jax.jit(sg.upsample2d)(x)
  chex.assert_shape(up, (2, 12, 12, 3))
  # FIR, not nearest or bilinear: an impulse spreads to outer([1, 3, 3, 1]) / 16, and constants stay constant inside.
  impulse = jnp.zeros((1, 4, 4, 1)).at[0, 1, 1, 0].set(1.0)
  np.testing.assert_allclose(_upfirdn2d(impulse, up=2, padding=(2, 1))[0, 1:5, 1:5, 0],
                             np.outer([1, 3, 3, 1], [1, 3, 3, 1]) / 16, atol=1e-6)
  np.testing.assert_allclose(_upfirdn2d(jnp.ones((1, 4, 4, 1)), up=2, padding=(2, 1))[0, 2:-2, 2:-2], 1.0, atol=1e-6)


def test_upsampling_conv_equals_the_references_transposed_conv_path():
  # conv2d_resample's fast path for up = 2: conv_transpose2d (stride 2, no flip), then the filter with padding 1.
  x = np.asarray(jax.random.normal(jax.random.key(0), (2, 4, 4, 3)), np.float64)
  k = np.asarray(jax.random.normal(jax.random.key(1), (3, 3, 3, 5)), np.float64)
  scattered = np.zeros((2, 9, 9, 5))
  for a in range(3):
    for b in range(3):
      scattered[:, a:a + 8:2, b:b + 8:2] += x @ k[a, b]
  expected = _np_upfirdn(scattered, pad=(1, 1), gain=4)
  out = jax.jit(sg._upsample_conv)(jnp.asarray(x, jnp.float32), jnp.asarray(k, jnp.float32))
  np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kernel", [3, 1])
def test_downsampling_conv_equals_the_references_generic_path(kernel):
  # conv2d_resample's generic path for down = 2: pad, convolve at full resolution, filter, keep every second pixel.
  x = np.asarray(jax.random.normal(jax.random.key(0), (2, 8, 8, 3)), np.float64)
  k = np.asarray(jax.random.normal(jax.random.key(1), (kernel, kernel, 3, 4)), np.float64)
  p = kernel // 2 + 1
  expected = _np_upfirdn(_np_correlate(np.pad(x, ((0, 0), (p, p), (p, p), (0, 0))), k), down=2)
  out = jax.jit(sg._downsample_conv)(jnp.asarray(x, jnp.float32), jnp.asarray(k, jnp.float32))
  chex.assert_shape(out, (2, 4, 4, 4))
  np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kernel", [3, 1])
def test_downsampling_conv_derivatives_equal_autodiff_of_the_plain_form(kernel):
  # _downsample_conv computes its derivatives its own way (a custom JVP for k = 3, the filter on pixel phases
  # for k = 1); the plain form, differentiated by JAX: upfirdn2d, then lax's strided (or 1x1) convolution.
  def plain(x, k):
    y, stride = (sg.upfirdn2d(x, down=2, padding=(1, 1)), 1) if kernel == 1 else (sg.upfirdn2d(x, padding=(2, 2)), 2)
    return jax.lax.conv_general_dilated(y, k, (stride, stride), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"))

  keys = jax.random.split(jax.random.key(0), 5)
  x, dx = (jax.random.normal(key, (2, 8, 8, 3)) for key in keys[:2])
  k, dk = (jax.random.normal(key, (kernel, kernel, 3, 4)) / kernel for key in keys[2:4])
  v = jax.random.normal(keys[4], (2, 4, 4, 4))

  @jax.jit
  def derivatives(x, k):
    out = {}
    for name, f in (("new", sg._downsample_conv), ("plain", plain)):
      d = lambda x, k, f=f: jnp.sum(jnp.tanh(f(x, k)) * v)  # noqa: E731
      r1 = lambda x, k, d=d: jnp.sum(jnp.square(jax.grad(d)(x, k)))  # noqa: E731  (R1's second derivative)
      out[name] = (jax.grad(d, argnums=(0, 1))(x, k), jax.grad(r1, argnums=(0, 1))(x, k),
                   jax.jvp(f, (x, k), (dx, dk))[1])
    return out

  out = derivatives(x, k)
  chex.assert_trees_all_close(out["new"], out["plain"], rtol=1e-4, atol=1e-5)


def test_synthesis_layer_and_torgb_by_hand(nets):
  block = nets[0].synthesis.blocks[1]  # 8x8: up-conv 8 -> 8, conv, ToRGB 8 -> 1
  layer, torgb = nnx.clone(block.conv0), block.torgb
  layer.noise_strength[...] = jnp.array(0.3)
  layer.bias[...] = jnp.linspace(-0.5, 0.5, 8)
  x = jax.random.normal(jax.random.key(0), (2, 4, 4, 8))
  w = jax.random.normal(jax.random.key(1), (2, 8))
  styles = _np_fc(layer.affine, w)
  expected = _per_sample_modconv(x, layer.weight[...], styles, True, True)
  expected = expected + 0.3 * np.asarray(layer.noise_const[...])[None, :, :, None]
  expected = _np_lrelu(expected + np.linspace(-0.5, 0.5, 8))
  out = nnx.jit(lambda layer, x, w: layer(x, w, noise_mode="const"))(layer, x, w)
  np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)
  h = jax.random.normal(jax.random.key(2), (2, 8, 8, 8))
  rgb_styles = _np_fc(torgb.affine, w) / math.sqrt(8)
  expected = _per_sample_modconv(h, torgb.weight[...], rgb_styles, False, False) + np.asarray(torgb.bias[...])
  np.testing.assert_allclose(_call(torgb, h, w), expected, rtol=1e-4, atol=1e-4)


def test_skip_synthesis_sums_upsampled_rgb_and_shares_torgb_ws(nets):
  synthesis = nets[0].synthesis
  ws = jax.random.normal(jax.random.key(0), (2, 4, 8))

  @nnx.jit
  def module_and_hand(synthesis, ws):
    b4, b8 = synthesis.blocks
    run = dict(noise_mode="none")
    x = b4.conv1(jnp.broadcast_to(b4.const[...][None], (2, 4, 4, 8)), ws[:, 0], **run)
    img = b4.torgb(x, ws[:, 1])  # the 4x4 ToRGB reads w1, as does the 8x8 block's first layer
    x = b8.conv1(b8.conv0(x, ws[:, 1], **run), ws[:, 2], **run)
    return synthesis(ws, noise_mode="none"), sg.upsample2d(img) + b8.torgb(x, ws[:, 3])

  np.testing.assert_allclose(*module_and_hand(synthesis, ws), rtol=1e-5, atol=1e-5)


def test_constant_input_is_a_learned_parameter(nets):
  g = nets[0]
  const = g.synthesis.blocks[0].const
  assert isinstance(const, nnx.Param) and const.shape == (4, 4, 8)
  assert g.synthesis.blocks[1].const is None
  assert abs(float(const[...].std()) - 1.0) < 0.3  # N(0, 1), as torch.randn
  z = jax.random.normal(jax.random.key(0), (2, 6))
  moved = nnx.clone(g)
  moved.synthesis.blocks[0].const[...] = const[...] + 1.0
  assert float(jnp.abs(_generate(moved, z) - _generate(g, z)).max()) > 1e-4


def test_noise_strengths_start_at_zero_so_noise_has_no_effect_at_init(nets):
  g = nnx.clone(nets[0])
  layers = _layers(g, sg.SynthesisLayer)
  assert len(layers) == g.num_ws - 1 == 3
  for _, layer in layers:
    assert isinstance(layer.noise_strength, nnx.Param) and layer.noise_strength.shape == ()
    assert float(layer.noise_strength[...]) == 0.0
    assert isinstance(layer.noise_const, sg.Buffer)

  @nnx.jit
  def every_mode(g, z):
    return (g(z, train=False, noise_mode="none"), g(z, train=False, noise_mode="random", key=jax.random.key(1)),
            g(z, train=False, noise_mode="const"),
            g(z, train=False, key=jax.random.key(2)),  # the default with a key: random noise
            g(z, train=False))  # the default without a key: none

  z = jax.random.normal(jax.random.key(0), (2, 6))
  plain, random, const, default_key, default = every_mode(g, z)
  for out in (random, const, default_key, default):
    np.testing.assert_array_equal(out, plain)
  for _, layer in layers:
    layer.noise_strength[...] = jnp.array(0.5)
  plain, random, const, default_key, default = every_mode(g, z)
  for noisy in (random, const, default_key):
    assert float(jnp.abs(noisy - plain).max()) > 1e-3
  assert float(jnp.abs(random - default_key).max()) > 1e-3  # fresh noise per key
  np.testing.assert_array_equal(default, plain)
  with pytest.raises(ValueError, match="pass key="):
    g(z, train=False, noise_mode="random")


# --- style mixing ----------------------------------------------------------------------------------------


def test_style_mixing_cutoff_is_uniform_and_mixes_with_the_given_probability():
  keys = jax.random.split(jax.random.key(0), 20000)
  cutoffs = np.asarray(jax.jit(jax.vmap(lambda k: sg.style_mixing_cutoff(k, 8, 0.9)))(keys))
  counts = np.bincount(cutoffs, minlength=9)
  assert counts[0] == 0  # never mixes from the first w: that would replace every w
  assert abs(counts[8] / 20000 - 0.1) < 0.01
  # Given mixing, the cutoff is uniform in [1, 8): chi-square with 6 degrees of freedom, far below 30.
  expected = counts[1:8].sum() / 7
  assert np.sum((counts[1:8] - expected) ** 2 / expected) < 30.0
  never, always = jax.jit(jax.vmap(lambda k: (sg.style_mixing_cutoff(k, 8, 0.0), sg.style_mixing_cutoff(k, 8, 1.0))))(
      keys[:500])
  assert np.all(np.asarray(never) == 8) and np.all(np.asarray(always) < 8)


def test_style_mixing_uses_the_second_w_from_the_cutoff_for_the_whole_batch(nets):
  g = nets[0]
  z = jax.random.normal(jax.random.key(0), (3, 6))
  key = jax.random.key(5)

  @nnx.jit
  def styles(g, z, key):
    cutoff_key, z_key = jax.random.split(key)
    return (g.styles(z, train=False, key=key, mixing_prob=1.0), sg.style_mixing_cutoff(cutoff_key, 4, 1.0),
            g.mapping(z, None, train=False), g.mapping(jax.random.normal(z_key, z.shape), None, train=False),
            g.styles(z, train=False, key=key, mixing_prob=0.0), g.styles(z, train=False))

  ws, cutoff, first, second, unmixed, keyless = styles(g, z, key)
  cutoff = int(cutoff)
  assert 1 <= cutoff < 4
  np.testing.assert_allclose(ws[:, :cutoff], first[:, :cutoff], rtol=1e-6, atol=1e-7)
  np.testing.assert_allclose(ws[:, cutoff:], second[:, cutoff:], rtol=1e-6, atol=1e-7)
  assert float(jnp.abs(first[:, cutoff:] - second[:, cutoff:]).min()) > 0
  np.testing.assert_allclose(unmixed, first, rtol=1e-6, atol=1e-7)
  np.testing.assert_allclose(keyless, first, rtol=1e-6, atol=1e-7)


# --- discriminator -----------------------------------------------------------------------------------------


def _np_mbstd(x, group):
  """Group j = the examples i with i % (B / group) == j (the reference's reshape(G, -1, ...)); F = 1."""
  x = np.asarray(x, np.float64)
  n = x.shape[0] // group
  out = np.empty(x.shape[0])
  for i in range(x.shape[0]):
    members = x[[m for m in range(x.shape[0]) if m % n == i % n]]
    out[i] = np.sqrt(members.var(axis=0) + 1e-8).mean()
  return out


def test_minibatch_std_matches_numpy_over_strided_groups():
  x = jax.random.normal(jax.random.key(0), (8, 4, 4, 6)) * jnp.arange(1.0, 9.0)[:, None, None, None]
  y = _minibatch_std(x, 4, 1)
  chex.assert_shape(y, (8, 4, 4, 7))
  np.testing.assert_array_equal(y[..., :6], x)
  stat = np.asarray(y[..., 6])
  np.testing.assert_allclose(stat, np.broadcast_to(_np_mbstd(x, 4)[:, None, None], (8, 4, 4)), rtol=1e-5)
  # Contiguous groups (0-3, 4-7) would give other values: examples 0 and 1 sit in different groups.
  assert abs(stat[0, 0, 0] - stat[1, 0, 0]) > 1e-3 and stat[0, 0, 0] == stat[2, 0, 0]
  # Two channel slices: each has its own statistic.
  two = np.asarray(_minibatch_std(x, 4, 2))
  np.testing.assert_allclose(two[:, 0, 0, 6], _np_mbstd(x[..., :3], 4), rtol=1e-5)
  np.testing.assert_allclose(two[:, 0, 0, 7], _np_mbstd(x[..., 3:], 4), rtol=1e-5)
  # A batch smaller than the group is one group, as the reference's min(G, N).
  np.testing.assert_allclose(_minibatch_std(x[:2], 4, 1)[:, 0, 0, 6], _np_mbstd(x[:2], 2), rtol=1e-5)


def test_group_size_not_dividing_the_batch_is_a_one_line_error(nets):
  d = nets[1]  # group size 2
  with pytest.raises(ValueError, match="group size 2 does not divide the batch 3") as error:
    _call(d, jnp.zeros((3, 8, 8, 1)))
  assert "\n" not in str(error.value)
  with pytest.raises(ValueError, match="group size 4 does not divide the batch 6"):
    _minibatch_std(jnp.zeros((6, 4, 4, 2)), 4, 1)


@pytest.mark.parametrize("architecture", ["resnet", "orig"])
def test_discriminator_block_by_hand(architecture):
  plan = sg.DiscriminatorBlockPlan(0, 4, 6, 8)
  block = sg.DiscriminatorBlock(plan, 2, architecture=architecture, conv_clamp=None, dtype=jnp.float32,
                                rngs=nnx.Rngs(0))
  for conv in (block.fromrgb, block.conv0, block.conv1):
    conv.bias[...] = jax.random.normal(jax.random.key(9), conv.bias.shape)
  x = np.asarray(jax.random.normal(jax.random.key(1), (2, 8, 8, 2)))

  def gained(conv):
    return np.asarray(conv.weight[...]) * conv.weight_gain

  def down(h, k):  # the reference's generic path: pad, correlate, filter, subsample
    p = k.shape[0] // 2 + 1
    return _np_upfirdn(_np_correlate(np.pad(h, ((0, 0), (p, p), (p, p), (0, 0))), k), down=2)

  h = _np_lrelu(_np_correlate(x, gained(block.fromrgb)) + np.asarray(block.fromrgb.bias[...]))
  main = _np_lrelu(_np_correlate(h, gained(block.conv0), pad=1) + np.asarray(block.conv0.bias[...]))
  main = _np_lrelu(down(main, gained(block.conv1)) + np.asarray(block.conv1.bias[...]))
  if architecture == "resnet":
    assert block.skip.bias is None and block.skip.activation == "linear"
    expected = math.sqrt(0.5) * (down(h, gained(block.skip)) + main)
  else:
    assert block.skip is None
    expected = main
  np.testing.assert_allclose(_call(block, jnp.asarray(x)), expected, rtol=1e-4, atol=1e-4)


def test_epilogue_and_conditional_projection_by_hand(conditional):
  hp, _, d = conditional
  x = jax.random.normal(jax.random.key(0), (4, 8, 8, 1))
  y = jnp.array([0, 2, 1, 2])

  @nnx.jit
  def trunk_and_logits(d, x, y):
    return d.blocks[0](x), d(x, y, train=True, key=jax.random.key(1))

  h, (logits, classes) = trunk_and_logits(d, x, y)
  chex.assert_shape(h, (4, 4, 4, 8))
  ep = d.epilogue
  h = np.asarray(h, np.float64)
  stat = _np_mbstd(h, 2)
  h = np.concatenate([h, np.broadcast_to(stat[:, None, None, None], (4, 4, 4, 1))], axis=-1)
  h = _np_lrelu(_np_correlate(h, np.asarray(ep.conv.weight[...]) * ep.conv.weight_gain, pad=1)
                + np.asarray(ep.conv.bias[...]))
  flat = h.transpose(0, 3, 1, 2).reshape(4, -1)  # torch's flatten of (C, H, W)
  out = _np_fc(ep.out, _np_fc(ep.fc, flat, "lrelu"))
  assert out.shape == (4, 8)  # cmap_dim = channels at 4x4
  cmap = _np_normalize(_np_fc(d.mapping.embed, np.eye(3)[np.asarray(y)]))
  for layer in d.mapping.layers:
    cmap = _np_fc(layer, cmap, "lrelu")
  assert classes is None and d.mapping.w_avg is None
  np.testing.assert_allclose(logits, np.sum(out * cmap, axis=-1) / math.sqrt(8), rtol=1e-4, atol=1e-4)


# --- call forms, dtypes, the family ---------------------------------------------------------------------------


def test_call_forms_of_the_gan_objective(nets, conditional):
  g, d = nets
  z = jax.random.normal(jax.random.key(0), (4, 6))
  hp, cg, cd = conditional
  y = jnp.array([0, 1, 2, 0])

  @nnx.jit
  def objective_calls(g, d, cg, cd, z, y, key):
    # jaxgen.objectives' forms: G(z, train=True), D(x, train=True, key=key); G(z, y, ...), D(x, y, ...).
    x = g(z, train=True)
    cx = cg(z, y, train=True)
    return x, d(x, train=True, key=key), cx, cd(cx, y, train=True, key=key)

  x, logits, cx, (c_logits, classes) = objective_calls(nnx.clone(g), d, nnx.clone(cg), cd, z, y, jax.random.key(1))
  chex.assert_shape((x, logits, cx, c_logits), ((4, 8, 8, 1), (4,), (4, 8, 8, 1), (4,)))
  assert x.dtype == logits.dtype == c_logits.dtype == jnp.float32
  assert classes is None
  with pytest.raises(ValueError, match="unconditional"):
    g(z, jnp.zeros((4,), jnp.int32), train=True)
  with pytest.raises(ValueError, match="integer labels"):
    cg(z, None, train=True)
  with pytest.raises(ValueError, match=r"labels y must lie in \[0, 3\)"):
    cd(cx, jnp.array([0, 1, 3, 0]), train=True)


def test_bfloat16_computes_and_float32_comes_out():
  hp = _hp(compute_dtype="bfloat16")
  g, d = sg.StyleGAN2Generator(hp, rngs=nnx.Rngs(0)), sg.StyleGAN2Discriminator(hp, rngs=nnx.Rngs(1))
  x, logits = nnx.jit(lambda g, d, z: (lambda x: (x, d(x, train=True)))(g(z, train=True)))(
      g, d, jax.random.normal(jax.random.key(0), (4, 6)))
  assert x.dtype == logits.dtype == jnp.float32
  chex.assert_tree_all_finite((x, logits))
  assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(nnx.state(g, nnx.Param)))


@pytest.mark.parametrize(
    "changes,match",
    [
        ({"image_shape": (4, 4, 1)}, "power of two >= 8"),
        ({"image_shape": (24, 24, 1)}, "power of two >= 8"),
        ({"image_shape": (16, 8, 1)}, "side, side, channels"),
        ({"w_dim": 0}, "w_dim must be a positive integer"),
        ({"num_classes": 0}, "num_classes must be a positive integer or None"),
        ({"mbstd_group_size": 0}, "mbstd_group_size"),
        ({"mbstd_num_channels": 3}, "must divide D's 8 channels"),
        ({"mapping_lr_multiplier": 0.0}, "mapping_lr_multiplier"),
        ({"w_avg_beta": 1.0}, r"w_avg_beta must be a number in \[0, 1\)"),
        ({"channel_base": 4}, "leaves no channels at side 8"),
        ({"conv_clamp": -1.0}, "conv_clamp"),
        ({"use_noise": "yes"}, "use_noise must be True or False"),
        ({"discriminator_architecture": "resnt"}, "Did you mean 'resnet'"),
        ({"compute_dtype": "float16"}, "compute_dtype"),
    ],
)
def test_bad_configs_give_one_line_errors(changes, match):
  with pytest.raises(ValueError, match=match) as error:
    _hp(**changes)
  assert "\n" not in str(error.value)


def test_docstring_examples():
  result = doctest.testmod(sg, optionflags=doctest.NORMALIZE_WHITESPACE)
  assert result.attempted > 0 and result.failed == 0


def _config(**model):
  return ml_collections.ConfigDict({"model": {"name": "stylegan2", "image_shape": [8, 8, 1], "latent_dim": 6,
                                              "w_dim": 8, "mapping_layers": 2, "channel_base": 64, "channel_max": 8,
                                              **model}})


def test_family_is_registered_builds_and_samples():
  assert "stylegan2" in jaxgen.models.model_names()
  spec = get_model_spec("stylegan2")
  assert spec.hparams is sg.StyleGAN2Config and spec.build is sg.build and spec.sample is sg.sample
  config = _config()
  assert model_hparams(config).image_shape == (8, 8, 1)
  models = build_models(config, nnx.Rngs(0))
  assert isinstance(models["generator"].mapping, sg.MappingNetwork)
  assert isinstance(models["discriminator"], sg.StyleGAN2Discriminator)
  key = jax.random.key(3)
  images = spec.sample(models, key, 3, config)
  assert images.shape == (3, 8, 8, 1) and images.min() >= 0.0 and images.max() <= 1.0
  by_hand = _generate(models["generator"], jax.random.normal(key, (3, 6)), noise_mode="const")
  np.testing.assert_allclose(images, np.clip((np.asarray(by_hand) + 1) / 2, 0, 1), atol=1e-6)
  truncated = spec.sample(models, key, 3, config, truncation_psi=0.0)
  np.testing.assert_allclose(truncated, np.broadcast_to(truncated[:1], truncated.shape), atol=1e-6)
  with pytest.raises(ValueError, match="unconditional"):
    spec.sample(models, key, 3, config, labels=[0, 1, 2])
  with pytest.raises(ValueError, match="unknown keys"):
    build_models(_config(z_dim=4), nnx.Rngs(0))


def test_conditional_sampling_labels():
  config = _config(num_classes=3)
  models = build_models(config, nnx.Rngs(0))
  key = jax.random.key(4)
  images = sg.sample(models, key, 4, config)
  by_hand = nnx.jit(lambda g, z, y: g(z, y, train=False, noise_mode="const"))(
      models["generator"], jax.random.normal(key, (4, 6)), jnp.array([0, 1, 2, 0]))
  np.testing.assert_allclose(images, np.clip((np.asarray(by_hand) + 1) / 2, 0, 1), atol=1e-6)
  with pytest.raises(ValueError, match=r"\[0, 3\)"):
    sg.sample(models, key, 2, config, labels=[0, 3])


def test_parameter_count_at_the_32x32_experiment_size():
  hp = sg.StyleGAN2Config(image_shape=(32, 32, 1), w_dim=128, latent_dim=128, mapping_layers=4)
  g = nnx.eval_shape(lambda: sg.StyleGAN2Generator(hp, rngs=nnx.Rngs(0)))
  d = nnx.eval_shape(lambda: sg.StyleGAN2Discriminator(hp, rngs=nnx.Rngs(0)))

  def count(m):
    return sum(int(np.prod(p.shape)) for p in jax.tree.leaves(nnx.state(m, nnx.Param)))

  c, w = 128, 128
  fc = w * w + w
  layer = fc + 9 * c * c + c + 1  # affine, weight, bias, noise strength
  torgb = fc + c + 1
  mapping = 4 * fc
  synthesis = (16 * c + layer + torgb) + 3 * (2 * layer + torgb)
  conv3 = 9 * c * c + c
  d_blocks = (c + c) + 3 * (2 * conv3 + c * c)  # FromRGB, then three blocks of conv, down-conv, skip
  epilogue = (9 * (c + 1) * c + c) + (16 * c * c + c) + (c + 1)
  print(f"\nStyleGAN2 32x32x1 (w 128, 4 mapping layers, 128 channels): G {count(g):,} "
        f"(mapping {count(g.mapping):,}), D {count(d):,}")
  assert (count(g.mapping), count(g.synthesis), count(d)) == (mapping, synthesis, d_blocks + epilogue)
  assert (count(g), count(d)) == (1_283_339, 1_346_049)
