"""Resuming a store: what an earlier run of the same job left (its shard size, the files
its shards replaced), read back without re-running anything."""
from __future__ import annotations

import json

from .. import storage
from .job import Context


def stored_shard_size(location: storage.Location) -> int | None:
    """The shard size an existing degrade store at ``location`` was made with, if any (a
    re-run without ``shard_size`` resumes it whatever the default was then)."""
    try:
        value = json.loads(storage.get_object(location, "zarr.json"))["attributes"]["shard_size"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def recorded_failures(location: storage.Location, ctx: Context, shards: list[int]) -> list[dict]:
    """Decode failures of shards made by an earlier run, read back from their records."""
    if not shards:
        return []
    import zarr

    records = zarr.open_array(storage.zarr_store(location, read_only=True), path="records",
                              mode="r")
    file_of = {(int(s), rel): f for f, (s, rel) in enumerate(zip(ctx.file_source, ctx.rel_paths))}
    found = []
    for start, stop in sample_blocks(shards, ctx.shard_size, ctx.num):
        for text in records[start:stop]:     # one read per block of consecutive shards
            if '"replaces"' not in text:     # most records: nothing to parse
                continue
            source = json.loads(str(text)).get("source", {})
            for rel in source.get("replaces", []):
                found.append({"path": ctx.files[file_of[(source["source"], rel)]],
                              "reason": "could not be decoded (replaced in an earlier run)"})
    return found


def sample_blocks(shards: list[int], size: int, num: int, most: int = 64):
    """(start, stop) sample ranges covering ``shards`` (sorted): runs of consecutive shards,
    at most ``most`` shards each (a resumed 8192-sample store read its records in 0.35 s one
    shard at a time)."""
    run_start = previous = None
    for k in list(shards) + [None]:
        if k is not None and previous is not None and k == previous + 1 \
                and k - run_start < most:
            previous = k
            continue
        if run_start is not None:
            yield run_start * size, min((previous + 1) * size, num)
        run_start = previous = k


def unique_failures(failures: list[dict]) -> list[dict]:
    seen, out = set(), []
    for failure in sorted(failures, key=lambda f: f["path"]):
        if failure["path"] not in seen:
            seen.add(failure["path"])
            out.append({"path": failure["path"], "reason": failure["reason"]})
    return out
