"""Penalties on the input gradients of a GAN's critic or discriminator, and on its weights.

Each penalty takes the critic as a function, ``critic(x) -> outputs``, mapping
a batch of shape ``(B, ...)`` to one raw output per example, shape ``(B,)``,
and returns one penalty per example; the caller weights and averages them.
They are pure functions of the critic and the arrays, so they work under
``jax.jit`` (close over the critic, or mark it static) and inside
``jax.grad``: the discriminator's update differentiates them again with
respect to the critic's parameters (closed over in ``critic``).

The per-example input gradients come from one backward pass of the summed
outputs, grad_x sum_i critic(x)_i, whose row i is grad_{x_i} critic(x)_i only
when output i depends on input i alone: not for a critic with cross-example
coupling (BatchNorm in train mode, minibatch discrimination, PacGAN packing).

The orthogonal regularization of BigGAN is a penalty on the weights instead:
:func:`orthogonal_regularization` takes one weight, and
:func:`orthogonal_regularization_tree` sums it over a parameter pytree; both
return a scalar, added once to the loss of the network they regularize.
"""

import difflib
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp

from jaxgen.losses._divergences import _check_floats, _check_same_shape

Critic = Callable[[jax.Array], jax.Array]


def _as_batch(fn: str, name: str, x: jax.Array) -> jax.Array:
  """``x`` as a float array with a leading batch axis (a gradient w.r.t. integers is undefined)."""
  x = jnp.asarray(x)
  _check_floats(fn, name, x, "float inputs (scale images to [0, 1] floats first)")
  if x.ndim < 1:
    raise ValueError(f"{fn}: {name} has shape (): pass a batch of examples, shape (B, ...).")
  return x


def _input_gradients(fn: str, critic_name: str, critic: Critic, x: jax.Array) -> jax.Array:
  """grad_x sum_i critic(x)_i, shape of ``x``: row i is example i's input gradient (no coupling)."""
  out, pullback = jax.vjp(critic, x)
  expected = x.shape[:1]
  if not isinstance(out, jax.Array):
    raise ValueError(
        f"{fn}: {critic_name} returned a {type(out).__name__}; it must return one array of outputs, shape "
        f"{expected} (wrap a network returning (logits, class_logits) as lambda x: net(x)[0])."
    )
  if out.shape != expected:
    raise ValueError(
        f"{fn}: {critic_name} returned shape {out.shape} for inputs of shape {x.shape}; it must return one "
        f"output per example, shape {expected} (squeeze a trailing axis of size 1)."
    )
  _check_floats(fn, f"{critic_name}(x)", out, "a critic with float outputs")
  (grad,) = pullback(jnp.ones_like(out))
  return grad


def _squared_norm(grad: jax.Array) -> jax.Array:
  """||grad_i||_2^2 over all non-batch axes, shape ``(B,)``."""
  return jnp.sum(jnp.square(grad), axis=tuple(range(1, grad.ndim)))


def _safe_norm(grad: jax.Array) -> jax.Array:
  """||grad_i||_2 over all non-batch axes, with a finite (zero) gradient where grad_i = 0."""
  squared = _squared_norm(grad)
  is_zero = squared == 0
  # Double-where: d sqrt(s) / ds = inf at s = 0 would turn the penalty's parameter gradient into nan.
  return jnp.where(is_zero, 0.0, jnp.sqrt(jnp.where(is_zero, 1.0, squared)))


def _interpolate(real: jax.Array, fake: jax.Array, key: jax.Array) -> tuple[jax.Array, jax.Array]:
  """x_hat = eps real + (1 - eps) fake, one eps ~ U[0, 1] per example; returns (x_hat, eps of shape (B,))."""
  eps = jax.random.uniform(key, real.shape[:1], dtype=real.dtype)
  eps_b = eps.reshape(eps.shape + (1,) * (real.ndim - 1))
  return eps_b * real + (1.0 - eps_b) * fake, eps


def gradient_penalty(
    critic: Critic,
    real: jax.Array,
    fake: jax.Array,
    key: jax.Array,
    *,
    target: float = 1.0,
    one_sided: bool = False,
) -> jax.Array:
  r"""(||grad_x critic(x_hat)||_2 - target)^2 at x_hat = eps x + (1 - eps) G(z), eps ~ U[0, 1].

  The WGAN-GP penalty (Gulrajani et al. 2017, eq. 3 and Algorithm 1), which
  pulls the critic's gradient norm to ``target`` (1 for a 1-Lipschitz
  critic) on random points between paired data and generated samples: one
  eps per example, broadcast over its non-batch axes. The norm is taken over
  all non-batch axes. With ``one_sided``, max(0, ||grad|| - target)^2
  penalizes only gradients steeper than ``target`` (the one-sided variant
  Gulrajani et al. discuss in Section 4; the WGAN-LP penalty of Petzka et al.
  2018). The weight lambda (10 in the paper) is the caller's.

  The per-example gradients are those of sum_i critic(x_hat)_i, valid only
  when the critic has no cross-example coupling (no BatchNorm in train mode,
  no minibatch statistics). The norm has a finite (zero) gradient where the
  input gradient is exactly 0, so the penalty can be differentiated with
  respect to the critic's parameters everywhere.

  Args:
    critic: ``critic(x) -> outputs``: a batch of shape ``(B, ...)`` to raw
      float outputs of shape ``(B,)``; its parameters are closed over.
    real: data samples x, float, shape ``(B, ...)``.
    fake: generated samples G(z), float, same shape (in the critic's update
      usually passed through ``jax.lax.stop_gradient``).
    key: PRNG key for the interpolation coefficients eps.
    target: the gradient norm the penalty pulls toward.
    one_sided: a Python bool: penalize only norms above ``target``.

  Returns:
    Per-example penalty (>= 0), shape ``(B,)``.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> w = jnp.array([3.0, 4.0])  # critic(x) = x @ w has gradient w, of norm 5, everywhere
    >>> real, fake = jnp.ones((2, 2)), jnp.zeros((2, 2))
    >>> print(gradient_penalty(lambda x: x @ w, real, fake, jax.random.key(0)))
    [16. 16.]
    >>> print(gradient_penalty(lambda x: x @ (w / 10), real, fake, jax.random.key(0), one_sided=True))
    [0. 0.]

  References:
    Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017,
    eq. 3 and Algorithm 1; Petzka, Fischer & Lukovnikov, "On the
    regularization of Wasserstein GANs", ICLR 2018 (one-sided).
  """
  real = _as_batch("gradient_penalty", "real", real)
  fake = _as_batch("gradient_penalty", "fake", fake)
  _check_same_shape("gradient_penalty", real, fake, "real", "fake")
  x_hat, _ = _interpolate(real, fake, key)
  excess = _safe_norm(_input_gradients("gradient_penalty", "critic", critic, x_hat)) - target
  if one_sided:
    excess = jnp.maximum(excess, 0.0)
  return jnp.square(excess)


def r1_penalty(discriminator: Critic, real: jax.Array) -> jax.Array:
  r"""||grad_x D(x)||_2^2 at data samples x ~ p_data.

  The R1 regularizer of Mescheder, Geiger & Nowozin (2018), eq. 9, per
  example: D is the discriminator's raw output (the logit, for the logistic
  losses), the norm is over all non-batch axes. The paper's weight gamma / 2
  is the caller's: ``d_loss + gamma / 2 * mean(r1_penalty(D, x))``. The
  per-example gradients are those of sum_i D(x)_i, valid only when D has no
  cross-example coupling (no BatchNorm in train mode).

  Args:
    discriminator: ``D(x) -> outputs``: a batch of shape ``(B, ...)`` to raw
      float outputs of shape ``(B,)``; its parameters are closed over.
    real: data samples, float, shape ``(B, ...)``.

  Returns:
    Per-example penalty (>= 0), shape ``(B,)``.

  Example:
    >>> import jax.numpy as jnp
    >>> w = jnp.array([3.0, 4.0])  # D(x) = x @ w: ||grad||^2 = ||w||^2 = 25 everywhere
    >>> print(r1_penalty(lambda x: x @ w, jnp.ones((2, 2))))
    [25. 25.]

  References:
    Mescheder, Geiger & Nowozin, "Which Training Methods for GANs do actually
    Converge?", ICML 2018, eq. 9.
  """
  real = _as_batch("r1_penalty", "real", real)
  return _squared_norm(_input_gradients("r1_penalty", "discriminator", discriminator, real))


def path_lengths(synthesis: Callable[[jax.Array], jax.Array], ws: jax.Array, key: jax.Array) -> jax.Array:
  r"""||J_w^T y||_2 per example, y ~ N(0, I) / sqrt(H W): StyleGAN2's path lengths.

  J_w is the Jacobian of the image g(w) = ``synthesis(ws)`` with respect to
  its styles (Karras et al. 2020, Section 3.2, eq. 4); with ws of shape
  (B, num_ws, w_dim) the squared norm is summed over w_dim and averaged over
  the num_ws copies before the root (``pl_lengths`` of ``loss.py`` in
  NVlabs/stylegan2-ada-pytorch). One forward pass and one backward pass (a
  vector-Jacobian product); the regulariser is E(||J_w^T y|| - a)^2, a the
  running mean of these lengths, kept by the caller. Every example's image
  must depend on its own ws alone.

  Args:
    synthesis: ``synthesis(ws) -> images`` (B, H, W, C), its parameters and
      noise inputs closed over (the same noise in the forward and backward).
    ws: styles, float, (B, num_ws, w_dim) (or (B, w_dim)).
    key: draws y.

  Returns:
    The lengths, shape (B,).

  Example:
    >>> import jax, jax.numpy as jnp
    >>> lengths = path_lengths(lambda w: w[:, :, None, None] * jnp.ones((1, 1, 4, 4)), jnp.zeros((2, 1)),
    ...                        jax.random.key(0))  # J^T y = sum of y / 4
    >>> lengths.shape
    (2,)

  References:
    Karras, Laine, Aittala, Hellsten, Lehtinen, Aila, "Analyzing and
    Improving the Image Quality of StyleGAN", CVPR 2020, Section 3.2 and
    Appendix B (y scaled by 1 / sqrt(pixels)).
  """
  ws = _as_batch("path_lengths", "ws", ws)
  images, pullback = jax.vjp(synthesis, ws)
  if images.ndim != 4 or images.shape[0] != ws.shape[0]:
    raise ValueError(f"path_lengths: synthesis must return images (B, H, W, C) for ws of shape {ws.shape}, "
                     f"got shape {images.shape}")
  y = jax.random.normal(key, images.shape, images.dtype) / jnp.sqrt(images.shape[1] * images.shape[2])
  (grads,) = pullback(y)
  squared = jnp.square(grads).reshape(grads.shape[0], -1, grads.shape[-1]).sum(-1).mean(-1)
  is_zero = squared == 0  # a finite gradient where a length is 0, as in _safe_norm
  return jnp.where(is_zero, 0.0, jnp.sqrt(jnp.where(is_zero, 1.0, squared)))


def r2_penalty(discriminator: Critic, fake: jax.Array) -> jax.Array:
  r"""||grad_x D(x)||_2^2 at generated samples x = G(z) ~ p_g.

  The R2 regularizer of Mescheder, Geiger & Nowozin (2018), eq. 10: R1 at
  the generator's samples instead of the data. The weight gamma / 2 is the
  caller's, and the same no-coupling condition on D applies (see
  :func:`r1_penalty`).

  Args:
    discriminator: ``D(x) -> outputs``: a batch of shape ``(B, ...)`` to raw
      float outputs of shape ``(B,)``; its parameters are closed over.
    fake: generated samples, float, shape ``(B, ...)``.

  Returns:
    Per-example penalty (>= 0), shape ``(B,)``.

  Example:
    >>> import jax.numpy as jnp
    >>> print(r2_penalty(lambda x: jnp.sum(x**2, axis=1), jnp.array([[1.0, 0.0], [0.0, 0.5]])))  # ||2 x||^2
    [4. 1.]

  References:
    Mescheder, Geiger & Nowozin, "Which Training Methods for GANs do actually
    Converge?", ICML 2018, eq. 10.
  """
  fake = _as_batch("r2_penalty", "fake", fake)
  return _squared_norm(_input_gradients("r2_penalty", "discriminator", discriminator, fake))


def orthogonal_regularization(w: jax.Array, beta: float = 1e-4, *, row_axis: int = -1) -> jax.Array:
  r"""(beta / 2) ||W W^T ⊙ (1 - I)||_F^2, W = the weight as a matrix with one row per output unit.

  BigGAN's modified orthogonal regularization (Brock et al. 2019, Section
  3.1, eq. 3): the squared off-diagonal entries of the Gram matrix of the
  rows of W, i.e. the pairwise inner products of the filters. The mask
  1 - I (``1`` the all-ones matrix) drops the diagonal, so only the filters'
  directions are pushed apart, never their norms: a W whose rows are
  orthogonal, of any lengths, has penalty 0.

  W is ``w`` with axis ``row_axis`` moved first and the other axes
  flattened, shape ``(rows, fan_in)``; the column order does not matter, as
  W W^T is unchanged by permuting columns. The default ``row_axis=-1`` is the
  output axis of Flax's layouts, so W = ``w.reshape(-1, out).T``:
  ``nnx.Linear`` ``kernel`` ``(in, out)``, ``nnx.Conv`` ``kernel``
  ``(kh, kw, in, out)``. That is the matrix the reference code regularizes,
  ``param.view(param.shape[0], -1)`` on PyTorch's ``(out, in)`` and
  ``(out, in, kh, kw)``. An ``nnx.Embed`` table ``(num, features)`` has the
  layout of PyTorch's ``nn.Embedding`` weight, which the reference
  regularizes with one row per entry (class): pass ``row_axis=0`` to match
  it (``row_axis=-1`` would give one row per feature, a different penalty).

  The paper writes beta ||W^T W ⊙ (1 - I)||_F^2 with the filters as the
  columns of W. The reference code never forms the penalty: after the
  backward pass it adds strength * 2 (W W^T ⊙ (1 - I)) W to each weight's
  gradient. The gradient of ||W W^T ⊙ (1 - I)||_F^2 is
  4 (W W^T ⊙ (1 - I)) W, so that update is the gradient of
  (strength / 2) ||W W^T ⊙ (1 - I)||_F^2. We follow the code:
  ``jax.grad`` of this function is the reference's added gradient with
  strength = ``beta`` (the ``G_ortho`` / ``D_ortho`` coefficient; BigGAN uses
  1e-4 for G), so a ``beta`` tuned for the reference transfers unchanged.

  Args:
    w: one weight, float, ``ndim >= 2`` (a kernel or an embedding table).
    beta: the strength, beta in the reference's gradient step (see above).
    row_axis: the axis of ``w`` that indexes the rows of W: -1 (output
      units) for Flax kernels, 0 for an ``nnx.Embed`` table as in the
      reference.

  Returns:
    The penalty (>= 0), a scalar of the dtype of ``w``.

  Example:
    >>> import jax.numpy as jnp
    >>> kernel = jnp.array([[3.0, 0.0], [0.0, 0.5]])  # (in, out): orthogonal filters of norms 3 and 0.5
    >>> print(orthogonal_regularization(kernel, beta=1.0))
    0.0
    >>> print(orthogonal_regularization(jnp.ones((2, 2)), beta=1.0))  # W W^T = [[2, 2], [2, 2]]: (2^2 + 2^2) / 2
    4.0

  References:
    Brock, Donahue & Simonyan, "Large Scale GAN Training for High Fidelity
    Natural Image Synthesis", ICLR 2019, Section 3.1, eq. 3; reference code
    ajbrock/BigGAN-PyTorch ``utils.py`` (``ortho``, the gradient step) and
    ``train_fns.py`` (where it is applied).
  """
  w = jnp.asarray(w)
  _check_floats("orthogonal_regularization", "w", w, "a float weight")
  if w.ndim < 2:
    raise ValueError(
        f"orthogonal_regularization: w has shape {w.shape}; pass a weight with at least 2 axes "
        "(biases and gains are not regularized)."
    )
  if not -w.ndim <= row_axis < w.ndim:
    raise ValueError(f"orthogonal_regularization: row_axis {row_axis} is out of range for w of shape {w.shape}.")
  rows = jnp.moveaxis(w, row_axis, 0)
  rows = rows.reshape(rows.shape[0], -1)
  # Full float32 products: on GPUs and TPUs the default matmul precision (TF32 / bf16 passes) leaves
  # off-diagonal residues of ~1e-3 |w_i| |w_j|, a spurious penalty on orthogonal filters.
  gram = jnp.matmul(rows, rows.T, precision=jax.lax.Precision.HIGHEST)
  off_diagonal = jnp.where(jnp.eye(gram.shape[0], dtype=bool), jnp.zeros((), gram.dtype), gram)
  return 0.5 * beta * jnp.sum(jnp.square(off_diagonal))


def _path_names(path: tuple[Any, ...]) -> tuple[str, ...]:
  """The names along a ``tree_flatten_with_path`` key path: dict keys, attributes, indices, as strings."""
  names = []
  for key in path:
    if isinstance(key, jax.tree_util.DictKey):
      names.append(str(key.key))
    elif isinstance(key, jax.tree_util.GetAttrKey):
      names.append(key.name)
    elif isinstance(key, jax.tree_util.SequenceKey):
      names.append(str(key.idx))
    elif isinstance(key, jax.tree_util.FlattenedIndexKey):
      names.append(str(key.key))
    else:
      names.append(str(key))
  return tuple(names)


def orthogonal_regularization_tree(
    params: Any,
    beta: float = 1e-4,
    exclude: Sequence[str] = (),
    *,
    embedding_names: Sequence[str] = ("embedding",),
) -> jax.Array:
  r"""sum over weights w in ``params`` with ndim >= 2 of (beta / 2) ||W W^T ⊙ (1 - I)||_F^2.

  :func:`orthogonal_regularization` summed over the leaves of a parameter
  pytree, as the reference code applies it: to every parameter with at least
  two axes (biases, BatchNorm scales and other ndim < 2 leaves are skipped),
  except the generator's shared class embedding (``exclude=("shared",)``).
  A leaf is excluded when one of the names along its path (dict keys,
  attribute names, indices as strings; e.g. ``("shared", "embedding")`` for
  ``model.shared = nnx.Embed(...)``) equals one of ``exclude``; a name in
  ``exclude`` that matches no path is an error (a typo would silently
  regularize what it meant to skip). The reference code remarks that all
  embeddings should arguably be skipped: ``exclude=("embedding",)`` skips
  every ``nnx.Embed`` table.

  Leaves whose path contains one of ``embedding_names`` are lookup tables
  ``(num, features)``, regularized with one row per entry (``row_axis=0``),
  as the reference does with PyTorch's ``nn.Embedding`` weight; all others
  with one row per output unit, the last axis (``row_axis=-1``).

  Pass only the trainable parameters, ``nnx.state(model, nnx.Param)`` or the
  ``params`` of ``nnx.split(model, nnx.Param, ...)`` (or a plain dict of
  arrays): other state with two axes, such as a spectral-norm vector ``u`` of
  shape ``(1, out)``, is not a weight. Non-float leaves are skipped. The
  result is added once to the regularized network's loss; its gradient is
  the reference's update (see :func:`orthogonal_regularization` for the
  factor 1/2).

  Args:
    params: a pytree of weights: an ``nnx.State`` or a nested dict.
    beta: the strength (the reference's ``G_ortho`` / ``D_ortho``).
    exclude: names of path components whose leaves are skipped, e.g.
      ``("shared",)`` for BigGAN's shared class embedding.
    embedding_names: names of path components marking lookup tables
      regularized row-per-entry (``nnx.Embed`` calls its table
      ``"embedding"``).

  Returns:
    The total penalty (>= 0), a scalar (0.0 when no leaf qualifies).

  Example:
    >>> import jax.numpy as jnp
    >>> params = {"shared": {"embedding": jnp.ones((3, 2))},
    ...           "linear": {"kernel": jnp.ones((2, 2)), "bias": jnp.ones(2)}}
    >>> print(orthogonal_regularization_tree(params, beta=1.0, exclude=("shared",)))  # the kernel alone
    4.0

  References:
    Brock, Donahue & Simonyan, "Large Scale GAN Training for High Fidelity
    Natural Image Synthesis", ICLR 2019, Section 3.1; ajbrock/BigGAN-PyTorch
    ``train_fns.py`` (ortho reg on G with the shared embedding skipped) and
    ``utils.py`` (``ortho``: parameters with fewer than two axes skipped).
  """
  fn = "orthogonal_regularization_tree"
  exclude = (exclude,) if isinstance(exclude, str) else tuple(exclude)
  embedding_names = (embedding_names,) if isinstance(embedding_names, str) else tuple(embedding_names)
  leaves, _ = jax.tree_util.tree_flatten_with_path(params)
  all_names = {name for path, _ in leaves for name in _path_names(path)}
  for name in exclude:
    if name not in all_names:
      close = difflib.get_close_matches(name, sorted(all_names), n=1)
      hint = f"; did you mean {close[0]!r}?" if close else f"; the path names are {sorted(all_names)}."
      raise ValueError(f"{fn}: exclude name {name!r} matches no parameter path{hint}")
  total = jnp.zeros((), jnp.float32)
  for path, leaf in leaves:
    names = _path_names(path)
    leaf = jnp.asarray(leaf)
    if leaf.ndim < 2 or not jnp.issubdtype(leaf.dtype, jnp.floating) or any(n in exclude for n in names):
      continue
    row_axis = 0 if any(n in embedding_names for n in names) else -1
    total = total + orthogonal_regularization(leaf, beta, row_axis=row_axis)
  return total
