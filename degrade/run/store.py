"""The zarr v3 training store: creation, attributes, whole-shard writes and resume detection.

The layout (names, chunk keys, shard files, the shard index) is defined in :mod:`.layout`,
which the readers share. A shard of all three arrays is written by exactly one task, in one
call per array, so no two writers ever touch one file (zarr loses samples when they do). A
file is written to a temporary name and renamed, so a shard file that exists is complete: a
shard is done when its ``hq``, ``lq`` and ``records`` files all exist, which is how a re-run
resumes.
"""
from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from pathlib import Path

import numpy as np

from .. import storage
from .._quantise import DTYPE_SCALE, dequantise  # noqa: F401  (part of the store's API)
from .._quantise import quantise as _quantise
from .layout import (FINGERPRINT_KEYS, FLAT_KEYS, StoreError, chunk_checksum, encode_index,
                     shard_file, shard_key, store_arrays)


def as_location(where) -> storage.Location:
    """A store's :class:`~degrade.storage.Location` from a Location, a path or a URL."""
    return where if isinstance(where, storage.Location) else storage.resolve(where)


def quantise(image: np.ndarray, dtype: str, out: np.ndarray | None = None) -> np.ndarray:
    """The store encoding: float32 [0, 1] -> the stored dtype,
    ``floor(clip(x, 0, 1) * scale + 0.5)`` (round half up) or float16 as is
    (:func:`degrade._quantise.quantise`, rule ``"half_up"``). ``out``: a C-contiguous
    array of ``image``'s shape and ``dtype`` to write into (a slot of a shard buffer)."""
    return _quantise(image, dtype, "half_up", out)


def compressors(name: str):
    """The zarr codec of a ``compression`` name; StoreError for an unknown one."""
    from zarr.codecs import BloscCodec, ZstdCodec
    if name == "none":
        return None
    if name == "lz4":
        return BloscCodec(cname="lz4", clevel=5, shuffle="noshuffle")
    if name == "zstd":
        return ZstdCodec(level=3)
    raise StoreError(f"compression = {name!r}: expected 'none', 'lz4' or 'zstd'")


def create_store(where, *, num: int, shard_size: int, hq_shape, lq_shape, dtypes: dict,
                 compression: str, attrs: dict, checksums: bool = True):
    """Create the group with empty ``hq``/``lq``/``records`` arrays (and one per extra
    target in ``attrs["extra_targets"]``, shaped as ``hq``, its type in ``dtypes``) and the
    attributes.

    ``checksums``: every stored chunk (a sample of hq/lq, a shard of records) ends with its
    crc32c (zarr's ``crc32c`` codec), so a damaged sample is an error, never wrong pixels;
    the decoded arrays are the same either way."""
    import zarr
    from zarr.codecs import Crc32cCodec, ZstdCodec

    group = zarr.open_group(storage.zarr_store(as_location(where)), mode="w", zarr_format=3)
    codecs = compressors(compression)
    check = [Crc32cCodec()] if checksums else []
    codecs = [c for c in (codecs,) if c is not None] + check
    shard = min(shard_size, num)
    config = {"write_empty_chunks": True}
    extra = [(name, hq_shape) for name in store_arrays(attrs)[3:]]
    for name, shape in [("hq", hq_shape), ("lq", lq_shape)] + extra:
        shape = tuple(int(n) for n in shape)
        dims = ("sample", "y", "x", "c")[: 1 + len(shape)]
        group.create_array(name, shape=(num,) + shape, dtype=dtypes[name], chunks=(1,) + shape,
                           shards=(shard,) + shape, compressors=codecs or None, config=config,
                           dimension_names=dims, fill_value=0, chunk_key_encoding=FLAT_KEYS)
    # records: one plain chunk per shard (a sharded string array costs ~13 ms per 64-sample
    # write against ~1 ms; reading one record decodes its shard's JSON, well under 1 ms)
    group.create_array("records", shape=(num,), dtype=str, chunks=(shard,),
                       compressors=[ZstdCodec(level=3)] + check, config=config,
                       dimension_names=("sample",), chunk_key_encoding=FLAT_KEYS)
    group.update_attributes(attrs)          # one metadata write (attrs.update writes per key)
    return group


def has_group(location: storage.Location) -> bool:
    """Whether ``location`` holds a zarr group (its ``zarr.json``)."""
    if location.is_local:
        return Path(location.url, "zarr.json").is_file()
    try:
        return storage.filesystem(location).isfile(location.key_path("zarr.json"))
    except FileNotFoundError:
        return False


def is_empty(location: storage.Location) -> bool:
    """Nothing at ``location`` yet (an absent or empty folder or prefix)."""
    if location.is_local:
        path = Path(location.url)
        return not path.exists() or (path.is_dir() and not any(path.iterdir()))
    return not storage.list_keys(location)


def open_store(where, mode: str = "r"):
    """Open an existing store's group; StoreError if it is not a degrade store."""
    import zarr

    location = as_location(where)
    path = location.url
    if not has_group(location):
        raise StoreError(f"{path}: not a zarr store (no zarr.json)")
    try:
        group = zarr.open_group(storage.zarr_store(location, read_only=mode == "r"), mode=mode)
    except Exception as exc:
        raise StoreError(f"{path}: cannot open the zarr group ({exc})") from None
    attrs = dict(group.attrs)
    if "degrade" not in attrs or any(name not in group for name in store_arrays(attrs)):
        raise StoreError(f"{path}: a zarr group, but not a degrade store (no degrade attributes "
                         "or no hq/lq/records arrays)")
    return group


def remove_store(where) -> None:
    """Delete an existing store (``--overwrite``); refuses folders that are not zarr stores."""
    location = as_location(where)
    if not location.is_local:
        if is_empty(location):
            return
        if not has_group(location):
            raise StoreError(f"{location.url} holds objects and is not a zarr store; refusing "
                             "to delete them (choose another --out)")
        storage.filesystem(location).rm(location.path, recursive=True)
        return
    path = Path(location.url)
    if not path.exists():
        return
    if path.is_dir() and not any(path.iterdir()):
        return
    if not (path / "zarr.json").is_file():
        raise StoreError(f"{path} exists and is not a zarr store; refusing to delete it "
                         "(choose another --out)")
    shutil.rmtree(path)


def fingerprint_mismatch(attrs: dict, wanted: dict) -> list[str]:
    """Differences between a store's attributes and the run's fingerprint, as text lines."""
    lines = []
    for key in FINGERPRINT_KEYS:
        have, want = attrs.get(key), wanted.get(key)
        if json.dumps(have, sort_keys=True) != json.dumps(want, sort_keys=True):
            if key == "recipe_hash":
                have = f"{attrs.get('recipe_name')} ({str(have)[:12]})"
                want = f"{wanted.get('recipe_name')} ({str(want)[:12]})"
            elif key == "listing_hash":
                have, want = str(have)[:12] + " (other source files)", str(want)[:12]
            lines.append(f"{key}: store has {have}, this run wants {want}")
    return lines


def done_shards(where, n_shards: int, ndims: dict) -> set[int]:
    """Shards whose objects of every array in ``ndims`` (name -> ndim, all of
    :func:`.layout.store_arrays`) exist (each written whole), from one listing."""
    from .verify import present_shards
    return present_shards(as_location(where), n_shards, ndims)


def _sample_codec(name: str):
    """The numcodecs object behind zarr's codec of the same configuration (see compressors)."""
    import numcodecs
    if name == "lz4":
        return numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.NOSHUFFLE)
    if name == "zstd":
        return numcodecs.Zstd(level=3)
    return None


def shard_parts(samples: np.ndarray, shard_len: int, compression: str,
                checksums: bool = True) -> list:
    """The buffers that make one shard file of ``hq``/``lq`` (zarr v3 ``sharding_indexed``).

    Inner chunks are single samples, encoded with the ``bytes`` codec (little endian) and the
    optional compressor, then the index (:func:`.layout.encode_index`). This is what zarr writes for the array metadata made by
    :func:`create_store` (a test compares the bytes), built in one pass: zarr's own writer
    spends ~0.15 ms of asyncio bookkeeping per inner chunk, as much as a small sample costs.
    """
    data = np.ascontiguousarray(samples, dtype=samples.dtype.newbyteorder("<"))
    count = data.shape[0]
    codec = _sample_codec(compression)
    if codec is None and not checksums:
        parts = [memoryview(data.reshape(-1).view(np.uint8))]
        lengths = np.full(count, data[0].nbytes, np.uint64)
        return parts + [encode_index(lengths, shard_len)]
    flat = data.reshape(count, -1).view(np.uint8)
    chunks = [memoryview(flat[i]) if codec is None else bytes(codec.encode(flat[i]))
              for i in range(count)]
    if checksums:          # zarr's crc32c codec: the chunk's crc32c appended
        chunks = [part for chunk in chunks for part in (chunk, chunk_checksum(chunk))]
        lengths = np.array([len(c) + 4 for c in chunks[::2]], np.uint64)
    else:
        lengths = np.array([len(c) for c in chunks], np.uint64)
    return chunks + [encode_index(lengths, shard_len)]


def encode_shard(samples: np.ndarray, shard_len: int, compression: str,
                 checksums: bool = True) -> bytes:
    """The bytes of one shard file (see :func:`shard_parts`)."""
    return b"".join(shard_parts(samples, shard_len, compression, checksums))


def _write_atomic(target: Path, parts: list) -> None:
    temporary = target.with_name(f"{target.name}.{uuid.uuid4().hex}.partial")
    try:
        handle = open(temporary, "wb")
    except FileNotFoundError:          # the array's folder does not exist yet
        target.parent.mkdir(parents=True, exist_ok=True)
        handle = open(temporary, "wb")
    with handle:
        for part in parts:
            handle.write(part)
    os.replace(temporary, target)


def records_chunk(records: list[str], shard_len: int, checksums: bool = True) -> bytes:
    """The bytes of one ``records`` chunk: zarr's ``vlen-utf8`` then ``zstd`` (level 3) codecs
    over ``shard_len`` strings (the last, partial shard padded with the fill value ``""``),
    exactly what zarr writes for this array (a test compares the bytes)."""
    import numcodecs

    items = np.array(list(records) + [""] * (shard_len - len(records)), dtype=object)
    data = bytes(numcodecs.Zstd(level=3, checksum=False).encode(numcodecs.VLenUTF8().encode(items)))
    return data + chunk_checksum(data) if checksums else data


def write_shard(where, shard: int, shard_len: int, hq: np.ndarray, lq: np.ndarray,
                records: list[str], compression: str = "none", checksums: bool = True,
                extra: dict | None = None) -> None:
    """Write one whole shard of the arrays, each object whole: a local file to a temporary
    name then renamed, an object in one PUT (see :mod:`degrade.storage`).

    Order: records, the extra targets (``extra``: name -> array), lq, hq; a shard counts as
    done only when all its objects exist.
    ``shard_len`` is the arrays' shard length (samples per shard file); ``checksums``: the
    store's chunks end with a crc32c (:func:`create_store`).
    """
    location = as_location(where)
    parts = [("records", 1, [records_chunk(records, shard_len, checksums)])] + [
        (name, data.ndim, shard_parts(data, shard_len, compression, checksums))
        for name, data in [*(extra or {}).items(), ("lq", lq), ("hq", hq)]]
    for name, ndim, chunks in parts:
        if location.is_local:
            _write_atomic(shard_file(location.url, name, shard, ndim), chunks)
        else:
            storage.put_object(location, shard_key(name, shard, ndim), chunks)


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
