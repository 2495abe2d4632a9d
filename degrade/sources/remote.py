"""Sources on object storage: ``--input s3://bucket/photos/`` and ``.txt`` lists of URLs.

The same contract as the local sources (:mod:`degrade.sources.folders`), with URLs in place
of paths:

* :func:`list_remote` — the files under a URL prefix with an image (or RAW) suffix, hidden
  names (any path part starting with ``.``) skipped, sorted by their key relative to the
  prefix (plain code-point order, as local folders), with their sizes (from the listing, no
  extra request) for the listing hash; or the entries of a ``.txt`` list (absolute URLs, or
  keys relative to the list's folder).
* :func:`probe_remote_shapes` — (height, width) of each file from its first bytes: one
  concurrent batch of ranged GETs (``HEAD_BYTES``), parsed by :mod:`.headers`; a JPEG whose
  start-of-frame lies further (big EXIF blocks) gets a second, longer read; other formats,
  and RAW files (rawpy needs the whole file, and the CFA check its mosaic), are read whole.
* :func:`read_remote` — a file decoded to the same ``(float32 array, meta)`` as
  :func:`degrade.sources.folders.read_file`.

Headers and decoders take local files today (``header_shape(path)``, ``read_image(path)``,
``read_raw(path)``), so the bytes go through a temporary file (in ``/dev/shm`` where it
exists): the very same parsers and read policy as local files, hence the same samples. The
cost is a memory write per decoded file (a few ms against tens of ms of decoding).
``rawpy.imread`` itself reads file objects; once :mod:`.images`/:mod:`.raw` take bytes
the temporary files go.

Credentials and endpoint: as for stores (:mod:`degrade.storage`), from the environment or
``storage_options``.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .. import storage
from .._errors import InputError

#: bytes read for a header probe: PNG needs 33, a JPEG's start-of-frame usually sits within
#: the first few kB (after EXIF/ICC blocks of up to 64 kB each)
HEAD_BYTES = 1 << 16
#: the second, longer read for JPEGs whose start-of-frame lies beyond ``HEAD_BYTES``
LONG_HEAD_BYTES = 1 << 20
#: threads for whole-file probes (RAW): network-bound, so more than the cores
PROBE_THREADS = 16
#: header reads per concurrent batch: bounds the heads held at once (256 x 64 kB = 16 MB)
PROBE_BATCH = 256
_TEMP_DIR = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def is_url(path) -> bool:
    """True for ``scheme://...`` strings other than ``file://`` (those are local paths)."""
    return isinstance(path, str) and "://" in path and not path.lower().startswith("file://")


def normalise_source(path) -> str:
    """An ``--input`` as the workers must see it: a URL as given, a local path (or
    ``file://`` URL) made absolute on the client, before any task is built."""
    text = str(path)
    return text if is_url(text) else storage.resolve(text, what="--input").url


def _location(url: str, options: dict | None) -> storage.Location:
    return storage.resolve(url, options, what="--input")


def _suffixes(kind: str) -> tuple[str, ...]:
    if kind == "raw":
        from .folders import RAW_SUFFIXES
        return RAW_SUFFIXES
    from .images import IMAGE_EXTENSIONS
    return IMAGE_EXTENSIONS


def read_list_text(text: str, base: str) -> list[str]:
    """The entries of a ``.txt`` file list: one per line, ``#`` comments and blank lines
    skipped; a URL is kept as is, anything else is relative to ``base`` (a URL or folder)."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        out.append(line if "://" in line else f"{base.rstrip('/')}/{line.lstrip('/')}")
    return out


def list_remote(url: str, kind: str, options: dict | None = None
                ) -> tuple[str, list[str], list[int]]:
    """``(root, file URLs, sizes)`` of a source URL: a prefix (listed recursively) or a
    ``.txt`` list. Sizes are -1 where unknown (list entries that are missing).

    Raises
    ------
    InputError
        The endpoint cannot be reached, access is denied, the bucket does not exist, the
        ``.txt`` list cannot be read.
    """
    loc = _location(url, options)
    fs = storage.filesystem(loc)
    if loc.url.lower().endswith(".txt"):
        try:
            text = fs.cat_file(loc.path).decode("utf-8")
        except Exception as exc:
            raise InputError(f"source {url}: cannot read the file list: "
                             f"{storage.describe_error(exc)}") from None
        base = loc.url.rsplit("/", 1)[0]
        files = read_list_text(text, base)
        return base, files, _sizes(files, options)
    suffixes = _suffixes(kind)
    try:
        found = fs.find(loc.path, detail=True, refresh=True)
    except Exception as exc:
        raise InputError(f"source {url}: cannot list it: {storage.describe_error(exc)}") \
            from None
    strip = len(loc.path) + 1
    entries = []
    for path, info in found.items():
        rel = path.lstrip("/")[strip:] if path.lstrip("/") != loc.path else ""
        parts = rel.split("/")
        if (not rel or info.get("type") == "directory" or any(p.startswith(".") for p in parts)
                or os.path.splitext(parts[-1])[1].lower() not in suffixes):
            continue
        entries.append((rel, int(info.get("size") or 0)))
    entries.sort(key=lambda item: item[0])
    return loc.url, [f"{loc.url}/{rel}" for rel, _ in entries], [size for _, size in entries]


def _sizes(urls: list[str], options: dict | None) -> list[int]:
    def size(url):
        loc = _location(url, options)
        try:
            return int(storage.filesystem(loc).info(loc.path).get("size") or 0)
        except Exception:
            return -1
    if not urls:
        return []
    with ThreadPoolExecutor(min(PROBE_THREADS, len(urls))) as pool:
        return list(pool.map(size, urls))


def object_size(url: str, options: dict | None = None) -> int:
    """The size of one object in bytes, -1 when it cannot be read."""
    return _sizes([url], options)[0]


def relative_key(url: str, root: str) -> str:
    """``url`` relative to ``root`` (what records name); the URL itself when outside it."""
    prefix = root.rstrip("/") + "/"
    return url[len(prefix):] if url.startswith(prefix) and len(url) > len(prefix) else url


# --------------------------------------------------------------------------- bytes
@contextlib.contextmanager
def _as_file(data: bytes, url: str):
    """A temporary file holding ``data``, with ``url``'s suffix (parsers look at it)."""
    suffix = os.path.splitext(url.rsplit("/", 1)[-1])[1]
    with tempfile.NamedTemporaryFile(suffix=suffix, dir=_TEMP_DIR, prefix="degrade-") as handle:
        handle.write(data)
        handle.flush()
        yield handle.name


def _renamed(exc: InputError, temporary: str, url: str) -> InputError:
    return InputError(str(exc).replace(temporary, url))


def _fetch(url: str, options: dict | None, start: int = 0, length: int | None = None) -> bytes:
    loc = _location(url, options)
    try:
        if start == 0 and length is None:
            return storage.filesystem(loc).cat_file(loc.path)
        return storage.filesystem(loc).cat_file(loc.path, start=start, end=start + length)
    except FileNotFoundError:
        raise InputError(f"{url}: no such object") from None
    except Exception as exc:
        raise InputError(f"{url}: cannot read it: {storage.describe_error(exc)}") from None


def shape_from_bytes(data: bytes, url: str) -> tuple[int, int] | None:
    """(height, width) from the first bytes of an image through :mod:`.headers`; None when
    the header is not there (too short) or not understood."""
    from .headers import header_shape

    with _as_file(data, url) as path:
        try:
            return header_shape(path)
        except InputError as exc:                 # e.g. a pixel limit: name the URL
            raise _renamed(exc, path, url) from None


def decode_image_bytes(data: bytes, url: str) -> np.ndarray:
    """An image file's bytes -> float32 RGB in [0, 1], by :func:`.images.read_image`'s policy."""
    from .images import read_image

    with _as_file(data, url) as path:
        try:
            return read_image(path)
        except InputError as exc:
            raise _renamed(exc, path, url) from None


def decode_raw_bytes(data: bytes, url: str) -> tuple[np.ndarray, dict]:
    """A RAW file's bytes -> (float32 mosaic, metadata) as :func:`.raw.read_raw` gives them;
    ``meta["source_path"]`` is the URL."""
    from .raw import read_raw

    with _as_file(data, url) as path:
        try:
            raw = read_raw(path)
        except InputError as exc:
            raise _renamed(exc, path, url) from None
    meta = dict(raw.meta)
    meta["source_path"] = url
    return np.ascontiguousarray(raw.mosaic, dtype=np.float32), meta


def _shape_from_whole(data: bytes, url: str, kind: str) -> tuple[int, int]:
    if not data:
        raise InputError(f"{url}: empty object")
    if kind == "raw":
        import io
        import rawpy
        from .raw import bayer_pattern
        try:
            with rawpy.imread(io.BytesIO(data)) as raw:
                bayer_pattern(raw, url)
                return int(raw.sizes.height), int(raw.sizes.width)
        except InputError:
            raise
        except Exception as exc:
            raise InputError(f"{url}: rawpy cannot open it ({type(exc).__name__}: {exc})") \
                from None
    shape = shape_from_bytes(data, url)
    if shape is not None:
        return shape
    try:
        import io
        from PIL import Image
        with Image.open(io.BytesIO(data)) as im:
            width, height = im.size
        return int(height), int(width)
    except ImportError:
        pass
    except Exception:               # pillow's message names its in-memory file object
        raise InputError(f"{url}: not a readable image (unknown format or corrupt data)") \
            from None
    image = decode_image_bytes(data, url)
    return int(image.shape[0]), int(image.shape[1])


# --------------------------------------------------------------------------- probes, reads
def probe_remote_shape(url: str, kind: str, options: dict | None = None) -> tuple[int, int]:
    """(height, width) of one object; InputError when it cannot be used."""
    result = probe_remote_shapes([url], kind, options)[0]
    if isinstance(result, InputError):
        raise result
    return result


def probe_remote_shapes(urls: list[str], kind: str, options: dict | None = None) -> list:
    """:func:`probe_remote_shape` of every URL, in order; an unusable object gives its
    InputError instead of a shape. Header reads go out as concurrent ranged GETs
    (``cat_ranges``, per filesystem), ``PROBE_BATCH`` at a time."""
    if kind != "raw" and len(urls) > PROBE_BATCH:
        return [result for start in range(0, len(urls), PROBE_BATCH)
                for result in probe_remote_shapes(urls[start:start + PROBE_BATCH], kind, options)]
    results: list = [None] * len(urls)
    whole = list(range(len(urls))) if kind == "raw" else []
    if kind != "raw":
        pending = list(range(len(urls)))
        for nbytes in (HEAD_BYTES, LONG_HEAD_BYTES):
            heads = _ranges([urls[i] for i in pending], nbytes, options)
            retry = []
            for i, head in zip(pending, heads):
                if isinstance(head, InputError):
                    results[i] = head
                    continue
                try:
                    shape = shape_from_bytes(head, urls[i]) if head else None
                except InputError as exc:
                    results[i] = exc
                    continue
                if shape is not None:
                    results[i] = shape
                elif len(head) == nbytes and urls[i].lower().endswith((".jpg", ".jpeg")):
                    retry.append(i)                  # cut off before the start-of-frame
                else:
                    whole.append(i)
            pending = retry
        whole += pending

    def probe_whole(i):
        try:
            return _shape_from_whole(_fetch(urls[i], options), urls[i], kind)
        except InputError as exc:
            return exc
    if whole:
        with ThreadPoolExecutor(min(PROBE_THREADS, len(whole))) as pool:
            for i, result in zip(whole, pool.map(probe_whole, whole)):
                results[i] = result
    return results


def _ranges(urls: list[str], nbytes: int, options: dict | None) -> list:
    """The first ``nbytes`` of each URL (shorter objects: all of it) or an InputError."""
    out: list = [None] * len(urls)
    groups: dict = {}
    for i, url in enumerate(urls):
        loc = _location(url, options)
        groups.setdefault((loc.scheme, repr(sorted(loc.options.items()))), (loc, []))[1].append(
            (i, loc.path))
    for loc, items in groups.values():
        fs = storage.filesystem(loc)
        paths = [path for _, path in items]
        got = fs.cat_ranges(paths, [0] * len(paths), [nbytes] * len(paths), on_error="return")
        for (i, _), data in zip(items, got):
            if isinstance(data, FileNotFoundError):
                out[i] = InputError(f"{urls[i]}: no such object")
            elif isinstance(data, BaseException):
                out[i] = InputError(f"{urls[i]}: cannot read it: "
                                    f"{storage.describe_error(data)}")
            else:
                out[i] = bytes(data)
    return out


def read_remote(url: str, kind: str, options: dict | None = None) -> tuple[np.ndarray, dict]:
    """Decode one object to ``(float32 array in [0, 1], metadata dict)`` (see
    :func:`degrade.sources.folders.read_file`)."""
    data = _fetch(url, options)
    if not data:
        raise InputError(f"{url}: empty object")
    if kind == "raw":
        return decode_raw_bytes(data, url)
    return decode_image_bytes(data, url), {}
