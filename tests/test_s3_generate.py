"""`degrade generate` into a store on a real S3 server (SeaweedFS, tests/s3server.py) and from
inputs on it: the store reads back bit-identical (hq, lq, records) to a local run of the
same job; a run that lost a shard is not marked complete and a rerun repairs it; bad
endpoints, credentials, buckets and schemes are one `error:` line before any sample work."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from degrade import storage
from degrade.sources.samples import sample_paths

RECIPE, NUM, SHARD = "simple_x2", 12, 4


def _content(where, options=None):
    import zarr
    location = storage.resolve(where, options)
    group = zarr.open_group(storage.zarr_store(location, read_only=True), mode="r")
    return (group["hq"][:], group["lq"][:], [str(t) for t in group["records"][:]],
            dict(group.attrs))


def _assert_same(got, want):
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    assert got[2] == want[2]
    assert got[3]["complete"] is True


def _generate(out, inputs=None, **kw):
    import degrade
    return degrade.generate(RECIPE, inputs, out, num=NUM, shard_size=SHARD, progress=False, **kw)


@pytest.fixture(scope="module")
def local_reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "local.zarr"
    _generate(out, workers=2)
    return _content(out)


@pytest.fixture
def photos_on_s3(s3_samples):
    return s3_samples


def test_store_on_s3_is_identical_and_checked(s3_server, s3_bucket, local_reference):
    options = s3_server.storage_options()
    url = f"s3://{s3_bucket}/run/a.zarr"
    summary = _generate(url, storage_options=options, workers=2)
    assert summary["path"] == url and summary["shards_written"] == NUM // SHARD
    _assert_same(_content(url, options), local_reference)
    location = storage.resolve(url, options)
    # a lost shard: the rerun finds it missing, makes it again, the store is whole again
    storage.delete_object(location, "lq/c.1.0.0.0")
    again = _generate(url, storage_options=options, workers=2)
    assert again["shards_written"] == 1 and again["shards_reused"] == NUM // SHARD - 1
    _assert_same(_content(url, options), local_reference)


def test_inputs_on_s3_give_the_local_store(s3_server, photos_on_s3, tmp_path):
    options = s3_server.storage_options()
    local = _generate(tmp_path / "local.zarr", [str(sample_paths()[0].parent)], workers=1)
    remote = _generate(tmp_path / "remote.zarr", [photos_on_s3], storage_options=options,
                       workers=1)
    a, b = _content(tmp_path / "local.zarr"), _content(tmp_path / "remote.zarr")
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert [r.replace(str(sample_paths()[0].parent), "") for r in a[2]] == \
        [r.replace(photos_on_s3, "") for r in b[2]]
    assert local["num"] == remote["num"]
    # a .txt list of URLs is a source too
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"{photos_on_s3}/{p.name}\n" for p in sample_paths()))
    _generate(tmp_path / "txt.zarr", [str(listing)], storage_options=options, workers=1)
    np.testing.assert_array_equal(_content(tmp_path / "txt.zarr")[1], a[1])


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "degrade.cli", "generate", RECIPE,
                           "--num", "4", "--quiet", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def _one_error_line(result) -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_cli_storage_options_and_bad_stores(s3_server, s3_bucket, tmp_path):
    import os
    opts = s3_server.storage_options()
    base = ["--storage-option", f"endpoint_url={opts['endpoint_url']}",
            "--storage-option", f"key={opts['key']}",
            "--storage-option", f"client_kwargs.region_name={opts['client_kwargs']['region_name']}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    good = _cli("--out", f"s3://{s3_bucket}/cli.zarr", *base,
                "--storage-option", f"secret={opts['secret']}", env=env)
    assert good.returncode == 0, good.stderr
    assert _content(f"s3://{s3_bucket}/cli.zarr", opts)[3]["complete"] is True

    wrong = _one_error_line(_cli("--out", f"s3://{s3_bucket}/w.zarr", *base,
                                 "--storage-option", "secret=wrong", env=env))
    assert "access denied" in wrong or "credentials" in wrong or "Signature" in wrong
    missing = _one_error_line(_cli("--out", "s3://no-such-bucket-x/w.zarr", *base,
                                   "--storage-option", f"secret={opts['secret']}", env=env))
    assert "no-such-bucket-x" in missing
    dead = _one_error_line(_cli("--out", f"s3://{s3_bucket}/d.zarr",
                                "--storage-option", "endpoint_url=http://127.0.0.1:9",
                                "--storage-option", "key=a", "--storage-option", "secret=b",
                                env=env))
    assert "cannot reach the endpoint" in dead
    scheme = _one_error_line(_cli("--out", "nosuchfs://b/x.zarr", env=env))
    assert "nosuchfs://" in scheme
    listing = s3_server.client().list_objects_v2(Bucket=s3_bucket).get("Contents", [])
    assert not [o["Key"] for o in listing if not o["Key"].startswith("cli.zarr/")]


def test_a_local_source_edited_since_an_s3_store_was_made_is_refused_on_resume(
        s3_server, s3_bucket, tmp_path):
    """The source table goes with a store on object storage too: resuming it after a source
    file changed in place is refused, naming the file, as for a store in a folder."""
    import shutil

    from degrade.run.layout import StoreError

    photos = tmp_path / "photos"
    photos.mkdir()
    for path in sample_paths():
        shutil.copy(path, photos / path.name)
    url, options = f"s3://{s3_bucket}/src.zarr", s3_server.storage_options()
    where = storage.resolve(url, options)
    _generate(url, [str(photos)], storage_options=options)
    assert "records/sources.json" in storage.list_keys(where)
    storage.filesystem(where).rm(where.key_path("hq/c.1.0.0.0"))      # a shard to resume
    edited = sorted(photos.iterdir())[0]
    edited.write_bytes(edited.read_bytes() + b"trailing bytes")
    with pytest.raises(StoreError, match=rf"1 source file\(s\) changed since the store was "
                                         rf"made.*\n  {edited.name}: size \d+ -> \d+ bytes"):
        _generate(url, [str(photos)], storage_options=options)
