"""examples/train_loop.py runs end to end on CPU (store and on-the-fly modes), as in CI."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "train_loop.py"


@pytest.mark.parametrize("mode", [[], ["--on-the-fly", "--num", "16"]], ids=["store", "on_the_fly"])
def test_train_loop_example_runs(tmp_path, mode):
    args = [sys.executable, str(SCRIPT), "--store", str(tmp_path / "train.zarr"), "--epochs", "2",
            *mode]
    out = subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    losses = [float(v) for v in re.findall(r"^epoch \d step \d+ L1 ([\d.]+)$", out.stdout, re.M)]
    steps = 2 * (16 if mode else 32) // 8                       # drop_last batches of 8
    assert len(losses) == steps and all(0 < v < 1 for v in losses), out.stdout
    assert re.search(r"^last batch PSNR: model [\d.]+ dB, bilinear [\d.]+ dB$", out.stdout, re.M)
    assert f"trained {steps} steps on {steps * 8} pairs" in out.stdout
    assert (tmp_path / "train.zarr").exists() != bool(mode)  # on the fly writes no store
