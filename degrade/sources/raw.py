"""Camera RAW files as clean targets: read a Bayer mosaic with its metadata (rawpy / LibRaw)
and render the sRGB target with LibRaw's AAHD demosaic.

``read_raw(path) -> RawImage``: the visible mosaic normalised per CFA position,
``(dn - black[c]) / (white - black[c])``, its CFA pattern (RGGB/BGGR/GRBG/GBRG), levels,
bit depth, as-shot white balance and XYZ -> camera matrix. Fallbacks (documented in
docs/raw_isp.md): the matrix comes from ``rgb_xyz_matrix``, else from ``color_matrix``
(camera -> sRGB, inverted), else is the sRGB default (camera RGB = linear sRGB, what LibRaw
itself assumes); the WB from ``camera_whitebalance``, else ``daylight_whitebalance``, else
unity. Non-Bayer files (X-Trans, linear/demosaiced DNG, CMYG) raise :class:`InputError`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from .._cfa import PATTERNS
from .._color import RGB2XYZ
from .._errors import InputError, ParameterError
from .headers import check_image_pixels

COLOR_MATRIX_SOURCES = ("rgb_xyz_matrix", "color_matrix", "default")
WB_SOURCES = ("camera", "daylight", "default")


@dataclass(frozen=True)
class RawImage:
    """A Bayer RAW file, read by :func:`read_raw`.

    Attributes
    ----------
    path : str
    mosaic : ndarray, float32, (H, W)
        Visible area, ``(dn - black[c]) / (white - black[c])`` per CFA position ``c``;
        clipped to [0, 1] unless read with ``clip=False``.
    pattern : str
        ``RGGB``, ``BGGR``, ``GRBG`` or ``GBRG`` (colours of the top-left 2x2 cell).
    black_levels : tuple of 4 float
        Black level (DN) per CFA position in reading order (same order as ``pattern``).
    white_level : float
        Saturation level (DN).
    bit_depth : int
        Bits needed for the white level (10 phone, 12, 14 DSLR, 16).
    wb_gains : tuple of 3 float
        As-shot white balance ``(R/G, 1, B/G)``; see ``wb_source``.
    xyz_to_cam : ndarray, float64, (3, 3)
        XYZ -> camera matrix: the ``ccm`` parameter of ``remove_ccm`` / ``apply_ccm``.
    color_matrix_source : {'rgb_xyz_matrix', 'color_matrix', 'default'}
    wb_source : {'camera', 'daylight', 'default'}
    camera : str or None
        Make and model where rawpy exposes them (it does not in rawpy 0.28: None).
    """

    path: str
    mosaic: np.ndarray = field(repr=False)
    pattern: str
    black_levels: tuple[float, float, float, float]
    white_level: float
    bit_depth: int
    wb_gains: tuple[float, float, float]
    xyz_to_cam: np.ndarray = field(repr=False)
    color_matrix_source: str
    wb_source: str
    camera: str | None = None

    @property
    def meta(self) -> dict:
        """JSON-serialisable sample metadata: what later ops read (``pattern``, ``ccm``,
        gains; ``source_path``, the absolute path of the file, for ``render_libraw_aahd``)
        plus the levels, for the record."""
        return {"source_path": os.path.abspath(self.path), "pattern": self.pattern, "ccm": self.xyz_to_cam.tolist(),
                "red_gain": self.wb_gains[0], "blue_gain": self.wb_gains[2], "rgb_gain": 1.0,
                "black_level": list(self.black_levels), "white_level": self.white_level,
                "bit_depth": self.bit_depth}


def _open(path):
    import rawpy

    p = Path(path)
    if not p.is_file():
        raise InputError(f"{path}: no such RAW file")
    try:
        raw = rawpy.imread(str(p))
    except (rawpy.LibRawError, OSError, ValueError) as exc:
        raise InputError(f"{path}: rawpy cannot read it ({type(exc).__name__}: {exc})") from None
    try:      # the size from the file's header, before anything is unpacked
        check_image_pixels(path, raw.sizes.raw_height, raw.sizes.raw_width)
    except InputError:
        raw.close()
        raise
    return raw


def bayer_pattern(raw, path) -> str:
    """The 2x2 CFA pattern name of the visible area of an open rawpy object.

    Raises
    ------
    InputError
        Not a flat mosaic (linear / demosaiced DNG), not a 2x2 CFA (X-Trans), or colours
        other than one R, two G and one B per cell (CMYG and similar).
    """
    raw_type = getattr(raw.raw_type, "name", str(raw.raw_type))
    if raw_type != "Flat":
        raise InputError(f"{path}: not a Bayer mosaic (rawpy raw_type {raw_type}: a linear or "
                         "demosaiced DNG); degrade needs a CFA RAW file")
    cfa = raw.raw_pattern
    if cfa is None or np.shape(cfa) != (2, 2):
        raise InputError(f"{path}: CFA pattern {None if cfa is None else np.shape(cfa)} is not "
                         "a 2x2 Bayer pattern (X-Trans and other CFAs are not supported)")
    desc = raw.color_desc.decode() if isinstance(raw.color_desc, bytes) else str(raw.color_desc)
    cell = np.asarray(raw.raw_colors_visible[:2, :2])
    try:
        name = "".join(desc[int(c)] for c in cell.ravel())
    except IndexError:
        name = "?"
    if name not in PATTERNS:
        raise InputError(f"{path}: CFA colours {name!r} (color_desc {desc!r}) are not a Bayer "
                         f"pattern; expected one of {', '.join(PATTERNS)}")
    return name


def _white_balance(raw) -> tuple[tuple[float, float, float], str]:
    for source, wb in (("camera", raw.camera_whitebalance),
                       ("daylight", raw.daylight_whitebalance)):
        r, g, b = (float(v) for v in list(wb)[:3])
        if g > 0 and r > 0 and b > 0:
            return (r / g, 1.0, b / g), source
    return (1.0, 1.0, 1.0), "default"


def _xyz_to_cam(raw) -> tuple[np.ndarray, str]:

    cam_xyz = np.asarray(raw.rgb_xyz_matrix, np.float64)[:3, :3]
    if np.abs(cam_xyz).sum() > 0:
        return cam_xyz, "rgb_xyz_matrix"
    cam_to_srgb = np.asarray(raw.color_matrix, np.float64)[:3, :3]
    if np.abs(cam_to_srgb).sum() > 0 and abs(np.linalg.det(cam_to_srgb)) > 1e-8:
        return np.linalg.inv(cam_to_srgb) @ np.linalg.inv(RGB2XYZ), "color_matrix"
    return np.linalg.inv(RGB2XYZ), "default"


def read_raw(path, *, clip: bool = True) -> RawImage:
    """Read a Bayer RAW file (anything LibRaw opens: DNG, NEF, CR2, ARW, KDC, ...).

    Parameters
    ----------
    path : str or Path
    clip : bool
        Clip the normalised mosaic to [0, 1] (saturated photosites above the white level,
        read noise below black). ``False`` keeps them, e.g. for noise calibration.

    Returns
    -------
    RawImage
        ``mosaic`` float32 (H, W) of the visible area; see :class:`RawImage`.

    Raises
    ------
    InputError
        Missing or unreadable file, non-Bayer data, white level not above black.

    Examples
    --------
    >>> raw = read_raw("nikon_d750_rose_768x512_rggb.dng")  # doctest: +SKIP
    >>> raw.pattern, raw.mosaic.shape  # doctest: +SKIP
    ('RGGB', (512, 768))
    """
    from .._nb.isp import _cfa_affine_kernel

    with _open(path) as raw:
        pattern = bayer_pattern(raw, path)
        colors = np.asarray(raw.raw_colors_visible[:2, :2]).ravel()
        per_color = np.asarray(raw.black_level_per_channel, np.float64)
        black = per_color[colors]
        white = float(raw.white_level)
        if not (white > black.max()):
            raise InputError(f"{path}: white level {white} is not above the black levels "
                             f"{black.tolist()}; cannot normalise")
        dn = np.ascontiguousarray(raw.raw_image_visible)
        span = white - black
        mosaic = np.empty(dn.shape, np.float32)
        lo, hi = (0.0, 1.0) if clip else (-np.inf, np.inf)
        _cfa_affine_kernel(dn, (1.0 / span).reshape(2, 2), (-black / span).reshape(2, 2),
                           lo, hi, mosaic)
        wb, wb_source = _white_balance(raw)
        xyz_to_cam, matrix_source = _xyz_to_cam(raw)
    return RawImage(str(path), mosaic, pattern, tuple(float(b) for b in black), white,
                    int(white).bit_length(), wb, xyz_to_cam, matrix_source, wb_source, None)


def render_srgb(path, *, output: Literal["srgb", "linear"] = "srgb",
                mosaic: np.ndarray | None = None) -> np.ndarray:
    """Render a RAW file to RGB with LibRaw AAHD: the raw-to-sRGB target (IID-AI style).

    Parameters
    ----------
    path : str or Path
    output : {'srgb', 'linear'}
        sRGB transfer curve (gamma 2.4 / slope 12.92) or linear light; both in sRGB
        primaries, camera white balance, no auto-brightening.
    mosaic : ndarray, float32, (H, W), optional
        A (degraded) normalised mosaic of the same file to render instead of the file's own
        data (written back into LibRaw's buffer as DN, ``x (white - black) + black``).

    Returns
    -------
    ndarray, float32, (H, W, 3) in [0, 1], aligned with the mosaic (no flip).

    Raises
    ------
    InputError
        As :func:`read_raw`; ParameterError for a mosaic of the wrong shape or a bad output.

    Notes
    -----
    ``postprocess(demosaic_algorithm=AAHD, use_camera_wb=True, no_auto_bright=True,
    output_bps=16, gamma=(2.4, 12.92) or (1, 1), output_color=sRGB, user_flip=0,
    adjust_maximum_thr=0, highlight_mode=Clip)``: ``adjust_maximum_thr=0`` keeps LibRaw from
    lowering the white level; the LibRaw default gamma (2.222, 4.5) would be BT.709.
    """
    import rawpy

    if output not in ("srgb", "linear"):
        raise ParameterError(f"render_srgb: parameter 'output' = {output!r}: expected one of "
                             "'srgb', 'linear'")
    with _open(path) as raw:
        bayer_pattern(raw, path)
        if mosaic is not None:
            _write_mosaic(raw, mosaic, path)
        rgb = raw.postprocess(
            demosaic_algorithm=rawpy.DemosaicAlgorithm.AAHD, use_camera_wb=True,
            no_auto_bright=True, output_bps=16,
            gamma=(2.4, 12.92) if output == "srgb" else (1.0, 1.0),
            output_color=rawpy.ColorSpace.sRGB, user_flip=0, adjust_maximum_thr=0.0,
            highlight_mode=rawpy.HighlightMode.Clip)
    return rgb.astype(np.float32) / np.float32(65535.0)


def _write_mosaic(raw, mosaic, path) -> None:
    visible = raw.raw_image_visible
    if not isinstance(mosaic, np.ndarray) or mosaic.shape != visible.shape:
        raise ParameterError(f"render_srgb: mosaic has shape {getattr(mosaic, 'shape', None)}: "
                             f"expected the visible size {visible.shape} of {path}")
    colors = np.asarray(raw.raw_colors_visible)
    black = np.asarray(raw.black_level_per_channel, np.float64)[colors]
    dn = np.asarray(mosaic, np.float64) * (float(raw.white_level) - black) + black
    visible[...] = np.clip(np.rint(dn), 0, np.iinfo(visible.dtype).max).astype(visible.dtype)
