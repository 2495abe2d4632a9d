"""PyTorch datasets: training pairs from a degrade store, or degraded on the fly in workers.

``import degrade`` never imports torch; this module does (``pip install 'degrade[torch]'``).

- :class:`PairDataset` reads a store made by ``degrade generate`` (map-style, random access);
- :class:`OnTheFlyDataset` runs the recipe inside the DataLoader workers and gives, for
  epoch 0, exactly the pair ``degrade generate`` writes for the same index.

Both return ``{"lq", "hq", "index"}`` (+ ``"record"`` on request): CHW tensors, float32 in
[0, 1] by default, or the stored integer type (``to_float=False``) to convert on the GPU.
Optional paired random crops aligned to the scale factor and paired flips/rotations are
drawn from :func:`degrade._rng.epoch_stream` ``(seed, epoch, index)``; call
:meth:`set_epoch` before each epoch (it reaches persistent workers too). See docs/torch.md.

Worker rules (docs/torch.md, "Workers"): nothing is opened in the process that builds
the dataset; each process opens the store read-only on its first ``__getitem__`` (after a
fork it reopens), reads one sample at a time (never fancy indexing), converts in numpy
(no small torch ops per sample, so the main-process thread pitfall does not arise) and
pins cv2 and torch to one thread inside DataLoader workers.
"""
from __future__ import annotations

import json
import multiprocessing
import multiprocessing.context
import os
from pathlib import Path

import numpy as np

try:
    import torch
    from torch.utils.data import DataLoader, Dataset, get_worker_info
except ImportError as _exc:  # pragma: no cover - exercised only without torch
    raise ImportError("degrade.torch needs PyTorch: pip install 'degrade[torch]'") from _exc

from . import _rng
from ._errors import ParameterError
from ._torch_io import StoreReader, read_store_meta, resolve_store
from ._validate import check_flag, check_index, check_integer
from .run.job import FileCache, JobSpec, RunState, make_sample, plan_job, record_json, stored_dtype
from .run.store import DTYPE_SCALE, dequantise, quantise

__all__ = ["OnTheFlyDataset", "PairDataset", "PairLoader", "PairedAugment", "epoch_seed",
           "to_float"]


def to_float(batch: torch.Tensor, scale: float) -> torch.Tensor:
    """An integer batch (``to_float=False``) -> float32 in [0, 1], e.g. on the GPU.

    ``scale`` is ``dataset.dtype_scale["lq"]`` or ``["hq"]`` (255, 65535; 1 for float16).
    """
    return batch.float().div_(float(scale))


def epoch_seed(seed: int, epoch: int) -> int:
    """Recipe seed of an on-the-fly epoch: ``seed`` itself for epoch 0 (= the store of
    ``degrade generate --seed seed``), else a 64-bit seed derived from ``(seed, epoch)``
    (:func:`degrade._rng.epoch_seed`)."""
    return _rng.epoch_seed(seed, epoch)


# --------------------------------------------------------------------------- augmentation
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

    def __call__(self, hq: np.ndarray, lq: np.ndarray, rng: np.random.Generator):
        """Apply to one pair (HWC or HW arrays); returns views (made contiguous later)."""
        scale = self.check(hq.shape, lq.shape)
        u_y, u_x, p_h, p_v, p_r = rng.random(5)
        if self.crop is not None:
            step, c = self._step(hq.shape, lq.shape, scale), self.crop // scale
            y = int(u_y * ((lq.shape[0] - c) // step + 1)) * step
            x = int(u_x * ((lq.shape[1] - c) // step + 1)) * step
            lq = lq[y:y + c, x:x + c]
            hq = hq[y * scale:(y + c) * scale, x * scale:(x + c) * scale]
        if self.hflip and p_h < 0.5:
            hq, lq = hq[:, ::-1], lq[:, ::-1]
        if self.vflip and p_v < 0.5:
            hq, lq = hq[::-1], lq[::-1]
        if self.rot90 and p_r < 0.5:
            hq, lq = hq.swapaxes(0, 1), lq.swapaxes(0, 1)
        return hq, lq


# --------------------------------------------------------------------------- shared parts
def _chw_tensor(array: np.ndarray, as_float: bool) -> torch.Tensor:
    """HWC (or HW mosaic) numpy -> CHW (1HW) tensor; conversion done in numpy and OpenCV (no
    torch ops: the main-process thread pitfall, docs/torch.md)."""
    if array.ndim == 2:
        chw = np.ascontiguousarray(array[None])
    elif _splittable(array):
        # cv2.split de-interleaves into the planes given (one SIMD pass, no thread pool):
        # 5x faster than numpy's strided transpose copy for a 256x256 RGB uint8 sample
        import cv2
        chw = np.empty((array.shape[2],) + array.shape[:2], array.dtype)
        planes = cv2.split(array, list(chw))
        if any(p.ctypes.data != q.ctypes.data for p, q in zip(planes, chw)):
            chw = np.stack(planes)      # OpenCV reallocated (not expected): keep its result
    else:
        chw = np.ascontiguousarray(array.transpose(2, 0, 1))
    return torch.from_numpy(dequantise(chw) if as_float and chw.dtype != np.float32 else chw)


def _splittable(array: np.ndarray) -> bool:
    """An HWC uint8/uint16 array OpenCV can wrap without a copy: rows may be strided (a crop)
    but pixels are packed and no stride is negative (a flipped view is not)."""
    c = array.shape[2]
    itemsize = array.itemsize
    return (array.dtype in (np.uint8, np.uint16) and 1 < c <= 4 and array.strides[2] == itemsize
            and array.strides[1] == c * itemsize and array.strides[0] >= array.shape[1] * c * itemsize)


def _in_worker_setup(needs_cv2: bool) -> None:
    """Once per process: one thread for torch and cv2 inside DataLoader workers.

    cv2 is only touched when its pool is not already off: a forked worker inherits the
    one-thread setting of its parent (see :class:`OnTheFlyDataset`), and calling
    ``cv2.setNumThreads`` in a child forked after the parent used OpenCV's thread pool can
    hang forever (measured here; pytorch#1355 is the same family).
    """
    if get_worker_info() is None:
        return
    torch.set_num_threads(1)
    if needs_cv2:
        import cv2
        if cv2.getNumThreads() != 1:        # a spawned (fresh) worker
            cv2.setNumThreads(1)


class _EpochMixin:
    """``set_epoch`` through shared memory, so persistent workers see it (fork and spawn)."""

    def _init_epoch(self) -> None:
        self._epoch = multiprocessing.RawValue("q", 0)

    @property
    def epoch(self) -> int:
        return int(self._epoch.value)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch of the next pass (crops, flips, on-the-fly degradations)."""
        self._epoch.value = check_integer("epoch", epoch, 0, where="set_epoch")

    def _epoch_state(self, state: dict) -> dict:
        # the shared value travels to workers being started (spawn/forkserver); a plain pickle
        # (e.g. saving the dataset) keeps the number only
        if multiprocessing.context.get_spawning_popen() is None:
            state["_epoch"] = int(self._epoch.value)
        return state

    def _restore_epoch(self) -> None:
        if isinstance(self._epoch, int):
            value, self._epoch = self._epoch, multiprocessing.RawValue("q", 0)
            self._epoch.value = value

    def _finish(self, index: int, hq: np.ndarray, lq: np.ndarray, record_text) -> dict:
        if self.augment.active:
            hq, lq = self.augment(hq, lq, _rng.epoch_stream(self.seed, self.epoch, index))
        as_float = self.to_float and not getattr(self, "_integer_transport", False)
        sample = {"lq": _chw_tensor(lq, as_float), "hq": _chw_tensor(hq, as_float),
                  "index": index}
        if self.record is True:
            sample["record"] = record_text()
        elif self.record:
            sample["record"] = self.record(json.loads(record_text()))
        if self.transform is not None:
            sample = self.transform(sample)
        return sample


def _check_record(record):
    if not (isinstance(record, bool) or callable(record)):
        raise ParameterError(f"record = {record!r}: expected True/False or a function of the "
                             "record dict")
    return record


# --------------------------------------------------------------------------- store
class PairDataset(_EpochMixin, Dataset):
    """Map-style Dataset over a store made by ``degrade generate`` (opened read-only).

    Parameters
    ----------
    store : path or URL
        The store (zarr v3 group with ``hq``, ``lq``, ``records``): a folder, or a URL
        (``s3://bucket/train.zarr``, ``gs://``, ``az://``; see docs/cluster.md), read by
        ranged requests (a shard's index once per worker, then one request per sample).
    crop, hflip, vflip, rot90 : see :class:`PairedAugment`
        Training-time augmentation, deterministic per ``(seed, epoch, index)``.
    seed : int
        Seed of the augmentation draws (not of the stored degradations).
    to_float : bool
        True: float32 in [0, 1] (``stored / dtype_scale``); False: the stored dtype
        (uint8/uint16/float16) — convert on the GPU with :func:`to_float`.
    record : bool or callable
        True adds ``"record"``: the sample's JSON record (text, as stored); a function gets the
        parsed record (dict) and its result is added (e.g. a noise level as a tensor).
    transform : callable or None
        Applied last to the sample dict.
    backend : {'auto', 'zarr'}
        'auto' reads the plain uncompressed / lz4 / zstd shard layout that ``generate`` writes
        straight from the shard files (its index decoded once per shard, CRC checked), else
        zarr; 'zarr' always reads ``z[i]`` with zarr (one sample per call). Either way a
        sample missing from the store is a StoreError, never fill values.
    storage_options : dict or None
        fsspec options of a URL ``store`` (endpoint_url, key, secret, profile, ...).

    Returns (``__getitem__``)
    -------------------------
    dict
        ``lq`` (C, h, w) and ``hq`` (C, H, W) tensors (C = 1 for mosaics), ``index`` (int),
        optional ``record``.

    Raises
    ------
    StoreError
        ``store`` is not a complete degrade store.
    ParameterError
        Bad crop/flip options for the store's shapes, bad ``record``/``backend``.

    Examples
    --------
    >>> ds = PairDataset("train.zarr", crop=96, hflip=True)            # doctest: +SKIP
    >>> loader = torch.utils.data.DataLoader(ds, batch_size=16, shuffle=True,
    ...                                      num_workers=2, persistent_workers=True)
    >>> for epoch in range(10):                                         # doctest: +SKIP
    ...     ds.set_epoch(epoch)
    ...     for batch in loader: ...
    """

    def __init__(self, store, *, crop: int | None = None, hflip: bool = False,
                 vflip: bool = False, rot90: bool = False, seed: int = 0, to_float: bool = True,
                 record=False, transform=None, backend: str = "auto",
                 storage_options: dict | None = None):
        if backend not in ("auto", "zarr"):
            raise ParameterError(f"backend = {backend!r}: expected 'auto' or 'zarr'")
        self.location = resolve_store(store, storage_options)
        self.path = self.location.url
        self.meta = read_store_meta(self.location)   # JSON objects only: no zarr in this process
        self.attrs = self.meta["attrs"]
        self.augment = PairedAugment(crop, hflip, vflip, rot90)
        if self.augment.active:
            self.augment.check(self.meta["hq"]["shape"][1:], self.meta["lq"]["shape"][1:])
        self.seed = check_integer("seed", seed, 0)
        self.to_float, self.record, self.transform = bool(to_float), _check_record(record), transform
        self.backend = backend
        self._reader = None
        self._init_epoch()

    def __len__(self) -> int:
        return int(self.meta["hq"]["shape"][0])

    @property
    def scale(self) -> int:
        return int(self.attrs.get("scale") or 1)

    @property
    def dtype_scale(self) -> dict:
        """Divisors from the stored dtype to [0, 1] (``{"hq": 255, "lq": 255}``...)."""
        return dict(self.attrs["dtype_scale"])

    def __getstate__(self):
        return self._epoch_state({**self.__dict__, "_reader": None})

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._restore_epoch()

    def _open(self) -> StoreReader:
        reader = self._reader
        if reader is None or reader.pid != os.getpid():    # first use, or inherited by a fork
            _in_worker_setup(needs_cv2=False)
            reader = self._reader = StoreReader(self.location, self.meta, self.backend)
        return reader

    def __getitem__(self, index) -> dict:
        index = check_index(index, len(self))
        reader = self._open()
        hq, lq = reader.read("hq", index), reader.read("lq", index)
        return self._finish(index, hq, lq, lambda: reader.record(index))


class PairLoader(DataLoader):
    """A ``DataLoader`` for a float :class:`PairDataset` that moves integers between processes.

    Same arguments as ``torch.utils.data.DataLoader`` (by keyword after the dataset). With
    ``num_workers > 0`` every batch crosses from a worker to the main process through newly
    allocated shared memory, which costs far more per byte than the conversion itself
    (benchmarks/torch_loader.py: the float32 batches of 256x256 pairs cap a plain DataLoader
    at ~3.8x the PNG baseline per worker). This loader has the workers return the stored
    integers (uint8: a quarter of the bytes) and converts them to float32 in the main process,
    in numpy (``stored / dtype_scale``, bit-identical to ``PairDataset``'s own float output).
    ``pin_memory=True`` pins the float batch (when CUDA is there).

    Anything else is passed through unchanged: a dataset that is not a float ``PairDataset``,
    one with a ``transform`` (it would see integers) or a custom ``collate_fn`` loads as with
    a plain DataLoader.

    Examples
    --------
    >>> ds = PairDataset("train.zarr", crop=96, hflip=True)            # doctest: +SKIP
    >>> loader = PairLoader(ds, batch_size=16, shuffle=True, num_workers=2,
    ...                     persistent_workers=True)                    # doctest: +SKIP
    """

    def __init__(self, dataset, **kwargs):
        self._convert = (isinstance(dataset, PairDataset) and dataset.to_float
                         and dataset.transform is None and kwargs.get("collate_fn") is None)
        self._pin = False
        if self._convert:
            # a shallow copy shares the epoch counter (set_epoch on ``dataset`` still counts)
            clone = object.__new__(type(dataset))
            clone.__dict__.update(dataset.__dict__, _integer_transport=True)
            dataset = clone
            self._pin = bool(kwargs.pop("pin_memory", False)) and torch.cuda.is_available()
        super().__init__(dataset, **kwargs)

    def __iter__(self):
        batches = super().__iter__()
        if not self._convert:
            yield from batches
            return
        for batch in batches:
            for key in ("lq", "hq"):
                value = batch[key]
                value = torch.from_numpy(dequantise(value.numpy()))
                batch[key] = value.pin_memory() if self._pin else value
            yield batch


# --------------------------------------------------------------------------- on the fly
class OnTheFlyDataset(_EpochMixin, Dataset):
    """Degradation inside the DataLoader workers: sample ``index`` of a ``generate`` job.

    Takes the arguments of :func:`degrade.generate` that define the samples (recipe, sources,
    ``num``, ``seed``, ``patch_size``, ``stride``, ``weights``, ``counts``, ``strict``,
    ``dtype``) and the augmentation/output options of :class:`PairDataset`. The sample map
    (index -> file, patch) is planned here from file headers; images are decoded in the
    workers.

    At epoch 0 item ``index`` is bit-identical to ``hq[index]``, ``lq[index]`` and
    ``records[index]`` of the store ``degrade generate`` writes with the same arguments
    (quantised to the same dtype, then converted as :class:`PairDataset` converts). Epoch
    ``e > 0`` runs the recipe with :func:`epoch_seed` ``(seed, e)``: fresh degradations and
    patch positions on the same files, reproducible, and replayable from the record.

    Parameters
    ----------
    recipe : Recipe, path, built-in name or YAML text
    sources : None, path, Source, dict or list of these
        As :func:`degrade.generate` (None = the built-in sample images).
    num, seed, patch_size, stride, weights, counts, strict
        As :func:`degrade.generate`; ``seed`` (default: the recipe's) also seeds the crops.
    dtype : {'auto', 'uint8', 'uint16', 'float16', 'float32'}
        Quantisation as in the store ('auto': uint8 for sRGB, uint16 for mosaics and linear
        data); 'float32' skips it (the recipe's float output, not clipped).
    crop, hflip, vflip, rot90, to_float, record, transform
        As :class:`PairDataset`.
    cache_files : int
        Decoded source files kept per worker (samples are drawn at random, so this mostly
        helps small sources such as the built-in samples).

    Raises
    ------
    ParameterError, RecipeError, InputError
        Bad options, an invalid recipe, unusable sources (as ``generate``).

    Examples
    --------
    >>> ds = OnTheFlyDataset("simple_x2", None, num=64, crop=64)     # doctest: +SKIP
    >>> ds.set_epoch(3); ds[0]["lq"].shape                           # doctest: +SKIP
    torch.Size([3, 32, 32])

    Notes
    -----
    Building the dataset sets ``cv2.setNumThreads(1)`` in the calling process: OpenCV's
    thread pool does not survive ``fork``, and a forked worker using cv2 after its parent
    ran the pool can hang. ``__getitem__`` in the main process (``num_workers=0``) works too.
    """

    def __init__(self, recipe, sources=None, *, num: int | None = None, seed: int | None = None,
                 patch_size: int | None = None, stride: int | None = None, weights=None,
                 counts=None, strict: bool = False, dtype: str = "auto", crop: int | None = None,
                 hflip: bool = False, vflip: bool = False, rot90: bool = False,
                 to_float: bool = True, record=False, transform=None, cache_files: int = 4):
        import cv2

        if dtype not in ("auto", "float32") + tuple(DTYPE_SCALE):
            raise ParameterError(f"dtype = {dtype!r}: expected auto, uint8, uint16, float16 or "
                                 "float32")
        recipe, plan, self.ctx = plan_job(recipe, JobSpec(sources, num, seed, patch_size, stride,
                                                          weights, counts, strict))
        self.seed = self.ctx.seed
        self.cache_files = check_integer("cache_files", cache_files, 1)
        self.sample_file, self.sample_cell = plan.sample_file, plan.sample_cell
        self.skipped = plan.skipped
        self.recipe, self.dtype = recipe, dtype
        self.augment = PairedAugment(crop, hflip, vflip, rot90)
        scale = recipe.scale or 1
        if crop is not None and isinstance(crop, (int, np.integer)) and crop % scale:
            raise ParameterError(f"crop = {crop}: expected a multiple of the scale factor {scale} "
                                 "(the LQ crop is crop / scale)")
        self.to_float, self.record, self.transform = bool(to_float), _check_record(record), transform
        self._cache, self._cache_pid = None, None
        self._init_epoch()
        # OpenCV's thread pool does not survive fork: a forked worker that uses cv2 after the
        # parent ran it multi-threaded can hang. One thread here (as `degrade generate` runs
        # its tasks) makes forked workers safe; each worker is one thread anyway.
        cv2.setNumThreads(1)

    def __len__(self) -> int:
        return int(self.sample_file.size)

    def __getstate__(self):
        return self._epoch_state({**self.__dict__, "_cache": None})

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._restore_epoch()

    def _files(self):
        """This process's file cache: the last ``cache_files`` decoded files (the engine's
        cache and error handling)."""
        if self._cache is None or self._cache_pid != os.getpid():
            _in_worker_setup(needs_cv2=True)
            self._cache = FileCache(self.ctx, RunState(self.cache_files))
            self._cache_pid = os.getpid()
        return self._cache

    def _stored(self, array: np.ndarray, which: str) -> np.ndarray:
        if self.dtype == "float32":
            return np.ascontiguousarray(array, dtype=np.float32)
        return quantise(array, stored_dtype(self.recipe, array, which, self.dtype))

    def __getitem__(self, index) -> dict:
        index = check_index(index, len(self))
        epoch = self.epoch
        ctx = self.ctx
        if epoch:
            import dataclasses
            ctx = dataclasses.replace(ctx, seed=epoch_seed(self.seed, epoch))
        cache = self._files()
        cache.ctx = ctx
        sample, record, _ = make_sample(ctx, index, int(self.sample_file[index]),
                                        int(self.sample_cell[index]), cache)
        hq, lq = self._stored(sample.hq, "hq"), self._stored(sample.lq, "lq")
        return self._finish(index, hq, lq, lambda: record_json(record))
