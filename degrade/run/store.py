"""The zarr v3 training store: layout, attributes, whole-shard writes and resume detection.

Layout of a store (a directory, zarr v3 group)::

    hq       (N, H, W, C) or (N, H, W)   one chunk per sample, shards of S samples (hq/c.K.0.0.0)
    lq       (N, h, w, C) or (N, h, w)   same sharding
    records  (N,) string                 one JSON document per sample; one chunk per shard
    zarr.json                            the group attributes (see :func:`new_attributes`)

A shard of all three arrays is written by exactly one task, in one call per array, so no two
writers ever touch one file (zarr loses samples when they do). ``LocalStore`` writes a file
to a temporary name and renames it, so a shard file that exists is complete: a shard is done
when its ``hq``, ``lq`` and ``records`` files all exist, which is how a re-run resumes.
"""
from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from pathlib import Path

import numpy as np

from .._errors import DegradeError

STORE_FORMAT = 1
ARRAYS = ("hq", "lq", "records")
#: v3 "default" chunk keys with "." separators: every shard file sits directly in its
#: array's folder (``hq/c.12.0.0.0``) instead of nested folders (``hq/c/12/0/0/0``), which
#: saves ~3 mkdir calls per file (0.25 ms each here); readers see no difference.
FLAT_KEYS = {"name": "default", "separator": "."}
MISSING_CHUNK = np.uint64(2**64 - 1)   #: index entry of an absent inner chunk
#: stored value = round(clip(x, 0, 1) * scale) for the integer dtypes; float16 stores x as is.
DTYPE_SCALE = {"uint8": 255, "uint16": 65535, "float16": 1}
#: keys of the attributes that must match for a re-run to resume into an existing store
FINGERPRINT_KEYS = ("store_format", "recipe_hash", "seed", "num", "shard_size", "dtype",
                    "listing_hash", "patches", "compression",
                    "plugins")   # packages of plugin ops (degrade._registry.store_provenance)


class StoreError(DegradeError):
    """An output store cannot be created, resumed or read."""


def quantise(image: np.ndarray, dtype: str, out: np.ndarray | None = None) -> np.ndarray:
    """float32 [0, 1] -> the stored dtype: ``floor(clip(x, 0, 1) * scale + 0.5)`` or float16.

    ``out``: a C-contiguous array of ``image``'s shape and ``dtype`` to write into (a slot of
    a shard buffer) instead of a new array.
    """
    src = np.asarray(image) if dtype == "float16" else np.ascontiguousarray(image, np.float32)
    if out is None:
        out = np.empty(src.shape, dtype=dtype)
    elif out.shape != src.shape or out.dtype != np.dtype(dtype) or not out.flags.c_contiguous:
        raise ValueError(f"quantise: out is {out.dtype}{out.shape}, expected a C-contiguous "
                         f"{dtype}{src.shape}")
    if dtype == "float16":
        out[...] = src
        return out
    _quantise_kernel()(src.reshape(-1), _SCALES[dtype], out.reshape(-1))
    return out


_SCALES = {name: np.float32(scale) for name, scale in DTYPE_SCALE.items()}


def _quantise_kernel():
    """The numba kernel, imported on first use (readers of a store need no numba)."""
    global _KERNEL
    if _KERNEL is None:
        from .._nb.quantise import _quantise_kernel as kernel
        _KERNEL = kernel
    return _KERNEL


_KERNEL = None


def dequantise(stored: np.ndarray) -> np.ndarray:
    """The stored array back to float32 in [0, 1]."""
    if stored.dtype == np.float16:
        return stored.astype(np.float32)
    return stored.astype(np.float32) / np.float32(DTYPE_SCALE[str(stored.dtype)])


def _compressors(name: str):
    from zarr.codecs import BloscCodec, ZstdCodec
    if name == "none":
        return None
    if name == "lz4":
        return BloscCodec(cname="lz4", clevel=5, shuffle="noshuffle")
    if name == "zstd":
        return ZstdCodec(level=3)
    raise StoreError(f"compression = {name!r}: expected 'none', 'lz4' or 'zstd'")


def create_store(path, *, num: int, shard_size: int, hq_shape, lq_shape, dtypes: dict,
                 compression: str, attrs: dict):
    """Create the group with empty ``hq``/``lq``/``records`` arrays and the attributes."""
    import zarr
    from zarr.codecs import ZstdCodec

    group = zarr.open_group(str(path), mode="w", zarr_format=3)
    compressors = _compressors(compression)
    shard = min(shard_size, num)
    config = {"write_empty_chunks": True}
    for name, shape in (("hq", hq_shape), ("lq", lq_shape)):
        shape = tuple(int(n) for n in shape)
        dims = ("sample", "y", "x", "c")[: 1 + len(shape)]
        group.create_array(name, shape=(num,) + shape, dtype=dtypes[name], chunks=(1,) + shape,
                           shards=(shard,) + shape, compressors=compressors, config=config,
                           dimension_names=dims, fill_value=0, chunk_key_encoding=FLAT_KEYS)
    # records: one plain chunk per shard (a sharded string array costs ~13 ms per 64-sample
    # write against ~1 ms; reading one record decodes its shard's JSON, well under 1 ms)
    group.create_array("records", shape=(num,), dtype=str, chunks=(shard,),
                       compressors=ZstdCodec(level=3), config=config,
                       dimension_names=("sample",), chunk_key_encoding=FLAT_KEYS)
    group.update_attributes(attrs)          # one metadata write (attrs.update writes per key)
    return group


def open_store(path, mode: str = "r"):
    """Open an existing store's group; StoreError if it is not a degrade store."""
    import zarr

    path = Path(path)
    if not (path / "zarr.json").is_file():
        raise StoreError(f"{path}: not a zarr store (no zarr.json)")
    try:
        group = zarr.open_group(str(path), mode=mode)
    except Exception as exc:
        raise StoreError(f"{path}: cannot open the zarr group ({exc})") from None
    attrs = dict(group.attrs)
    if "degrade" not in attrs or any(name not in group for name in ARRAYS):
        raise StoreError(f"{path}: a zarr group, but not a degrade store (no degrade attributes "
                         "or no hq/lq/records arrays)")
    return group


def remove_store(path) -> None:
    """Delete an existing store (``--overwrite``); refuses folders that are not zarr stores."""
    path = Path(path)
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


def shard_file(path, array: str, shard: int, ndim: int) -> Path:
    """The file of shard ``shard`` of ``array``: ``ARRAY/c.K.0.0...`` (``FLAT_KEYS``)."""
    return Path(path, array, ".".join(["c", str(shard)] + ["0"] * (ndim - 1)))


def done_shards(path, n_shards: int, ndims: dict) -> set[int]:
    """Shards whose hq, lq and records files all exist (each written atomically)."""
    return {k for k in range(n_shards)
            if all(shard_file(path, name, k, ndims[name]).is_file() for name in ARRAYS)}


def _sample_codec(name: str):
    """The numcodecs object behind zarr's codec of the same configuration (see _compressors)."""
    import numcodecs
    if name == "lz4":
        return numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.NOSHUFFLE)
    if name == "zstd":
        return numcodecs.Zstd(level=3)
    return None


def shard_parts(samples: np.ndarray, shard_len: int, compression: str) -> list:
    """The buffers that make one shard file of ``hq``/``lq`` (zarr v3 ``sharding_indexed``).

    Inner chunks are single samples, encoded with the ``bytes`` codec (little endian) and the
    optional compressor; the index, at the end, holds ``(offset, nbytes)`` as little-endian
    uint64 per chunk in sample order (``2**64 - 1`` for chunks past the array's end) followed
    by its crc32c. This is what zarr writes for the array metadata made by
    :func:`create_store` (a test compares the bytes), built in one pass: zarr's own writer
    spends ~0.15 ms of asyncio bookkeeping per inner chunk, as much as a small sample costs.
    """
    import google_crc32c

    data = np.ascontiguousarray(samples, dtype=samples.dtype.newbyteorder("<"))
    count = data.shape[0]
    codec = _sample_codec(compression)
    if codec is None:
        parts = [memoryview(data.reshape(-1).view(np.uint8))]
        lengths = np.full(count, data[0].nbytes, np.uint64)
    else:
        parts = [bytes(codec.encode(data[i].reshape(-1).view(np.uint8))) for i in range(count)]
        lengths = np.array([len(p) for p in parts], np.uint64)
    index = np.full((shard_len, 2), MISSING_CHUNK, dtype="<u8")
    index[:count, 1] = lengths
    index[:count, 0] = np.cumsum(lengths) - lengths
    index_bytes = index.tobytes()
    checksum = np.array([google_crc32c.value(index_bytes)], dtype="<u4").tobytes()
    return parts + [index_bytes, checksum]


def encode_shard(samples: np.ndarray, shard_len: int, compression: str) -> bytes:
    """The bytes of one shard file (see :func:`shard_parts`)."""
    return b"".join(shard_parts(samples, shard_len, compression))


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


def records_chunk(records: list[str], shard_len: int) -> bytes:
    """The bytes of one ``records`` chunk: zarr's ``vlen-utf8`` then ``zstd`` (level 3) codecs
    over ``shard_len`` strings (the last, partial shard padded with the fill value ``""``),
    exactly what zarr writes for this array (a test compares the bytes)."""
    import numcodecs

    items = np.array(list(records) + [""] * (shard_len - len(records)), dtype=object)
    return bytes(numcodecs.Zstd(level=3, checksum=False).encode(numcodecs.VLenUTF8().encode(items)))


def write_shard(path, shard: int, shard_len: int, hq: np.ndarray, lq: np.ndarray,
                records: list[str], compression: str = "none") -> None:
    """Write one whole shard of the three arrays, each file atomically (temporary + rename).

    Order: records, lq, hq; a shard counts as done only when all three files exist.
    ``shard_len`` is the arrays' shard length (samples per shard file).
    """
    _write_atomic(shard_file(path, "records", shard, 1), [records_chunk(records, shard_len)])
    for name, data in (("lq", lq), ("hq", hq)):
        _write_atomic(shard_file(path, name, shard, data.ndim),
                      shard_parts(data, shard_len, compression))


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
