"""Synthetic datasets for demos, tests and benchmarks (each generator lives with its pipeline: in
:mod:`fastdream.cutout.synthetic` and :mod:`fastdream.dreamer.samples`)."""

from fastdream.cutout.synthetic import CutoutDataset, make_cutout_dataset
from fastdream.dreamer.samples import make_subject_folders

__all__ = ["CutoutDataset", "make_cutout_dataset", "make_subject_folders"]
