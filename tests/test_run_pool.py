"""Worker processes forked from the warm fork server (degrade/run/pool.py)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from degrade.run.pool import SINGLE_THREADED, fork_server_available, process_pool

pytestmark = pytest.mark.skipif(not fork_server_available(),
                                reason="no forkserver start method on this platform")


def _worker_state() -> dict:
    """What a worker holds before it has run any degrade code."""
    tasks = f"/proc/{os.getpid()}/task"
    return {"pid": os.getpid(),
            "modules": {name: name in sys.modules for name in
                        ("degrade.run.tasks", "degrade.ops", "cv2", "numba",
                         "numba.cpython.mathimpl")},      # the last: numba's registries
            "env": {name: os.environ.get(name) for name in SINGLE_THREADED},
            "threads": len(os.listdir(tasks)) if os.path.isdir(tasks) else None}


def test_workers_start_warm_and_single_threaded():
    parent_env = {name: os.environ.get(name) for name in SINGLE_THREADED}
    pool = process_pool(2)
    try:
        states = [future.result(timeout=120) for future in
                  [pool.submit(_worker_state) for _ in range(4)]]
    finally:
        pool.shutdown()
    assert all(state["pid"] != os.getpid() for state in states)
    for state in states:
        # imported and warmed once by the server, inherited by the fork
        assert all(state["modules"].values()), state["modules"]
        assert state["env"] == SINGLE_THREADED
        # a fresh fork of a single-threaded server: the executor's own thread at most
        assert state["threads"] in (None, 1, 2), state
    # the calling process keeps its own settings
    assert {name: os.environ.get(name) for name in SINGLE_THREADED} == parent_env


def test_the_server_is_set_up_through_public_api_only():
    """No private multiprocessing attributes, no environment edits in the calling process:
    the preloaded module sets the server's own environment (read as source, not run here)."""
    import ast
    import degrade.run.pool as pool
    source = Path(pool.__file__).read_text()
    tree = ast.parse(source)
    private = [node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
               and node.attr.startswith("_") and not node.attr.startswith("__")]
    assert private == [] and "os.environ" not in source
    server = Path(pool.__file__).parents[1] / "_fork_server.py"
    assert pool.PRELOAD == ("degrade._fork_server",) and server.is_file()
    assert "degrade._fork_server" not in sys.modules      # never imported by the engine


def test_macos_gets_spawned_workers(monkeypatch):
    """Forking a process that loaded OpenCV and numba is unsafe on macOS: no fork server."""
    monkeypatch.setattr(sys, "platform", "darwin")
    assert not fork_server_available()
    assert process_pool(2) is None


def test_the_pool_is_used_by_the_processes_scheduler(tmp_path, monkeypatch):
    """generate(scheduler="processes") runs its shards in processes of the forked pool."""
    import degrade
    from degrade.run import dispatch
    made = []
    real_pool = dispatch.process_pool

    def counting_pool(workers):
        pool = real_pool(workers)
        made.append(pool)
        return pool
    monkeypatch.setattr(dispatch, "process_pool", counting_pool)
    summary = degrade.generate(degrade.load_recipe(str(Path(__file__).parents[1] / "recipes" / "simple_x2.yaml")), None,
                               tmp_path / "p.zarr", num=8, workers=2, scheduler="processes",
                               progress=False)
    assert len(made) == 1 and made[0] is not None
    assert summary["scheduler"] == "processes" and summary["samples_written"] == 8


def test_a_fork_server_that_cannot_start_falls_back_to_spawned_workers(tmp_path, monkeypatch):
    import degrade
    from multiprocessing import forkserver
    from degrade.run.pool import process_pool

    def refuse():
        raise OSError("no UNIX sockets here")
    monkeypatch.setattr(forkserver, "ensure_running", refuse)
    assert process_pool(2) is None
    summary = degrade.generate(degrade.load_recipe(str(Path(__file__).parents[1] / "recipes" /
                                                       "simple_x2.yaml")),
                               None, tmp_path / "s.zarr", num=4, workers=2,
                               scheduler="processes", progress=False)
    assert summary["scheduler"] == "processes" and summary["samples_written"] == 4
