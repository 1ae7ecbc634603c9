"""Captions of digits from their class and measured attributes, and a fixed text embedding of them.

StackGAN (Zhang et al. 2017) draws birds from sentences; MNIST has no
sentences, so we write them from what can be measured: the digit's class,
its stroke thickness and its slant (Morpho-MNIST's measures, ``measure``),
each attribute cut into three equal-count bins of the training images
(``attribute_bins``). Several phrasings say the same thing ("a bold seven
leaning right", "a seven, bold, leaning to the right", ...), so a model must
read the words, not a sentence's identity.

The text embedding phi_t is fixed, as StackGAN's (its char-CNN-RNN
embeddings of Reed et al. 2016 are pre-trained and frozen, and the reference
code loads them precomputed): here the mean of fixed random word vectors
(a bag of words). The templates differ in word order only, which a bag of
words ignores; it keeps every word that carries an attribute, and needs no
training of its own.
"""

from __future__ import annotations

import functools
import re

import numpy as np

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# Bins 0, 1, 2 of each attribute (thin to bold; leaning left to leaning right).
THICKNESS_WORDS = ("thin", "regular", "bold")
SLANT_PHRASES = ("leaning left", "upright", "leaning right")
SLANT_ADJECTIVES = ("left-leaning", "upright", "right-leaning")
TEMPLATES = (
    "a {thickness} {digit} {slant}",
    "a {digit}, {thickness}, {slant_to}",
    "a {slant_adj} {thickness} {digit}",
    "the digit {digit} written {thickness} and {slant}",
)


def _slant_to(slant_bin: int) -> str:
  return SLANT_PHRASES[slant_bin].replace("leaning ", "leaning to the ")


def caption(label: int, thickness_bin: int, slant_bin: int, template: int = 0) -> str:
  """One caption, e.g. ``caption(7, 2, 2)`` = "a bold seven leaning right".

  Args:
    label: the digit, 0..9.
    thickness_bin, slant_bin: 0, 1 or 2 (thin / regular / bold; leaning left / upright / leaning right).
    template: which phrasing, 0..len(TEMPLATES) - 1.
  """
  for name, value, n in (("label", label, 10), ("thickness_bin", thickness_bin, 3), ("slant_bin", slant_bin, 3),
                         ("template", template, len(TEMPLATES))):
    if isinstance(value, bool) or int(value) != value or not 0 <= value < n:
      raise ValueError(f"{name} must be an integer in [0, {n}), got {value!r}")
  return TEMPLATES[template].format(digit=DIGIT_WORDS[label], thickness=THICKNESS_WORDS[thickness_bin],
                                    slant=SLANT_PHRASES[slant_bin], slant_to=_slant_to(slant_bin),
                                    slant_adj=SLANT_ADJECTIVES[slant_bin])


def caption_digits(labels, thickness_bins, slant_bins, *, seed: int = 0) -> list[str]:
  """A caption for every image, its phrasing drawn at random (``seed``) among ``TEMPLATES``."""
  labels, t, s = (np.asarray(a) for a in (labels, thickness_bins, slant_bins))
  if not labels.shape == t.shape == s.shape or labels.ndim != 1:
    raise ValueError(f"labels, thickness_bins and slant_bins must be 1-D of one length, got shapes "
                     f"{labels.shape}, {t.shape}, {s.shape}")
  templates = np.random.default_rng(seed).integers(0, len(TEMPLATES), len(labels))
  return [caption(int(a), int(b), int(c), int(d)) for a, b, c, d in zip(labels, t, s, templates)]


def tokenize(text: str) -> list[str]:
  """Lower-case words (letters, and hyphenated words kept whole): "A left-leaning 7." -> ["a", "left-leaning"]."""
  return re.findall(r"[a-z]+(?:-[a-z]+)*", text.lower())


@functools.lru_cache(maxsize=1)  # read by every embedding call; the templates are constants
def caption_vocabulary() -> tuple[str, ...]:
  """Every word the templates can write, sorted."""
  words = set()
  for template in range(len(TEMPLATES)):
    for label in range(10):
      for b in range(3):
        words.update(tokenize(caption(label, b, b, template)))
        words.update(tokenize(caption(label, b, 2 - b, template)))
  return tuple(sorted(words))


def bag_of_words_embedding(captions, *, dim: int = 64, seed: int = 0,
                           vocabulary: tuple[str, ...] | None = None) -> np.ndarray:
  """phi_t = mean of the captions' word vectors, each word a fixed N(0, I) vector drawn from ``seed``.

  Args:
    captions: a string or a sequence of them.
    dim: the embedding's size.
    seed: draws the word vectors (the same seed, the same embedding).
    vocabulary: the known words (default ``caption_vocabulary()``); an
      unknown word is an error, so a typo in a caption cannot pass silently.

  Returns:
    float32 (N, dim), or (dim,) for one string.
  """
  single = isinstance(captions, str)
  texts = [captions] if single else list(captions)
  vocabulary = caption_vocabulary() if vocabulary is None else tuple(vocabulary)
  if isinstance(dim, bool) or int(dim) != dim or dim < 1:
    raise ValueError(f"dim must be a positive integer, got {dim!r}")
  index = {w: i for i, w in enumerate(vocabulary)}
  # Unit-variance word vectors: the mean of a caption's n words has coordinates of spread 1 / sqrt(n), the scale
  # of a trained embedding's. With N(0, I / dim) vectors (coordinates 8x smaller at dim 64) a Stage-I run on MNIST
  # learnt the thickness but not the digit (LeNet label 23 % after 6,000 steps); at this scale 85 % after 3,000.
  vectors = np.random.default_rng(seed).normal(0.0, 1.0, (len(vocabulary), int(dim)))
  out = np.empty((len(texts), int(dim)), np.float32)
  for n, text in enumerate(texts):
    words = tokenize(text)
    unknown = [w for w in words if w not in index]
    if not words or unknown:
      what = f"unknown words {unknown}" if unknown else "no words"
      raise ValueError(f"caption {text!r} has {what}; known words: {', '.join(vocabulary)}")
    out[n] = vectors[[index[w] for w in words]].mean(axis=0)
  return out[0] if single else out
