"""A degrade store as a BasicSR dataset (``type: DegradePairDataset`` in an options file).

BasicSR builds datasets by name from its ``DATASET_REGISTRY``, calling ``cls(dataset_opt)``
and expecting items ``{"lq", "gt", "lq_path", "gt_path"}`` (float32 CHW in [0, 1]). Importing
this module registers :class:`DegradePairDataset` there when basicsr is importable, so a
training script adds one line, ``import degrade.torch_basicsr``, and its options read::

    datasets:
      train:
        name: degrade
        type: DegradePairDataset
        dataroot: pairs.zarr          # the store (degrade generate --out)
        gt_size: 128                  # optional paired random crop (HQ pixels)
        use_hflip: true               # optional flips / rotations, as BasicSR's augment
        use_rot: true
        ...                           # the usual loader keys (batch_size_per_gpu, ...)

The items are :class:`degrade.torch.PairDataset`'s with ``keys="basicsr"``: crops and flips
fresh every epoch without extra code (BasicSR's loop never calls a dataset's ``set_epoch``;
torch's per-epoch worker seed does it), exact per ``(seed, epoch, index)`` once ``set_epoch``
is called or with ``fresh_augmentation: false``; ``gt_path``/``lq_path`` name the sample's
source image with the sample index before the suffix (``photos/a#17.png``), so BasicSR's
``basename without extension`` is unique per sample.
"""
from __future__ import annotations

from torch.utils.data import Dataset

from ._errors import ParameterError
from .torch import PairDataset

__all__ = ["DegradePairDataset", "register"]


class DegradePairDataset(Dataset):
    """BasicSR-style dataset over a degrade store: ``DegradePairDataset(opt)``.

    Parameters
    ----------
    opt : dict
        ``dataroot`` (the store, required), ``gt_size`` (paired random crop in HQ pixels;
        absent: whole pairs), ``use_hflip``, ``use_rot`` (hflip; vflip + rot90), ``seed``
        (augmentation seed, default 0), ``fresh_augmentation`` (default true: see the
        module), ``phase`` ('val'/'test':
        no crop, no flips), ``scale`` (checked against the store's). Other keys are
        BasicSR's own and ignored here.

    Raises
    ------
    StoreError
        ``dataroot`` is not a complete degrade store.
    ParameterError
        Missing ``dataroot``, a ``scale`` that is not the store's, bad crop size.
    """

    def __init__(self, opt: dict):
        if "dataroot" not in opt:
            raise ParameterError("DegradePairDataset: option 'dataroot' (the store path) is missing")
        self.opt = dict(opt)
        train = opt.get("phase", "train") == "train"
        rot = bool(opt.get("use_rot", False)) and train
        self.pairs = PairDataset(opt["dataroot"], crop=opt.get("gt_size") if train else None,
                                 hflip=bool(opt.get("use_hflip", False)) and train,
                                 vflip=rot, rot90=rot, seed=int(opt.get("seed", 0)),
                                 fresh_augmentation=opt.get("fresh_augmentation", True),
                                 keys="basicsr")
        if "scale" in opt and int(opt["scale"]) != self.pairs.scale:
            raise ParameterError(f"DegradePairDataset: scale = {opt['scale']!r}, but the store "
                                 f"{opt['dataroot']} holds x{self.pairs.scale} pairs")

    def __len__(self) -> int:
        return len(self.pairs)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch of the crops and flips (see :meth:`PairDataset.set_epoch`)."""
        self.pairs.set_epoch(epoch)

    def __getitem__(self, index) -> dict:
        return self.pairs[index]


def register() -> bool:
    """Register :class:`DegradePairDataset` in basicsr's DATASET_REGISTRY (once); False when
    basicsr cannot be imported."""
    try:
        from basicsr.utils.registry import DATASET_REGISTRY
    except Exception:        # not installed, or its package __init__ fails (e.g. no torchvision)
        return False
    if "DegradePairDataset" not in DATASET_REGISTRY:
        DATASET_REGISTRY.register(DegradePairDataset)
    return True


register()
