"""Runs the Example sections of the public docstrings, so the documentation cannot drift."""

import doctest

import pytest

import jaxgen.losses._divergences
import jaxgen.losses._elbo
import jaxgen.losses._gan
import jaxgen.losses._likelihoods
import jaxgen.losses._penalties
import jaxgen.metrics._summary
import jaxgen.nn._augment
import jaxgen.nn._spectral
import jaxgen.objectives._gan
import jaxgen.objectives._translation
import jaxgen.random

MODULES = [
    jaxgen.losses._divergences,
    jaxgen.losses._elbo,
    jaxgen.losses._gan,
    jaxgen.losses._likelihoods,
    jaxgen.losses._penalties,
    jaxgen.metrics._summary,
    jaxgen.nn._augment,
    jaxgen.nn._spectral,
    jaxgen.objectives._gan,
    jaxgen.objectives._translation,
    jaxgen.random,
]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_docstring_examples(module):
  result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
  assert result.attempted > 0, f"{module.__name__} has no examples"
  assert result.failed == 0
