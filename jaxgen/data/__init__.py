"""Datasets as in-memory float32 image arrays.

`load_dataset(name, data_dir=...)` returns an `ImageDataset`, and so do
`load_image_folder` (a folder of images, one sub-folder per class); the image
translation layouts of pytorch-CycleGAN-and-pix2pix come from
`load_unpaired_folder` (trainA/trainB) and `load_paired_folder` (A|B side by
side) as {"a": source, "b": target}. Batches are drawn by the training core
(`jaxgen.train`: step-indexed, resumable orders of named streams).
"""

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
from jaxgen.data._load import DATASETS
from jaxgen.data._load import check_dataset_name
from jaxgen.data._load import load_dataset
from jaxgen.data._local import read_idx

__all__ = [
    "BINARIZATIONS",
    "DATASETS",
    "DIRECTIONS",
    "DatasetNotFoundError",
    "IMAGE_EXTENSIONS",
    "ImageDataset",
    "binarize_seeded",
    "binarize_static",
    "check_dataset_name",
    "check_images",
    "load_dataset",
    "load_digits",
    "load_image_folder",
    "load_paired_folder",
    "load_unpaired_folder",
    "read_idx",
]
