"""Worker processes of the local ``processes`` scheduler, forked from a warm server.

dask's processes scheduler spawns its workers by default: each starts an interpreter and
imports numpy, OpenCV, numba, dask and degrade, then numba loads its registries with the
first cached kernel: ~0.6-0.8 s of CPU a worker here, paid by every run. Where the platform
has it (Linux, macOS), degrade hands dask a pool whose workers are forked from a
multiprocessing *forkserver* that did all that once (:data:`PRELOAD`); a worker then makes
its first sample within milliseconds. The server lives as long as the calling process, so
later runs of a script or a notebook start at once too.

Forking is safe here because the server is a fresh, single-threaded process: it is started
with the BLAS libraries single-threaded (:data:`SINGLE_THREADED`, else numpy's OpenBLAS starts
its threads at import) and runs no OpenCV call. Its workers inherit that setting, which suits
them: the engine runs one sample per worker, and a BLAS pool only spins beside it. Nothing
changes in what a worker computes (the store is bit-identical to a threads run's; tested).

Workers still import the calling script (``__main__``) as spawned ones do: guard a script's
code with ``if __name__ == "__main__":``. The server keeps the code it imported when it
started: ops registered, or degrade's code changed, after a process's first processes run
reach its workers only in a new Python process.
"""
from __future__ import annotations

import multiprocessing
import os
import threading

#: what the fork server imports once (:mod:`._fork_server`: the engine, OpenCV, numba and
#: numba's registries); a module that fails to import is skipped by multiprocessing
PRELOAD = ("degrade.run._fork_server",)
#: environment of the fork server (and so of its workers): BLAS libraries single-threaded
SINGLE_THREADED = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

_LOCK = threading.Lock()


def process_pool(workers: int):
    """A ``ProcessPoolExecutor`` of ``workers`` processes forked from the warm fork server, or
    None where the platform has no forkserver start method (dask then spawns its own)."""
    if not start_fork_server():
        return None
    from concurrent.futures import ProcessPoolExecutor
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver"))


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
    """Whether this platform can fork workers from a server (Linux, macOS; not Windows)."""
    return "forkserver" in multiprocessing.get_all_start_methods()


def _ensure_server(context) -> None:
    """Start the fork server with :data:`PRELOAD` and :data:`SINGLE_THREADED`, unless it runs.

    A server already running (started by this process before, or by the caller's own use of
    forkserver) is used as it is. The preload list keeps any modules the caller asked for.
    """
    from multiprocessing import forkserver
    with _LOCK:
        server = getattr(forkserver, "_forkserver", None)
        if server is not None and getattr(server, "_forkserver_pid", None) is not None:
            forkserver.ensure_running()             # restarts it if it died
            return
        asked = list(getattr(server, "_preload_modules", None) or [])
        context.set_forkserver_preload(asked + [m for m in PRELOAD if m not in asked])
        saved = {name: os.environ.get(name) for name in SINGLE_THREADED}
        os.environ.update(SINGLE_THREADED)
        try:
            forkserver.ensure_running()
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
