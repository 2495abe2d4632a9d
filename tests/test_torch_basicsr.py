"""degrade.torch_basicsr: a store as a BasicSR dataset, built by name from a BasicSR options
file through basicsr's own DATASET_REGISTRY / build_dataset / build_dataloader, and trained
on for a few steps.

basicsr 1.4.2 is an optional oracle (installed with --no-deps), imported through
tests/basicsr_oracle.py. BasicSR's models are not imported (they need torchvision and tqdm,
which are not dependencies); a two-layer torch network takes the batches. Skips when
basicsr or torch is missing.
"""
from __future__ import annotations

import types

import numpy as np
import pytest
import yaml

import degrade

from basicsr_oracle import basicsr_modules

torch = pytest.importorskip("torch")

OPTIONS = """
name: degrade_smoke
model_type: SRModel
scale: 4
num_gpu: 0
manual_seed: 0
datasets:
  train:
    name: degrade
    type: DegradePairDataset
    dataroot: {store}
    gt_size: 64
    use_hflip: true
    use_rot: true
    use_shuffle: true
    num_worker_per_gpu: 0
    batch_size_per_gpu: 2
    dataset_enlarge_ratio: 1
    prefetch_mode: ~
"""


@pytest.fixture
def store(realesrgan_store):
    return realesrgan_store


@pytest.fixture(scope="module")
def basicsr_data():
    """basicsr.data (build_dataset, build_dataloader), its DATASET_REGISTRY and
    degrade.torch_basicsr registered in it, or a skip."""
    mods = basicsr_modules("data", "utils.registry")
    if mods is None:
        pytest.skip("basicsr 1.4.2 + torch not importable (pip install --no-deps basicsr==1.4.2)")
    data, registry = mods[0], mods[1].DATASET_REGISTRY
    import degrade.torch_basicsr as tb
    if "DegradePairDataset" not in registry:
        registry.register(tb.DegradePairDataset)    # what register() does when basicsr imports
    return types.SimpleNamespace(data=data, registry=registry, module=tb)


def test_an_options_file_trains_a_few_steps(store, basicsr_data):
    opt = yaml.safe_load(OPTIONS.format(store=store))
    assert "DegradePairDataset" in basicsr_data.registry
    dataset_opt = dict(opt["datasets"]["train"], phase="train", scale=opt["scale"])
    dataset = basicsr_data.data.build_dataset(dataset_opt)
    assert len(dataset) == 5                   # batches of 2, the last one dropped
    loader = basicsr_data.data.build_dataloader(dataset, dataset_opt, num_gpu=0, dist=False,
                                                seed=opt["manual_seed"])
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 48, 3, padding=1), torch.nn.PixelShuffle(4))
    optim = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for step in range(3):
        dataset.set_epoch(step)
        for batch in loader:
            assert batch["lq"].shape == (2, 3, 16, 16) and batch["gt"].shape == (2, 3, 64, 64)
            assert batch["lq"].dtype == torch.float32 and 0 <= batch["gt"].min() <= batch["gt"].max() <= 1
            assert len(batch["gt_path"]) == 2 and "#" in batch["gt_path"][0]
            loss = torch.nn.functional.l1_loss(net(batch["lq"]), batch["gt"])
            optim.zero_grad()
            loss.backward()
            optim.step()
            losses.append(loss.item())
    assert len(losses) == 6 and all(np.isfinite(losses)) and losses[-1] < losses[0]


def test_items_paths_and_phases(store, basicsr_data):
    tb = basicsr_data.module
    val = tb.DegradePairDataset({"dataroot": str(store), "phase": "val", "gt_size": 64})
    item = val[1]
    assert tuple(item["gt"].shape) == (3, 256, 256) and tuple(item["lq"].shape) == (3, 64, 64)
    assert item["gt_path"] == item["lq_path"] and item["gt_path"].endswith("#1.png")
    train = tb.DegradePairDataset({"dataroot": str(store), "gt_size": 64, "use_hflip": True})
    a, b = train[1], train[1]
    assert torch.equal(a["gt"], b["gt"])                         # same epoch: same crop
    train.set_epoch(1)
    assert not torch.equal(train[1]["gt"], a["gt"])              # next epoch: a fresh crop
    with pytest.raises(degrade.ParameterError, match="holds x4 pairs"):
        tb.DegradePairDataset({"dataroot": str(store), "scale": 2})
    with pytest.raises(degrade.ParameterError, match="'dataroot'"):
        tb.DegradePairDataset({"gt_size": 64})


def test_fresh_crops_every_epoch_without_set_epoch(store, basicsr_data):
    """BasicSR never calls the dataset's set_epoch: with workers, torch's per-epoch base seed
    makes every epoch's crops new; reproducible from torch's seed; fresh_augmentation: false
    keeps (seed, epoch, index) only."""
    tb = basicsr_data.module

    def epochs(dataset, n=2):
        torch.manual_seed(3)
        loader = torch.utils.data.DataLoader(dataset, batch_size=4, num_workers=1)
        return [next(iter(loader))["gt"] for _ in range(n)]

    opt = {"dataroot": str(store), "gt_size": 64, "use_hflip": True, "use_rot": True}
    first, second = epochs(tb.DegradePairDataset(opt))
    assert not torch.equal(first, second)
    again = epochs(tb.DegradePairDataset(opt))
    assert torch.equal(again[0], first) and torch.equal(again[1], second)
    fixed = epochs(tb.DegradePairDataset(dict(opt, fresh_augmentation=False)))
    assert torch.equal(fixed[0], fixed[1])

