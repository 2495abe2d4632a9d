"""degrade.run.verify: a store made by the engine checks whole, locally and copied to a real S3
server; missing, truncated and corrupted shards are each found and named."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from s3server import upload_tree

from degrade import storage
from degrade.run import verify as store_check

NUM, SHARD = 10, 4          # 3 shards, the last one partial (2 samples)


@pytest.fixture(scope="module")
def made_store(tmp_path_factory):
    import degrade
    import zarr

    out = tmp_path_factory.mktemp("check") / "made.zarr"
    degrade.generate("simple_x2", None, str(out), num=NUM, shard_size=SHARD, progress=False)
    group = zarr.open_group(str(out), mode="r")
    arrays = {name: (group[name].ndim, store_check.chunk_nbytes(group[name].shape[1:],
                                                                group[name].dtype))
              for name in ("hq", "lq")}
    return out, arrays


@pytest.fixture(params=["local", "s3"])
def store(request, made_store, tmp_path):
    src, arrays = made_store
    if request.param == "local":
        location = storage.resolve(tmp_path / "copy.zarr")
    else:
        server = request.getfixturevalue("s3_server")
        bucket = request.getfixturevalue("s3_bucket")
        location = storage.resolve(f"s3://{bucket}/copy.zarr", server.storage_options())
    upload_tree(src, location)
    return location, arrays


def check(location, arrays, **kw):
    return store_check.check_shards(location, num=NUM, shard_len=SHARD, arrays=arrays, **kw)


def test_whole_store(store):
    location, arrays = store
    assert check(location, arrays) == {}
    assert store_check.shard_key("hq", 2, 4) == "hq/c.2.0.0.0"


def test_damage_is_found(store):
    location, arrays = store
    ndim = arrays["hq"][0]
    storage.delete_object(location, "records/c.0")
    shard1 = storage.get_object(location, store_check.shard_key("lq", 1, ndim))
    storage.put_object(location, store_check.shard_key("lq", 1, ndim), shard1[:-10])
    shard2 = bytearray(storage.get_object(location, store_check.shard_key("hq", 2, ndim)))
    shard2[-30] ^= 0xFF                                   # a bit flip inside the index
    storage.put_object(location, store_check.shard_key("hq", 2, ndim), bytes(shard2))
    problems = check(location, arrays)
    assert problems == {
        0: "records/c.0 is missing",
        1: f"lq/c.1.0.0.0 has {len(shard1) - 10} bytes, expected {len(shard1)}",
        2: "hq/c.2.0.0.0: shard index is truncated or corrupt (crc32c mismatch)"}
    assert check(location, arrays, shards=[1]) == {1: problems[1]}
    ndims = {"hq": ndim, "lq": ndim, "records": 1}
    assert store_check.present_shards(location, 3, ndims) == {1, 2}    # presence only
    if location.is_local:                            # the same answer as the engine's resume
        from degrade.run.store import done_shards
        assert done_shards(location.url, 3, ndims) == {1, 2}
    line = store_check.summary(problems, 3, location.url, limit=2)
    assert line.startswith(f"{location.url}: 3 of 3 shard(s) missing or damaged after the run "
                           "(shard 0: records/c.0 is missing; shard 1: ")
    assert "; and 1 more); the store is not marked complete" in line and "\n" not in line


def test_index_that_misses_a_sample(store):
    """A well-formed shard (valid crc) whose index lacks a sample is not complete."""
    import google_crc32c

    location, arrays = store
    ndim, nbytes = arrays["hq"]
    key = store_check.shard_key("hq", 0, ndim)
    data = bytearray(storage.get_object(location, key))
    index = np.frombuffer(bytes(data[-(16 * SHARD + 4):-4]), "<u8").reshape(-1, 2).copy()
    index[3] = 2**64 - 1
    raw = index.tobytes()
    data[-(16 * SHARD + 4):] = raw + np.array([google_crc32c.value(raw)], "<u4").tobytes()
    storage.put_object(location, key, bytes(data))
    assert check(location, arrays) == {0: f"{key}: sample 3 of the shard is missing"}
