"""Dataset engine: store layout, bit-identical results across workers / schedulers / shard
sizes, resume after SIGKILL, refusal to mix jobs, bad inputs, inspect."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
import zarr

import degrade
from degrade._errors import InputError
from degrade.run import (StoreError, contact_sheet, dequantise, generate, inspect_store,
                         replay_sample)
from degrade.run.store import quantise, shard_file
from degrade.sources.folders import cut_patch, read_file

RECIPE = textwrap.dedent("""\
    name: tiny_x2
    seed: 7
    target: {size: 32, scale: 2, flips: {hflip: true}}
    stages:
      - {op: gaussian_blur, sigma_x: {uniform: [0.3, 1.5]}}
      - {op: resize, relative_to: target, scale: 0.5, mode: {choice: [area, bicubic]}}
      - {op: gaussian_noise, p: 0.7, sigma: {uniform: [1, 10]}, sigma_units: 8bit}
""")
NUM = 12


def write_png(path: Path, h: int, w: int, seed: int) -> Path:
    yy, xx = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(seed)
    img = np.stack([xx * 255 // w, yy * 255 // h, (xx * yy + seed * 40) % 256], -1)
    img = np.clip(img + rng.integers(-20, 21, img.shape), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), img)
    return path


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    for k, (h, w) in enumerate([(40, 48), (48, 40), (36, 52), (64, 64), (33, 40)]):
        write_png(root / f"img{k}.png", h, w, k)
    return root


@pytest.fixture(scope="module")
def recipe():
    return degrade.load_recipe(RECIPE)


def load(path) -> dict:
    g = zarr.open_group(str(path), mode="r")
    return {"hq": g["hq"][:], "lq": g["lq"][:], "records": [str(r) for r in g["records"][:]]}


def assert_same(a: dict, b: dict) -> None:
    assert np.array_equal(a["hq"], b["hq"]) and a["hq"].dtype == b["hq"].dtype
    assert np.array_equal(a["lq"], b["lq"]) and a["lq"].dtype == b["lq"].dtype
    assert a["records"] == b["records"]


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, images, recipe):
    out = tmp_path_factory.mktemp("base") / "store.zarr"
    summary = generate(recipe, str(images), out, num=NUM, shard_size=4, workers=1, progress=False)
    return out, summary, load(out)


def test_store_layout_and_attributes(baseline, recipe, images):
    out, summary, data = baseline
    assert summary["shards"] == 3 and summary["shards_written"] == 3 and summary["skipped"] == []
    g = zarr.open_group(str(out), mode="r")
    assert g["hq"].shape == (NUM, 32, 32, 3) and g["hq"].dtype == np.uint8
    assert g["lq"].shape == (NUM, 16, 16, 3) and g["lq"].dtype == np.uint8
    assert g["hq"].chunks == (1, 32, 32, 3) and g["hq"].shards == (4, 32, 32, 3)
    assert g["records"].shape == (NUM,) and g["records"].chunks == (4,)
    attrs = dict(g.attrs)
    assert attrs["recipe_text"] == RECIPE and attrs["recipe_hash"] == recipe.hash
    assert attrs["seed"] == 7 and attrs["complete"] is True and attrs["skipped"] == []
    assert attrs["degrade"]["version"] == degrade.__version__
    assert len(attrs["listing_hash"]) == 64 and attrs["created"].endswith("Z")
    assert attrs["dtype_scale"] == {"hq": 255, "lq": 255}
    # 12 samples over 5 files: file j*5//12 for sample j
    paths = [json.loads(r)["source"]["path"] for r in data["records"]]
    assert paths == [f"img{j * 5 // 12}.png" for j in range(NUM)]


def test_every_sample_replays_from_its_record(baseline, recipe, images):
    out, _, data = baseline
    for i in (0, 5, 11):
        record = json.loads(data["records"][i])
        image, meta = read_file(images / record["source"]["path"], "image")
        sample = recipe.replay(cut_patch(image, None, None), record, meta=meta)
        assert np.array_equal(quantise(sample.hq, "uint8"), data["hq"][i])
        assert np.array_equal(quantise(sample.lq, "uint8"), data["lq"][i])
        assert record["index"] == i and record["seed"] == 7
        again = replay_sample(out, i)
        assert np.array_equal(again.hq, sample.hq) and np.array_equal(again.lq, sample.lq)
    with pytest.raises(StoreError, match="sample 12 out of range"):
        replay_sample(out, NUM)


@pytest.mark.parametrize("options", [
    {"workers": 2},
    {"workers": 2, "shard_size": 5},
    {"workers": 1, "shard_size": 12},
    {"scheduler": "synchronous", "shard_size": 3},
    {"scheduler": "processes", "workers": 2},
], ids=["threads-2", "threads-2-shard5", "one-shard", "synchronous-shard3", "processes-2"])
def test_bit_identical_for_workers_schedulers_and_shard_sizes(baseline, tmp_path, images, recipe,
                                                              options):
    kwargs = {"shard_size": 4, **options}
    out = tmp_path / "s.zarr"
    generate(recipe, str(images), out, num=NUM, progress=False, **kwargs)
    assert_same(baseline[2], load(out))
    if kwargs["shard_size"] == 4:      # same layout: even the shard files are byte-identical
        for name, shard, ndim in (("hq", 1, 4), ("lq", 2, 4), ("records", 0, 1)):
            assert shard_file(out, name, shard, ndim).read_bytes() == \
                shard_file(baseline[0], name, shard, ndim).read_bytes()


def test_distributed_cluster_via_address_and_environment(baseline, tmp_path, images, recipe,
                                                        monkeypatch):
    from distributed import LocalCluster
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                      dashboard_address=None) as cluster:
        monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", cluster.scheduler_address)
        out = tmp_path / "c.zarr"
        generate(recipe, str(images), out, num=NUM, shard_size=4, progress=False)
        assert_same(baseline[2], load(out))
        out2 = tmp_path / "c2.zarr"
        generate(recipe, str(images), out2, num=NUM, shard_size=6, progress=False,
                 scheduler=cluster.scheduler_address)
        assert_same(baseline[2], load(out2))


KILL_SCRIPT = textwrap.dedent("""\
    import sys, time
    import degrade.run.tasks as tasks
    from degrade.run import store, generate
    recipe_text, images, out, marker = sys.argv[1:5]

    def write_then_hang_on_shard_3(path, shard, size, hq, lq, records, compression, *rest, **kw):
        if shard == 3:   # die between the array writes of one shard: records, lq, (no hq)
            store._write_atomic(store.shard_file(path, "records", shard, 1),
                                [store.records_chunk(records, size, *rest)])
            store._write_atomic(store.shard_file(path, "lq", shard, lq.ndim),
                                store.shard_parts(lq, size, compression, *rest))
            open(marker, "w").close()
            time.sleep(600)
        store.write_shard(path, shard, size, hq, lq, records, compression, *rest, **kw)

    tasks.write_shard = write_then_hang_on_shard_3
    generate(recipe_text, images, out, num=%d, shard_size=2, workers=1, progress=False)
""" % NUM)


def test_resume_after_sigkill_mid_shard(baseline, tmp_path, images):
    out, marker = tmp_path / "k.zarr", tmp_path / "marker"
    script = tmp_path / "kill.py"
    script.write_text(KILL_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), RECIPE, str(images), str(out), str(marker)])
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, "the generating process ended before the kill"
            assert time.monotonic() < deadline, "no shard 3 after 120 s"
            time.sleep(0.05)
        time.sleep(0.1)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert shard_file(out, "lq", 3, 4).is_file() and not shard_file(out, "hq", 3, 4).exists()
    assert zarr.open_group(str(out), mode="r").attrs["complete"] is False
    done = {k for k in range(6) if shard_file(out, "hq", k, 4).is_file()}
    stamps = {k: shard_file(out, "hq", k, 4).stat().st_mtime_ns for k in done}
    info = inspect_store(out)
    assert not info["complete"] and info["shards_done"] == len(done)
    assert info["samples_done"] == 2 * len(done) and info["summary"]["records_read"] == 2 * len(done)

    summary = generate(RECIPE, str(images), out, num=NUM, shard_size=2, workers=2, progress=False)
    assert summary["shards_reused"] == len(done)
    assert summary["shards_written"] == 6 - len(done) and 3 not in done
    assert all(shard_file(out, "hq", k, 4).stat().st_mtime_ns == t for k, t in stamps.items())
    assert_same(baseline[2], load(out))
    assert zarr.open_group(str(out), mode="r").attrs["complete"] is True
    again = generate(RECIPE, str(images), out, num=NUM, shard_size=2, progress=False)
    assert again["shards_written"] == 0 and again["shards_reused"] == 6


def test_other_job_is_refused_unless_overwrite(baseline, tmp_path, images, recipe):
    out = tmp_path / "r.zarr"
    generate(recipe, str(images), out, num=4, shard_size=4, progress=False)
    other = RECIPE.replace("[1, 10]", "[1, 20]")
    with pytest.raises(StoreError, match=r"holds a store of another job[\s\S]*recipe_hash: store has "
                                         r"tiny_x2 \(\w{12}\), this run wants tiny_x2"):
        generate(other, str(images), out, num=4, shard_size=4, progress=False)
    with pytest.raises(StoreError, match="seed: store has 7, this run wants 8"):
        generate(recipe, str(images), out, num=4, shard_size=4, seed=8, progress=False)
    with pytest.raises(StoreError, match="num: store has 4, this run wants 5"):
        generate(recipe, str(images), out, num=5, shard_size=4, progress=False)
    summary = generate(recipe, str(images), out, num=4, shard_size=4, seed=8, overwrite=True,
                       progress=False)
    assert summary["shards_written"] == 1
    assert zarr.open_group(str(out), mode="r").attrs["seed"] == 8


@pytest.mark.parametrize("scheduler, workers, first", [("threads", 2, [0, 1]),
                                                      ("synchronous", 2, [0])])
def test_overwrite_makes_each_workers_first_shard_before_publishing(
        baseline, tmp_path, images, recipe, monkeypatch, scheduler, workers, first):
    """--overwrite stages the new store until shards are made: one per worker, side by side
    (one alone left the other worker idle), then publishes; same bits as a fresh store."""
    from degrade.run import store
    real, out = store.publish_store, tmp_path / "o.zarr"
    generate(recipe, str(images), out, num=4, shard_size=4, seed=3, progress=False)
    staged = []

    def publish(staging, path):
        staged.append(sorted(k for k in range(NUM // 4) if shard_file(staging, "hq", k, 4).exists()))
        real(staging, path)
    monkeypatch.setattr(store, "publish_store", publish)
    summary = generate(recipe, str(images), out, num=NUM, shard_size=4, workers=workers,
                       scheduler=scheduler, overwrite=True, progress=False)
    assert staged == [first] and summary["shards_written"] == NUM // 4
    assert_same(baseline[2], load(out))


def test_overwrite_never_deletes_a_folder_that_is_not_a_store(tmp_path, images, recipe):
    precious = tmp_path / "mine"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    for overwrite in (False, True):
        with pytest.raises(StoreError, match="not a zarr store"):
            generate(recipe, str(images), precious, num=2, overwrite=overwrite, progress=False)
    assert (precious / "notes.txt").read_text() == "keep me"


@pytest.fixture
def broken_folder(tmp_path, images):
    root = tmp_path / "mixed"
    root.mkdir()
    for p in sorted(images.glob("*.png"))[:3]:
        (root / p.name).write_bytes(p.read_bytes())
    (root / "img1b_truncated.png").write_bytes((images / "img3.png").read_bytes()[:600])
    (root / "zz_garbage.png").write_bytes(b"\x89PNG garbage")
    write_png(root / "zz_tiny.png", 16, 16, 9)
    return root


@pytest.mark.filterwarnings("ignore:skipping", "ignore:replaced")
def test_bad_files_are_skipped_listed_and_deterministic(broken_folder, tmp_path, recipe):
    out = tmp_path / "b.zarr"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        summary = generate(recipe, str(broken_folder), out, num=8, shard_size=4, progress=False)
    messages = sorted(str(w.message) for w in caught)
    assert len(messages) == 3
    assert re.match(r"skipping .*zz_garbage.png: not a readable image", messages[1])
    assert re.match(r"skipping .*zz_tiny.png: 16x16 is smaller than the crop 32x32", messages[2])
    assert re.match(r"replaced .*img1b_truncated.png .*by the next file of its source: .*not a "
                    r"readable image", messages[0])
    skipped = {Path(s["path"]).name: s["reason"] for s in summary["skipped"]}
    assert set(skipped) == {"img1b_truncated.png", "zz_garbage.png", "zz_tiny.png"}
    assert "smaller than the crop 32x32" in skipped["zz_tiny.png"]
    attrs = dict(zarr.open_group(str(out), mode="r").attrs)
    assert attrs["skipped_count"] == 3 and {Path(s["path"]).name for s in attrs["skipped"]} == set(skipped)
    # the truncated file passes the header probe; its samples come from the next file
    records = [json.loads(r) for r in load(out)["records"]]
    replaced = [r for r in records if "replaces" in r["source"]]
    assert replaced and all(r["source"]["replaces"] == ["img1b_truncated.png"]
                            and r["source"]["path"] == "img2.png" for r in replaced)
    out2 = tmp_path / "b2.zarr"
    generate(recipe, str(broken_folder), out2, num=8, shard_size=3, workers=2, progress=False)
    assert_same(load(out), load(out2))


@pytest.mark.filterwarnings("ignore:replaced")
def test_strict_fails_fast_and_keeps_finished_shards(broken_folder, tmp_path, recipe, monkeypatch):
    from degrade.run import tasks

    with pytest.raises(InputError, match="zz_garbage.png: not a readable image"):
        generate(recipe, str(broken_folder), tmp_path / "s.zarr", num=8, strict=True, progress=False)
    (broken_folder / "zz_garbage.png").unlink()
    (broken_folder / "zz_tiny.png").unlink()
    out = tmp_path / "s2.zarr"
    written = []
    write_shard = tasks.write_shard
    monkeypatch.setattr(tasks, "write_shard", lambda *a: (write_shard(*a), written.append(a[1])))
    with pytest.raises(InputError, match="img1b_truncated.png: not a readable image"):
        generate(recipe, str(broken_folder), out, num=8, shard_size=2, strict=True, workers=1,
                 progress=False)
    kept = {k for k in range(4) if shard_file(out, "hq", k, 4).is_file()}
    # samples 4-5 (shard 2) come from the truncated file; every shard finished before is kept
    assert kept == set(written) and 2 not in kept
    monkeypatch.undo()
    summary = generate(recipe, str(broken_folder), out, num=8, shard_size=2, progress=False)
    assert summary["shards_reused"] == len(kept)
    assert [Path(s["path"]).name for s in summary["skipped"]] == ["img1b_truncated.png"]


@pytest.mark.parametrize("dtype, scale", [("uint16", 65535), ("float16", 1)])
def test_dtype_option(tmp_path, images, recipe, dtype, scale):
    generate(recipe, str(images), tmp_path / "u8.zarr", num=4, progress=False)
    out = tmp_path / "d.zarr"
    generate(recipe, str(images), out, num=4, dtype=dtype, progress=False)
    g = zarr.open_group(str(out), mode="r")
    assert g["hq"].dtype == np.dtype(dtype) and g.attrs["dtype_scale"]["lq"] == scale
    # 8-bit sources: the HQ crop is exact at any precision
    reference = load(tmp_path / "u8.zarr")
    assert np.array_equal(np.round(dequantise(g["hq"][:]) * 255), reference["hq"])
    lq = np.round(dequantise(g["lq"][:]) * 255)
    assert np.abs(lq - reference["lq"]).max() <= 1 and reference["records"] == load(out)["records"]


def test_grid_patches_feed_the_recipe_and_are_recorded(tmp_path, recipe):
    root = tmp_path / "g"
    write_png(root / "big.png", 64, 80, 0)
    out = tmp_path / "grid.zarr"
    summary = generate(recipe, str(root), out, patch_size=32, stride=32, shard_size=4, progress=False)
    assert summary["num"] == 6                          # rows 0, 32 x cols 0, 32, 48
    patches = [json.loads(r)["source"]["patch"] for r in load(out)["records"]]
    assert patches == [[0, 0, 32], [0, 32, 32], [0, 48, 32], [32, 0, 32], [32, 32, 32], [32, 48, 32]]


def test_whole_image_recipe_needs_fixed_size_samples(tmp_path, images):
    whole = degrade.load_recipe(RECIPE.replace("size: 32, ", ""))
    with pytest.raises(InputError, match="a store needs fixed-size samples"):
        generate(whole, str(images), tmp_path / "w.zarr", num=5, shard_size=5, progress=False)
    summary = generate(whole, str(images), tmp_path / "w2.zarr", num=5, patch_size=32,
                       progress=False)
    assert zarr.open_group(str(tmp_path / "w2.zarr"), mode="r")["hq"].shape == (5, 32, 32, 3)
    assert summary["samples_written"] == 5


def test_weighted_sources_in_the_store(tmp_path, images, recipe):
    other = tmp_path / "other"
    write_png(other / "o.png", 40, 40, 5)
    out = tmp_path / "m.zarr"
    generate(recipe, [str(images), str(other)], out, num=10, weights=[0.8, 0.2], progress=False)
    sources = [json.loads(r)["source"]["source"] for r in load(out)["records"]]
    assert sources.count(0) == 8 and sources.count(1) == 2
    info = inspect_store(out)
    assert info["summary"]["by_source"] == {"0": 8, "1": 2}


def test_inspect_and_contact_sheet(baseline, tmp_path):
    out = baseline[0]
    info = inspect_store(out)
    assert info["complete"] and info["num"] == NUM and info["samples_done"] == NUM
    assert info["arrays"]["lq"]["shape"] == [NUM, 16, 16, 3] and info["recipe"]["name"] == "tiny_x2"
    params = info["summary"]["params"]
    assert 0.3 <= params["gaussian_blur.sigma_x"]["min"] <= params["gaussian_blur.sigma_x"]["max"] < 1.5
    assert sum(params["resize.mode"]["counts"].values()) == NUM
    png = contact_sheet(out, tmp_path / "grid.png", pairs=3)
    sheet = cv2.imread(str(png))
    assert sheet.shape == (3 * 32 + 2 * 4, 2 * 32 + 4, 3)


def test_generate_errors(tmp_path, images, recipe):
    from degrade._errors import ParameterError
    with pytest.raises(ParameterError, match="scheduler = 'thread': expected one of threads"):
        generate(recipe, str(images), tmp_path / "x", scheduler="thread", progress=False)
    with pytest.raises(ParameterError, match="shard_size = 0: expected an integer >= 1"):
        generate(recipe, str(images), tmp_path / "x", shard_size=0, progress=False)
    with pytest.raises(ParameterError, match="dtype = 'int8': expected auto, uint8"):
        generate(recipe, str(images), tmp_path / "x", dtype="int8", progress=False)
    with pytest.raises(StoreError, match="compression = 'gzip': expected 'none', 'lz4' or 'zstd'"):
        generate(recipe, str(images), tmp_path / "x", compression="gzip", progress=False)
    with pytest.raises(StoreError, match="not a zarr store"):
        inspect_store(tmp_path)


RAW_RECIPE = textwrap.dedent("""\
    name: tiny_raw
    seed: 2
    input: raw
    target: {size: 32}
    stages:
      - {op: gaussian_noise, sigma: {uniform: [0.001, 0.02]}}
""")


@pytest.mark.filterwarnings("ignore:skipping")
def test_raw_folder_to_uint16_mosaics_with_pattern(shared_data, tmp_path):
    root = tmp_path / "raw"
    root.mkdir()
    dng = shared_data / "raw" / "dng" / "nokia_n900_halide_bayer_small_344x256_grbg.dng"
    (root / "n900.dng").write_bytes(dng.read_bytes())
    (root / "broken.dng").write_bytes(b"II*\0 not really a dng")
    out = tmp_path / "raw.zarr"
    summary = generate(RAW_RECIPE, str(root), out, num=4, patch_size=64, progress=False)
    assert [Path(s["path"]).name for s in summary["skipped"]] == ["broken.dng"]
    assert "rawpy cannot open it" in summary["skipped"][0]["reason"]
    g = zarr.open_group(str(out), mode="r")
    assert g["hq"].shape == (4, 32, 32) and g["hq"].dtype == np.uint16 and g["lq"].dtype == np.uint16
    records = [json.loads(str(r)) for r in g["records"][:]]
    assert all(r["meta"]["pattern"] == "GRBG" for r in records)
    assert all(p % 2 == 0 for r in records for p in r["source"]["patch"][:2])   # CFA phase kept
    recipe = degrade.load_recipe(RAW_RECIPE)
    mosaic, meta = read_file(root / "n900.dng", "raw")
    patch = cut_patch(mosaic, records[1]["source"]["patch"][:2], 64)
    sample = recipe.replay(patch, records[1], meta=meta)
    assert np.array_equal(quantise(sample.lq, "uint16"), g["lq"][1])
    sheet = cv2.imread(str(contact_sheet(out, tmp_path / "raw.png", pairs=4)))
    assert sheet.shape == (4 * 32 + 3 * 4, 2 * 32 + 4, 3)
    # mosaics shown as `degrade preview` shows them: demosaiced, white-balanced, in colour
    from degrade.preview import to_display
    shown = to_display(dequantise(g["hq"][0]), recipe.target_domain, records[0]["meta"])
    assert np.array_equal(sheet[:32, :32, ::-1], shown)
    assert not np.array_equal(sheet[..., 0], sheet[..., 1])


def test_unreachable_scheduler_is_a_clear_error(tmp_path, images, recipe):
    import dask
    from degrade._errors import ParameterError
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        with pytest.raises(ParameterError, match=r"scheduler = 'tcp://127.0.0.1:9': cannot connect "
                                                 r"to a dask.distributed scheduler there"):
            generate(recipe, str(images), tmp_path / "u.zarr", num=2,
                     scheduler="tcp://127.0.0.1:9", progress=False)


def test_half_created_store_asks_for_overwrite(tmp_path, images, recipe):
    zarr.open_group(str(tmp_path / "h.zarr"), mode="w")
    with pytest.raises(StoreError, match="not a degrade store .*; use --overwrite to replace it"):
        generate(recipe, str(images), tmp_path / "h.zarr", num=2, progress=False)
    assert generate(recipe, str(images), tmp_path / "h.zarr", num=2, overwrite=True,
                    progress=False)["samples_written"] == 2
