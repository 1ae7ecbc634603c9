"""Decay schedules of the exponential moving average of a network's weights.

A schedule is ``decay(step) -> float32 scalar`` (traced inside the train step);
``run_training(ema_decay=...)`` takes one, or a float for a constant decay.
The average is updated after every step as ``e <- d e + (1 - d) w``.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

EmaSchedule = Callable[[jax.Array], jax.Array]


def _check_decay(decay: float) -> float:
  decay = float(decay)
  if not 0.0 <= decay < 1.0:
    raise ValueError(f"ema_decay must be in [0, 1), got {decay}: 0.999 is typical")
  return decay


def ema_constant(decay: float) -> EmaSchedule:
  """``d(step) = decay`` for every step."""
  decay = _check_decay(decay)
  return lambda step: jnp.asarray(decay, jnp.float32)


def ema_start(decay: float, start_step: int) -> EmaSchedule:
  """``d = 0`` (the average copies the weights) before ``start_step``, ``decay`` from then on.

  BigGAN (Brock et al. 2019, Appendix C) starts its generator EMA after 20k
  iterations: early weights, far from the final ones, never enter the average.
  """
  decay = _check_decay(decay)
  if int(start_step) < 0:
    raise ValueError(f"ema start_step must be >= 0, got {start_step}")
  return lambda step: jnp.where(step >= start_step, jnp.float32(decay), jnp.float32(0.0))


def ema_rampup(half_life_examples: float, batch_size: int, rampup: float | None = 0.05) -> EmaSchedule:
  """StyleGAN2's schedule: a half-life in examples, ramped up with the examples seen.

  ``h = min(half_life_examples, rampup * examples_seen)`` and
  ``d = 0.5 ** (batch_size / h)`` (Karras et al. 2020, stylegan2-ada-pytorch
  ``training_loop.py``: ``ema_kimg`` and ``ema_rampup``). Early in training,
  when the weights move fast, the average forgets fast.

  Args:
    half_life_examples: examples after which an old weight's share halves
      (``ema_kimg * 1000`` of the reference: 10k at batch 32).
    batch_size: examples per step.
    rampup: fraction of the examples seen used as the half-life early on;
      ``None`` for a constant half-life.
  """
  if half_life_examples <= 0 or batch_size < 1:
    raise ValueError(f"ema_rampup needs half_life_examples > 0 and batch_size >= 1, got {half_life_examples}, {batch_size}")

  def decay(step):
    h = jnp.float32(half_life_examples)
    if rampup is not None:
      h = jnp.minimum(h, (step.astype(jnp.float32) + 1.0) * batch_size * rampup)
    return jnp.power(jnp.float32(0.5), batch_size / jnp.maximum(h, 1e-8))

  return decay


def as_schedule(ema_decay: float | EmaSchedule | None) -> EmaSchedule | None:
  """A schedule from a float (constant decay), a schedule, or ``None``."""
  if ema_decay is None or callable(ema_decay):
    return ema_decay
  return ema_constant(ema_decay)
