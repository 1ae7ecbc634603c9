"""jaxgen.nn.Conv / ConvTranspose equal nnx.Conv / nnx.ConvTranspose: parameters, outputs, gradients.

References are Flax's own layers (independent of our code) and, for the
meaning of a transposed convolution, a direct numpy loop written here.
"""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import jaxgen.nn as jnn
from jaxgen.nn import _functional

RTOL = 1e-5


def _assert_close(actual, expected, rtol=RTOL):
  expected = np.asarray(expected)
  scale = max(float(np.max(np.abs(expected))), 1e-6) if expected.size else 1.0
  np.testing.assert_allclose(np.asarray(actual), expected, rtol=rtol, atol=rtol * scale)


def _value_and_grads(layer, x, cotangent):
  """Output, input gradient and parameter gradients of <layer(x), cotangent>, under jit."""
  graphdef, params, rest = nnx.split(layer, nnx.Param, ...)

  @jax.jit
  def run(params, x):
    def loss(params, x):
      y = nnx.merge(graphdef, params, rest)(x)
      return jnp.vdot(y, cotangent), y
    (_, y), (d_params, d_x) = jax.value_and_grad(loss, argnums=(0, 1), has_aux=True)(params, x)
    return y, d_x, d_params

  return run(params, x)


def _check_layer_pair(ours, ref, x, rng):
  y_shape = jax.eval_shape(ref, x).shape
  cotangent = jnp.asarray(rng.standard_normal(y_shape, np.float32))
  y, d_x, d_params = _value_and_grads(ours, x, cotangent)
  y_ref, d_x_ref, d_params_ref = _value_and_grads(ref, x, cotangent)
  assert y.shape == y_ref.shape
  _assert_close(y, y_ref)
  _assert_close(d_x, d_x_ref)
  flat, flat_ref = nnx.to_flat_state(d_params), nnx.to_flat_state(d_params_ref)
  assert [k for k, _ in flat] == [k for k, _ in flat_ref]
  for (name, g), (_, g_ref) in zip(flat, flat_ref):
    _assert_close(g[...], g_ref[...])


def _assert_same_params(ours, ref):
  flat, flat_ref = nnx.to_flat_state(nnx.state(ours, nnx.Param)), nnx.to_flat_state(nnx.state(ref, nnx.Param))
  assert [k for k, _ in flat] == [k for k, _ in flat_ref]
  for (_, p), (_, p_ref) in zip(flat, flat_ref):
    assert p[...].shape == p_ref[...].shape and p[...].dtype == p_ref[...].dtype
    np.testing.assert_array_equal(np.asarray(p[...]), np.asarray(p_ref[...]))


PADDINGS = ("SAME", "VALID", 1, ((2, 1), (0, 1)))


# Transposed layers: kernel, stride, padding, C_out. C_out cycles through 1, 3
# and 16 so that each cpu_fast method (fused phases below 64 phase channels,
# separate phases from 64; lax.conv_transpose at stride 1) meets several
# kernels and paddings.
CONV_TRANSPOSE_CASES = [
    (k, s, p, (1, 3, 16)[n % 3])
    for n, ((k, s), p) in enumerate(itertools.product(((3, 1), (3, 2), (4, 2), (5, 2)), PADDINGS))
]


@pytest.mark.parametrize("kernel,stride,padding,c_out", CONV_TRANSPOSE_CASES)
def test_conv_transpose_matches_nnx(kernel, stride, padding, c_out):
  rng = np.random.default_rng(kernel * 100 + stride * 10 + c_out)
  batch, h, w, c_in = (1, 5, 6, 3) if c_out == 3 else (3, 7, 4, 5)
  kwargs = dict(kernel_size=(kernel, kernel), strides=(stride, stride), padding=padding, use_bias=c_out != 1)
  ours = jnn.ConvTranspose(c_in, c_out, impl="cpu_fast", rngs=nnx.Rngs(7), **kwargs)
  ref = nnx.ConvTranspose(c_in, c_out, rngs=nnx.Rngs(7), **kwargs)
  _assert_same_params(ours, ref)
  # A nonzero bias, the same in both, so the bias path is exercised.
  if ref.bias is not None:
    ref.bias[...] = ours.bias[...] = jnp.asarray(rng.standard_normal(c_out, np.float32))
  x = jnp.asarray(rng.standard_normal((batch, h, w, c_in), np.float32))
  _check_layer_pair(ours, ref, x, rng)


CONV_CASES = [
    (k, s, p) for n, (k, s) in enumerate(itertools.product((3, 4, 5), (1, 2)))
    for p in ((PADDINGS[n % 4], PADDINGS[(n + 2) % 4]) if s == 2 else (PADDINGS[n % 4],))
]


@pytest.mark.parametrize("kernel,stride,padding", CONV_CASES)
def test_conv_matches_nnx(kernel, stride, padding):
  rng = np.random.default_rng(kernel * 10 + stride)
  kwargs = dict(kernel_size=(kernel, kernel), strides=stride, padding=padding)
  ours = jnn.Conv(3, 4, impl="cpu_fast", rngs=nnx.Rngs(3), **kwargs)
  ref = nnx.Conv(3, 4, rngs=nnx.Rngs(3), **kwargs)
  _assert_same_params(ours, ref)
  ref.bias[...] = ours.bias[...] = jnp.asarray(rng.standard_normal(4, np.float32))
  x = jnp.asarray(rng.standard_normal((2, 9, 8, 3), np.float32))
  _check_layer_pair(ours, ref, x, rng)


def _grads_of(fn, x, kernel, cotangent):
  return jax.jit(jax.value_and_grad(lambda x, k: jnp.vdot(fn(x, k), cotangent), argnums=(0, 1)))(x, kernel)[1]


@pytest.mark.parametrize("method", ["subpixel", "subpixel_fused", "subpixel_patches"])
@pytest.mark.parametrize("kernel,stride,padding", [
    (4, 2, "SAME"), (5, 2, "VALID"), (3, 2, "SAME"), (4, 3, ((1, 2), (3, 0))), (2, 3, "SAME"), (1, 2, "VALID"),
    (3, 2, ((0, -1), (2, 2))),
])
def test_conv_transpose_methods_match_lax(method, kernel, stride, padding):
  """Every transposed formulation, not only the one cpu_fast picks, equals lax.conv_transpose."""
  rng = np.random.default_rng(kernel + 10 * stride)
  x = jnp.asarray(rng.standard_normal((2, 5, 4, 3), np.float32))
  k = jnp.asarray(rng.standard_normal((kernel, kernel, 3, 2), np.float32))
  fn = _functional.CONV_TRANSPOSE_METHODS[method]
  strides = (stride, stride)
  try:
    fn_ref = lambda x, k: jax.lax.conv_transpose(x, k, strides, padding, dimension_numbers=("NHWC", "HWIO", "NHWC"))
    y_ref = fn_ref(x, k)
  except Exception:  # noqa: BLE001 - lax rejects it; nothing to compare
    pytest.skip("lax.conv_transpose rejects this configuration")
  y = jax.jit(lambda x, k: fn(x, k, strides, padding))(x, k)
  _assert_close(y, y_ref)
  g = jnp.asarray(rng.standard_normal(y_ref.shape, np.float32))
  for a, b in zip(_grads_of(lambda x, k: fn(x, k, strides, padding), x, k, g), _grads_of(fn_ref, x, k, g)):
    _assert_close(a, b)


@pytest.mark.parametrize("method", ["space_to_depth", "xla_s2d_grad", "patches"])
@pytest.mark.parametrize("kernel,stride,padding", [(4, 2, "SAME"), (5, 2, "SAME"), (3, 2, "VALID"),
                                                   (4, 3, ((1, 2), (0, 3))), (3, 2, ((2, -1), (1, 1))),
                                                   (3, 1, "SAME")])
def test_strided_conv_methods_match_lax(method, kernel, stride, padding):
  """Every strided formulation (values, input and kernel gradients) equals lax.conv_general_dilated."""
  rng = np.random.default_rng(kernel + stride)
  x = jnp.asarray(rng.standard_normal((2, 9, 10, 3), np.float32))
  k = jnp.asarray(rng.standard_normal((kernel, kernel, 3, 4), np.float32))
  strides = (stride, stride)
  fn = lambda x, k: _functional.CONV_METHODS[method](x, k, strides, padding)
  fn_ref = lambda x, k: jax.lax.conv_general_dilated(x, k, strides, padding,
                                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
  y_ref = fn_ref(x, k)
  _assert_close(jax.jit(fn)(x, k), y_ref)
  g = jnp.asarray(rng.standard_normal(y_ref.shape, np.float32))
  for a, b in zip(_grads_of(fn, x, k, g), _grads_of(fn_ref, x, k, g)):
    _assert_close(a, b)


@pytest.mark.parametrize("cls,in_hw,kwargs", [
    (jnn.Conv, (4, 4), dict(kernel_size=(4, 4), strides=2, padding=1)),  # U-Net: 4x4 -> 2x2
    (jnn.Conv, (2, 2), dict(kernel_size=(4, 4), strides=2, padding=1)),  # 2x2 -> 1x1: 4 live taps of 16
    (jnn.Conv, (3, 3), dict(kernel_size=(4, 4), strides=1, padding=1)),  # PatchGAN at 28: 3x3 -> 2x2
    (jnn.Conv, (7, 6), dict(kernel_size=(3, 3), strides=3, padding="SAME")),  # 3x2 outputs, ragged input
    (jnn.ConvTranspose, (1, 1), dict(kernel_size=(4, 4), strides=2, padding=((2, 2), (2, 2)))),  # 1x1 -> 2x2
    (jnn.ConvTranspose, (1, 1), dict(kernel_size=(3, 3), strides=2, padding="SAME")),
])
def test_small_maps_run_as_matrix_products(cls, in_hw, kwargs):
  """Layers with at most 9 output pixels (convolutions) or 1x1 inputs (transposed) run as patches x kernel:
  no convolution left in the forward or backward pass, and values and gradients equal Flax's layer."""
  rng = np.random.default_rng(sum(in_hw))
  ours = cls(16, 8, impl="cpu_fast", rngs=nnx.Rngs(2), **kwargs)
  ref = getattr(nnx, cls.__name__)(16, 8, rngs=nnx.Rngs(2), **kwargs)
  _assert_same_params(ours, ref)
  ref.bias[...] = ours.bias[...] = jnp.asarray(rng.standard_normal(8, np.float32))
  x = jnp.asarray(rng.standard_normal((3, *in_hw, 16), np.float32))
  _check_layer_pair(ours, ref, x, rng)
  graphdef, params = nnx.split(ours)
  jaxpr = jax.make_jaxpr(jax.grad(lambda p, x: jnp.sum(nnx.merge(graphdef, p)(x) ** 2), argnums=(0, 1)))(params, x)
  names = {e.primitive.name for e in _all_eqns(jaxpr.jaxpr)}
  assert "dot_general" in names and "conv_general_dilated" not in names


def test_patches_skip_taps_that_read_only_padding():
  """2x2 -> 1x1 with a 4x4 kernel and padding 1: the patch matrix holds the 4 live taps, 4 * C columns."""
  x = jnp.ones((2, 2, 2, 5))
  kernel = jnp.ones((4, 4, 5, 3))
  jaxpr = jax.make_jaxpr(lambda x, k: _functional.conv_patches(x, k, (2, 2), ((1, 1), (1, 1))))(x, kernel)
  dots = [e for e in jaxpr.jaxpr.eqns if e.primitive.name == "dot_general"]
  assert [tuple(e.invars[0].aval.shape) for e in dots] == [(2, 1, 1, 20)]
  # Only the central 2x2 of the kernel touches the input: the rest may hold anything.
  masked = kernel.at[1:3, 1:3].set(0.0)
  np.testing.assert_allclose(_functional.conv_patches(x, kernel - masked, (2, 2), ((1, 1), (1, 1))),
                             _functional.conv_patches(x, kernel, (2, 2), ((1, 1), (1, 1))))


def test_conv_transpose_definition_numpy():
  """SAME, stride 2, 4x4: y = correlate(zero-dilated x padded (2, 2), kernel), kernel not flipped."""
  rng = np.random.default_rng(0)
  x = rng.standard_normal((1, 3, 2, 2)).astype(np.float32)
  kernel = rng.standard_normal((4, 4, 2, 3)).astype(np.float32)
  dilated = np.zeros((1, 5, 3, 2), np.float32)
  dilated[:, ::2, ::2] = x
  padded = np.pad(dilated, ((0, 0), (2, 2), (2, 2), (0, 0)))
  expected = np.zeros((1, 6, 4, 3), np.float32)
  for i, j in itertools.product(range(6), range(4)):
    expected[0, i, j] = np.einsum("hwc,hwco->o", padded[0, i:i + 4, j:j + 4], kernel)
  layer = jnn.ConvTranspose(2, 3, (4, 4), (2, 2), padding="SAME", use_bias=False, impl="cpu_fast",
                            rngs=nnx.Rngs(0))
  layer.kernel[...] = jnp.asarray(kernel)
  _assert_close(layer(jnp.asarray(x)), expected)


def test_strided_conv_wide_input_matches_nnx():
  """With >= 16 input features cpu_fast takes the input gradient through space-to-depth."""
  rng = np.random.default_rng(5)
  assert jnn.Conv(16, 8, (5, 5), 2, impl="cpu_fast", rngs=nnx.Rngs(0)).in_features >= 16
  for padding in ("SAME", "VALID", ((1, 2), (2, 1))):
    kwargs = dict(kernel_size=(5, 5), strides=2, padding=padding)
    ours = jnn.Conv(16, 8, impl="cpu_fast", rngs=nnx.Rngs(4), **kwargs)
    ref = nnx.Conv(16, 8, rngs=nnx.Rngs(4), **kwargs)
    _assert_same_params(ours, ref)
    ref.bias[...] = ours.bias[...] = jnp.asarray(rng.standard_normal(8, np.float32))
    _check_layer_pair(ours, ref, jnp.asarray(rng.standard_normal((3, 11, 10, 16), np.float32)), rng)


def test_strided_conv_input_gradient_avoids_lhs_dilation():
  layer = jnn.Conv(16, 8, (5, 5), 2, padding="SAME", impl="cpu_fast", rngs=nnx.Rngs(0))
  graphdef, params = nnx.split(layer)
  x = jnp.ones((2, 14, 14, 16))
  jaxpr = jax.make_jaxpr(jax.grad(lambda p, x: jnp.sum(nnx.merge(graphdef, p)(x) ** 2), argnums=(0, 1)))(params, x)
  text = str(jaxpr)
  assert "conv_general_dilated" in text
  dilations = [tuple(e.params["lhs_dilation"]) for e in _all_eqns(jaxpr.jaxpr) if e.primitive.name == "conv_general_dilated"]
  # Forward, kernel gradient and input gradient at least (the custom VJP also nests its primal).
  assert len(dilations) >= 3 and all(d == (1, 1) for d in dilations)


def _all_eqns(jaxpr):
  """Equations of a jaxpr and of every jaxpr nested in its parameters (custom_vjp, pjit)."""
  for eqn in jaxpr.eqns:
    yield eqn
    for value in eqn.params.values():
      for sub in value if isinstance(value, (list, tuple)) else (value,):
        inner = getattr(sub, "jaxpr", None)
        if inner is not None:
          yield from _all_eqns(inner if hasattr(inner, "eqns") else inner.jaxpr)


def test_cpu_fast_avoids_lhs_dilation():
  layer = jnn.ConvTranspose(8, 32, (4, 4), (2, 2), padding="SAME", impl="auto", rngs=nnx.Rngs(0))
  graphdef, params = nnx.split(layer)
  x = jnp.ones((2, 7, 7, 8))

  def loss(params, x):
    return jnp.sum(nnx.merge(graphdef, params)(x) ** 2)

  jaxpr = jax.make_jaxpr(jax.grad(loss, argnums=(0, 1)))(params, x)
  convs = [e for e in jaxpr.jaxpr.eqns if e.primitive.name == "conv_general_dilated"]
  assert jax.default_backend() == "cpu" and convs
  assert all(tuple(e.params["lhs_dilation"]) == (1, 1) and tuple(e.params["window_strides"]) == (1, 1) for e in convs)


@pytest.mark.parametrize("cls", [jnn.Conv, jnn.ConvTranspose])
def test_vmap_and_batch_dims(cls):
  rng = np.random.default_rng(1)
  layer = cls(3, 16, (4, 4), (2, 2), padding="SAME", impl="cpu_fast", rngs=nnx.Rngs(0))
  ref = (nnx.Conv if cls is jnn.Conv else nnx.ConvTranspose)(3, 16, (4, 4), (2, 2), padding="SAME", rngs=nnx.Rngs(0))
  x = jnp.asarray(rng.standard_normal((2, 3, 6, 6, 3), np.float32))
  y = jax.jit(lambda x: layer(x))(x)
  _assert_close(y, ref(x))
  _assert_close(jax.vmap(layer)(x[0]), ref(x[0]))
  _assert_close(layer(x[0, 0]), ref(x[0, 0]))


def test_transpose_kernel_and_mask():
  rng = np.random.default_rng(2)
  mask = jnp.asarray(rng.random((4, 4, 16, 5)) > 0.3, jnp.float32)
  kwargs = dict(kernel_size=(4, 4), strides=(2, 2), padding="SAME", transpose_kernel=True, mask=mask)
  ours = jnn.ConvTranspose(5, 16, impl="cpu_fast", rngs=nnx.Rngs(0), **kwargs)
  ref = nnx.ConvTranspose(5, 16, rngs=nnx.Rngs(0), **kwargs)
  _assert_same_params(ours, ref)
  _check_layer_pair(ours, ref, jnp.asarray(rng.standard_normal((2, 5, 6, 5), np.float32)), rng)


def test_checkpoint_interchange():
  """State saved from nnx.ConvTranspose loads into ours and gives the same outputs."""
  ref = nnx.ConvTranspose(4, 8, (4, 4), (2, 2), padding="SAME", rngs=nnx.Rngs(11))
  ours = jnn.ConvTranspose(4, 8, (4, 4), (2, 2), padding="SAME", impl="cpu_fast", rngs=nnx.Rngs(99))
  nnx.update(ours, nnx.state(ref))
  x = jnp.ones((1, 3, 3, 4))
  _assert_close(ours(x), ref(x))
  ours_xla = jnn.ConvTranspose(4, 8, (4, 4), (2, 2), padding="SAME", impl="xla", rngs=nnx.Rngs(0))
  nnx.update(ours_xla, nnx.state(ours))
  _assert_close(ours_xla(x), ref(x))


@pytest.mark.parametrize("cls,kwargs", [
    (jnn.ConvTranspose, dict(kernel_dilation=2)),
    (jnn.ConvTranspose, dict(padding="CIRCULAR")),
    (jnn.Conv, dict(feature_group_count=2)),
    (jnn.Conv, dict(kernel_dilation=(2, 1))),
    (jnn.Conv, dict(input_dilation=2, strides=1, padding=1)),
])
def test_unsupported_raises_in_cpu_fast_and_auto_falls_back(cls, kwargs):
  kwargs = {"strides": 2, **kwargs}
  with pytest.raises(ValueError, match="cpu_fast"):
    cls(4, 6, (3, 3), impl="cpu_fast", rngs=nnx.Rngs(0), **kwargs)
  ours = cls(4, 6, (3, 3), impl="auto", rngs=nnx.Rngs(0), **kwargs)
  ref = (nnx.Conv if cls is jnn.Conv else nnx.ConvTranspose)(4, 6, (3, 3), rngs=nnx.Rngs(0), **kwargs)
  x = jnp.asarray(np.random.default_rng(0).standard_normal((2, 6, 6, 4), np.float32))
  np.testing.assert_array_equal(np.asarray(ours(x)), np.asarray(ref(x)))


def test_one_dimensional_and_bad_impl():
  with pytest.raises(ValueError, match="spatial dimensions"):
    jnn.ConvTranspose(2, 3, (4,), (2,), impl="cpu_fast", rngs=nnx.Rngs(0))
  with pytest.raises(ValueError, match="impl must be one of"):
    jnn.Conv(2, 3, (3, 3), impl="fast", rngs=nnx.Rngs(0))


@pytest.mark.parametrize("pads", [((0, 0), (-5, 1)), ((-2, 1), (0, 0)), ((0, 0), (3, -2))])
def test_cropping_padding_reads_only_the_input(pads):
  """A negative padding crops: XLA's CPU convolution reads past its input there (openxla/xla#48713); ours must not.

  x[h, w, c] = 100 h + 10 w + c through a 1x1 identity kernel: the output is the padded input itself.
  """
  h, w, c = 15, 6, 8
  x = (100 * np.arange(h)[:, None, None] + 10 * np.arange(w)[None, :, None] + np.arange(c)).astype(np.float32)[None]
  kernel = np.eye(c, dtype=np.float32).reshape(1, 1, c, c)
  expected = x
  for axis, (lo, hi) in zip((1, 2), pads):
    expected = np.take(expected, np.arange(max(-lo, 0), expected.shape[axis] - max(-hi, 0)), axis=axis)
    widths = [(0, 0)] * 4
    widths[axis] = (max(lo, 0), max(hi, 0))
    expected = np.pad(expected, widths)
  y = jax.jit(lambda x, k: _functional._corr(x, k, None, None, pads))(x, kernel)
  np.testing.assert_array_equal(np.asarray(y), expected)
