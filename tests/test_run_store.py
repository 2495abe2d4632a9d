"""The store writer: shard files equal zarr's own, every codec reads back, quantisation."""
from __future__ import annotations

import json

import numpy as np
import pytest
import zarr

from degrade.run.store import (create_store, dequantise, done_shards, encode_shard, quantise,
                               records_chunk, shard_file, write_shard)
from naive import quantise_reference


def _store(path, dtype, compression, num=7, shard=3, shape=(5, 4, 3)):
    return create_store(path, num=num, shard_size=shard, hq_shape=shape, lq_shape=shape[:2],
                        dtypes={"hq": dtype, "lq": dtype}, compression=compression,
                        attrs={"degrade": {}})


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float16"])
def test_shard_files_are_byte_identical_to_zarrs_own_writer(tmp_path, dtype):
    rng = np.random.default_rng(0)
    data = (rng.random((7, 5, 4, 3)) * 200 + 1).astype(dtype)   # no all-zero chunk
    _store(tmp_path / "zarr.zarr", dtype, "none")
    zarr.open_array(str(tmp_path / "zarr.zarr"), path="hq", mode="r+")[:] = data
    for shard, (a, b) in enumerate([(0, 3), (3, 6), (6, 7)]):   # the last shard is partial
        ours = encode_shard(data[a:b], 3, "none")
        assert ours == shard_file(tmp_path / "zarr.zarr", "hq", shard, 4).read_bytes()


def test_records_chunks_are_byte_identical_to_zarrs_own_writer(tmp_path):
    records = [json.dumps({"index": i, "sigma": 0.1 * i, "name": "é"}) for i in range(7)]
    _store(tmp_path / "zarr.zarr", "uint8", "none")
    zarr.open_array(str(tmp_path / "zarr.zarr"), path="records", mode="r+")[:] = \
        np.array(records, dtype=object)
    for shard, (a, b) in enumerate([(0, 3), (3, 6), (6, 7)]):   # the last shard is partial
        ours = records_chunk(records[a:b], 3)
        assert ours == shard_file(tmp_path / "zarr.zarr", "records", shard, 1).read_bytes()


@pytest.mark.parametrize("compression", ["none", "lz4", "zstd"])
@pytest.mark.parametrize("dtype", ["uint8", "uint16"])
def test_written_shards_read_back_exactly(tmp_path, compression, dtype):
    rng = np.random.default_rng(1)
    hq = (rng.random((7, 5, 4, 3)) * 60000).astype(dtype)
    lq = (rng.random((7, 5, 4)) * 60000).astype(dtype)
    path = tmp_path / "s.zarr"
    _store(path, dtype, compression)
    for shard, (a, b) in enumerate([(0, 3), (3, 6), (6, 7)]):
        write_shard(path, shard, 3, hq[a:b], lq[a:b], [f'{{"i":{i}}}' for i in range(a, b)],
                    compression)
    g = zarr.open_group(str(path), mode="r")
    assert np.array_equal(g["hq"][:], hq) and np.array_equal(g["lq"][:], lq)
    assert np.array_equal(g["hq"][4], hq[4]) and str(g["records"][6]) == '{"i":6}'
    assert done_shards(path, 3, {"hq": 4, "lq": 3, "records": 1}) == {0, 1, 2}
    assert not list(path.rglob("*.partial"))


def test_done_needs_all_three_files(tmp_path):
    path = tmp_path / "s.zarr"
    _store(path, "uint8", "none")
    write_shard(path, 1, 3, np.ones((3, 5, 4, 3), np.uint8), np.ones((3, 5, 4), np.uint8),
                ["{}"] * 3)
    assert done_shards(path, 3, {"hq": 4, "lq": 3, "records": 1}) == {1}
    shard_file(path, "hq", 1, 4).unlink()
    assert done_shards(path, 3, {"hq": 4, "lq": 3, "records": 1}) == set()


@pytest.mark.parametrize("dtype, scale", [("uint8", 255), ("uint16", 65535)])
def test_quantise_kernel_matches_numpy_bit_for_bit(dtype, scale):
    rng = np.random.default_rng(3)
    x = (rng.random((37, 29, 3), dtype=np.float32) * 1.4 - 0.2)
    ties = (np.arange(scale + 1, dtype=np.float32) + np.float32(0.5)) / np.float32(scale)
    specials = np.array([np.nan, -np.inf, np.inf, 0.0, 1.0, -0.0, 1e-8, 1 - 1e-7], np.float32)
    for values in (x, ties, specials):
        assert np.array_equal(quantise(values, dtype), quantise_reference(values, scale, dtype))


def test_quantise_rounds_half_up_and_clips():
    x = np.array([-0.2, 0.0, 0.5 / 255, 0.49 / 255, 1.0, 1.3, 254.5 / 255], np.float32)
    assert quantise(x, "uint8").tolist() == [0, 0, 1, 0, 255, 255, 255]
    assert quantise(np.float32([0.5]), "uint16").tolist() == [32768]
    assert quantise(np.float32([1.5]), "float16").tolist() == [1.5]      # float16 keeps range
    levels = np.arange(256, dtype=np.float32) / 255
    assert np.array_equal(quantise(levels, "uint8"), np.arange(256))
    assert np.array_equal(dequantise(quantise(levels, "uint8")), levels)


def test_replay_of_an_unwritten_sample_is_refused(tmp_path):
    from degrade.run import StoreError, replay_sample
    _store(tmp_path / "e.zarr", "uint8", "none")
    with pytest.raises(StoreError, match="sample 2 has not been written yet"):
        replay_sample(tmp_path / "e.zarr", 2)


def test_record_metadata_keeps_only_what_json_can_hold():
    from degrade.run.job import json_meta, record_json
    meta = {"levels": np.array([64.0, 1023.0]), "gain": np.float32(1.5), "size": (4, 6),
            "name": "x", 7: True}
    kept = json_meta(meta)
    assert kept == {"levels": [64.0, 1023.0], "gain": 1.5, "size": [4, 6], "name": "x", "7": True}
    # one bad value (not JSON, or NaN) drops that key only
    bad = json_meta({**meta, "handle": object(), "nan": float("nan")})
    assert bad == kept
    assert json.loads(record_json({"b": 1, "meta": kept})) == {"b": 1, "meta": kept}
    assert record_json({"b": 1, "a": [0.5]}) == '{"a":[0.5],"b":1}'
