"""Latent optimisation: the z that makes a frozen generator rebuild given images, many images at once.

Age-cGAN's step 2 (Antipov et al. 2017, Section 2.3): starting from the
encoder's z0 = E(x), find z* = argmin_z L(x, G(z, y0)) with G frozen, where L
is the pixel-wise distance or the distance between face-recognition
embeddings ("identity-preserving"). The images' problems are independent:
:func:`optimize_latents` solves a batch of them in one program by Adam on
the sum of their losses (the gradient of the sum with respect to row b of z
is that of loss b alone, and Adam's steps are per coordinate, so every row
follows its own optimisation exactly as if it were alone).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

# loss_fn(z, data) -> (B,): loss b depends on row b of z (and of data) only.
LatentLoss = Callable[[jax.Array, Any], jax.Array]


def _check(name: str, value, *, integer: bool, minimum: float, strict: bool) -> None:
  bad = isinstance(value, bool) or (integer and int(value) != value)
  if bad or not (value > minimum if strict else value >= minimum):
    kind = "an integer" if integer else "a number"
    raise ValueError(f"{name} must be {kind} {'>' if strict else '>='} {minimum:g}, got {value!r}")


def optimize_latents(
    loss_fn: LatentLoss,
    z0,
    data: Any = None,
    *,
    steps: int,
    learning_rate: float = 0.05,
    prior_weight: float = 0.0,
    steps_per_call: int = 10,
    progress: bool = False,
    description: str = "latents",
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
  """z* = argmin_z [loss_fn(z, data)_b + prior_weight ||z_b||^2 / 2] for every row b, by Adam from ``z0``.

  The prior term is the negative log-density of N(0, I) up to a constant:
  it keeps z where G was trained (a z far outside the prior rebuilds x
  with an image G never learnt to draw well, and re-ages it badly).

  Args:
    loss_fn: ``loss_fn(z, data) -> (B,)`` per-image losses, loss b a function
      of row b of z and of ``data`` alone (networks in inference mode: no
      batch statistics); traced once.
    z0: the starting latents (B, latent_dim).
    data: a pytree of arrays ``loss_fn`` reads (the targets, the frozen
      networks' states); passed as an argument, not baked into the program.
    steps: Adam steps.
    learning_rate: Adam's step size.
    prior_weight: weight of ||z||^2 / 2 (0: none).
    steps_per_call: steps unrolled into one compiled call (XLA's CPU backend
      runs convolutions inside a loop body several times slower, as
      ``jaxgen.train.make_multi_step`` notes); the last call takes the rest.
    progress: show a progress bar.
    description: its label.

  Returns:
    ``(z_star, history)``: the latents (B, latent_dim) as a numpy array, and
    ``history`` with ``"loss"``, the per-image objective (B,) at z0 and after
    every call (calls + 1, B), and ``"step"``, the step of each row.
  """
  _check("steps", steps, integer=True, minimum=0, strict=False)
  _check("steps_per_call", steps_per_call, integer=True, minimum=0, strict=True)
  _check("learning_rate", learning_rate, integer=False, minimum=0, strict=True)
  _check("prior_weight", prior_weight, integer=False, minimum=0, strict=False)
  z = jnp.asarray(z0, jnp.float32)
  if z.ndim != 2:
    raise ValueError(f"z0 must be latents (B, latent_dim), got shape {tuple(z.shape)}")
  tx = optax.adam(learning_rate)

  def objective(z, data):
    per_image = loss_fn(z, data) + 0.5 * prior_weight * jnp.sum(jnp.square(z), axis=-1)
    return jnp.sum(per_image), per_image

  def chunk(z, opt_state, data, k):
    for _ in range(k):  # unrolled, straight-line code
      grads, _ = jax.grad(objective, has_aux=True)(z, data)
      updates, opt_state = tx.update(grads, opt_state, z)
      z = optax.apply_updates(z, updates)
    return z, opt_state, objective(z, data)[1]

  shape = jax.eval_shape(loss_fn, z, data).shape
  if shape != (z.shape[0],):
    raise ValueError(f"loss_fn must return one loss per row of z, shape ({z.shape[0]},), got {tuple(shape)}")
  run = jax.jit(chunk, static_argnums=3)
  first = jax.jit(lambda z, data: objective(z, data)[1])(z, data)
  history, done = [np.asarray(first)], [0]
  opt_state = tx.init(z)
  with tqdm(total=steps, desc=description, disable=not progress, dynamic_ncols=True) as bar:
    while done[-1] < steps:
      k = min(steps_per_call, steps - done[-1])
      z, opt_state, losses = run(z, opt_state, data, k)
      history.append(np.asarray(losses))
      done.append(done[-1] + k)
      bar.set_postfix(loss=f"{float(np.mean(history[-1])):.4g}")
      bar.update(k)
  return np.asarray(z), {"loss": np.stack(history), "step": np.asarray(done)}
