"""A process that wrote a store to S3 through zarr's FsspecStore, then reads it with DataLoader
workers (fork and spawn) and a multiprocessing pool: the same samples as the local store, no
hang, and none of the parent's HTTP sessions closed in a child (tests/fork_reader.py, run in
its own interpreter with a time limit so that a hang fails instead of blocking the run)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

SCRIPT = Path(__file__).with_name("fork_reader.py")


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_writer_process_reads_its_s3_store_in_workers(s3_server, s3_bucket, tmp_path, context):
    options = s3_server.storage_options()
    try:
        done = subprocess.run([sys.executable, str(SCRIPT), context, f"s3://{s3_bucket}/w.zarr",
                               json.dumps(options), str(tmp_path / "w.zarr")],
                              capture_output=True, text=True, timeout=300,
                              env={**os.environ, "PYTHONWARNINGS": "default"})
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"reading with {context} workers hung (killed after 300 s):\n"
                    f"{(exc.stderr or b'')[-3000:]}")
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("ok")
    # a parent's session closed in a child shows as one of these (the child's stderr is ours)
    for sign in ("attached to a different loop", "Unclosed client session",
                 "Task exception was never retrieved"):
        assert sign not in done.stderr, done.stderr[-3000:]
