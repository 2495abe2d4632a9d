"""``generate``: sources -> one dask task per shard -> a zarr v3 store; resume; progress.

The steps live in their own modules: the job (:mod:`.job`), the scheduler choice
(:mod:`.schedule`), the store (:mod:`.store`), running the shards (:mod:`.dispatch`) and
what a resumed run reads back (:mod:`.resume`); this module puts them in order. See
docs/dataset_engine.md for the store layout, the determinism rules and the measurements
behind the defaults (threads for the Python API, ``auto`` for the command, no compression
for images).
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import time
import warnings
from pathlib import Path

from .. import storage
from .._errors import ParameterError
from .._validate import check_integer
from .._registry import store_provenance
from . import store as st
from . import verify
from .layout import STORE_FORMAT, has_checksums, image_arrays, store_arrays
from .dispatch import run_shards
from .lease import FileLease, ObjectLease, has_conditional_writes
from .source_state import check_sources, record_sources
from .job import Context, FileCache, JobSpec, make_sample, plan_job, stored_dtype
from .pool import start_fork_server
from .progress import Progress
from .resume import recorded_failures, stored_shard_size, unique_failures
from .schedule import LOCAL_SCHEDULERS, auto_scheduler, resolve_scheduler, shard_len

DEFAULT_SHARD_SIZE = 64


def _version() -> str:
    """The installed distribution's version (recorded in the store; no package import)."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("degrade")
    except PackageNotFoundError:
        return "unknown"


def default_shard_size(num: int) -> int:
    """64 samples a shard (``DEFAULT_SHARD_SIZE``); a job of fewer than 8 x 64 samples gets
    8 shards, so that the workers of a small machine all have some (a shard is one task)."""
    return max(1, min(DEFAULT_SHARD_SIZE, -(-num // 8)))


def generate(recipe, sources=None, out=None, *, num: int | None = None, seed: int | None = None,
             workers: int | None = None, scheduler=None, shard_size: int | None = None,
             strict: bool = False, overwrite: bool = False, dtype: str = "auto",
             patch_size: int | None = None, stride: int | None = None, weights=None,
             counts=None, compression: str = "none", progress: bool = True,
             hash_sources: bool = False,
             storage_options: dict | None = None) -> dict:
    """Generate a training store: every sample of ``recipe`` over ``sources`` into ``out``.

    Parameters
    ----------
    recipe : Recipe, path or YAML text
    sources : None, path, Source, dict or list of these
        Folders of images (PNG/JPEG/TIFF, 8/16-bit) or of RAW files (RAW recipes), ``.txt``
        file lists, or None for the built-in samples. See :func:`degrade.sources.folders.as_sources`.
    out : path, URL or zarr store
        The store (zarr v3): a folder (made absolute here), ``file://``, an object store URL
        (``s3://bucket/x.zarr``, ``gs://``, ``az://``) or a zarr ``LocalStore``/``FsspecStore``
        (see :mod:`degrade.storage`). An existing store of the same job is resumed.
    num : int or None
        Number of samples; None = one per file (or per grid patch).
    seed : int or None
        Root seed; None = the recipe's seed.
    workers : int or None
        Local workers (threads or processes); None = all cores.
    scheduler : str or distributed.Client or None
        'threads' (default), 'processes', 'synchronous', 'auto' (processes for a run of light,
        GIL-bound samples estimated to take >= ``AUTO_PROCESSES_SECONDS`` on one worker
        (``AUTO_PROCESSES_SECONDS_SPAWNED`` without a fork server, see :mod:`.pool`),
        else threads; the CLI's default), a ``tcp://HOST:PORT`` address or a Client; None also honours
        ``DASK_SCHEDULER_ADDRESS``. 'processes' (and so 'auto') starts workers (forked from
        a warm fork server where the platform has one, see :mod:`.pool`, else spawned) that
        import the calling script: guard a script's code with ``if __name__ == "__main__":``.
    shard_size : int or None
        Samples per shard file (one chunk per sample). None: an existing store's own, else
        :func:`default_shard_size` (64; fewer for jobs under 512 samples).
    strict : bool
        Fail on the first unusable input file instead of skipping it.
    overwrite : bool
        Replace an existing degrade store at ``out``: only its own keys (hq, lq, records,
        zarr.json) are replaced, other files in the folder stay, and the old store stays
        until the new one's first shard is made. A folder that is not a degrade store is
        never replaced.
    dtype : {'auto', 'uint8', 'uint16', 'float16'}
        Stored type; 'auto' = uint8 for sRGB, uint16 for RAW/linear/mosaics.
    patch_size, stride : int or None
        Patches cut from each source image before the recipe: a random ``patch_size`` crop per
        sample, or a sliding grid when ``stride`` is given too.
    weights, counts : list or None
        Per-source sample shares or exact counts (one per source).
    compression : {'none', 'lz4', 'zstd'}
        Codec of hq/lq (records are always zstd).
    progress : bool
        Print a progress line (samples/s, ETA) on stderr.
    hash_sources : bool
        Record a content hash of every source file in a new store, besides its size and
        modification time; a resume then refuses a source whose content changed even when
        its size and time did not (reads every file once more). See :mod:`.source_state`.
    storage_options : dict or None
        fsspec options of a URL ``out`` and of URL sources (endpoint, credentials, ...;
        ``--storage-option KEY=VALUE``).

    Returns
    -------
    dict
        Summary: ``path``, ``num``, ``shards``, ``shards_written``, ``shards_reused``,
        ``scheduler`` (the one used: 'auto' resolved, 'distributed' for a cluster),
        ``skipped`` (list of {path, reason}), ``seconds``, ``samples_per_s``, ``mb_per_s``;
        ``first_shard_s`` (start-up plus one shard) and ``steady_samples_per_s`` (the rate
        once all workers run, None for runs of few shards).

    Raises
    ------
    StoreError
        ``out`` holds a store of another job (recipe, seed, sources, ...) or a non-store
        folder; another run holds its lease (:class:`.lease.LeaseHeld`); it cannot be made
        or written (read-only, full disk).
    InputError
        Unusable sources; with ``strict``, any unusable file.
    ParameterError
        Bad arguments.
    """
    t_start = time.perf_counter()
    location = storage.resolve(out)
    if storage_options and not location.is_local:   # local --out: the options are the inputs'
        location = storage.resolve(out, storage_options)
    scheduler, name = resolve_scheduler(scheduler)
    workers = check_integer("workers", (os.cpu_count() or 1) if workers is None else workers, 1)
    client, own_client = _cluster_client(scheduler, location, name)   # before anything is written
    try:
        with writer_lease(location) as lease, store_errors(location):
            summary = _generate(recipe, sources, location, client or scheduler, t_start, lease,
                                num=num, seed=seed, workers=workers, shard_size=shard_size,
                                strict=strict, overwrite=overwrite, dtype=dtype,
                                patch_size=patch_size, stride=stride, weights=weights,
                                counts=counts, compression=compression, progress=progress,
                                storage_options=storage_options, hash_sources=hash_sources)
        if own_client:                  # the address the caller gave
            summary["scheduler"] = scheduler
        return summary
    finally:
        if own_client:
            client.close()


def _cluster_client(scheduler, location: storage.Location, name: str = "scheduler"):
    """``(client, made here)`` for a dask.distributed scheduler (address or Client), checked
    to answer and to have workers; ``(None, False)`` for a local scheduler. A ``memory://``
    store lives in one process and cannot take a cluster's writes."""
    if isinstance(scheduler, str) and scheduler in LOCAL_SCHEDULERS + ("auto",):
        return None, False
    if location.scheme == "memory":
        raise ParameterError(f"--out {location.url}: a memory:// store lives in this process; "
                             "a cluster's workers cannot write to it (use a shared folder or "
                             "an object store URL)")
    if isinstance(scheduler, str):
        from ..cluster import connect
        return connect(scheduler, name=name), True
    return scheduler, False


def _absolute_sources(sources, weights, counts):
    """The sources with local paths made absolute (``file://`` URLs turned into paths) and
    URLs kept, before any task is built: a worker's working directory is not the client's."""
    from ..sources.remote import normalise_source
    from ..sources.spec import as_sources

    if sources is None:
        return None
    return [dataclasses.replace(s, **{name: normalise_source(getattr(s, name))
                                      for name in ("path", "root")
                                      if getattr(s, name, None) is not None})
            for s in as_sources(sources, weights=weights, counts=counts)]


def _check_cluster(client, plan, ctx: Context, location: storage.Location) -> None:
    """Every worker reads the inputs and writes to the very store the client sees."""
    from ..cluster import check_cluster_access, input_probe

    inputs = []
    for source, root in enumerate(plan.roots):
        files = [f for f, s in zip(ctx.files, ctx.file_source) if int(s) == source][:1]
        inputs.append(input_probe(str(root), files, None, ctx.storage_options))
    check_cluster_access(client, inputs, location)


def _generate(recipe, sources, location: storage.Location, scheduler, t_start: float,
              lease, *,
              num, seed, workers, shard_size, strict, overwrite, dtype, patch_size, stride,
              weights, counts, compression, progress, storage_options,
              hash_sources=False) -> dict:
    """:func:`generate` once the run holds the store's lease."""
    if location.is_local or not has_conditional_writes(location):
        storage.check_writable(location)     # (a leased object store was probed for it)
    distributed = not isinstance(scheduler, str)   # a Client here; a name for local runs
    if scheduler == "processes" and workers > 1 or scheduler == "auto" and workers > 1 and (
            num is None or num >= 2 * workers):    # (auto takes threads for fewer samples)
        start_fork_server()     # warms up in the background while this process plans the run
    sources = _absolute_sources(sources, weights, counts)
    recipe, plan, ctx = plan_job(recipe, JobSpec(sources, num, seed, patch_size, stride,
                                                 weights, counts, strict,
                                                 storage_options=dict(storage_options or {})))
    seed = ctx.seed
    if shard_size is None:
        shard_size = (None if overwrite else stored_shard_size(location)) \
            or default_shard_size(plan.num)
    shard_size = check_integer("shard_size", shard_size, 1)
    if dtype not in ("auto",) + tuple(st.DTYPE_SCALE):
        raise ParameterError(f"dtype = {dtype!r}: expected auto, uint8, uint16 or float16")
    st.compressors(compression)
    say = _printer(progress)
    ctx.store, ctx.store_options = location.url, dict(location.options)
    ctx.shard_size, ctx.compression = min(shard_size, plan.num), compression
    if distributed:
        _check_cluster(scheduler, plan, ctx, location)
    out = location.url
    wanted = {"store_format": STORE_FORMAT, "recipe_hash": recipe.hash,
              "recipe_name": recipe.name, "seed": seed, "num": plan.num,
              "shard_size": shard_size, "dtype": dtype, "listing_hash": plan.listing_hash,
              "patches": plan.patches.as_dict(), "compression": compression,
              **store_provenance(recipe)}      # plugin packages and versions, if any
    group, staging = _open_or_create(location, ctx, recipe, plan, wanted, overwrite,
                                     hash_sources)
    arrays = store_arrays(dict(group.attrs))
    for name in image_arrays(dict(group.attrs)):
        ctx.shapes[name] = tuple(group[name].shape[1:])
        ctx.dtypes[name] = str(group[name].dtype)
    ctx.checksums = has_checksums(group["hq"].metadata.to_dict())   # a resumed store's own
    n_shards = -(-plan.num // ctx.shard_size)
    ndims = {name: group[name].ndim for name in arrays}
    if staging is None:
        # a resumed store's finished shards are checked (sizes, index checksums), not trusted
        problems = _damaged_shards(location, ctx, plan.num, ndims)
    else:                            # a new store replacing an old one: every shard to make
        problems = {k: "new" for k in range(n_shards)}
    done = {k for k in range(n_shards) if k not in problems}
    todo = sorted(problems)
    if done:
        damaged = [k for k, why in problems.items() if not why.endswith(" is missing")]
        say(f"resuming {out}: {len(done)} of {n_shards} shards already done"
            + (f"; {len(damaged)} damaged shard(s) made again (shard {damaged[0]}: "
               f"{problems[damaged[0]]})" if damaged else ""))
    bar = Progress(plan.num, sum(shard_len(k, ctx.shard_size, plan.num) for k in done),
                   enabled=progress)
    finished = []                    # (time, samples, worker) of every shard as it finishes

    def on_done(result: dict) -> None:
        finished.append((time.perf_counter(), result["samples"], result["worker"]))
        bar.update(result["samples"])
    results = []
    if scheduler == "auto":
        scheduler, why = auto_scheduler(ctx, plan, todo, workers) if todo else ("threads", "")
        say(f"scheduler: {scheduler} ({why})")
    if staging is not None:          # --overwrite: the old store stays until a shard is made
        # the first shard of each worker, side by side (one alone left the other worker idle
        # for a shard's time: 1/8 of a 480-sample run); a cluster's first shard runs here
        first = todo[:workers] if scheduler in ("threads", "processes") else todo[:1]
        results = replace_store(ctx, plan, out, staging, first, on_done,
                                scheduler if len(first) > 1 else "synchronous", workers)
        group, todo = st.open_store(out, mode="r+"), todo[len(first):]
    results += run_shards(ctx, plan, todo, scheduler, workers, on_done, say)
    bar.close()
    failures = [f for r in results for f in r["failures"]]
    for failure in unique_failures(failures):
        warnings.warn(f"replaced {failure['path']} (it passed the header check but cannot be "
                      f"decoded) by the next file of its source: {failure['reason']}", stacklevel=2)
    failures += recorded_failures(location, ctx, sorted(done))
    skipped = plan.skipped + unique_failures(failures)
    seconds = time.perf_counter() - t_start
    written = sum(r["samples"] for r in results)
    nbytes = sum(r["bytes"] for r in results)
    _check_whole(location, ctx, plan.num, ndims)
    if lease is not None:
        lease.check_held()
    group.update_attributes({"complete": True, "finished": st.now(), "skipped": skipped,
                             "skipped_count": len(skipped)})
    return {"path": out, "num": plan.num, "shards": n_shards,
            "shards_written": n_shards - len(done),
            "shards_reused": len(done), "samples_written": written, "skipped": skipped,
            "seconds": seconds, "samples_per_s": written / seconds if seconds else 0.0,
            "mb_per_s": nbytes / 1e6 / seconds if seconds else 0.0,
            "scheduler": scheduler if isinstance(scheduler, str) else "distributed",
            "first_shard_s": finished[0][0] - t_start if finished else 0.0,
            "steady_samples_per_s": _steady_rate(finished)}


@contextlib.contextmanager
def writer_lease(location: storage.Location):
    """Hold the store's lease (:mod:`.lease`) while the block runs, taken before anything
    is written: a second run on the same ``out`` is refused (LeaseHeld) with its holder.

    Makes the folder first (the lease lives in it); a folder this run made and left empty
    (a run refused at planning) is removed again. Every way the folder cannot be made or
    written is one StoreError line. An object store with conditional writes (S3) is leased
    by an :class:`.lease.ObjectLease` object, after the write probe (so that a bad endpoint,
    credentials or bucket is its usual one line); gs://, az:// and memory:// stores are not
    leased (no conditional create through their fsspec layer here)."""
    if not location.is_local:
        if not has_conditional_writes(location):
            yield None
            return
        storage.check_writable(location)
        lease = ObjectLease(location)
        try:
            lease.acquire()
        except st.StoreError:
            raise
        except Exception as exc:
            raise st.StoreError(f"--out {location.url}: cannot take the store's lease "
                                f"({storage.describe_error(exc)})") from None
        try:
            with lease.keep_renewed():
                yield lease
        finally:
            with contextlib.suppress(Exception):    # an unreachable store: it goes stale
                lease.release()
        return
    out = Path(location.url)
    created = not os.path.lexists(out)
    if os.path.lexists(out) and not out.is_dir():
        raise st.StoreError(f"--out {out}: exists and is not a folder "
                            f"({'a broken link' if out.is_symlink() else 'a file'}); "
                            "choose another --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise st.StoreError(f"--out {out}: cannot make the store folder ({_why(exc)})") from None
    lease = FileLease(out)
    try:
        lease.acquire()
    except OSError as exc:
        _remove_if_empty(out, created)
        raise st.StoreError(f"--out {out}: cannot write in the store folder ({_why(exc)})") \
            from None
    try:
        with lease.keep_renewed():
            yield lease
    except BaseException:
        # a failed or interrupted run (its workers stopped): no .partial file or staging
        # folder stays behind it
        with contextlib.suppress(OSError):
            st.remove_staging(out)
        raise
    finally:
        lease.release()
        _remove_if_empty(out, created)


def _remove_if_empty(out: Path, created: bool) -> None:
    if created:
        with contextlib.suppress(OSError):
            out.rmdir()                      # only succeeds when empty


def _why(exc: OSError) -> str:
    """An OSError as words: what failed, and on which file."""
    where = f": {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"


@contextlib.contextmanager
def store_errors(location: storage.Location):
    """A store that cannot be written (read-only folder, full disk, lost permissions) ends
    the run with one StoreError line instead of a traceback; the shard files being written
    leave no ``.partial`` file (:func:`.store.write_shard`)."""
    try:
        yield
    except OSError as exc:
        raise st.StoreError(f"--out {location.url}: cannot write the store ({_why(exc)}); "
                            "finished shards are kept, run again to resume") from None


def replace_store(ctx: Context, plan, out: Path, staging: Path, first: list[int], on_done,
                  scheduler: str = "synchronous", workers: int = 1) -> list:
    """``--overwrite``: make the shards ``first`` in the staged new store, then publish the
    new store over the old one (:func:`.store.publish_store`). Until then the old store is
    untouched: a recipe that fails, or a kill, leaves it as it was."""
    try:
        ctx.store = str(staging)
        results = run_shards(ctx, plan, first, scheduler, workers, on_done)
        st.publish_store(staging, out)
    except BaseException:
        import shutil
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        ctx.store = str(out)
    return results


def _damaged_shards(location: storage.Location, ctx: Context, num: int, ndims: dict) -> dict:
    """``{shard: reason}`` of the shards that are missing or damaged in the store (one
    listing, then one ranged read of each shard's index; :mod:`.verify`)."""
    arrays = {name: (ndims[name], None if ctx.compression != "none" else
                     verify.chunk_nbytes(ctx.shapes[name], ctx.dtypes[name], ctx.checksums))
              for name in ndims if name != "records"}
    return verify.check_shards(location, num=num, shard_len=ctx.shard_size, arrays=arrays,
                               records_checksums=ctx.checksums)


def _check_whole(location: storage.Location, ctx: Context, num: int, ndims: dict) -> None:
    """Before a store is marked complete: every expected shard is in the store, whole. A run
    whose tasks all reported success may still miss shards (a worker writing to its own
    disk, a lost write, a deleted file); the error names them, a rerun makes them."""
    problems = _damaged_shards(location, ctx, num, ndims)
    if problems:
        raise st.StoreError(verify.summary(problems, -(-num // ctx.shard_size), location.url))


def _steady_rate(finished: list) -> float | None:
    """Samples/s once every worker runs: the samples of the shards that finish after every
    worker (process and thread) has finished its first shard, over the time from then to the
    last shard's end.

    Leaves out start-up (process start, imports, numba cache loads, the first decodes), which
    a long run amortises. None when fewer than 2 shards finish in that window.
    """
    firsts = {}
    for when, _, worker in finished:
        firsts.setdefault(worker, when)
    if not firsts:
        return None
    start = max(firsts.values())
    after = [(when, n) for when, n, _ in finished if when > start]
    if len(after) < 2:
        return None
    return sum(n for _, n in after) / (after[-1][0] - start)


def _open_or_create(location: storage.Location, ctx: Context, recipe, plan, wanted: dict,
                    overwrite: bool, hash_sources: bool = False):
    """(group, staging): the store to resume, or a new one; ``staging`` is the folder of a
    new store that replaces an old one (``--overwrite``) and is not published yet (local
    stores; an object store is resumed, or replaced, in place)."""
    if not location.is_local:
        if overwrite:
            st.remove_store(location)
        elif not st.is_empty(location):
            group = st.open_store(location, mode="r+")
            check_sources(location, dict(group.attrs), plan)     # edited in place since?
            _check_same_job(location.url, group, wanted)
            return group, None
        group = _new_store(location, ctx, recipe, plan, wanted)
        group.update_attributes(record_sources(location, plan, hash_sources))
        return group, None
    out = Path(location.url)
    state, other = st.store_state(out)
    st.remove_staging(out)          # what a killed run left (we hold the lease)
    if state == "foreign":
        raise st.StoreError(f"{out} exists and is not a zarr store (it holds "
                            f"{', '.join(other[:5])}{', ...' if len(other) > 5 else ''}); "
                            "refusing to write into it or replace it; choose another --out")
    if state == "unfinished":       # a creation or replacement killed before publishing
        st.remove_store_keys(out)
    if state == "store":
        try:
            group = st.open_store(out, mode="r+")
        except st.StoreError as exc:
            # a zarr group of nothing but a store's own keys (e.g. an older degrade's creation
            # killed half-way) may be replaced; one holding anything else may not
            if other or not overwrite:
                raise st.StoreError(f"{exc}; " + (f"it holds {', '.join(other[:5])}: refusing "
                                    "to replace it; choose another --out" if other else
                                    "use --overwrite to replace it, or another --out")) from None
            group = None
        if group is not None and not overwrite:
            check_sources(out, dict(group.attrs), plan)     # edited in place since?
            _check_same_job(out, group, wanted)
            return group, None
    replace = state == "store"
    group = _new_store(location, ctx, recipe, plan, wanted, publish=False)
    staging = Path(group.store.root)
    try:       # the source table goes in with the store (a replaced store keeps its own)
        group.update_attributes(record_sources(staging, plan, hash_sources))
        if replace:
            return group, staging
        st.publish_store(staging, out)
    except BaseException:
        import shutil
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return st.open_store(out, mode="r+"), None


def _check_same_job(where, group, wanted: dict) -> None:
    diff = st.fingerprint_mismatch(dict(group.attrs), wanted)
    if diff:
        raise st.StoreError(f"{where} holds a store of another job; refusing to mix samples "
                            "(use --overwrite to replace it, or another --out):\n  "
                            + "\n  ".join(diff))


def _new_store(location: storage.Location, ctx: Context, recipe, plan, wanted: dict,
               publish: bool = True):
    """A new store's group, its shapes and dtypes learnt from sample 0."""
    # learn shapes and dtypes from sample 0 (this also compiles the numba kernels once); its
    # file stays decoded in the run's cache for the first shard (threaded scheduler)
    probe = dataclasses.replace(ctx, shapes={}, dtypes={})
    sample, _, _ = make_sample(probe, 0, int(plan.sample_file[0]), int(plan.sample_cell[0]),
                               FileCache(ctx))
    requested = wanted["dtype"]
    dtypes = {name: stored_dtype(recipe, arr, name, requested)
              for name, arr in (("hq", sample.hq), ("lq", sample.lq))}
    # extra targets are made from the HQ, in its domain, and stored as it is
    dtypes.update({name: dtypes["hq"] for name in sample.extra})
    extra = {"extra_targets": list(sample.extra)} if sample.extra else {}
    attrs = {
        "degrade": {"store_format": STORE_FORMAT, "version": _version()},
        **wanted,
        "recipe_text": recipe.text, "recipe_file": str(getattr(recipe, "file", None) or ""),
        "input_domain": getattr(recipe, "input_domain", None), "scale": recipe.scale,
        "stored_dtype": dtypes,
        "dtype_scale": {n: st.DTYPE_SCALE[d] for n, d in dtypes.items()},
        "sources": plan.source_info, "roots": plan.roots, "kind": plan.kind,
        "skipped": plan.skipped, "skipped_count": len(plan.skipped),
        "created": st.now(), "complete": False, **extra,
    }
    return st.create_store(location, num=plan.num, shard_size=wanted["shard_size"],
                           hq_shape=sample.hq.shape, lq_shape=sample.lq.shape,
                           dtypes=dtypes, compression=wanted["compression"], attrs=attrs,
                           publish=publish)


def _printer(enabled: bool):
    def say(message: str) -> None:
        if enabled:
            print(message, file=sys.stderr, flush=True)
    return say
