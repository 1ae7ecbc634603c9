"""The PyTorch StyleGAN2 peer (benchmarks/peers/torch_stylegan2.py) against jaxgen's networks and the reference's step.

Parameter names and shapes equal jaxgen's (after NHWC/HWIO -> NCHW/OIHW), so
both sides train the same number of weights; with jaxgen's weights copied in,
G and D compute the same function (which checks the FIR resampling, the
modulated convolution and the equalised learning rate against jaxgen's, one
implementation against an independent one); the step runs every phase of
the reference's loop at its interval, with the lazy-regularisation Adam.
"""

import math

import jax
import numpy as np
import pytest
from flax import nnx

torch = pytest.importorskip("torch")

from benchmarks.peers import torch_stylegan2 as peer  # noqa: E402
from jaxgen.models import stylegan2 as sg  # noqa: E402

# 16x16x1, 32 channels at 4 and 8, 16 at 16: small enough for CPU, every kind of block present.
TINY = dict(image_shape=(16, 16, 1), latent_dim=32, w_dim=32, mapping_layers=2, channel_base=256, channel_max=32,
            mbstd_group_size=4)


def _config(hp):
  keys = ("image_shape", "latent_dim", "w_dim", "mapping_layers", "channel_base", "channel_max", "mbstd_group_size")
  return sg.StyleGAN2Config(**{k: hp[k] for k in keys})


def _torch_name(path, side: int) -> str:
  """jaxgen's state path -> the peer's (the reference's) parameter or buffer name."""
  path = [str(p) for p in path]
  if path[:2] == ["mapping", "layers"]:
    return f"mapping.fc{path[2]}.{path[3]}"
  if path[0] == "mapping":
    return ".".join(path)  # w_avg
  if path[:2] == ["synthesis", "blocks"]:
    return ".".join([f"synthesis.b{4 * 2 ** int(path[2])}", *path[3:]])
  if path[0] == "blocks":
    return ".".join([f"b{side >> int(path[1])}", *path[2:]])
  assert path[0] == "epilogue", path
  return ".".join(["b4", *path[1:]])


def _to_torch_layout(name: str, value: np.ndarray) -> np.ndarray:
  if name.endswith("const") and value.ndim == 3:
    return value.transpose(2, 0, 1)  # (H, W, C) -> (C, H, W)
  if value.ndim == 4:
    return value.transpose(3, 2, 0, 1)  # HWIO -> OIHW
  if value.ndim == 2 and not name.endswith("noise_const"):
    return value.T  # (in, out) -> (out, in)
  return value


def _jax_tensors(module, kind, side):
  return {_torch_name(path, side): _to_torch_layout(_torch_name(path, side), np.asarray(v[...]))
          for path, v in nnx.to_flat_state(nnx.state(module, kind))}


@pytest.fixture(scope="module")
def default_pair():
  hp = peer.default_hparams()
  torch.manual_seed(0)
  return hp, peer.build_models(hp)


def test_default_sizes_are_jaxgens_stylegan2_config(default_pair):
  hp, _ = default_pair
  config = sg.StyleGAN2Config()
  for key in ("image_shape", "latent_dim", "w_dim", "mapping_layers", "channel_base", "channel_max",
              "mbstd_group_size", "mapping_lr_multiplier", "w_avg_beta"):
    assert hp[key] == getattr(config, key), key


def test_parameters_match_jaxgen_name_for_name(default_pair):
  hp, (g, d) = default_pair
  side = hp["image_shape"][0]
  config = _config(hp)
  counts = {}
  for name, ours, theirs in (("G", g, sg.StyleGAN2Generator(config, rngs=nnx.Rngs(0))),
                             ("D", d, sg.StyleGAN2Discriminator(config, rngs=nnx.Rngs(1)))):
    jax_params = _jax_tensors(theirs, nnx.Param, side)
    assert {k: v.shape for k, v in jax_params.items()} == {k: tuple(p.shape) for k, p in ours.named_parameters()}
    jax_count = sum(x.size for x in jax.tree.leaves(nnx.state(theirs, nnx.Param)))
    assert sum(p.numel() for p in ours.parameters()) == jax_count
    counts[name] = jax_count
    # Buffers: G's noise_const (jaxgen's Buffer) and w_avg (its BatchStat); the FIR filters are not saved.
    jax_buffers = _jax_tensors(theirs, (sg.Buffer, nnx.BatchStat), side)
    assert {k: v.shape for k, v in jax_buffers.items()} == {k: tuple(b.shape) for k, b in ours.state_dict().items()
                                                            if k not in dict(ours.named_parameters())}
  # The 32x32x1 digits sizes, C = 128 everywhere. G: mapping 8 x 16,512; per synthesis layer 164,097 (affine
  # 16,512, 3x3 weight 147,456, bias, strength), per ToRGB 16,641; const 2,048. D: 311,808 at 32 (with FromRGB),
  # 311,552 at 16 and 8; epilogue conv 148,736, fc 262,272, out 129.
  assert counts == {"G": 1_349_387, "D": 1_346_049}, counts


def test_forward_equals_jaxgen_with_its_weights():
  hp = dict(peer.default_hparams(), **TINY)
  config = _config(hp)
  side = hp["image_shape"][0]
  g_jax, d_jax = sg.StyleGAN2Generator(config, rngs=nnx.Rngs(0)), sg.StyleGAN2Discriminator(config, rngs=nnx.Rngs(1))
  # Off the initial values, so biases, noise strengths and the affines' bias 1 all matter.
  rng = np.random.default_rng(0)
  for module in (g_jax, d_jax):
    params = nnx.state(module, nnx.Param)
    nnx.update(module, jax.tree.map(lambda a: a + 0.2 * rng.standard_normal(a.shape).astype(np.float32), params))
  g, d = peer.build_models(hp)
  for ours, theirs in ((g, g_jax), (d, d_jax)):
    tensors = {**_jax_tensors(theirs, nnx.Param, side), **_jax_tensors(theirs, (sg.Buffer, nnx.BatchStat), side)}
    missing, unexpected = ours.load_state_dict({k: torch.from_numpy(np.array(v))
                                                for k, v in tensors.items()}, strict=True)
    assert not missing and not unexpected
  g.eval()

  z = rng.standard_normal((4, hp["latent_dim"])).astype(np.float32)
  want = np.asarray(nnx.jit(lambda m, z: m(z, train=False, noise_mode="const"))(g_jax, z)).transpose(0, 3, 1, 2)
  with torch.no_grad():
    got = g(torch.from_numpy(z), noise_mode="const").numpy()
  np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())

  # Two mbstd groups of 4, so the grouping (example i in group i mod 2) matters too.
  x = rng.uniform(-1, 1, (8, side, side, 1)).astype(np.float32)
  want = np.asarray(nnx.jit(lambda m, x: m(x))(d_jax, x))
  with torch.no_grad():
    got = d(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()))[:, 0].numpy()
  np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


def test_lazy_regularisation_adam_settings():
  hp = dict(peer.default_hparams(), **TINY)
  step = peer.build_step(*peer.build_models(hp), hp)
  for name, interval in (("D", 16), ("G", 4)):
    (group,) = step.optimizers[name].param_groups
    ratio = interval / (interval + 1)
    assert group["lr"] == pytest.approx(0.0025 * ratio)
    assert group["betas"] == pytest.approx((0.0, 0.99**ratio))
    assert group["eps"] == 1e-8


def test_step_runs_each_phase_at_its_interval():
  hp = dict(peer.default_hparams(), **TINY)
  torch.manual_seed(0)
  g, d = peer.build_models(hp)
  before = {k: v.clone() for k, v in [*g.state_dict().items(), *d.state_dict().items()]}
  step = peer.build_step(g, d, hp)
  x = torch.rand(8, 1, 16, 16) * 2 - 1
  step(x)
  state = step.state
  # Step 0 regularises both networks (the reference's batch_idx % interval == 0).
  assert state["phases"] == {"Gmain": 1, "Greg": 1, "Dmain": 1, "Dreg": 1}
  assert float(state["pl_mean"]) > 0 and float(state["r1_penalty"]) > 0
  for _ in range(16):
    step(x)
  assert state["count"] == 17
  assert state["phases"] == {"Gmain": 17, "Greg": 5, "Dmain": 17, "Dreg": 2}
  assert math.isfinite(float(state["pl_penalty"])) and math.isfinite(float(state["r1_penalty"]))
  for module in (g, d):
    for name, p in module.named_parameters():
      assert torch.isfinite(p).all(), name
      assert not p.requires_grad, name  # toggled back off after each phase, as the reference
  moved = {k for k, v in [*g.state_dict().items(), *d.state_dict().items()] if not torch.equal(v, before[k])}
  # Every parameter trains (the noise strengths start at 0 and leave it), w_avg tracks, noise_const stays.
  assert moved == {k for k in before if not k.endswith("noise_const")}
