"""Paired training-time helpers of :mod:`degrade.torch`, numpy only: the paired random crop
and flips (:class:`PairedAugment`), the BasicSR-style sample path (:func:`sample_path`) and
the batch sampler for stores on object storage (:class:`RunBatchSampler`; a DataLoader takes
any iterable of index lists with a length as ``batch_sampler``).
"""
from __future__ import annotations

from pathlib import Path, PurePosixPath

import numpy as np

from ._errors import ParameterError
from ._validate import check_flag, check_integer

__all__ = ["PairedAugment", "RunBatchSampler", "sample_path"]


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


class RunBatchSampler:
    """Shuffled batches made of runs of neighbouring samples: cheap batches from object storage.

    A ``DataLoader(ds, batch_sampler=RunBatchSampler(ds, 16))`` reads every sample once an
    epoch, in an order drawn from ``(seed, epoch)``: the indices are cut into runs of ``run``
    consecutive samples (``run`` = ``batch_size`` by default; the cut points move each epoch,
    so batches change between epochs), the runs are shuffled, and a batch is the next
    ``batch_size`` indices. A run lies in one or two shards, so ``PairDataset`` reads it with
    one or two ranged GETs per array (docs/torch.md), where a fully shuffled batch costs about
    one per sample. Every sample is still read once an epoch; what changes is which samples
    share a batch (neighbours in the store: with sources in patch mode these can be patches of
    one image, so a smaller ``run`` mixes more). ``set_epoch`` as with
    ``DistributedSampler``.
    """

    def __init__(self, dataset, batch_size: int, run: int | None = None, *, seed: int = 0,
                 drop_last: bool = False):
        self.num = len(dataset)
        self.batch_size = check_integer("batch_size", batch_size, 1)
        self.run = self.batch_size if run is None else check_integer("run", run, 1)
        self.seed, self.drop_last = check_integer("seed", seed, 0), check_flag("drop_last",
                                                                               drop_last)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = check_integer("epoch", epoch, 0)

    def __len__(self) -> int:
        return self.num // self.batch_size if self.drop_last else -(-self.num // self.batch_size)

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        first = int(rng.integers(self.run)) or self.run      # the first run's length
        cuts = [0, *range(first, self.num, self.run), self.num]
        runs = [range(a, b) for a, b in zip(cuts[:-1], cuts[1:]) if b > a]
        order = [i for k in rng.permutation(len(runs)) for i in runs[k]]
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            yield order[start:start + self.batch_size]
