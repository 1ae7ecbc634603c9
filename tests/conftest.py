"""Test-wide JAX settings.

Eight CPU devices let the sharding tests build a real mesh on one machine;
rank promotion raises so silent broadcasting bugs fail loudly. The tests'
programs are tiny and compiled once each, so LLVM's optimisation passes are
skipped (``--xla_backend_optimization_level=0``): compiling is most of the
suite's time, and the StyleGAN2 smoke run's compilations take half as long
(measured 112 s -> 58 s on one core). Benchmarks and experiments keep the
default.
"""

import os

# Must be set before jax is imported anywhere.
_FLAGS = ("--xla_force_host_platform_device_count=8", "--xla_backend_optimization_level=0")
_user_flags = os.environ.get("XLA_FLAGS", "")
os.environ["XLA_FLAGS"] = " ".join([_user_flags, *(f for f in _FLAGS if f.split("=")[0] not in _user_flags)]).strip()
os.environ.setdefault("TFDS_DATA_DIR", os.path.join(os.path.dirname(__file__), ".tfds_unused"))

import jax  # noqa: E402

jax.config.update("jax_numpy_rank_promotion", "raise")
