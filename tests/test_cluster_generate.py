"""`degrade generate` on a real cluster (tests/cluster.py: a `dask scheduler` and two
`dask worker` processes, each in its own working directory) into a store on a shared folder:
the store is bit-identical to a local threads run of the same job, also when a worker is
SIGKILLed mid-run (dask runs its shard again elsewhere) and when the client is SIGKILLed and
the command is run again (it resumes)."""
from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

RECIPE, NUM, SHARD = "realesrgan_x4plus", 96, 4        # 24 shards of ~0.2-0.5 s here


def _generate(out, scheduler, sources=None, **kw):
    import degrade
    return degrade.generate(RECIPE, sources, str(out), num=NUM, shard_size=SHARD,
                            scheduler=scheduler, progress=False, **kw)


@contextlib.contextmanager
def _quiet():
    """Warnings of skipped inputs (files below the recipe's crop) are not the point here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _content(path):
    import zarr
    group = zarr.open_group(str(path), mode="r")
    return (group["hq"][:], group["lq"][:], [str(t) for t in group["records"][:]],
            dict(group.attrs))


def _assert_same_store(path, reference):
    hq, lq, records, attrs = _content(path)
    ref_hq, ref_lq, ref_records, _ = reference
    assert attrs["complete"] is True
    np.testing.assert_array_equal(hq, ref_hq)
    np.testing.assert_array_equal(lq, ref_lq)
    assert records == ref_records


def _shards_written(out: Path) -> int:
    folder = out / "hq"
    return sum(1 for p in folder.iterdir() if p.name.startswith("c.")
               and not p.name.endswith(".partial")) if folder.is_dir() else 0


def _wait_for_shards(out: Path, count: int, timeout: float = 180.0, alive=lambda: True):
    deadline = time.monotonic() + timeout
    while _shards_written(out) < count:
        assert alive(), "the run ended before it could be interrupted"
        assert time.monotonic() < deadline, f"no {count} shards in {timeout:g} s"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference") / "local.zarr"
    with _quiet():
        _generate(out, "threads", workers=2)
    return _content(out)


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory):
    from cluster import dask_cluster

    with dask_cluster(tmp_path_factory.mktemp("cluster"), workers=2) as c:
        yield c


def test_cluster_store_is_identical(two_workers, reference, tmp_path):
    out = tmp_path / "cluster.zarr"
    with _quiet():
        summary = _generate(out, two_workers.address)
    assert summary["scheduler"] == two_workers.address and summary["shards_written"] == NUM // SHARD
    _assert_same_store(out, reference)


def test_client_killed_then_rerun_resumes(two_workers, reference, tmp_path):
    out = tmp_path / "resumed.zarr"
    command = [sys.executable, "-m", "degrade.cli", "generate", RECIPE, "--out", str(out),
               "--num", str(NUM), "--shard-size", str(SHARD), "--scheduler",
               two_workers.address, "--quiet"]
    client = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_for_shards(out, 2, alive=lambda: client.poll() is None)
    finally:
        client.send_signal(signal.SIGKILL)
        client.communicate()
    assert _content(out)[3]["complete"] is False
    assert _shards_written(out) < NUM // SHARD
    rerun = subprocess.run(command, capture_output=True, text=True,
                           timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    _assert_same_store(out, reference)


def test_worker_killed_mid_run(tmp_path, reference):
    from cluster import dask_cluster

    out = tmp_path / "killed.zarr"
    with dask_cluster(tmp_path / "cluster", workers=2) as c:
        result: dict = {}

        def run():
            try:
                import warnings
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    result["summary"] = _generate(out, c.address)
            except BaseException as exc:          # reported by the main thread below
                result["error"] = exc
        thread = threading.Thread(target=run)
        thread.start()
        _wait_for_shards(out, 1, alive=thread.is_alive)
        c.kill_worker(0)
        thread.join(300)
        assert not thread.is_alive()
        assert "error" not in result, result.get("error")
    _assert_same_store(out, reference)
    assert result["summary"]["shards_written"] == NUM // SHARD
    assert not [p for cwd in c.cwds for p in Path(cwd).glob("*.zarr")]   # none in theirs


# -- the store and the inputs on S3 (tests/s3server.py), workers in their own folders -------
def _s3_shards(s3_server, bucket: str, prefix: str) -> int:
    listing = s3_server.client().list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/hq/c.")
    return len(listing.get("Contents", []))


@pytest.fixture
def samples_on_s3(s3_samples):
    return s3_samples


def _assert_same_samples(url, options, reference):
    """hq, lq and records equal the local run's (records name files relative to the root)."""
    import zarr
    from degrade import storage

    group = zarr.open_group(storage.zarr_store(storage.resolve(url, options), read_only=True),
                            mode="r")
    assert group.attrs["complete"] is True
    np.testing.assert_array_equal(group["hq"][:], reference[0])
    np.testing.assert_array_equal(group["lq"][:], reference[1])
    assert [str(t) for t in group["records"][:]] == reference[2]


def test_cluster_s3_store_and_inputs_identical(two_workers, reference, s3_server, s3_bucket,
                                               samples_on_s3):
    options = s3_server.storage_options()
    url = f"s3://{s3_bucket}/out/c.zarr"
    with _quiet():
        summary = _generate(url, two_workers.address, storage_options=options,
                            sources=[samples_on_s3])
    assert summary["shards_written"] == NUM // SHARD
    _assert_same_samples(url, options, reference)
    assert not [p for cwd in two_workers.cwds for p in Path(cwd).glob("*.zarr")]


def test_cluster_s3_client_killed_then_rerun_resumes(two_workers, reference, s3_server,
                                                     s3_bucket, samples_on_s3):
    # the workers started without S3 credentials: the options travel with the run
    options = s3_server.storage_options()
    url = f"s3://{s3_bucket}/out/k.zarr"
    command = [sys.executable, "-m", "degrade.cli", "generate", RECIPE, "--out", url,
               "--input", samples_on_s3, "--num", str(NUM), "--shard-size", str(SHARD),
               "--scheduler", two_workers.address, "--quiet"]
    for key in ("endpoint_url", "key", "secret"):
        command += ["--storage-option", f"{key}={options[key]}"]
    command += ["--storage-option",
                f"client_kwargs.region_name={options['client_kwargs']['region_name']}"]
    client = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 180
        while _s3_shards(s3_server, s3_bucket, "out/k.zarr") < 2:
            assert client.poll() is None, "the run ended before it could be interrupted"
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        client.send_signal(signal.SIGKILL)
        client.communicate()
    assert _s3_shards(s3_server, s3_bucket, "out/k.zarr") < NUM // SHARD
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    _assert_same_samples(url, s3_server.storage_options(), reference)


def test_relative_out_with_a_cluster_is_made_absolute(two_workers, tmp_path):
    command = [sys.executable, "-m", "degrade.cli", "generate", "simple_x2", "--out",
               "rel.zarr", "--num", "8", "--scheduler", two_workers.address, "--quiet"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    import zarr
    assert zarr.open_group(str(tmp_path / "rel.zarr"), mode="r").attrs["complete"] is True
    assert not [p for cwd in two_workers.cwds for p in Path(cwd).glob("rel.zarr")]


def test_memory_store_on_a_cluster_is_refused(two_workers):
    import degrade
    from degrade._errors import ParameterError

    with pytest.raises(ParameterError, match="memory://"):
        degrade.generate("simple_x2", None, "memory://x.zarr", num=4,
                         scheduler=two_workers.address, progress=False)


def test_cluster_s3_worker_killed_mid_run(tmp_path, reference, s3_server, s3_bucket,
                                          samples_on_s3):
    """A worker SIGKILLed while it writes to the object store: dask runs its shard again on
    the other worker and the store still equals the local run."""
    from cluster import dask_cluster

    options = s3_server.storage_options()
    url = f"s3://{s3_bucket}/out/w.zarr"
    with dask_cluster(tmp_path / "cluster", workers=2) as c:
        result: dict = {}

        def run():
            try:
                with _quiet():
                    result["summary"] = _generate(url, c.address, storage_options=options,
                                                  sources=[samples_on_s3])
            except BaseException as exc:          # reported by the main thread below
                result["error"] = exc
        thread = threading.Thread(target=run)
        thread.start()
        deadline = time.monotonic() + 180
        while _s3_shards(s3_server, s3_bucket, "out/w.zarr") < 1:
            assert thread.is_alive(), result.get("error")
            assert time.monotonic() < deadline
            time.sleep(0.05)
        c.kill_worker(0)
        thread.join(300)
        assert not thread.is_alive()
        assert "error" not in result, result.get("error")
    assert result["summary"]["shards_written"] == NUM // SHARD
    _assert_same_samples(url, options, reference)
    assert not [p for cwd in c.cwds for p in Path(cwd).glob("*.zarr")]   # none in theirs
