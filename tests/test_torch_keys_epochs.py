"""degrade.torch: BasicSR keys (keys="basicsr") with PairLoader's integer transport, and the
augmentation per epoch: fresh without set_epoch inside workers (torch's per-epoch worker
seed), exact per (seed, epoch, index) once set_epoch is called. One worker, tiny stores."""
from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from torch.utils.data import DataLoader  # noqa: E402

from degrade import ParameterError  # noqa: E402
from degrade.torch import OnTheFlyDataset, PairDataset, PairLoader  # noqa: E402
from test_torch import NUM, TINY_RECIPE, generate_tiny  # noqa: E402


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return generate_tiny(tmp_path_factory.mktemp("torch_keys") / "tiny.zarr")


def epochs(dataset, n=2, key="hq", **loader):
    """The whole first batch (every sample, in order) of ``n`` passes of a fresh DataLoader
    iterator each, one worker, under torch.manual_seed(3)."""
    torch.manual_seed(3)
    it = DataLoader(dataset, batch_size=NUM, num_workers=1, **loader)
    return [next(iter(it))[key] for _ in range(n)]


def test_basicsr_keys_and_paths(store):
    ds = PairDataset(store, keys="basicsr", record=True)
    item = ds[2]
    assert set(item) == {"lq", "gt", "lq_path", "gt_path", "index", "record"}
    plain = PairDataset(store)[2]
    assert torch.equal(item["gt"], plain["hq"]) and torch.equal(item["lq"], plain["lq"])
    source = json.loads(item["record"])["source"]
    stem, suffix = source["path"].rsplit(".", 1)
    assert item["gt_path"] == item["lq_path"]
    assert item["gt_path"].endswith(f"{stem}#2.{suffix}")
    assert item["gt_path"].startswith(ds.attrs["roots"][source["source"]])
    with pytest.raises(ParameterError, match="keys = 'bsr': expected 'degrade'"):
        PairDataset(store, keys="bsr")


def test_on_the_fly_basicsr_keys_match_the_store(store):
    fly = OnTheFlyDataset(TINY_RECIPE, None, num=NUM, keys="basicsr")
    stored = PairDataset(store, keys="basicsr")
    for i in (0, 5):
        a, b = fly[i], stored[i]
        assert torch.equal(a["gt"], b["gt"]) and torch.equal(a["lq"], b["lq"])
        assert a["gt_path"] == b["gt_path"]


def test_pair_loader_keeps_the_integer_transport_for_basicsr_keys(store):
    ds = PairDataset(store, keys="basicsr", crop=16, hflip=True)
    loader = PairLoader(ds, batch_size=NUM, num_workers=1)
    assert loader._convert and loader._keys == ("lq", "gt")
    inside = next(iter(DataLoader(loader.dataset, batch_size=NUM)))     # what workers send
    assert inside["gt"].dtype == torch.uint8 and inside["lq"].dtype == torch.uint8
    ds.set_epoch(0)
    batch = next(iter(loader))
    reference = next(iter(DataLoader(ds, batch_size=NUM)))
    assert batch["gt"].dtype == torch.float32 and torch.equal(batch["gt"], reference["gt"])
    assert torch.equal(batch["lq"], reference["lq"]) and batch["gt_path"] == reference["gt_path"]


def test_fresh_crops_every_epoch_without_set_epoch(store):
    opts = dict(crop=16, hflip=True, seed=4)
    first, second = epochs(PairDataset(store, **opts))
    assert not torch.equal(first, second)                    # a new pass: new crops
    again = epochs(PairDataset(store, **opts))
    assert torch.equal(again[0], first) and torch.equal(again[1], second)  # torch's seed
    fixed = epochs(PairDataset(store, fresh_augmentation=False, **opts))
    assert torch.equal(fixed[0], fixed[1])
    fly = OnTheFlyDataset(TINY_RECIPE, None, num=NUM, **opts)
    a, b = epochs(fly)
    assert not torch.equal(a, b)
    assert torch.equal(epochs(fly, 1)[0], a)
    with pytest.raises(ParameterError, match="fresh_augmentation"):
        PairDataset(store, fresh_augmentation="yes")


def test_set_epoch_makes_each_epoch_exact(store):
    ds = PairDataset(store, crop=16, hflip=True, seed=4)
    passes = {}
    for epoch in (0, 1, 0, 1):
        ds.set_epoch(epoch)
        got = epochs(ds, 1)[0]
        torch.manual_seed(99)        # another torch seed changes nothing once set_epoch is used
        other = next(iter(DataLoader(ds, batch_size=NUM, num_workers=1)))["hq"]
        assert torch.equal(got, other)
        in_process = torch.stack([ds[i]["hq"] for i in range(NUM)])
        assert torch.equal(got, in_process)
        passes.setdefault(epoch, got)
        assert torch.equal(passes[epoch], got)
    assert not torch.equal(passes[0], passes[1])
