"""Run by tests/test_s3_fork.py in its own interpreter (a hang fails the test by its timeout
instead of stopping the test run).

    python tests/fork_reader.py CONTEXT URL OPTIONS_JSON LOCAL_DIR

Writes a store into ``URL`` through a zarr ``FsspecStore`` object made here (so this process
has used zarr's event loop and s3fs's asynchronous client, and holds that store), and the
same job into a local folder; then reads the S3 store with DataLoader workers started by
``CONTEXT`` (fork or spawn), batched and one item at a time, given as a URL and as the store
object, with both backends, and with a plain ``multiprocessing`` pool. Every sample must
equal the local store's. Prints ``ok`` at the end.
"""
from __future__ import annotations

import json
import multiprocessing
import sys
import warnings

import numpy as np

NUM, SHARD = 12, 4


def _item(args):
    ds, index = args
    item = ds[index]
    return item["hq"].numpy(), item["lq"].numpy(), item["record"]


def main(context: str, url: str, options: dict, local: str) -> None:
    from torch.utils.data import DataLoader
    from zarr.storage import FsspecStore

    import degrade
    from degrade.torch import PairDataset

    store = FsspecStore.from_url(url, storage_options=options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for out in (store, local):
            degrade.generate("simple_x2", None, out, num=NUM, shard_size=SHARD, workers=2,
                             scheduler="threads", progress=False)
    want = PairDataset(local, to_float=False, record=True)
    want = [(want[i]["hq"].numpy(), want[i]["lq"].numpy(), want[i]["record"])
            for i in range(NUM)]
    # spawned workers get the dataset pickled (the store object travels as its URL), so one
    # source covers both there
    for source in (url, store) if context == "fork" else (store,):
        for backend in ("auto", "zarr"):
            ds = PairDataset(source, storage_options=options if source is url else None,
                             to_float=False, record=True, backend=backend)
            ds[0]            # the parent reads first: its reader is inherited by fork
            order = [7, 2, 11, 0, 5, 9, 1, 3, 10, 4, 8, 6]
            for batch_size in (4, None):
                loader = DataLoader(ds, batch_size=batch_size, sampler=order, num_workers=2,
                                    multiprocessing_context=context, timeout=60)
                got = []
                for batch in loader:
                    if batch_size is None:
                        got.append((batch["hq"].numpy(), batch["lq"].numpy(), batch["record"]))
                    else:
                        got.extend(zip(batch["hq"].numpy(), batch["lq"].numpy(),
                                       batch["record"]))
                for index, (hq, lq, record) in zip(order, got):
                    np.testing.assert_array_equal(hq, want[index][0])
                    np.testing.assert_array_equal(lq, want[index][1])
                    assert record == want[index][2], (index, source, backend)
                assert len(got) == NUM
            with multiprocessing.get_context(context).Pool(2) as pool:
                for index, (hq, lq, record) in enumerate(pool.map(_item, [(ds, i) for i in
                                                                          range(NUM)])):
                    np.testing.assert_array_equal(hq, want[index][0])
                    np.testing.assert_array_equal(lq, want[index][1])
                    assert record == want[index][2]
    print("ok")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4])
