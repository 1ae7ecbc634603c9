"""This machine's matmul peak, measured: the yardstick of "fraction of peak".

A float32 ``n x n`` matrix product costs ``2 n^3`` FLOPs. We time a jitted
chain of products (enough of them that dispatch is negligible) and keep the
best of several repeats: the best run is the one least disturbed by other
processes, and the achievable peak is what we want to compare against.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np


def measure_matmul_peak(n: int = 2048, *, chain: int = 4, repeats: int = 5, dtype=jnp.float32) -> dict:
  """Best achieved FLOP/s of ``chain`` dependent ``n x n`` products on the default device.

  Args:
    n: matrix side.
    chain: products per timed call (each depends on the previous, so XLA
      cannot drop or merge them).
    repeats: timed calls; the best is reported.
    dtype: element type of the matrices.

  Returns:
    ``{"n", "dtype", "flops_per_s" (best), "samples_flops_per_s" (every repeat), "device_kind"}``.
  """
  keys = jax.random.split(jax.random.key(0), 2)
  # Scaled so that repeated products neither overflow nor vanish.
  a = jax.random.normal(keys[0], (n, n), dtype) / np.sqrt(n)
  b = jax.random.normal(keys[1], (n, n), dtype)

  @jax.jit
  def products(a, b):
    for _ in range(chain):
      b = a @ b
    return b

  jax.block_until_ready(products(a, b))  # compile and warm up
  flops = 2.0 * n**3 * chain
  samples = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(products(a, b))
    samples.append(flops / (time.perf_counter() - t0))
  return {
      "n": n,
      "dtype": jnp.dtype(dtype).name,
      "flops_per_s": max(samples),
      "samples_flops_per_s": samples,
      "device_kind": jax.devices()[0].device_kind,
  }
