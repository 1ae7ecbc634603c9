"""StyleGAN2's training: lazy regularisation bookkeeping, path lengths, the phases, PPL and style mixing helpers.

Each test aims at a mistake third-party ports make (lucidrains/stylegan2-pytorch
issues #64, #84, #112; stylegan2-ada-pytorch #24): a lazy term not scaled by
its interval, Adam not adjusted for the extra steps, the path-length mean
not kept between steps, the penalty's y not scaled by 1 / sqrt(pixels).
"""

import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest
from flax import nnx

from jaxgen import losses, metrics, objectives, train
from jaxgen.models import stylegan2 as sg


def test_lazy_adam_hyperparameters_follow_the_interval():
  lr, (b1, b2) = objectives.lazy_adam_hyperparameters(0.0025, (0.0, 0.99), 16)
  assert lr == pytest.approx(0.0025 * 16 / 17) and b1 == 0.0 and b2 == pytest.approx(0.99 ** (16 / 17))
  lr, (b1, b2) = objectives.lazy_adam_hyperparameters(0.002, (0.5, 0.99), 4)
  assert lr == pytest.approx(0.002 * 0.8) and b1 == pytest.approx(0.5**0.8) and b2 == pytest.approx(0.99**0.8)
  assert objectives.lazy_adam_hyperparameters(0.002, (0.5, 0.99), 0) == (0.002, (0.5, 0.99))
  assert objectives.lazy_adam_hyperparameters(0.002, (0.5, 0.99), None) == (0.002, (0.5, 0.99))
  with pytest.raises(ValueError, match="interval must be an integer"):
    objectives.lazy_adam_hyperparameters(0.002, (0.5, 0.99), 2.5)
  with pytest.raises(ValueError, match="betas in"):
    objectives.lazy_adam_hyperparameters(0.002, (0.5, 1.5), 4)


def test_path_lengths_against_the_explicit_jacobian():
  """||J^T y|| with y = N(0, I) / sqrt(H W) drawn from the key; J from jax.jacobian, per example and w copy."""
  rng = np.random.default_rng(0)
  a = jnp.asarray(rng.normal(size=(3, 5, 4 * 4 * 2)), jnp.float32)  # num_ws, w_dim, pixels

  def synthesis(ws):  # example i depends on ws[i] alone, nonlinearly
    return jnp.tanh(jnp.einsum("bnw,nwp->bp", ws, a)).reshape(ws.shape[0], 4, 4, 2)

  ws = jnp.asarray(rng.normal(size=(2, 3, 5)), jnp.float32)
  key = jax.random.key(3)
  got = losses.path_lengths(synthesis, ws, key)
  y = jax.random.normal(key, (2, 4, 4, 2)) / math.sqrt(16)
  for i in range(2):
    jac = jax.jacobian(lambda w: synthesis(w[None])[0])(ws[i])  # (4, 4, 2, num_ws, w_dim)
    grad = jnp.einsum("hwc,hwcnd->nd", y[i], jac)
    expected = jnp.sqrt(jnp.mean(jnp.sum(grad**2, axis=-1)))
    np.testing.assert_allclose(got[i], expected, rtol=1e-5)


def test_path_lengths_have_a_finite_gradient_at_zero_length():
  grad = jax.grad(lambda s: jnp.sum(losses.path_lengths(lambda w: 0.0 * s * w[:, :, None, None], jnp.ones((2, 3)),
                                                        jax.random.key(0))))(1.0)
  assert np.isfinite(grad)


def test_path_lengths_refuse_non_images_in_one_line():
  with pytest.raises(ValueError, match="must return images"):
    losses.path_lengths(lambda w: w, jnp.ones((2, 3)), jax.random.key(0))


def test_updates_follow_the_reference_phases_and_options():
  names = lambda **kw: [u.name for u in objectives.stylegan2_updates(latent_dim=4, **kw)]
  assert names(r1_gamma=1.0) == ["generator", "path_length", "discriminator", "r1"]
  assert names(r1_gamma=0.0, pl_weight=0.0) == ["generator", "discriminator"]
  assert names(r1_gamma=1.0, r1_interval=0) == ["generator", "path_length", "discriminator"]  # R1 in Dmain
  every = {u.name: u.every for u in objectives.stylegan2_updates(latent_dim=4, r1_gamma=1.0)}
  assert every == {"generator": 1, "path_length": 4, "discriminator": 1, "r1": 16}
  for kwargs, match in (({"r1_gamma": -1.0}, "r1_gamma"), ({"r1_gamma": 1.0, "pl_interval": 2.5}, "pl_interval"),
                        ({"r1_gamma": 1.0, "mixing_prob": 1.5}, "mixing_prob"),
                        ({"r1_gamma": 1.0, "pl_decay": 0.0}, "pl_decay"),
                        ({"r1_gamma": 1.0, "pl_batch_shrink": 0}, "pl_batch_shrink")):
    with pytest.raises(ValueError, match=match):
      objectives.stylegan2_updates(latent_dim=4, **kwargs)


def _tiny():
  hp = sg.StyleGAN2Config(image_shape=(8, 8, 1), latent_dim=4, w_dim=4, mapping_layers=1, channel_base=32,
                          channel_max=4, mbstd_group_size=2)
  return {"generator": sg.StyleGAN2Generator(hp, rngs=nnx.Rngs(0)),
          "discriminator": sg.StyleGAN2Discriminator(hp, rngs=nnx.Rngs(1))}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
  """17 steps of the tiny StyleGAN2 with R1 every 4 and path length every 2 (steps 0, 4, 8, 12, 16 and evens)."""
  models = _tiny()
  optimizers = {}
  for name, interval in (("generator", 2), ("discriminator", 4)):
    lr, (b1, b2) = objectives.lazy_adam_hyperparameters(1e-3, (0.0, 0.99), interval)
    optimizers[name] = optax.adam(lr, b1, b2, eps=1e-8)
  updates = objectives.stylegan2_updates(latent_dim=4, r1_gamma=2.0, r1_interval=4, pl_interval=2, pl_weight=2.0)
  x = np.random.default_rng(0).uniform(-1, 1, (32, 8, 8, 1)).astype(np.float32)
  workdir = tmp_path_factory.mktemp("stylegan2")
  _, state = train.run_training(workdir=str(workdir), config={"test": 1}, models=models, optimizers=optimizers,
                                updates=updates, data={"x": x}, num_steps=17, batch_shape=(8,), seed=0,
                                aux=objectives.stylegan2_aux_init(), steps_per_call=1, progress=False)
  return state, train.read_metrics(str(workdir / "metrics.jsonl"))


def test_lazy_terms_run_on_their_steps_only_and_are_scaled_by_their_interval(run):
  _, records = run
  by_step = {r["step"] - 1: r for r in records}  # a record's "step" counts the steps done
  for step, r in by_step.items():
    assert r["applied/r1"] == float(step % 4 == 0), step
    assert r["applied/path_length"] == float(step % 2 == 0), step
    if step % 4 == 0:  # the loss is gamma / 2 * E||grad||^2 times the interval
      assert r["loss/r1"] == pytest.approx(r["r1"] * 2.0 / 2 * 4, rel=1e-5)
    else:  # the skipped update's NaN metrics are left out of the record
      assert math.isnan(r.get("loss/r1", math.nan))


def test_each_network_steps_one_adam_for_its_main_and_lazy_updates(run):
  state, _ = run
  count = lambda name: int(optax.tree.get(state.opt_state[name], "count"))
  assert count("discriminator") == 17 + 5  # Dmain every step, R1 on steps 0, 4, 8, 12, 16
  assert count("generator") == 17 + 9  # Gmain every step, path length on the 9 even steps


def test_path_length_mean_is_kept_in_the_auxiliary_state(run):
  state, records = run
  first = records[0]
  assert first["pl_mean"] == pytest.approx(0.01 * first["pl_length"], rel=1e-5)  # a_0 = 0, one step of 0.01
  assert float(state.aux["pl_mean"]) == pytest.approx(records[-1]["pl_mean"], rel=1e-6)  # step 16 ran it
  assert 0 < float(state.aux["pl_mean"]) < max(r.get("pl_length", 0.0) for r in records)


def test_slerp_keeps_unit_norm_and_hits_the_endpoints():
  rng = np.random.default_rng(1)
  a, b = jnp.asarray(rng.normal(size=(5, 7))), jnp.asarray(rng.normal(size=(5, 7)))
  unit = lambda v: v / jnp.linalg.norm(v, axis=-1, keepdims=True)
  np.testing.assert_allclose(metrics.slerp(a, b, jnp.zeros(5)), unit(a), atol=1e-5)
  np.testing.assert_allclose(metrics.slerp(a, b, jnp.ones(5)), unit(b), atol=1e-5)
  mid = metrics.slerp(a, b, jnp.full(5, 0.5))
  np.testing.assert_allclose(jnp.linalg.norm(mid, axis=-1), 1.0, atol=1e-5)
  # Halfway: equal angles to both ends.
  np.testing.assert_allclose(jnp.sum(mid * unit(a), -1), jnp.sum(mid * unit(b), -1), atol=1e-5)


def test_perceptual_path_length_drops_the_outer_percentiles():
  d = np.r_[np.full(198, 3e-8), 0.0, 5.0]
  assert metrics.perceptual_path_length(d, 1e-4) == pytest.approx(3.0)
  assert metrics.perceptual_path_length(d, 1e-4, lo=0, hi=100) == pytest.approx(np.mean(d) / 1e-8)
  with pytest.raises(ValueError, match="finite"):
    metrics.perceptual_path_length(np.array([1.0, np.nan]), 1e-4)


def _config():
  return ml_collections.ConfigDict({"model": {"name": "stylegan2", "image_shape": (8, 8, 1), "latent_dim": 4,
                                              "w_dim": 4, "mapping_layers": 1, "channel_base": 32,
                                              "channel_max": 4, "mbstd_group_size": 2}})


def test_mix_styles_takes_coarse_ws_from_a_and_fine_from_b():
  models = _tiny()
  g = models["generator"]
  z = jax.random.normal(jax.random.key(0), (3, 4))
  a, b, mixed = sg.mix_styles(models, z, z[::-1], cutoff=2)
  np.testing.assert_allclose(a[::-1], b, atol=1e-6)
  ws_a, ws_b = g.mapping(z, None, train=False), g.mapping(z[::-1], None, train=False)
  ws = jnp.concatenate([ws_a[:, :2], ws_b[:, 2:]], axis=1)
  expected = np.clip(np.asarray(sg.to_unit_range(g.synthesis(ws, noise_mode="const"))), 0, 1)
  np.testing.assert_allclose(mixed, expected, atol=1e-5)
  with pytest.raises(ValueError, match="cutoff"):
    sg.mix_styles(models, z, z, cutoff=g.num_ws)


def test_style_mixing_grid_has_b_on_top_and_a_on_the_left():
  models = _tiny()
  grid = sg.style_mixing_grid(models, jax.random.key(0), _config(), rows=2, columns=3, cutoff=2)
  assert grid.shape == (12, 8, 8, 1)
  np.testing.assert_array_equal(grid[0], np.ones((8, 8, 1)))
  # The grid's latents, drawn as style_mixing_grid documents: rows of A, columns of B.
  a_key, b_key = jax.random.split(jax.random.key(0))
  z_a, z_b = jax.random.normal(a_key, (2, 4)), jax.random.normal(b_key, (3, 4))
  a, b, mixed = sg.mix_styles(models, jnp.repeat(z_a, 3, axis=0), jnp.tile(z_b, (2, 1)), cutoff=2)
  np.testing.assert_allclose(grid[1:4], b[:3], atol=1e-6)
  np.testing.assert_allclose(grid[[4, 8]], a[[0, 3]], atol=1e-6)
  np.testing.assert_allclose(grid[5:8], mixed[:3], atol=1e-6)
  assert sg.coarse_styles() == 4 and sg.coarse_styles(16) == 6
