"""Paired training-time helpers of :mod:`degrade.torch`, numpy only: the paired random crop
and flips (:class:`PairedAugment`) and the BasicSR-style sample path (:func:`sample_path`).
"""
from __future__ import annotations

from pathlib import Path, PurePosixPath

import numpy as np

from ._errors import ParameterError
from ._validate import check_flag, check_integer

__all__ = ["PairedAugment", "sample_path"]


class PairedAugment:
    """Paired random crop aligned to the scale factor, and paired flips / 90-degree turns.

    Parameters
    ----------
    crop : int or None
        HQ crop side (the LQ crop is ``crop // scale``); a multiple of the scale factor.
    hflip, vflip, rot90 : bool
        Each applied with probability 1/2 to both images (``rot90`` transposes, as BasicSR's
        ``use_rot``; it needs square images or a crop).

    Notes
    -----
    With LQ shape ``(h, w)`` and scale ``s`` (HQ = ``(h s, w s)``), the LQ corner is
    ``y = floor(u (h - c/s + 1))`` (step-aligned) and the HQ corner ``y s``: the pair stays
    registered, as BasicSR's ``paired_random_crop``. Mosaics keep their CFA phase (corners on
    even rows/columns); flips of a mosaic would change its pattern and are refused.
    Draw order per sample, from ``epoch_stream(seed, epoch, index)``: u_y, u_x, hflip, vflip,
    rot90, always all five (so enabling one option does not move the others).
    ``extra`` arrays of the HQ's shape (extra targets) get the HQ's crop and flips.
    """

    def __init__(self, crop: int | None = None, hflip: bool = False, vflip: bool = False,
                 rot90: bool = False):
        if crop is not None:
            crop = check_integer("crop", crop, 1)
        self.crop = crop
        self.hflip, self.vflip, self.rot90 = (check_flag(name, value) for name, value in
                                              (("hflip", hflip), ("vflip", vflip), ("rot90", rot90)))

    @property
    def active(self) -> bool:
        return self.crop is not None or self.hflip or self.vflip or self.rot90

    def check(self, hq_shape, lq_shape) -> int:
        """Validate against the sample shapes; returns the scale factor."""
        (H, W), (h, w) = tuple(hq_shape[:2]), tuple(lq_shape[:2])
        scale = H // h if h else 0
        if scale < 1 or (H, W) != (h * scale, w * scale):
            raise ParameterError(f"crop/flips: HQ {H}x{W} is not an integer multiple of LQ {h}x{w}")
        mosaic = len(hq_shape) == 2 or len(lq_shape) == 2
        if mosaic and (self.hflip or self.vflip or self.rot90):
            raise ParameterError("hflip/vflip/rot90 on a mosaic would change its CFA pattern "
                                 "(the record's 'pattern'); use crops only for mosaics")
        if self.crop is not None:
            if self.crop % scale:
                raise ParameterError(f"crop = {self.crop}: expected a multiple of the scale "
                                     f"factor {scale} (the LQ crop is crop / scale)")
            if self.crop > min(H, W):
                raise ParameterError(f"crop = {self.crop}: larger than the HQ samples {H}x{W}")
            step = self._step(hq_shape, lq_shape, scale)
            if (self.crop // scale) % step or (len(hq_shape) == 2 and self.crop % 2):
                raise ParameterError(f"crop = {self.crop}: a mosaic crop must keep whole 2x2 "
                                     "CFA cells (even LQ and HQ crop sides)")
        elif self.rot90 and H != W:
            raise ParameterError(f"rot90 needs square samples or a crop, samples are {H}x{W}")
        return scale

    @staticmethod
    def _step(hq_shape, lq_shape, scale: int) -> int:
        step = 2 if len(lq_shape) == 2 else 1
        if len(hq_shape) == 2 and (step * scale) % 2:
            step *= 2
        return step

    def __call__(self, hq: np.ndarray, lq: np.ndarray, rng: np.random.Generator, extra=()):
        """Apply to one pair (HWC or HW arrays); returns views (made contiguous later):
        ``(hq, lq)``, or ``(hq, lq, [extra...])`` when ``extra`` arrays are given."""
        scale = self.check(hq.shape, lq.shape)
        u_y, u_x, p_h, p_v, p_r = rng.random(5)
        big = [hq, *extra]
        if self.crop is not None:
            step, c = self._step(hq.shape, lq.shape, scale), self.crop // scale
            y = int(u_y * ((lq.shape[0] - c) // step + 1)) * step
            x = int(u_x * ((lq.shape[1] - c) // step + 1)) * step
            lq = lq[y:y + c, x:x + c]
            big = [a[y * scale:(y + c) * scale, x * scale:(x + c) * scale] for a in big]
        if self.hflip and p_h < 0.5:
            big, lq = [a[:, ::-1] for a in big], lq[:, ::-1]
        if self.vflip and p_v < 0.5:
            big, lq = [a[::-1] for a in big], lq[::-1]
        if self.rot90 and p_r < 0.5:
            big, lq = [a.swapaxes(0, 1) for a in big], lq.swapaxes(0, 1)
        return (big[0], lq, big[1:]) if extra else (big[0], lq)


def sample_path(roots, record: dict, index: int) -> str:
    """A sample's source image with ``#index`` before its suffix (``photos/a#17.png``), for
    BasicSR's ``gt_path``/``lq_path``: its ``basename without extension`` is then unique per
    sample. ``roots``: the store's (or the plan's) source roots."""
    source = record.get("source") or {}
    k = source.get("source")
    rel = PurePosixPath(str(source.get("path") or f"sample{index}"))
    root = roots[k] if isinstance(k, int) and 0 <= k < len(roots) else ""
    return str(Path(root) / rel.with_name(f"{rel.stem}#{index}{rel.suffix}"))
