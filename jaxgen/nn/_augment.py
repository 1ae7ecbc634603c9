"""DiffAugment: random colour, translation and cutout, differentiable w.r.t. the images.

Applied to both real and generated images before the discriminator (Zhao et
al. 2020), so the generator's gradient passes through the augmentation. Every
transform is drawn independently per image from one key; the transforms
follow the reference code (``mit-han-lab/data-efficient-gans``,
``DiffAugment_pytorch.py``), on NHWC images instead of NCHW.
"""

from __future__ import annotations

import difflib

import jax
import jax.numpy as jnp


def _uniform(key: jax.Array, x: jax.Array, low: float, high: float) -> jax.Array:
  """One U(low, high) draw per image, shape (N, 1, 1, 1), in the images' dtype."""
  return jax.random.uniform(key, (x.shape[0], 1, 1, 1), x.dtype, low, high)


def _brightness(key, x, translation_ratio, cutout_ratio):
  del translation_ratio, cutout_ratio
  return x + _uniform(key, x, -0.5, 0.5)


def _saturation(key, x, translation_ratio, cutout_ratio):
  del translation_ratio, cutout_ratio
  mean = jnp.mean(x, axis=3, keepdims=True)
  return (x - mean) * _uniform(key, x, 0.0, 2.0) + mean


def _contrast(key, x, translation_ratio, cutout_ratio):
  del translation_ratio, cutout_ratio
  mean = jnp.mean(x, axis=(1, 2, 3), keepdims=True)
  return (x - mean) * _uniform(key, x, 0.5, 1.5) + mean


def _side_fraction(side: int, ratio: float) -> int:
  # The reference's rounding: int(side * ratio + 0.5).
  return int(side * ratio + 0.5)


def _translation(key, x, translation_ratio, cutout_ratio):
  """out[i, j] = x[i + dy, j + dx] inside the image, 0 where the image moved in; |dy|, |dx| <= ratio * side."""
  del cutout_ratio
  n, h, w, _ = x.shape
  max_dy, max_dx = _side_fraction(h, translation_ratio), _side_fraction(w, translation_ratio)
  key_y, key_x = jax.random.split(key)
  dy = jax.random.randint(key_y, (n, 1), -max_dy, max_dy + 1)
  dx = jax.random.randint(key_x, (n, 1), -max_dx, max_dx + 1)
  # Source rows/columns in the image padded by one zero on each side; out-of-range ones land on the zeros.
  rows = jnp.clip(jnp.arange(h)[None, :] + dy + 1, 0, h + 1)
  cols = jnp.clip(jnp.arange(w)[None, :] + dx + 1, 0, w + 1)
  padded = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
  return jax.vmap(lambda image, r, c: image[r[:, None], c[None, :]])(padded, rows, cols)


def _cutout(key, x, translation_ratio, cutout_ratio):
  """Zeroes a (ratio * H) x (ratio * W) rectangle centred anywhere in the image, clipped at its border."""
  del translation_ratio
  n, h, w, _ = x.shape
  size_y, size_x = _side_fraction(h, cutout_ratio), _side_fraction(w, cutout_ratio)
  key_y, key_x = jax.random.split(key)
  # The reference's centre range: [0, side - 1] for an odd size, [0, side] for an even one.
  centre_y = jax.random.randint(key_y, (n, 1), 0, h + 1 - size_y % 2)
  centre_x = jax.random.randint(key_x, (n, 1), 0, w + 1 - size_x % 2)
  top, left = centre_y - size_y // 2, centre_x - size_x // 2
  rows = jnp.arange(h)[None, :]
  cols = jnp.arange(w)[None, :]
  in_rows = (rows >= top) & (rows < top + size_y)
  in_cols = (cols >= left) & (cols < left + size_x)
  keep = ~(in_rows[:, :, None] & in_cols[:, None, :])
  return x * keep[..., None].astype(x.dtype)


_TRANSFORMS = {
    "brightness": _brightness,
    "saturation": _saturation,
    "contrast": _contrast,
    "translation": _translation,
    "cutout": _cutout,
}

# Policy name -> the transforms it applies, in order. "color" is the reference's
# group; its three parts are also available alone.
_POLICIES = {
    "color": ("brightness", "saturation", "contrast"),
    "translation": ("translation",),
    "cutout": ("cutout",),
    "brightness": ("brightness",),
    "saturation": ("saturation",),
    "contrast": ("contrast",),
}
DIFF_AUGMENT_POLICIES = tuple(_POLICIES)


def _transforms(policy: str) -> list[str]:
  names = [name.strip() for name in policy.split(",") if name.strip()]
  transforms = []
  for name in names:
    if name not in _POLICIES:
      close = difflib.get_close_matches(name, DIFF_AUGMENT_POLICIES, n=1)
      hint = f" Did you mean '{close[0]}'?" if close else ""
      raise ValueError(f"unknown DiffAugment policy '{name}'.{hint} Known policies: "
                       f"{', '.join(DIFF_AUGMENT_POLICIES)} (comma-separated, e.g. 'color,translation,cutout')")
    transforms.extend(_POLICIES[name])
  return transforms


def diff_augment(key: jax.Array, x: jax.Array, policy: str = "color,translation,cutout", *,
                 translation_ratio: float = 0.125, cutout_ratio: float = 0.5) -> jax.Array:
  r"""T(x) for a random differentiable T per image, composed from ``policy``.

  Per image, with independent draws:

  - ``color``: brightness x + b, b ~ U(-0.5, 0.5); then saturation
    (x - m_c) s + m_c, s ~ U(0, 2), m_c the mean over channels at each pixel;
    then contrast (x - m) c + m, c ~ U(0.5, 1.5), m the image's mean over
    H, W, C. (``brightness``, ``saturation``, ``contrast`` apply one part.)
  - ``translation``: out[i, j] = x[i + dy, j + dx], integers
    |dy| <= round(ratio H), |dx| <= round(ratio W), zero where the image moved
    in.
  - ``cutout``: zero a round(ratio H) x round(ratio W) rectangle whose centre
    is uniform over the image, clipped at the border (the reference's
    choice, so near an edge less than the full rectangle is cut).

  ``round(a)`` is ``int(a + 0.5)``, as in the reference code. Each is a
  function of x that is linear (translation, cutout) or affine in x, so
  gradients flow to x (to the generator when x = G(z)). The policy is
  parsed in Python: under ``jax.jit`` pass it as a static argument.

  Args:
    key: PRNG key; the same key gives the same augmentation.
    x: float images, shape ``(N, H, W, C)``, any range (a brightness shift of
      up to 0.5 suits images in [-1, 1] or [0, 1]).
    policy: comma-separated names from :data:`DIFF_AUGMENT_POLICIES`, applied
      in order; ``""`` is the identity.
    translation_ratio: largest shift as a fraction of the side.
    cutout_ratio: cut side as a fraction of the image side.

  Returns:
    Augmented images, the shape and dtype of ``x``.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> x = jnp.zeros((4, 28, 28, 1))
    >>> diff_augment(jax.random.key(0), x).shape
    (4, 28, 28, 1)

  References:
    Zhao et al., "Differentiable Augmentation for Data-Efficient GAN
    Training", NeurIPS 2020, Sec. 3 (color + translation + cutout); reference
    code ``mit-han-lab/data-efficient-gans``, ``DiffAugment_pytorch.py``.
  """
  transforms = _transforms(policy)
  x = jnp.asarray(x)
  if x.ndim != 4:
    raise ValueError(f"diff_augment takes images of shape (N, H, W, C), got shape {x.shape}")
  if not jnp.issubdtype(x.dtype, jnp.floating):
    raise ValueError(f"diff_augment takes float images, got dtype {x.dtype}; convert them first")
  if not transforms:
    return x
  for name, sub in zip(transforms, jax.random.split(key, len(transforms))):
    x = _TRANSFORMS[name](sub, x, translation_ratio, cutout_ratio)
  return x
