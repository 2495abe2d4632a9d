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

from .._errors import ParameterError
from .._validate import check_integer
from .._registry import store_provenance
from . import store as st
from .layout import STORE_FORMAT, image_arrays, store_arrays
from .dispatch import run_shards
from .lease import FileLease
from .source_state import check_sources, record_sources
from .job import Context, FileCache, JobSpec, make_sample, plan_job, stored_dtype
from .pool import start_fork_server
from .progress import Progress
from .resume import recorded_failures, stored_shard_size, unique_failures
from .schedule import auto_scheduler, resolve_scheduler, shard_len

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
             hash_sources: bool = False) -> dict:
    """Generate a training store: every sample of ``recipe`` over ``sources`` into ``out``.

    Parameters
    ----------
    recipe : Recipe, path or YAML text
    sources : None, path, Source, dict or list of these
        Folders of images (PNG/JPEG/TIFF, 8/16-bit) or of RAW files (RAW recipes), ``.txt``
        file lists, or None for the built-in samples. See :func:`degrade.sources.folders.as_sources`.
    out : path
        The store directory (zarr v3). An existing store of the same job is resumed.
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
    if out is None:
        raise ParameterError("out: give the output store path")
    scheduler = resolve_scheduler(scheduler)
    workers = check_integer("workers", (os.cpu_count() or 1) if workers is None else workers, 1)
    out = Path(out)
    with writer_lease(out), store_errors(out):
        return _generate(recipe, sources, out, num, seed, workers, scheduler, shard_size,
                         strict, overwrite, dtype, patch_size, stride, weights, counts,
                         compression, progress, t_start, hash_sources)


def _generate(recipe, sources, out: Path, num, seed, workers, scheduler, shard_size, strict,
              overwrite, dtype, patch_size, stride, weights, counts, compression, progress,
              t_start, hash_sources=False) -> dict:
    """:func:`generate` once the run holds the store's lease."""
    if scheduler == "processes" and workers > 1 or scheduler == "auto" and workers > 1 and (
            num is None or num >= 2 * workers):    # (auto takes threads for fewer samples)
        start_fork_server()     # warms up in the background while this process plans the run
    recipe, plan, ctx = plan_job(recipe, JobSpec(sources, num, seed, patch_size, stride,
                                                 weights, counts, strict))
    seed = ctx.seed
    if shard_size is None:
        shard_size = (None if overwrite else stored_shard_size(out)) \
            or default_shard_size(plan.num)
    shard_size = check_integer("shard_size", shard_size, 1)
    if dtype not in ("auto",) + tuple(st.DTYPE_SCALE):
        raise ParameterError(f"dtype = {dtype!r}: expected auto, uint8, uint16 or float16")
    st.compressors(compression)
    say = _printer(progress)
    ctx.store, ctx.shard_size, ctx.compression = str(out), min(shard_size, plan.num), compression
    wanted = {"store_format": STORE_FORMAT, "recipe_hash": recipe.hash,
              "recipe_name": recipe.name, "seed": seed, "num": plan.num,
              "shard_size": shard_size, "dtype": dtype, "listing_hash": plan.listing_hash,
              "patches": plan.patches.as_dict(), "compression": compression,
              **store_provenance(recipe)}      # plugin packages and versions, if any
    group, staging = _open_or_create(out, ctx, recipe, plan, wanted, overwrite, hash_sources)
    arrays = store_arrays(dict(group.attrs))
    for name in image_arrays(dict(group.attrs)):
        ctx.shapes[name] = tuple(group[name].shape[1:])
        ctx.dtypes[name] = str(group[name].dtype)
    n_shards = -(-plan.num // ctx.shard_size)
    ndims = {name: group[name].ndim for name in arrays}
    done = st.done_shards(out, n_shards, ndims) if staging is None else set()
    todo = [k for k in range(n_shards) if k not in done]
    if done:
        say(f"resuming {out}: {len(done)} of {n_shards} shards already done")
    bar = Progress(plan.num, sum(shard_len(k, ctx.shard_size, plan.num) for k in done),
                   enabled=progress)
    finished = []                    # (time, samples, worker) of every shard as it finishes

    def on_done(result: dict) -> None:
        finished.append((time.perf_counter(), result["samples"], result["worker"]))
        bar.update(result["samples"])
    results = []
    if staging is not None:          # --overwrite: the old store stays until a shard is made
        results = replace_store(ctx, plan, out, staging, todo[0], on_done)
        group, todo = st.open_store(out, mode="r+"), todo[1:]
    if scheduler == "auto":
        scheduler, why = auto_scheduler(ctx, plan, todo, workers) if todo else ("threads", "")
        say(f"scheduler: {scheduler} ({why})")
    results += run_shards(ctx, plan, todo, scheduler, workers, on_done, say)
    bar.close()
    failures = [f for r in results for f in r["failures"]]
    for failure in unique_failures(failures):
        warnings.warn(f"replaced {failure['path']} (it passed the header check but cannot be "
                      f"decoded) by the next file of its source: {failure['reason']}", stacklevel=3)
    failures += recorded_failures(out, ctx, sorted(done))
    skipped = plan.skipped + unique_failures(failures)
    seconds = time.perf_counter() - t_start
    written = sum(r["samples"] for r in results)
    nbytes = sum(r["bytes"] for r in results)
    group.update_attributes({"complete": True, "finished": st.now(), "skipped": skipped,
                             "skipped_count": len(skipped)})
    return {"path": str(out), "num": plan.num, "shards": n_shards,
            "shards_written": n_shards - len(done),
            "shards_reused": len(done), "samples_written": written, "skipped": skipped,
            "seconds": seconds, "samples_per_s": written / seconds if seconds else 0.0,
            "mb_per_s": nbytes / 1e6 / seconds if seconds else 0.0,
            "scheduler": scheduler if isinstance(scheduler, str) else "distributed",
            "first_shard_s": finished[0][0] - t_start if finished else 0.0,
            "steady_samples_per_s": _steady_rate(finished)}


@contextlib.contextmanager
def writer_lease(out: Path):
    """Hold the store's lease (:mod:`.lease`) while the block runs, taken before anything
    is written: a second run on the same ``out`` is refused (LeaseHeld) with its holder.

    Makes the folder first (the lease lives in it); a folder this run made and left empty
    (a run refused at planning) is removed again. Every way the folder cannot be made or
    written is one StoreError line."""
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
def store_errors(out: Path):
    """A store that cannot be written (read-only folder, full disk, lost permissions) ends
    the run with one StoreError line instead of a traceback; the shard files being written
    leave no ``.partial`` file (:func:`.store.write_shard`)."""
    try:
        yield
    except OSError as exc:
        raise st.StoreError(f"--out {out}: cannot write the store ({_why(exc)}); "
                            "finished shards are kept, run again to resume") from None


def replace_store(ctx: Context, plan, out: Path, staging: Path, first: int, on_done) -> list:
    """``--overwrite``: make shard ``first`` in the staged new store (in this process), then
    publish the new store over the old one (:func:`.store.publish_store`). Until then the
    old store is untouched: a recipe that fails, or a kill, leaves it as it was."""
    try:
        ctx.store = str(staging)
        results = run_shards(ctx, plan, [first], "synchronous", 1, on_done)
        st.publish_store(staging, out)
    except BaseException:
        import shutil
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        ctx.store = str(out)
    return results


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


def _open_or_create(out: Path, ctx: Context, recipe, plan, wanted: dict, overwrite: bool,
                    hash_sources: bool = False):
    """(group, staging): the store to resume, or a new one; ``staging`` is the folder of a
    new store that replaces an old one (``--overwrite``) and is not published yet."""
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
            diff = st.fingerprint_mismatch(dict(group.attrs), wanted)
            if diff:
                raise st.StoreError(f"{out} holds a store of another job; refusing to mix "
                                    "samples (use --overwrite to replace it, or another "
                                    "--out):\n  " + "\n  ".join(diff))
            return group, None
    replace = state == "store"
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
    group = st.create_store(out, num=plan.num, shard_size=wanted["shard_size"],
                            hq_shape=sample.hq.shape, lq_shape=sample.lq.shape,
                            dtypes=dtypes, compression=wanted["compression"], attrs=attrs,
                            publish=False)
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


def _printer(enabled: bool):
    def say(message: str) -> None:
        if enabled:
            print(message, file=sys.stderr, flush=True)
    return say
