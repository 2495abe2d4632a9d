"""Folder sources for the dataset engine, by responsibility:

* :mod:`.spec` — what a dataset draws from (:class:`Source`, :func:`as_sources`);
* :mod:`.listing` — the sorted files of a source and their probed sizes;
* :mod:`.decode` — decoding one file for a sample (:func:`read_file`);
* :mod:`.patches` — where a sample's patch sits (:class:`Patches`, :func:`patch_position`);
* :mod:`.plan` — the deterministic map sample index -> (file, patch) (:func:`plan_samples`).

This module gathers their public names under the one import path the engine, the benchmarks
and the docs use (``from degrade.sources.folders import plan_samples``).
"""
from __future__ import annotations

from .decode import read_file
from .listing import RAW_SUFFIXES, list_source_files, probe_shape, probe_shapes, relative_path
from .patches import Patches, cut_patch, grid_cells, grid_starts, patch_position, with_source_origin
from .plan import SamplePlan, plan_samples, skip_reason
from .spec import Source, as_sources

__all__ = ["Patches", "RAW_SUFFIXES", "SamplePlan", "Source", "as_sources", "cut_patch",
           "grid_cells", "grid_starts", "list_source_files", "patch_position", "plan_samples",
           "probe_shape", "probe_shapes", "read_file", "relative_path", "skip_reason",
           "with_source_origin"]
