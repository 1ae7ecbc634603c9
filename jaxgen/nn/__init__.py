"""Neural-network layers: Flax's convolutions with a CPU-fast implementation option, spectral norm, DiffAugment.

``Conv`` and ``ConvTranspose`` have exactly the parameters of ``nnx.Conv`` and
``nnx.ConvTranspose`` (checkpoints are interchangeable) and compute the same
function; ``impl`` chooses how: ``"xla"`` (Flax's call), ``"cpu_fast"``
(strided and transposed convolutions rewritten as stride-1 convolutions) or
``"auto"`` (``cpu_fast`` on the CPU backend).

``SpectralNorm`` wraps a layer and calls it with W / sigma(W) while its stored
parameter stays the raw W (``u`` is an ``nnx.BatchStat``); ``diff_augment``
is DiffAugment's random colour / translation / cutout, differentiable in the
images.
"""

from jaxgen.nn._augment import DIFF_AUGMENT_POLICIES as DIFF_AUGMENT_POLICIES
from jaxgen.nn._augment import diff_augment as diff_augment
from jaxgen.nn._conv import IMPLS as IMPLS
from jaxgen.nn._conv import Conv as Conv
from jaxgen.nn._conv import ConvTranspose as ConvTranspose
from jaxgen.nn._functional import conv_padding as conv_padding
from jaxgen.nn._functional import conv_patches as conv_patches
from jaxgen.nn._functional import conv_space_to_depth as conv_space_to_depth
from jaxgen.nn._functional import conv_transpose_padding as conv_transpose_padding
from jaxgen.nn._functional import conv_transpose_subpixel as conv_transpose_subpixel
from jaxgen.nn._functional import conv_transpose_subpixel_fused as conv_transpose_subpixel_fused
from jaxgen.nn._functional import conv_transpose_xla as conv_transpose_xla
from jaxgen.nn._functional import conv_xla as conv_xla
from jaxgen.nn._functional import conv_xla_s2d_grad as conv_xla_s2d_grad
from jaxgen.nn._spectral import SpectralNorm as SpectralNorm
from jaxgen.nn._spectral import spectral_norm_estimate as spectral_norm_estimate
