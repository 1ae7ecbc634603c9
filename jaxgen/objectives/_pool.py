"""A history of generated images for the discriminator (Shrivastava et al. 2017; CycleGAN).

The discriminator is trained on a mix of the newest fakes and older ones, so
it does not forget what the generator produced a few steps ago and the two do
not oscillate. The pool is auxiliary state of the run (``ctx.aux``): arrays
carried in the train state, checkpointed and restored with it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def image_pool_init(size: int, example_shape: tuple[int, ...], dtype=jnp.float32) -> dict[str, jax.Array]:
  """An empty pool of ``size`` examples of shape ``example_shape``.

  Returns:
    ``{"images": (size, *example_shape), "count": int32 scalar}``: the stored
    examples and how many of the slots are filled.
  """
  if isinstance(size, bool) or int(size) != size or size < 1:
    raise ValueError(f"image pool size must be an integer >= 1, got {size!r} (CycleGAN uses 50)")
  return {"images": jnp.zeros((int(size), *example_shape), dtype), "count": jnp.zeros((), jnp.int32)}


def image_pool_query(pool: dict[str, jax.Array], images: jax.Array, key: jax.Array):
  """Passes a batch through the pool: ``(new_pool, images for the discriminator)``.

  Example by example, in order (pytorch-CycleGAN-and-pix2pix ``util/image_pool.py``):
  while the pool is not full, the example is stored and returned; once full,
  with probability 1/2 a uniformly chosen stored example is returned and the
  new one takes its slot, otherwise the new example is returned and the pool
  is unchanged.

  Args:
    pool: from :func:`image_pool_init` (or a previous query).
    images: ``(B, *example_shape)`` newly generated examples.
    key: PRNG key of this query.

  Returns:
    The updated pool and a ``(B, *example_shape)`` batch, gradient-free (the
    discriminator's inputs; stored examples come from earlier steps).
  """
  size = pool["images"].shape[0]
  if images.shape[1:] != pool["images"].shape[1:]:
    raise ValueError(f"the pool holds examples of shape {pool['images'].shape[1:]}, got a batch of {images.shape[1:]}")
  images = jax.lax.stop_gradient(images).astype(pool["images"].dtype)
  keys = jax.random.split(key, images.shape[0])

  def one(carry, inputs):
    stored, count = carry
    image, k = inputs
    k_swap, k_slot = jax.random.split(k)
    full = count >= size
    swap = full & jax.random.bernoulli(k_swap, 0.5)
    slot = jnp.where(full, jax.random.randint(k_slot, (), 0, size), jnp.minimum(count, size - 1))
    out = jnp.where(swap, stored[slot], image)
    stored = stored.at[slot].set(jnp.where(full & ~swap, stored[slot], image))
    return (stored, jnp.where(full, count, count + 1)), out

  (stored, count), out = jax.lax.scan(one, (pool["images"], pool["count"]), (images, keys))
  return {"images": stored, "count": count}, out
