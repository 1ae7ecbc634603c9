"""Evaluation metrics of generative models."""

from jaxgen.metrics._parzen import parzen_log_density
from jaxgen.metrics._parzen import parzen_log_likelihood
from jaxgen.metrics._parzen import parzen_select_sigma
from jaxgen.metrics._modes import GaussianMixture2D
from jaxgen.metrics._modes import grid_modes
from jaxgen.metrics._modes import mode_metrics
from jaxgen.metrics._modes import ring_modes
from jaxgen.metrics._likelihood import LatentVariableModel
from jaxgen.metrics._likelihood import evaluate_elbo
from jaxgen.metrics._likelihood import iwae_log_likelihood
