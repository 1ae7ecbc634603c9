"""Implementations of jaxgen's models in other frameworks, timed beside jaxgen by ``benchmarks.step``."""
