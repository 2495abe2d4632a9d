"""`degrade export STORE --format basicsr DIR`: read back by basicsr 1.4.2's PairedImageDataset.

basicsr is an optional oracle (pip install --no-deps basicsr==1.4.2, with torch), imported
through tests/basicsr_oracle.py; the test skips when basicsr or torch is missing.
"""
from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
import yaml

import degrade
from degrade import InputError
from degrade._torch_io import StoreReader, read_store_meta
from degrade.export import export_basicsr

from basicsr_oracle import basicsr_modules


@pytest.fixture
def store(realesrgan_store):
    return realesrgan_store


def basicsr_paired_dataset():
    """basicsr's PairedImageDataset class, or None (basicsr/torch not importable)."""
    mods = basicsr_modules("data.paired_image_dataset")
    return None if mods is None else mods[0].PairedImageDataset


def test_export_is_read_back_by_basicsr(store, tmp_path):
    paired = basicsr_paired_dataset()
    if paired is None:
        pytest.skip("basicsr 1.4.2 + torch not importable (pip install torch; "
                    "pip install --no-deps basicsr==1.4.2)")
    out = tmp_path / "bsr"
    summary = export_basicsr(store, out)
    assert summary["num"] == 5 and summary["scale"] == 4
    # (a fresh options dict per dataset: basicsr pops io_backend.type on first use)
    opt = dict(yaml.safe_load(summary["options"]), name="degrade", phase="val", scale=4)
    dataset = paired(opt)
    assert len(dataset) == 5
    meta = read_store_meta(store)
    reader = StoreReader(str(store), meta)
    for i in range(5):
        item = dataset[i]
        gt = item["gt"].permute(1, 2, 0).numpy()
        lq = item["lq"].permute(1, 2, 0).numpy()
        assert np.array_equal(np.rint(gt * 255).astype(np.uint8), reader.read("hq", i))
        assert np.array_equal(np.rint(lq * 255).astype(np.uint8), reader.read("lq", i))
        assert item["gt_path"].endswith(f"gt/{i:08d}.png") and item["lq_path"].endswith(f"lq/{i:08d}.png")
    # and for training: basicsr's own paired crop of gt_size with flips
    opt = dict(yaml.safe_load(summary["options"]), name="degrade", scale=4)
    train = paired(dict(opt, phase="train", gt_size=128, use_hflip=True, use_rot=True))
    item = train[2]
    assert tuple(item["gt"].shape) == (3, 128, 128) and tuple(item["lq"].shape) == (3, 32, 32)


def test_export_files_records_and_refusals(store, tmp_path):
    out = tmp_path / "bsr"
    export_basicsr(store, out)
    lines = (out / "meta_info.txt").read_text().splitlines()
    assert lines == [f"{i:08d}.png (256,256,3)" for i in range(5)]
    records = [json.loads(x) for x in (out / "records.jsonl").read_text().splitlines()]
    assert [r["index"] for r in records] == list(range(5))
    hq = cv2.imread(str(out / "gt" / "00000003.png"), cv2.IMREAD_UNCHANGED)[..., ::-1]
    assert np.array_equal(hq, StoreReader(str(store), read_store_meta(store)).read("hq", 3))
    with pytest.raises(InputError, match="exists and is not empty"):
        export_basicsr(store, out)
    export_basicsr(store, out, overwrite=True)
    other = tmp_path / "other"
    other.mkdir()
    (other / "precious.txt").write_text("x")
    with pytest.raises(InputError, match="replaces only a previous export"):
        export_basicsr(store, other, overwrite=True)


def test_raw_stores_are_refused(tmp_path):
    raw = tmp_path / "raw.zarr"
    degrade.generate("unprocess_brooks2019", None, raw, num=2, workers=1, scheduler="threads",
                     progress=False)
    with pytest.raises(InputError, match=r"a BasicSR export needs RGB images"):
        export_basicsr(raw, tmp_path / "x")


def test_cli(store, tmp_path):
    run = subprocess.run([sys.executable, "-m", "degrade.cli", "export", str(store),
                          str(tmp_path / "o"), "--format", "basicsr"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "type: PairedImageDataset" in run.stdout and "wrote 5 pairs" in run.stderr
    run = subprocess.run([sys.executable, "-m", "degrade.cli", "export", str(tmp_path / "nope"),
                          str(tmp_path / "o2"), "--format", "basicsr"], capture_output=True,
                         text=True)
    assert run.returncode == 2 and run.stderr.startswith("error: ") and run.stderr.count("\n") == 1


def test_export_from_an_s3_store_equals_the_local_export(store, s3_server, s3_bucket, s3_env,
                                                          tmp_path):
    """A store given by URL is read through the object store, sample by sample (it used to be
    squashed into a local path and fail after its metadata was read)."""
    from s3server import upload_tree

    from degrade import storage

    url = f"s3://{s3_bucket}/pairs.zarr"
    upload_tree(store, storage.resolve(url, s3_server.storage_options()))
    local, remote = export_basicsr(store, tmp_path / "local"), export_basicsr(url, tmp_path / "s3")
    assert remote["num"] == local["num"] == 5
    for folder in ("gt", "lq"):
        names = sorted(p.name for p in (tmp_path / "local" / folder).iterdir())
        assert names == sorted(p.name for p in (tmp_path / "s3" / folder).iterdir())
        for name in names:
            assert ((tmp_path / "s3" / folder / name).read_bytes()
                    == (tmp_path / "local" / folder / name).read_bytes())
