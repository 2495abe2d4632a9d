"""Readers of downloaded RAW pair formats: SIDD raw .MAT (v7.3 HDF5 and v5) and SID/ELD
short/long exposure pairs, on small files written here in those formats."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy.io import savemat

import degrade
from degrade._errors import InputError, ParameterError
from degrade.noisebench.noise import benchmark_noise
from degrade.noisebench.rawformats import (load_exposure_pair, load_sidd_pair, read_mat_variable,
                                           sid_exposure)


def _mosaics(h=64, w=80, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    clean = (0.05 + 0.5 * (xx + yy) / (h + w)).astype(np.float32)
    noisy = (clean + rng.normal(0, 0.01, clean.shape)).astype(np.float32)
    return noisy, clean


def _write_v73(path: Path, arr: np.ndarray) -> None:
    """MATLAB v7.3 layout: 512-byte header + HDF5, arrays stored column-major (transposed)."""
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w", userblock_size=512) as f:
        f.create_dataset("x", data=np.ascontiguousarray(arr.T))
    with path.open("r+b") as fh:
        fh.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64".ljust(116, b" "))


def test_sidd_v73_pair_with_pattern_from_the_scene_folder(tmp_path):
    scene = tmp_path / "0001_001_S6_00100_00060_3200_L"
    scene.mkdir()
    noisy, clean = _mosaics()
    _write_v73(scene / "0001_NOISY_RAW_010.MAT", noisy)
    _write_v73(scene / "0001_GT_RAW_010.MAT", clean)
    assert np.array_equal(read_mat_variable(scene / "0001_NOISY_RAW_010.MAT"), noisy)
    pair = load_sidd_pair(scene / "0001_NOISY_RAW_010.MAT")
    assert pair.pattern == "GRBG" and pair.domain == "raw"          # S6 phone
    assert pair.noisy.shape == (64, 80) and np.allclose(pair.clean, clean)
    assert pair.name == scene.name


def test_sidd_v5_pair_with_pattern_from_metadata(tmp_path):
    noisy, clean = _mosaics(seed=1)
    savemat(tmp_path / "0002_NOISY_RAW_011.MAT", {"x": noisy})
    savemat(tmp_path / "0002_GT_RAW_011.MAT", {"x": clean})
    meta = {"Model": "Pixel", "UnknownTags": {"ID": 33422,
                                              "Value": {"CFAPattern2": np.array([2, 1, 1, 0])}}}
    savemat(tmp_path / "0002_METADATA_RAW_011.MAT", {"metadata": meta})
    pair = load_sidd_pair(tmp_path / "0002_NOISY_RAW_011.MAT")
    assert pair.pattern == "BGGR"
    res = benchmark_noise([pair], models=["gaussian"], speed=False, bootstrap_replicates=30)
    assert res.pairs[0]["models"]["gaussian"]["params"]["sigma"] == pytest.approx(0.01, rel=0.1)


def test_sidd_errors(tmp_path):
    noisy, clean = _mosaics()
    savemat(tmp_path / "0003_NOISY_RAW_010.MAT", {"x": noisy})
    with pytest.raises(ParameterError, match="CFA pattern"):
        load_sidd_pair(tmp_path / "0003_NOISY_RAW_010.MAT")
    with pytest.raises(InputError, match="no such file"):
        load_sidd_pair(tmp_path / "0003_NOISY_RAW_010.MAT", pattern="RGGB")
    with pytest.raises(InputError, match="not a SIDD"):
        load_sidd_pair(tmp_path / "whatever.MAT")


def test_sid_npy_pair_amplified_by_the_ratio_from_names(tmp_path):
    rng = np.random.default_rng(2)
    yy, xx = np.mgrid[0:64, 0:64]
    long_dn = np.round(512 + 8000 * (xx + yy) / 128).astype(np.uint16)
    short_dn = np.round(512 + (long_dn - 512) / 100 + rng.normal(0, 3, long_dn.shape))
    np.save(tmp_path / "00001_00_0.1s.npy", short_dn.astype(np.uint16))
    np.save(tmp_path / "00001_00_10s.npy", long_dn)
    assert sid_exposure(tmp_path / "00001_00_0.1s.npy") == 0.1
    pair = load_exposure_pair(tmp_path / "00001_00_0.1s.npy", tmp_path / "00001_00_10s.npy",
                              black_level=512, white_level=16383)
    s = 16383 - 512
    assert pair.name.endswith("x100")
    # the amplified short exposure matches the long one up to read noise x ratio
    assert np.mean(pair.noisy - pair.clean) == pytest.approx(0, abs=3 * 300 / s / 64)
    assert np.std(pair.noisy - pair.clean) == pytest.approx(np.hypot(300, 29) / s, rel=0.1)
    with pytest.raises(ParameterError, match="ratio"):
        load_exposure_pair(tmp_path / "00001_00_0.1s.npy", tmp_path / "00001_00_10s.npy",
                           ratio=0.5, black_level=512, white_level=16383)


def test_sid_camera_raw_files(tmp_path):
    src = Path(degrade.__file__).parent / "samples" / "raw" / "nikon_d750_rose_768x512_rggb.dng"
    shutil.copy(src, tmp_path / "00002_00_0.04s.dng")
    shutil.copy(src, tmp_path / "00002_00_10s.dng")
    pair = load_exposure_pair(tmp_path / "00002_00_0.04s.dng", tmp_path / "00002_00_10s.dng")
    # the same file twice: the "noisy" image is the reference amplified by 10 / 0.04 = 250
    assert pair.pattern == "RGGB" and pair.noisy.shape == (512, 768)
    assert np.allclose(pair.noisy, 250 * pair.clean, rtol=1e-5)
