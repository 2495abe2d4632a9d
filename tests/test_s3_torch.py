"""PairDataset over a store on a real S3 server (tests/s3server.py): the same samples as the
local store, in DataLoader workers started by fork and by spawn; a damaged or missing
sample is a StoreError (crc32c, index), never fill values, with either backend."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from s3server import upload_tree  # noqa: E402

from degrade import storage  # noqa: E402
from degrade.run.layout import StoreError, shard_file  # noqa: E402

NUM, SHARD = 12, 4


@pytest.fixture(scope="module")
def local_store(tmp_path_factory):
    import degrade
    out = tmp_path_factory.mktemp("torch") / "t.zarr"
    degrade.generate("simple_x2", None, str(out), num=NUM, shard_size=SHARD, workers=1,
                     progress=False)
    return out


def _batches(ds, workers, context):
    from torch.utils.data import DataLoader
    loader = DataLoader(ds, batch_size=4, num_workers=workers, multiprocessing_context=context)
    return [(b["hq"].numpy(), b["lq"].numpy(), b["index"].numpy()) for b in loader]


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_s3_store_reads_like_the_local_one(local_store, s3_server, s3_bucket, context):
    from degrade.torch import PairDataset

    options = s3_server.storage_options()
    url = f"s3://{s3_bucket}/t.zarr"
    upload_tree(local_store, storage.resolve(url, options))
    remote = PairDataset(url, storage_options=options, to_float=False, record=True)
    local = PairDataset(local_store, to_float=False, record=True)
    assert len(remote) == NUM and remote[5]["record"] == local[5]["record"]
    got = _batches(remote, 2, context)
    want = _batches(local, 0, None)
    for a, b in zip(got, want):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("backend", ["auto", "zarr"])
def test_damaged_or_missing_samples_are_errors(local_store, tmp_path, backend):
    import shutil

    from degrade.torch import PairDataset

    out = tmp_path / "d.zarr"
    shutil.copytree(local_store, out)
    hq1 = shard_file(out, "hq", 1, 4)
    data = bytearray(hq1.read_bytes())
    data[10] ^= 0x01                                   # one bit of sample 4
    hq1.write_bytes(bytes(data))
    shard_file(out, "lq", 2, 4).unlink()               # shard 2 of lq is gone
    ds = PairDataset(out, backend=backend, to_float=False)
    np.testing.assert_array_equal(ds[0]["hq"].numpy(), PairDataset(local_store,
                                                                   to_float=False)[0]["hq"].numpy())
    with pytest.raises((StoreError, ValueError), match="crc32c|checksum"):
        ds[4]
    with pytest.raises(StoreError, match="missing"):
        ds[9]


def test_on_the_fly_sources_on_s3(s3_server, s3_bucket):
    from degrade.sources.samples import sample_paths
    from degrade.torch import OnTheFlyDataset

    client = s3_server.client()
    for path in sample_paths():
        client.put_object(Bucket=s3_bucket, Key=f"p/{path.name}", Body=path.read_bytes())
    options = s3_server.storage_options()
    remote = OnTheFlyDataset("simple_x2", f"s3://{s3_bucket}/p", num=6, crop=32,
                             storage_options=options, to_float=False, fresh_augmentation=False)
    local = OnTheFlyDataset("simple_x2", str(sample_paths()[0].parent), num=6, crop=32,
                            to_float=False, fresh_augmentation=False)
    for i in range(6):
        np.testing.assert_array_equal(remote[i]["lq"].numpy(), local[i]["lq"].numpy())
    got = _batches(remote, 2, "fork")
    want = _batches(local, 2, "fork")
    for a, b in zip(got, want):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("compression", ["none", "zstd"])
def test_batches_from_s3_equal_single_local_items(s3_server, s3_bucket, tmp_path, compression):
    """``__getitems__`` (what a DataLoader with batch_size calls): in order, shuffled across
    shards, repeated indices; the same items as the local store's ``ds[i]``, few requests."""
    import degrade
    from degrade.torch import PairDataset

    out = tmp_path / "b.zarr"
    degrade.generate("simple_x2", None, str(out), num=NUM, shard_size=SHARD, workers=1,
                     progress=False, compression=compression)
    options = s3_server.storage_options()
    url = f"s3://{s3_bucket}/b.zarr"
    upload_tree(out, storage.resolve(url, options))
    remote = PairDataset(url, storage_options=options, to_float=False, record=True)
    local = PairDataset(out, to_float=False, record=True)
    reader = remote._open()
    calls = []
    real = reader._remote.read_many
    reader._remote.read_many = lambda requests: calls.append(list(requests)) or real(requests)
    for order in (list(range(NUM)), [7, 2, 11, 0, 5, 9, 1, 3], [3, 3, 4, 4], [10]):
        calls.clear()
        items = remote.__getitems__(order)
        assert [item["index"] for item in items] == order
        for index, item in zip(order, items):
            want = local[index]
            for key in ("hq", "lq"):
                np.testing.assert_array_equal(item[key].numpy(), want[key].numpy())
            assert item["record"] == want["record"]
        if order == list(range(NUM)):
            # first batch: the 3 shard indexes of each array in one call, then each shard's
            # 4 consecutive samples in one ranged GET: 2 arrays x 3 shards, then the 3
            # records chunks (record=True) in one call
            assert [len(c) for c in calls] == [6, 6, 3]
            assert all(length > 0 for _, _, length in calls[1])
            assert all(key.startswith("records/") for key, _, _ in calls[2])
    items = remote.__getitems__([3, 3])
    items[0]["hq"][:] = 0              # a repeated index is its own array
    assert items[1]["hq"].any()


def test_run_batch_sampler_reads_every_sample_once_in_few_requests(s3_server, s3_bucket,
                                                                   local_store):
    from torch.utils.data import DataLoader

    from degrade.torch import PairDataset, RunBatchSampler

    sampler = RunBatchSampler(range(37), 8, seed=3)
    epochs = []
    for epoch in range(3):
        sampler.set_epoch(epoch)
        batches = list(sampler)
        assert len(batches) == len(sampler) == 5 and all(len(b) == 8 for b in batches[:-1])
        assert sorted(i for b in batches for i in b) == list(range(37))
        # a batch is at most two runs of consecutive indices (a run may be cut by the end)
        assert all(sum(b - a != 1 for a, b in zip(x, x[1:])) <= 1 for x in batches)
        epochs.append(batches)
    assert epochs[0] != epochs[1] and epochs[0] != epochs[2]
    sampler.set_epoch(0)
    assert list(sampler) == epochs[0]                          # (seed, epoch) decides
    assert len(RunBatchSampler(range(37), 8, drop_last=True)) == 4
    with pytest.raises(Exception, match="run"):
        RunBatchSampler(range(37), 8, run=0)

    options = s3_server.storage_options()
    url = f"s3://{s3_bucket}/t.zarr"
    upload_tree(local_store, storage.resolve(url, options))
    remote = PairDataset(url, storage_options=options, to_float=False)
    local = PairDataset(local_store, to_float=False)
    batches = list(RunBatchSampler(remote, SHARD))
    loader = DataLoader(remote, batch_sampler=RunBatchSampler(remote, SHARD), num_workers=0)
    for indices, batch in zip(batches, loader):
        assert batch["index"].tolist() == indices
        for k, i in enumerate(indices):
            np.testing.assert_array_equal(batch["hq"][k].numpy(), local[i]["hq"].numpy())
    reader = remote._open()
    calls = []
    real = reader._remote.read_many
    reader._remote.read_many = lambda requests: calls.append(list(requests)) or real(requests)
    for indices in batches:
        calls.clear()
        remote.__getitems__(indices)
        assert len(calls[-1]) <= 4          # a run in one or two shards: hq and lq
