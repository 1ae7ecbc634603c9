"""Compute dtype of the models: matmuls and convolutions in bfloat16, parameters and losses in float32.

Every model config has ``compute_dtype`` ('float32', the default, or
'bfloat16'). With 'bfloat16' each layer casts its input and its float32
parameters to bfloat16 and computes in it (Flax's ``dtype=`` of ``nnx.Linear``,
``nnx.Conv``, ``nnx.BatchNorm``; BatchNorm still reduces its statistics in
float32). The networks' outputs (logits, Gaussian parameters, images) are cast
back to float32, so losses, the KL term, the reparameterization and the
optimizer all run in float32, and the parameters, their gradients and the
checkpoints are float32 whichever dtype computed them: a checkpoint trained in
bfloat16 loads into a float32 model and the other way round.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

COMPUTE_DTYPES = ("float32", "bfloat16")


def check_compute_dtype(name: str) -> str:
  """Returns ``name`` if it is a supported compute dtype, else raises a ValueError naming the choices."""
  if name not in COMPUTE_DTYPES:
    raise ValueError(f"unknown compute_dtype {name!r}; choose one of {', '.join(COMPUTE_DTYPES)}.")
  return name


def compute_dtype(name: str) -> jnp.dtype:
  """The ``dtype=`` that the layers of a model computing in ``name`` get."""
  return jnp.dtype(check_compute_dtype(name))


def to_float32(x: jax.Array) -> jax.Array:
  """A network output cast to float32 (no-op in float32), so losses never run in bfloat16."""
  return x.astype(jnp.float32)
