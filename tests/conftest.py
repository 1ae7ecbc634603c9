"""Test-wide JAX settings.

Eight CPU devices let the sharding tests build a real mesh on one machine;
rank promotion raises so silent broadcasting bugs fail loudly. The tests'
programs are tiny and compiled once each, so LLVM's optimisation passes are
mostly skipped (``--xla_backend_optimization_level=1``): compiling is most
of the suite's time, and the StyleGAN2 smoke run takes 72 s instead of 112 s
on one core (level 0 would give 58 s, but it rounds jitted and eager code
differently, which some tests compare bit for bit). Benchmarks and
experiments keep XLA's default. Many tests compile a program another test
(or the same experiment's next seed, a resumed run, a CLI in a subprocess)
has compiled already: one persistent compilation cache, made by pytest's
main process and inherited by its xdist workers and their subprocesses,
serves them all (the loss study's smoke run: 51 s -> 38 s with an empty
cache) and is removed at the end.
"""

import os
import shutil
import tempfile

# Must be set before jax is imported anywhere.
_FLAGS = ("--xla_force_host_platform_device_count=8", "--xla_backend_optimization_level=1")
_user_flags = os.environ.get("XLA_FLAGS", "")
os.environ["XLA_FLAGS"] = " ".join([_user_flags, *(f for f in _FLAGS if f.split("=")[0] not in _user_flags)]).strip()
_OWN_CACHE = "JAX_COMPILATION_CACHE_DIR" not in os.environ
if _OWN_CACHE:
  os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="jaxgen-tests-xla-cache-")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
os.environ.setdefault("TFDS_DATA_DIR", os.path.join(os.path.dirname(__file__), ".tfds_unused"))

import jax  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture(scope="session")
def feature_network_cache(tmp_path_factory) -> str:
  """A folder of trained feature networks shared by the experiments' smoke runs: each LeNet trains once a worker."""
  return str(tmp_path_factory.mktemp("feature_networks"))


def pytest_sessionfinish(session):
  # Workers (they have ``workerinput``) inherited the folder; the process that made it removes it.
  if _OWN_CACHE and not hasattr(session.config, "workerinput"):
    shutil.rmtree(os.environ["JAX_COMPILATION_CACHE_DIR"], ignore_errors=True)
