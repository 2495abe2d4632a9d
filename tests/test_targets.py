"""Extra targets (``target.extra``): images made from the HQ, stored next to it, served by
PairDataset and OnTheFlyDataset with the HQ's crops and flips; recipes without them keep
their records and stores."""
from __future__ import annotations

import json

import numpy as np
import pytest

import degrade
from degrade import RecipeError
from degrade.ops import usm_sharpen
from degrade.recipe import Recipe, load_recipe
from degrade.sources import load_sample

#: region 48 degraded, the 32/16 pair cropped after it; USM of the HQ crop as Real-ESRGAN
RECIPE = """
name: tiny_usm
seed: 5
target:
  size: 32
  scale: 2
  region: 48
  flips: {hflip: true}
  extra:
    hq_usm: [{op: usm_sharpen, amount: 0.5, threshold: 10, ksize: 51}]
    hq_soft: [{op: gaussian_blur, sigma_x: {uniform: [0.5, 2.0]}}]
stages:
  - {op: gaussian_blur, sigma_x: {uniform: [0.3, 1.5]}}
  - {op: resize, relative_to: target, scale: 0.5, mode: {choice: [area, bicubic]}}
  - {op: jpeg, quality: {int_uniform: [50, 90]}}
"""
WITHOUT = RECIPE.replace("""  extra:
    hq_usm: [{op: usm_sharpen, amount: 0.5, threshold: 10, ksize: 51}]
    hq_soft: [{op: gaussian_blur, sigma_x: {uniform: [0.5, 2.0]}}]
""", "")


def test_extra_targets_leave_hq_lq_and_records_alone():
    image = load_sample(1)
    with_extra, plain = Recipe.from_yaml(RECIPE), Recipe.from_yaml(WITHOUT)
    assert with_extra.extra_targets == ("hq_usm", "hq_soft") and plain.extra_targets == ()
    for index in range(3):
        a, b = with_extra.run(image, index=index), plain.run(image, index=index)
        assert np.array_equal(a.hq, b.hq) and np.array_equal(a.lq, b.lq)
        assert b.extra == {} and "extra_steps" not in b.record
        assert {k: v for k, v in a.record.items() if k != "extra_steps"} == b.record
        assert set(a.extra) == {"hq_usm", "hq_soft"}
        # Real-ESRGAN: USM of the cropped GT (feed_data sharpens self.gt after the crop)
        assert np.array_equal(a.extra["hq_usm"], usm_sharpen(a.hq))
        (y, x), (ry, rx) = a.record["target"]["crop"], (a.record["target"]["y"],
                                                        a.record["target"]["x"])
        oriented = image[:, ::-1] if a.record["target"]["hflip"] else image
        assert np.array_equal(a.hq, oriented[ry + y:ry + y + 32, rx + x:rx + x + 32])
        # a replay of the record gives the same extra targets
        again = with_extra.replay(image, a.record)
        assert all(np.array_equal(again.extra[n], a.extra[n]) for n in a.extra)


@pytest.mark.parametrize("extra, match", [
    ("[]", "expected a mapping NAME"),
    ("{lq: [{op: usm_sharpen}]}", "name 'lq': expected a lower-case identifier"),
    ("{Hq2: [{op: usm_sharpen}]}", "name 'Hq2'"),
    ("{hq_usm: []}", "expected a non-empty list of stages"),
    ("{hq_usm: [{op: usm_sharpn}]}", "usm_sharpen"),
    ("{hq_small: [{op: resize, scale: 0.5}]}", "must keep the HQ's shape"),
])
def test_bad_extra_targets_are_named(extra, match):
    text = WITHOUT.replace("  flips: {hflip: true}\n", f"  flips: {{hflip: true}}\n  extra: {extra}\n")
    with pytest.raises(RecipeError, match=match) as info:
        Recipe.from_yaml(text).run(load_sample(0))
    assert "target.extra" in str(info.value)


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    folder = tmp_path_factory.mktemp("targets")
    out = {}
    for name, text in (("extra", RECIPE), ("plain", WITHOUT)):
        out[name] = folder / f"{name}.zarr"
        degrade.generate(text, None, out[name], num=5, shard_size=2, workers=1, progress=False,
                         scheduler="threads")
    return out


def test_the_store_holds_the_extra_targets(stores):
    import zarr
    extra, plain = (zarr.open_group(str(stores[k]), mode="r") for k in ("extra", "plain"))
    assert extra.attrs["extra_targets"] == ["hq_usm", "hq_soft"]
    assert "extra_targets" not in plain.attrs and sorted(plain.array_keys()) == ["hq", "lq",
                                                                                  "records"]
    assert np.array_equal(extra["hq"][:], plain["hq"][:])
    assert np.array_equal(extra["lq"][:], plain["lq"][:])
    assert extra["hq_usm"].shape == extra["hq"].shape and extra["hq_usm"].dtype == np.uint8
    assert extra.attrs["dtype_scale"]["hq_usm"] == 255
    recipe = Recipe.from_yaml(RECIPE)
    for i in range(5):
        record = json.loads(str(extra["records"][i]))
        image = load_sample(record["source"]["path"].rsplit(".", 1)[0])
        sample = recipe.replay(image, record)
        want = np.floor(np.clip(sample.extra["hq_usm"], 0, 1) * 255 + 0.5).astype(np.uint8)
        assert np.array_equal(extra["hq_usm"][i], want)
    from degrade.run.inspect import inspect_store
    summary = inspect_store(stores["extra"])
    assert summary["arrays"]["hq_usm"]["shape"] == [5, 32, 32, 3]


def test_resume_needs_the_extra_target_files(stores, tmp_path):
    import shutil
    copy = tmp_path / "copy.zarr"
    shutil.copytree(stores["extra"], copy)
    (copy / "hq_soft" / "c.1.0.0.0").unlink()        # shard 1 lost one extra-target file
    before = (copy / "hq" / "c.1.0.0.0").read_bytes()
    summary = degrade.generate(RECIPE, None, copy, num=5, shard_size=2, workers=1,
                               progress=False, scheduler="threads")
    assert summary["shards_written"] == 1 and summary["shards_reused"] == 2
    assert (copy / "hq" / "c.1.0.0.0").read_bytes() == before
    assert (copy / "hq_soft" / "c.1.0.0.0").is_file()


def test_datasets_serve_the_extra_targets(stores):
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader

    from degrade.torch import OnTheFlyDataset, PairDataset, PairLoader

    ds = PairDataset(stores["extra"], crop=16, hflip=True, seed=1, to_float=False)
    ds.set_epoch(2)
    item = ds[3]
    assert set(item) == {"lq", "hq", "hq_usm", "hq_soft", "index"}
    assert item["hq_usm"].shape == item["hq"].shape == (3, 16, 16)
    import zarr
    group = zarr.open_group(str(stores["extra"]), mode="r")
    whole = PairDataset(stores["extra"], to_float=False)[3]
    assert torch.equal(whole["hq_usm"], torch.from_numpy(group["hq_usm"][3].transpose(2, 0, 1).copy()))
    # the crop and flip of hq applied to hq_usm: find the crop in the whole image
    full = whole["hq_usm"]
    candidates = [full, full.flip(-1)]
    assert any(torch.equal(c[:, y:y + 16, x:x + 16], item["hq_usm"]) and
               torch.equal((whole["hq"] if c is full else whole["hq"].flip(-1))[:, y:y + 16, x:x + 16],
                           item["hq"])
               for c in candidates for y in range(0, 17, 2) for x in range(0, 17, 2))
    # BasicSR keys: hq_usm -> gt_usm; PairLoader converts it from uint8 too
    bsr = PairDataset(stores["extra"], keys="basicsr")
    assert {"gt", "gt_usm", "gt_soft", "lq"} <= set(bsr[0])
    loader = PairLoader(bsr, batch_size=5, num_workers=1)
    assert loader._keys == ("lq", "gt", "gt_usm", "gt_soft")
    inside = next(iter(DataLoader(loader.dataset, batch_size=5)))
    assert inside["gt_usm"].dtype == torch.uint8
    batch = next(iter(loader))
    assert batch["gt_usm"].dtype == torch.float32
    assert torch.equal(batch["gt_usm"], torch.stack([bsr[i]["gt_usm"] for i in range(5)]))
    # on the fly, epoch 0: the store's bits
    fly = OnTheFlyDataset(RECIPE, None, num=5, to_float=False)
    for i in (0, 4):
        a, b = fly[i], PairDataset(stores["extra"], to_float=False)[i]
        assert all(torch.equal(a[k], b[k]) for k in ("hq", "lq", "hq_usm", "hq_soft"))


def test_realesrgan_x4plus_stores_hq_usm_without_changing_its_pairs():
    shipped = load_recipe("realesrgan_x4plus")
    assert shipped.extra_targets == ("hq_usm",)
    start = shipped.text.index("  extra:")
    end = shipped.text.index("blocks:")
    plain = Recipe.from_yaml(shipped.text[:start] + shipped.text[end:])
    image = load_sample("indoor")
    a, b = shipped.run(image, index=2), plain.run(image, index=2)
    assert np.array_equal(a.hq, b.hq) and np.array_equal(a.lq, b.lq)
    assert a.extra["hq_usm"].shape == a.hq.shape and not np.array_equal(a.extra["hq_usm"], a.hq)
