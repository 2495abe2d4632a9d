"""Inputs of the noise benchmark: real noisy / clean pairs (sRGB or RAW), with the checks
that catch unusable pairs early (size mismatch, misalignment, saturation, no noise).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._cfa import check_pattern
from .._errors import InputError, ParameterError

#: A pair whose clean image is shifted by more than this (pixels, by phase correlation)
#: against the noisy one is reported as misaligned. Real aligned pairs measure < 0.3 px.
MAX_SHIFT_PX = 0.6
#: Phase-correlation peaks weaker than this carry no position information (flat images),
#: and a shift only counts when applying it cuts the noisy-clean MSE to this fraction.
MIN_PEAK_RESPONSE = 0.05
SHIFT_MSE_GAIN = 0.8
#: Largest fraction of saturated (clipped-at-white) clean pixels a pair may have.
MAX_SATURATED = 0.5
NOISY_TOKENS = ("real", "noisy")
CLEAN_TOKENS = ("mean", "clean", "gt")
_TOKEN_RE = re.compile(r"^(?P<head>.*?)(?P<sep>[_\-.])(?P<tok>%s)(?P<tail>(?:[_\-.].*)?)$"
                       % "|".join(NOISY_TOKENS + CLEAN_TOKENS), re.IGNORECASE)


@dataclass(frozen=True)
class NoisePair:
    """One real noisy / clean pair in normalised [0, 1] units.

    Attributes
    ----------
    name : str
    noisy, clean : ndarray, float32
        ``(H, W, 3)`` sRGB (domain ``'srgb'``) or ``(H, W)`` Bayer mosaic (``'raw'``).
    domain : {'srgb', 'raw'}
    pattern : str or None
        CFA pattern of a RAW pair.
    levels : int or None
        Number of code values of the stored noisy image (256 for 8-bit sRGB): synthetic
        noisy images are quantised the same way before they are compared.
    """
    name: str
    noisy: np.ndarray
    clean: np.ndarray
    domain: str
    pattern: str | None = None
    levels: int | None = None


def _key(stem: str) -> tuple[str, str] | None:
    """``(key, 'noisy'|'clean')`` from a file stem such as ``scene_3_real``."""
    m = _TOKEN_RE.match(stem)
    if not m:
        return None
    kind = "noisy" if m["tok"].lower() in NOISY_TOKENS else "clean"
    return m["head"] + m["tail"], kind


def find_srgb_pairs(folder, clean_folder=None) -> list[tuple[str, Path, Path]]:
    """Match noisy / clean image files.

    One folder: files named ``<key>_real.*`` / ``<key>_mean.*`` (also ``_noisy`` /
    ``_clean`` / ``_gt``, any case, ``_``, ``-`` or ``.`` before the token). Two folders:
    noisy files in ``folder`` and clean ones in ``clean_folder`` matched by file stem (after
    removing such a token, if any).

    Returns
    -------
    list of (name, noisy_path, clean_path), sorted by name.

    Raises
    ------
    InputError
        Missing folder, no pair at all, or a noisy file without a clean partner.
    """
    from ..sources import list_images

    noisy_files = list_images(folder, recursive=False)
    clean_files = list_images(clean_folder, recursive=False) if clean_folder else noisy_files

    def by_key(files, kind):
        out = {}
        for p in files:
            k = _key(p.stem)
            if clean_folder:                 # two folders: every file, token optional
                out[k[0] if k else p.stem] = p
            elif k and k[1] == kind:         # one folder: only files with the kind's token
                out[k[0]] = p
        return out

    noisy, clean = by_key(noisy_files, "noisy"), by_key(clean_files, "clean")
    if not noisy:
        where = f"{folder}" + (f" and {clean_folder}" if clean_folder else "")
        raise InputError(f"{where}: no noisy/clean pairs found (expected images named "
                         "<name>_real.* with <name>_mean.* (or _noisy/_clean), or two folders "
                         "of images with the same names)")
    missing = sorted(k for k in noisy if k not in clean)
    if missing:
        raise InputError(f"{noisy[missing[0]]}: no clean partner found for {len(missing)} noisy "
                         f"image(s), e.g. key {missing[0]!r} (expected a matching _mean/_clean "
                         "file" + (f" in {clean_folder})" if clean_folder else ")"))
    return [(k, noisy[k], clean[k]) for k in sorted(noisy)]


def _center_crop(img: np.ndarray, crop: int | None, even: bool) -> np.ndarray:
    if crop is None:
        return img
    h, w = img.shape[:2]
    ch, cw = min(crop, h), min(crop, w)
    if even:
        ch, cw = ch - ch % 2, cw - cw % 2
    y, x = (h - ch) // 2, (w - cw) // 2
    if even:
        y, x = y - y % 2, x - x % 2
    return np.ascontiguousarray(img[y:y + ch, x:x + cw])


def srgb_pair(noisy: np.ndarray, clean: np.ndarray, name: str = "pair", *,
              levels: int | None = 256, crop: int | None = None) -> NoisePair:
    """A checked sRGB pair from float32 ``(H, W, 3)`` arrays in [0, 1] (see :func:`check_pair`).

    ``levels`` is the number of code values of the stored noisy image (256 for 8-bit files;
    None: not quantised). ``crop`` keeps a centred ``crop x crop`` window (even size)."""
    for what, arr in (("noisy", noisy), ("clean", clean)):
        if not isinstance(arr, np.ndarray) or arr.ndim != 3 or arr.shape[2] != 3:
            raise InputError(f"{name}: {what} image has shape {getattr(arr, 'shape', None)}: "
                             "expected (H, W, 3) sRGB")
    _check_same_shape(name, noisy, clean)
    pair = NoisePair(name, _center_crop(np.asarray(noisy, np.float32), crop, True),
                     _center_crop(np.asarray(clean, np.float32), crop, True), "srgb",
                     None, levels)
    check_pair(pair)
    return pair


def _normalise(arr, black, white, name, what) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.dtype.kind in "ui" and white is None:
        raise ParameterError(f"{name}: {what} is an integer ({arr.dtype}) array: give "
                             "white_level (and black_level) to normalise it")
    black = 0.0 if black is None else float(black)
    white = 1.0 if white is None else float(white)
    if white <= black:
        raise ParameterError(f"{name}: white_level = {white} must be > black_level = {black}")
    return ((arr.astype(np.float64) - black) / (white - black)).astype(np.float32)


def raw_pair(noisy: np.ndarray, clean: np.ndarray, *, pattern: str = "RGGB",
             black_level: float | None = None, white_level: float | None = None,
             name: str = "raw pair", crop: int | None = None) -> NoisePair:
    """A checked RAW pair from two ``(H, W)`` Bayer mosaics.

    Integer arrays are DN and need ``white_level`` (``black_level`` defaults to 0); float
    arrays without levels are taken as already normalised. Values are
    ``(dn - black) / (white - black)`` and are not clipped.
    """
    pattern = check_pattern(pattern, op="noisebench")
    for what, arr in (("noisy", noisy), ("clean", clean)):
        if not isinstance(arr, np.ndarray) or arr.ndim != 2:
            raise InputError(f"{name}: {what} has shape {getattr(arr, 'shape', None)}: expected "
                             "a Bayer mosaic (H, W)")
    _check_same_shape(name, noisy, clean)
    n = _normalise(noisy, black_level, white_level, name, "noisy")
    c = _normalise(clean, black_level, white_level, name, "clean")
    pair = NoisePair(name, _center_crop(n, crop, True), _center_crop(c, crop, True), "raw",
                     pattern, None)
    check_pair(pair)
    return pair


def load_srgb_pairs(folder, clean_folder=None, *, crop: int | None = None) -> list[NoisePair]:
    """Read and check every sRGB pair of ``folder`` (see :func:`find_srgb_pairs`).

    8-bit files are quantised to 256 levels, 16-bit ones to 65536; the synthetic images
    get the same quantisation."""
    from ..sources import read_image

    out = []
    for name, npath, cpath in find_srgb_pairs(folder, clean_folder):
        noisy, clean = read_image(npath), read_image(cpath)
        out.append(srgb_pair(noisy, clean, name, levels=_stored_levels(npath), crop=crop))
    return out


def _stored_levels(path: Path) -> int:
    import cv2

    img = cv2.imdecode(np.fromfile(str(path), np.uint8), cv2.IMREAD_UNCHANGED)
    return 65536 if img is not None and img.dtype == np.uint16 else 256


def _read_mosaic(path, pattern, black, white):
    """``(array, pattern, black, white)`` of a RAW file (read_raw) or a ``.npy`` mosaic."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.suffix.lower() == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise InputError(f"{path}: not a readable .npy array ({exc})") from None
        return arr, pattern or "RGGB", black, white
    from ..sources.raw import read_raw

    raw = read_raw(path, clip=False)
    return raw.mosaic, raw.pattern, None, None


def load_raw_pair(noisy_path, clean_path, *, pattern: str | None = None,
                  black_level: float | None = None, white_level: float | None = None,
                  crop: int | None = None) -> NoisePair:
    """A RAW pair from two files: camera RAW files (``degrade.sources.raw.read_raw``, levels
    and pattern from the file) or ``.npy`` mosaics (levels and pattern given here)."""
    n, pat, b, w = _read_mosaic(noisy_path, pattern, black_level, white_level)
    c, _, _, _ = _read_mosaic(clean_path, pattern, black_level, white_level)
    return raw_pair(n, c, pattern=pat, black_level=b, white_level=w,
                    name=Path(noisy_path).stem, crop=crop)


def _check_same_shape(name, noisy, clean):
    if noisy.shape != clean.shape:
        raise InputError(f"{name}: noisy image is {'x'.join(map(str, noisy.shape))} but clean "
                         f"image is {'x'.join(map(str, clean.shape))}; a pair must have the same "
                         "size")


def _luma(pair: NoisePair, img: np.ndarray) -> np.ndarray:
    if pair.domain == "srgb":
        return img.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    h, w = img.shape[0] // 2 * 2, img.shape[1] // 2 * 2    # 2x2 cell sums: no CFA texture
    return img[:h, :w].reshape(h // 2, 2, w // 2, 2).sum(axis=(1, 3), dtype=np.float64)


def _overlap_mse(a: np.ndarray, b: np.ndarray, dx: int, dy: int) -> float:
    """Mean squared difference of ``a[y, x]`` and ``b[y - dy, x - dx]`` on their overlap."""
    h, w = a.shape
    if abs(dx) >= w // 2 or abs(dy) >= h // 2:
        return np.inf
    ys, xs = slice(max(dy, 0), h + min(dy, 0)), slice(max(dx, 0), w + min(dx, 0))
    yb, xb = slice(max(-dy, 0), h + min(-dy, 0)), slice(max(-dx, 0), w + min(-dx, 0))
    return float(np.mean((a[ys, xs] - b[yb, xb]) ** 2))


def measure_shift(pair: NoisePair) -> tuple[float, float, bool]:
    """``(dx, dy, confirmed)``: shift of the clean image against the noisy one by phase
    correlation (Hanning window; RAW mosaics on 2x2-cell sums, shifts in mosaic pixels).

    ``confirmed`` is True when moving the clean image by the rounded shift lowers the mean
    squared difference to the noisy image by at least ``1 - SHIFT_MSE_GAIN`` on their
    overlap: phase correlation alone finds spurious peaks on smooth images (ramps, flats).
    """
    import cv2

    a, b = _luma(pair, pair.noisy), _luma(pair, pair.clean)
    win = cv2.createHanningWindow((a.shape[1], a.shape[0]), cv2.CV_64F)
    (dx, dy), resp = cv2.phaseCorrelate(a.copy(), b.copy(), win)   # it windows in place
    scale = 2.0 if pair.domain == "raw" else 1.0
    ix, iy = int(round(dx)), int(round(dy))
    confirmed = False
    if resp >= MIN_PEAK_RESPONSE and (ix or iy):
        base = _overlap_mse(a, b, 0, 0)
        moved = min(_overlap_mse(a, b, sx * ix, sx * iy) for sx in (1, -1))
        confirmed = moved < SHIFT_MSE_GAIN * base
    return dx * scale, dy * scale, confirmed


def check_pair(pair: NoisePair) -> None:
    """Raise InputError for a pair the benchmark cannot use.

    Checks: at least 16x16 pixels; no NaN/inf; the noisy image differs from the clean one;
    at most ``MAX_SATURATED`` of the clean pixels at white; no confirmed shift larger than
    ``MAX_SHIFT_PX`` between the two (:func:`measure_shift`). Shifts below one pixel are
    not confirmed (only whole-pixel misalignment is detected).
    """
    name, noisy, clean = pair.name, pair.noisy, pair.clean
    if min(noisy.shape[:2]) < 16:
        raise InputError(f"{name}: image is {noisy.shape[1]}x{noisy.shape[0]}; need at least "
                         "16x16 pixels")
    if not (np.isfinite(noisy).all() and np.isfinite(clean).all()):
        raise InputError(f"{name}: contains NaN or infinite values")
    if np.array_equal(noisy, clean):
        raise InputError(f"{name}: noisy and clean images are identical (no noise to measure)")
    white = 1.0 - (0.5 / (pair.levels - 1) if pair.levels else 1e-3)
    saturated = float(np.mean(clean >= white))
    if saturated > MAX_SATURATED:
        raise InputError(f"{name}: {saturated:.0%} of the clean pixels are saturated (>= "
                         f"{white:.4f}); noise is clipped away there, at most "
                         f"{MAX_SATURATED:.0%} may be (use a darker exposure or another crop)")
    dx, dy, confirmed = measure_shift(pair)
    if confirmed and max(abs(dx), abs(dy)) > MAX_SHIFT_PX:
        raise InputError(f"{name}: noisy and clean images are misaligned: clean is shifted by "
                         f"({dx:+.1f}, {dy:+.1f}) px (x, y) by phase correlation; at most "
                         f"{MAX_SHIFT_PX} px is allowed (register the pair first)")
