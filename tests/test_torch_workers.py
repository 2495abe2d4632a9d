"""degrade.torch inside DataLoader workers: fork and spawn, persistent workers and set_epoch,
pin_memory, every index once per epoch, and the same items as without workers.

Two workers at most, tiny stores (the machine has 2 shared cores).
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch.utils.data import DataLoader  # noqa: E402

from degrade.torch import OnTheFlyDataset, PairDataset, PairLoader  # noqa: E402
from test_torch import NUM, TINY_RECIPE, generate_tiny  # noqa: E402


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return generate_tiny(tmp_path_factory.mktemp("torch_workers") / "tiny.zarr")


def by_index(loader, epochs, dataset) -> list[dict]:
    """Per epoch: {index: (lq, hq)} from a loader; checks every index comes exactly once."""
    passes = []
    for epoch in epochs:
        dataset.set_epoch(epoch)
        seen = {}
        for batch in loader:
            for k, index in enumerate(batch["index"].tolist()):
                assert index not in seen, f"index {index} twice in epoch {epoch}"
                seen[index] = (batch["lq"][k].clone(), batch["hq"][k].clone())
        assert sorted(seen) == list(range(len(dataset))), f"epoch {epoch}: {sorted(seen)}"
        passes.append(seen)
    return passes


def same(a: list[dict], b: list[dict]) -> bool:
    return all(torch.equal(x[i][0], y[i][0]) and torch.equal(x[i][1], y[i][1])
               for x, y in zip(a, b) for i in x)


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_workers_give_every_index_once_and_the_same_items(store, context):
    ds = PairDataset(store, crop=16, hflip=True, seed=1)
    reference = by_index(DataLoader(ds, batch_size=3), (0, 1), ds)
    loader = DataLoader(ds, batch_size=3, shuffle=True, num_workers=2, persistent_workers=True,
                        multiprocessing_context=context,
                        generator=torch.Generator().manual_seed(0))
    got = by_index(loader, (0, 1), ds)       # persistent workers see set_epoch(1)
    assert same(got, reference)
    assert not same([got[0]], [got[1]])      # and epoch 1 really differs
    assert ds._reader is not None            # the num_workers=0 reference opened it here


def test_the_parent_never_opens_the_store(store):
    ds = PairDataset(store)
    loader = DataLoader(ds, batch_size=4, num_workers=2, multiprocessing_context="fork")
    assert sum(len(b["index"]) for b in loader) == NUM
    assert ds._reader is None


def test_a_reader_opened_before_forking_is_reopened_in_workers(store):
    ds = PairDataset(store, to_float=False)
    first = ds[0]["hq"]
    parent_reader = ds._reader
    loader = DataLoader(ds, batch_size=NUM, num_workers=2, multiprocessing_context="fork")
    (batch,) = list(loader)
    assert torch.equal(batch["hq"][0], first) and ds._reader is parent_reader


def test_pin_memory_and_integer_batches(store):
    ds = PairDataset(store, to_float=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")    # "pin_memory ... no accelerator" on CPU-only torch
        loader = DataLoader(ds, batch_size=4, num_workers=1, pin_memory=True)
        batches = list(loader)
    assert batches[0]["lq"].dtype == torch.uint8 and batches[0]["lq"].shape == (4, 3, 16, 16)
    assert sum(len(b["index"]) for b in batches) == NUM


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_on_the_fly_is_deterministic_across_worker_counts(context):
    ds = OnTheFlyDataset(TINY_RECIPE, None, num=6, crop=16, hflip=True, to_float=False)
    reference = by_index(DataLoader(ds, batch_size=2), (0, 1), ds)   # cv2 used in the parent
    loader = DataLoader(ds, batch_size=2, shuffle=True, num_workers=2, persistent_workers=True,
                        multiprocessing_context=context,
                        generator=torch.Generator().manual_seed(1))
    got = by_index(loader, (0, 1), ds)
    assert same(got, reference)
    lq0 = np.stack([got[0][i][0].numpy() for i in range(6)])
    lq1 = np.stack([got[1][i][0].numpy() for i in range(6)])
    assert not np.array_equal(lq0, lq1)      # epoch 1: new degradations


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_pair_loader_moves_integers_and_gives_the_dataset_floats(store, context):
    """PairLoader: workers return the stored uint8, the main process converts; the batches
    equal a plain DataLoader's float32 ones bit for bit, epochs included, and the user's
    dataset object is left as it was."""
    ds = PairDataset(store, crop=16, hflip=True, seed=2)
    reference = by_index(DataLoader(ds, batch_size=3), (0, 1), ds)
    loader = PairLoader(ds, batch_size=3, shuffle=True, num_workers=2, persistent_workers=True,
                        multiprocessing_context=context, generator=torch.Generator().manual_seed(0))
    assert loader.dataset is not ds and loader.dataset._integer_transport
    got = by_index(loader, (0, 1), ds)        # set_epoch on ds reaches the loader's copy
    assert same(got, reference)
    assert got[0][0][0].dtype == torch.float32
    assert ds[0]["hq"].dtype == torch.float32 and not getattr(ds, "_integer_transport", False)
    inside = next(iter(DataLoader(loader.dataset, batch_size=2)))    # what the workers send
    assert inside["hq"].dtype == torch.uint8


def test_pair_loader_passes_other_datasets_through(store):
    as_int = PairDataset(store, to_float=False)
    batch = next(iter(PairLoader(as_int, batch_size=2)))
    assert batch["hq"].dtype == torch.uint8 and PairLoader(as_int).dataset is as_int
    with_transform = PairDataset(store, transform=lambda s: {**s, "hq": s["hq"] * 2})
    batch = next(iter(PairLoader(with_transform, batch_size=2)))
    assert batch["hq"].dtype == torch.float32 and float(batch["hq"].max()) > 1.0
    custom = PairLoader(PairDataset(store), batch_size=2, collate_fn=lambda items: items)
    assert custom.dataset is not None and not custom._convert
    assert next(iter(custom))[0]["hq"].dtype == torch.float32
