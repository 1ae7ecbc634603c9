"""Datasets as in-memory float32 image arrays.

`load_dataset(name, data_dir=...)` returns an `ImageDataset`, and so do
`load_image_folder` (a folder of images, one sub-folder per class); the image
translation layouts of pytorch-CycleGAN-and-pix2pix come from
`load_unpaired_folder` (trainA/trainB) and `load_paired_folder` (A|B side by
side) as {"a": source, "b": target}. Batches are drawn by the training core
(`jaxgen.train`: step-indexed, resumable orders of named streams).

Synthetic translation datasets (numpy, deterministic) are built from such
arrays: `pad_to`, `resize` and `digits_to_side` change the size;
`translation_pairs` gives Pix2pix's (input, target) pairs for `PAIR_TASKS`
("completion": `mask_bottom_half`, "edges": `morphological_gradient`);
`split_halves`, `thicken`, `invert` and `oracle_transform` make CycleGAN's
two disjoint domains related by a known map.

Digit attributes as Morpho-MNIST measures them: `measure` (a `Morphometrics`
of `stroke_thickness` and `slant`), the perturbations `thickening` and
`thinning`, and quantile bins of a measure (`attribute_bins`, `bin_of`).
StackGAN's captions of digits from their class and attribute bins
(`caption`, `caption_digits`: "a bold seven leaning right", several
phrasings) and their fixed text embedding (`bag_of_words_embedding`).
"""

from jaxgen.data._captions import DIGIT_WORDS
from jaxgen.data._captions import SLANT_PHRASES
from jaxgen.data._captions import TEMPLATES
from jaxgen.data._captions import THICKNESS_WORDS
from jaxgen.data._captions import bag_of_words_embedding
from jaxgen.data._captions import caption
from jaxgen.data._captions import caption_digits
from jaxgen.data._captions import caption_vocabulary
from jaxgen.data._captions import tokenize
from jaxgen.data._binarize import binarize_seeded
from jaxgen.data._binarize import binarize_static
from jaxgen.data._dataset import BINARIZATIONS
from jaxgen.data._dataset import DatasetNotFoundError
from jaxgen.data._dataset import ImageDataset
from jaxgen.data._dataset import check_images
from jaxgen.data._digits import load_digits
from jaxgen.data._folder import DIRECTIONS
from jaxgen.data._folder import IMAGE_EXTENSIONS
from jaxgen.data._folder import load_image_folder
from jaxgen.data._folder import load_paired_folder
from jaxgen.data._folder import load_unpaired_folder
from jaxgen.data._folder import read_image_files
from jaxgen.data._load import DATASETS
from jaxgen.data._load import check_dataset_name
from jaxgen.data._load import load_dataset
from jaxgen.data._local import read_idx
from jaxgen.data._morpho import Morphometrics
from jaxgen.data._morpho import attribute_bins
from jaxgen.data._morpho import bin_of
from jaxgen.data._morpho import measure
from jaxgen.data._morpho import slant
from jaxgen.data._morpho import stroke_thickness
from jaxgen.data._morpho import thickening
from jaxgen.data._morpho import thinning
from jaxgen.data._translation import PAIR_TASKS
from jaxgen.data._translation import digits_to_side
from jaxgen.data._translation import invert
from jaxgen.data._translation import mask_bottom_half
from jaxgen.data._translation import morphological_gradient
from jaxgen.data._translation import oracle_transform
from jaxgen.data._translation import pad_to
from jaxgen.data._translation import resize
from jaxgen.data._translation import split_halves
from jaxgen.data._translation import thicken
from jaxgen.data._translation import translation_pairs

__all__ = [
    "DIGIT_WORDS",
    "SLANT_PHRASES",
    "TEMPLATES",
    "THICKNESS_WORDS",
    "bag_of_words_embedding",
    "caption",
    "caption_digits",
    "caption_vocabulary",
    "tokenize",
    "BINARIZATIONS",
    "DATASETS",
    "DIRECTIONS",
    "DatasetNotFoundError",
    "IMAGE_EXTENSIONS",
    "ImageDataset",
    "Morphometrics",
    "PAIR_TASKS",
    "attribute_bins",
    "bin_of",
    "binarize_seeded",
    "binarize_static",
    "check_dataset_name",
    "check_images",
    "digits_to_side",
    "invert",
    "load_dataset",
    "load_digits",
    "load_image_folder",
    "load_paired_folder",
    "load_unpaired_folder",
    "mask_bottom_half",
    "measure",
    "morphological_gradient",
    "oracle_transform",
    "pad_to",
    "read_idx",
    "read_image_files",
    "resize",
    "slant",
    "split_halves",
    "stroke_thickness",
    "thicken",
    "thickening",
    "thinning",
    "translation_pairs",
]
