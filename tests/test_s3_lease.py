"""One writer per store on object storage: the conditional requests of the real S3 server
(SeaweedFS, tests/s3server.py), the object lease built on them, and `degrade generate`
refusing a second run into the same s3:// store."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from degrade import storage
from degrade.run.lease import (LEASE_NAME, LeaseHeld, ObjectLease, delete_if, get_versioned,
                                put_if)


@pytest.fixture
def where(s3_server, s3_bucket):
    return storage.resolve(f"s3://{s3_bucket}/run/a.zarr", s3_server.storage_options())


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(done.stdout)


def _plant(location, **changes) -> None:
    """A lease document of another run, written as that run would have."""
    info = ObjectLease(location).document("other-token", "then")
    info.update(changes)
    storage.put_object(location, LEASE_NAME, json.dumps(info).encode())


def test_the_server_honours_conditional_requests(where):
    first = put_if(where, "k", b"1")
    assert first is not None
    assert put_if(where, "k", b"2") is None                   # If-None-Match: *
    assert get_versioned(where, "k")[:2] == (b"1", first)
    assert put_if(where, "k", b"3", etag='"0123"') is None    # If-Match, wrong
    second = put_if(where, "k", b"4", etag=first)
    assert second not in (None, first)
    assert delete_if(where, "k", first) is False
    assert get_versioned(where, "k")[0] == b"4"
    assert delete_if(where, "k", second) is True
    assert get_versioned(where, "k") is None
    # concurrent creates of one key: exactly one wins, and its content is the one stored
    for trial in range(3):
        with ThreadPoolExecutor(8) as pool:
            etags = list(pool.map(lambda i: put_if(where, f"race{trial}", b"%d" % i),
                                  range(8)))
        winners = [i for i, etag in enumerate(etags) if etag is not None]
        assert len(winners) == 1
        assert get_versioned(where, f"race{trial}")[0] == b"%d" % winners[0]


def test_object_lease_is_exclusive_and_released(where):
    lease = ObjectLease(where)
    lease.acquire()
    with pytest.raises(LeaseHeld, match=rf"{where.url}: .*pid {os.getpid()} on "
                                        rf"{socket.gethostname()}"):
        ObjectLease(where).acquire()
    lease.release()
    assert get_versioned(where, LEASE_NAME) is None
    with ObjectLease(where):
        assert get_versioned(where, LEASE_NAME) is not None
    assert get_versioned(where, LEASE_NAME) is None


def test_a_dead_or_silent_holders_lease_is_taken_over(where):
    _plant(where, pid=_dead_pid())              # this host, process gone: at once
    taken = ObjectLease(where, timeout=600)
    taken.acquire()
    assert json.loads(get_versioned(where, LEASE_NAME)[0])["token"] == taken.token
    taken.release()
    # another host's lease: live while renewed, stale once the server says it is older
    # than the timeout (the server's clock: Date minus Last-Modified)
    _plant(where, host="elsewhere", pid=1)
    with pytest.raises(LeaseHeld, match="on elsewhere"):
        ObjectLease(where, timeout=2).acquire()
    time.sleep(4)
    with ObjectLease(where, timeout=2) as lease:
        assert lease.held
    # a holder whose lease was taken over learns it at its next renewal
    holder = ObjectLease(where, timeout=600)
    holder.acquire()
    _plant(where, token="thief")
    with pytest.raises(LeaseHeld, match="taken over"):
        holder.renew()
    holder.release()                             # leaves the thief's lease alone
    assert json.loads(get_versioned(where, LEASE_NAME)[0])["token"] == "thief"


def test_a_lease_is_renewed_while_its_run_lasts(where):
    lease = ObjectLease(where, timeout=2)
    with lease, lease.keep_renewed():
        first = lease.etag
        time.sleep(4)                            # two timeouts: renewed every 0.5 s
        with pytest.raises(LeaseHeld):
            ObjectLease(where, timeout=2).acquire()
        assert lease.etag != first and lease.held and lease.lost is None   # renewed: new PUTs


def _generate(url, options, **kw):
    import degrade
    return degrade.generate("simple_x2", None, url, num=4, shard_size=2, progress=False,
                            workers=1, storage_options=options, **kw)


def test_generate_releases_the_lease_after_success_and_failure(s3_server, where):
    options = s3_server.storage_options()
    _plant(where, pid=_dead_pid())               # a killed run's lease: taken over
    _generate(where.url, options, seed=1)
    assert LEASE_NAME not in storage.list_keys(where)
    with pytest.raises(Exception, match="another job"):
        _generate(where.url, options, seed=2)     # refused after taking the lease
    assert LEASE_NAME not in storage.list_keys(where)
    _generate(where.url, options, seed=2, overwrite=True)   # --overwrite keeps its own lease
    assert LEASE_NAME not in storage.list_keys(where)


def test_an_s3_run_keeps_its_lease_while_it_writes(s3_server, where, monkeypatch):
    """Creating the store in place leaves the run's lease (zarr's mode "w" would delete every
    object under the prefix): renewed all along, the run ends complete, the lease released."""
    import degrade
    from degrade.run import lease as lease_module

    monkeypatch.setattr(lease_module.Lease, "timeout", 1.0)      # renewed every 0.25 s
    summary = degrade.generate("simple_x2", None, where.url, num=1024, shard_size=64, workers=1,
                               storage_options=s3_server.storage_options(), progress=False)
    assert summary["num"] == 1024 and summary["seconds"] > 0.5   # renewals ran meanwhile
    attrs = json.loads(storage.get_object(where, "zarr.json"))["attributes"]
    assert attrs["complete"] is True
    assert LEASE_NAME not in storage.list_keys(where)


def test_overwrite_of_an_s3_store_removes_its_own_keys_only(s3_server, where):
    """--overwrite on an object store deletes the store (zarr.json, its arrays), not other
    objects under its prefix, as it leaves other files in a local store's folder."""
    options = s3_server.storage_options()
    _generate(where.url, options, seed=1)
    storage.put_object(where, "notes.txt", b"mine")
    storage.put_object(where, "extra/keep.bin", b"also mine")
    before = set(storage.list_keys(where))
    _generate(where.url, options, seed=2, overwrite=True)
    after = set(storage.list_keys(where))
    assert storage.get_object(where, "notes.txt") == b"mine"
    assert storage.get_object(where, "extra/keep.bin") == b"also mine"
    assert after == before                       # the same store keys, remade
    attrs = json.loads(storage.get_object(where, "zarr.json"))["attributes"]
    assert attrs["seed"] == 2 and attrs["complete"] is True


def test_cli_refuses_a_second_run_into_the_same_s3_store(s3_env, where):
    with ObjectLease(where):
        run = subprocess.run([sys.executable, "-m", "degrade.cli", "generate", "simple_x2",
                              "--num", "4", "--quiet", "--out", where.url],
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 2, run.stderr
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: {where.url}: another degrade "
                                                       "run writes this store"), run.stderr
        assert f"pid {os.getpid()} on {socket.gethostname()}" in lines[0]
        assert storage.list_keys(where) == [LEASE_NAME]      # nothing else written
    assert storage.list_keys(where) == []


def test_a_run_reuses_the_process_client(s3_server, where):
    """botocore rewrites the retries options it is given; that must not reach degrade's
    defaults or a location's options (fsspec finds its cached client by their value: a
    changed value made a new client, and a new connection pool, for every run)."""
    import copy
    defaults = copy.deepcopy(storage.S3_DEFAULTS)
    client = storage.filesystem(where)
    _generate(where.url, s3_server.storage_options(), seed=1)
    location = storage.resolve(where.url, s3_server.storage_options())
    assert storage.S3_DEFAULTS == defaults
    assert storage.filesystem(location) is client and storage.filesystem(where) is client
