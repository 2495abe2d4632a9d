"""The command line: exit codes, one-line errors, --help everywhere, ops --json contract."""
from __future__ import annotations

import json
import subprocess
import sys

import cv2
import pytest

from degrade.cli import build_parser, main

REPO_RECIPE = "recipes/simple_x2.yaml"


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "degrade.cli", *args], capture_output=True,
                          text=True, cwd=cwd)


def test_ops_json_contract(capsys):
    assert main(["ops", "--json"]) == 0
    table = json.loads(capsys.readouterr().out)
    names = [e["name"] for e in table]
    assert {"crop", "flip_rot", "resize", "gaussian_blur", "gaussian_noise", "jpeg"} <= set(names)
    blur = next(e for e in table if e["name"] == "gaussian_blur")
    assert blur["domain_in"] == ["srgb", "linear", "camera", "raw"] and blur["domain_out"] == "same"
    assert blur["params"]["sigma_x"] == {"type": "float", "required": True, "default": None}
    assert blur["params"]["ksize"]["default"] is None and blur["params"]["theta"]["default"] == 0.0


def test_ops_table_lists_every_op(capsys):
    assert main(["ops"]) == 0
    out = capsys.readouterr().out
    assert "gaussian_noise" in out and "sigma_units" in out and out.rstrip().endswith("ops")


def test_validate_ok_and_error_exit_codes(tmp_path, capsys):
    from pathlib import Path
    recipe = Path(__file__).resolve().parents[1] / REPO_RECIPE
    assert main(["validate", str(recipe)]) == 0
    assert "ok:" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("stages: [{op: jpeg, quality: 500}]\n")
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0] == (f"error: {bad}: stages[0].quality: 500: parameter 'quality' of op 'jpeg' "
                      "takes 0 <= quality <= 100")


def test_user_errors_have_no_traceback(tmp_path):
    result = run_cli("validate", str(tmp_path / "missing.yaml"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {tmp_path / 'missing.yaml'}: recipe file not found"


def test_preview_writes_a_grid(tmp_path):
    from pathlib import Path
    recipe = Path(__file__).resolve().parents[1] / REPO_RECIPE
    out = tmp_path / "grid.png"
    assert main(["preview", str(recipe), "-o", str(out), "-n", "3"]) == 0
    grid = cv2.imread(str(out))
    assert grid is not None
    assert grid.shape[1] >= 4 * 200          # HQ + 3 LQ tiles at >= 200 px each


def test_preview_bad_image_is_a_user_error(tmp_path, capsys):
    from pathlib import Path
    recipe = Path(__file__).resolve().parents[1] / REPO_RECIPE
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    assert main(["preview", str(recipe), str(junk), "-o", str(tmp_path / "g.png")]) == 2
    assert "junk.png" in capsys.readouterr().err


def test_help_everywhere():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name in sub.choices:
        with pytest.raises(SystemExit) as info:
            main([name, "--help"])
        assert info.value.code == 0
    assert run_cli("--help").returncode == 0


def test_a_closed_pipe_is_not_an_error(monkeypatch):
    # `degrade ops | head -1`: the reader goes away while degrade still writes
    class ClosedPipe:
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["ops"]) == 0
