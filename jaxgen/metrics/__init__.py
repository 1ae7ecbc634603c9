"""Evaluation metrics of generative models."""

from jaxgen.metrics._parzen import parzen_log_density
from jaxgen.metrics._parzen import parzen_log_likelihood
from jaxgen.metrics._parzen import parzen_select_sigma
