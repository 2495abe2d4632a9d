"""``generate``: sources -> one dask task per shard -> a zarr v3 store; resume; progress.

See docs/dataset_engine.md for the store layout, the determinism rules and the measurements
behind the defaults (threads for the Python API, ``auto`` for the command, no compression
for images).
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path

import numpy as np

from .._errors import InputError, ParameterError
from .._registry import store_provenance
from ..sources.folders import Patches, as_sources, plan_samples
from . import store as st
from .progress import Progress
from .pool import fork_server_available, process_pool, start_fork_server
from .tasks import (Context, RecipeRef, _FileCache, forget_run, make_sample,
                    run_shard, write_listing)

DEFAULT_SHARD_SIZE = 64
LOCAL_SCHEDULERS = ("threads", "processes", "synchronous")
#: ``scheduler="auto"`` takes processes for a run of GIL-bound samples (each faster than
#: ``AUTO_PROCESSES_SAMPLE_MS``: a recipe spends ~0.3 ms a sample in Python, so such samples
#: hold the GIL a fifth of their time or more and threads scale poorly) estimated to take at
#: least ``AUTO_PROCESSES_SECONDS`` on one worker, where workers fork from the warm fork
#: server (pool.py: ~0.3-0.4 s from the pool to the first shard, the server's warm-up
#: overlapping the planning), or ``AUTO_PROCESSES_SECONDS_SPAWNED`` where they are spawned
#: (1.1-2.7 s of start-up here). Measured (docs/dataset_engine.md, "Schedulers"), 2 workers
#: against 1 (steady sample times; timed at the start they read up to 2x more): simple_x2,
#: 0.7-1 ms a sample: threads 1.1-1.4x, processes 1.7-2.0x once started, and a 6000-sample
#: run (~7 s on one worker) took 5.5 s with processes against 8.6-8.9 s with threads;
#: eld2020, 2 ms: threads 1.7x, processes 1.8x (either will do); realesrgan_x4plus, 13 ms:
#: threads 1.9x, processes no better.
AUTO_PROCESSES_SECONDS = 5.0
AUTO_PROCESSES_SECONDS_SPAWNED = 20.0
AUTO_PROCESSES_SAMPLE_MS = 3.0      # as timed at the start (see _auto_scheduler)
AUTO_PROBE_SAMPLES, AUTO_PROBE_SECONDS = 8, 0.1
_DOMAIN_DTYPE = {"srgb": "uint8", "linear": "uint16", "camera": "uint16", "raw": "uint16"}


def _version() -> str:
    import degrade
    version = getattr(degrade, "__version__", None)
    if version:
        return str(version)
    try:
        from importlib.metadata import version as dist_version
        return dist_version("degrade")
    except Exception:
        return "unknown"


def _as_recipe(recipe):
    if isinstance(recipe, (str, os.PathLike)):
        from ..recipe import load_recipe
        return load_recipe(recipe)
    if not hasattr(recipe, "run"):
        raise ParameterError(f"recipe must be a Recipe, a YAML file or YAML text, got "
                             f"{type(recipe).__name__}")
    return recipe


def _check_int(name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ParameterError(f"{name} = {value!r}: expected an integer >= {low}")
    return int(value)


def _auto_dtype(recipe, array: np.ndarray, which: str) -> str:
    """uint16 for mosaics and linear/camera/raw data, uint8 for sRGB images."""
    if array.ndim == 2:
        return "uint16"
    attr = "target_domain" if which == "hq" else "output_domain"
    domain = getattr(recipe, attr, None) or getattr(recipe, "input_domain", "srgb")
    return _DOMAIN_DTYPE.get(domain, "uint16")


def _resolve_scheduler(scheduler):
    """'threads' | 'processes' | 'synchronous' | 'auto' | a distributed Client | 'tcp://...'."""
    if scheduler is None:
        scheduler = os.environ.get("DASK_SCHEDULER_ADDRESS") or "threads"
    if (isinstance(scheduler, str) and scheduler not in LOCAL_SCHEDULERS + ("auto",)
            and "://" not in scheduler):
        raise ParameterError(f"scheduler = {scheduler!r}: expected one of "
                             f"{', '.join(LOCAL_SCHEDULERS)}, auto or a dask.distributed "
                             "address like tcp://HOST:8786")
    return scheduler


def _auto_scheduler(ctx: Context, plan, todo: list[int], workers: int) -> tuple[str, str]:
    """``scheduler="auto"``: processes for long runs of light samples, threads otherwise;
    returns (name, why).

    Samples of the run are timed here, in order, apart from the decoding of their files
    (timed on its own: a run of one sample per RAW file is mostly decoding). Early samples of
    a process run up to 2x slower than steady state (and a resumed run's parent loads its
    kernels now), so the times overestimate. When even the first sample and one decode say
    the run is short, threads; else up to ``AUTO_PROBE_SAMPLES`` samples (stopping after
    ``AUTO_PROBE_SECONDS``): past the first, their median, plus a decode per file to read,
    estimates the run; their fastest, plus its share of the decoding, tells a light
    (GIL-bound) sample from a heavy one.
    """
    long_enough = (AUTO_PROCESSES_SECONDS if fork_server_available()
                   else AUTO_PROCESSES_SECONDS_SPAWNED)
    ranges = [(k * ctx.shard_size, k * ctx.shard_size + _shard_len(k, ctx.shard_size, plan.num))
              for k in todo]
    count = sum(stop - start for start, stop in ranges)
    if workers < 2 or count < 2 * workers:
        return "threads", f"{count} samples on {workers} worker(s)"
    files = np.unique(np.concatenate([plan.sample_file[a:b] for a, b in ranges]))
    indices = [i for a, b in ranges[:AUTO_PROBE_SAMPLES] for i in range(a, b)][:AUTO_PROBE_SAMPLES]
    probe = dataclasses.replace(ctx, shapes={}, dtypes={})
    cache = _FileCache(ctx)
    decodes, times = [], []

    def decode(file_id: int) -> None:     # timed apart; the file stays cached for its shard
        if file_id in cache.state.files:
            return
        start = time.perf_counter()
        try:
            cache.state.decoded(ctx, file_id)
        except InputError:                # make_sample replaces it, as a shard would
            return
        decodes.append(time.perf_counter() - start)

    decode(int(next((f for f in files if f not in cache.state.files), files[0])))
    for index in indices:
        decode(int(plan.sample_file[index]))
        start = time.perf_counter()
        make_sample(probe, index, int(plan.sample_file[index]), int(plan.sample_cell[index]), cache)
        times.append(time.perf_counter() - start)
        reading = len(files) * _typical(decodes)
        if count * times[0] + reading < long_enough:
            break                           # overestimates, and still short
        if len(times) >= 3 and sum(times) + sum(decodes) > AUTO_PROBE_SECONDS:
            break
    seconds, fastest = _typical(times), min(times[1:] or times)
    estimate = count * seconds + reading
    long_run = estimate >= long_enough
    # decoding (cv2 releases the GIL; rawpy mostly) counts as non-Python work of a sample
    light = (fastest + reading / count) * 1e3 < AUTO_PROCESSES_SAMPLE_MS
    name = "processes" if long_run and light else "threads"
    decoding = (f", {len(files)} files at ~{_typical(decodes) * 1e3:.1f} ms to decode"
                if decodes else "")
    return name, (f"{count} samples at ~{seconds * 1e3:.1f} ms each, the fastest "
                  f"{fastest * 1e3:.1f} ms{decoding}: {(fastest + reading / count) * 1e3:.1f} ms "
                  f"a sample at least ({'<' if light else '>='} {AUTO_PROCESSES_SAMPLE_MS:g} ms: "
                  f"{'GIL-bound' if light else 'threads scale'}), ~{estimate:.0f} s on one worker "
                  f"({'>=' if long_run else '<'} {long_enough:g} s)")


def _typical(seconds: list) -> float:
    """The median of timings past the first (the first of a process is the slowest)."""
    return float(np.median(seconds[1:] or seconds)) if seconds else 0.0


def default_shard_size(num: int) -> int:
    """64 samples a shard (``DEFAULT_SHARD_SIZE``); a job of fewer than 8 x 64 samples gets
    8 shards, so that the workers of a small machine all have some (a shard is one task)."""
    return max(1, min(DEFAULT_SHARD_SIZE, -(-num // 8)))


def _stored_shard_size(out: Path) -> int | None:
    """The shard size an existing degrade store at ``out`` was made with, if any (a re-run
    without ``shard_size`` resumes it whatever the default was then)."""
    import json
    try:
        value = json.loads((out / "zarr.json").read_text())["attributes"]["shard_size"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def plan_job(recipe, sources=None, *, num: int | None = None, seed: int | None = None,
             patch_size: int | None = None, stride: int | None = None, weights=None,
             counts=None, strict: bool = False):
    """The sample map of a job: which file and patch each sample index uses.

    Shared by :func:`generate` and :class:`degrade.torch.OnTheFlyDataset`, so that both make
    exactly the same sample for the same index. Returns ``(recipe, plan, ctx)``: the loaded
    Recipe, the :func:`degrade.sources.folders.plan_samples` plan and a task
    :class:`~degrade.run.tasks.Context` (without store settings).
    """
    recipe = _as_recipe(recipe)
    seed = _check_int("seed", recipe.seed if seed is None else seed, 0)
    kind = "raw" if getattr(recipe, "input_domain", "srgb") == "raw" else "image"
    plan = plan_samples(as_sources(sources, weights=weights, counts=counts), kind=kind, num=num,
                        patches=Patches(patch_size, stride), min_size=recipe.target_size,
                        strict=strict, warn=lambda m: warnings.warn(m, stacklevel=4))
    ctx = Context(RecipeRef(recipe), seed, kind, plan.files, plan.rel_paths, plan.file_source,
                  plan.patches, num=plan.num, strict=strict)
    return recipe, plan, ctx


def generate(recipe, sources=None, out=None, *, num: int | None = None, seed: int | None = None,
             workers: int | None = None, scheduler=None, shard_size: int | None = None,
             strict: bool = False, overwrite: bool = False, dtype: str = "auto",
             patch_size: int | None = None, stride: int | None = None, weights=None,
             counts=None, compression: str = "none", progress: bool = True) -> dict:
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
        Delete an existing store at ``out`` first (only if it is a zarr store).
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
        ``out`` holds a store of another job (recipe, seed, sources, ...) or a non-store folder.
    InputError
        Unusable sources; with ``strict``, any unusable file.
    ParameterError
        Bad arguments.
    """
    t_start = time.perf_counter()
    if out is None:
        raise ParameterError("out: give the output store path")
    scheduler = _resolve_scheduler(scheduler)
    workers = _check_int("workers", (os.cpu_count() or 1) if workers is None else workers, 1)
    if scheduler in ("processes", "auto") and workers > 1:
        start_fork_server()     # warms up in the background while this process plans the run
    recipe, plan, ctx = plan_job(recipe, sources, num=num, seed=seed, patch_size=patch_size,
                                 stride=stride, weights=weights, counts=counts, strict=strict)
    seed = ctx.seed
    if shard_size is None:
        shard_size = (None if overwrite else _stored_shard_size(Path(out))) \
            or default_shard_size(plan.num)
    shard_size = _check_int("shard_size", shard_size, 1)
    if dtype not in ("auto",) + tuple(st.DTYPE_SCALE):
        raise ParameterError(f"dtype = {dtype!r}: expected auto, uint8, uint16 or float16")
    st._compressors(compression)
    say = _printer(progress)
    ctx.store, ctx.shard_size, ctx.compression = str(Path(out)), min(shard_size, plan.num), compression
    wanted = {"store_format": st.STORE_FORMAT, "recipe_hash": recipe.hash,
              "recipe_name": recipe.name, "seed": seed, "num": plan.num,
              "shard_size": shard_size, "dtype": dtype, "listing_hash": plan.listing_hash,
              "patches": plan.patches.as_dict(), "compression": compression,
              **store_provenance(recipe)}      # plugin packages and versions, if any
    group = _open_or_create(Path(out), ctx, recipe, plan, wanted, overwrite)
    for name in ("hq", "lq"):
        ctx.shapes[name] = tuple(group[name].shape[1:])
        ctx.dtypes[name] = str(group[name].dtype)
    n_shards = -(-plan.num // ctx.shard_size)
    ndims = {name: group[name].ndim for name in st.ARRAYS}
    done = st.done_shards(out, n_shards, ndims)
    todo = [k for k in range(n_shards) if k not in done]
    if done:
        say(f"resuming {out}: {len(done)} of {n_shards} shards already done")
    if scheduler == "auto":
        scheduler, why = _auto_scheduler(ctx, plan, todo, workers)
        say(f"scheduler: {scheduler} ({why})")
    bar = Progress(plan.num, sum(_shard_len(k, ctx.shard_size, plan.num) for k in done),
                   enabled=progress)
    finished = []                    # (time, samples, worker) of every shard as it finishes

    def on_done(result: dict) -> None:
        finished.append((time.perf_counter(), result["samples"], result["worker"]))
        bar.update(result["samples"])
    results = _execute(ctx, plan, todo, scheduler, workers, on_done, say)
    bar.close()
    failures = [f for r in results for f in r["failures"]]
    for failure in _unique(failures):
        warnings.warn(f"replaced {failure['path']} (it passed the header check but cannot be "
                      f"decoded) by the next file of its source: {failure['reason']}", stacklevel=2)
    failures += _recorded_failures(out, ctx, sorted(done))
    skipped = plan.skipped + _unique(failures)
    seconds = time.perf_counter() - t_start
    written = sum(r["samples"] for r in results)
    nbytes = sum(r["bytes"] for r in results)
    group.update_attributes({"complete": True, "finished": st.now(), "skipped": skipped,
                             "skipped_count": len(skipped)})
    return {"path": str(out), "num": plan.num, "shards": n_shards, "shards_written": len(todo),
            "shards_reused": len(done), "samples_written": written, "skipped": skipped,
            "seconds": seconds, "samples_per_s": written / seconds if seconds else 0.0,
            "mb_per_s": nbytes / 1e6 / seconds if seconds else 0.0,
            "scheduler": scheduler if isinstance(scheduler, str) else "distributed",
            "first_shard_s": finished[0][0] - t_start if finished else 0.0,
            "steady_samples_per_s": _steady_rate(finished)}


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


def _open_or_create(out: Path, ctx: Context, recipe, plan, wanted: dict, overwrite: bool):
    if overwrite:
        st.remove_store(out)
    elif out.exists() and not (out.is_dir() and not any(out.iterdir())):
        try:
            group = st.open_store(out, mode="r+")
        except st.StoreError as exc:
            raise st.StoreError(f"{exc}; use --overwrite to replace it, or another --out") from None
        diff = st.fingerprint_mismatch(dict(group.attrs), wanted)
        if diff:
            raise st.StoreError(f"{out} holds a store of another job; refusing to mix samples "
                                "(use --overwrite to replace it, or another --out):\n  "
                                + "\n  ".join(diff))
        return group
    # learn shapes and dtypes from sample 0 (this also compiles the numba kernels once); its
    # file stays decoded in the run's cache for the first shard (threaded scheduler)
    probe = dataclasses.replace(ctx, shapes={}, dtypes={})
    sample, _, _ = make_sample(probe, 0, int(plan.sample_file[0]), int(plan.sample_cell[0]),
                               _FileCache(ctx))
    requested = wanted["dtype"]
    dtypes = {name: (requested if requested != "auto" else _auto_dtype(recipe, arr, name))
              for name, arr in (("hq", sample.hq), ("lq", sample.lq))}
    attrs = {
        "degrade": {"store_format": st.STORE_FORMAT, "version": _version()},
        **wanted,
        "recipe_text": recipe.text, "recipe_file": str(getattr(recipe, "file", None) or ""),
        "input_domain": getattr(recipe, "input_domain", None), "scale": recipe.scale,
        "stored_dtype": dtypes,
        "dtype_scale": {n: st.DTYPE_SCALE[d] for n, d in dtypes.items()},
        "sources": plan.source_info, "roots": plan.roots, "kind": plan.kind,
        "skipped": plan.skipped, "skipped_count": len(plan.skipped),
        "created": st.now(), "complete": False,
    }
    group = st.create_store(out, num=plan.num, shard_size=wanted["shard_size"],
                            hq_shape=sample.hq.shape, lq_shape=sample.lq.shape,
                            dtypes=dtypes, compression=wanted["compression"], attrs=attrs)
    return group


def _execute(ctx: Context, plan, todo: list[int], scheduler, workers: int, on_done,
             say=lambda message: None) -> list[dict]:
    """Run one task per shard in ``todo`` on the chosen scheduler.

    ``on_done(summary)`` is called in the calling process as each shard finishes.
    """
    if not todo:
        return []
    import dask

    token = ctx.token = uuid.uuid4().hex[:12]
    shared = dask.delayed(ctx, name=f"degrade-context-{token}", traverse=False)
    size = ctx.shard_size
    tasks = [dask.delayed(run_shard, pure=False)(
        shared, k, plan.sample_file[k * size:(k + 1) * size],
        plan.sample_cell[k * size:(k + 1) * size], dask_key_name=f"degrade-shard-{token}-{k}")
        for k in todo]
    if isinstance(scheduler, str) and scheduler in LOCAL_SCHEDULERS:
        from dask.callbacks import Callback

        class _Report(Callback):
            def _posttask(self, key, result, dsk, state, worker_id):
                if isinstance(result, dict) and "samples" in result:
                    on_done(result)

        # processes: workers forked from a warm server where the platform allows (pool.py)
        pool = process_pool(workers) if scheduler == "processes" else None
        try:
            with _Report(), _listing_file(ctx, scheduler == "processes"):
                # chunksize=1: a shard is a coarse task already; dask's default batches of 6
                # leave one process idle for the last batch (16 shards on 2 processes: 6+6+4)
                return list(dask.compute(*tasks, scheduler=scheduler, num_workers=workers,
                                         chunksize=1, **({"pool": pool} if pool else {})))
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
    return _execute_distributed(tasks, scheduler, on_done, say, token)


@contextlib.contextmanager
def _listing_file(ctx: Context, wanted: bool):
    """For local worker processes: the source listing goes to a temporary file that each
    process reads once (``Context.listing``). dask's processes scheduler pickles a task's
    inputs into every task, and the listing grows with the files: 100 000 files were 9 MB,
    52 ms to pickle in this process and 29 ms to unpickle, per shard. Without a writable
    temporary folder the listing travels in the tasks as before."""
    path = None
    if wanted:
        try:
            handle, path = tempfile.mkstemp(prefix="degrade-listing-", suffix=".pickle")
            os.close(handle)
            write_listing(ctx, path)
            ctx.listing = path
        except OSError:
            path = None
    try:
        yield
    finally:
        if path is not None:
            ctx.listing = ""
            with contextlib.suppress(OSError):
                os.remove(path)


def _malloc_hint(client) -> str | None:
    """A hint when the cluster's workers run with a small ``MALLOC_TRIM_THRESHOLD_`` (dask's
    nannies export 65536 by default): glibc then returns freed memory to the system at once
    and a recipe's large temporaries fault their pages in again; samples ran 25-40 % slower
    here (docs/dataset_engine.md, "Clusters")."""
    try:
        values = client.run(os.environ.get, "MALLOC_TRIM_THRESHOLD_")
    except Exception:                     # a worker that cannot answer: no hint
        return None
    small = sorted({v for v in values.values() if v is not None and v.isdigit()
                    and int(v) < 2**25})
    if not small:
        return None
    return (f"hint: {len(values)} cluster worker(s) run with MALLOC_TRIM_THRESHOLD_="
            f"{', '.join(small)} (dask's default); degrade's samples run 25-40 % slower so. "
            "Start the workers without it (dask config "
            "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_: null; see "
            "docs/dataset_engine.md, 'Clusters')")


def _execute_distributed(tasks, scheduler, on_done, say=lambda message: None,
                         token: str = "") -> list[dict]:
    from distributed import Client, as_completed

    if isinstance(scheduler, Client):
        client = scheduler
    else:
        try:
            client = Client(scheduler)   # connect timeout: distributed.comm.timeouts.connect
        except (OSError, TimeoutError) as exc:
            raise ParameterError(f"scheduler = {scheduler!r}: cannot connect to a dask.distributed "
                                 f"scheduler there ({type(exc).__name__}: {exc})") from None
    try:
        hint = _malloc_hint(client)
        if hint:
            say(hint)
        futures = client.compute(tasks)
        results = []
        for future in as_completed(futures):
            result = future.result()
            results.append(result)
            on_done(result)
        return results
    finally:
        try:          # the workers outlive the run: free what they kept for it
            client.run(forget_run, token)
        except Exception:
            pass
        if client is not scheduler:
            client.close()


def _recorded_failures(out, ctx: Context, shards: list[int]) -> list[dict]:
    """Decode failures of shards made by an earlier run, read back from their records."""
    if not shards:
        return []
    import json
    import zarr

    records = zarr.open_array(str(out), path="records", mode="r")
    file_of = {(int(s), rel): f for f, (s, rel) in enumerate(zip(ctx.file_source, ctx.rel_paths))}
    found = []
    for start, stop in _sample_blocks(shards, ctx.shard_size, ctx.num):
        for text in records[start:stop]:     # one read per block of consecutive shards
            if '"replaces"' not in text:     # most records: nothing to parse
                continue
            source = json.loads(str(text)).get("source", {})
            for rel in source.get("replaces", []):
                found.append({"path": ctx.files[file_of[(source["source"], rel)]],
                              "reason": "could not be decoded (replaced in an earlier run)"})
    return found


def _sample_blocks(shards: list[int], size: int, num: int, most: int = 64):
    """(start, stop) sample ranges covering ``shards`` (sorted): runs of consecutive shards,
    at most ``most`` shards each (a resumed 8192-sample store read its records in 0.35 s one
    shard at a time)."""
    run_start = previous = None
    for k in list(shards) + [None]:
        if k is not None and previous is not None and k == previous + 1 \
                and k - run_start < most:
            previous = k
            continue
        if run_start is not None:
            yield run_start * size, min((previous + 1) * size, num)
        run_start = previous = k


def _unique(failures: list[dict]) -> list[dict]:
    seen, out = set(), []
    for failure in sorted(failures, key=lambda f: f["path"]):
        if failure["path"] not in seen:
            seen.add(failure["path"])
            out.append({"path": failure["path"], "reason": failure["reason"]})
    return out


def _shard_len(k: int, size: int, num: int) -> int:
    return min(size, num - k * size)


def _printer(enabled: bool):
    def say(message: str) -> None:
        if enabled:
            print(message, file=sys.stderr, flush=True)
    return say
