"""Evaluation metrics of generative models: likelihood bounds, Parzen windows, mode coverage."""

from jaxgen.metrics._classifier import DEFAULT_CACHE_DIR
from jaxgen.metrics._classifier import FEATURE_NETWORK_GATES
from jaxgen.metrics._classifier import FeatureNetwork
from jaxgen.metrics._classifier import feature_network
from jaxgen.metrics._likelihood import LatentVariableModel
from jaxgen.metrics._likelihood import evaluate_elbo
from jaxgen.metrics._likelihood import iwae_log_likelihood
from jaxgen.metrics._modes import GaussianMixture2D
from jaxgen.metrics._modes import grid_modes
from jaxgen.metrics._modes import mode_metrics
from jaxgen.metrics._modes import ring_modes
from jaxgen.metrics._parzen import parzen_log_density
from jaxgen.metrics._path_length import perceptual_path_length
from jaxgen.metrics._path_length import slerp
from jaxgen.metrics._parzen import parzen_log_likelihood
from jaxgen.metrics._parzen import parzen_select_sigma
from jaxgen.metrics._sample_quality import classifier_accuracy
from jaxgen.metrics._sample_quality import classifier_score
from jaxgen.metrics._sample_quality import density_coverage
from jaxgen.metrics._sample_quality import frechet_distance
from jaxgen.metrics._sample_quality import frechet_distance_from_moments
from jaxgen.metrics._sample_quality import kernel_inception_distance
from jaxgen.metrics._sample_quality import precision_recall
from jaxgen.metrics._subset import random_subset
from jaxgen.metrics._summary import intra_class_diversity
from jaxgen.metrics._summary import sample_quality

__all__ = [
    "DEFAULT_CACHE_DIR",
    "FEATURE_NETWORK_GATES",
    "FeatureNetwork",
    "GaussianMixture2D",
    "LatentVariableModel",
    "classifier_accuracy",
    "classifier_score",
    "density_coverage",
    "evaluate_elbo",
    "feature_network",
    "frechet_distance",
    "frechet_distance_from_moments",
    "grid_modes",
    "intra_class_diversity",
    "iwae_log_likelihood",
    "kernel_inception_distance",
    "mode_metrics",
    "parzen_log_density",
    "perceptual_path_length",
    "parzen_log_likelihood",
    "parzen_select_sigma",
    "precision_recall",
    "random_subset",
    "slerp",
    "ring_modes",
    "sample_quality",
]
