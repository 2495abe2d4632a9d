"""degrade.torch in one process: store contents, records, direct shard reads vs zarr, crops,
flips, on-the-fly samples identical to ``degrade generate``, error messages.

DataLoader workers (fork/spawn, persistent, every index once) are in test_torch_workers.py;
the example script in test_torch_example.py. Everything skips without torch.
"""
from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")
zarr = pytest.importorskip("zarr")

from degrade import _rng  # noqa: E402
from degrade._errors import ParameterError  # noqa: E402
from degrade._torch_io import direct_layout  # noqa: E402
from degrade.run.store import DTYPE_SCALE, StoreError, dequantise  # noqa: E402
from degrade.torch import OnTheFlyDataset, PairDataset, epoch_seed, to_float  # noqa: E402

#: a fast x2 recipe: 32x32 HQ crops, 16x16 LQ; every op random (blur, resize mode, noise, JPEG)
TINY_RECIPE = """
name: tiny_x2
seed: 3
target:
  size: 32
  scale: 2
  flips: {hflip: true}
stages:
  - {op: gaussian_blur, sigma_x: {uniform: [0.3, 1.5]}}
  - {op: resize, relative_to: target, scale: 0.5, mode: {choice: [area, bicubic]}}
  - {op: gaussian_noise, sigma: {uniform: [1, 10]}, sigma_units: 8bit}
  - {op: jpeg, quality: {int_uniform: [50, 90]}}
"""
NUM, SHARD = 7, 3        # three shards, the last one partial (index entries past the end)


def generate_tiny(path) -> str:
    import degrade
    degrade.generate(TINY_RECIPE, None, str(path), num=NUM, shard_size=SHARD, workers=1,
                     progress=False)
    return str(path)


def synthetic_store(path, *, num=5, shard=2, hq_shape=(8, 12, 3), lq_shape=(4, 6, 3),
                    dtype="uint8", compression="none", seed=0):
    """A store written by the engine's own writer with random content; returns (hq, lq)."""
    from degrade.run.store import create_store, write_shard

    rng = np.random.default_rng(seed)
    if dtype == "float16":
        hq = rng.random((num,) + hq_shape).astype(np.float16)
        lq = rng.random((num,) + lq_shape).astype(np.float16)
    else:
        top = np.iinfo(dtype).max
        hq = rng.integers(0, top + 1, (num,) + hq_shape).astype(dtype)
        lq = rng.integers(0, top + 1, (num,) + lq_shape).astype(dtype)
    attrs = {"degrade": {"store_format": 1}, "scale": hq_shape[0] // lq_shape[0],
             "complete": True, "seed": 0, "stored_dtype": {"hq": dtype, "lq": dtype},
             "dtype_scale": {"hq": DTYPE_SCALE[dtype], "lq": DTYPE_SCALE[dtype]}}
    create_store(path, num=num, shard_size=shard, hq_shape=hq_shape, lq_shape=lq_shape,
                 dtypes={"hq": dtype, "lq": dtype}, compression=compression, attrs=attrs)
    for k in range(-(-num // shard)):
        part = slice(k * shard, (k + 1) * shard)
        records = [json.dumps({"index": i, "noise": 0.5 * i}) for i in range(num)[part]]
        write_shard(path, k, shard, hq[part], lq[part], records, compression)
    return hq, lq


def chw(array: np.ndarray) -> np.ndarray:
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return generate_tiny(tmp_path_factory.mktemp("torch") / "tiny.zarr")


# --------------------------------------------------------------------------- store contents
@pytest.mark.parametrize("backend", ["auto", "zarr"])
def test_pairs_equal_the_store_contents(store, backend):
    group = zarr.open_group(store, mode="r")
    as_float = PairDataset(store, backend=backend)
    as_int = PairDataset(store, backend=backend, to_float=False)
    assert len(as_float) == NUM and as_float.scale == 2
    assert as_float.dtype_scale == {"hq": 255, "lq": 255}
    for i in range(NUM):
        hq, lq = group["hq"][i], group["lq"][i]
        item = as_float[i]
        assert item["index"] == i and set(item) == {"lq", "hq", "index"}
        assert item["hq"].dtype == torch.float32 and item["hq"].shape == (3, 32, 32)
        assert item["lq"].shape == (3, 16, 16) and item["lq"].is_contiguous()
        assert np.array_equal(item["hq"].numpy(), chw(dequantise(hq)))
        assert np.array_equal(item["lq"].numpy(), chw(dequantise(lq)))
        item = as_int[i]
        assert item["hq"].dtype == torch.uint8
        assert np.array_equal(item["hq"].numpy(), chw(hq))
        assert np.array_equal(item["lq"].numpy(), chw(lq))
        assert torch.equal(to_float(item["lq"], as_int.dtype_scale["lq"]), as_float[i]["lq"])


def test_the_direct_reader_is_used_for_generated_stores(store):
    ds = PairDataset(store)
    ds[0]
    assert all(ds._reader.layouts[name] is not None for name in ("hq", "lq"))
    assert PairDataset(store, backend="zarr")._open().layouts == {"hq": None, "lq": None}


def test_records_as_text_or_through_a_function(store):
    group = zarr.open_group(store, mode="r")
    text = PairDataset(store, record=True)
    picked = PairDataset(store, record=lambda r: torch.tensor(r["index"]))
    for i in (6, 0, 4):                                  # across shards, out of order
        assert text[i]["record"] == str(group["records"][i])
        assert json.loads(text[i]["record"])["index"] == i
        assert int(picked[i]["record"]) == i


@pytest.mark.parametrize("compression", ["none", "lz4", "zstd"])
@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float16"])
def test_direct_shard_reads_equal_zarr(tmp_path, dtype, compression):
    hq, lq = synthetic_store(tmp_path / "s.zarr", dtype=dtype, compression=compression)
    ds = PairDataset(tmp_path / "s.zarr", to_float=False)
    assert direct_layout(ds.meta["hq"])["compressor"] == {"none": None, "lz4": "blosc",
                                                           "zstd": "zstd"}[compression]
    group = zarr.open_group(str(tmp_path / "s.zarr"), mode="r")
    for i in range(len(hq)):
        item = ds[i]
        assert item["hq"].numpy().dtype == np.dtype(dtype)
        assert np.array_equal(item["hq"].numpy(), chw(group["hq"][i]))
        assert np.array_equal(item["lq"].numpy(), chw(lq[i]))
    as_float = PairDataset(tmp_path / "s.zarr")[3]
    assert as_float["hq"].dtype == torch.float32
    assert np.array_equal(as_float["hq"].numpy(), chw(dequantise(hq[3])))


def test_other_layouts_are_read_with_zarr(tmp_path):
    from zarr.codecs import GzipCodec

    hq, lq = synthetic_store(tmp_path / "s.zarr")
    group = zarr.open_group(str(tmp_path / "s.zarr"), mode="r+")
    group.create_array("hq", shape=hq.shape, dtype=hq.dtype, chunks=(1,) + hq.shape[1:],
                       shards=(2,) + hq.shape[1:], compressors=GzipCodec(), overwrite=True)
    group["hq"][:] = hq
    ds = PairDataset(tmp_path / "s.zarr", to_float=False)
    assert direct_layout(ds.meta["hq"]) is None and direct_layout(ds.meta["lq"]) is not None
    for i in range(len(hq)):
        assert np.array_equal(ds[i]["hq"].numpy(), chw(hq[i]))


def test_mosaic_samples_have_one_channel(tmp_path):
    hq, lq = synthetic_store(tmp_path / "m.zarr", hq_shape=(8, 8, 3), lq_shape=(8, 8),
                             dtype="uint16")
    item = PairDataset(tmp_path / "m.zarr")[2]
    assert item["lq"].shape == (1, 8, 8)
    assert np.array_equal(item["lq"].numpy()[0], lq[2] / np.float32(65535))


# --------------------------------------------------------------------------- augmentation
def expected_corner(seed, epoch, index, free_lq: int, step: int = 1):
    """The documented draw: u_y, u_x first from epoch_stream(seed, epoch, index)."""
    u = _rng.epoch_stream(seed, epoch, index).random(5)
    return (int(u[0] * (free_lq // step + 1)) * step, int(u[1] * (free_lq // step + 1)) * step)


def test_paired_crop_is_aligned_to_the_scale_and_follows_the_epoch(store):
    group = zarr.open_group(store, mode="r")
    ds = PairDataset(store, crop=16, seed=5, to_float=False)
    corners = set()
    for epoch in (0, 1, 2):
        ds.set_epoch(epoch)
        for i in range(NUM):
            item = ds[i]
            y, x = expected_corner(5, epoch, i, 16 - 8)
            corners.add((epoch, i, y, x))
            assert item["lq"].shape == (3, 8, 8) and item["hq"].shape == (3, 16, 16)
            assert np.array_equal(item["lq"].numpy(), chw(group["lq"][i][y:y + 8, x:x + 8]))
            assert np.array_equal(item["hq"].numpy(),
                                  chw(group["hq"][i][2 * y:2 * y + 16, 2 * x:2 * x + 16]))
            assert torch.equal(ds[i]["hq"], item["hq"])          # same (seed, epoch, index)
    per_epoch = [{c[2:] for c in corners if c[0] == e} for e in range(3)]
    assert per_epoch[0] != per_epoch[1]                          # epochs draw new corners


def test_paired_flips_and_transposes_act_on_both_images(store):
    group = zarr.open_group(store, mode="r")
    ds = PairDataset(store, hflip=True, vflip=True, rot90=True, to_float=False)
    seen = set()
    for epoch in range(3):
        ds.set_epoch(epoch)
        for i in range(NUM):
            item = ds[i]
            u = _rng.epoch_stream(0, epoch, i).random(5)
            flags = tuple(bool(v < 0.5) for v in u[2:])
            seen.add(flags)
            for name in ("hq", "lq"):
                want = group[name][i]
                want = want[:, ::-1] if flags[0] else want
                want = want[::-1] if flags[1] else want
                want = want.swapaxes(0, 1) if flags[2] else want
                assert np.array_equal(item[name].numpy(), chw(want))
    assert len(seen) >= 4


def test_mosaic_crops_keep_the_cfa_phase(tmp_path):
    hq, lq = synthetic_store(tmp_path / "m.zarr", hq_shape=(16, 16, 3), lq_shape=(16, 16),
                             dtype="uint16", num=4)
    ds = PairDataset(tmp_path / "m.zarr", crop=6, to_float=False)
    for i in range(4):
        y, x = expected_corner(0, 0, i, 16 - 6, step=2)
        assert y % 2 == 0 and x % 2 == 0
        assert np.array_equal(ds[i]["lq"].numpy()[0], lq[i][y:y + 6, x:x + 6])
    with pytest.raises(ParameterError, match="hflip/vflip/rot90 on a mosaic would change its CFA"):
        PairDataset(tmp_path / "m.zarr", hflip=True)
    with pytest.raises(ParameterError, match="crop = 5: a mosaic crop must keep whole 2x2"):
        PairDataset(tmp_path / "m.zarr", crop=5)


# --------------------------------------------------------------------------- on the fly
def test_on_the_fly_epoch_0_is_identical_to_the_generated_store(store):
    group = zarr.open_group(store, mode="r")
    ds = OnTheFlyDataset(TINY_RECIPE, None, num=NUM, record=True, to_float=False)
    as_float = OnTheFlyDataset(TINY_RECIPE, None, num=NUM)
    assert len(ds) == NUM
    for i in range(NUM):
        item = ds[i]
        assert np.array_equal(item["hq"].numpy(), chw(group["hq"][i]))
        assert np.array_equal(item["lq"].numpy(), chw(group["lq"][i]))
        assert item["record"] == str(group["records"][i])
        assert torch.equal(as_float[i]["lq"], PairDataset(store)[i]["lq"])


def test_on_the_fly_later_epochs_use_the_epoch_seed(store):
    ds = OnTheFlyDataset(TINY_RECIPE, None, num=NUM, record=dict, to_float=False)
    first = ds[2]
    ds.set_epoch(1)
    second = ds[2]
    assert second["record"]["seed"] == epoch_seed(3, 1) != 3
    assert not torch.equal(first["lq"], second["lq"])
    assert torch.equal(ds[2]["lq"], second["lq"])                 # deterministic
    assert epoch_seed(3, 0) == 3 and epoch_seed(3, 1) != epoch_seed(3, 2)


def test_on_the_fly_float32_is_the_unquantised_recipe_output():
    from degrade.run.store import quantise

    raw = OnTheFlyDataset(TINY_RECIPE, None, num=3, dtype="float32")[1]
    stored = OnTheFlyDataset(TINY_RECIPE, None, num=3, to_float=False)[1]
    for name in ("hq", "lq"):
        assert raw[name].dtype == torch.float32
        assert np.array_equal(quantise(raw[name].numpy(), "uint8"), stored[name].numpy())


def test_on_the_fly_crop_must_match_the_scale():
    with pytest.raises(ParameterError, match="crop = 15: expected a multiple of the scale factor 2"):
        OnTheFlyDataset(TINY_RECIPE, None, num=2, crop=15)
    with pytest.raises(ParameterError, match="dtype = 'int8': expected auto, uint8"):
        OnTheFlyDataset(TINY_RECIPE, None, num=2, dtype="int8")


# --------------------------------------------------------------------------- errors, misc
def test_error_messages(store, tmp_path):
    with pytest.raises(StoreError, match="not a zarr store"):
        PairDataset(tmp_path)
    with pytest.raises(ParameterError, match="crop = 15: expected a multiple of the scale factor 2"):
        PairDataset(store, crop=15)
    with pytest.raises(ParameterError, match="crop = 64: larger than the HQ samples 32x32"):
        PairDataset(store, crop=64)
    with pytest.raises(ParameterError, match="crop = 0: expected an integer >= 1"):
        PairDataset(store, crop=0)
    with pytest.raises(ParameterError, match="hflip = 'yes': expected True or False"):
        PairDataset(store, hflip="yes")
    with pytest.raises(ParameterError, match="backend = 'mmap': expected 'auto' or 'zarr'"):
        PairDataset(store, backend="mmap")
    with pytest.raises(ParameterError, match="record = 'all': expected True/False or a function"):
        PairDataset(store, record="all")
    ds = PairDataset(store)
    with pytest.raises(ParameterError, match=r"set_epoch: epoch = -1: expected an integer >= 0"):
        ds.set_epoch(-1)
    with pytest.raises(IndexError, match="index 7 out of range for 7 samples"):
        ds[7]
    with pytest.raises(TypeError, match="index must be an integer, got str"):
        ds["0"]


def test_rot90_needs_square_samples(tmp_path):
    synthetic_store(tmp_path / "r.zarr")                           # 8x12 samples
    with pytest.raises(ParameterError, match="rot90 needs square samples or a crop, samples are 8x12"):
        PairDataset(tmp_path / "r.zarr", rot90=True)


def test_unfinished_and_foreign_stores_are_refused(tmp_path):
    synthetic_store(tmp_path / "s.zarr")
    group = zarr.open_group(str(tmp_path / "s.zarr"), mode="r+")
    group.attrs["complete"] = False
    with pytest.raises(StoreError, match="the store is unfinished"):
        PairDataset(tmp_path / "s.zarr")
    zarr.open_group(str(tmp_path / "plain.zarr"), mode="w")
    with pytest.raises(StoreError, match="a zarr group, but not a degrade store"):
        PairDataset(tmp_path / "plain.zarr")


def test_a_corrupt_shard_index_is_reported(tmp_path):
    from degrade.run.store import shard_file

    synthetic_store(tmp_path / "s.zarr")
    path = shard_file(tmp_path / "s.zarr", "lq", 1, 4)
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    ds = PairDataset(tmp_path / "s.zarr")
    ds[0]
    with pytest.raises(StoreError, match="shard index is truncated or corrupt"):
        ds[2]


def test_datasets_pickle_with_their_epoch_and_without_open_files(store):
    ds = PairDataset(store, crop=16)
    ds[0]
    ds.set_epoch(4)
    copy = pickle.loads(pickle.dumps(ds))
    assert copy.epoch == 4 and copy._reader is None
    assert torch.equal(copy[3]["hq"], ds[3]["hq"])
    copy.set_epoch(5)
    assert ds.epoch == 4                                          # a plain copy is independent


def test_import_degrade_does_not_import_torch(fresh_python):
    code = ("import sys, degrade, degrade.run, degrade.sources, degrade.ops; "
            "print('torch' in sys.modules)")
    assert fresh_python(code).strip() == "False"


def test_threads_sharing_one_reader_get_the_right_samples(tmp_path, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    import degrade._torch_io as io

    monkeypatch.setattr(io, "_OPEN_FILES", 1)     # every shard switch closes a descriptor
    hq, lq = synthetic_store(tmp_path / "s.zarr", num=9, shard=2)
    ds = PairDataset(tmp_path / "s.zarr", to_float=False)
    order = [i % 9 for i in range(0, 9 * 40, 4)]  # hops between the 5 shard files
    with ThreadPoolExecutor(4) as pool:
        items = list(pool.map(ds.__getitem__, order))
    for i, item in zip(order, items):
        assert np.array_equal(item["hq"].numpy(), chw(hq[i]))
        assert np.array_equal(item["lq"].numpy(), chw(lq[i]))


def test_without_torch_the_import_error_says_how_to_install_it(fresh_python):
    code = ("import sys; sys.modules['torch'] = None\n"
            "try:\n    import degrade.torch\nexcept ImportError as e:\n    print(e)")
    assert (fresh_python(code).strip()
            == "degrade.torch needs PyTorch: pip install 'degrade[torch]'")


@pytest.mark.parametrize("compression", ["none", "zstd"])
def test_the_direct_reader_works_without_pread(tmp_path, monkeypatch, compression):
    """Windows has no os.pread/os.preadv: the reader seeks and reads instead, same bytes."""
    import os
    hq, lq = synthetic_store(tmp_path / "s.zarr", num=5, shard=2, compression=compression)
    monkeypatch.delattr(os, "pread")
    monkeypatch.delattr(os, "preadv")
    ds = PairDataset(tmp_path / "s.zarr", to_float=False)
    assert ds._open().layouts["hq"] is not None                 # the direct path, not zarr
    for i in (4, 0, 3, 1, 2):
        sample = ds[i]
        assert np.array_equal(sample["hq"].numpy(), chw(hq[i]))
        assert np.array_equal(sample["lq"].numpy(), chw(lq[i]))
