"""The image-to-image families "pix2pix" and "cyclegan": PatchGAN variants, U-Net, ResNet generator, translate."""

import dataclasses
import doctest
import math

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from flax import nnx

import jaxgen.models
from jaxgen.models import cyclegan, patchgan, pix2pix
from jaxgen.models._registry import build_models, get_model_spec, model_hparams

PATCH_LAYERS = {"patch16": 1, "patch34": 2, "patch70": 3, "patch142": 4, "patch286": 5}


def _one_line_error(fn, match):
  with pytest.raises(ValueError, match=match) as error:
    fn()
  assert "\n" not in str(error.value)
  return str(error.value)


def _param_count(module) -> int:
  return sum(math.prod(v.shape) for v in jax.tree.leaves(nnx.state(module, nnx.Param)))


def _p2p(**changes):
  return pix2pix.Pix2PixConfig(**{"features": 4, "discriminator_features": 4, **changes})


def _cyc(**changes):
  return cyclegan.CycleGANConfig(**{"features": 4, "discriminator_features": 4, **changes})


def _batch_stats(module):
  """A copy of the running averages (nnx.state shares the live variables)."""
  return jax.tree.map(np.array, nnx.to_pure_dict(nnx.state(module, nnx.BatchStat)))


def _differ(a, b) -> bool:
  """a and b differ by more than float32 noise, relative to their scale (init_std 0.02 gives small outputs)."""
  a, b = np.asarray(a), np.asarray(b)
  return np.abs(a - b).max() > 1e-3 * max(np.abs(a).max(), np.abs(b).max())


def _images(key, shape, low=-1.0):
  return jax.random.uniform(jax.random.key(key), shape, minval=low, maxval=1.0)


# --- PatchGAN: shapes, errors, receptive fields ----------------------------------------------------


def _expected_side(discriminator, side):
  """Logit map side by hand: k4 s2 p1 convs take s to s // 2, each k4 s1 p1 conv takes 1 off; 0 = empty."""
  if discriminator == "pixel":
    return side
  if discriminator == "image":
    return 1
  return max(side // 2 ** PATCH_LAYERS[discriminator] - 2, 0)


@pytest.mark.parametrize("side", [16, 32, 64])
@pytest.mark.parametrize("discriminator", patchgan.DISCRIMINATORS)
def test_discriminator_output_shapes_or_one_line_error(discriminator, side):
  expected = _expected_side(discriminator, side)
  build = lambda: patchgan.PatchDiscriminator(3, image_side=side, discriminator=discriminator, features=4,
                                              rngs=nnx.Rngs(0))
  if expected == 0:
    message = _one_line_error(build, f"'{discriminator}' needs images of side >= .*variants that fit: pixel")
    fits = [d for d in patchgan.DISCRIMINATORS if _expected_side(d, side) > 0]
    assert message.endswith(", ".join(fits))
    return
  d = build()
  for train in (True, False):
    logits = d(_images(0, (2, side, side, 3)), train=train)
    chex.assert_shape(logits, (2, expected, expected))
    assert logits.dtype == jnp.float32
    chex.assert_tree_all_finite(logits)


def test_reference_patch_map_sizes():
  # 70x70 PatchGAN: 30x30 logits on 256x256 (the reference), 2x2 on 32x32.
  assert patchgan._output_side("patch70", 256) == 30 and patchgan._output_side("patch70", 32) == 2
  d = patchgan.PatchDiscriminator(1, image_side=32, features=4, rngs=nnx.Rngs(0))
  chex.assert_shape(d(jnp.zeros((1, 48, 48, 1)), train=False), (1, 4, 4))  # fully convolutional
  image = patchgan.PatchDiscriminator(1, image_side=32, discriminator="image", features=4, rngs=nnx.Rngs(0))
  _one_line_error(lambda: image(jnp.zeros((1, 48, 48, 1)), train=False), "built for 32x32")


def test_receptive_fields_computed():
  names = ["pixel", "patch16", "patch34", "patch70", "patch142", "patch286"]
  assert [patchgan.receptive_field(d) for d in names] == [1, 16, 34, 70, 142, 286]
  assert jaxgen.models.receptive_field is patchgan.receptive_field
  for side in (4, 16, 28, 32, 64):
    assert patchgan.receptive_field("image", side) >= side
  _one_line_error(lambda: patchgan.receptive_field("image"), "pass image_side")
  _one_line_error(lambda: patchgan.receptive_field("image", 3), "side >= 4")
  _one_line_error(lambda: patchgan.receptive_field("patch7"), "Did you mean 'patch70'")


def _input_gradient(d, side, index):
  x = jax.random.normal(jax.random.key(1), (1, side, side, 3))
  graphdef, state = nnx.split(d)
  grad = jax.jit(jax.grad(lambda x: nnx.merge(graphdef, state)(x, train=False)[0, index, index]))(x)
  return np.asarray(jnp.abs(grad).sum(axis=(0, 3)) > 0)


@pytest.mark.parametrize("discriminator", ["pixel", "patch16", "patch34", "patch70", "patch142", "patch286"])
def test_receptive_field_measured_from_input_gradients(discriminator):
  field = patchgan.receptive_field(discriminator)
  jump = 2 ** PATCH_LAYERS.get(discriminator, 0)
  side = -(-2 * max(field, 4) // jump) * jump  # room for the whole window around the centre logit
  # No norm: batch or instance statistics would tie every logit to every pixel. Unit weights: no tiny products.
  d = patchgan.PatchDiscriminator(3, image_side=side, discriminator=discriminator, features=4, norm="none",
                                  init_std=1.0, rngs=nnx.Rngs(0))
  centre = patchgan._output_side(discriminator, side) // 2
  seen = _input_gradient(d, side, centre)
  rows, cols = np.nonzero(seen)
  assert rows.min() > 0 and cols.min() > 0 and rows.max() < side - 1 and cols.max() < side - 1
  assert rows.max() - rows.min() + 1 == field and cols.max() - cols.min() + 1 == field
  assert seen.sum() == field**2  # a full square


@pytest.mark.parametrize("side", [16, 32])
def test_image_discriminator_sees_every_pixel(side):
  d = patchgan.PatchDiscriminator(3, image_side=side, discriminator="image", features=4, norm="none",
                                  init_std=1.0, rngs=nnx.Rngs(0))
  assert _input_gradient(d, side, 0).all()


def test_bias_rule_and_instance_norm():
  batch = patchgan.PatchDiscriminator(1, image_side=32, features=4, norm="batch", rngs=nnx.Rngs(0))
  # The reference's use_bias: no bias before BatchNorm; the first and the logit convolutions keep theirs.
  assert [c.bias is not None for c in batch.convs] == [True, False, False, False, True]
  inst = patchgan.PatchDiscriminator(1, image_side=32, features=4, norm="instance", rngs=nnx.Rngs(0))
  assert all(c.bias is not None for c in inst.convs)
  assert not jax.tree.leaves(nnx.state(inst, nnx.BatchStat))  # no running statistics
  assert not jax.tree.leaves(nnx.state(inst.norms, nnx.Param))  # no affine parameters
  # Per example and channel over H, W, PyTorch's epsilon.
  h = 3.0 + 2.0 * np.asarray(jax.random.normal(jax.random.key(0), (2, 5, 5, 8)))
  expected = (h - h.mean(axis=(1, 2), keepdims=True)) / np.sqrt(h.var(axis=(1, 2), keepdims=True) + 1e-5)
  np.testing.assert_allclose(inst.norms[0](jnp.asarray(h)), expected, rtol=1e-5, atol=1e-5)
  x = _images(1, (3, 32, 32, 1))
  np.testing.assert_allclose(inst(x, train=True)[:1], inst(x[:1], train=True), rtol=1e-5, atol=1e-6)
  pixel = patchgan.PatchDiscriminator(1, image_side=8, discriminator="pixel", features=4, rngs=nnx.Rngs(0))
  assert [c.bias is not None for c in pixel.convs] == [True, False, False]  # the reference's PixelGAN


def test_batch_norm_init_and_momentum():
  d = patchgan.PatchDiscriminator(1, image_side=32, features=16, init_std=0.02, rngs=nnx.Rngs(0))
  scale = np.concatenate([np.asarray(n.scale[...]) for n in d.norms])
  # The reference initialises BatchNorm weights from N(1, 0.02).
  assert abs(scale.mean() - 1.0) < 0.01 and 0.01 < scale.std() < 0.03
  assert all(n.momentum == 0.9 for n in d.norms)
  kernels = np.concatenate([np.asarray(c.kernel[...]).ravel() for c in d.convs])
  assert abs(kernels.std() - 0.02) < 0.002


# --- U-Net generator ------------------------------------------------------------------------------


def _torch_conv_transpose(x, weight, stride, padding, output_padding=0):
  """PyTorch's ConvTranspose2d in NHWC by scattering each input pixel (weight (k, k, C_in, C_out))."""
  n, h, w, _ = x.shape
  k = weight.shape[0]
  full = np.zeros((n, (h - 1) * stride + k + output_padding, (w - 1) * stride + k + output_padding, weight.shape[3]))
  for i in range(h):
    for j in range(w):
      full[:, i * stride:i * stride + k, j * stride:j * stride + k] += np.einsum("nc,abcd->nabd", x[:, i, j], weight)
  out_h = (h - 1) * stride - 2 * padding + k + output_padding
  out_w = (w - 1) * stride - 2 * padding + k + output_padding
  return full[:, padding:padding + out_h, padding:padding + out_w]


@pytest.mark.parametrize("impl", ["xla", "cpu_fast"])
@pytest.mark.parametrize("kernel,padding,output_padding", [(4, 1, 0), (3, 1, 1)])
def test_transposed_convolutions_are_pytorchs(kernel, padding, output_padding, impl):
  layer = patchgan._conv_transpose(3, 5, kernel, stride=2, padding=padding, output_padding=output_padding,
                                   bias=False, init_std=1.0, conv_impl=impl, dtype=jnp.float32, rngs=nnx.Rngs(0))
  x = np.asarray(jax.random.normal(jax.random.key(0), (2, 5, 7, 3)), np.float64)
  # Our kernel is PyTorch's weight flipped in both spatial axes.
  expected = _torch_conv_transpose(x, np.asarray(layer.kernel[...])[::-1, ::-1], 2, padding, output_padding)
  assert expected.shape == (2, 10, 14, 5)  # exactly doubles
  np.testing.assert_allclose(layer(jnp.asarray(x, jnp.float32)), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("side,num_downs", [(16, None), (32, 3)])
def test_unet_shapes_range_and_structure(side, num_downs):
  hp = _p2p(image_shape=(side, side, 3), input_channels=2, num_downs=num_downs, num_dropout_blocks=1,
            discriminator="pixel")
  g = pix2pix.UNetGenerator(hp, rngs=nnx.Rngs(0))
  n = hp.downs
  assert n == (num_downs or int(math.log2(side)))
  assert [c.out_features for c in g.down_convs] == [4 * min(2**i, 8) for i in range(n)]
  # Skips by concatenation: every decoder level but the innermost reads 2 C_i channels.
  assert [c.in_features for c in g.up_convs[:-1]] == [2 * c.out_features for c in g.down_convs[:-1]]
  assert g.up_convs[-1].in_features == g.down_convs[-1].out_features and g.up_convs[0].out_features == 3
  # Norms on the down levels 1 .. n-2 only: neither the outermost nor the innermost has one.
  assert [m.num_features for m in g.down_norms] == [c.out_features for c in g.down_convs[1:-1]]
  assert [m.num_features for m in g.up_norms] == [c.out_features for c in g.up_convs[1:]]
  x = _images(0, (2, side, side, 2))
  for train in (True, False):
    y = g(x, train=train, key=jax.random.key(1))
    chex.assert_shape(y, (2, side, side, 3))
    assert y.dtype == jnp.float32 and float(jnp.abs(y).max()) <= 1.0


def test_unet_default_depth_and_dropout_levels():
  reference = pix2pix.Pix2PixConfig(image_shape=(256, 256, 3), input_channels=3)
  assert reference.downs == 8
  g = nnx.eval_shape(lambda: pix2pix.UNetGenerator(reference, rngs=nnx.Rngs(0)))
  assert g.dropout_levels == (4, 5, 6)  # the three 8ngf blocks above the innermost one (use_dropout)
  assert pix2pix.UNetGenerator(_p2p(), rngs=nnx.Rngs(0)).dropout_levels == (1, 2, 3)
  assert pix2pix.Pix2PixConfig(image_shape=(28, 28, 1), num_dropout_blocks=0).downs == 2  # 28 -> 7


def test_unet_outermost_skip_carries_the_input():
  g = pix2pix.UNetGenerator(_p2p(), rngs=nnx.Rngs(0))
  x, other = _images(0, (2, 32, 32, 1)), _images(1, (2, 32, 32, 1))
  # Cut every path below level 0: the only route from x to y left is the outermost skip, concat(d_0, u_1).
  for conv in g.down_convs[1:]:
    conv.kernel[...] = jnp.zeros_like(conv.kernel[...])
  assert _differ(g(x, train=False), g(other, train=False))
  g.down_convs[0].kernel[...] = jnp.zeros_like(g.down_convs[0].kernel[...])
  chex.assert_trees_all_close(g(x, train=False), g(other, train=False), atol=1e-7)


def test_unet_innermost_without_norm_reaches_the_output_at_batch_one():
  # A norm on the 1x1 bottleneck would output its bias for a single image in train mode (the reference's
  # reason for leaving it out); without one, the bottleneck kernel shapes the output.
  g = pix2pix.UNetGenerator(_p2p(), rngs=nnx.Rngs(0))
  x, w = _images(0, (1, 32, 32, 1)), _images(1, (1, 32, 32, 1))
  graphdef, params, rest = nnx.split(g, nnx.Param, ...)

  @jax.jit
  def loss(params, rest):
    return jnp.sum(nnx.merge(graphdef, params, rest)(x, train=True) * w)

  grad = jax.grad(loss)(params, rest)["down_convs"][4]["kernel"][...]
  assert float(jnp.abs(grad).max()) > 0


def test_unet_dropout_iff_key_and_batch_norm_modes():
  g = pix2pix.UNetGenerator(_p2p(), rngs=nnx.Rngs(0))
  x = _images(0, (4, 32, 32, 1))
  no_key = g(x, train=False)
  chex.assert_trees_all_equal(no_key, g(x, train=False))
  a, b = g(x, train=False, key=jax.random.key(1)), g(x, train=False, key=jax.random.key(1))
  chex.assert_trees_all_equal(a, b)
  assert _differ(a, g(x, train=False, key=jax.random.key(2))) and _differ(a, no_key)
  no_dropout = pix2pix.UNetGenerator(_p2p(dropout_rate=0.0), rngs=nnx.Rngs(0))
  chex.assert_trees_all_close(no_dropout(x, train=False, key=jax.random.key(1)), no_key, atol=1e-7)
  # train: batch statistics, and the running averages move; eval leaves them.
  stats = _batch_stats(g)
  assert _differ(g(x, train=True), no_key)
  moved = jax.tree.map(lambda a, b: bool(np.any(a != b)), stats, _batch_stats(g))
  assert len(jax.tree.leaves(moved)) == 2 * 7 and all(jax.tree.leaves(moved))
  stats = _batch_stats(g)
  g(x, train=False)
  chex.assert_trees_all_equal(stats, _batch_stats(g))


def test_pix2pix_discriminator_conditional_or_not():
  x, y = _images(0, (2, 32, 32, 2)), _images(1, (2, 32, 32, 3))
  hp = _p2p(image_shape=(32, 32, 3), input_channels=2)
  d = pix2pix.Pix2PixDiscriminator(hp, rngs=nnx.Rngs(0))
  assert d.net.convs[0].in_features == 5
  chex.assert_shape(d(x, y, train=True), (2, 2, 2))
  # The input comes first in the concatenation, as torch.cat((real_A, fake_B), 1).
  chex.assert_trees_all_close(d(x, y, train=False), d.net(jnp.concatenate([x, y], -1), train=False))
  assert _differ(d(x, y, train=False), d(-x, y, train=False))
  plain = pix2pix.Pix2PixDiscriminator(dataclasses.replace(hp, conditional_discriminator=False), rngs=nnx.Rngs(0))
  assert plain.net.convs[0].in_features == 3
  chex.assert_trees_all_equal(plain(x, y, train=False), plain(-x, y, train=False))


@pytest.mark.parametrize("norm", ["instance", "none"])
def test_generators_with_other_norms(norm):
  g = pix2pix.UNetGenerator(_p2p(norm=norm), rngs=nnx.Rngs(0))
  assert all(c.bias is not None for c in [*g.down_convs, *g.up_convs])  # no BatchNorm: every conv biased
  assert len(g.down_norms) == (3 if norm == "instance" else 0) and not jax.tree.leaves(nnx.state(g, nnx.BatchStat))
  chex.assert_shape(g(_images(0, (2, 32, 32, 1)), train=True), (2, 32, 32, 1))
  other = "batch" if norm == "instance" else "none"
  r = cyclegan.ResnetGenerator(_cyc(norm=other), 1, 1, rngs=nnx.Rngs(0))
  assert (r.stem.bias is None) == (other == "batch") and r.head.bias is not None
  chex.assert_shape(r(_images(0, (2, 16, 16, 1)), train=True), (2, 16, 16, 1))


# --- ResNet generator -----------------------------------------------------------------------------


@pytest.mark.parametrize("num_blocks", [6, 9])
def test_resnet_generator_shapes_and_channels(num_blocks):
  hp = _cyc(num_blocks=num_blocks, channels_b=3)
  models = cyclegan.build(ml_collections.ConfigDict({"model": dataclasses.asdict(hp)}), nnx.Rngs(0))
  assert sorted(models) == ["d_a", "d_b", "g_ab", "g_ba"]
  assert len(models["g_ab"].blocks) == num_blocks
  a, b = _images(0, (2, 16, 16, 1)), _images(1, (2, 16, 16, 3))
  for train in (True, False):
    fake_b, fake_a = models["g_ab"](a, train=train), models["g_ba"](b, train=train)
    chex.assert_shape(fake_b, (2, 16, 16, 3))
    chex.assert_shape(fake_a, (2, 16, 16, 1))
    assert float(jnp.abs(fake_b).max()) <= 1.0 and fake_b.dtype == jnp.float32
  chex.assert_shape(models["d_a"](a, train=True), (2, 2, 2))
  chex.assert_shape(models["d_b"](b, train=True), (2, 2, 2))
  assert models["d_b"].convs[0].in_features == 3
  g = models["g_ab"]
  assert [c.out_features for c in g.downs] == [8, 16] and [c.out_features for c in g.ups] == [8, 4]
  assert all(c.bias is not None for c in [g.stem, *g.downs, *g.ups, g.head])  # InstanceNorm: biases


def test_resnet_generator_reflection_padding():
  g = cyclegan.ResnetGenerator(_cyc(), 1, 1, rngs=nnx.Rngs(0))
  assert g.stem.padding == g.head.padding == g.blocks[0].conv1.padding == "REFLECT"
  x = np.asarray(_images(0, (2, 16, 16, 1)))

  def stem_by_hand(padded):
    out = jax.lax.conv_general_dilated(padded, g.stem.kernel[...], (1, 1), "VALID",
                                       dimension_numbers=("NHWC", "HWIO", "NHWC"), precision=jax.lax.Precision.HIGHEST)
    return out + g.stem.bias[...][None, None, None, :]

  pads = ((0, 0), (3, 3), (3, 3), (0, 0))
  # PyTorch's ReflectionPad2d(3) is numpy's "reflect" (the edge pixel is not repeated), not zero padding.
  np.testing.assert_allclose(g.stem(jnp.asarray(x)), stem_by_hand(np.pad(x, pads, mode="reflect")), rtol=1e-5,
                             atol=1e-6)
  assert not np.allclose(g.stem(jnp.asarray(x)), stem_by_hand(np.pad(x, pads)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("family", ["pix2pix", "cyclegan"])
def test_cpu_fast_and_xla_convolutions_agree(family):
  if family == "pix2pix":
    make = lambda impl: pix2pix.UNetGenerator(_p2p(conv_impl=impl), rngs=nnx.Rngs(0))
    x = _images(0, (2, 32, 32, 1))
  else:
    make = lambda impl: cyclegan.ResnetGenerator(_cyc(conv_impl=impl), 1, 1, rngs=nnx.Rngs(0))
    x = _images(0, (2, 16, 16, 1))
  np.testing.assert_allclose(make("cpu_fast")(x, train=True), make("xla")(x, train=True), rtol=1e-4, atol=1e-5)


def test_bfloat16_compute_gives_float32_outputs():
  hp = _p2p(compute_dtype="bfloat16")
  g, d = pix2pix.UNetGenerator(hp, rngs=nnx.Rngs(0)), pix2pix.Pix2PixDiscriminator(hp, rngs=nnx.Rngs(0))
  y = nnx.jit(lambda g, x: g(x, train=True))(g, _images(0, (2, 32, 32, 1)))
  assert y.dtype == jnp.float32 and nnx.jit(lambda d, y: d(y, y, train=True))(d, y).dtype == jnp.float32
  r = cyclegan.ResnetGenerator(_cyc(compute_dtype="bfloat16"), 1, 1, rngs=nnx.Rngs(0))
  assert nnx.jit(lambda r, x: r(x, train=True))(r, _images(0, (2, 16, 16, 1))).dtype == jnp.float32


# --- parameter counts of the reference's full-size models ----------------------------------------------


def _conv_params(c_in, c_out, k, bias):
  return c_in * c_out * k * k + (c_out if bias else 0)


def _reference_unet_params(num_downs, ngf, in_nc, out_nc):
  """The reference's UnetGenerator with BatchNorm (weight + bias per channel; use_bias False), block by block."""
  bn = lambda c: 2 * c
  # Innermost (8ngf, 8ngf): down conv without norm, up conv, up norm.
  total = _conv_params(8 * ngf, 8 * ngf, 4, False) + _conv_params(8 * ngf, 8 * ngf, 4, False) + bn(8 * ngf)
  for outer, inner in [(8 * ngf, 8 * ngf)] * (num_downs - 5) + [(4 * ngf, 8 * ngf), (2 * ngf, 4 * ngf), (ngf, 2 * ngf)]:
    total += _conv_params(outer, inner, 4, False) + bn(inner) + _conv_params(2 * inner, outer, 4, False) + bn(outer)
  # Outermost: down conv (use_bias, so none), up conv with PyTorch's default bias, tanh.
  return total + _conv_params(in_nc, ngf, 4, False) + _conv_params(2 * ngf, out_nc, 4, True)


def _reference_nlayer_params(in_nc, ndf, n_layers, norm):
  """The reference's NLayerDiscriminator: first and last convs biased, the others only without BatchNorm."""
  bias, norm_params = norm != "batch", (lambda c: 2 * c if norm == "batch" else 0)
  total, mult = _conv_params(in_nc, ndf, 4, True), 1
  for n in range(1, n_layers + 1):
    prev, mult = mult, min(2**n, 8)
    total += _conv_params(ndf * prev, ndf * mult, 4, bias) + norm_params(ndf * mult)
  return total + _conv_params(ndf * mult, 1, 4, True)


def _reference_resnet_params(in_nc, out_nc, ngf, n_blocks):
  """The reference's ResnetGenerator with InstanceNorm (no affine parameters; every conv biased)."""
  total = _conv_params(in_nc, ngf, 7, True)
  total += sum(_conv_params(ngf * 2**i, ngf * 2 ** (i + 1), 3, True) for i in range(2))
  total += n_blocks * 2 * _conv_params(4 * ngf, 4 * ngf, 3, True)
  total += sum(_conv_params(ngf * 2 ** (2 - i), ngf * 2 ** (1 - i), 3, True) for i in range(2))
  return total + _conv_params(ngf, out_nc, 7, True)


def test_parameter_counts_of_the_reference_models():
  hp = pix2pix.Pix2PixConfig(image_shape=(256, 256, 3), input_channels=3)
  unet = _param_count(nnx.eval_shape(lambda: pix2pix.UNetGenerator(hp, rngs=nnx.Rngs(0))))
  d = _param_count(nnx.eval_shape(lambda: pix2pix.Pix2PixDiscriminator(hp, rngs=nnx.Rngs(0))))
  hc = cyclegan.CycleGANConfig(image_shape=(256, 256, 3), num_blocks=9, discriminator="patch70")
  resnet = _param_count(nnx.eval_shape(lambda: cyclegan.ResnetGenerator(hc, 3, 3, rngs=nnx.Rngs(0))))
  d_a = _param_count(nnx.eval_shape(lambda: cyclegan._discriminator(hc, 3, nnx.Rngs(0))))
  assert unet == _reference_unet_params(8, 64, 3, 3) == 54_413_955
  assert d == _reference_nlayer_params(6, 64, 3, "batch") == 2_768_705
  assert resnet == _reference_resnet_params(3, 3, 64, 9) == 11_378_179
  assert d_a == _reference_nlayer_params(3, 64, 3, "instance") == 2_764_737
  # What the reference prints ("[Network G] Total number of parameters : 54.414 M", "%.3f M").
  assert [f"{n / 1e6:.3f}" for n in (unet, d, resnet, d_a)] == ["54.414", "2.769", "11.378", "2.765"]


# --- configs, the registry and translate -----------------------------------------------------------------


def _config(name, **model):
  sizes = {"features": 4, "discriminator_features": 4}
  return ml_collections.ConfigDict({"model": {"name": name, **sizes, **model}})


def test_families_are_registered():
  for name, cls in (("pix2pix", pix2pix.Pix2PixConfig), ("cyclegan", cyclegan.CycleGANConfig)):
    spec = get_model_spec(name)
    assert name in jaxgen.models.model_names()
    assert spec.hparams is cls and spec.sample is None and spec.translate is not None
  assert get_model_spec("dcgan").translate is None
  hp = model_hparams(_config("pix2pix", image_shape=[16, 16, 1], discriminator="patch34", num_dropout_blocks=2))
  assert hp.image_shape == (16, 16, 1) and hp.downs == 4
  models = build_models(_config("pix2pix"), nnx.Rngs(0))
  assert isinstance(models["generator"], jaxgen.models.UNetGenerator)
  assert isinstance(models["discriminator"], jaxgen.models.Pix2PixDiscriminator)
  models = build_models(_config("cyclegan", channels_b=3), nnx.Rngs(0))
  assert isinstance(models["g_ab"], jaxgen.models.ResnetGenerator)
  assert isinstance(models["d_b"], jaxgen.models.PatchDiscriminator)
  assert model_hparams(_config("cyclegan")).shape_b == (16, 16, 1)


@pytest.mark.parametrize(
    "name,changes,match",
    [
        ("pix2pix", {"discrimintor": "patch70"}, "unknown keys"),
        ("pix2pix", {"discriminator": "patch07"}, "Did you mean 'patch70'"),
        ("pix2pix", {"norm": "batchnorm"}, "Did you mean 'batch'"),
        ("pix2pix", {"conv_impl": "xl"}, "Did you mean 'xla'"),
        ("pix2pix", {"image_shape": (16, 16, 1), "num_dropout_blocks": 2}, "'patch70' needs images of side >= 24"),
        ("pix2pix", {"image_shape": (16, 16, 1), "discriminator": "patch34"}, "num_dropout_blocks = 3 exceeds"),
        ("pix2pix", {"num_downs": 6}, "divisible by 2\\*\\*num_downs"),
        ("pix2pix", {"num_downs": 1}, "num_downs must be an integer >= 2"),
        ("pix2pix", {"image_shape": (32, 16, 1)}, "square"),
        ("pix2pix", {"dropout_rate": 1.0}, "dropout_rate"),
        ("pix2pix", {"conditional_discriminator": "yes"}, "True or False"),
        ("pix2pix", {"input_channels": 0}, "input_channels must be an integer >= 1"),
        ("pix2pix", {"compute_dtype": "float16"}, "compute_dtype"),
        ("cyclegan", {"ngf": 8}, "unknown keys"),
        ("cyclegan", {"discriminator": "patch70"}, "variants that fit: pixel, patch16, patch34, image"),
        ("cyclegan", {"norm": "instnce"}, "Did you mean 'instance'"),
        ("cyclegan", {"channels_b": 0}, "channels_b"),
        ("cyclegan", {"num_downsamplings": 4}, "lower num_downsamplings"),
        ("cyclegan", {"num_blocks": -1}, "num_blocks"),
    ],
)
def test_bad_config_values_give_one_line_errors(name, changes, match):
  _one_line_error(lambda: build_models(_config(name, **changes), nnx.Rngs(0)), match)


def test_pix2pix_translate():
  config = _config("pix2pix", image_shape=(32, 32, 1), input_channels=1)
  spec = get_model_spec("pix2pix")
  models = spec.build(config, nnx.Rngs(0))
  x = np.asarray(_images(0, (3, 32, 32, 1), low=0.0))
  stats = _batch_stats(models["generator"])
  out = spec.translate(models, x, config)
  assert isinstance(out, np.ndarray) and out.shape == (3, 32, 32, 1) and out.dtype == np.float32
  assert out.min() >= 0.0 and out.max() <= 1.0
  expected = (models["generator"](2.0 * jnp.asarray(x) - 1.0, train=False) + 1.0) / 2.0
  np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
  # Train mode: each image with its own batch statistics (the reference tests at batch size 1) and dropout.
  key = jax.random.key(3)
  noisy = spec.translate(models, x, config, train_mode=True, key=key)
  assert noisy.shape == out.shape and noisy.min() >= 0.0 and noisy.max() <= 1.0
  assert _differ(noisy - 0.5, out - 0.5)
  np.testing.assert_allclose(spec.translate(models, x[:1], config, train_mode=True, key=key), noisy[:1],
                             rtol=1e-5, atol=1e-6)
  assert _differ(spec.translate(models, x, config, train_mode=True, key=jax.random.key(4)) - 0.5, noisy - 0.5)
  chex.assert_trees_all_equal(stats, _batch_stats(models["generator"]))  # the models are untouched
  _one_line_error(lambda: spec.translate(models, x, config, direction="BtoA"), "direction must be 'AtoB'")
  _one_line_error(lambda: spec.translate(models, x, config, train_mode=True), "pass a PRNG key")
  _one_line_error(lambda: spec.translate(models, x[:, :16], config), r"shape \(N, 32, 32, 1\)")


def test_cyclegan_translate():
  config = _config("cyclegan", channels_b=3, norm="batch")
  spec = get_model_spec("cyclegan")
  models = spec.build(config, nnx.Rngs(0))
  a, b = np.asarray(_images(0, (2, 16, 16, 1), low=0.0)), np.asarray(_images(1, (2, 16, 16, 3), low=0.0))
  fake_b, fake_a = spec.translate(models, a, config), spec.translate(models, b, config, direction="BtoA")
  assert fake_b.shape == (2, 16, 16, 3) and fake_a.shape == (2, 16, 16, 1)
  for out in (fake_b, fake_a):
    assert out.min() >= 0.0 and out.max() <= 1.0
  np.testing.assert_allclose(fake_b, (models["g_ab"](2.0 * a - 1.0, train=False) + 1.0) / 2.0, rtol=1e-5, atol=1e-6)
  per_image = spec.translate(models, a, config, train_mode=True)
  np.testing.assert_allclose(per_image[:1], spec.translate(models, a[:1], config, train_mode=True), atol=1e-6)
  _one_line_error(lambda: spec.translate(models, a, config, direction="B2A"), "Choose one of AtoB, BtoA")
  _one_line_error(lambda: spec.translate(models, a, config, direction="BtoA"), r"shape \(N, 16, 16, 3\)")


def test_docstring_examples():
  result = doctest.testmod(patchgan, optionflags=doctest.NORMALIZE_WHITESPACE)
  assert result.attempted > 0 and result.failed == 0
