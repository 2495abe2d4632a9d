"""degrade.cluster on a real cluster (tests/cluster.py: a `dask scheduler` and two `dask worker`
processes, each in its own working directory): the access check refuses inputs and stores the
workers cannot see as the client does, accepts shared ones, leaves nothing behind; worker
environment variables are read on the workers."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from degrade import cluster as dc
from degrade import storage
from degrade._errors import InputError, ParameterError


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory):
    from cluster import dask_cluster

    root = tmp_path_factory.mktemp("cluster")
    with dask_cluster(root, workers=2, env={"DEGRADE_TEST_MARK": "on-the-workers"}) as c:
        yield c


@pytest.fixture
def client(two_workers):
    return two_workers.client()


@pytest.fixture
def photos(tmp_path, monkeypatch):
    """``photos/`` with one file in the test's working directory (not in the workers')."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.png").write_bytes(b"12345")
    return tmp_path / "photos"


def test_workers_run_in_their_own_folders(two_workers, client):
    cwds = client.run(os.getcwd)
    assert sorted(cwds.values()) == sorted(str(p) for p in two_workers.cwds)


def test_relative_input_is_refused_naming_worker_and_path(client, photos):
    probe = dc.input_probe("photos", ["photos/a.png"], [5])
    with pytest.raises(InputError) as info:
        dc.check_cluster_access(client, [probe], None)
    message = str(info.value)
    assert message.startswith("worker tcp://127.0.0.1:")
    assert "cannot read input photos: no such file or folder on this worker" in message
    assert "1 other worker(s) of 2 fail too" in message and "\n" not in message
    # made absolute (what the engine does before building tasks): every worker sees it
    dc.check_cluster_access(client, [dc.input_probe(str(photos), [str(photos / "a.png")])],
                            None)


def test_other_files_under_the_same_name_are_refused(client, photos):
    probe = dc.input_probe(str(photos), [str(photos / "a.png")], [6])   # client saw 6 bytes
    with pytest.raises(InputError, match="has 5 bytes on this worker and 6 on the client"):
        dc.check_cluster_access(client, [probe], None)


def test_local_store(client, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # a relative store path as the workers would take it: their own folder, not the client's
    relative = storage.Location("out.zarr")
    with pytest.raises(InputError, match="does not see the client's store out.zarr"):
        dc.check_cluster_access(client, [], relative)
    absolute = storage.resolve("new/out.zarr")
    dc.check_cluster_access(client, [], absolute)
    assert os.listdir(tmp_path) == []                 # nothing created, probes removed


def test_memory_store_is_per_process(client):
    loc = storage.resolve("memory://cluster-test/x.zarr")
    with pytest.raises(InputError, match="does not see the client's store memory://"):
        dc.check_cluster_access(client, [], loc)
    assert storage.list_keys(loc) == []


def test_s3_store_and_inputs(client, s3_server, s3_bucket):
    options = s3_server.storage_options()
    s3_server.client().put_object(Bucket=s3_bucket, Key="photos/a.png", Body=b"123")
    loc = storage.resolve(f"s3://{s3_bucket}/out.zarr", options)
    probe = dc.input_probe(f"s3://{s3_bucket}/photos", [f"s3://{s3_bucket}/photos/a.png"], [3],
                           options)
    dc.check_cluster_access(client, [probe], loc)
    assert storage.list_keys(storage.resolve(f"s3://{s3_bucket}", options)) == ["photos/a.png"]
    missing = dc.input_probe(f"s3://{s3_bucket}/photos", [f"s3://{s3_bucket}/photos/b.png"],
                             [3], options)
    with pytest.raises(InputError, match=r"cannot read input s3://.*/photos/b\.png: no such"):
        dc.check_cluster_access(client, [missing], loc)


def test_workers_environment(client):
    assert set(dc.workers_environ(client, "DEGRADE_TEST_MARK").values()) == {"on-the-workers"}
    assert os.environ.get("DEGRADE_TEST_MARK") is None
    # dask's nannies set a small malloc trim threshold in the worker processes only
    trim = dc.workers_environ(client, "MALLOC_TRIM_THRESHOLD_")
    assert len(trim) == 2 and all(v is not None and v.isdigit() for v in trim.values())
    # the old way ran the client's own os.environ.get: the client's value, not the workers'
    assert set(client.run(os.environ.get, "DEGRADE_TEST_MARK").values()) == {None}


def test_connect_refusals(two_workers):
    from s3server import free_ports

    dead = f"tcp://127.0.0.1:{free_ports(1, grpc=False)[0]}"
    with pytest.raises(ParameterError, match="cannot connect to a dask.distributed scheduler"):
        dc.connect(dead, timeout=2)
    client = dc.connect(two_workers.address)
    try:
        assert len(client.scheduler_info()["workers"]) == 2
    finally:
        client.close()


def test_connect_without_workers(tmp_path):
    from cluster import dask_cluster

    with dask_cluster(tmp_path, workers=0) as empty:
        with pytest.raises(ParameterError, match="the scheduler has no worker"):
            dc.connect(empty.address, worker_timeout=1)


def test_harness_kills_a_worker_and_stops_everything(tmp_path):
    from cluster import dask_cluster

    with dask_cluster(tmp_path, workers=2) as c:
        client = c.client()
        pids = client.run(os.getpid)
        c.kill_worker(0)
        assert c.workers[0].returncode is not None
        deadline = time.monotonic() + 30
        while len(client.scheduler_info()["workers"]) != 1:
            assert time.monotonic() < deadline, "the scheduler kept the worker"
            time.sleep(0.2)
        assert c.worker_address(1) in client.scheduler_info()["workers"]
    deadline = time.monotonic() + 10          # orphans are reaped by init, not by us
    for pid in list(pids.values()) + [p.pid for p in c.workers + [c.scheduler]]:
        while _alive(pid):
            assert time.monotonic() < deadline, f"process {pid} survived the cluster"
            time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_workers_with_other_code_are_refused(tmp_path, client):
    """A worker importing another copy of degrade (one changed line) is refused by name; the
    module's workers, running this checkout, pass."""
    import shutil

    from cluster import dask_cluster

    dc.check_cluster_access(client, [], None)               # same code: no complaint
    copy = tmp_path / "other"
    shutil.copytree(Path(dc.__file__).parent, copy / "degrade",
                    ignore=shutil.ignore_patterns("__pycache__", "*.png", "*.dng"))
    (copy / "degrade" / "storage.py").write_text(
        (copy / "degrade" / "storage.py").read_text() + "\n# another version\n")
    with dask_cluster(tmp_path / "cluster", workers=1, env={"PYTHONPATH": str(copy)}) as c:
        other = c.client()
        assert set(other.run(lambda: __import__("degrade").__file__).values()) == {
            str(copy / "degrade" / "__init__.py")}
        with pytest.raises(InputError, match=r"worker tcp://\S+ runs other degrade code "
                                             r"\(0\.1\.0:[0-9a-f]{16}\) than the client"):
            dc.check_cluster_access(other, [], None)
