"""What one dask task does: make the samples of one shard and write the whole shard.

A shard task is a pure function of (context, shard): its samples come from
:func:`.job.make_sample`, so a shard has the same bits whichever worker, scheduler or
partition makes it, and whenever.
"""
from __future__ import annotations

import os
import threading

import numpy as np

from .._errors import InputError
from .job import Context, FileCache, make_sample, record_json
from .store import quantise, write_shard


def _store_into(out: np.ndarray, array: np.ndarray, name: str, ctx: Context, index: int,
                path: str) -> None:
    """Quantise sample ``index``'s ``name`` array into its slot ``out`` of the shard."""
    want = ctx.shapes[name]
    if tuple(array.shape) != tuple(want):
        raise InputError(
            f"sample {index} ({path}): {name} has shape {tuple(array.shape)}, the store holds "
            f"{tuple(want)}; a store needs fixed-size samples: give the recipe a target size "
            "(target: size: ...) or use patches (--patch-size)")
    quantise(array, ctx.dtypes[name], out=out)


def run_shard(ctx: Context, shard: int, file_ids: np.ndarray, cells: np.ndarray) -> dict:
    """Make the samples of one shard and write its arrays whole. Returns a summary."""
    import cv2
    cv2.setNumThreads(1)
    start = shard * ctx.shard_size
    count = len(file_ids)
    buffers = ctx.run_state().shard_arrays(ctx, count)       # hq, lq, then extra targets
    records = [""] * count
    failures = []
    cache = FileCache(ctx)
    for k in np.argsort(file_ids, kind="stable"):   # group by file: each decoded once
        index = start + int(k)
        sample, record, failed = make_sample(ctx, index, int(file_ids[k]), int(cells[k]), cache)
        path = record["source"]["path"]
        for name, buffer in buffers.items():
            array = sample.hq if name == "hq" else sample.lq if name == "lq" else sample.extra[name]
            _store_into(buffer[k], array, name, ctx, index, path)
        records[k] = record_json(record)
        failures.extend(failed)
    hq, lq = buffers.pop("hq"), buffers.pop("lq")
    extra = {"extra": buffers} if buffers else {}    # extra targets, when the recipe has any
    if not ctx.checksums:           # a store made before chunks had checksums
        extra["checksums"] = False
    where = ctx.location
    # a local store goes by its path (what write_shard has always been given)
    write_shard(where.url if where.is_local else where, shard, ctx.shard_size, hq, lq, records,
                ctx.compression, **extra)
    return {"shard": shard, "samples": count,
            "bytes": hq.nbytes + lq.nbytes + sum(b.nbytes for b in buffers.values()),
            "failures": failures, "worker": f"{os.getpid()}:{threading.get_ident()}"}
