"""What one dask task does: make the samples of one shard and write the whole shard.

Everything here is a pure function of (context, shard): sample ``i`` is made from its file
and patch (fixed by the plan) with the seed streams of ``(seed, i)``, so a shard has the same
bits whichever worker, scheduler or partition makes it, and whenever.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from .._errors import DegradeError, InputError
from ..sources.folders import (Patches, cut_patch, patch_position, read_file, skip_reason,
                               with_source_origin)
from .store import quantise, write_shard


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
    """Everything a shard task needs (one object per worker, shared by its tasks)."""

    recipe: RecipeRef
    seed: int
    kind: str
    files: list[str]
    rel_paths: list[str]
    file_source: np.ndarray
    patches: Patches
    store: str = ""
    num: int = 0
    shard_size: int = 64
    dtypes: dict = field(default_factory=dict)
    shapes: dict = field(default_factory=dict)
    strict: bool = False
    compression: str = "none"


class _FileCache:
    """The last decoded file (samples of a shard are processed grouped by file)."""

    def __init__(self, ctx: Context):
        self.ctx, self.key, self.value, self.bad = ctx, None, None, {}

    def load(self, file_id: int):
        if file_id in self.bad:
            raise self.bad[file_id]
        if file_id != self.key:
            try:
                self.value = read_file(self.ctx.files[file_id], self.ctx.kind)
            except DegradeError as exc:
                error = exc if isinstance(exc, InputError) else InputError(str(exc))
                self.bad[file_id] = error
                raise error from None
            self.key = file_id
        return self.value


def _next_in_source(ctx: Context, file_id: int) -> int:
    same = np.flatnonzero(ctx.file_source == ctx.file_source[file_id])
    return int(same[(np.searchsorted(same, file_id) + 1) % same.size])


def make_sample(ctx: Context, index: int, file_id: int, cell: int, cache: _FileCache):
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
    meta = _json_meta({k: v for k, v in (getattr(sample, "meta", None) or {}).items()
                       if k != "source_path"})
    if meta:
        record["meta"] = meta
    return sample, record, failures


def _json_meta(meta: dict) -> dict:
    """The JSON-representable part of a sample's metadata (CFA pattern, levels, WB, CCM...)."""
    out = {}
    for key, value in meta.items():
        if isinstance(value, np.ndarray):
            value = value.tolist()
        elif isinstance(value, np.generic):
            value = value.item()
        elif isinstance(value, tuple):
            value = list(value)
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            continue
        out[str(key)] = value
    return out


def _checked(array: np.ndarray, name: str, ctx: Context, index: int, path: str) -> np.ndarray:
    want = ctx.shapes[name]
    if tuple(array.shape) != tuple(want):
        raise InputError(
            f"sample {index} ({path}): {name} has shape {tuple(array.shape)}, the store holds "
            f"{tuple(want)}; a store needs fixed-size samples: give the recipe a target size "
            "(target: size: ...) or use patches (--patch-size)")
    return quantise(array, ctx.dtypes[name])


def record_json(record: dict) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), allow_nan=False)


def run_shard(ctx: Context, shard: int, file_ids: np.ndarray, cells: np.ndarray) -> dict:
    """Make the samples of one shard and write its three arrays whole. Returns a summary."""
    import cv2
    cv2.setNumThreads(1)
    start = shard * ctx.shard_size
    count = len(file_ids)
    hq = np.empty((count,) + tuple(ctx.shapes["hq"]), ctx.dtypes["hq"])
    lq = np.empty((count,) + tuple(ctx.shapes["lq"]), ctx.dtypes["lq"])
    records = [""] * count
    failures = []
    cache = _FileCache(ctx)
    for k in np.argsort(file_ids, kind="stable"):   # group by file: each decoded once
        index = start + int(k)
        sample, record, failed = make_sample(ctx, index, int(file_ids[k]), int(cells[k]), cache)
        path = record["source"]["path"]
        hq[k] = _checked(sample.hq, "hq", ctx, index, path)
        lq[k] = _checked(sample.lq, "lq", ctx, index, path)
        records[k] = record_json(record)
        failures.extend(failed)
    write_shard(ctx.store, shard, ctx.shard_size, hq, lq, records, ctx.compression)
    return {"shard": shard, "samples": count, "bytes": hq.nbytes + lq.nbytes,
            "failures": failures}
