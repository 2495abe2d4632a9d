"""benchmarks/torch_loader.py --quick runs end to end and prints its tables (no time asserts)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytestmark = pytest.mark.slow      # pytest -m "not slow" skips it

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "torch_loader.py"


def test_quick_torch_loader_benchmark(tmp_path):
    out = tmp_path / "bench.json"
    page = tmp_path / "page.md"
    page.write_text("before\n<!-- loader:begin -->\nold\n<!-- loader:end -->\nafter\n")
    result = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--json", str(out),
                             "--write", str(page)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    written = page.read_text()
    assert "old" not in written and written.startswith("before\n") and written.endswith("after\n")
    assert "| on the fly | workers |" in written and "--quick" in written
    rows = re.findall(r"^\| (store|store_zarr|png_cv2|transport_only) \| (float32|uint8) \| (main|1) \| "
                      r"([\d.]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|$", result.stdout, re.M)
    assert len(rows) == 14, result.stdout                 # 7 readers x (main, 1 worker)
    assert re.search(r"^\| mialgo_raw \(RAW\) \| 1 \| [\d.]+ \| [\d.]+ \|$", result.stdout, re.M)
    data = json.loads(out.read_text())
    for row in data["readers"]:
        assert row["pairs_per_s"] > 0
        if row["reader"] == "png_cv2":
            assert row["ratio_vs_png"] == 1.0
    assert {r["recipe"].split()[0] for r in data["on_the_fly"]} == {"realesrgan_x4plus",
                                                                   "mialgo_raw"}
