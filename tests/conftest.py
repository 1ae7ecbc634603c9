"""Test-wide JAX settings.

Eight CPU devices let the sharding tests build a real mesh on one machine;
rank promotion raises so silent broadcasting bugs fail loudly.
"""

import os

# Must be set before jax is imported anywhere.
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
os.environ.setdefault("TFDS_DATA_DIR", os.path.join(os.path.dirname(__file__), ".tfds_unused"))

import jax  # noqa: E402

jax.config.update("jax_numpy_rank_promotion", "raise")
