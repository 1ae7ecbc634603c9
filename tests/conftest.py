"""Test-wide JAX settings.

Eight CPU devices let the sharding tests build a real mesh on one machine;
rank promotion raises so silent broadcasting bugs fail loudly. The tests'
programs are tiny and compiled once each, so LLVM's optimisation passes are
mostly skipped (``--xla_backend_optimization_level=1``): compiling is most
of the suite's time, and the StyleGAN2 smoke run takes 72 s instead of 112 s
on one core (level 0 would give 58 s, but it rounds jitted and eager code
differently, which some tests compare bit for bit). Benchmarks and
experiments keep XLA's default.
"""

import os

# Must be set before jax is imported anywhere.
_FLAGS = ("--xla_force_host_platform_device_count=8", "--xla_backend_optimization_level=1")
_user_flags = os.environ.get("XLA_FLAGS", "")
os.environ["XLA_FLAGS"] = " ".join([_user_flags, *(f for f in _FLAGS if f.split("=")[0] not in _user_flags)]).strip()
os.environ.setdefault("TFDS_DATA_DIR", os.path.join(os.path.dirname(__file__), ".tfds_unused"))

import jax  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture(scope="session")
def feature_network_cache(tmp_path_factory) -> str:
  """A folder of trained feature networks shared by the experiments' smoke runs: each LeNet trains once a worker."""
  return str(tmp_path_factory.mktemp("feature_networks"))
