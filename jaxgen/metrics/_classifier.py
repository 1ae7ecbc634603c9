"""Feature networks that jaxgen trains itself: a LeNet per dataset, gated and cached.

Sample-quality metrics (FID, KID, precision/recall, the classifier score)
compare features of a fixed network. ImageNet's Inception features say little
about 28x28 digits and need a download, so jaxgen trains a small classifier
(``jaxgen.models.LeNet``) on the dataset's own training split, the practice of
MNIST-scale GAN papers (a "domain-specific" classifier), and uses its
penultimate layer.

``feature_network(dataset, cache_dir=...)`` trains it on first use, checks
its test accuracy against a gate (a worse network would make every score it
feeds meaningless), saves it in ``cache_dir/<dataset>-seed<seed>/`` and loads
it from there later. Training is a plain jitted optax loop, one
``jax.lax.scan`` per epoch over a permutation drawn from the seed, so the same
seed gives the same parameters (bit for bit on one backend).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.metadata
import json
import logging
import os
import platform
import sys
import time
import zipfile

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from tqdm.auto import tqdm

from jaxgen import data as data_lib
from jaxgen.models.lenet import LeNet, LeNetConfig

_log = logging.getLogger(__name__)

# Test accuracy a network must reach before its features are used (LeNet-style
# networks reach about 99.2 % / 91 % / 98-99 %); other datasets
# (CIFAR-10, a user's folder) have no gate unless one is passed.
FEATURE_NETWORK_GATES = {"digits": 0.97, "mnist": 0.99, "fashion_mnist": 0.90}
# Epochs of Adam with a cosine-decayed step size; the learning rate reaches 0 at the end.
# Measured here (seed 0, 2 shared CPU cores, jax 0.10.2): digits 99.67 % in 4 s
# (98.7-99.7 % over seeds 0-5), MNIST 99.38 % in 385 s (6 epochs, ~60 s each),
# Fashion-MNIST 92.59 % in 535 s (10 epochs, ~53 s each).
_EPOCHS = {"digits": 30, "mnist": 6, "fashion_mnist": 10}
_DEFAULT_EPOCHS = 10
_BATCH_SIZE = 128
_LEARNING_RATE = 1e-3
# Images per compiled call when extracting features: 1000 x 32 x 32 x 32 float32
# activations of the first convolution are 128 MiB, whatever N is.
_EVAL_BATCH = 1000
# Bumped when the architecture, the training recipe or the file layout changes,
# so that old caches are retrained rather than trusted.
_CACHE_FORMAT = 1
_PARAMS_FILE = "params.npz"
_INFO_FILE = "info.json"


def _library_versions() -> dict[str, str]:
  out = {"python": platform.python_version()}
  for name in ("jax", "jaxlib", "flax", "optax", "numpy"):
    try:
      out[name] = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
      out[name] = "not installed"
  out["backend"] = jax.default_backend()
  out["device_kind"] = jax.devices()[0].device_kind
  return out


def _fingerprint(ds: data_lib.ImageDataset) -> str:
  """sha256 of the train and test images and labels: which data a network was trained on."""
  h = hashlib.sha256()
  for a in (ds.train, ds.train_labels, ds.test, ds.test_labels):
    h.update(str(a.shape).encode())
    h.update(np.ascontiguousarray(a).data)
  return h.hexdigest()


def _file_sha256(path: str) -> str:
  h = hashlib.sha256()
  with open(path, "rb") as f:
    for block in iter(functools.partial(f.read, 1 << 20), b""):
      h.update(block)
  return h.hexdigest()


def _flatten(tree: dict, prefix: str = "") -> dict[str, np.ndarray]:
  """A nested dict of arrays as {'conv1/kernel': array, ...} (the npz keys)."""
  out = {}
  for k, v in tree.items():
    name = f"{prefix}{k}"
    if isinstance(v, dict):
      out.update(_flatten(v, name + "/"))
    else:
      out[name] = v
  return out


def _unflatten(flat: dict[str, np.ndarray], like: dict, prefix: str = "") -> dict:
  """The nested dict shaped as ``like`` with leaves from ``flat`` (KeyError if one is missing)."""
  return {k: _unflatten(flat, v, f"{prefix}{k}/") if isinstance(v, dict) else flat[f"{prefix}{k}"] for k, v in like.items()}


# Where feature networks are cached unless a caller says otherwise.
DEFAULT_CACHE_DIR = os.path.join(os.path.expanduser("~"), ".cache", "jaxgen", "feature_networks")

class FeatureNetwork:
  """A trained LeNet: features (its penultimate layer) and class log-probabilities of images.

  Built by :func:`feature_network`. Images are float32 ``(N, H, W, C)`` in
  [0, 1] of the network's ``image_shape``; they go to the device
  ``batch_size`` at a time through one compiled function, so N = 50,000 (or
  more) needs no more memory than one batch on the device.

  Attributes:
    dataset: name of the training data, e.g. "mnist".
    seed: the seed the network was trained from.
    accuracy: its accuracy on the dataset's test split, in [0, 1].
    path: the cache directory holding ``params.npz`` and ``info.json``.
    info: the contents of ``info.json`` (epochs, seconds, versions, ...).
    config: the ``LeNetConfig`` of the network.
  """

  def __init__(self, model: LeNet, *, dataset: str, seed: int, accuracy: float, path: str, info: dict):
    self.dataset = dataset
    self.seed = seed
    self.accuracy = accuracy
    self.path = path
    self.info = info
    self.config = model.cfg
    self._graphdef, self._params = nnx.split(model)

    def apply(params, x):
      net = nnx.merge(self._graphdef, params)
      h = net.features(x)
      return h, jax.nn.log_softmax(net.out(h), axis=-1)

    self._apply = jax.jit(apply)

  @property
  def image_shape(self) -> tuple[int, int, int]:
    return tuple(self.config.image_shape)

  @property
  def feature_dim(self) -> int:
    return self.config.hidden_dim

  @property
  def num_classes(self) -> int:
    return self.config.num_classes

  def __repr__(self) -> str:
    return (f"FeatureNetwork(dataset={self.dataset!r}, seed={self.seed}, image_shape={self.image_shape}, "
            f"feature_dim={self.feature_dim}, accuracy={self.accuracy:.4f}, path={self.path!r})")

  def _check_images(self, images) -> np.ndarray:
    x = np.asarray(images)
    if x.ndim != 4 or tuple(x.shape[1:]) != self.image_shape:
      raise ValueError(f"the {self.dataset} feature network takes images (N, {', '.join(map(str, self.image_shape))}), "
                       f"got shape {x.shape}.")
    if x.shape[0] == 0:
      raise ValueError("no images: the array is empty.")
    if not np.issubdtype(x.dtype, np.floating):
      raise ValueError(f"images have dtype {x.dtype}: pass float32 images in [0, 1] (e.g. uint8 / 255).")
    lo, hi = float(np.min(x)), float(np.max(x))
    if not (0.0 <= lo and hi <= 1.0):  # also false for NaN
      raise ValueError(f"images must lie in [0, 1] like the training data, got values in [{lo:g}, {hi:g}]: "
                       "clip generated images with np.clip(x, 0, 1).")
    return x

  def _map(self, images, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    if batch_size < 1:
      raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    x = self._check_images(images)
    n = x.shape[0]
    batch_size = min(batch_size, n)
    feats, logps = [], []
    for start in range(0, n, batch_size):
      xb = np.asarray(x[start:start + batch_size], np.float32)
      m = xb.shape[0]
      if m < batch_size:  # Padded to one batch shape, so one compiled function serves every call.
        xb = np.concatenate([xb, np.zeros((batch_size - m, *xb.shape[1:]), np.float32)])
      h, lp = self._apply(self._params, xb)
      feats.append(np.asarray(h)[:m])
      logps.append(np.asarray(lp)[:m])
    return np.concatenate(feats), np.concatenate(logps)

  def features(self, images, *, batch_size: int = _EVAL_BATCH) -> np.ndarray:
    """Penultimate-layer activations ``(N, feature_dim)`` float32 of images ``(N, H, W, C)`` in [0, 1]."""
    return self._map(images, batch_size)[0]

  def features_and_log_probs(self, images, *, batch_size: int = _EVAL_BATCH) -> tuple[np.ndarray, np.ndarray]:
    """:meth:`features` and :meth:`log_probs` of the same images from one pass of the network."""
    return self._map(images, batch_size)

  def features_fn(self):
    """``(fn, params)``: the features as a pure function ``fn(params, images) -> (N, feature_dim)``.

    Differentiable and jittable, for losses on features (Age-cGAN's
    identity-preserving latent optimisation); images (N, H, W, C) in [0, 1],
    unchecked; dropout off.
    """
    graphdef = self._graphdef
    return (lambda params, images: nnx.merge(graphdef, params).features(images)), self._params

  def log_probs(self, images, *, batch_size: int = _EVAL_BATCH) -> np.ndarray:
    """Class log-probabilities ``log p(y | x)`` ``(N, num_classes)`` float32 of images ``(N, H, W, C)``."""
    return self._map(images, batch_size)[1]


def _train(cfg: LeNetConfig, ds: data_lib.ImageDataset, *, seed: int, epochs: int, progress: bool) -> LeNet:
  """Cross-entropy, Adam with a cosine-decayed step size, ``epochs`` passes over ``ds.train``.

  Step ``s`` of epoch ``e`` takes batch ``s`` of a permutation drawn from
  ``fold_in(order_key, e)`` (the examples after the last full batch differ
  from epoch to epoch) and its dropout from ``fold_in(dropout_key, global
  step)``, so the parameters depend on the seed alone.
  """
  init_key, order_key, dropout_key = jax.random.split(jax.random.key(seed), 3)
  model = LeNet(cfg, rngs=nnx.Rngs(params=init_key))
  graphdef, params = nnx.split(model)
  n = ds.num_train
  batch_size = min(_BATCH_SIZE, n)
  steps = n // batch_size
  tx = optax.adam(optax.cosine_decay_schedule(_LEARNING_RATE, epochs * steps))
  opt_state = tx.init(params)

  def train_step(carry, x, y, order, epoch, i):
    params, opt_state = carry
    idx = jax.lax.dynamic_index_in_dim(order, i, keepdims=False)
    xb, yb = x[idx], y[idx]
    key = jax.random.fold_in(dropout_key, epoch * steps + i)

    def loss_fn(p):
      logits = nnx.merge(graphdef, p)(xb, train=True, key=key)
      loss = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, yb))
      return loss, jnp.mean(jnp.argmax(logits, axis=-1) == yb)

    (loss, acc), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return (optax.apply_updates(params, updates), opt_state), (loss, acc)

  @jax.jit
  def epoch_order(epoch):
    return jax.random.permutation(jax.random.fold_in(order_key, epoch), n)[:steps * batch_size].reshape(steps, batch_size)

  if jax.default_backend() == "cpu":
    # One dispatch per step: XLA's CPU backend runs the kernel gradient of a
    # convolution inside a loop body 17-30x slower than outside one (LeNet's
    # second layer, 14x14x32 -> 64, batch 128: 0.83-1.85 s vs 49-57 ms; see
    # also jaxgen.train.make_multi_step), and a step here is long enough
    # (5-180 ms) that Python's dispatch costs nothing.
    step = jax.jit(train_step, donate_argnums=0)

    def run_epoch(carry, x, y, order, epoch):
      losses = []
      for i in range(steps):
        carry, metrics = step(carry, x, y, order, epoch, jnp.int32(i))
        losses.append(metrics)
      return carry, jax.tree.map(lambda *m: jnp.mean(jnp.stack(m)), *losses)
  else:
    # Elsewhere a whole epoch is one dispatch: the same steps in one jax.lax.scan.
    @functools.partial(jax.jit, donate_argnums=0)
    def run_epoch(carry, x, y, order, epoch):
      carry, metrics = jax.lax.scan(lambda c, i: train_step(c, x, y, order, epoch, i), carry, jnp.arange(steps))
      return carry, jax.tree.map(jnp.mean, metrics)

  x, y = jnp.asarray(ds.train), jnp.asarray(ds.train_labels)
  carry = (params, opt_state)
  bar = tqdm(range(epochs), desc=f"LeNet {ds.name} seed {seed}", unit="epoch", disable=not progress, dynamic_ncols=True)
  for epoch in bar:
    epoch = jnp.int32(epoch)
    carry, (loss, acc) = run_epoch(carry, x, y, epoch_order(epoch), epoch)
    bar.set_postfix(loss=f"{float(loss):.4f}", train_acc=f"{float(acc):.4f}")
  bar.close()
  return nnx.merge(graphdef, carry[0])


def _gate_error(name: str, seed: int, accuracy: float, gate: float, epochs: int) -> ValueError:
  return ValueError(
      f"the {name} feature network (seed {seed}, {epochs} epochs) reached {accuracy:.2%} test accuracy, below the "
      f"gate of {gate:.2%}: its features would not be trustworthy; train it longer (epochs=) or check the data."
  )


def _expected_info(name: str, seed: int, epochs: int, cfg: LeNetConfig) -> dict:
  """The fields of ``info.json`` that must match for a cache to be used."""
  return {
      "format": _CACHE_FORMAT, "dataset": name, "seed": seed, "epochs": epochs, "batch_size": _BATCH_SIZE,
      "learning_rate": _LEARNING_RATE, "model": json.loads(json.dumps(dataclasses.asdict(cfg))),
  }


def _load_cache(path: str, expected: dict, fingerprint: str | None, cfg: LeNetConfig) -> tuple[LeNet, dict] | str:
  """The cached network and its info, or why the cache cannot be used (a string)."""
  info_path, params_path = os.path.join(path, _INFO_FILE), os.path.join(path, _PARAMS_FILE)
  if not os.path.exists(info_path):
    return "absent"
  try:
    with open(info_path) as f:
      info = json.load(f)
    if not isinstance(info, dict):
      raise ValueError("not a JSON object")
  except (OSError, ValueError) as e:
    return f"{_INFO_FILE} is unreadable ({type(e).__name__})"
  for key, value in expected.items():
    if info.get(key) != value:
      return f"it was trained with {key}={info.get(key)!r}, not {value!r}"
  if fingerprint is not None and info.get("data_sha256") != fingerprint:
    return "it was trained on other images or labels under the same name"
  if not isinstance(info.get("accuracy"), float):
    return f"{_INFO_FILE} has no accuracy"
  try:
    if _file_sha256(params_path) != info.get("params_sha256"):
      return f"{_PARAMS_FILE} does not match its checksum"
    abstract = nnx.eval_shape(lambda: LeNet(cfg, rngs=nnx.Rngs(0)))
    graphdef, state = nnx.split(abstract)
    like = nnx.to_pure_dict(state)
    with np.load(params_path, allow_pickle=False) as npz:
      flat = {k: npz[k] for k in npz.files}
    expected_flat = _flatten(like)
    if set(flat) != set(expected_flat):
      return f"{_PARAMS_FILE} holds other parameters ({sorted(set(flat) ^ set(expected_flat))[:3]})"
    pure = _unflatten(flat, like)
    for got, want in zip(jax.tree.leaves(pure), jax.tree.leaves(like)):
      if got.shape != want.shape or got.dtype != want.dtype:
        return f"{_PARAMS_FILE} holds a {got.dtype}{got.shape} array where {want.dtype}{want.shape} is expected"
  except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
    return f"{_PARAMS_FILE} is unreadable ({type(e).__name__})"
  nnx.replace_by_pure_dict(state, jax.tree.map(jnp.asarray, pure))
  return nnx.merge(graphdef, state), info


def _save_cache(path: str, model: LeNet, info: dict) -> dict:
  """Writes params.npz, then info.json (with the params' checksum) last, each by an atomic rename."""
  os.makedirs(path, exist_ok=True)
  info_path, params_path = os.path.join(path, _INFO_FILE), os.path.join(path, _PARAMS_FILE)
  # A process killed mid-way leaves no info.json, or one whose checksum the new params fail: retrained next time.
  if os.path.exists(info_path):
    os.remove(info_path)
  tmp = f"{params_path}.tmp-{os.getpid()}"
  with open(tmp, "wb") as f:  # A file object: np.savez would append '.npz' to a path.
    np.savez(f, **{k: np.asarray(v) for k, v in _flatten(nnx.to_pure_dict(nnx.state(model))).items()})
  os.replace(tmp, params_path)
  info = {**info, "params_sha256": _file_sha256(params_path)}
  tmp = f"{info_path}.tmp-{os.getpid()}"
  with open(tmp, "w") as f:
    json.dump(info, f, indent=2, sort_keys=True)
    f.write("\n")
  os.replace(tmp, info_path)
  return info


def feature_network(
    dataset: str | data_lib.ImageDataset,
    *,
    cache_dir: str | os.PathLike,
    data_dir: str | os.PathLike | None = None,
    seed: int = 0,
    progress: bool = True,
    epochs: int | None = None,
    min_accuracy: float | None = None,
) -> FeatureNetwork:
  """The LeNet feature network of a dataset: loaded from ``cache_dir``, or trained, gated and saved there.

  The network (``jaxgen.models.LeNet``: two 5x5 convolutions of 32 and 64
  maps, each followed by a 2x2 max-pool, a 256-unit ReLU layer, the features,
  and a linear layer to the class logits) is trained on the training split
  with cross-entropy and Adam (step size 1e-3 cosine-decayed to 0, batches of
  128, dropout 0.5 on the features), its initialisation, batch order and
  dropout drawn from ``jax.random.key(seed)``. Its accuracy on the test split
  must reach the gate, ``FEATURE_NETWORK_GATES`` (digits 97 %, MNIST 99 %,
  Fashion-MNIST 90 %) unless ``min_accuracy`` is given. It is saved in
  ``cache_dir/<dataset>-seed<seed>/`` (``params.npz``: the parameters;
  ``info.json``: dataset, seed, accuracy, epochs, seconds, library versions,
  checksums). A cache that is corrupt or was made with other settings is
  retrained, with a one-line warning.

  Args:
    dataset: a name known to ``jaxgen.data.load_dataset`` ("digits", "mnist",
      "fashion_mnist", "cifar10") or a labelled ``ImageDataset`` (its ``name``
      names the cache; give padded or otherwise changed data a name of its own).
    cache_dir: folder of the cached networks (created if needed).
    data_dir: passed to ``jaxgen.data.load_dataset`` when the network must be
      trained; unused for a cache hit.
    seed: seed of the training.
    progress: show a progress bar over the training epochs (stderr).
    epochs: passes over the training data (default: 30 for digits, 6 for
      MNIST, 10 for Fashion-MNIST and other data).
    min_accuracy: test accuracy required, in [0, 1] (default: the dataset's
      gate; none for datasets without one).

  Returns:
    The :class:`FeatureNetwork`.

  Raises:
    ValueError: the test accuracy is below the gate (the message names both;
      nothing is cached), the dataset has no labels, or an argument is invalid.
    DatasetNotFoundError: the network must be trained and the data is not here.
  """
  if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
    raise ValueError(f"seed must be a non-negative integer, got {seed!r}.")
  seed = int(seed)
  if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1):
    raise ValueError(f"epochs must be a positive integer, got {epochs!r}.")
  if min_accuracy is not None and not 0.0 <= min_accuracy <= 1.0:
    raise ValueError(f"min_accuracy is a fraction in [0, 1] (0.99 for 99 %), got {min_accuracy!r}.")
  if isinstance(dataset, data_lib.ImageDataset):
    ds, name = dataset, dataset.name
  elif isinstance(dataset, str):
    ds, name = None, data_lib.check_dataset_name(dataset)
  else:
    raise ValueError(f"dataset must be a dataset name or a jaxgen.data.ImageDataset, got {type(dataset).__name__}.")
  if ds is not None:
    _check_labelled(ds)
  epochs = int(epochs) if epochs is not None else _EPOCHS.get(name, _DEFAULT_EPOCHS)
  gate = min_accuracy if min_accuracy is not None else FEATURE_NETWORK_GATES.get(name)
  path = os.path.join(os.fspath(cache_dir), f"{name}-seed{seed}")

  cached = None
  if ds is None and (cfg := _cached_config(path)) is not None:
    # A named dataset is loaded only on a cache miss: the cache says its image shape and class count.
    cached = _load_cache(path, _expected_info(name, seed, epochs, cfg), None, cfg)
  if cached is None or isinstance(cached, str):
    if ds is None:
      ds = data_lib.load_dataset(name, data_dir=data_dir)
      _check_labelled(ds)
    cfg = LeNetConfig.for_images(ds.image_shape, ds.num_classes)
    fingerprint = _fingerprint(ds)
    expected = _expected_info(name, seed, epochs, cfg)
    if cached is None:
      cached = _load_cache(path, expected, fingerprint, cfg)
  if not isinstance(cached, str):
    model, info = cached
    if gate is not None and info["accuracy"] < gate:
      raise _gate_error(name, seed, info["accuracy"], gate, epochs)
    return FeatureNetwork(model, dataset=name, seed=seed, accuracy=info["accuracy"], path=path, info=info)
  if cached != "absent":
    _log.warning("feature network cache %s not used (%s): retraining it.", path, cached)

  start = time.perf_counter()
  model = _train(cfg, ds, seed=seed, epochs=epochs, progress=progress)
  seconds = time.perf_counter() - start
  net = FeatureNetwork(model, dataset=name, seed=seed, accuracy=float("nan"), path=path, info={})
  accuracy = float(np.mean(np.argmax(net.log_probs(ds.test), axis=1) == ds.test_labels))
  if gate is not None and accuracy < gate:
    raise _gate_error(name, seed, accuracy, gate, epochs)
  info = {
      **expected, "accuracy": accuracy, "gate": gate, "seconds": round(seconds, 1), "num_train": ds.num_train,
      "num_test": ds.num_test, "data_sha256": fingerprint, "versions": _library_versions(),
      "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
  }
  net.info = _save_cache(path, model, info)
  net.accuracy = accuracy
  if progress:
    print(f"LeNet {name} seed {seed}: test accuracy {accuracy:.2%} after {epochs} epochs ({seconds:.0f} s), "
          f"cached in {path}", file=sys.stderr)
  return net


def _check_labelled(ds: data_lib.ImageDataset) -> None:
  if ds.train_labels is None or ds.test_labels is None or not ds.num_classes:
    raise ValueError(f"{ds.name} has no class labels (train, test and num_classes): a feature network is a classifier.")


def _cached_config(path: str) -> LeNetConfig | None:
  """The default ``LeNetConfig`` for the image shape and class count in a cache's info.json, or None."""
  try:
    with open(os.path.join(path, _INFO_FILE)) as f:
      model = json.load(f)["model"]
    return LeNetConfig.for_images(tuple(int(d) for d in model["image_shape"]), int(model["num_classes"]))
  except (OSError, ValueError, KeyError, TypeError):
    return None
