"""Synthetic datasets for demos, tests and benchmarks (the generator lives with its pipeline, in
:mod:`fastdream.cutout.synthetic`)."""

from fastdream.cutout.synthetic import CutoutDataset, make_cutout_dataset

__all__ = ["CutoutDataset", "make_cutout_dataset"]
