"""Folder sources for the dataset engine: listing, weighted mixing and patch extraction.

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
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePath

import numpy as np

from .._errors import InputError, ParameterError
from .. import _rng
from .headers import header_shape

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
RAW_SUFFIXES = (".dng", ".nef", ".nrw", ".cr2", ".cr3", ".crw", ".arw", ".srf", ".sr2", ".raf",
                ".orf", ".rw2", ".pef", ".srw", ".kdc", ".dcr", ".3fr", ".iiq", ".erf", ".mrw",
                ".x3f", ".mos", ".raw", ".rwl")


@dataclass(frozen=True)
class Source:
    """One input of a dataset: a folder, a file list (``.txt``) or the built-in samples.

    Parameters
    ----------
    path : str or None
        Folder or text file; None means the built-in sample images.
    weight : float
        Relative share of the samples (used when ``count`` is None).
    count : int or None
        Exact number of samples from this source.
    """

    path: str | None = None
    weight: float = 1.0
    count: int | None = None

    @property
    def label(self) -> str:
        return self.path if self.path is not None else "<samples>"


@dataclass(frozen=True)
class Patches:
    """Patch extraction before the recipe: ``size`` alone = one random crop per sample,
    ``size`` + ``stride`` = a sliding grid; both None = the whole image."""

    size: int | None = None
    stride: int | None = None

    @property
    def mode(self) -> str:
        if self.size is None:
            return "whole"
        return "random" if self.stride is None else "grid"

    def as_dict(self) -> dict:
        return {"mode": self.mode, "size": self.size, "stride": self.stride}


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


# --------------------------------------------------------------------------- sources
def as_sources(spec=None, *, weights=None, counts=None) -> list[Source]:
    """Normalise a source specification to a list of :class:`Source`.

    ``spec`` is None (built-in samples), a path, a :class:`Source`, a dict with ``path``
    (and ``weight``/``count``), or a list of these. ``weights``/``counts`` (one per source)
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
            unknown = set(item) - {"path", "weight", "count"}
            if unknown:
                raise ParameterError(f"sources: unknown key(s) {sorted(unknown)}; expected "
                                     "path, weight, count")
            path = item.get("path")
            out.append(Source(None if path is None else str(path), float(item.get("weight", 1.0)),
                              item.get("count")))
        elif item is None:
            out.append(Source(None))
        else:
            out.append(Source(str(item)))
    for name, values in (("weights", weights), ("counts", counts)):
        if values is not None and len(values) != len(out):
            raise ParameterError(f"sources: {len(values)} {name} for {len(out)} sources; "
                                 "give one per source")
    if weights is not None:
        out = [Source(s.path, float(w), s.count) for s, w in zip(out, weights)]
    if counts is not None:
        out = [Source(s.path, s.weight, c) for s, c in zip(out, counts)]
    for s in out:
        if not (np.isfinite(s.weight) and s.weight >= 0):
            raise ParameterError(f"sources: weight of {s.label} = {s.weight!r}: expected a number >= 0")
        if s.count is not None and (isinstance(s.count, bool) or not isinstance(s.count, (int, np.integer))
                                    or s.count < 0):
            raise ParameterError(f"sources: count of {s.label} = {s.count!r}: expected an integer >= 0")
    if all(s.count is None for s in out) and sum(s.weight for s in out) <= 0:
        raise ParameterError("sources: all weights are 0")
    return out


def list_source_files(source: Source, kind: str) -> tuple[Path, list[Path]]:
    """The root and the sorted files of one source (``kind`` 'image' or 'raw')."""
    if source.path is None:   # the built-in samples: the PNGs, or the DNGs for RAW recipes
        from .samples import raw_sample_paths, sample_paths
        paths = [Path(p) for p in (raw_sample_paths() if kind == "raw" else sample_paths())]
        return (paths[0].parent if paths else Path(".")), paths
    root = Path(source.path).expanduser()
    if root.is_file() and root.suffix.lower() == ".txt":
        base = root.parent
        lines = [ln.strip() for ln in root.read_text().splitlines()]
        return base, [base / ln for ln in lines if ln and not ln.startswith("#")]
    if not root.is_dir():
        raise InputError(f"source {source.label}: not a folder or a .txt file list")
    if kind == "raw":
        files = sorted((p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in RAW_SUFFIXES),
                       key=lambda p: p.relative_to(root).as_posix())
    else:
        from .images import list_images
        files = [Path(p) for p in list_images(root, recursive=True)]
    return root, files


# --------------------------------------------------------------------------- reading
def probe_shape(path: Path, kind: str) -> tuple[int, int]:
    """(height, width) of an image or RAW file, reading only its header where possible
    (RAW files are also checked to be Bayer mosaics).

    Raises
    ------
    InputError
        The file cannot be opened as an image (or by rawpy).
    """
    if kind == "raw":
        import rawpy
        try:
            from .raw import bayer_pattern
        except ImportError:
            bayer_pattern = None
        try:
            with rawpy.imread(str(path)) as raw:
                if bayer_pattern is not None:     # X-Trans, linear DNG, CMYG: skipped up front
                    bayer_pattern(raw, path)      # (~10 ms: it unpacks the mosaic)
                return int(raw.sizes.height), int(raw.sizes.width)
        except InputError:
            raise
        except Exception as exc:  # rawpy raises LibRawError subclasses and OSError
            raise InputError(f"{path}: rawpy cannot open it ({type(exc).__name__}: {exc})") from None
    if not Path(path).is_file():
        raise InputError(f"{path}: no such file")
    shape = header_shape(path)
    if shape is not None:
        return shape
    try:
        from PIL import Image
    except ImportError:  # pillow is optional: fall back to decoding the whole file
        image = read_file(path, kind)[0]
        return int(image.shape[0]), int(image.shape[1])
    try:
        with Image.open(path) as im:
            width, height = im.size
        return int(height), int(width)
    except Image.DecompressionBombError:
        image = read_file(path, kind)[0]
        return int(image.shape[0]), int(image.shape[1])
    except Exception as exc:
        raise InputError(f"{path}: not a readable image ({type(exc).__name__}: {exc})") from None


#: probe the files of a folder on this many threads (RAW probes unpack the mosaic to check
#: the CFA, 8-180 ms a file; image probes read a header, ~0.1 ms)
PROBE_THREADS = min(8, os.cpu_count() or 1)


def probe_shapes(paths: list, kind: str) -> list:
    """:func:`probe_shape` of every path, in order, on up to ``PROBE_THREADS`` threads; an
    unusable file gives its InputError instead of a shape.

    1000 RAW files took 10.6-10.9 s to probe one after the other here, 3.2-3.4 s on 2
    threads (rawpy's unpack waits on reads and partly releases the GIL).
    """
    def probe(path):
        try:
            return probe_shape(path, kind)
        except InputError as exc:
            return exc

    def probe_all(chunk):
        return [probe(path) for path in chunk]
    if PROBE_THREADS < 2 or len(paths) < 16:
        return probe_all(paths)
    # chunks of up to 64 files: a task per file costs more than a header probe (~0.04 ms):
    # planning 50 000 PNGs took 12 s with single-file tasks (futures, GIL hand-offs), 4.8-5.5 s
    # in chunks (both still through pillow)
    size = max(1, min(64, len(paths) // (8 * PROBE_THREADS)))
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(PROBE_THREADS) as pool:
        chunks = pool.map(probe_all, [paths[k:k + size] for k in range(0, len(paths), size)])
        return [result for chunk in chunks for result in chunk]


def read_file(path, kind: str) -> tuple[np.ndarray, dict]:
    """Decode one source file to ``(float32 array in [0, 1], metadata dict)``."""
    if kind == "raw":
        try:
            from .raw import read_raw
        except ImportError:
            raise InputError("RAW folders need the RAW reader degrade.sources.raw.read_raw, "
                             "which is not installed in this build") from None
        result = read_raw(path)
        if isinstance(result, tuple):
            mosaic, meta = result
        else:  # an object with .mosaic / .meta (or .image)
            mosaic = getattr(result, "mosaic", getattr(result, "image", None))
            meta = getattr(result, "meta", {})
        return np.ascontiguousarray(mosaic, dtype=np.float32), dict(meta or {})
    from .images import read_image
    return read_image(path), {}


# --------------------------------------------------------------------------- patches
def grid_starts(length: int, size: int, stride: int) -> list[int]:
    """Patch starts along one axis: 0, stride, ... plus ``length - size`` when not reached."""
    if length < size:
        return []
    starts = list(range(0, length - size + 1, stride))
    if starts[-1] != length - size:
        starts.append(length - size)
    return starts


def grid_cells(shape, size: int, stride: int, even: bool = False) -> int:
    ys, xs = (grid_starts(n - (n % 2 if even else 0), size, stride) for n in shape[:2])
    return len(ys) * len(xs)


def patch_position(shape, patches: Patches, cell: int, seed: int, index: int,
                   even: bool) -> tuple[int, int] | None:
    """Top-left corner of the patch of sample ``index`` in an image of ``shape``."""
    if patches.mode == "whole":
        return None
    size = patches.size
    height, width = (n - (n % 2 if even else 0) for n in shape[:2])
    if patches.mode == "grid":
        ys, xs = grid_starts(height, size, patches.stride), grid_starts(width, size, patches.stride)
        cell = min(cell, len(ys) * len(xs) - 1)  # a substitute file may have fewer cells
        y, x = ys[cell // len(xs)], xs[cell % len(xs)]
    else:
        rng = _rng.stream(seed, index, 0, _rng.SOURCE)
        y = int(rng.integers(0, height - size + 1))
        x = int(rng.integers(0, width - size + 1))
    if even:
        y, x = y - y % 2, x - x % 2
    return int(y), int(x)


def with_source_origin(meta: dict, position) -> dict:
    """A copy of ``meta`` with ``source_origin: [y, x]``, the top-left corner of the patch in
    its source file (absent for whole images); the recipe adds its crop position to it to
    give the ops ``crop_origin`` (``render_libraw_aahd`` needs it)."""
    meta = dict(meta)
    if position is not None:
        meta["source_origin"] = [int(position[0]), int(position[1])]
    return meta


def cut_patch(image: np.ndarray, position, size: int | None) -> np.ndarray:
    if position is None:
        return image
    y, x = position
    return np.ascontiguousarray(image[y:y + size, x:x + size])


# --------------------------------------------------------------------------- planning
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
                 warn=None) -> SamplePlan:
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

    Raises
    ------
    InputError
        A source is missing or has no usable file; with ``strict``, any unusable file.
    ParameterError
        Inconsistent counts, patch sizes or weights.
    """
    if num is not None and (isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num < 1):
        raise ParameterError(f"num = {num!r}: expected an integer >= 1")
    even = kind == "raw"
    _check_patches(patches, min_size, even)
    need = _needed_size(patches, min_size)
    files, rel_paths, shapes, file_source, skipped, roots, info = [], [], [], [], [], [], []
    digest = hashlib.sha256(f"{kind}|{patches.as_dict()}|{need}".encode())
    for s_index, source in enumerate(sources):
        root, paths = list_source_files(source, kind)
        roots.append(str(root))
        usable = 0
        digest.update(f"\0source{s_index}".encode())
        for path, probed in zip(paths, probe_shapes(paths, kind)):
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
                skipped.append({"path": str(path), "reason": skip_reason(exc, path)})
                if warn is not None:
                    warn(f"skipping {exc}")
                digest.update(f"\0skip:{rel}".encode())
                continue
            digest.update(f"\0{rel}:{_file_size(path)}:{shape[0]}x{shape[1]}".encode())
            files.append(str(path))
            rel_paths.append(rel)
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


def _check_patches(patches: Patches, min_size, even: bool) -> None:
    if patches.size is None:
        if patches.stride is not None:
            raise ParameterError("patch stride given without a patch size")
        return
    for name, value in (("patch size", patches.size), ("patch stride", patches.stride)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))
                                  or value < 1):
            raise ParameterError(f"{name} = {value!r}: expected an integer >= 1")
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


def relative_path(path, root) -> str:
    """``path`` relative to ``root`` in POSIX form (the path itself when outside ``root``)."""
    if isinstance(path, PurePath) and isinstance(root, PurePath):
        # a listed file is root / relative: cut the string (Path.relative_to parses both
        # paths, ~20 us a file); str() of a path is already normalised
        prefix = str(root).rstrip(os.sep) + os.sep
        text = str(path)
        if text.startswith(prefix) and len(text) > len(prefix):
            return text[len(prefix):].replace(os.sep, "/")
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return Path(path).as_posix()


def _file_size(path) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return -1
