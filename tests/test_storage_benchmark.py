"""benchmarks/object_store.py runs end to end against the test S3 server and prints its table
(no time assertions)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "object_store.py"


def test_quick_run_prints_every_operation(s3_server, s3_env, tmp_path):
    out = tmp_path / "bench.json"
    result = subprocess.run([sys.executable, "-X", "faulthandler", str(BENCH), "--quick", "--endpoint",
                             s3_server.endpoint, "--json", str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    rows = re.findall(r"^\| (put shard 3.1 MB|get range 48 kB|list 256 keys) \| ([\d.]+) \|",
                      result.stdout, re.MULTILINE)
    assert [name for name, _ in rows] == ["put shard 3.1 MB", "get range 48 kB",
                                          "list 256 keys"]
    assert all(float(ms) > 0 for _, ms in rows)
    data = json.loads(out.read_text())
    assert data["fork"]["s3fs"] == "works"           # the store layer survives fork()
    assert {r["operation"] for r in data["results"]} >= {"get shard 3.1 MB", "put small 1 kB"}


def test_smoke_run_writes_the_reader_table(s3_server, s3_env, tmp_path):
    """``--smoke --write``: the PairDataset rows (S3 and local, batched and single items) land
    between the page's markers."""
    doc = tmp_path / "b.md"
    doc.write_text("# x\n<!-- object_store:begin -->\nold\n<!-- object_store:end -->\ntail\n")
    result = subprocess.run([sys.executable, str(BENCH), "--smoke", "--endpoint",
                             s3_server.endpoint, "--write", str(doc)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    text = doc.read_text()
    assert "old" not in text and text.endswith("<!-- object_store:end -->\ntail\n")
    rows = re.findall(r"^\| (batches of 16, stored order|batches of 16, shuffled|batches of 16, "
                      r"RunBatchSampler|one item at a time, shuffled) \| (\d+) \| (\d+) \| "
                      r"[\d.]+x \|", text, re.MULTILINE)
    assert [r[0] for r in rows] == ["batches of 16, stored order", "batches of 16, shuffled",
                                    "batches of 16, RunBatchSampler",
                                    "one item at a time, shuffled"], text
    assert all(int(s3) > 0 and int(local) > 0 for _, s3, local in rows)
