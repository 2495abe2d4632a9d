"""Worker processes of the local ``processes`` scheduler, forked from a warm server.

dask's processes scheduler spawns its workers by default: each starts an interpreter and
imports numpy, OpenCV, numba, dask and degrade, then numba loads its registries with the
first cached kernel: ~0.6-0.8 s of CPU a worker here, paid by every run. On Linux degrade
hands dask a pool whose workers are forked from a multiprocessing *forkserver* that did all
that once (:data:`PRELOAD`, :mod:`degrade._fork_server`); a worker then makes its first
sample within milliseconds. The server lives as long as the calling process, so later runs
of a script or a notebook start at once too.

Forking is safe here because the server is a fresh, single-threaded process: its preloaded
module sets the BLAS libraries single-threaded in the server's own environment before numpy
loads (:data:`SINGLE_THREADED`), and it runs no OpenCV call. Its workers inherit that setting,
which suits them: the engine runs one sample per worker, and a BLAS pool only spins beside it.
Nothing changes in what a worker computes (the store is bit-identical to a threads run's;
tested). Only public multiprocessing API is used, and the calling process's environment is
never touched.

macOS has the forkserver start method, but forking a process that has loaded OpenCV and
numba (Objective-C runtime, Accelerate) is not safe there: macOS and Windows get dask's
spawned workers (:func:`fork_server_available` is False), as does any platform where the
server cannot start.

Workers and the server die with the process that started them, also when it is killed
(SIGKILL): on Linux each asks the kernel for a parent-death signal (:func:`die_with_parent`:
the server when it starts, a worker in its initialiser), so a killed run leaves no process
behind holding memory or the caller's pipes (``timeout``, SLURM and Kubernetes wait on those).
An interrupted run (Ctrl-C, SIGTERM) stops its workers at once (:func:`stop_pool`).

Workers still import the calling script (``__main__``) as spawned ones do: guard a script's
code with ``if __name__ == "__main__":``. The server keeps the code it imported when it
started: ops registered, or degrade's code changed, after a process's first processes run
reach its workers only in a new Python process. A fork server the caller started first is
used as it is (its own preload list and environment).
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import weakref

from .._threads import SINGLE_THREADED  # noqa: F401  (what the workers run with; tests)

#: what the fork server imports once, before anything else it is asked to preload
PRELOAD = ("degrade._fork_server",)

_LOCK = threading.Lock()


def process_pool(workers: int):
    """A ``ProcessPoolExecutor`` of ``workers`` processes forked from the warm fork server, or
    None where the platform has no forkserver start method (dask then spawns its own)."""
    if not start_fork_server():
        return None
    from concurrent.futures import ProcessPoolExecutor
    context = multiprocessing.get_context("forkserver")
    stop = context.Event()
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=start_worker,
                               initargs=(stop,))
    _STOPS[pool] = stop
    return pool


#: the stop event of each pool (set by :func:`stop_pool`)
_STOPS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def start_worker(stop) -> None:
    """A worker's initialiser: die with the fork server (:func:`die_with_parent`), and at
    once when the pool's ``stop`` event is set (:func:`stop_pool`; a thread waits on it)."""
    die_with_parent()

    def watch():
        stop.wait()
        os.kill(os.getpid(), signal.SIGKILL)
    threading.Thread(target=watch, name="degrade-stop", daemon=True).start()


#: prctl option: the signal a process gets when its parent thread exits (linux/prctl.h)
PR_SET_PDEATHSIG = 1


def die_with_parent() -> bool:
    """Ask the kernel to SIGKILL this process when its parent exits (Linux; False elsewhere).

    Called by the fork server as it starts and by each worker forked from it: a run killed
    with SIGKILL then takes its server and workers with it. If the parent died before the
    request, the process is already an orphan and exits now."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    if os.getppid() == 1:              # the parent is gone already (re-parented to init)
        os.kill(os.getpid(), signal.SIGKILL)
    return True


def stop_pool(pool) -> None:
    """Stop a pool's worker processes at once (an interrupted run): the shards they were
    making are abandoned (shard files are written aside and renamed, so none is half-made)
    instead of waited for. Each worker kills itself when the pool's stop event is set."""
    stop = _STOPS.pop(pool, None)
    if stop is not None:
        stop.set()


def start_fork_server() -> bool:
    """Start the fork server unless it runs; False where the platform has none or it cannot
    start (the caller then lets dask spawn its workers).

    Returns at once: the server imports :data:`PRELOAD` in the background (~0.8 s of one core
    here), and the first worker forked from it waits for that. ``generate`` calls this before
    it plans a run that may use processes, so the warm-up overlaps the planning.
    """
    if not fork_server_available():
        return False
    try:
        _ensure_server(multiprocessing.get_context("forkserver"))
    except (OSError, RuntimeError, ValueError):   # no UNIX socket, a closed server, ...:
        return False                               # dask spawns its workers instead
    return True


def fork_server_available() -> bool:
    """Whether workers fork from a server here: Linux (and other POSIX systems with the
    forkserver method), not macOS (forking after OpenCV/numba loaded is unsafe) nor Windows."""
    return sys.platform != "darwin" and "forkserver" in multiprocessing.get_all_start_methods()


def _ensure_server(context) -> None:
    """Start the fork server with :data:`PRELOAD`, unless it runs (public API only: a server
    already running ignores the preload list; ``ensure_running`` restarts one that died)."""
    from multiprocessing import forkserver
    with _LOCK:
        context.set_forkserver_preload(list(PRELOAD))
        forkserver.ensure_running()
