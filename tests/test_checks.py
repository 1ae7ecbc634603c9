"""Bad input fails before any compute, with one line that says what to change."""

import os

import jax
import numpy as np
import optax
import pytest
from flax import nnx

from jaxgen import train


def _one_line(excinfo):
  assert "\n" not in str(excinfo.value), str(excinfo.value)


_KNOWN = {"known_models": ["dcgan", "gan_mlp", "vae"], "known_datasets": ["digits", "mnist", "fashion_mnist"]}


@pytest.mark.parametrize(
    "config, match",
    [
        ({"model": {"name": "gan_mpl"}}, r"unknown model 'gan_mpl' in config.model.name. Did you mean 'gan_mlp'\?"),
        ({"data": {"name": "minst"}}, r"unknown dataset 'minst' in config.data.name. Did you mean 'mnist'\?"),
        ({"model": {"name": "zzz"}}, r"unknown model 'zzz' .* Known models: dcgan, gan_mlp, vae$"),
        ({"train": {"batch_size": 0}}, r"config.train.batch_size must hold integers >= 1, got 0"),
        ({"train": {"num_steps": -5}}, r"config.train.num_steps must hold integers >= 1"),
        ({"train": {"batch_size": 2.5}}, r"config.train.batch_size must hold integers >= 1"),
        ({"model": {"hidden_sizes": (64, 0)}}, r"config.model.hidden_sizes must hold integers >= 1, got \(64, 0\)"),
        ({"train": {"learning_rate": 0.0}}, r"config.train.learning_rate must be a number > 0"),
        ({"train": {"learning_rate": "1e-3"}}, r"config.train.learning_rate must be a number > 0"),
        ({"train": {"ema_decay": 1.0}}, r"config.train.ema_decay must lie in \[0, 1\)"),
        ({"model": {"input_keep": 0.0}}, r"config.model.input_keep is a keep probability and must lie in \(0, 1\]"),
        ({"train": {"momentum_init": 1.5}}, r"config.train.momentum_init must lie in \[0, 1\]"),
        ({"train": {"num_epochs": 0}}, r"config.train.num_epochs must hold integers >= 1, got 0"),
        ({"train": {"num_devices": 0}}, r"config.train.num_devices must hold integers >= 1"),
        ({"train": {"momentum_saturate_steps": -1}}, r"config.train.momentum_saturate_steps must hold integers >= 1"),
        ({"eval": {"iwae_batch_size": 0}}, r"config.eval.iwae_batch_size must hold integers >= 1"),
        ({"eval": {"every": 0}}, r"config.eval.every must hold integers >= 1"),
    ],
)
def test_config_errors(config, match):
  with pytest.raises(ValueError, match=match) as info:
    train.check_config(config, **_KNOWN)
  _one_line(info)


def test_config_loss_names_and_batch_against_dataset():
  with pytest.raises(ValueError, match=r"unknown loss 'non_saturate' .*Did you mean 'non_saturating'\?"):
    train.check_config({"train": {"loss": "non_saturate"}}, known_losses=train.GAN_LOSSES)
  with pytest.raises(ValueError, match=r"batch_size=128 needs 128 examples per step but the dataset has only 100"):
    train.check_config({"train": {"batch_size": 128}}, dataset_size=100)
  with pytest.raises(ValueError, match=r"x k=2 discriminator minibatches needs 120 .* lower config.train.batch_size or config.train.k"):
    train.check_config({"train": {"batch_size": 60, "k": 2}}, dataset_size=100)


def test_good_config_passes_and_placeholders_are_skipped():
  import ml_collections

  config = ml_collections.ConfigDict({
      "model": {"name": "vae", "latent_dim": 2, "image_shape": (8, 8, 1), "hidden_sizes": (32,)},
      "data": {"name": "Fashion-MNIST"},
      "train": {"batch_size": 50, "k": 2, "learning_rate": 1e-3, "ema_decay": 0.999, "num_steps": 10,
                "momentum_init": 0.5},
  })
  config.train.min_learning_rate = ml_collections.config_dict.placeholder(float)
  train.check_config(config, dataset_size=100, **_KNOWN)


def test_unset_placeholders_pass():
  # num_steps None: the run counts its steps from num_epochs; num_devices None: every accelerator.
  train.check_config({"train": {"num_steps": None, "num_epochs": 3, "num_devices": None, "ema_decay": None}})


def test_model_section_is_read_as_the_family_reads_it():
  good = {"model": {"name": "conv_vae", "image_shape": (8, 8, 1), "channels": (4, 8), "hidden_dim": None}}
  train.check_config(good)
  with pytest.raises(ValueError, match=r"config.model has unknown keys \['hiden_dim'\] for 'vae'") as info:
    train.check_config({"model": {"name": "vae", "hiden_dim": 3}})
  _one_line(info)
  with pytest.raises(ValueError, match=r"divisible by 2 \*\* len\(channels\) = 4") as info:
    train.check_config({"model": {"name": "conv_vae", "image_shape": (6, 6, 1), "channels": (4, 8)}})
  _one_line(info)


def test_known_names_of_other_fields():
  known = {"train.optimizer": ("adam", "sgd")}
  train.check_config({"train": {"optimizer": "sgd"}}, known=known)
  with pytest.raises(ValueError, match=r"unknown value 'adma' in config.train.optimizer. Did you mean 'adam'\?"):
    train.check_config({"train": {"optimizer": "adma"}}, known=known)


@pytest.mark.parametrize(
    "x, kwargs, match",
    [
        (np.zeros((4, 8, 8), np.float32), {"image_shape": (8, 8, 1)}, r"must have shape \(N, H, W, C\).*add a channel"),
        (np.zeros((4, 8, 8, 3), np.float32), {"image_shape": (8, 8, 1)}, r"3 channel\(s\) but the model expects 1"),
        (np.zeros((4, 7, 8, 1), np.float32), {"image_shape": (8, 8, 1)}, r"shape \(7, 8, 1\) but the model expects"),
        (np.full((4, 8, 8, 1), 255.0, np.float32), {"likelihood": "bernoulli"}, r"must lie in \[0, 1\].*Bernoulli"),
        (np.full((2, 2, 2, 1), np.nan, np.float32), {}, r"NaN"),
        (np.full((5, 2), np.nan, np.float32), {"image_shape": (2,)}, r"contain 10 NaN value\(s\) \(first at index \(0, 0\)\)"),
        (np.zeros((5, 3), np.float32), {"image_shape": (2,)}, r"per-example shape \(3,\) but the model expects \(2,\)"),
        (np.full((4, 8, 8, 1), 2.0, np.float32), {"value_range": (-1.0, 1.0)}, r"must lie in \[-1, 1\] but range over \[2, 2\]"),
        (np.zeros((4, 2), np.int32), {}, r"dtype int32: convert them to float32"),
    ],
)
def test_data_errors(x, kwargs, match):
  with pytest.raises(ValueError, match=match) as info:
    train.check_data(x, **kwargs)
  _one_line(info)


def test_good_data_passes():
  train.check_data(np.linspace(0, 1, 64, dtype=np.float32).reshape(1, 8, 8, 1), image_shape=(8, 8, 1),
                   likelihood="bernoulli")
  train.check_data(np.full((3, 8, 8, 1), -0.5, np.float32), likelihood="gaussian")
  train.check_data(np.random.default_rng(0).normal(size=(10, 2)).astype(np.float32), image_shape=(2,))


def _objective(models, ctx):
  loss = (models["net"](ctx.batch["x"]) ** 2).mean()
  return loss, {}


def _args(workdir, **overrides):
  args = {
      "workdir": workdir,
      "config": {"model": {"name": "tiny"}},
      "models": {"net": nnx.Linear(2, 2, rngs=nnx.Rngs(0))},
      "optimizers": {"net": optax.sgd(0.1)},
      "updates": [train.Update("net", _objective)],
      "data": {"x": np.zeros((10, 2), np.float32)},
      "num_steps": 4,
      "batch_shape": (5,),
      "seed": 1,
      "progress": False,
  }
  return args | overrides


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"batch_shape": (16,)}, r"a step needs 16 examples but the dataset has only 10: lower batch_size"),
        ({"batch_shape": (2, 6)}, r"a step needs 12 examples but the dataset has only 10"),
        ({"num_steps": 0}, r"num_steps must be a positive integer, got 0"),
        ({"batch_shape": (0,)}, r"every entry of batch_shape must be a positive integer"),
        ({"steps_per_call": -1}, r"steps_per_call must be a positive integer"),
        ({"checkpoint_every": 0}, r"checkpoint_every must be a positive integer"),
        ({"keep_checkpoints": 0}, r"keep_checkpoints must be a positive integer"),
        ({"ema_networks": ("net",)}, r"ema_networks \('net',\) need an ema_decay"),
        ({"ema_decay": 1.5}, r"ema_decay must be in \[0, 1\)"),
        ({"optimizers": {"nte": optax.sgd(0.1)}}, r"optimizer given for unknown network 'nte'"),
        # Paired arrays share one stream's order, so they need one length (separate streams need not).
        ({"data": {"x": {"x": np.zeros((10, 2)), "y": np.zeros(9)}}}, r"same leading \(example\) axis"),
        ({"updates": []}, r"updates is empty"),
        ({"data": {"x": np.array([[0.0, 1.0]] * 9 + [[0.0, np.nan]], np.float32)}},
         r"data stream 'x' holds 1 NaN or infinite value\(s\) \(first at index \(9, 1\)\): clean or drop"),
    ],
)
def test_run_training_argument_errors_before_any_compute(tmp_path, overrides, match):
  with pytest.raises(ValueError, match=match) as info:
    train.run_training(**_args(tmp_path / "run", **overrides))
  _one_line(info)
  assert not os.path.exists(tmp_path / "run")  # nothing written, nothing compiled


def test_resume_refuses_another_seed_and_resume_false(tmp_path):
  _, state = train.init_train_state({"net": nnx.Linear(2, 2, rngs=nnx.Rngs(0))}, {"net": optax.sgd(0.1)},
                                    jax.random.key(1))
  with train.CheckpointManager(tmp_path / "checkpoints") as manager:
    manager.save(state.replace(step=state.step + 2), data_seed=train.data_seed_of(1))
  with pytest.raises(ValueError, match="written by a run with another seed") as info:
    train.run_training(**_args(tmp_path, seed=2))
  _one_line(info)
  with pytest.raises(ValueError, match=r"already holds a checkpoint \(step 2\) and resume=False") as info:
    train.run_training(**_args(tmp_path, resume=False))
  _one_line(info)
  with pytest.raises(ValueError, match=r"at step 2, past num_steps=1: raise num_steps"):
    train.run_training(**_args(tmp_path, num_steps=1))
