"""Is every shard of a store really there? The client's check before a store is marked
complete, on a local folder or an object store alike.

A run may end with shards missing although every task reported success: a worker that wrote
into its own disk, an object store that lost a write, a shard deleted by hand. So before the
store is marked complete the client lists the store once (:func:`degrade.storage.list_objects`:
keys with sizes) and, for each expected shard, checks

* ``records``: the chunk exists and is not empty;
* ``hq``/``lq``: the shard object exists, is large enough to hold its index, has the exact
  size its samples give (uncompressed arrays), and its index (read with one ranged read per
  object, batched) passes its crc32c, has an entry inside the object for every sample of the
  shard (of the right size when uncompressed) and none past the array's end.

:func:`check_shards` returns the damaged shards with a reason each; :func:`summary` makes
the one-line error of a run that must not be marked complete.
"""
from __future__ import annotations

import numpy as np

from .. import storage
from .layout import (CHECKSUM_NBYTES, MISSING_CHUNK, chunk_checksum, decode_index, index_nbytes,
                     shard_key)

#: index reads per batch (concurrent requests on an object store)
BATCH = 256


def chunk_nbytes(shape, dtype, checksums: bool = True) -> int:
    """Stored bytes of one uncompressed sample (inner chunk) of ``shape`` and ``dtype``, with
    its crc32c when the store has ``checksums``."""
    return int(np.prod(shape)) * np.dtype(dtype).itemsize + (CHECKSUM_NBYTES if checksums else 0)


def present_shards(location: storage.Location, n_shards: int, ndims: dict) -> set[int]:
    """Shards whose objects all exist (``ndims``: ``{array: ndim}`` of hq, lq, records), from
    one listing: what a rerun skips. Each shard object is written whole (a local file by
    rename, an object by one PUT), so one that exists is complete."""
    keys = set(storage.list_keys(location))
    return {k for k in range(n_shards)
            if all(shard_key(name, k, ndim) in keys for name, ndim in ndims.items())}


def _index_problem(raw, key: str, size: int, count: int, shard_len: int,
                   sample_nbytes: int | None) -> str | None:
    if isinstance(raw, BaseException):
        return f"{key}: index unreadable ({storage.describe_error(raw)})"
    index_size = 16 * shard_len
    index = decode_index(bytes(raw), shard_len)
    if index is None:
        return f"{key}: shard index is truncated or corrupt (crc32c mismatch)"
    offsets, lengths = index[:count, 0], index[:count, 1]
    if (offsets == MISSING_CHUNK).any():
        return f"{key}: sample {int(np.argmax(offsets == MISSING_CHUNK))} of the shard is missing"
    if (offsets + lengths > size - index_size - 4).any():
        return f"{key}: the index points past the data"
    if sample_nbytes is not None and (lengths != sample_nbytes).any():
        return f"{key}: a sample has {int(lengths[lengths != sample_nbytes][0])} bytes, " \
               f"expected {sample_nbytes}"
    if (index[count:, 0] != MISSING_CHUNK).any():
        return f"{key}: entries past the array's end"
    return None


def check_shards(location: storage.Location, *, num: int, shard_len: int, arrays: dict,
                 shards=None, records_checksums: bool = False) -> dict:
    """``{shard: reason}`` of every shard that is missing or damaged; {} when all are whole.

    Parameters
    ----------
    location : Location
        The store.
    num, shard_len : int
        Samples in the store and per shard.
    arrays : dict
        ``{"hq": (ndim, sample_nbytes), "lq": (ndim, sample_nbytes)}``: the arrays' number of
        dimensions (with the sample axis) and the stored bytes of one sample, None for a
        compressed array (sizes then vary).
    shards : iterable of int or None
        The shards to check (default: all).
    records_checksums : bool
        Also read each shard's ``records`` chunk (small: one per shard) and check its crc32c:
        a resume reads the records of the shards it keeps, so a damaged chunk must be made
        again, not trusted.
    """
    objects = storage.list_objects(location)
    n_shards = -(-num // shard_len)
    problems: dict = {}
    reads = []                           # (shard, key, size, count, sample_nbytes)
    record_reads = []                    # (shard, key, size)
    for k in (range(n_shards) if shards is None else shards):
        count = min(shard_len, num - k * shard_len)
        key = shard_key("records", k, 1)
        if not objects.get(key):
            problems[k] = f"{key} is missing" if key not in objects else f"{key} is empty"
            continue
        if records_checksums:
            record_reads.append((k, key, objects[key]))
        for name, (ndim, sample_nbytes) in arrays.items():
            key = shard_key(name, k, ndim)
            size = objects.get(key)
            if size is None:
                problems[k] = f"{key} is missing"
                break
            index_size = index_nbytes(shard_len)
            expected = None if sample_nbytes is None else count * sample_nbytes + index_size
            if size < index_size or (expected is not None and size != expected):
                problems[k] = f"{key} has {size} bytes, expected " + (
                    f"{expected}" if expected is not None else f">= {index_size}")
                break
            reads.append((k, key, size, count, sample_nbytes))
    reader = storage.RangeReader(location)
    try:
        for start in range(0, len(reads), BATCH):
            batch = [r for r in reads[start:start + BATCH] if r[0] not in problems]
            got = reader.read_many([(key, size - index_nbytes(shard_len), index_nbytes(shard_len))
                                    for _, key, size, _, _ in batch])
            for (k, key, size, count, sample_nbytes), raw in zip(batch, got):
                reason = _index_problem(raw, key, size, count, shard_len, sample_nbytes)
                if reason and k not in problems:
                    problems[k] = reason
        for start in range(0, len(record_reads), BATCH):
            batch = [r for r in record_reads[start:start + BATCH] if r[0] not in problems]
            got = reader.read_many([(key, 0, size) for _, key, size in batch])
            for (k, key, _), raw in zip(batch, got):
                if isinstance(raw, BaseException):
                    problems[k] = f"{key} is missing"
                elif _chunk_problem(raw, True):
                    problems[k] = f"{key}: fails its crc32c"
    finally:
        reader.close()
    return dict(sorted(problems.items()))


def summary(problems: dict, n_shards: int, store: str, limit: int = 5) -> str:
    """One line for a run whose store is not whole: how many shards, the first few reasons,
    and what to do."""
    shown = "; ".join(f"shard {k}: {reason}" for k, reason in list(problems.items())[:limit])
    more = f"; and {len(problems) - limit} more" if len(problems) > limit else ""
    return (f"{store}: {len(problems)} of {n_shards} shard(s) missing or damaged after the run "
            f"({shown}{more}); the store is not marked complete: run the same command again "
            "to make them")


def _chunk_problem(data: bytes, checksums: bool) -> str | None:
    if checksums and (len(data) < CHECKSUM_NBYTES
                      or chunk_checksum(data[:-CHECKSUM_NBYTES]) != data[-CHECKSUM_NBYTES:]):
        return "fails its crc32c"
    return None


def _records_problem(data: bytes, count: int, checksums: bool) -> str | None:
    import json

    import numcodecs

    if _chunk_problem(data, checksums):
        return "fails its crc32c"
    body = data[:-CHECKSUM_NBYTES] if checksums else data
    try:
        texts = numcodecs.VLenUTF8().decode(numcodecs.Zstd().decode(body))
    except Exception as exc:            # the chunk does not decode
        return f"does not decode ({type(exc).__name__})"
    for j in range(count):
        try:
            json.loads(str(texts[j]))
        except ValueError:
            return f"record {j} of the shard is not valid JSON"
    return None


def verify_store(location: storage.Location, *, num: int, shard_len: int, arrays: dict,
                 checksums: bool) -> dict:
    """``{shard: reason}`` of every damaged shard, checking everything: :func:`check_shards`
    (presence, sizes, indexes), then each shard read whole: every sample's crc32c (stores
    with ``checksums``) and every record decoded and parsed (``degrade inspect --verify``).
    ``arrays`` as for :func:`check_shards`."""
    problems = check_shards(location, num=num, shard_len=shard_len, arrays=arrays)
    for k in range(-(-num // shard_len)):
        if k in problems:
            continue
        count = min(shard_len, num - k * shard_len)
        key = shard_key("records", k, 1)
        reason = _records_problem(storage.get_object(location, key), count, checksums)
        if reason:
            problems[k] = f"{key}: {reason}"
            continue
        for name, (ndim, _) in arrays.items():
            key = shard_key(name, k, ndim)
            data = storage.get_object(location, key)
            index = decode_index(data[-index_nbytes(shard_len):], shard_len)
            bad = [j for j, (offset, nbytes) in enumerate(index[:count])
                   if _chunk_problem(data[int(offset):int(offset + nbytes)], checksums)]
            if bad:
                problems[k] = f"{key}: sample {k * shard_len + bad[0]} fails its crc32c" + (
                    f" (and {len(bad) - 1} more)" if len(bad) > 1 else "")
                break
    return dict(sorted(problems.items()))
