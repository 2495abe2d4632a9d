"""Listing and probing the files of a source: the sorted file list of a folder or a
``.txt`` list, and each file's size from its header (RAW files: also its CFA)."""
from __future__ import annotations

import os
from pathlib import Path, PurePath

from .._errors import InputError
from .headers import check_image_pixels, header_shape
from .images import read_image
from .names import read_list_file
from .raw import bayer_pattern
from .spec import Source

RAW_SUFFIXES = (".dng", ".nef", ".nrw", ".cr2", ".cr3", ".crw", ".arw", ".srf", ".sr2", ".raf",
                ".orf", ".rw2", ".pef", ".srw", ".kdc", ".dcr", ".3fr", ".iiq", ".erf", ".mrw",
                ".x3f", ".mos", ".raw", ".rwl")


def list_source_files(source: Source, kind: str) -> tuple[Path, list[Path]]:
    """The root and the sorted files of one source (``kind`` 'image' or 'raw')."""
    if source.path is None:   # the built-in samples: the PNGs, or the DNGs for RAW recipes
        from .samples import raw_sample_paths, sample_paths
        paths = [Path(p) for p in (raw_sample_paths() if kind == "raw" else sample_paths())]
        return (paths[0].parent if paths else Path(".")), paths
    root = Path(source.path).expanduser()
    if source.root is not None:
        if not root.is_file():
            raise InputError(f"source {source.label}: not a file; a root ({source.root}) "
                             "goes with a BasicSR meta_info file")
        from .meta_info import read_meta_info
        return read_meta_info(root, source.root)
    if root.is_file() and root.suffix.lower() == ".txt":
        paths = read_list_file(root)        # any common encoding (names.py)
        _refuse_meta_info_without_root(root, root.parent, [str(path) for path in paths[:1]])
        return root.parent, paths
    if not root.is_dir():
        raise InputError(f"source {source.label}: not a folder or a .txt file list")
    if kind == "raw":
        return root, list_files(root, RAW_SUFFIXES)
    from .images import list_images
    return root, [Path(p) for p in list_images(root, recursive=True)]


def list_and_probe(source: Source, kind: str, storage_options: dict | None = None) -> tuple:
    """``(root, files, sizes, probed)`` of one source: its root, its sorted files (paths, or
    URLs for a source on an object store), their sizes and :func:`probe_shapes` results.
    URLs are listed and probed by ranged reads (:mod:`.remote`), sizes from the listing."""
    from . import remote

    if source.path is not None and remote.is_url(source.path):
        root, files, sizes = remote.list_remote(source.path, kind, storage_options)
        return root, files, sizes, remote.probe_remote_shapes(files, kind, storage_options)
    root, files = list_source_files(source, kind)
    urls = [k for k, f in enumerate(files) if remote.is_url(f)]     # a .txt list of URLs
    probed = probe_shapes([f for f in files if not remote.is_url(f)], kind)
    if urls:
        remote_probed = iter(remote.probe_remote_shapes([files[k] for k in urls], kind,
                                                        storage_options))
        local = iter(probed)
        probed = [next(remote_probed) if remote.is_url(f) else next(local) for f in files]
    sizes = [file_size(f) for f in files] if not urls else \
        [remote.object_size(f, storage_options) if remote.is_url(f) else file_size(f)
         for f in files]
    return root, files, sizes, probed
def _refuse_meta_info_without_root(listing: Path, base: Path, lines: list[str]) -> None:
    """A plain list whose first line is a missing file followed by a shape is a BasicSR
    meta_info file given without its root: say so once, instead of skipping every line."""
    from .meta_info import has_shape_suffix

    if lines and has_shape_suffix(lines[0]) and not (base / lines[0]).exists():
        raise InputError(f"{listing}: line {lines[0]!r} reads as a BasicSR meta_info entry "
                         "(a path and a shape); give its dataroot_gt with --root DIR "
                         "(Python: a source {'path': ..., 'root': DIR})")


def list_files(root: Path, suffixes: tuple[str, ...], recursive: bool = True) -> list[Path]:
    """Files under ``root`` (its sub-folders too when ``recursive``) whose suffix (any case)
    is in ``suffixes``, sorted by their POSIX relative path; hidden files and folders (``.x``,
    e.g. macOS ``._x.dng`` resource forks) are skipped and folder links are not followed."""
    found = []
    for current, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")] if recursive else []
        rel_dir = Path(current).relative_to(root)
        for name in files:
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in suffixes:
                rel = rel_dir / name
                found.append((rel.as_posix(), root / rel))
    found.sort(key=lambda item: item[0])
    return [path for _, path in found]


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
            with rawpy.imread(str(path)) as raw:
                # the pixel limit from the header's sizes, before bayer_pattern unpacks
                check_image_pixels(path, raw.sizes.raw_height, raw.sizes.raw_width)
                bayer_pattern(raw, path)      # X-Trans, linear DNG, CMYG: skipped up front
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
        image = read_image(path)
        return int(image.shape[0]), int(image.shape[1])
    try:
        with Image.open(path) as im:
            width, height = im.size
        return int(height), int(width)
    except Image.DecompressionBombError:
        image = read_image(path)
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


def relative_path(path, root) -> str:
    """``path`` relative to ``root`` in POSIX form (the path itself when outside ``root``)."""
    if isinstance(path, str) and "://" in path:        # a URL: its key under the root
        from .remote import relative_key
        return relative_key(path, str(root))
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


def file_size(path) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return -1
