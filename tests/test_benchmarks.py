"""The step benchmark's entry point runs end to end (no timing is asserted: speed is not a unit test)."""

import json

import pytest
from flax import nnx

from benchmarks import _cases, step

CONDITIONAL = ("cgan_projection", "cgan_ac")  # the cases without a PyTorch peer
TRANSLATION = ("pix2pix", "cyclegan")  # image-to-image: a paired stream, or two streams and an aux state


@pytest.fixture
def tiny_toy_gan(monkeypatch):
  # Narrow layers keep compilation (the bulk of this test) short; the peers read the same sizes.
  hp = dict(_cases.HPARAMS["toy_gan"], generator_hidden=8, generator_layers=1, discriminator_hidden=8,
            discriminator_layers=1, maxout_pieces=2)
  monkeypatch.setitem(_cases.HPARAMS, "toy_gan", hp)


def test_quick_run_writes_table_and_json(tiny_toy_gan, tmp_path, capsys):
  out = tmp_path / "results.json"
  peers = "eager" if _torch_available() else "none"
  result = step.main(["--models", "toy_gan", "--batch_sizes", "8", "--devices", "1,2", "--quick",
                      "--peers", peers, "--out", str(out)])
  assert json.loads(out.read_text()) == json.loads(json.dumps(result))
  meta = result["meta"]
  assert meta["platform"] == "cpu" and meta["device_kind"] and meta["versions"]["jax"]
  assert result["matmul_peak"]["flops_per_s"] > 0
  rows = {r["devices"]: r for r in result["results"]}
  assert sorted(rows) == [1, 2]
  one = rows[1]
  assert one["model"] == "toy_gan" and one["batch_size"] == 8
  assert one["flops_per_step"] > 0 and 0 < one["peak_fraction"]
  expected = {"jaxgen_scan", "jaxgen_step"} | ({"torch_eager"} if peers == "eager" else set())
  assert set(one["contenders"]) == expected
  for c in one["contenders"].values():
    assert len(c["steps_per_s"]["samples"]) == 2
    assert c["steps_per_s"]["min"] <= c["steps_per_s"]["median"] <= c["steps_per_s"]["max"]
  assert one["contenders"]["jaxgen_scan"]["compile_s"] > 0
  if peers == "eager":
    assert one["ratio_torch_eager"] > 0
  assert set(rows[2]["contenders"]) == {"jaxgen_scan"}  # scaling rows time jaxgen only
  assert "toy_gan" in capsys.readouterr().out


def test_bfloat16_rows_time_the_bfloat16_step_and_its_autocast_peer(tiny_toy_gan):
  peers = "eager" if _torch_available() else "none"
  result = step.main(["--models", "toy_gan", "--batch_sizes", "8", "--compute_dtypes", "float32,bfloat16",
                      "--quick", "--peers", peers])
  rows = {r["compute_dtype"]: r for r in result["results"]}
  assert sorted(rows) == ["bfloat16", "float32"]
  for row in rows.values():
    assert row["flops_per_step"] > 0 and row["contenders"]["jaxgen_scan"]["steps_per_s"]["median"] > 0
  if peers == "eager":
    assert rows["bfloat16"]["ratio_torch_eager"] > 0


def test_model_lists_agree():
  from jaxgen.models._precision import COMPUTE_DTYPES

  assert step.MODEL_NAMES == _cases.MODEL_NAMES
  assert step.COMPUTE_DTYPES == COMPUTE_DTYPES
  assert set(_cases.TORCH_PEERS) < set(_cases.MODEL_NAMES)
  assert step.parse_args([]).models == list(step.MODEL_NAMES)  # the default runs every case
  assert step.parse_args(["--models", "cgan_projection,cgan_ac"]).models == list(CONDITIONAL)
  assert step.parse_args(["--models", "pix2pix,cyclegan"]).models == list(TRANSLATION)
  assert set(TRANSLATION) <= set(_cases.TORCH_PEERS)  # both have a PyTorch peer
  assert all(_cases.UNROLLED[name] == 2 for name in TRANSLATION)  # convolutional: unrolled like dcgan
  assert "biggan" in _cases.TORCH_PEERS and _cases.UNROLLED["biggan"] == 2


def test_bad_arguments_are_rejected():
  with pytest.raises(SystemExit):
    step.parse_args(["--models", "nope"])
  with pytest.raises(SystemExit):
    step.parse_args(["--batch_sizes", "0"])
  with pytest.raises(SystemExit):
    step.parse_args(["--compute_dtypes", "float16"])


@pytest.mark.skipif("not _torch_available()")
@pytest.mark.parametrize("name", _cases.TORCH_PEERS)
def test_peers_have_the_same_parameter_count(name):
  from benchmarks.peers import torch_models

  # Shapes only: nothing is initialized.
  models = nnx.eval_shape(lambda: _cases.build_modules(name, nnx.Rngs(0)))
  torch_count = sum(p.numel() for m in torch_models.build_models(name) for p in m.parameters())
  assert torch_count == _cases.num_parameters(nnx.state(models, nnx.Param))


def _torch_available() -> bool:
  try:
    import torch  # noqa: F401
  except ImportError:
    return False
  return True


def test_conv_micro_runs_every_formulation_and_writes_json(tmp_path, monkeypatch, capsys):
  from benchmarks import conv_micro

  small = (conv_micro.Layer("tiny conv 8x8x16->4x4x8 k5s2", False, (8, 8), 16, 8, 5, 2),
           conv_micro.Layer("tiny convT 4x4x8->8x8x16 k4s2", True, (4, 4), 8, 16, 4, 2))
  monkeypatch.setattr(conv_micro, "LAYERS", small)
  out = tmp_path / "micro.json"
  peers = "torch" if _torch_available() else "none"
  conv_micro.main(["--batch", "4", "--windows", "1", "--steps-per-window", "1", "--peers", peers,
                   "--out", str(out)])
  report = json.loads(out.read_text())
  assert report["compiler_options"]  # the train steps' CPU options
  for entry, layer in zip(report["layers"], small):
    methods = set(entry["results"]["fwd_bwd"])
    expected = set(conv_micro.methods_for(layer)) | ({"torch"} if peers == "torch" else set())
    assert methods == expected
    assert entry["cpu_fast_method"] in methods
  assert "cpu_fast=xla_s2d_grad" in capsys.readouterr().out  # 16 input features: the s2d input gradient


@pytest.mark.skipif("not _torch_available()")
@pytest.mark.parametrize("transpose,kernel,stride", [(False, 5, 2), (False, 4, 2), (False, 3, 2), (True, 5, 2),
                                                     (True, 4, 2), (True, 3, 2), (False, 3, 1)])
def test_torch_conv_peer_has_the_layers_shapes(transpose, kernel, stride):
  import jax
  import jax.numpy as jnp
  import torch

  from benchmarks import conv_micro
  from benchmarks.peers import torch_conv
  from jaxgen.nn import _functional

  layer = conv_micro.Layer("t", transpose, (14, 14), 6, 5, kernel, stride)
  module, out_hw = torch_conv.build_layer(layer)
  x = jnp.zeros((2, 14, 14, 6))
  w = jnp.zeros((kernel, kernel, 6, 5))
  fn = _functional.conv_transpose_xla if transpose else _functional.conv_xla
  expected = jax.eval_shape(lambda x, w: fn(x, w, (stride, stride), "SAME"), x, w).shape
  assert out_hw == expected[1:3]
  assert tuple(module(torch.zeros(2, 6, 14, 14)).shape) == (2, 5, *expected[1:3])
  assert sum(p.numel() for p in module.parameters()) == kernel * kernel * 6 * 5
  torch_conv.layer_step(layer, 2, "fwd_bwd")()


@pytest.fixture
def tiny_cgans(monkeypatch):
  # 8x8 images and narrow layers: the conditional cases' code paths at a fraction of the compile time.
  for name in CONDITIONAL:
    monkeypatch.setitem(_cases.HPARAMS, name, dict(_cases.HPARAMS[name], image_shape=(8, 8, 1), latent_dim=8,
                                                    features=8, kernel_size=3))


@pytest.mark.parametrize("name", CONDITIONAL)
def test_conditional_case_builds_and_one_jitted_step_is_finite(tiny_cgans, name):
  import jax
  import numpy as np

  setup = _cases.build_jax(name, batch_size=4, num_examples=16)
  hp = _cases.HPARAMS[name]
  assert setup.unroll and setup.max_k == _cases.UNROLLED["dcgan"]  # unrolled like the dcgan case
  models = setup.state.params
  assert set(models) == {"generator", "discriminator"}
  idx = np.arange(4)
  batch = jax.tree.map(lambda a: a[idx], setup.data)
  state, metrics = jax.jit(setup.step)(setup.state, batch)
  assert int(state.step) == 1
  assert {"d_loss", "g_loss", "critic_real", "critic_fake"} <= set(metrics)  # hinge: raw critic outputs
  if hp["discriminator_head"] == "ac":
    assert {"class_loss_real", "class_loss_fake"} <= set(metrics)
  for key, value in metrics.items():
    assert np.all(np.isfinite(np.asarray(value))), key


def test_conditional_stream_is_labelled_and_gathered_paired(tiny_cgans):
  import jax.numpy as jnp
  import numpy as np

  from jaxgen import train

  data = _cases.synthetic_data("cgan_ac", 64)
  (stream, pair), = data.items()
  x, y = pair["x"], pair["y"]
  assert set(pair) == {"x", "y"} and x.shape == (64, 8, 8, 1) and x.dtype == np.float32
  assert -1.0 <= x.min() and x.max() <= 1.0
  assert y.shape == (64,) and y.dtype == np.int32 and 0 <= y.min() and y.max() < 10
  assert len(np.unique(y)) > 1  # not all one class
  # The multi-step program gathers images and labels at the same indices, as the benchmark feeds it.
  gather = train.make_multi_step(lambda state, batch: (state, batch[stream]), donate=False)
  idx = np.array([[5, 0, 63, 17], [2, 2, 40, 9]])
  _, got = gather(jnp.zeros(()), {stream: pair}, {stream: idx})
  np.testing.assert_array_equal(np.asarray(got["x"]), x[idx])
  np.testing.assert_array_equal(np.asarray(got["y"]), y[idx])


def test_quick_run_times_the_conditional_gans_without_peers(tiny_cgans, capsys):
  result = step.main(["--models", ",".join(CONDITIONAL), "--batch_sizes", "4", "--quick", "--peers", "all"])
  rows = {r["model"]: r for r in result["results"]}
  assert sorted(rows) == sorted(CONDITIONAL)
  for row in rows.values():
    assert set(row["contenders"]) == {"jaxgen_scan", "jaxgen_step"}  # no PyTorch peer, even with torch installed
    assert "ratio_torch_eager" not in row and "ratio_torch_compile" not in row
    assert row["flops_per_step"] > 0 and row["contenders"]["jaxgen_scan"]["steps_per_s"]["median"] > 0
  assert {s["model"] for s in result["skipped"] if s.get("peer") == "torch"} == set(CONDITIONAL)
  table = capsys.readouterr().out.split("matmul peak, best over the run")[-1]
  for name in CONDITIONAL:
    line, = (l for l in table.splitlines() if l.lstrip().startswith(name + " "))
    assert line.split()[-4:] == ["-", "-", "-", "-"]  # torch eager, torch comp, x eager, x comp


@pytest.fixture
def tiny_translation(monkeypatch):
  # 8x8 images, 4 features, the fewest levels and blocks: the cases' code paths at a fraction of the compile
  # time (the PyTorch peers read the same sizes). "patch16": the 70x70 PatchGAN needs a side of 24.
  monkeypatch.setitem(_cases.HPARAMS, "pix2pix", dict(
      _cases.HPARAMS["pix2pix"], image_shape=(8, 8, 1), features=4, discriminator_features=4, num_downs=3,
      num_dropout_blocks=1))
  monkeypatch.setitem(_cases.HPARAMS, "cyclegan", dict(
      _cases.HPARAMS["cyclegan"], image_shape=(8, 8, 1), features=4, discriminator_features=4, num_blocks=1,
      discriminator="patch16", pool_size=6))


def test_translation_streams_are_shaped_like_the_objectives_want():
  pix = _cases.synthetic_data("pix2pix", 8)
  assert set(pix) == {"pair"} and set(pix["pair"]) == {"a", "b"}  # aligned pairs: one stream
  cyc = _cases.synthetic_data("cyclegan", 8)
  assert set(cyc) == {"a", "b"}  # unpaired: two streams
  for images in (*pix["pair"].values(), *cyc.values()):
    assert images.dtype.name == "float32" and -1.0 <= images.min() and images.max() <= 1.0
  assert pix["pair"]["a"].shape == (8, 32, 32, 1) and cyc["a"].shape == (8, 28, 28, 1)


@pytest.mark.parametrize("name", TRANSLATION)
def test_translation_case_builds_and_one_jitted_step_is_finite(tiny_translation, name):
  import jax
  import numpy as np

  setup = _cases.build_jax(name, batch_size=4, num_examples=16)
  assert setup.unroll and setup.max_k == 2
  networks = {"pix2pix": {"generator", "discriminator"}, "cyclegan": {"g_ab", "g_ba", "d_a", "d_b"}}[name]
  assert set(setup.state.params) == networks
  # The harness gathers one stream: CycleGAN's "a" and "b" travel as one and are unpacked for the objective.
  (stream, data), = setup.data.items()
  assert stream == {"pix2pix": "pair", "cyclegan": "ab"}[name] and set(data) == {"a", "b"}
  batch = {stream: jax.tree.map(lambda a: a[np.arange(4)], data)}
  state, metrics = jax.jit(setup.step)(setup.state, batch)
  assert int(state.step) == 1
  if name == "pix2pix":
    assert {"d_loss", "g_loss", "g_gan", "l1"} <= set(metrics)
  else:
    assert {"g_loss", "cycle_a", "cycle_b", "identity_a", "identity_b", "d_loss"} <= set(metrics)  # identity on
    for pool in ("pool_a", "pool_b"):  # the step's 4 fakes went into the 6-image pools
      assert int(state.aux[pool]["count"]) == 4
      assert np.abs(np.asarray(state.aux[pool]["images"][:4])).max() > 0
  for key, value in metrics.items():
    assert np.all(np.isfinite(np.asarray(value))), key


@pytest.mark.parametrize("name", TRANSLATION)
def test_quick_run_times_a_translation_model_with_its_peer(tiny_translation, name):
  peers = "eager" if _torch_available() else "none"
  # One PyTorch thread: on a CPU shared with other jobs, more threads than free cores slow it many times.
  result = step.main(["--models", name, "--batch_sizes", "4", "--quick", "--peers", peers, "--torch_threads", "1"])
  row, = result["results"]
  assert row["model"] == name and row["flops_per_step"] > 0
  models = nnx.eval_shape(lambda: _cases.build_modules(name, nnx.Rngs(0)))
  assert row["num_parameters"] == _cases.num_parameters(nnx.state(models, nnx.Param))
  expected = {"jaxgen_scan", "jaxgen_step"} | ({"torch_eager"} if peers == "eager" else set())
  assert set(row["contenders"]) == expected
  if peers == "eager":
    assert row["ratio_torch_eager"] > 0


@pytest.mark.skipif("not _torch_available()")
def test_torch_image_pool_matches_the_reference_image_by_image_loop():
  import torch

  from benchmarks.peers import torch_models

  def reference(stored, count, size, images, u, slot):
    # pytorch-CycleGAN-and-pix2pix util/image_pool.py, image by image, with the given draws.
    stored, out = stored.clone(), []
    for i, image in enumerate(images):
      if count < size:
        stored[count], count = image, count + 1
        out.append(image)
      elif u[i] > 0.5:
        out.append(stored[slot[i]].clone())
        stored[slot[i]] = image
      else:
        out.append(image)
    return torch.stack(out), stored, count

  gen = torch.Generator().manual_seed(0)
  # Pools filled across batches, within a batch, and batches larger than the pool (slots drawn twice).
  for size, n in [(5, 3), (4, 8), (3, 16)]:
    pool = torch_models.ImagePool(size, (1, 2, 2))
    stored, count = torch.zeros(size, 1, 2, 2), 0
    for _ in range(5):
      images = torch.randn(n, 1, 2, 2, generator=gen)
      u, slot = torch.rand(n, generator=gen), torch.randint(0, size, (n,), generator=gen)
      want, stored, count = reference(stored, count, size, images, u, slot)
      assert torch.equal(pool.query(images, (u, slot)), want)
      assert torch.equal(pool.images, stored) and int(pool.count) == count


LOSS_ROWS = tuple(n for n in _cases.MODEL_NAMES if n.startswith("gan_loss_"))


def test_loss_study_rows_are_the_study_variants():
  assert [n[len("gan_loss_"):] for n in LOSS_ROWS] == [
      "non_saturating", "least_squares", "wgan_gp", "hinge", "non_saturating_r1"]
  assert all(_cases.HPARAMS[n]["discriminator_norm"] == "layer" for n in LOSS_ROWS)


@pytest.mark.parametrize("name,penalty", [("gan_loss_wgan_gp", "gradient_penalty"), ("gan_loss_non_saturating_r1", "r1")])
def test_loss_study_rows_step_with_their_penalty(name, penalty):
  import jax
  import numpy as np

  setup = _cases.build_jax(name, batch_size=4, num_examples=8)
  batch = jax.tree.map(lambda a: a[np.arange(4)], setup.data)
  _, metrics = jax.jit(setup.step)(setup.state, batch)
  assert penalty in metrics and np.isfinite(float(metrics[penalty])) and float(metrics[penalty]) > 0


# ---- BigGAN ----------------------------------------------------------------------------------------------


@pytest.fixture
def tiny_biggan(monkeypatch):
  # ch 4 (16-channel blocks, attention's C / 8 = 2), z 8 in 4 chunks: the case's code paths at a fraction of
  # the compile time. Side 32: the peer has the reference's 32 and 64 architectures only.
  monkeypatch.setitem(_cases.HPARAMS, "biggan", dict(_cases.HPARAMS["biggan"], ch=4, latent_dim=8, shared_dim=4))


def test_biggan_row_is_the_mnist_preset_train_step():
  from experiments.biggan import config as biggan_config

  c = biggan_config.get_config("mnist")
  hp = _cases.HPARAMS["biggan"]
  for key in ("image_shape", "num_classes", "ch", "latent_dim", "shared_dim", "hierarchical", "attention", "init",
              "bn_eps", "batch_norm_momentum", "sn_eps"):
    assert hp[key] == c.model[key], key
  assert (hp["loss"], hp["k"], hp["b1"], hp["b2"]) == (c.train.loss, c.train.k, c.train.b1, c.train.b2)
  assert hp["generator_ortho"] == max(c.train.ortho_betas)
  assert _cases.learning_rate(hp, "generator") == c.train.generator_learning_rate == 1e-4
  assert _cases.learning_rate(hp, "discriminator") == c.train.discriminator_learning_rate == 4e-4
  assert _cases.learning_rate(_cases.HPARAMS["dcgan"], "generator") == 2e-4  # one lr for both elsewhere


@pytest.mark.skipif("not _torch_available()")
def test_biggan_peer_networks_have_jaxgens_parameter_counts():
  from benchmarks.peers import torch_models

  models = nnx.eval_shape(lambda: _cases.build_modules("biggan", nnx.Rngs(0)))
  jax_counts = [_cases.num_parameters(nnx.state(models[n], nnx.Param)) for n in ("generator", "discriminator")]
  torch_counts = [sum(p.numel() for p in m.parameters() if p.requires_grad)
                  for m in torch_models.build_models("biggan")]
  # Trainable parameters only: the spectral-norm vectors and BatchNorm statistics are state in both.
  assert jax_counts == torch_counts == [294_466, 269_250]


@pytest.mark.skipif("not _torch_available()")
def test_biggan_peer_orthogonal_gradient_is_jaxgens_regulariser_gradient():
  import jax
  import numpy as np
  import torch

  from benchmarks.peers import torch_models
  from jaxgen import losses

  rng = np.random.default_rng(0)
  conv = rng.normal(size=(6, 4, 3, 3)).astype(np.float32)  # PyTorch (out, in, kh, kw)
  linear = rng.normal(size=(5, 7)).astype(np.float32)  # PyTorch (out, in)
  got = torch_models.orthogonal_gradients([torch.from_numpy(conv), torch.from_numpy(linear)], beta=1e-4)
  for w, flax_w, back in ((conv, conv.transpose(2, 3, 1, 0), (3, 2, 0, 1)), (linear, linear.T, (1, 0))):
    want = jax.grad(lambda v: losses.orthogonal_regularization(v, beta=1e-4))(flax_w)
    np.testing.assert_allclose(got.pop(0).numpy(), np.asarray(want).transpose(back), rtol=1e-5, atol=1e-9)


def test_biggan_case_steps_on_k_minibatches_of_the_dataset(tiny_biggan):
  import jax
  import numpy as np

  setup = _cases.build_jax("biggan", batch_size=4, num_examples=16)
  assert setup.unroll and setup.max_k == 2 and setup.examples_per_step == 2 * 4
  (stream, data), = setup.data.items()
  raw = _cases.synthetic_data("biggan", 16)[stream]
  # Row i holds 2 examples of the dataset, with their labels: i, and i's image under a permutation.
  assert data["x"].shape == (16, 2, 32, 32, 1) and data["y"].shape == (16, 2)
  np.testing.assert_array_equal(data["x"][:, 0], raw["x"])
  order = [int(np.flatnonzero((raw["x"] == image).all(axis=(1, 2, 3)))[0]) for image in data["x"][:, 1]]
  assert sorted(order) == list(range(16)) and order != list(range(16))
  np.testing.assert_array_equal(data["y"][:, 1], raw["y"][order])
  batch = {stream: jax.tree.map(lambda a: a[np.arange(4)], data)}
  state, metrics = jax.jit(setup.step)(setup.state, batch)
  assert int(state.step) == 1
  assert {"d_loss", "g_loss", "critic_real", "critic_fake", "g_ortho"} <= set(metrics)
  assert float(metrics["g_ortho"]) > 0
  for key, value in metrics.items():
    assert np.all(np.isfinite(np.asarray(value))), key


def test_quick_run_times_biggan_with_its_peer(tiny_biggan):
  peers = "eager" if _torch_available() else "none"
  result = step.main(["--models", "biggan", "--batch_sizes", "4", "--quick", "--peers", peers, "--torch_threads", "1"])
  row, = result["results"]
  assert row["model"] == "biggan" and row["flops_per_step"] > 0
  models = nnx.eval_shape(lambda: _cases.build_modules("biggan", nnx.Rngs(0)))
  assert row["num_parameters"] == _cases.num_parameters(nnx.state(models, nnx.Param))
  expected = {"jaxgen_scan", "jaxgen_step"} | ({"torch_eager"} if peers == "eager" else set())
  assert set(row["contenders"]) == expected
  if peers == "eager":
    assert row["ratio_torch_eager"] > 0


# ---- StyleGAN2 ---------------------------------------------------------------------------------------------


@pytest.fixture
def tiny_stylegan2(monkeypatch):
  # 8x8x1, 8 channels, z and w 8, a mapping of 2 layers: every phase of the case at a fraction of the compile
  # time (the PyTorch peer reads the same dict).
  monkeypatch.setitem(_cases.HPARAMS, "stylegan2", dict(
      _cases.HPARAMS["stylegan2"], image_shape=(8, 8, 1), latent_dim=8, w_dim=8, mapping_layers=2,
      channel_base=64, channel_max=8))


def test_stylegan2_row_is_stylegan2_config_defaults_and_the_asked_training():
  from jaxgen.models.stylegan2 import StyleGAN2Config

  hp, config = _cases.HPARAMS["stylegan2"], StyleGAN2Config()
  for key in ("image_shape", "latent_dim", "w_dim", "mapping_layers", "mapping_lr_multiplier", "w_avg_beta",
              "channel_base", "channel_max", "use_noise", "mbstd_group_size", "mbstd_num_channels"):
    assert hp[key] == getattr(config, key), key
  assert config.num_classes is None and "num_classes" not in hp  # unconditional
  assert (hp["r1_gamma"], hp["pl_weight"], hp["mixing_prob"]) == (0.01, 2.0, 0.9)
  assert (hp["g_reg_interval"], hp["d_reg_interval"]) == (4, 16)
  assert [(u.name, u.networks, u.every) for u in _cases._updates("stylegan2")] == [
      ("generator", ("generator",), 1), ("path_length", ("generator",), 4),
      ("discriminator", ("discriminator",), 1), ("r1", ("discriminator",), 16)]
  assert "stylegan2" in _cases.TORCH_PEERS and _cases.UNROLLED["stylegan2"] == 2
  # Adam per network, lr and betas adjusted by k / (k + 1) for its lazy interval k; the other rows untouched.
  for network, k in (("generator", 4), ("discriminator", 16)):
    got = _cases.adam_hyperparameters("stylegan2", network)
    r = k / (k + 1)
    assert got == pytest.approx({"learning_rate": 0.0025 * r, "b1": 0.0, "b2": 0.99**r, "eps": 1e-8})
  assert _cases.adam_hyperparameters("biggan", "generator") == {"learning_rate": 1e-4, "b1": 0.0, "b2": 0.999,
                                                                "eps": 1e-8}


@pytest.mark.skipif("not _torch_available()")
def test_stylegan2_peer_reads_the_rows_hparams_and_adam():
  from benchmarks.peers import torch_models, torch_stylegan2

  hp = _cases.HPARAMS["stylegan2"]
  # Every setting of the peer comes from the row (the batch size from the benchmark's --batch_sizes).
  assert set(torch_stylegan2.default_hparams()) - {"batch_size"} <= set(hp)
  assert {k: hp[k] for k in ("lr", "b1", "b2", "eps")} == dict(lr=0.0025, b1=0.0, b2=0.99, eps=1e-8)
  g, d = torch_models.build_models("stylegan2")
  step = torch_stylegan2.build_step(g, d, hp)
  for network, opt in (("generator", "G"), ("discriminator", "D")):
    (group,) = step.optimizers[opt].param_groups
    want = _cases.adam_hyperparameters("stylegan2", network)
    assert group["lr"] == pytest.approx(want["learning_rate"]) and group["eps"] == want["eps"]
    assert group["betas"] == pytest.approx((want["b1"], want["b2"]))


@pytest.mark.skipif("not _torch_available()")
def test_stylegan2_peer_networks_have_jaxgens_parameter_counts():
  from benchmarks.peers import torch_models

  models = nnx.eval_shape(lambda: _cases.build_modules("stylegan2", nnx.Rngs(0)))
  jax_counts = [_cases.num_parameters(nnx.state(models[n], nnx.Param)) for n in ("generator", "discriminator")]
  torch_counts = [sum(p.numel() for p in m.parameters()) for m in torch_models.build_models("stylegan2")]
  assert jax_counts == torch_counts == [1_349_387, 1_346_049]


def test_stylegan2_case_runs_every_phase_on_its_schedule(tiny_stylegan2):
  import jax
  import numpy as np

  setup = _cases.build_jax("stylegan2", batch_size=4, num_examples=16)
  assert setup.unroll and setup.max_k == 2 and setup.examples_per_step == 4
  assert setup.period == 16  # R1 every 16 steps, the path length every 4
  (stream, data), = setup.data.items()
  assert stream == "x" and data.shape == (16, 8, 8, 1) and -1.0 <= data.min() and data.max() <= 1.0
  assert float(setup.state.aux["pl_mean"]) == 0.0
  step = jax.jit(setup.step)
  batch = {stream: data[np.arange(4)]}
  state, metrics = step(setup.state, batch)  # step 0 runs all four phases
  assert int(state.step) == 1
  assert float(metrics["applied/path_length"]) == 1.0 and float(metrics["applied/r1"]) == 1.0
  for key in ("g_loss", "d_loss", "r1", "pl_length", "pl_mean"):
    assert np.isfinite(float(metrics[key])), key
  assert float(state.aux["pl_mean"]) > 0
  state, metrics = step(state, batch)  # step 1: the main phases only
  assert float(metrics["applied/path_length"]) == 0.0 and float(metrics["applied/r1"]) == 0.0
  assert np.isfinite(float(metrics["g_loss"])) and np.isfinite(float(metrics["d_loss"]))


def test_windows_hold_whole_periods():
  from benchmarks import _harness

  assert _harness.fit_period(2, 16, 2) == (2, 8)
  assert _harness.fit_period(1, 16, 1) == (1, 16)
  assert _harness.fit_period(5, 16, 5) == (4, 4)
  assert _harness.fit_period(40, 16, 200) == (32, 1)
  assert _harness.fit_period(20, 16, 20) == (16, 1)
  assert _harness.fit_period(7, 1, 7) == (7, 1)  # no lazy phases: K as chosen


def test_quick_run_times_stylegan2_with_its_peer_over_whole_periods(tiny_stylegan2, monkeypatch):
  # Rolled: the lazy updates in lax.cond, one program per K (unrolled, one per schedule: the test below).
  monkeypatch.delitem(_cases.UNROLLED, "stylegan2")
  peers = "eager" if _torch_available() else "none"
  result = step.main(["--models", "stylegan2", "--batch_sizes", "4", "--quick", "--peers", peers,
                      "--torch_threads", "1"])
  row, = result["results"]
  assert row["model"] == "stylegan2" and row["flops_per_step"] > 0 and row["period"] == 16
  models = nnx.eval_shape(lambda: _cases.build_modules("stylegan2", nnx.Rngs(0)))
  assert row["num_parameters"] == _cases.num_parameters(nnx.state(models, nnx.Param))
  expected = {"jaxgen_scan", "jaxgen_step"} | ({"torch_eager"} if peers == "eager" else set())
  assert set(row["contenders"]) == expected
  for c in row["contenders"].values():
    assert c["steps_per_window"] % 16 == 0
  if peers == "eager":
    assert row["ratio_torch_eager"] > 0


def test_chunks_compile_a_program_per_schedule_and_run_from_any_step():
  # Every-k updates are straight-line code in an unrolled chunk: one program per schedule of them. K = 2
  # over a period of 4 (an update every 2 steps, one every 4): from even steps (both, -) and (a, -); from
  # odd ones (-, a) and (-, both): four programs, whatever step a warm-up left the count at.
  import jax
  import jax.numpy as jnp
  import numpy as np
  import optax

  from benchmarks import _harness
  from jaxgen import objectives, train

  models = {"net": nnx.Linear(3, 3, rngs=nnx.Rngs(0))}
  opts = {"net": optax.sgd(0.1)}
  graphdefs, state = train.init_train_state(models, opts, jax.random.key(0))
  loss = lambda m, ctx: (jnp.mean(m["net"](ctx.batch["x"]) ** 2), {})
  updates = [objectives.Update("net", loss, name="main"), objectives.Update("net", loss, every=2, name="a"),
             objectives.Update("net", loss, every=4, name="b")]
  setup = _cases.JaxSetup(train.make_train_step(graphdefs, opts, updates), state,
                          {"x": np.ones((16, 3), np.float32)}, 4, unroll=True, max_k=2, period=4)
  chunks = _harness.JaxChunks(setup, train.DataParallel(train.data_mesh(jax.devices()[:1])), 4)
  programs, times = chunks.compile(2)
  assert times["programs"] == len(programs) == 4
  one, _ = chunks.compile(1)
  assert len(one) == 3  # both, a, neither
  chunks.run(one, 1, 3)  # the count now at 3: the next chunk runs the every-2 and every-4 updates second
  assert chunks.run(programs, 2, 1)[0] == 2 and int(chunks.state.step) == 5 == chunks._step


@pytest.mark.skipif(not _torch_available(), reason="the PyTorch peer needs torch (pip install -e '.[bench]')")
def test_peer_training_reports_spread_and_d_on_the_digits(tmp_path):
  from benchmarks import peer_training
  assert peer_training.main(["--steps", "3", "--side", "8", "--log_every", "1", "--out", str(tmp_path)]) == 0
  saved = json.loads((tmp_path / "peer_training.json").read_text())
  assert [h["step"] for h in saved["spread_history"]] == [0, 1, 2, 3]
  assert saved["spread"] > 0 and 0 < saved["d_real_last100"] < 1 and 0 < saved["d_fake_last100"] < 1
  assert (tmp_path / "samples.png").exists()
  assert peer_training.main(["--side", "12"]) == 2
