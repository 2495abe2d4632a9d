"""A real dask.distributed cluster for the tests: ``dask scheduler`` and N ``dask worker``
processes, each started as its own process in its own temporary working directory (so a
relative path means something else on every worker, as on separate machines), on free ports
of 127.0.0.1, stopped by their pids at the end.

    with dask_cluster(tmp_path, workers=2) as cluster:
        client = cluster.client()          # a distributed.Client (closed at the end)
        cluster.kill_worker(0)             # SIGKILL one worker (its nanny too)

Workers import this checkout's degrade: PYTHONPATH starts with the repository.
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from s3server import _port_open, detach_and_die_with_parent, free_ports

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Cluster:
    address: str
    scheduler: subprocess.Popen
    workers: list = field(default_factory=list)      # Popen of each `dask worker`
    cwds: list = field(default_factory=list)         # the working directory of each worker
    ports: list = field(default_factory=list)        # worker port of each worker
    _clients: list = field(default_factory=list)

    def client(self, timeout: float = 30):
        from distributed import Client
        client = Client(self.address, timeout=timeout)
        self._clients.append(client)
        return client

    def worker_address(self, index: int) -> str:
        return f"tcp://127.0.0.1:{self.ports[index]}"

    def kill_worker(self, index: int) -> None:
        """SIGKILL worker ``index`` and everything in its process group (nanny and worker)."""
        _signal_group(self.workers[index], signal.SIGKILL)
        self.workers[index].wait(10)


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)        # its own session: the group id is its pid
    except ProcessLookupError:
        pass


def _stop(process: subprocess.Popen, timeout: float = 5.0) -> None:
    """SIGTERM to the process group, SIGKILL after ``timeout``; then SIGKILL whatever is
    left in the group (a nanny's worker process may outlive its nanny by a moment)."""
    if process.poll() is None:
        _signal_group(process, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    _signal_group(process, signal.SIGKILL)
    process.wait()


def _start(args: list, cwd: Path, env: dict, log: Path) -> subprocess.Popen:
    with open(log, "wb") as handle:
        return subprocess.Popen(args, cwd=cwd, env=env, stdout=handle, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, preexec_fn=detach_and_die_with_parent)


@contextlib.contextmanager
def dask_cluster(root, workers: int = 2, *, nthreads: int = 1, env: dict | None = None,
                 nanny: bool = True, timeout: float = 90.0):
    """Start a scheduler and ``workers`` workers (``nthreads`` threads each) under ``root``
    (a folder per process); yield a :class:`Cluster`; stop them all."""
    root = Path(root)
    environ = dict(os.environ)
    environ["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [
        p for p in environ.get("PYTHONPATH", "").split(os.pathsep) if p])
    environ.update(env or {})
    ports = free_ports(2 + 2 * workers, grpc=False)
    address = f"tcp://127.0.0.1:{ports[0]}"
    dask = [sys.executable, "-m", "dask"]
    (root / "scheduler").mkdir(parents=True, exist_ok=True)
    scheduler = _start(dask + ["scheduler", "--host", "127.0.0.1", "--port", str(ports[0]),
                               "--dashboard-address", f"127.0.0.1:{ports[1]}"],
                       root / "scheduler", environ, root / "scheduler.log")
    cluster = Cluster(address, scheduler)
    try:
        deadline = time.monotonic() + timeout
        while not _port_open(ports[0]):
            if scheduler.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("dask scheduler did not start:\n"
                                   + (root / "scheduler.log").read_text()[-3000:])
            time.sleep(0.2)
        for k in range(workers):
            cwd = root / f"worker{k}"
            cwd.mkdir(parents=True, exist_ok=True)
            worker_port, nanny_port = ports[2 + 2 * k], ports[3 + 2 * k]
            args = dask + ["worker", address, "--host", "127.0.0.1", "--name", f"w{k}",
                           "--nthreads", str(nthreads), "--nworkers", "1", "--no-dashboard",
                           "--worker-port", str(worker_port), "--local-directory", str(cwd),
                           "--death-timeout", "60", "--memory-limit", "0"]
            args += ["--nanny-port", str(nanny_port)] if nanny else ["--no-nanny"]
            cluster.workers.append(_start(args, cwd, environ, root / f"worker{k}.log"))
            cluster.cwds.append(cwd)
            cluster.ports.append(worker_port)
        if workers:
            try:
                cluster.client().wait_for_workers(
                    workers, timeout=max(1.0, deadline - time.monotonic()))
            except Exception:
                logs = "\n".join(f"--- {log.name}\n{log.read_text()[-1500:]}"
                                  for log in sorted(root.glob("*.log")))
                raise RuntimeError(f"the dask workers did not all start:\n{logs}") from None
        yield cluster
    finally:
        for client in cluster._clients:
            with contextlib.suppress(Exception):
                client.close(timeout=5)
        for process in cluster.workers + [scheduler]:
            _stop(process)
