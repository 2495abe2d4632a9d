"""Look into a store: counts, shapes, dtypes, recipe, parameter summaries, skipped files,
and a contact sheet of random pairs."""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from itertools import groupby
from pathlib import Path

import numpy as np

from .. import storage
from .layout import StoreError, has_checksums, store_arrays
from .store import dequantise, done_shards, open_store
from .verify import chunk_nbytes, verify_store


def _location(path, storage_options: dict | None) -> storage.Location:
    """The store's Location: options apply to URLs only."""
    location = storage.resolve(path)
    return location if location.is_local or not storage_options else \
        storage.resolve(path, storage_options)

MAX_SUMMARY_RECORDS = 2000


def _records_at(records, indices) -> list[dict]:
    """Parsed records at ``indices`` (sorted), reading each records chunk (a shard) once."""
    size = int(records.chunks[0])
    out = []
    for chunk, group in groupby((int(i) for i in indices), key=lambda i: i // size):
        texts = records[chunk * size:(chunk + 1) * size]
        out += [json.loads(str(texts[i - chunk * size])) for i in group if str(texts[i - chunk * size])]
    return out


def _summarise_params(records: list[dict]) -> dict:
    """Per ``op.param``: numeric min/mean/max, or value counts; plus how often each op ran."""
    runs: Counter = Counter()
    values: dict[str, list] = defaultdict(list)
    for record in records:
        for step in record.get("target_steps", []) + record.get("steps", []):
            runs[step["op"]] += 1
            for name, value in step.get("params", {}).items():
                values[f"{step['op']}.{name}"].append(value)
        for name, value in record.get("target", {}).items():
            if name in ("hflip", "vflip", "rot90"):
                values[f"target.{name}"].append(value)
    summary = {}
    for key, vals in sorted(values.items()):
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
            arr = np.asarray(vals, dtype=np.float64)
            summary[key] = {"n": len(vals), "min": float(arr.min()), "mean": float(arr.mean()),
                            "max": float(arr.max())}
        elif all(isinstance(v, (bool, str, int)) for v in vals):
            summary[key] = {"n": len(vals), "counts": dict(Counter(map(str, vals)).most_common(8))}
        else:
            summary[key] = {"n": len(vals), "kind": "array"}
    return {"ops": dict(runs), "params": summary}


def inspect_store(path, *, storage_options: dict | None = None, verify: bool = False) -> dict:
    """Summary of a store as a dict (what ``degrade inspect`` prints).

    Keys: ``path``, ``complete``, ``num``, ``samples_done``, ``shards``, ``shards_done``,
    ``arrays`` (shape, dtype, chunks, shards, bytes on disk per array), ``recipe`` (name, hash,
    text), ``seed``, ``version``, ``created``, ``sources``, ``skipped``, ``summary`` (op runs and
    parameter statistics over up to 2000 evenly spaced samples). ``path`` is a folder or a URL
    (read with ``storage_options``). ``verify``: also read every shard and record and add
    ``damaged`` (``{shard: reason}``, :func:`.verify.verify_store`).

    Raises
    ------
    StoreError
        ``path`` is not a degrade store.
    """
    location = _location(path, storage_options)
    path = location.url
    group = open_store(location)
    attrs = dict(group.attrs)
    num = int(group["hq"].shape[0])
    shard = int(group["hq"].shards[0])
    n_shards = -(-num // shard)
    ndims = {n: group[n].ndim for n in store_arrays(attrs)}
    done = done_shards(location, n_shards, ndims)
    samples_done = sum(min(shard, num - k * shard) for k in done)
    objects = storage.list_objects(location)
    arrays = {}
    for name in store_arrays(attrs):
        a = group[name]
        on_disk = sum(size for key, size in objects.items() if key.startswith(f"{name}/"))
        arrays[name] = {"shape": list(a.shape), "dtype": str(a.dtype), "chunks": list(a.chunks),
                        "shards": list(a.shards or a.chunks), "bytes": on_disk}
    damaged = {}
    if verify:
        checks = has_checksums(group["hq"].metadata.to_dict())
        compressed = attrs.get("compression", "none") != "none"
        damaged = {str(k): why for k, why in verify_store(
            location, num=num, shard_len=shard, checksums=checks,
            arrays={n: (ndims[n], None if compressed else chunk_nbytes(
                group[n].shape[1:], group[n].dtype, checks)) for n in ndims if n != "records"}
        ).items()}
    whole = [k for k in done if str(k) not in damaged]    # the summary reads whole shards
    indices = sorted(i for k in whole for i in range(k * shard, min(num, (k + 1) * shard)))
    if len(indices) > MAX_SUMMARY_RECORDS:
        indices = [indices[j] for j in np.linspace(0, len(indices) - 1, MAX_SUMMARY_RECORDS).astype(int)]
    try:
        records = _records_at(group["records"], indices)
    except ValueError as exc:           # zarr's crc32c codec: a damaged records chunk
        raise StoreError(f"{path}: a records chunk is damaged ({exc}); 'degrade inspect "
                         "--verify' names the shards") from None
    sources = Counter(r.get("source", {}).get("source") for r in records)
    return {
        **({"verified": not damaged, "damaged": damaged} if verify else {}),
        "path": str(path), "complete": bool(attrs.get("complete")), "num": num,
        "samples_done": samples_done, "shards": n_shards, "shards_done": len(done),
        "arrays": arrays,
        "recipe": {"name": attrs.get("recipe_name"), "hash": attrs.get("recipe_hash"),
                   "text": attrs.get("recipe_text")},
        "seed": attrs.get("seed"), "version": attrs.get("degrade", {}).get("version"),
        "created": attrs.get("created"), "finished": attrs.get("finished"),
        "patches": attrs.get("patches"), "sources": attrs.get("sources"),
        "skipped": attrs.get("skipped", []),
        "summary": {"records_read": len(records), "by_source": {str(k): v for k, v in sources.items()},
                    **_summarise_params(records)},
    }


def format_summary(info: dict, *, show_recipe: bool = True) -> str:
    """Human-readable text of :func:`inspect_store`'s dict."""
    lines = [f"store     {info['path']}",
             f"status    {'complete' if info['complete'] else 'INCOMPLETE'}: "
             f"{info['samples_done']}/{info['num']} samples, {info['shards_done']}/{info['shards']} shards",
             f"recipe    {info['recipe']['name']} (sha256 {str(info['recipe']['hash'])[:12]}), "
             f"seed {info['seed']}, degrade {info['version']}, created {info['created']}"]
    for name, a in info["arrays"].items():
        lines.append(f"{name:<9} shape {tuple(a['shape'])} {a['dtype']}, chunk {tuple(a['chunks'])}, "
                     f"shard {tuple(a['shards'])}, {a['bytes'] / 1e6:.1f} MB on disk")
    if "verified" in info:
        damaged = info["damaged"]
        lines.append("verified  every shard and record: " + (
            "all whole (sizes, indexes, checksums)" if not damaged else
            f"{len(damaged)} shard(s) damaged: " + "; ".join(
                f"shard {k}: {why}" for k, why in list(damaged.items())[:5])))
    lines.append(f"patches   {info['patches']}")
    for k, source in enumerate(info["sources"] or []):
        lines.append(f"source {k}  {source['path']}: {source['files']} files, "
                     f"{source.get('samples')} samples (weight {source['weight']}, count {source['count']})")
    skipped = info["skipped"]
    lines.append(f"skipped   {len(skipped)} file(s)")
    lines += [f"  {s['path']}: {s['reason']}" for s in skipped[:50]]
    if len(skipped) > 50:
        lines.append(f"  ... and {len(skipped) - 50} more")
    summary = info["summary"]
    lines.append(f"parameters (over {summary['records_read']} samples)")
    for op, count in summary["ops"].items():
        lines.append(f"  {op}: ran in {count} samples")
    for key, stats in summary["params"].items():
        if "mean" in stats:
            lines.append(f"  {key:<32} min {stats['min']:.4g}  mean {stats['mean']:.4g}  "
                         f"max {stats['max']:.4g}  (n={stats['n']})")
        elif "counts" in stats:
            counts = ", ".join(f"{v}: {c}" for v, c in stats["counts"].items())
            lines.append(f"  {key:<32} {counts}")
    if show_recipe and info["recipe"]["text"]:
        lines.append("recipe text:")
        lines += ["  " + ln for ln in str(info["recipe"]["text"]).rstrip().splitlines()]
    return "\n".join(lines)


def contact_sheet(path, out, *, pairs: int = 8, seed: int = 0) -> Path:
    """Write a PNG of ``pairs`` random (HQ | LQ) pairs, LQ enlarged (nearest) to the HQ size.

    Each image is shown as ``degrade preview`` shows it (:func:`degrade.preview.to_display`:
    mosaics demosaiced for display, camera RGB white-balanced from the record, linear data
    gamma-encoded). Returns the written path.
    """
    from ..preview import enlarge, to_display
    from ..recipe import load_recipe
    from ..sources.images import write_image

    group = open_store(path)
    num = int(group["hq"].shape[0])
    shard = int(group["hq"].shards[0])
    done = sorted(done_shards(path, -(-num // shard),
                              {n: group[n].ndim for n in store_arrays(dict(group.attrs))}))
    available = [i for k in done for i in range(k * shard, min(num, (k + 1) * shard))]
    if not available:
        raise StoreError(f"{path}: no finished samples to draw")
    recipe = load_recipe(group.attrs["recipe_text"])
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(available, size=min(pairs, len(available)), replace=False))
    rows = []
    for i in chosen:
        meta = json.loads(str(group["records"][int(i)])).get("meta", {})
        hq = to_display(dequantise(group["hq"][int(i)]), recipe.target_domain, meta)
        lq = to_display(dequantise(group["lq"][int(i)]), recipe.output_domain, meta)
        gap = np.full((hq.shape[0], 4, 3), 255, np.uint8)
        rows.append(np.concatenate([hq, gap, enlarge(lq, hq.shape[:2])], axis=1))
        rows.append(np.full((4, rows[-1].shape[1], 3), 255, np.uint8))
    sheet = np.concatenate(rows[:-1], axis=0)
    return write_image(out, sheet.astype(np.float32) / np.float32(255))


def replay_sample(path, index: int):
    """Rebuild sample ``index`` of a store from its source file and record (bit for bit).

    Reads the source file named in the record (under the store's ``roots``), cuts the same
    patch and replays the store's recipe. Returns the recipe's Sample (float32 ``hq``, ``lq``);
    ``quantise(sample.hq, dtype)`` equals ``store['hq'][index]``.

    Raises
    ------
    StoreError
        Not a store, or ``index`` out of range / not written yet.
    InputError
        The source file is gone or unreadable.
    """
    from ..recipe import load_recipe
    from ..sources.decode import read_file
    from ..sources.patches import cut_patch, with_source_origin

    group = open_store(path)
    attrs = dict(group.attrs)
    num = int(group["records"].shape[0])
    if not 0 <= index < num:
        raise StoreError(f"{path}: sample {index} out of range (the store has {num})")
    text = str(group["records"][index])
    if not text:
        raise StoreError(f"{path}: sample {index} has not been written yet")
    record = json.loads(text)
    source = record["source"]
    image, meta = read_file(Path(attrs["roots"][source["source"]]) / source["path"], attrs["kind"])
    patch = source["patch"]
    position = None if patch is None else patch[:2]
    image = cut_patch(image, position, None if patch is None else patch[2])
    return load_recipe(attrs["recipe_text"]).replay(image, record,
                                                   meta=with_source_origin(meta, position))
