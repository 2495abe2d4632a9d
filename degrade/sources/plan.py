"""Planning a dataset: sources and a sample count -> the map sample index -> (file, patch).

A *source* is a folder of images or RAW files (searched recursively, stable sorted order),
a text file listing image paths (one per line, relative to the text file), or the built-in
samples (the sRGB PNGs, or the two DNGs of ``degrade/samples/raw`` for RAW recipes). :func:`plan_samples` turns sources and a sample count into a deterministic map
``sample index -> (file, patch)`` that depends only on the inputs (the sorted listing, the
counts, the seed), never on workers, partitioning or execution order.

Rules (documented in docs/dataset_engine.md):

* Every file is *probed* first (header only where possible). A file that cannot be opened, or
  that is smaller than the crop, is skipped before any index is assigned, so the map is a
  function of the folder's content and the skip list is known up front.
* Sample counts per source come from ``count`` or from ``weight`` (largest remainder of
  ``num * w / sum(w)``, ties to the earlier source). The sources are interleaved evenly:
  the ``j``-th of ``c`` samples of a source sits at key ``(j + 0.5) / c``; ties go to the
  earlier source.
* Inside a source of ``U`` units (files, or grid cells in grid mode) sample ``j`` takes unit
  ``j * U // c``: each unit gets ``c / U`` consecutive samples (every image used equally).
* Patches: none (the whole image goes to the recipe, which makes its own random crop), a
  random ``size`` crop per sample (position drawn from ``stream(seed, index, 0, SOURCE)``),
  or a sliding grid ``size``/``stride`` (plus an edge-aligned last row/column when the stride
  does not reach the border). RAW patches start on even rows/columns (CFA phase kept).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from .._errors import InputError, ParameterError
from .._validate import check_integer
from .listing import list_and_probe, relative_path
from .names import display_name
from .patches import Patches, grid_cells
from .spec import Source


@dataclass
class SamplePlan:
    """The deterministic map sample index -> (file, patch) of a dataset.

    ``files``/``shapes``/``file_source`` describe the usable files (all sources, in source
    order); ``sample_file[i]`` is the file of sample ``i`` and ``sample_cell[i]`` its grid cell
    (-1 outside grid mode). ``skipped`` lists ``{"path", "reason"}`` of probed-out files.
    """

    kind: str
    roots: list[str]
    files: list[str]
    shapes: np.ndarray
    file_source: np.ndarray
    sample_file: np.ndarray
    sample_cell: np.ndarray
    patches: Patches
    skipped: list[dict] = field(default_factory=list)
    listing_hash: str = ""
    source_info: list[dict] = field(default_factory=list)
    #: ``files[k]`` relative to its source's root, in POSIX form (what records name)
    rel_paths: list[str] = field(default_factory=list)

    @property
    def num(self) -> int:
        return int(self.sample_file.size)


def _split_counts(sources: list[Source], num: int | None, units: list[int]) -> list[int]:
    fixed = [s.count for s in sources]
    if all(c is not None for c in fixed):
        total = int(sum(fixed))
        if num is not None and num != total:
            raise ParameterError(f"num = {num} but the per-source counts add up to {total}")
        return [int(c) for c in fixed]
    if any(c is not None for c in fixed):
        raise ParameterError("sources: give a count for every source, or weights only")
    if num is None:
        num = int(sum(units))
    weights = np.array([s.weight for s in sources], dtype=np.float64)
    exact = num * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    remainder = exact - counts
    for k in np.argsort(-remainder, kind="stable")[: num - int(counts.sum())]:
        counts[k] += 1
    return [int(c) for c in counts]


def _interleave(counts: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(source, j) per global index: sources spread evenly, ties to the earlier source."""
    src = np.concatenate([np.full(c, s, np.int64) for s, c in enumerate(counts)] or [np.zeros(0, np.int64)])
    j = np.concatenate([np.arange(c, dtype=np.int64) for c in counts] or [np.zeros(0, np.int64)])
    sizes = np.array(counts, dtype=np.float64)[src] if src.size else np.zeros(0)
    key = (2 * j + 1) / (2 * sizes) if src.size else np.zeros(0)
    order = np.lexsort((src, key))
    return src[order], j[order]


def plan_samples(sources, *, kind: str = "image", num: int | None = None,
                 patches: Patches = Patches(), min_size=None, strict: bool = False,
                 warn=None, storage_options: dict | None = None) -> SamplePlan:
    """Probe the sources and build the deterministic sample map.

    Parameters
    ----------
    sources : list of Source
    kind : {'image', 'raw'}
    num : int or None
        Total samples; None = one per unit (file, or grid cell) of every source.
    patches : Patches
    min_size : (h, w) or None
        The smallest usable image (the recipe's crop); smaller files are skipped.
    strict : bool
        Raise on the first unusable file instead of skipping it.
    warn : callable or None
        Called with a message for every skipped file.
    storage_options : dict or None
        fsspec options of sources on object storage (URLs).

    Raises
    ------
    InputError
        A source is missing or has no usable file; with ``strict``, any unusable file.
    ParameterError
        Inconsistent counts, patch sizes or weights.
    """
    if num is not None:
        check_integer("num", num, 1)
        _check_total("num", num)
    even = kind == "raw"
    _check_patches(patches, min_size, even)
    need = _needed_size(patches, min_size)
    files, rel_paths, shapes, file_source, skipped, roots, info = [], [], [], [], [], [], []
    digest = hashlib.sha256(f"{kind}|{patches.as_dict()}|{need}".encode())
    for s_index, source in enumerate(sources):
        root, paths, sizes, probes = list_and_probe(source, kind, storage_options)
        roots.append(str(root))
        usable = 0
        digest.update(f"\0source{s_index}".encode())
        for path, size, probed in zip(paths, sizes, probes):
            rel = relative_path(path, root)
            try:
                if isinstance(probed, InputError):
                    raise probed
                shape = probed
                if shape[0] < need[0] or shape[1] < need[1]:
                    raise InputError(f"{path}: {shape[0]}x{shape[1]} is smaller than the crop "
                                     f"{need[0]}x{need[1]}")
            except InputError as exc:
                if strict:
                    raise
                skipped.append({"path": display_name(path),
                                "reason": display_name(skip_reason(exc, path))})
                if warn is not None:
                    warn(display_name(f"skipping {exc}"))
                digest.update(f"\0skip:{rel}".encode("utf-8", "surrogateescape"))
                continue
            # names hashed as their bytes on disk (a name that is not UTF-8 has surrogate escapes)
            digest.update(f"\0{rel}:{size}:{shape[0]}x{shape[1]}"
                          .encode("utf-8", "surrogateescape"))
            files.append(str(path))
            rel_paths.append(display_name(rel))
            shapes.append(shape)
            file_source.append(s_index)
            usable += 1
        if usable == 0 and (source.count or (source.count is None and source.weight > 0)):
            raise InputError(f"source {source.label}: no usable {'RAW' if even else 'image'} file"
                             + (f" ({len(paths)} found, all skipped)" if paths else ""))
        info.append({"path": source.label, "weight": source.weight, "count": source.count,
                     "files": usable})
    shapes_arr = np.array(shapes, dtype=np.int64).reshape(-1, 2)
    file_source_arr = np.array(file_source, dtype=np.int64)
    units = [_source_units(shapes_arr[file_source_arr == s], patches, even) for s in range(len(sources))]
    counts = _split_counts(sources, num, [int(u.sum()) for u in units])
    _check_total("the samples of the sources (counts, or one per file or grid patch)",
                 sum(counts))
    for entry, count in zip(info, counts):
        entry["samples"] = count
    src, j = _interleave(counts)
    sample_file = np.zeros(src.size, np.int64)
    sample_cell = np.full(src.size, -1, np.int64)
    first_file = np.searchsorted(file_source_arr, np.arange(len(sources)))
    for s in range(len(sources)):
        mask = src == s
        if not mask.any():
            continue
        cum = np.cumsum(units[s])
        unit = j[mask] * int(cum[-1]) // counts[s]
        f_local = np.searchsorted(cum, unit, side="right")
        sample_file[mask] = first_file[s] + f_local
        if patches.mode == "grid":
            sample_cell[mask] = unit - np.concatenate([[0], cum])[f_local]
    return SamplePlan(kind, roots, files, shapes_arr, file_source_arr, sample_file, sample_cell,
                      patches, skipped, digest.hexdigest(), info, rel_paths)


#: the most samples one plan holds: its map takes 16 bytes a sample (1.6 GB here), and a
#: larger --num (1e12) used to overflow or try to allocate terabytes
MAX_SAMPLES = 100_000_000


def _check_total(name: str, total: int) -> None:
    if total > MAX_SAMPLES:
        raise ParameterError(f"{name} = {total}: expected at most {MAX_SAMPLES:_} samples in "
                             "one store (make several stores)")


def _check_patches(patches: Patches, min_size, even: bool) -> None:
    if patches.size is None:
        if patches.stride is not None:
            raise ParameterError("patch stride given without a patch size")
        return
    for name, value in (("patch size", patches.size), ("patch stride", patches.stride)):
        if value is not None:
            check_integer(name, value, 1)
    if even and (patches.size % 2 or (patches.stride or 0) % 2):
        raise ParameterError(f"patch size {patches.size} / stride {patches.stride}: RAW patches "
                             "need even sizes and strides to keep the CFA pattern")
    if min_size is not None and (min_size[0] > patches.size or min_size[1] > patches.size):
        raise ParameterError(f"the recipe crops {min_size[0]}x{min_size[1]} but patches are "
                             f"{patches.size}x{patches.size}; use a patch size >= the crop")


def _needed_size(patches: Patches, min_size) -> tuple[int, int]:
    if patches.size is not None:
        return patches.size, patches.size
    return (int(min_size[0]), int(min_size[1])) if min_size is not None else (1, 1)


def _source_units(shapes: np.ndarray, patches: Patches, even: bool) -> np.ndarray:
    if patches.mode != "grid":
        return np.ones(len(shapes), np.int64)
    return np.array([grid_cells(s, patches.size, patches.stride, even) for s in shapes], np.int64)


def skip_reason(error: Exception, path) -> str:
    """The message of ``error`` without its leading ``'PATH: '`` (the path is listed apart)."""
    message, prefix = str(error), f"{path}: "
    return message[len(prefix):] if message.startswith(prefix) else message
