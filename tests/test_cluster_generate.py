"""`degrade generate` on a real cluster (tests/cluster.py: a `dask scheduler` and two
`dask worker` processes, each in its own working directory) into a store on a shared folder:
the store is bit-identical to a local threads run of the same job, also when a worker is
SIGKILLed mid-run (dask runs its shard again elsewhere) and when the client is SIGKILLed and
the command is run again (it resumes)."""
from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

RECIPE, NUM, SHARD = "realesrgan_x4plus", 96, 4        # 24 shards of ~0.2-0.5 s here


def _generate(out, scheduler, **kw):
    import degrade
    return degrade.generate(RECIPE, None, str(out), num=NUM, shard_size=SHARD,
                            scheduler=scheduler, progress=False, **kw)


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
    with pytest.warns(UserWarning, match="skipping"):      # one sample is below the crop
        _generate(out, "threads", workers=2)
    return _content(out)


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory):
    from cluster import dask_cluster

    with dask_cluster(tmp_path_factory.mktemp("cluster"), workers=2) as c:
        yield c


def test_cluster_store_is_identical(two_workers, reference, tmp_path):
    out = tmp_path / "cluster.zarr"
    with pytest.warns(UserWarning, match="skipping"):
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
