"""Pictures of samples: how ``degrade preview`` (the HQ target next to several LQ draws, each
labelled with its key parameters) and ``degrade inspect --grid`` (pairs of a store) show an
image. Both go through :func:`to_display` and :func:`enlarge`, so a mosaic, a camera-RGB or a
linear image looks the same in either."""
from __future__ import annotations

import cv2
import numpy as np

from ._quantise import quantise

BANNER_LINE = 13      # pixels per text line under a tile
FONT = cv2.FONT_HERSHEY_SIMPLEX
FONT_SCALE = 0.36
MIN_TILE_WIDTH = 200   # small targets are shown enlarged (nearest neighbour)


def to_display(img: np.ndarray, domain: str, meta: dict) -> np.ndarray:
    """float image of any domain -> uint8 RGB for looking at (not a faithful ISP)."""
    if img.ndim == 2:   # a mosaic: OpenCV's quick bilinear demosaic, for display only
        from .ops.bayer import demosaic

        img = demosaic(img, meta.get("pattern", "RGGB"), method="cv2_bilinear")
    elif img.shape[2] != 3:
        img = np.repeat(img.mean(axis=2, keepdims=True), 3, axis=2)
    if domain in ("raw", "camera") and "red_gain" in meta and "blue_gain" in meta:
        # camera RGB still carries the sensor's colour cast: apply the white balance
        img = img * np.array([meta["red_gain"], 1.0, meta["blue_gain"]], np.float32)
    if domain != "srgb":
        img = np.clip(img, 0, 1) ** (1 / 2.2)
    return quantise(img, "uint8", "half_even")


def enlarge(img_u8: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A display image resized to ``size`` (height, width) by nearest neighbour (pixels stay
    visible as blocks: an LQ next to its HQ, a small target made readable)."""
    return cv2.resize(img_u8, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, list):
        return "[...]" if len(str(value)) > 18 else str(value).replace(" ", "")
    return str(value)


def label_lines(record: dict, width: int) -> list[str]:
    """One line per step: ``op k=v k=v`` (long lines wrapped to the tile width)."""
    per_line = max(12, width // 7)
    lines = []
    for step in record["steps"]:
        words = [step["op"]] + [f"{k}={_fmt(v)}" for k, v in step["params"].items()
                                if k not in ("relative_to", "sigma_units")]
        line = ""
        for word in words:
            if line and len(line) + 1 + len(word) > per_line:
                lines.append(line)
                line = "  " + word
            else:
                line = f"{line} {word}" if line else word
        lines.append(line)
    return lines


def _tile(img_u8: np.ndarray, size: tuple[int, int], title: str, lines: list[str], n_lines: int):
    tile = enlarge(img_u8, size)
    banner = np.full(((n_lines + 1) * BANNER_LINE + 4, size[1], 3), 255, np.uint8)
    for i, text in enumerate([title] + lines):
        cv2.putText(banner, text, (3, BANNER_LINE * (i + 1)), FONT, FONT_SCALE,
                    (0, 0, 0) if i else (160, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([tile, banner])


def preview_grid(recipe, image: np.ndarray, *, n: int = 4, seed: int | None = None,
                 meta: dict | None = None) -> np.ndarray:
    """uint8 RGB grid: the HQ, then the LQ of samples 0..n-1 (upscaled, nearest).

    Every draw uses the same, centred crop (and no flips) so that the LQs are comparable
    with the one HQ shown; everything else is drawn as in a real run.
    """
    samples = []
    for i in range(n):
        record = recipe.sample(seed, i)
        record["target"].update(u_y=0.5, u_x=0.5, hflip=False, vflip=False, rot90=0)
        samples.append(recipe.replay(image, record, meta=meta))
    hq = samples[0].hq
    zoom = max(1, -(-MIN_TILE_WIDTH // hq.shape[1]))
    size = (hq.shape[0] * zoom, hq.shape[1] * zoom)
    labels = [label_lines(s.record, size[1]) for s in samples]
    n_lines = max(len(lab) for lab in labels)
    tiles = [_tile(to_display(hq, recipe.target_domain, samples[0].meta), size,
                   f"HQ {hq.shape[1]}x{hq.shape[0]}", [], n_lines)]
    for i, (s, lab) in enumerate(zip(samples, labels)):
        title = f"LQ #{i} {s.lq.shape[1]}x{s.lq.shape[0]}"
        tiles.append(_tile(to_display(s.lq, recipe.output_domain, s.meta), size, title, lab, n_lines))
    gap = np.full((tiles[0].shape[0], 4, 3), 255, np.uint8)
    row = [t for tile in tiles for t in (tile, gap)][:-1]
    return np.hstack(row)
