"""What a short command does before its first sample: no dask, distributed or torch import,
no fork server for a run that ``auto`` gives threads, a CLI parser without numpy
(benchmarks/startup.py times it; no time is asserted here)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("dask", "distributed", "torch", "degrade._fork_server")

ONE_SAMPLE = """
import os, sys
from degrade.cli import main
code = main(["generate", "simple_x2", "--out", sys.argv[1], "--num", "1", "--quiet"])
children = []
for entry in os.listdir("/proc"):          # processes this one started (a fork server would be one)
    try:
        with open(f"/proc/{entry}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        continue
    if entry.isdigit() and int(fields[1]) == os.getpid():
        children.append(entry)
print(code, len(children), " ".join(m for m in sys.argv[2:] if m in sys.modules))
"""


def run_python(code: str, *args: str) -> str:
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                            timeout=300, env={**os.environ, "DASK_SCHEDULER_ADDRESS": ""})
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_one_sample_generate_imports_no_scheduler_and_starts_no_process(tmp_path):
    out = tmp_path / "one.zarr"
    code, children, heavy = (run_python(ONE_SAMPLE, str(out), *HEAVY).split(" ", 2) + [""])[:3]
    assert (code, children, heavy) == ("0", "0", "")
    import zarr
    assert zarr.open_group(str(out), mode="r")["hq"].shape[0] == 1


def test_one_shard_in_process_matches_the_threaded_run(tmp_path):
    """The one-shard path runs the same shard function: the same bytes as a dask run."""
    from degrade.run import generate
    generate("simple_x2", None, tmp_path / "one.zarr", num=3, shard_size=3, progress=False)
    generate("simple_x2", None, tmp_path / "dask.zarr", num=3, shard_size=1, workers=2,
             progress=False)
    import zarr
    a, b = (zarr.open_group(str(tmp_path / n), mode="r") for n in ("one.zarr", "dask.zarr"))
    for name in ("hq", "lq"):
        assert (a[name][:] == b[name][:]).all()


def test_parser_and_help_import_no_numpy():
    out = run_python("import sys\nfrom degrade.cli import build_parser\nbuild_parser()\n"
                     "print(sorted(m for m in ('numpy', 'cv2', 'numba', 'zarr') if m in sys.modules))")
    assert out == "[]"
