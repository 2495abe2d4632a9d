"""A store is only marked complete when every shard is in it, whole: a shard a worker
"wrote" but that never arrived fails the run naming it (the store stays unfinished) and a
rerun makes it; a damaged finished shard is made again on resume; readers refuse missing
samples instead of returning fill values."""
from __future__ import annotations

import numpy as np
import pytest
import zarr

import degrade
from degrade.run import store, tasks
from degrade.run.layout import StoreError, shard_file

RECIPE, NUM, SHARD = "simple_x2", 12, 4


def _generate(out, **kw):
    return degrade.generate(RECIPE, None, str(out), num=NUM, shard_size=SHARD, workers=2,
                            scheduler="threads", progress=False, **kw)


def _arrays(out):
    group = zarr.open_group(str(out), mode="r")
    return group["hq"][:], group["lq"][:], [str(t) for t in group["records"][:]], \
        group.attrs["complete"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "ref.zarr"
    _generate(out)
    return _arrays(out)


def test_a_lost_shard_fails_the_run_and_a_rerun_makes_it(tmp_path, reference, monkeypatch):
    out = tmp_path / "lost.zarr"
    real = tasks.write_shard

    def lose_shard_1(where, shard, *args):
        if shard != 1:                 # the task reports success, the shard never arrives
            real(where, shard, *args)
    monkeypatch.setattr(tasks, "write_shard", lose_shard_1)
    with pytest.raises(StoreError, match=r"1 of 3 shard\(s\) missing.*shard 1: records/c.1 is "
                                         r"missing.*run the same command again"):
        _generate(out)
    assert _arrays(out)[3] is False
    monkeypatch.setattr(tasks, "write_shard", real)
    summary = _generate(out)
    assert summary["shards_written"] == 1
    got = _arrays(out)
    for a, b in zip(got[:3], reference[:3]):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert got[3] is True


def test_damaged_finished_shards_are_made_again(tmp_path, reference):
    out = tmp_path / "damaged.zarr"
    _generate(out)
    hq2 = shard_file(out, "hq", 2, 4)
    hq2.write_bytes(hq2.read_bytes()[:-7])                  # truncated: the index is gone
    lq0 = shard_file(out, "lq", 0, 4)
    data = bytearray(lq0.read_bytes())
    data[-9] ^= 0xFF                                        # a flipped bit in the index
    lq0.write_bytes(bytes(data))
    untouched = shard_file(out, "hq", 1, 4).stat().st_mtime_ns
    summary = _generate(out)
    assert summary["shards_written"] == 2 and summary["shards_reused"] == 1
    assert shard_file(out, "hq", 1, 4).stat().st_mtime_ns == untouched
    got = _arrays(out)
    for a, b in zip(got[:3], reference[:3]):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_a_truncated_records_chunk_is_made_again_on_resume(tmp_path, reference):
    """A resume reads the records of the shards it keeps: a damaged records chunk is found by
    its checksum and the shard made again, instead of a crash in the middle of the resume."""
    out = tmp_path / "records.zarr"
    _generate(out)
    rec1 = shard_file(out, "records", 1, 1)
    rec1.write_bytes(rec1.read_bytes()[: len(rec1.read_bytes()) // 2])
    summary = _generate(out)
    assert summary["shards_written"] == 1 and summary["shards_reused"] == 2
    got = _arrays(out)
    for a, b in zip(got[:3], reference[:3]):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_writer_signature_takes_a_path_or_a_location(tmp_path):
    from degrade import storage
    out = tmp_path / "s.zarr"
    store.create_store(out, num=4, shard_size=2, hq_shape=(3, 2), lq_shape=(3, 2),
                       dtypes={"hq": "uint8", "lq": "uint8"}, compression="none", attrs={})
    hq = np.arange(12, dtype=np.uint8).reshape(2, 3, 2)
    store.write_shard(storage.resolve(out), 1, 2, hq, hq, ["a", "b"])
    store.write_shard(str(out), 0, 2, hq, hq, ["c", "d"])
    assert store.done_shards(out, 2, {"hq": 3, "lq": 3, "records": 1}) == {0, 1}
    np.testing.assert_array_equal(zarr.open_array(str(out), path="hq", mode="r")[2:], hq)


def test_inspect_verify_finds_a_flipped_bit(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "v.zarr"
    _generate(out)
    command = [sys.executable, "-m", "degrade.cli", "inspect", str(out), "--verify",
               "--no-recipe"]
    ok = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "all whole" in ok.stdout, ok.stderr
    hq1 = shard_file(out, "hq", 1, 4)
    data = bytearray(hq1.read_bytes())
    data[100] ^= 0x04                          # inside sample 4: sizes and index still fine
    hq1.write_bytes(bytes(data))
    records = shard_file(out, "records", 2, 1)
    data = bytearray(records.read_bytes())
    data[20] ^= 0x01
    records.write_bytes(bytes(data))
    bad = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1
    assert bad.stderr.count("\n") == 1 and bad.stderr.startswith("error: ")
    assert "2 shard(s) damaged" in bad.stderr and "sample 4 fails its crc32c" in bad.stdout
    assert "records/c.2: fails its crc32c" in bad.stdout
