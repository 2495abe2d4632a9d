"""Regenerate the built-in sample images in degrade/samples/ (reproducible).

Usage::

    python tools/make_samples.py [--data DIR] [--out DIR]

``--data`` defaults to ``../shared/data`` next to the repository. Only permissively licensed
sources are used (MIT, Apache-2.0); the CC BY-NC-SA Kodak KDC file is never read. Each
photo is rendered from the camera's sensor data (see degrade/samples/README.md for the
processing of each), cropped to good content, downscaled with area averaging in the
sRGB-encoded domain, and written as an 8-bit sRGB PNG. The synthetic chart is drawn here.

Needs rawpy (LibRaw, for AAHD demosaicking of the DNGs) and colour-demosaicing (Menon 2007
for the headerless Indoor1 mosaic, which has no DNG wrapper).
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
DEFAULT_OUT = REPO / "degrade" / "samples"

# License texts copied next to the samples (file in shared/data/LICENSES -> kept name).
LICENSE_FILES = (
    "mushfiqulalam-isp_MIT.txt",
    "Halide_MIT.txt",
    "Infinite-ISP_Apache-2.0.txt",
    "Infinite-ISP_NOTICE.txt",
    "Infinite-ISP_ReferenceModel_NOTICE.txt",
)


# ---------------------------------------------------------------------------- helpers

def srgb_encode(linear: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 sRGB transfer function (linear [0, 1] -> encoded [0, 1])."""
    x = np.clip(linear, 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1.0 / 2.4) - 0.055)


def area_resize(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """Area-average downscale of a float image to (height, width)."""
    return cv2.resize(img.astype(np.float32), (width, height), interpolation=cv2.INTER_AREA)


def save_png(path: Path, img: np.ndarray) -> None:
    """Write float RGB [0, 1] as an 8-bit sRGB PNG (maximum zlib compression)."""
    u8 = np.rint(np.clip(img, 0.0, 1.0) * 255.0).astype(np.uint8)
    ok = cv2.imwrite(str(path), cv2.cvtColor(u8, cv2.COLOR_RGB2BGR),
                     [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if not ok:
        raise SystemExit(f"could not write {path}")
    print(f"{path.name}: {u8.shape[1]}x{u8.shape[0]}, {path.stat().st_size:,} bytes")


def render_dng(path: Path) -> np.ndarray:
    """rawpy/LibRaw render: AAHD demosaic, as-shot WB, sRGB primaries and curve, 16 bit.

    Auto-brightening stays at LibRaw's default (scales so that 1 % of pixels clip).
    Returns float64 RGB in [0, 1].
    """
    import rawpy

    with rawpy.imread(str(path)) as raw:
        rgb = raw.postprocess(demosaic_algorithm=rawpy.DemosaicAlgorithm.AAHD,
                              use_camera_wb=True, output_color=rawpy.ColorSpace.sRGB,
                              gamma=(2.4, 12.92), output_bps=16)
    return rgb.astype(np.float64) / 65535.0


# ---------------------------------------------------------------------------- photos

def make_rose(data: Path) -> np.ndarray:
    """Nikon D750 rose (MIT): whole 768x512 frame, area-downscaled to 480x320."""
    rgb = render_dng(data / "raw" / "dng" / "nikon_d750_rose_768x512_rggb.dng")
    return area_resize(rgb, 480, 320)


def make_colorchecker(data: Path) -> np.ndarray:
    """Infinite-ISP ColorChecker (Apache-2.0): chart region, area-downscaled by 2."""
    rgb = render_dng(data / "raw" / "dng" / "infiniteisp_colorchecker_1920x1080_bggr_12bit.dng")
    crop = rgb[280:1000, 440:1400]                 # 720 x 960 around the chart
    return area_resize(crop, 480, 360)


def make_indoor(data: Path) -> np.ndarray:
    """Infinite-ISP Indoor1 (Apache-2.0): handwriting on a glass whiteboard, a lamp.

    8-bit GRBG mosaic: black 12.5, white 255; Menon (2007) demosaic; WB gains R 1.44921875,
    B 3.2421875 and CCM/1024 from the Infinite-ISP Reference Model config; exposure scaled
    so the 99.5th percentile maps to 0.9; sRGB curve; crop; area-downscale by 2.
    """
    from colour_demosaicing import demosaicing_CFA_Bayer_Menon2007

    path = data / "raw" / "plain_mosaics" / "infiniteisp_Indoor1_2592x1536_8bit_GRBG_u8.raw"
    mosaic = np.fromfile(path, np.uint8).reshape(1536, 2592).astype(np.float64)
    mosaic = np.clip((mosaic - 12.5) / (255.0 - 12.5), 0.0, 1.0)
    cam = demosaicing_CFA_Bayer_Menon2007(mosaic, "GRBG")
    cam = cam * np.array([1.44921875, 1.0, 3.2421875])
    ccm = np.array([[2256, -1116, -116], [-300, 1340, -16], [60, -908, 1872]]) / 1024.0
    lin = np.clip(cam @ ccm.T, 0.0, None)
    lin = lin * (0.9 / np.percentile(lin, 99.5))
    crop = srgb_encode(lin)[40:808, 1480:2504]     # 768 x 1024: whiteboard writing, lamp
    return area_resize(crop, 512, 384)


# ---------------------------------------------------------------------------- synthetic chart

def make_chart(size: int = 512) -> np.ndarray:
    """Synthetic test chart, four quadrants of ``size/2``.

    Top-left: zone plate ``0.5 + 0.5 cos(pi r^2 / q)`` (``q = size/2``); its local
    frequency ``r/q`` cycles/px reaches Nyquist at the middle of the quadrant's sides
    (aliased beyond, in the corners). Top-right: a 5-degree slanted edge over a star of 32
    alternating sectors. Bottom-left: 24 colour patches and a gray ramp. Bottom-right:
    text-like detail (OpenCV ``putText`` glyphs, five sizes) and 1-px lines.
    """
    q = size // 2
    img = np.zeros((size, size, 3), np.float64)

    # zone plate: phase pi*r^2/q reaches 0.5 cycles/px (Nyquist) at r = q/2 (quadrant edge)
    yy, xx = np.mgrid[0:q, 0:q].astype(np.float64) - (q - 1) / 2.0
    zone = 0.5 + 0.5 * np.cos(np.pi * (xx ** 2 + yy ** 2) / q)
    img[:q, :q] = zone[..., None]

    # slanted edge (top half of quadrant) and a star of 32 alternating sectors (bottom half)
    ys, xs = np.mgrid[0:q // 2, 0:q].astype(np.float64)
    slant = np.tan(np.deg2rad(5.0))
    edge = ((xs - q / 2) - slant * (ys - q / 4) > 0).astype(np.float64)
    img[:q // 2, q:] = (0.15 + 0.7 * edge)[..., None]
    ys, xs = np.mgrid[0:q // 2, 0:q].astype(np.float64)
    ang = np.arctan2(ys - q / 4 + 0.5, xs - q / 2 + 0.5)
    star = (np.floor(ang / (2 * np.pi / 32)) % 2).astype(np.float64)
    img[q // 2:q, q:] = (0.1 + 0.8 * star)[..., None]

    # colour patches (6x4) above a horizontal gray ramp
    patches = [
        (0.45, 0.32, 0.26), (0.76, 0.58, 0.50), (0.36, 0.48, 0.61), (0.35, 0.42, 0.26),
        (0.51, 0.50, 0.69), (0.40, 0.74, 0.67), (0.84, 0.48, 0.18), (0.29, 0.36, 0.65),
        (0.76, 0.33, 0.38), (0.36, 0.24, 0.42), (0.62, 0.73, 0.25), (0.88, 0.63, 0.18),
        (0.17, 0.24, 0.58), (0.28, 0.58, 0.29), (0.69, 0.20, 0.22), (0.93, 0.78, 0.12),
        (0.73, 0.33, 0.58), (0.00, 0.52, 0.63), (1.00, 0.00, 0.00), (0.00, 1.00, 0.00),
        (0.00, 0.00, 1.00), (0.00, 1.00, 1.00), (1.00, 0.00, 1.00), (1.00, 1.00, 0.00),
    ]
    block = img[q:, :q]
    ph, pw = (q - q // 8) // 4, q // 6
    for n, colour in enumerate(patches):
        r, c = divmod(n, 6)
        block[r * ph + 2:(r + 1) * ph - 2, c * pw + 2:(c + 1) * pw - 2] = colour
    block[4 * ph:, :] = np.linspace(0.0, 1.0, q)[None, :, None]

    # text-like detail on white, plus single-pixel lines with growing spacing
    text = np.full((q, q, 3), 255, np.uint8)
    y = 14
    for scale, thickness in ((0.3, 1), (0.35, 1), (0.45, 1), (0.6, 1), (0.8, 2)):
        for line in ("degrade 0123456789", "The quick brown fox"):
            cv2.putText(text, line, (4, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0),
                        thickness, cv2.LINE_AA)
            y += int(30 * scale) + 4
    x = 4
    for gap in range(1, 8):
        for _ in range(3):
            text[y:q - 4, x] = (200, 0, 0) if gap % 2 else (0, 0, 160)
            x += gap + 1
        x += 6
    img[q:, q:] = text.astype(np.float64) / 255.0
    return img


# ---------------------------------------------------------------------------- main

SAMPLES = {
    "rose": make_rose,
    "colorchecker": make_colorchecker,
    "indoor": make_indoor,
}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared/data folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, make in SAMPLES.items():
        save_png(args.out / f"{name}.png", make(args.data))
    save_png(args.out / "chart.png", make_chart())
    licenses = args.out / "LICENSES"
    licenses.mkdir(exist_ok=True)
    for name in LICENSE_FILES:
        shutil.copyfile(args.data / "LICENSES" / name, licenses / name)
    total = sum(p.stat().st_size for p in args.out.glob("*.png"))
    print(f"total PNG size: {total:,} bytes")


if __name__ == "__main__":
    main()
