"""Source specifications: what a dataset draws from (:class:`Source`, :func:`as_sources`)."""
from __future__ import annotations

import os
from dataclasses import dataclass, replace

import numpy as np

from .._errors import ParameterError
from .._validate import check_integer


@dataclass(frozen=True)
class Source:
    """One input of a dataset: a folder, a file list (``.txt``), a BasicSR ``meta_info`` file
    with its ``root``, or the built-in samples.

    Parameters
    ----------
    path : str or None
        Folder or text file; None means the built-in sample images.
    weight : float
        Relative share of the samples (used when ``count`` is None).
    count : int or None
        Exact number of samples from this source.
    root : str or None
        Makes ``path`` a BasicSR ``meta_info`` file whose entries (optionally followed by a
        shape, ``a.png (480,480,3)``) are relative to this folder (BasicSR's
        ``dataroot_gt``); see :mod:`degrade.sources.meta_info`.
    """

    path: str | None = None
    weight: float = 1.0
    count: int | None = None
    root: str | None = None

    @property
    def label(self) -> str:
        return self.path if self.path is not None else "<samples>"



def as_sources(spec=None, *, weights=None, counts=None) -> list[Source]:
    """Normalise a source specification to a list of :class:`Source`.

    ``spec`` is None (built-in samples), a path, a :class:`Source`, a dict with ``path``
    (and ``weight``/``count``/``root``), or a list of these. ``weights``/``counts`` (one per source)
    override the per-source values.
    """
    items = [spec] if spec is None or isinstance(spec, (str, os.PathLike, Source, dict)) else list(spec)
    if not items:
        raise ParameterError("sources: empty list; give at least one folder (or None for the "
                             "built-in samples)")
    out = []
    for item in items:
        if isinstance(item, Source):
            out.append(item)
        elif isinstance(item, dict):
            unknown = set(item) - {"path", "weight", "count", "root"}
            if unknown:
                raise ParameterError(f"sources: unknown key(s) {sorted(unknown)}; expected "
                                     "path, weight, count, root")
            path, root = item.get("path"), item.get("root")
            if root is not None and path is None:
                raise ParameterError(f"sources: root = {root!r} without a path; the root "
                                     "belongs to a meta_info file given as path")
            out.append(Source(None if path is None else str(path), float(item.get("weight", 1.0)),
                              item.get("count"), None if root is None else str(root)))
        elif item is None:
            out.append(Source(None))
        else:
            out.append(Source(str(item)))
    for name, values in (("weights", weights), ("counts", counts)):
        if values is not None and len(values) != len(out):
            raise ParameterError(f"sources: {len(values)} {name} for {len(out)} sources; "
                                 "give one per source")
    if weights is not None:
        out = [replace(s, weight=float(w)) for s, w in zip(out, weights)]
    if counts is not None:
        out = [replace(s, count=c) for s, c in zip(out, counts)]
    for s in out:
        if not (np.isfinite(s.weight) and s.weight >= 0):
            raise ParameterError(f"sources: weight of {s.label} = {s.weight!r}: expected a number >= 0")
        if s.count is not None:
            check_integer(f"count of {s.label}", s.count, 0, where="sources")
    if all(s.count is None for s in out) and sum(s.weight for s in out) <= 0:
        raise ParameterError("sources: all weights are 0")
    return out
