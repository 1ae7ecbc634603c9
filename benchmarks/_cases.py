"""The benchmarked train steps: each model of jaxgen with its objective and optimizer.

Every case fixes the sizes and the optimizer once (:data:`HPARAMS`), so the
PyTorch peer (``benchmarks/peers/torch_models.py``) builds the same layers and
the same Adam from the same numbers. The data are synthetic with the shapes and
ranges of the real ones (MNIST 28x28x1 in [0, 1], DCGAN's [-1, 1], the 2-D
ring, MNIST's 10 labels): throughput does not depend on pixel values, and the
benchmark then needs no download.

The conditional GANs (``cgan_projection``, ``cgan_ac``) have no PyTorch peer
(:data:`TORCH_PEERS` lists the cases that do): their rows time jaxgen alone.

BigGAN takes k = 2 discriminator steps per generator step, each on its own
real minibatch (the step's batch has a leading axis k). The harness gathers
one minibatch of indices per step, so :func:`build_jax` stores the stream with
k examples per index, example i and example perm_j(i) of fixed random
permutations (:func:`_k_minibatches`): each step still gathers k batches of
examples, and the step gets them as ``(k, batch, ...)``.

The translation models train on image pairs: Pix2pix on one stream of aligned
pairs ``{"pair": {"a": inputs, "b": targets}}``, CycleGAN on two unpaired
streams ``"a"`` and ``"b"`` and an auxiliary state (its two 50-image pools of
fakes). The harness gathers one stream per step, so :func:`build_jax` hands it
CycleGAN's two as one stream ``"ab"`` of ``{"a", "b"}`` and unpacks it for the
objective: both domains' batches are still gathered every step (at the same
indices: the synthetic domains are independent draws, so that pairs nothing).

StyleGAN2 regularises lazily: R1 every 16 steps, the path length every 4, each
a ``lax.cond`` that costs nothing on the other steps. Its steps therefore
differ in cost with the step index, and :attr:`JaxSetup.period` (16) tells the
harness to time windows of whole periods: every window then holds the
reference's mix of phases, whatever step it starts at.

A model whose module has not landed in ``jaxgen.models`` yet is skipped with
the import error as the reason.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import jax
import numpy as np
import optax
from flax import nnx

# Sizes and optimizers, shared with the PyTorch peers.
HPARAMS: dict[str, dict[str, Any]] = {
    # The chapter's autoencoder 784-256-20, MSE of the sigmoid outputs.
    "ae": dict(image_shape=(28, 28, 1), hidden_dim=256, latent_dim=20, lr=1e-3, b1=0.9, b2=0.999),
    # The Flax VAE example: 784-500-20 ReLU MLP, Bernoulli decoder, Adam 1e-3.
    "vae": dict(image_shape=(28, 28, 1), hidden_dim=500, latent_dim=20, lr=1e-3, b1=0.9, b2=0.999),
    # Conv VAE defaults: 3x3 stride-2 convs 1->32->64 (28->14->7), dense to z=16, transposed convs back.
    "conv_vae": dict(
        image_shape=(28, 28, 1), channels=(32, 64), kernel_size=3, latent_dim=16, lr=1e-3, b1=0.9, b2=0.999
    ),
    # Goodfellow et al. 2014 MNIST: G 100-1200-1200-784, D maxout 240x5 twice with dropout.
    "gan_mlp": dict(
        image_shape=(28, 28, 1), latent_dim=100, generator_features=(1200, 1200), discriminator_units=(240, 240),
        discriminator_pieces=5, input_keep=0.8, hidden_keep=0.5, lr=2e-4, b1=0.5, b2=0.999,
    ),
    # DCGAN at 28x28x1: features 64, 5x5 kernels, G 100 -> 7x7x256 -> 14x14x128 -> 28x28x1,
    # D 28x28x1 -> 14x14x64 -> 7x7x128 -> 1.
    "dcgan": dict(image_shape=(28, 28, 1), latent_dim=100, features=64, kernel_size=5, lr=2e-4, b1=0.5, b2=0.999),
    # PacGAN 2-D: G 2 -> 4 x (400, BN, ReLU) -> 2; D 3 maxout layers 200 x 5; Adam 1e-4, beta1 0.8.
    "toy_gan": dict(
        latent_dim=2, data_dim=2, generator_hidden=400, generator_layers=4, discriminator_hidden=200,
        discriminator_layers=3, maxout_pieces=5, lr=1e-4, b1=0.8, b2=0.999,
    ),
    # Class-conditional DCGAN at dcgan's sizes, hinge loss: G with conditional batch norm, D with spectral
    # norm and no batch norm, and the projection head (Miyato & Koyama 2018) or the AC head (Odena et al. 2017).
    **{
        f"cgan_{head}": dict(
            image_shape=(28, 28, 1), latent_dim=100, features=64, kernel_size=5, num_classes=10,
            generator_conditioning="cbn", discriminator_head=head, discriminator_norm="none", spectral_norm=True,
            lr=2e-4, b1=0.5, b2=0.999,
        )
        for head in ("projection", "ac")
    },
    # The loss study's DCGAN (experiments/gan_losses "mnist" preset, its batch 64): features 32, LayerNorm in D,
    # one row per variant, R1 with gamma 10.
    **{
        f"gan_loss_{variant}": dict(
            image_shape=(28, 28, 1), latent_dim=100, features=32, kernel_size=5, discriminator_norm="layer",
            loss=loss, r1_gamma=r1_gamma, lr=2e-4, b1=0.5, b2=0.999,
        )
        for variant, (loss, r1_gamma) in {
            "non_saturating": ("non_saturating", 0.0), "least_squares": ("least_squares", 0.0),
            "wgan_gp": ("wgan_gp", 0.0), "hinge": ("hinge", 0.0), "non_saturating_r1": ("non_saturating", 10.0),
        }.items()
    },
    # Pix2pix, experiments/pix2pix's "mnist" preset (its batch 64): 32x32x1 -> 32x32x1, U-Net of 5 levels
    # 16-32-64-128-128 down to 1x1 with skips, BatchNorm (none in the innermost block), dropout 0.5 in the
    # 2 decoder blocks above the innermost; conditional PatchGAN "patch16" on (input, output), features 16;
    # non-saturating cGAN loss + 100 L1, D's loss halved.
    "pix2pix": dict(
        image_shape=(32, 32, 1), input_channels=1, features=16, discriminator_features=16, num_downs=5,
        discriminator="patch16", conditional_discriminator=True, norm="batch", dropout_rate=0.5, num_dropout_blocks=2,
        batch_norm_momentum=0.9, loss="non_saturating", l1_weight=100.0, lr=2e-4, b1=0.5, b2=0.999,
    ),
    # CycleGAN at experiments/cyclegan's "mnist_oracle" sizes (its batch 16): 28x28x1 <-> 28x28x1, two ResNet
    # generators (features 32, 2 downsamplings, 6 blocks, InstanceNorm, reflection padding), two PatchGAN
    # discriminators (features 32), LSGAN, cycle 10, 50-image pools. Unlike the preset (identity 0 on its
    # oracle pair, "patch34" below side 32), the reference's defaults: identity 0.5, so the step runs the two
    # identity passes too, and its 70x70 PatchGAN (3 stride-2 layers, 1x1 logits at 28).
    "cyclegan": dict(
        image_shape=(28, 28, 1), features=32, discriminator_features=32, num_blocks=6, num_downsamplings=2,
        discriminator="patch70", norm="instance", loss="least_squares", cycle_weight=10.0, identity=0.5,
        pool_size=50, lr=2e-4, b1=0.5, b2=0.999,
    ),
    # BigGAN, experiments/biggan's "mnist" preset (its batch 64 per D step): 32x32x1, 10 classes, ch 16 (every
    # G block 64 wide: 4x4 -> 8 -> 16 -> 32; D 32 -> 16 -> 8, 8, 8), z 64 in 4 chunks of 16, shared embedding
    # 32, self-attention after the blocks of side 16 (G's second, D's first), SN everywhere but G's shared
    # embedding; hinge loss, k = 2 D steps on 2 real minibatches per G step, orthogonal regularisation 1e-4
    # of G's weights (the shared embedding left out), Adam (0, 0.999) with G 1e-4 and D 4e-4. As the cgan
    # rows, no EMA of G (the experiment keeps one, from a quarter of its run).
    "biggan": dict(
        image_shape=(32, 32, 1), num_classes=10, ch=16, latent_dim=64, shared_dim=32, hierarchical=True,
        attention=(16,), init="ortho", bn_eps=1e-5, batch_norm_momentum=0.9, sn_eps=1e-6, loss="hinge", k=2,
        generator_ortho=1e-4, generator_lr=1e-4, discriminator_lr=4e-4, b1=0.0, b2=0.999,
    ),
    # StyleGAN2 (jaxgen.models.stylegan2 and objectives.stylegan2_updates, the benchmark's batch 32): 32x32x1
    # unconditional, StyleGAN2Config's defaults (z and w 128, mapping 8 layers at lr multiplier 0.01, 128 channels
    # at every resolution, skip G with noise inputs, residual D with minibatch std over groups of 4). The
    # reference's four phases on one real batch: Gmain; Greg (path length, weight 2 on half the batch, decay
    # 0.01) every g_reg_interval = 4 steps; Dmain; Dreg (R1, gamma 0.01) every d_reg_interval = 16 steps;
    # style mixing 0.9. Adam (0, 0.99), lr 0.0025, eps 1e-8 per network, lr and betas adjusted by k / (k + 1)
    # for its interval k (adam_hyperparameters). The PyTorch peer (peers/torch_stylegan2.py) reads this dict
    # (its keys are those of torch_stylegan2.default_hparams()). No EMA of G, as the other rows.
    "stylegan2": dict(
        image_shape=(32, 32, 1), latent_dim=128, w_dim=128, mapping_layers=8, mapping_lr_multiplier=0.01,
        w_avg_beta=0.995, channel_base=4096, channel_max=128, use_noise=True, mbstd_group_size=4,
        mbstd_num_channels=1, r1_gamma=0.01, pl_weight=2.0, pl_decay=0.01, pl_batch_shrink=2, mixing_prob=0.9,
        g_reg_interval=4, d_reg_interval=16, lr=0.0025, b1=0.0, b2=0.99, eps=1e-8,
    ),
}

MODEL_NAMES = tuple(HPARAMS)

# The cases with a PyTorch peer in benchmarks/peers/torch_models.py; the others are timed in jaxgen only.
TORCH_PEERS = ("ae", "vae", "conv_vae", "gan_mlp", "dcgan", "toy_gan", "pix2pix", "cyclegan", "biggan",
               "stylegan2")

# Convolutional models: XLA's CPU backend runs convolutions several times slower
# inside a loop body, so their K steps are unrolled (few, to bound compile time).
UNROLLED = {"conv_vae": 4, "dcgan": 2, "cgan_projection": 2, "cgan_ac": 2, "pix2pix": 2, "cyclegan": 2,
            "biggan": 2, "stylegan2": 2, **{name: 2 for name in HPARAMS if name.startswith("gan_loss_")}}

# StyleGAN2's networks with a lazy regulariser, and the hyperparameter holding its interval: their Adam's lr
# and betas are adjusted by k / (k + 1) (jaxgen.objectives.lazy_adam_hyperparameters).
LAZY_INTERVALS = {"stylegan2": {"generator": "g_reg_interval", "discriminator": "d_reg_interval"}}

# The image-translation cases: their streams and networks come from the models' own builders.
TRANSLATION = ("pix2pix", "cyclegan")


@dataclasses.dataclass
class JaxSetup:
  """What the harness needs to time one model's train step.

  Attributes:
    step: pure ``step(state, batch) -> (state, metrics)``.
    state: the initial :class:`jaxgen.train.TrainState`.
    data: one stream: its name -> a pytree of host arrays, leading axis = examples.
    examples_per_step: real examples consumed by one step (the batch size; k batches for a GAN whose k
      discriminator steps take a minibatch each).
    period: steps after which the step's work repeats: the least common multiple of its updates'
      ``every`` (a ``Forward`` runs every step; StyleGAN2: 16, R1 every 16 steps and the path length
      every 4; 1 for the others). A skipped lazy update costs nothing (a ``lax.cond``), so the harness
      times windows of whole periods.
  """

  step: Callable
  state: Any
  data: dict[str, Any]
  examples_per_step: int
  unroll: bool = False
  max_k: int | None = None
  compiler_options: dict | None = None
  period: int = 1


def synthetic_data(name: str, num: int, seed: int = 0) -> dict[str, Any]:
  """Host arrays shaped like the model's training data (key 'image' or 'x').

  A conditional GAN's stream is ``{"x": images (num, H, W, C) in [-1, 1], "y":
  int32 labels (num,)}``, uniform over the classes; the train step gathers both
  at the same indices, so each image keeps its label.

  Pix2pix's stream is ``{"pair": {"a": inputs, "b": targets}}`` (aligned
  pairs), CycleGAN's two streams ``{"a": domain A, "b": domain B}``: images in
  [-1, 1].
  """
  hp = HPARAMS[name]
  rng = np.random.default_rng(seed)
  if name in TRANSLATION:
    a, b = (2.0 * rng.uniform(size=(num, *hp["image_shape"])).astype(np.float32) - 1.0 for _ in range(2))
    return {"pair": {"a": a, "b": b}} if name == "pix2pix" else {"a": a, "b": b}
  if name == "toy_gan":
    # The ring of 8 Gaussians (std 0.01) of the PacGAN experiments.
    angles = 2 * np.pi * rng.integers(0, 8, num) / 8
    x = np.stack([np.cos(angles), np.sin(angles)], 1) + 0.01 * rng.normal(size=(num, 2))
    return {"x": x.astype(np.float32)}
  images = rng.uniform(size=(num, *hp["image_shape"])).astype(np.float32)
  if "num_classes" in hp:
    labels = rng.integers(0, hp["num_classes"], num).astype(np.int32)
    return {"x": {"x": 2.0 * images - 1.0, "y": labels}}
  if name in ("dcgan", "stylegan2") or name.startswith("gan_loss_"):
    return {"x": 2.0 * images - 1.0}
  if name in ("gan_mlp",):
    return {"x": images}
  return {"image": images}


def build_modules(name: str, rngs: nnx.Rngs, compute_dtype: str = "float32") -> dict[str, nnx.Module]:
  """The jaxgen networks of case ``name`` computing in ``compute_dtype`` (ImportError when the model has not landed)."""
  hp = HPARAMS[name]
  dt = compute_dtype
  if name == "ae":
    from jaxgen.models.autoencoder import Autoencoder, AutoencoderConfig

    cfg = AutoencoderConfig(image_shape=hp["image_shape"], hidden_dim=hp["hidden_dim"], latent_dim=hp["latent_dim"],
                              compute_dtype=dt)
    return {"autoencoder": Autoencoder(cfg, rngs=rngs)}
  if name == "vae":
    from jaxgen.models.vae import VAE, VAEConfig

    cfg = VAEConfig(image_shape=hp["image_shape"], hidden_sizes=(hp["hidden_dim"],), latent_dim=hp["latent_dim"],
                    compute_dtype=dt)
    return {"vae": VAE(cfg, rngs=rngs)}
  if name == "conv_vae":
    from jaxgen.models.conv_vae import ConvVAE, ConvVAEConfig

    cfg = ConvVAEConfig(
        image_shape=hp["image_shape"], channels=hp["channels"], kernel_size=hp["kernel_size"],
        latent_dim=hp["latent_dim"], compute_dtype=dt,
    )
    return {"vae": ConvVAE(cfg, rngs=rngs)}
  if name == "gan_mlp":
    from jaxgen.models.gan_mlp import GANMLPConfig, MaxoutDiscriminator, MLPGenerator

    cfg = GANMLPConfig(
        image_shape=hp["image_shape"], latent_dim=hp["latent_dim"], generator_features=hp["generator_features"],
        discriminator_units=hp["discriminator_units"], discriminator_pieces=hp["discriminator_pieces"],
        input_keep=hp["input_keep"], hidden_keep=hp["hidden_keep"], compute_dtype=dt,
    )
    return {"generator": MLPGenerator(cfg, rngs=rngs), "discriminator": MaxoutDiscriminator(cfg, rngs=rngs)}
  if name == "dcgan" or name.startswith("gan_loss_"):
    from jaxgen.models.dcgan import DCGANConfig, DCGANDiscriminator, DCGANGenerator

    cfg = DCGANConfig(
        image_shape=hp["image_shape"], latent_dim=hp["latent_dim"], features=hp["features"],
        kernel_size=hp["kernel_size"], discriminator_norm=hp.get("discriminator_norm", "batch"), compute_dtype=dt,
    )
    return {"generator": DCGANGenerator(cfg, rngs=rngs), "discriminator": DCGANDiscriminator(cfg, rngs=rngs)}
  if name == "toy_gan":
    from jaxgen.models.toy_gan import ToyDiscriminator, ToyGANConfig, ToyGenerator

    fields = {f.name for f in dataclasses.fields(ToyGANConfig)}
    cfg = ToyGANConfig(**{k: v for k, v in hp.items() if k in fields}, compute_dtype=dt)
    return {"generator": ToyGenerator(cfg, rngs=rngs), "discriminator": ToyDiscriminator(cfg, rngs=rngs)}
  if name in ("cgan_projection", "cgan_ac"):
    from jaxgen.models.cgan import CGANConfig, ConditionalDiscriminator, ConditionalGenerator

    fields = {f.name for f in dataclasses.fields(CGANConfig)}
    cfg = CGANConfig(**{k: v for k, v in hp.items() if k in fields}, compute_dtype=dt)
    return {"generator": ConditionalGenerator(cfg, rngs=rngs), "discriminator": ConditionalDiscriminator(cfg, rngs=rngs)}
  if name == "biggan":
    from jaxgen.models.biggan import BigGANConfig, BigGANDiscriminator, BigGANGenerator

    fields = {f.name for f in dataclasses.fields(BigGANConfig)}
    cfg = BigGANConfig(**{k: v for k, v in hp.items() if k in fields}, compute_dtype=dt)
    return {"generator": BigGANGenerator(cfg, rngs=rngs), "discriminator": BigGANDiscriminator(cfg, rngs=rngs)}
  if name == "stylegan2":
    from jaxgen.models.stylegan2 import StyleGAN2Config, StyleGAN2Discriminator, StyleGAN2Generator

    fields = {f.name for f in dataclasses.fields(StyleGAN2Config)}
    cfg = StyleGAN2Config(**{k: v for k, v in hp.items() if k in fields}, compute_dtype=dt)
    return {"generator": StyleGAN2Generator(cfg, rngs=rngs),
            "discriminator": StyleGAN2Discriminator(cfg, rngs=rngs)}
  if name in TRANSLATION:
    import importlib
    import types

    module = importlib.import_module(f"jaxgen.models.{name}")
    cls = module.Pix2PixConfig if name == "pix2pix" else module.CycleGANConfig
    fields = {f.name for f in dataclasses.fields(cls)}
    # The family's own builder (pix2pix: generator, discriminator; cyclegan: g_ab, g_ba, d_a, d_b).
    model = {k: v for k, v in hp.items() if k in fields} | {"compute_dtype": dt}
    return module.build(types.SimpleNamespace(model=model), rngs)
  raise ValueError(f"unknown model '{name}'; known: {', '.join(MODEL_NAMES)}")


def _updates(name: str):
  from jaxgen import train

  if name == "ae":
    from jaxgen.objectives import autoencoder_objective

    return [train.Update("autoencoder", autoencoder_objective(loss="mse"))]
  if name in ("vae", "conv_vae"):
    from jaxgen.objectives import negative_elbo_objective

    return [train.Update("vae", negative_elbo_objective())]
  hp = HPARAMS[name]
  if name == "pix2pix":
    from jaxgen.objectives import pix2pix_updates

    return pix2pix_updates(loss=hp["loss"], l1_weight=hp["l1_weight"])
  if name == "cyclegan":
    from jaxgen.objectives import cyclegan_updates

    return cyclegan_updates(loss=hp["loss"], cycle_weight=hp["cycle_weight"], identity=hp["identity"])
  if name == "biggan":
    # The shared class embedding is left out of the orthogonal regularisation, as in the reference.
    return train.gan_updates(loss=hp["loss"], k=hp["k"], latent_dim=hp["latent_dim"], num_classes=hp["num_classes"],
                             generator_ortho=hp["generator_ortho"], ortho_exclude=("shared",))
  if name == "stylegan2":
    from jaxgen.objectives import stylegan2_updates

    return stylegan2_updates(
        latent_dim=hp["latent_dim"], r1_gamma=hp["r1_gamma"], r1_interval=hp["d_reg_interval"],
        pl_weight=hp["pl_weight"], pl_interval=hp["g_reg_interval"], pl_batch_shrink=hp["pl_batch_shrink"],
        pl_decay=hp["pl_decay"], mixing_prob=hp["mixing_prob"])
  if "num_classes" in hp:
    # The conditional GANs: hinge loss, labels of generated images uniform over the classes.
    return train.gan_updates(loss="hinge", k=1, latent_dim=hp["latent_dim"], num_classes=hp["num_classes"])
  if name.startswith("gan_loss_"):
    return train.gan_updates(loss=hp["loss"], k=1, latent_dim=hp["latent_dim"], r1_gamma=hp["r1_gamma"])
  # Every other GAN: one discriminator update, then one generator update, non-saturating loss.
  return train.gan_updates(loss="non_saturating", k=1, latent_dim=HPARAMS[name]["latent_dim"])


def build_jax(name: str, batch_size: int, num_examples: int, compute_dtype: str = "float32") -> JaxSetup:
  """The jaxgen train step of case ``name`` with Adam on every network, on synthetic data."""
  from jaxgen import train

  hp = HPARAMS[name]
  models = build_modules(name, nnx.Rngs(0), compute_dtype)
  optimizers = {network: optax.adam(**adam_hyperparameters(name, network)) for network in models}
  graphdefs, state = train.init_train_state(models, optimizers, jax.random.key(0),
                                            aux=_aux_state(name, batch_size))
  updates = _updates(name)
  step = train.make_train_step(graphdefs, optimizers, updates)
  data = synthetic_data(name, num_examples)
  if len(data) > 1:
    # The harness gathers one stream: the streams travel as one and are unpacked for the objectives.
    step, data = _as_one_stream(step, "".join(data)), {"".join(data): data}
  k = hp.get("k", 1)
  if k > 1:
    step, data = _k_minibatches(step, data, k)
  # jaxgen's compiler options, as its experiments pass them (the VAE family: XLA's own dots).
  options = train.compiler_options(ynnpack_dots=name not in ("ae", "vae", "conv_vae"))
  return JaxSetup(step, state, data, k * batch_size, unroll=name in UNROLLED, max_k=UNROLLED.get(name),
                  compiler_options=options, period=math.lcm(1, *(getattr(u, "every", 1) for u in updates)))


def _aux_state(name: str, batch_size: int) -> Any:
  """The objectives' auxiliary state of case ``name`` (None for the cases without one)."""
  hp = HPARAMS[name]
  if name == "cyclegan":
    from jaxgen.objectives import cyclegan_aux_init

    # The two pools of fakes and the fakes the generators' update hands to the discriminators' update.
    return cyclegan_aux_init(hp["pool_size"], hp["image_shape"], hp["image_shape"], batch_size)
  if name == "stylegan2":
    from jaxgen.objectives import stylegan2_aux_init

    return stylegan2_aux_init()  # the running mean path length
  return None


def learning_rate(hp: dict[str, Any], network: str) -> float:
  """The learning rate of ``network``: its own ``<network>_lr`` (BigGAN's G and D differ), else the case's ``lr``."""
  return hp[f"{network}_lr"] if f"{network}_lr" in hp else hp["lr"]


def adam_hyperparameters(name: str, network: str) -> dict[str, float]:
  """``optax.adam``'s arguments for ``network`` of case ``name``: learning_rate, b1, b2, eps (default 1e-8).

  A network of :data:`LAZY_INTERVALS` gets its lr and betas adjusted for its
  lazy regulariser's interval k (none when the regulariser's weight is 0), as
  jaxgen's StyleGAN2 experiment and the reference's training loop do.
  """
  hp = HPARAMS[name]
  lr, betas = learning_rate(hp, network), (hp["b1"], hp["b2"])
  interval_key = LAZY_INTERVALS.get(name, {}).get(network)
  if interval_key is not None:
    from jaxgen.objectives import lazy_adam_hyperparameters

    weight = hp["pl_weight"] if interval_key == "g_reg_interval" else hp["r1_gamma"]
    lr, betas = lazy_adam_hyperparameters(lr, betas, hp[interval_key] if weight > 0 else 0)
  return {"learning_rate": lr, "b1": betas[0], "b2": betas[1], "eps": hp.get("eps", 1e-8)}


def _k_minibatches(step: Callable, data: dict[str, Any], k: int, seed: int = 0) -> tuple[Callable, dict[str, Any]]:
  """``step`` fed k minibatches ``(k, batch, ...)`` by the harness's one gathered batch.

  Row i of the returned stream holds k examples: i and perm_j(i) for fixed
  random permutations perm_1 .. perm_{k-1} of the examples, so a batch of
  random indices brings k minibatches, each a random draw of the examples
  (on synthetic data as good as k independent draws: the work is the same).
  The wrapped step moves the k axis first, the layout ``gan_updates`` splits
  over its k discriminator updates.
  """
  import jax.numpy as jnp

  (num,) = {x.shape[0] for x in jax.tree.leaves(data)}
  rng = np.random.default_rng(seed)
  orders = [np.arange(num)] + [rng.permutation(num) for _ in range(k - 1)]
  packed = jax.tree.map(lambda a: np.stack([a[order] for order in orders], axis=1), data)

  def k_batch_step(state, batch):
    return step(state, jax.tree.map(lambda a: jnp.swapaxes(a, 0, 1), batch))

  return k_batch_step, packed


def _as_one_stream(step: Callable, stream: str) -> Callable:
  """``step`` on batches ``{stream: {name: batch, ...}}``: the inner dict is the multi-stream batch it takes."""

  def one_stream_step(state, batch):
    return step(state, batch[stream])

  return one_stream_step


def num_parameters(params) -> int:
  """Number of scalars in a pytree of parameters (arrays or shape structs)."""
  return sum(math.prod(x.shape) for x in jax.tree.leaves(params))
