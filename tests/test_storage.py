"""degrade.storage: store locations (paths, URLs, zarr stores), whole-object I/O and the write
probe, on a local folder, memory:// and a real S3 server (SeaweedFS, tests/s3server.py)."""
from __future__ import annotations

import os
import uuid

import numpy as np
import pytest

from degrade import storage
from degrade._errors import InputError, ParameterError


# --------------------------------------------------------------------------- options, URLs
def test_parse_storage_options_values_and_nesting():
    got = storage.parse_storage_options([
        "endpoint_url=http://127.0.0.1:9000", "anon=false", "config_kwargs.connect_timeout=5",
        "config_kwargs.retries={\"max_attempts\": 2}", "profile=lab", "token=a=b"])
    assert got == {"endpoint_url": "http://127.0.0.1:9000", "anon": False, "profile": "lab",
                   "config_kwargs": {"connect_timeout": 5, "retries": {"max_attempts": 2}},
                   "token": "a=b"}
    assert storage.parse_storage_options(None) == {}


@pytest.mark.parametrize("item", ["novalue", "=x", "a..b=1"])
def test_parse_storage_options_rejects_malformed(item):
    with pytest.raises(ParameterError, match="KEY=VALUE"):
        storage.parse_storage_options([item])


def test_parse_storage_options_value_and_group_clash():
    with pytest.raises(ParameterError, match="also used as a group"):
        storage.parse_storage_options(["a=1", "a.b=2"])


def test_local_paths_become_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    loc = storage.resolve("sub/train.zarr")
    assert loc.is_local and loc.url == str(tmp_path / "sub" / "train.zarr")
    assert storage.resolve(f"file://{tmp_path}/a.zarr").url == str(tmp_path / "a.zarr")
    assert storage.resolve(tmp_path / "b.zarr").url == str(tmp_path / "b.zarr")
    with pytest.raises(ParameterError, match="storage options apply to URLs"):
        storage.resolve("x.zarr", {"anon": True})


def test_urls_are_normalised():
    loc = storage.resolve("s3://bucket/photos/x.zarr/")
    assert (loc.url, loc.scheme, loc.path, loc.is_local) == (
        "s3://bucket/photos/x.zarr", "s3", "bucket/photos/x.zarr", False)
    assert loc.options["config_kwargs"]["connect_timeout"] == 10   # short defaults
    given = storage.resolve("s3://b/x", {"config_kwargs": {"connect_timeout": 1}})
    assert given.options["config_kwargs"]["connect_timeout"] == 1
    assert given.options["config_kwargs"]["retries"]["max_attempts"] == 3
    assert storage.resolve("memory://m/x.zarr").url == "memory://m/x.zarr"


def test_unknown_scheme_and_missing_package():
    with pytest.raises(InputError, match=r"unknown URL scheme nosuch://"):
        storage.resolve("nosuch://b/x.zarr")
    with pytest.raises(InputError, match="no bucket"):
        storage.resolve("s3:///")
    import fsspec
    missing = [s for s, pkg in (("gs", "gcsfs"), ("az", "adlfs"))
               if not _importable(pkg)]
    if not missing:
        pytest.skip("gcsfs and adlfs are both installed")
    scheme = missing[0]
    with pytest.raises(InputError, match=rf"--out {scheme}://b/x.zarr: {scheme}:// needs the "
                                         "package"):
        storage.resolve(f"{scheme}://b/x.zarr")
    assert fsspec  # the registry knows the scheme; only the package is missing


def _importable(name: str) -> bool:
    import importlib.util
    return importlib.util.find_spec(name) is not None


def test_zarr_store_objects(tmp_path, s3_server, s3_bucket):
    from zarr.storage import FsspecStore, LocalStore

    local = storage.resolve(LocalStore(tmp_path / "l.zarr"))
    assert local.is_local and local.url == str(tmp_path / "l.zarr") and local.store is not None
    fsspec_store = FsspecStore.from_url(f"s3://{s3_bucket}/f.zarr/",
                                        storage_options=s3_server.storage_options())
    loc = storage.resolve(fsspec_store)
    assert loc.url == f"s3://{s3_bucket}/f.zarr"
    assert loc.options["endpoint_url"] == s3_server.endpoint and "asynchronous" not in loc.options
    storage.check_writable(loc)                       # the store's own options reach the server
    assert storage.zarr_store(loc) is fsspec_store
    with pytest.raises(ParameterError, match="MemoryStore cannot hold a degrade store"):
        from zarr.storage import MemoryStore
        storage.resolve(MemoryStore())


# --------------------------------------------------------------------------- object I/O
@pytest.fixture(params=["local", "memory", "s3"])
def location(request, tmp_path):
    if request.param == "local":
        yield storage.resolve(tmp_path / "store.zarr")
    elif request.param == "memory":
        loc = storage.resolve(f"memory://t-{uuid.uuid4().hex}/store.zarr")
        yield loc
        for key in storage.list_keys(loc):
            storage.delete_object(loc, key)
    else:
        server = request.getfixturevalue("s3_server")
        bucket = request.getfixturevalue("s3_bucket")
        yield storage.resolve(f"s3://{bucket}/data/store.zarr", server.storage_options())


def test_objects_round_trip(location):
    assert storage.list_keys(location) == []
    data = bytes(range(256)) * 4
    storage.put_object(location, "hq/c.0.0.0.0", [data[:100], memoryview(data[100:])])
    storage.put_object(location, "records/c.0", b"r")
    storage.put_object(location, "zarr.json", b"{}")
    assert storage.get_object(location, "hq/c.0.0.0.0") == data
    assert storage.read_range(location, "hq/c.0.0.0.0", 10, 5) == data[10:15]
    assert storage.read_range(location, "hq/c.0.0.0.0", -20) == data[-20:]
    assert storage.read_range(location, "hq/c.0.0.0.0", 1000) == data[1000:]
    assert storage.list_keys(location) == ["hq/c.0.0.0.0", "records/c.0", "zarr.json"]
    assert storage.list_keys(location, "hq") == ["hq/c.0.0.0.0"]
    assert storage.list_keys(location, "lq") == []
    storage.delete_object(location, "records/c.0")
    storage.delete_object(location, "records/c.0")           # absent: fine
    assert storage.list_keys(location) == ["hq/c.0.0.0.0", "zarr.json"]
    with pytest.raises(FileNotFoundError):
        storage.get_object(location, "records/c.0")


def test_check_writable_leaves_nothing(location):
    storage.check_writable(location)
    assert storage.list_keys(location) == []
    if location.is_local:
        assert not os.path.exists(location.url)         # probed in the parent, not created
        assert os.listdir(os.path.dirname(location.url)) == []


def test_shard_object_is_read_by_zarr(location):
    """A shard written as one object (the engine's encoder) is what zarr reads back."""
    import zarr
    from degrade.run.store import FLAT_KEYS, encode_shard

    group = zarr.open_group(storage.zarr_store(location), mode="w", zarr_format=3)
    arr = group.create_array("hq", shape=(6, 4, 4, 3), dtype="uint8", chunks=(1, 4, 4, 3),
                             shards=(4, 4, 4, 3), fill_value=0, chunk_key_encoding=FLAT_KEYS,
                             compressors=None, config={"write_empty_chunks": True})
    data = np.random.default_rng(0).integers(0, 256, (6, 4, 4, 3), dtype=np.uint8)
    storage.put_object(location, "hq/c.0.0.0.0", encode_shard(data[:4], 4, "none", checksums=False))
    storage.put_object(location, "hq/c.1.0.0.0", encode_shard(data[4:], 4, "none", checksums=False))
    assert storage.list_keys(location, "hq") == ["hq/c.0.0.0.0", "hq/c.1.0.0.0", "hq/zarr.json"]
    reread = zarr.open_array(storage.zarr_store(location, read_only=True), path="hq", mode="r")
    np.testing.assert_array_equal(reread[:], data)
    assert arr.shape == reread.shape


# --------------------------------------------------------------------------- refusals
def _probe_error(url, options=None) -> str:
    with pytest.raises(InputError) as info:
        storage.check_writable(storage.resolve(url, options))
    message = str(info.value)
    assert "\n" not in message
    return message


def test_refusals_on_s3(s3_server, s3_bucket):
    options = s3_server.storage_options()
    message = _probe_error("s3://no-such-bucket-x/x.zarr", options)
    assert message.startswith("--out s3://no-such-bucket-x/x.zarr: cannot write there: the "
                              "bucket or container does not exist")
    wrong = dict(options, secret="not-the-secret")
    assert "access denied" in _probe_error(f"s3://{s3_bucket}/x.zarr", wrong)
    unknown = dict(options, key="nobody")
    assert "access denied" in _probe_error(f"s3://{s3_bucket}/x.zarr", unknown)
    from s3server import free_ports
    dead = dict(options, endpoint_url=f"http://127.0.0.1:{free_ports(1, grpc=False)[0]}")
    assert "cannot reach the endpoint" in _probe_error(f"s3://{s3_bucket}/x.zarr", dead)
    assert s3_server.client().list_objects_v2(Bucket=s3_bucket).get("KeyCount", 0) == 0


def test_credentials_from_the_environment(s3_env, s3_bucket):
    loc = storage.resolve(f"s3://{s3_bucket}/env.zarr")       # no options: environment only
    storage.check_writable(loc)
    storage.put_object(loc, "k", b"v")
    assert storage.list_keys(loc) == ["k"]


def test_refusals_local(tmp_path):
    (tmp_path / "file").write_text("x")
    message = _probe_error(str(tmp_path / "file" / "x.zarr"))
    assert "is a file, not a folder" in message
    if os.geteuid() != 0:                   # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        assert "cannot write in" in _probe_error(str(ro / "x.zarr"))


# --------------------------------------------------------------------------- ranged reads
def test_list_objects_sizes(location):
    storage.put_object(location, "a/x", b"12345")
    storage.put_object(location, "b", b"")
    assert storage.list_objects(location) == {"a/x": 5, "b": 0}


_INHERITED = {}


def _reader_reads(reader, key):
    """What a (forked or spawned) process reads through an inherited or pickled reader."""
    reader = _INHERITED.get("reader", reader)       # forked: the parent's very object
    out = np.zeros(4, np.uint8)
    n = reader.read_into(key, 2, out)
    return reader.read(key, -3, 3), n, out.tobytes()


def test_range_reader(location):
    data = bytes(range(100))
    storage.put_object(location, "s/c.0", data)
    reader = storage.RangeReader(location, max_open=1)
    assert reader.read("s/c.0", 10, 5) == data[10:15]
    assert reader.read("s/c.0", -4, 4) == data[-4:]
    assert reader.read("s/c.0", 98, 10) == data[98:]
    out = np.zeros(8, np.uint16)
    assert reader.read_into("s/c.0", 4, out) == 16
    assert out.tobytes() == data[4:20]
    storage.put_object(location, "s/c.1", b"abc")
    assert reader.read("s/c.1", 0, 3) == b"abc"        # evicts c.0's file (max_open=1)
    assert reader.read("s/c.1", -10, 10) == b"abc"     # a tail longer than the object
    got = reader.read_many([("s/c.0", 0, 2), ("s/none", 0, 2), ("s/c.1", -2, 2)])
    assert got[0] == data[:2] and isinstance(got[1], FileNotFoundError) and got[2] == b"bc"
    with pytest.raises(FileNotFoundError):
        reader.read("s/none", 0, 1)
    reader.close()


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_range_reader_in_child_processes(location, method):
    """An inherited (fork) or pickled (spawn) reader works in the child: DataLoader workers."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    if location.scheme == "memory":
        pytest.skip("memory:// is one process")
    storage.put_object(location, "k", bytes(range(50)))
    reader = storage.RangeReader(location)
    assert reader.read("k", 0, 1) == b"\0"               # used here first
    if method == "fork":
        _INHERITED["reader"] = reader
    try:
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context(method)) as pool:
            got = pool.submit(_reader_reads, None if method == "fork" else reader,
                              "k").result(timeout=120)
    finally:
        _INHERITED.clear()
    assert got == (bytes([47, 48, 49]), 4, bytes([2, 3, 4, 5]))
