"""The job: what sample ``i`` of a ``generate`` run is, made wherever it is made.

A job is a recipe plus a :class:`JobSpec` (the sources and how samples are drawn from them).
:func:`plan_job` turns it into the sample map (index -> file, patch) and a :class:`Context`;
:func:`make_sample` makes sample ``i`` from them. The shard tasks of ``generate``
(:mod:`.tasks`), the ``auto`` scheduler's probe and :class:`degrade.torch.OnTheFlyDataset`
all go through here, so they make the same bits for the same index. :func:`stored_dtype`
chooses the stored type and :func:`record_json` encodes a sample's record.

Everything is a pure function of (context, index): sample ``i`` is made from its file and
patch (fixed by the plan) with the seed streams of ``(seed, i)``, whichever worker,
scheduler or partition makes it, and whenever.
"""
from __future__ import annotations

import json
import os
import pickle
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np

from .._errors import DegradeError, InputError, ParameterError
from .._validate import check_integer
from ..sources.decode import read_file
from ..sources.patches import Patches, cut_patch, patch_position, with_source_origin
from ..sources.plan import plan_samples, skip_reason
from ..sources.spec import as_sources

#: the stored type of ``dtype="auto"``: uint8 for sRGB images, uint16 for mosaics and for
#: linear, camera and RAW data (8 bits would band their dark tones)
DOMAIN_DTYPE = {"srgb": "uint8", "linear": "uint16", "camera": "uint16", "raw": "uint16"}


@dataclass(frozen=True)
class JobSpec:
    """The source and planning arguments of a job, shared by :func:`degrade.generate`,
    :func:`plan_job` and :class:`degrade.torch.OnTheFlyDataset`.

    Parameters
    ----------
    sources : None, path, Source, dict or list of these
        Folders of images or RAW files, ``.txt`` file lists, or None for the built-in samples
        (:func:`degrade.sources.folders.as_sources`).
    num : int or None
        Number of samples; None = one per file (or per grid patch).
    seed : int or None
        Root seed; None = the recipe's seed.
    patch_size, stride : int or None
        A random ``patch_size`` crop per sample, or a sliding grid with ``stride``.
    weights, counts : list or None
        Per-source sample shares or exact counts (one per source).
    strict : bool
        Fail on the first unusable input file instead of skipping it.
    """

    sources: Any = None
    num: int | None = None
    seed: int | None = None
    patch_size: int | None = None
    stride: int | None = None
    weights: Any = None
    counts: Any = None
    strict: bool = False
    #: fsspec options of URL sources (endpoint, credentials)
    storage_options: Any = None


class Job(NamedTuple):
    """A planned job: the loaded recipe, the sample map and the task context."""

    recipe: Any
    plan: Any
    ctx: "Context"


def as_recipe(recipe):
    """A Recipe as it is, or loaded from a path, a built-in name or YAML text."""
    if isinstance(recipe, (str, os.PathLike)):
        from ..recipe import load_recipe
        return load_recipe(recipe)
    if not hasattr(recipe, "run"):
        raise ParameterError(f"recipe must be a Recipe, a YAML file or YAML text, got "
                             f"{type(recipe).__name__}")
    return recipe


def plan_job(recipe, spec: JobSpec = JobSpec()) -> Job:
    """The sample map of a job: which file and patch each sample index uses.

    Returns a :class:`Job` ``(recipe, plan, ctx)``: the loaded Recipe, the
    :func:`degrade.sources.folders.plan_samples` plan and a task :class:`Context` (without
    store settings).
    """
    recipe = as_recipe(recipe)
    seed = check_integer("seed", recipe.seed if spec.seed is None else spec.seed, 0)
    strict = spec.strict
    kind = "raw" if getattr(recipe, "input_domain", "srgb") == "raw" else "image"
    plan = plan_samples(as_sources(spec.sources, weights=spec.weights, counts=spec.counts),
                        kind=kind, num=spec.num, patches=Patches(spec.patch_size, spec.stride),
                        min_size=recipe.target_size, strict=strict,
                        warn=lambda m: warnings.warn(m, stacklevel=4),
                        storage_options=spec.storage_options)
    ctx = Context(RecipeRef(recipe), seed, kind, plan.files, plan.rel_paths, plan.file_source,
                  plan.patches, num=plan.num, strict=strict,
                  storage_options=dict(spec.storage_options or {}))
    return Job(recipe, plan, ctx)


def stored_dtype(recipe, array: np.ndarray, which: str, requested: str = "auto") -> str:
    """The stored type of a sample's ``which`` ('hq' or 'lq') array: ``requested`` unless
    'auto', which is uint16 for mosaics and linear/camera/raw data, uint8 for sRGB images."""
    if requested != "auto":
        return requested
    if array.ndim == 2:
        return "uint16"
    attr = "target_domain" if which == "hq" else "output_domain"
    domain = getattr(recipe, attr, None) or getattr(recipe, "input_domain", "srgb")
    return DOMAIN_DTYPE.get(domain, "uint16")


@lru_cache(maxsize=8)
def _load_recipe_text(text: str):
    from ..recipe import load_recipe
    return load_recipe(text)


class RecipeRef:
    """Carries a recipe into worker processes.

    A degrade Recipe travels as its YAML text (plus name and file) and is parsed once per
    process; any other recipe-like object (tests) is pickled as is.
    """

    def __init__(self, recipe):
        self.recipe = recipe

    def __getstate__(self):
        recipe = self.recipe
        if type(recipe).__module__.startswith("degrade.recipe") and hasattr(recipe, "text"):
            return {"text": recipe.text, "name": recipe.name, "file": getattr(recipe, "file", None)}
        return {"object": recipe}

    def __setstate__(self, state):
        if "object" in state:
            self.recipe = state["object"]
            return
        recipe = _load_recipe_text(state["text"])
        if recipe.name != state["name"] or getattr(recipe, "file", None) != state["file"]:
            import copy
            recipe = copy.copy(recipe)
            recipe.name, recipe.file = state["name"], state["file"]
        self.recipe = recipe


@dataclass
class Context:
    """Everything making a sample needs (one object per worker, shared by its tasks)."""

    recipe: RecipeRef
    seed: int
    kind: str
    files: list[str]
    rel_paths: list[str]
    file_source: np.ndarray
    patches: Patches
    #: the store: an absolute local path or a URL, and its storage options
    store: str = ""
    store_options: dict = field(default_factory=dict)
    #: storage options of URL sources
    storage_options: dict = field(default_factory=dict)
    num: int = 0
    shard_size: int = 64
    dtypes: dict = field(default_factory=dict)
    shapes: dict = field(default_factory=dict)
    strict: bool = False
    compression: str = "none"
    #: the store's chunks end with a crc32c (stores made before that have none)
    checksums: bool = True
    #: names the run; copies of the context unpickled in one process share one state
    token: str = ""
    #: a file holding the source listing (:data:`LISTING_FIELDS`) while local worker
    #: processes run: copies then travel without it and each process reads it once; "" = the
    #: listing travels in every copy
    listing: str = ""
    #: this process's :class:`RunState` of the run (never pickled: each process has its own)
    state: object = field(default=None, init=False, repr=False, compare=False)

    def __getstate__(self):
        state = {**self.__dict__, "state": None}
        if self.listing:
            state.update(dict.fromkeys(LISTING_FIELDS))
        return state

    def __setstate__(self, state: dict) -> None:
        """A copy arriving in a worker process. dask's processes scheduler sends each task its
        own copy of the context, so the copies of one run (same ``token``) take the state the
        process keeps for that run (see :func:`forget_run`), and with it the source listing,
        read from ``listing`` by the first copy."""
        self.__dict__.update(state)
        if self.token:
            with _STATE_LOCK:
                if _PROCESS_RUN["token"] != self.token:
                    _PROCESS_RUN.update(token=self.token, state=RunState())
                self.state = _PROCESS_RUN["state"]
        if self.listing and self.files is None:
            listing = self.run_state().source_listing(self.listing)
            self.__dict__.update(zip(LISTING_FIELDS, listing))

    @property
    def location(self):
        """The store's :class:`degrade.storage.Location`."""
        from ..storage import Location
        return Location(self.store, self.store_options)

    def run_state(self) -> "RunState":
        if self.state is None:
            with _STATE_LOCK:
                if self.state is None:
                    self.state = RunState()
        return self.state


#: the parts of a Context that grow with the number of source files
LISTING_FIELDS = ("files", "rel_paths", "file_source")


def write_listing(ctx: Context, path: str) -> None:
    """Write ``ctx``'s source listing to ``path`` for :attr:`Context.listing`."""
    with open(path, "wb") as handle:
        pickle.dump(tuple(getattr(ctx, name) for name in LISTING_FIELDS), handle,
                    protocol=pickle.HIGHEST_PROTOCOL)


_STATE_LOCK = threading.Lock()
#: the state of the run whose context copies this process last received (one run at a time)
_PROCESS_RUN = {"token": None, "state": None}


def forget_run(token: str) -> None:
    """Drop this process's state of run ``token`` (decoded files, shard buffers)."""
    with _STATE_LOCK:
        if _PROCESS_RUN["token"] == token:
            _PROCESS_RUN.update(token=None, state=None)


def _decode(ctx: Context, file_id: int):
    """``read_file`` of file ``file_id``, any decoding error as an InputError."""
    try:
        path = ctx.files[file_id]
        if ctx.storage_options and "://" in path:     # a URL with its endpoint/credentials
            return read_file(path, ctx.kind, ctx.storage_options)
        return read_file(path, ctx.kind)
    except DegradeError as exc:
        raise (exc if isinstance(exc, InputError) else InputError(str(exc))) from None


class _Decoding:
    """One file of :class:`RunState`'s cache: decoded once, by the first task that asks."""

    def __init__(self):
        self.ready, self.value, self.error = threading.Event(), None, None


class RunState:
    """What the shard tasks of one run share within one process (threads of one worker).

    * Decoded files: the plan gives a file's samples consecutive indices, so a file often
      spans two shards. The last ``files_kept`` decoded files are kept, and a task that
      wants a file another thread is decoding waits for it instead of decoding it again:
      each file is decoded once per process instead of once per shard.
    * Shard buffers: each thread reuses its ``hq``/``lq`` shard arrays from one shard to the
      next. A fresh multi-MB array costs a page fault per 4 kB page on first touch, ~0.05 ms
      a sample here (a third of the store's cost for a 128 px recipe).

    Memory stays bounded: ``files_kept`` decoded files plus one shard per thread, released
    with the run's Context (the state holds no reference back to it: no cycle to wait for
    the garbage collector).
    """

    FILES_KEPT = 3      #: the engine's default (a file whose samples span shards, per thread)

    def __init__(self, files_kept: int = FILES_KEPT):
        self.files_kept = files_kept
        self.lock, self.files, self.local = threading.Lock(), OrderedDict(), threading.local()
        self.listing = None

    def source_listing(self, path: str) -> tuple:
        """The run's source listing (:data:`LISTING_FIELDS`), read from ``path`` once."""
        with self.lock:
            if self.listing is None:
                with open(path, "rb") as handle:
                    self.listing = pickle.load(handle)
            return self.listing

    def decoded(self, ctx: Context, file_id: int):
        with self.lock:
            entry = self.files.get(file_id)
            mine = entry is None
            if mine:
                entry = self.files[file_id] = _Decoding()
                while len(self.files) > self.files_kept:
                    self.files.popitem(last=False)
            else:
                self.files.move_to_end(file_id)
        if mine:
            try:
                entry.value = _decode(ctx, file_id)
            except InputError as exc:
                entry.error = exc
            finally:
                entry.ready.set()
        else:
            entry.ready.wait()
        if entry.error is not None:
            raise entry.error
        return entry.value

    def shard_buffers(self, ctx: Context, count: int) -> tuple[np.ndarray, np.ndarray]:
        """This thread's ``hq`` and ``lq`` arrays for ``count`` samples (views of its buffers)."""
        buffers = self.shard_arrays(ctx, count)
        return buffers["hq"], buffers["lq"]

    def shard_arrays(self, ctx: Context, count: int) -> dict:
        """This thread's arrays for ``count`` samples of every stored image array (``hq``,
        ``lq``, then the extra targets: the names of ``ctx.shapes``), views of its buffers."""
        buffers = getattr(self.local, "buffers", None)
        if buffers is None:
            buffers = self.local.buffers = {
                name: np.empty((ctx.shard_size,) + tuple(shape), ctx.dtypes[name])
                for name, shape in ctx.shapes.items()}
        return {name: buffer[:count] for name, buffer in buffers.items()}


class FileCache:
    """A shard's (or an on-the-fly DataLoader worker's) view of the decoded files: the last
    file it used, and the files that failed for it, in front of a shared :class:`RunState`
    (the run's, or one of its own for a DataLoader worker, :mod:`degrade.torch`) that decodes
    each file once. Samples of a shard are processed grouped by file."""

    def __init__(self, ctx: Context, state: RunState | None = None):
        self.ctx, self.key, self.value, self.bad = ctx, None, None, {}
        self.state = ctx.run_state() if state is None else state

    def load(self, file_id: int):
        if file_id in self.bad:
            raise self.bad[file_id]
        if file_id != self.key:
            try:
                self.value = self.state.decoded(self.ctx, file_id)
            except InputError as exc:
                self.bad[file_id] = exc
                raise
            self.key = file_id
        return self.value


def _next_in_source(ctx: Context, file_id: int) -> int:
    same = np.flatnonzero(ctx.file_source == ctx.file_source[file_id])
    return int(same[(np.searchsorted(same, file_id) + 1) % same.size])


def make_sample(ctx: Context, index: int, file_id: int, cell: int, cache: FileCache):
    """Sample ``index``: its source patch through the recipe. Returns (Sample, failures).

    A file that decodes badly (it passed the header probe) is replaced by the next file of the
    same source, cyclically; the replaced path goes into the record and the failure list.
    """
    failures, replaced, start = [], [], file_id
    while True:
        try:
            image, meta = cache.load(file_id)
            break
        except InputError as exc:
            if ctx.strict:
                raise
            failures.append({"path": ctx.files[file_id],
                             "reason": skip_reason(exc, ctx.files[file_id])})
            replaced.append(ctx.rel_paths[file_id])
            file_id = _next_in_source(ctx, file_id)
            if file_id == start:
                raise InputError(f"sample {index}: no file of its source can be decoded "
                                 f"(last error: {exc})") from None
    even = ctx.kind == "raw"
    position = patch_position(image.shape, ctx.patches, cell, ctx.seed, index, even)
    patch = cut_patch(image, position, ctx.patches.size)
    sample = ctx.recipe.recipe.run(patch, seed=ctx.seed, index=index,
                                   meta=with_source_origin(meta, position))
    source = {"source": int(ctx.file_source[file_id]), "path": ctx.rel_paths[file_id],
              "patch": None if position is None else [position[0], position[1], ctx.patches.size]}
    if replaced:
        source["replaces"] = replaced
    record = dict(sample.record)
    record["source"] = source
    # source_path (absolute, RAW files) stays out: the record names the file relative to its
    # source root, so a store does not depend on where the data lived
    meta = json_meta({k: v for k, v in (getattr(sample, "meta", None) or {}).items()
                      if k != "source_path"})
    if meta:
        record["meta"] = meta
    return sample, record, failures


def json_meta(meta: dict) -> dict:
    """The JSON-representable part of a sample's metadata (CFA pattern, levels, WB, CCM...).

    Values are converted (arrays and tuples to lists, numpy scalars to Python ones) and kept
    if they encode as JSON. The whole dict is encoded once; only when that fails is each value
    tried on its own (one encoding per key cost ~5 us a sample, 0.7 % of a light recipe).
    """
    out = {str(key): _plain(value) for key, value in meta.items()}
    try:
        _JSON.encode(out)
        return out
    except (TypeError, ValueError):
        pass
    kept = {}
    for key, value in out.items():
        try:
            _JSON.encode(value)
        except (TypeError, ValueError):
            continue
        kept[key] = value
    return kept


def _plain(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    return value


#: a sample record's encoding: compact, sorted keys, no NaN (one encoder: json.dumps with
#: options builds a new one per call)
_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), allow_nan=False)


def record_json(record: dict) -> str:
    """A sample record as stored: compact JSON, sorted keys, no NaN."""
    return _JSON.encode(record)
