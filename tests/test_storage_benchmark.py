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
