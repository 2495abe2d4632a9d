"""PyTorch datasets: training pairs from a degrade store, or degraded on the fly in workers.

``import degrade`` never imports torch; this module does (``pip install 'degrade[torch]'``).

- :class:`PairDataset` reads a store made by ``degrade generate`` (map-style, random access);
- :class:`OnTheFlyDataset` runs the recipe inside the DataLoader workers and gives, for
  epoch 0, exactly the pair ``degrade generate`` writes for the same index.

Both return ``{"lq", "hq", "index"}`` (+ ``"record"`` on request; ``keys="basicsr"``:
``{"lq", "gt", "lq_path", "gt_path", "index"}``): CHW tensors, float32 in [0, 1] by default,
or the stored integer type (``to_float=False``) to convert on the GPU. Optional paired random
crops aligned to the scale factor and paired flips/rotations are drawn from
:func:`degrade._rng.epoch_stream` ``(seed, epoch, index)``. Without :meth:`set_epoch` they
are fresh every epoch inside DataLoader workers (mixed with torch's per-epoch worker seed);
once :meth:`set_epoch` is called they depend on ``(seed, epoch, index)`` only (it reaches
persistent workers too). See docs/torch.md.

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
from ._pairs import PairedAugment, RunBatchSampler, sample_path
from ._torch_io import StoreReader, read_store_meta, resolve_store
from ._validate import check_flag, check_index, check_integer
from .run.job import FileCache, JobSpec, RunState, make_sample, plan_job, record_json, stored_dtype
from .run.store import DTYPE_SCALE, dequantise, quantise

__all__ = ["OnTheFlyDataset", "PairDataset", "PairLoader", "PairedAugment", "RunBatchSampler",
           "epoch_seed", "sample_path", "to_float"]

KEYS = ("degrade", "basicsr")    #: the ``keys`` conventions of the sample dicts
_SEED_MASK = 2 ** 64 - 1


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


def _check_keys(keys: str) -> str:
    if keys not in KEYS:
        raise ParameterError(f"keys = {keys!r}: expected 'degrade' (lq, hq) or 'basicsr' "
                             "(lq, gt, lq_path, gt_path)")
    return keys


class _EpochMixin:
    """``set_epoch`` through shared memory, so persistent workers see it (fork and spawn).

    The counter starts at -1, "never set": the augmentation is then fresh per epoch inside
    workers (:meth:`_augment_seed`) and the epoch reads as 0.
    """

    def _init_epoch(self) -> None:
        self._epoch = multiprocessing.RawValue("q", -1)

    @property
    def epoch(self) -> int:
        return max(0, int(self._epoch.value))

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch of the next pass (crops, flips, on-the-fly degradations); from
        the first call on, crops and flips depend on ``(seed, epoch, index)`` only."""
        self._epoch.value = check_integer("epoch", epoch, 0, where="set_epoch")

    def _augment_seed(self) -> int:
        """The seed of the crop/flip draws: ``seed``, or, in a DataLoader worker while
        ``set_epoch`` was never called and ``fresh_augmentation`` is on, ``seed`` mixed with
        torch's base seed of the workers (``info.seed - info.id``, the same in every worker),
        which torch draws anew for each epoch's iterator from its own RNG: fresh crops every
        epoch, reproducible under ``torch.manual_seed`` (or the loader's ``generator``)."""
        if self.fresh_augmentation and self._epoch.value < 0:
            info = get_worker_info()
            if info is not None:
                return (self.seed << 64) | ((info.seed - info.id) & _SEED_MASK)
        return self.seed

    @property
    def image_keys(self) -> tuple:
        """The keys of the image tensors of a sample dict (what :class:`PairLoader` converts)."""
        hq = "gt" if self.keys == "basicsr" else "hq"
        return ("lq", hq) + tuple(self._extra_key(name) for name in self._extra_names())

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

    def _extra_names(self) -> tuple:
        return self._extra

    def _extra_key(self, name: str) -> str:
        """An extra target's key in the sample dict: its name; with BasicSR keys a leading
        ``hq`` becomes ``gt`` (``hq_usm`` -> ``gt_usm``, Real-ESRGAN's name)."""
        if self.keys == "basicsr" and name.startswith("hq"):
            return "gt" + name[2:]
        return name

    def _finish(self, index: int, hq: np.ndarray, lq: np.ndarray, record_text,
                extra: dict | None = None) -> dict:
        extra = extra or {}
        if self.augment.active:
            rng = _rng.epoch_stream(self._augment_seed(), self.epoch, index)
            if extra:
                hq, lq, moved = self.augment(hq, lq, rng, list(extra.values()))
                extra = dict(zip(extra, moved))
            else:
                hq, lq = self.augment(hq, lq, rng)
        as_float = self.to_float and not getattr(self, "_integer_transport", False)
        hq_key = self.image_keys[1]
        sample = {"lq": _chw_tensor(lq, as_float), hq_key: _chw_tensor(hq, as_float)}
        for name, array in extra.items():
            sample[self._extra_key(name)] = _chw_tensor(array, as_float)
        sample["index"] = index
        text = record_text() if self.record or self.keys == "basicsr" else None
        if self.keys == "basicsr":
            path = sample_path(self._roots, json.loads(text), index)
            sample["lq_path"] = sample["gt_path"] = path
        if self.record is True:
            sample["record"] = text
        elif self.record:
            sample["record"] = self.record(json.loads(text))
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
        Training-time augmentation, deterministic per ``(seed, epoch, index)`` once
        :meth:`set_epoch` is called.
    seed : int
        Seed of the augmentation draws (not of the stored degradations).
    fresh_augmentation : bool
        True (default): until :meth:`set_epoch` is first called, the draws inside DataLoader
        workers also depend on torch's per-epoch worker seed, so every epoch gets new crops
        and flips with no extra code (non-persistent workers; persistent workers keep their
        seed, and ``num_workers=0`` has none: call ``set_epoch`` there). False:
        ``(seed, epoch, index)`` only, always.
    keys : {'degrade', 'basicsr'}
        'basicsr': the sample dict of a BasicSR paired dataset: ``gt`` for ``hq`` (an extra
        target ``hq_x`` as ``gt_x``), plus ``gt_path`` = ``lq_path`` = the source image with
        ``#index`` before its suffix (:func:`sample_path`). :class:`PairLoader` keeps its
        integer transport.
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
        ``lq`` (C, h, w) and ``hq`` (C, H, W) tensors (C = 1 for mosaics), one (C, H, W)
        tensor per extra target of the store (``hq_usm``...; cropped and flipped as ``hq``),
        ``index`` (int), optional ``record``.

    Raises
    ------
    StoreError
        ``store`` is not a complete degrade store.
    ParameterError
        Bad crop/flip options for the store's shapes, bad ``record``/``backend``.

    Examples
    --------
    >>> import degrade
    >>> _ = degrade.generate("simple_x2", None, "pairs.zarr", num=8, progress=False)
    >>> ds = PairDataset("pairs.zarr", crop=96, hflip=True)
    >>> loader = torch.utils.data.DataLoader(ds, batch_size=4, shuffle=True,
    ...                                      num_workers=2, persistent_workers=True)
    >>> for epoch in range(2):
    ...     ds.set_epoch(epoch)
    ...     for batch in loader:
    ...         print(tuple(batch["lq"].shape), tuple(batch["hq"].shape))
    (4, 3, 48, 48) (4, 3, 96, 96)
    (4, 3, 48, 48) (4, 3, 96, 96)
    (4, 3, 48, 48) (4, 3, 96, 96)
    (4, 3, 48, 48) (4, 3, 96, 96)
    """

    def __init__(self, store, *, crop: int | None = None, hflip: bool = False,
                 vflip: bool = False, rot90: bool = False, seed: int = 0, to_float: bool = True,
                 record=False, transform=None, backend: str = "auto",
                 fresh_augmentation: bool = True, keys: str = "degrade",
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
        self.fresh_augmentation = check_flag("fresh_augmentation", fresh_augmentation)
        self.keys, self._roots = _check_keys(keys), list(self.attrs.get("roots") or [])
        self._extra = tuple(self.attrs.get("extra_targets") or ())
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
        extra = {name: reader.read(name, index) for name in self._extra}
        return self._finish(index, hq, lq, lambda: reader.record(index), extra)

    def __getitems__(self, indices) -> list:
        """A DataLoader batch (``batch_size`` set, automatic batching): on an object store the
        batch's samples of every array are fetched with few requests, sent concurrently
        (neighbouring samples of a shard merged into one ranged GET, see
        ``StoreReader.read_many``); the same items as ``[self[i] for i in indices]``."""
        indices = [check_index(i, len(self)) for i in indices]
        reader = self._open()
        arrays = reader.read_many(("hq", "lq") + self._extra, indices)
        if self.record or self.keys == "basicsr":        # basicsr keys: paths from records
            reader.prefetch_records(indices)
        return [self._finish(index, arrays["hq"][k], arrays["lq"][k],
                             lambda index=index: reader.record(index),
                             {name: arrays[name][k] for name in self._extra})
                for k, index in enumerate(indices)]


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
    >>> import degrade
    >>> _ = degrade.generate("simple_x2", None, "pairs.zarr", num=8, progress=False)
    >>> ds = PairDataset("pairs.zarr", crop=96, hflip=True)
    >>> loader = PairLoader(ds, batch_size=4, shuffle=True, num_workers=1)
    >>> batch = next(iter(loader))                    # the worker sent uint8
    >>> batch["hq"].dtype, tuple(batch["hq"].shape)
    (torch.float32, (4, 3, 96, 96))
    """

    def __init__(self, dataset, **kwargs):
        self._keys = getattr(dataset, "image_keys", ())
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
            for key in self._keys:
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
    crop, hflip, vflip, rot90, to_float, record, transform, fresh_augmentation, keys
        As :class:`PairDataset`.
    cache_files : int
        Decoded source files kept per worker (samples are drawn at random, so this mostly
        helps small sources such as the built-in samples).
    storage_options : dict or None
        fsspec options of sources on object storage (``s3://bucket/photos/``, ``.txt`` lists
        of URLs): endpoint_url, key, secret, profile, ...

    Raises
    ------
    ParameterError, RecipeError, InputError
        Bad options, an invalid recipe, unusable sources (as ``generate``).

    Examples
    --------
    >>> ds = OnTheFlyDataset("simple_x2", None, num=64, crop=64)
    >>> ds.set_epoch(3); ds[0]["lq"].shape
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
                 to_float: bool = True, record=False, transform=None, cache_files: int = 4,
                 fresh_augmentation: bool = True, keys: str = "degrade",
                 storage_options: dict | None = None):
        import cv2

        if dtype not in ("auto", "float32") + tuple(DTYPE_SCALE):
            raise ParameterError(f"dtype = {dtype!r}: expected auto, uint8, uint16, float16 or "
                                 "float32")
        recipe, plan, self.ctx = plan_job(recipe, JobSpec(sources, num, seed, patch_size, stride,
                                                          weights, counts, strict,
                                                          storage_options=storage_options))
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
        self.fresh_augmentation = check_flag("fresh_augmentation", fresh_augmentation)
        self.keys, self._roots = _check_keys(keys), list(plan.roots)
        self._extra = recipe.extra_targets
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
        extra = {name: self._stored(sample.extra[name], "hq") for name in self._extra}
        return self._finish(index, hq, lq, lambda: record_json(record), extra)
