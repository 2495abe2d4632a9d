"""Running the shard tasks of a job: one dask task per shard, on a local scheduler
(threads, processes forked from the warm server, synchronous) or a dask.distributed cluster;
``on_done`` hears of each shard in the calling process as it finishes."""
from __future__ import annotations

import contextlib
import os
import tempfile
import uuid

from .._errors import ParameterError
from .job import Context, forget_run, write_listing
from .pool import process_pool
from .schedule import LOCAL_SCHEDULERS
from .tasks import run_shard


def run_shards(ctx: Context, plan, todo: list[int], scheduler, workers: int, on_done,
             say=lambda message: None) -> list[dict]:
    """Run one task per shard in ``todo`` on the chosen scheduler.

    ``on_done(summary)`` is called in the calling process as each shard finishes.
    """
    if not todo:
        return []
    size = ctx.shard_size
    if len(todo) == 1 and isinstance(scheduler, str) and scheduler in LOCAL_SCHEDULERS:
        # one task, nothing to run beside it: in this process, without importing dask (~0.1 s
        # of a short run's start-up); the same function, so the same bits
        k = todo[0]
        result = run_shard(ctx, k, plan.sample_file[k * size:(k + 1) * size],
                           plan.sample_cell[k * size:(k + 1) * size])
        on_done(result)
        return [result]
    import dask

    token = ctx.token = uuid.uuid4().hex[:12]
    shared = dask.delayed(ctx, name=f"degrade-context-{token}", traverse=False)
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
            with _Report(), listing_file(ctx, scheduler == "processes"):
                # chunksize=1: a shard is a coarse task already; dask's default batches of 6
                # leave one process idle for the last batch (16 shards on 2 processes: 6+6+4)
                return list(dask.compute(*tasks, scheduler=local_get(scheduler), num_workers=workers,
                                         chunksize=1, **({"pool": pool} if pool else {})))
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
    return _run_distributed(tasks, scheduler, on_done, say, token)


def local_get(scheduler: str):
    """dask's function for a local scheduler name. Given as the function, not the name:
    dask resolves a name by importing dask.distributed first (to look for a client), ~1 s of
    a short run's start-up here."""
    if scheduler == "threads":
        from dask.threaded import get
    elif scheduler == "processes":
        from dask.multiprocessing import get
    else:
        from dask.local import get_sync as get
    return get


@contextlib.contextmanager
def listing_file(ctx: Context, wanted: bool):
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


def malloc_hint(client) -> str | None:
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


def _run_distributed(tasks, scheduler, on_done, say=lambda message: None,
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
        hint = malloc_hint(client)
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
