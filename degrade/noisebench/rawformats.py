"""Readers for the real RAW noisy / clean pairs people download, as benchmark pairs.

* **SIDD raw** (Abdelhamed et al. CVPR 2018): ``<scene>/<id>_NOISY_RAW_<k>.MAT`` with
  ``<id>_GT_RAW_<k>.MAT`` and ``<id>_METADATA_RAW_<k>.MAT``. The image is the variable ``x``,
  a normalised Bayer mosaic (float, black subtracted, in [0, 1]). The released files are
  MATLAB v7.3, i.e. HDF5 (read with ``h5py``; MATLAB stores column-major, so the array is
  transposed back); MATLAB v5 files are read with ``scipy.io.loadmat``. CFA pattern: the
  ``pattern`` argument, else a ``CFAPattern2`` / ``CFAPattern`` field anywhere in the
  metadata struct (0 = R, 1 = G, 2 = B), else the phone code in the scene folder name
  (``0001_001_S6_00100_00060_3200_L``: GP, N6, G4 BGGR; IP RGGB; S6 GRBG).
* **SID / ELD short-long exposure pairs** (Chen et al. CVPR 2018; Wei et al. CVPR 2020): a
  short-exposure RAW file and a long-exposure one of the same scene. The short one is the
  noisy image, amplified by the exposure ratio; the long one is the reference (itself a
  little noisy: its noise is ``ratio`` times weaker in relative terms). The ratio comes from
  the argument or from SID's file names (``00001_00_0.1s.ARW`` / ``00001_00_10s.ARW``:
  10 / 0.1 = 100). Files are camera RAW (``read_raw``) or ``.npy`` DN mosaics with levels.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .._errors import InputError, ParameterError
from .inputs import NoisePair, raw_pair

#: CFA pattern of each SIDD phone (Noise Flow / SIDD conventions).
SIDD_PHONE_PATTERN = {"GP": "BGGR", "N6": "BGGR", "G4": "BGGR", "IP": "RGGB", "S6": "GRBG"}
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def _is_hdf5(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(520)
    # MATLAB v7.3: a 512-byte MATLAB header, then the HDF5 superblock
    return head[:8] == _HDF5_MAGIC or head[512:520] == _HDF5_MAGIC


def read_mat_variable(path, name: str = "x") -> np.ndarray:
    """Variable ``name`` of a MATLAB file (v7.3/HDF5 via h5py, transposed back to MATLAB's
    row/column order; v5 via scipy)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if _is_hdf5(path):
        try:
            import h5py
        except ImportError:
            raise InputError(f"{path}: a MATLAB v7.3 (HDF5) file; reading it needs h5py "
                             "(pip install h5py)") from None
        with h5py.File(path, "r") as f:
            if name not in f:
                raise InputError(f"{path}: no variable {name!r} (has {', '.join(f.keys())})")
            return np.asarray(f[name]).T
    from scipy.io import loadmat

    try:
        data = loadmat(path)
    except (ValueError, OSError, NotImplementedError) as exc:
        raise InputError(f"{path}: not a readable MATLAB file ({exc})") from None
    if name not in data:
        keys = [k for k in data if not k.startswith("__")]
        raise InputError(f"{path}: no variable {name!r} (has {', '.join(keys)})")
    return np.asarray(data[name])


def _find_cfa(obj, depth: int = 0):
    """A CFAPattern2 / CFAPattern field anywhere in a loadmat struct, as 'RGGB'-style text."""
    if depth > 8 or obj is None:
        return None
    if isinstance(obj, np.ndarray) and obj.dtype.names:
        for n in obj.dtype.names:
            if n in ("CFAPattern2", "CFAPattern"):
                vals = np.asarray(obj[n].ravel()[0]).ravel()
                if vals.size == 4 and set(vals.tolist()) <= {0, 1, 2}:
                    return "".join("RGB"[int(v)] for v in vals)
            for item in obj[n].ravel():
                found = _find_cfa(item, depth + 1)
                if found:
                    return found
    elif isinstance(obj, np.ndarray) and obj.dtype == object:
        for item in obj.ravel():
            found = _find_cfa(item, depth + 1)
            if found:
                return found
    return None


def sidd_pattern(noisy_path, metadata_path=None) -> str | None:
    """The CFA pattern of a SIDD image from its metadata file or its scene folder name."""
    if metadata_path and Path(metadata_path).is_file() and not _is_hdf5(Path(metadata_path)):
        from scipy.io import loadmat

        try:
            found = _find_cfa(loadmat(metadata_path).get("metadata"))
        except (ValueError, OSError, NotImplementedError):
            found = None
        if found:
            return found
    m = re.search(r"\d{4}_\d{3}_([A-Z0-9]{2})_", str(Path(noisy_path).resolve()))
    return SIDD_PHONE_PATTERN.get(m[1]) if m else None


def load_sidd_pair(noisy_path, gt_path=None, metadata_path=None, *, pattern: str | None = None,
                   crop: int | None = None) -> NoisePair:
    """A SIDD raw pair (``*_NOISY_RAW_*.MAT``; the GT and metadata files are found next to
    it by name unless given)."""
    noisy_path = Path(noisy_path)
    if "NOISY_RAW" not in noisy_path.name:
        raise InputError(f"{noisy_path}: not a SIDD noisy raw file (expected a name like "
                         "0001_NOISY_RAW_010.MAT)")
    gt_path = Path(gt_path) if gt_path else noisy_path.with_name(
        noisy_path.name.replace("NOISY_RAW", "GT_RAW"))
    metadata_path = Path(metadata_path) if metadata_path else noisy_path.with_name(
        noisy_path.name.replace("NOISY_RAW", "METADATA_RAW"))
    pat = pattern or sidd_pattern(noisy_path, metadata_path)
    if pat is None:
        raise ParameterError(f"{noisy_path}: CFA pattern not found in {metadata_path.name} or "
                             "the scene folder name; give it (--pattern)")
    noisy = read_mat_variable(noisy_path).astype(np.float32)
    clean = read_mat_variable(gt_path).astype(np.float32)
    return raw_pair(noisy, clean, pattern=pat, name=noisy_path.parent.name or noisy_path.stem,
                    crop=crop)


def sid_exposure(path) -> float | None:
    """Exposure time in seconds from a SID-style name (``00001_00_0.1s.ARW`` -> 0.1)."""
    m = re.search(r"_(\d+(?:\.\d+)?)s$", Path(path).stem)
    return float(m[1]) if m else None


def load_exposure_pair(short_path, long_path, *, ratio: float | None = None,
                       pattern: str | None = None, black_level: float | None = None,
                       white_level: float | None = None, crop: int | None = None) -> NoisePair:
    """A SID / ELD short-long exposure pair: noisy = short exposure x ratio, clean = long
    exposure, both ``(dn - black) / (white - black)``, not clipped."""
    from .inputs import _normalise, _read_mosaic

    if ratio is None:
        ts, tl = sid_exposure(short_path), sid_exposure(long_path)
        if not (ts and tl):
            raise ParameterError(f"{short_path}, {long_path}: exposure times not in the file "
                                 "names (SID style ..._0.1s.ARW); give the ratio (--ratio)")
        ratio = tl / ts
    if not (np.isfinite(ratio) and ratio >= 1):
        raise ParameterError(f"exposure ratio = {ratio!r}: expected a number >= 1 (long / short)")
    s, pat, b, w = _read_mosaic(short_path, pattern, black_level, white_level)
    lg, _, _, _ = _read_mosaic(long_path, pattern, black_level, white_level)
    name = f"{Path(short_path).stem} x{ratio:g}"
    noisy = _normalise(s, b, w, name, "short exposure") * np.float32(ratio)
    return raw_pair(noisy.astype(np.float32), _normalise(lg, b, w, name, "long exposure"),
                    pattern=pat, name=name, crop=crop)
