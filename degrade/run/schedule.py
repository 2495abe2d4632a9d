"""Which local scheduler runs a job: the argument's check and ``scheduler="auto"``'s probe.

``auto`` times the first samples of the run (and the decoding of their files) and takes
processes for long runs of light, GIL-bound samples, threads otherwise; see
docs/dataset_engine.md, "Schedulers", for the measurements behind the thresholds.
"""
from __future__ import annotations

import dataclasses
import os
import time

import numpy as np

from .._errors import InputError, ParameterError
from .job import Context, FileCache, make_sample
from .pool import fork_server_available

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
AUTO_PROCESSES_SAMPLE_MS = 3.0      # as timed at the start (see auto_scheduler)
AUTO_PROBE_SAMPLES, AUTO_PROBE_SECONDS = 8, 0.1



#: seconds to reach a dask.distributed scheduler and hear its handshake (a listener that
#: accepts and says nothing used to hang a run for good); ``DEGRADE_CONNECT_TIMEOUT`` sets it
CONNECT_TIMEOUT = 10.0
#: address schemes of dask.distributed's transports (and ``inproc``, not checked)
TRANSPORTS = ("tcp", "tls", "ws", "wss", "ucx", "inproc")


def connect_timeout() -> float:
    """:data:`CONNECT_TIMEOUT`, or ``DEGRADE_CONNECT_TIMEOUT`` (seconds) when set."""
    text = os.environ.get("DEGRADE_CONNECT_TIMEOUT")
    if not text:
        return CONNECT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 1e6:
        raise ParameterError(f"DEGRADE_CONNECT_TIMEOUT = {text!r}: expected seconds > 0")
    return value


def resolve_scheduler(scheduler) -> tuple:
    """'threads' | 'processes' | 'synchronous' | 'auto' | a distributed Client | 'tcp://...'
    -> ``(scheduler, name)``: ``name`` is where an address came from, for messages
    ('scheduler' or 'DASK_SCHEDULER_ADDRESS').

    An address's form is checked here, before the run plans or writes anything; whether a
    dask scheduler answers there is checked once, by :func:`degrade.cluster.connect`."""
    from_env = scheduler is None and bool(os.environ.get("DASK_SCHEDULER_ADDRESS"))
    if scheduler is None:
        scheduler = os.environ.get("DASK_SCHEDULER_ADDRESS") or "threads"
    name = "DASK_SCHEDULER_ADDRESS" if from_env else "scheduler"
    if (isinstance(scheduler, str) and scheduler not in LOCAL_SCHEDULERS + ("auto",)
            and "://" not in scheduler):
        raise ParameterError(f"scheduler = {scheduler!r}: expected one of "
                             f"{', '.join(LOCAL_SCHEDULERS)}, auto or a dask.distributed "
                             "address like tcp://HOST:8786")
    if isinstance(scheduler, str) and "://" in scheduler:
        check_scheduler_address(scheduler, name, probe=False)
    return scheduler, name


def check_scheduler_address(address: str, name: str = "scheduler",
                            timeout: float | None = None, *, probe: bool = True) -> None:
    """Refuse a malformed address, and (``probe``) a tcp:// address where nothing answers as
    a dask scheduler does, within ``timeout`` seconds (:func:`connect_timeout`), with one
    ParameterError line.

    A dask.distributed scheduler writes its handshake as soon as a connection opens (the
    client's own read of it has no deadline: a listener that accepts and says nothing hung
    ``Client()`` for good). So a tcp:// address is opened here and must send its first
    bytes in time; other transports (tls://, ws://, ...) are only checked for their form.
    """
    import socket
    from urllib.parse import urlsplit

    timeout = connect_timeout() if timeout is None else timeout
    where = f"{name} = {address!r}"
    try:
        parts = urlsplit(address)
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise ParameterError(f"{where}: not an address like tcp://HOST:8786 ({exc})") from None
    if parts.scheme == "inproc":      # a cluster in this process (processes=False)
        return
    if parts.scheme not in TRANSPORTS or not host or parts.path not in ("", "/"):
        raise ParameterError(f"{where}: not an address like tcp://HOST:8786 (transports: "
                             f"{', '.join(TRANSPORTS)})")
    if parts.scheme != "tcp":
        return
    if port is None:
        raise ParameterError(f"{where}: no port; expected tcp://HOST:PORT (dask's is 8786)")
    if not probe:
        return
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.settimeout(timeout)
            first = conn.recv(1)
    except socket.timeout:
        raise ParameterError(f"{where}: cannot connect to a dask.distributed scheduler there "
                             f"(no dask handshake within {timeout:g} s: is it a dask "
                             "scheduler's port? DEGRADE_CONNECT_TIMEOUT sets the wait)") from None
    except OSError as exc:
        raise ParameterError(f"{where}: cannot connect to a dask.distributed scheduler there "
                             f"({type(exc).__name__}: {exc.strerror or exc})") from None
    if not first:
        raise ParameterError(f"{where}: cannot connect to a dask.distributed scheduler there "
                             "(the listener closed the connection without a dask handshake)")


def auto_scheduler(ctx: Context, plan, todo: list[int], workers: int) -> tuple[str, str]:
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
    ranges = [(k * ctx.shard_size, k * ctx.shard_size + shard_len(k, ctx.shard_size, plan.num))
              for k in todo]
    count = sum(stop - start for start, stop in ranges)
    if workers < 2 or count < 2 * workers:
        return "threads", f"{count} samples on {workers} worker(s)"
    files = np.unique(np.concatenate([plan.sample_file[a:b] for a, b in ranges]))
    indices = [i for a, b in ranges[:AUTO_PROBE_SAMPLES] for i in range(a, b)][:AUTO_PROBE_SAMPLES]
    probe = dataclasses.replace(ctx, shapes={}, dtypes={})
    cache = FileCache(ctx)
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


def shard_len(k: int, size: int, num: int) -> int:
    return min(size, num - k * size)
