"""The network stage ``torch_model``, the shipped stand-in ISP and the mialgo_track2 recipe:
what the stand-in computes, tiling, packings, one load per process, the sha256 in records,
generate with process workers, bit-identical replay, OnTheFlyDataset in DataLoader workers,
and one error line for every bad model at ``degrade validate`` time."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import degrade  # noqa: E402
from degrade.cli import main  # noqa: E402
from degrade.ops.network import MODELS_DIR, torch_model  # noqa: E402
from degrade.recipe import load_recipe  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
STANDIN = MODELS_DIR / "standin_isp.pt"
NETS = textwrap.dedent('''\
    """Test networks for tests/test_torch_model.py (module:factory references)."""
    import torch
    import torch.nn.functional as F

    BUILT = []


    class Upsample2(torch.nn.Module):
        def forward(self, x):
            return F.interpolate(x, scale_factor=2, mode="nearest")


    class Scaled(torch.nn.Module):
        """Expects 8-bit values: halves them, and says so if it sees [0, 1] data."""
        def forward(self, x):
            assert float(x.max()) > 2, "got [0, 1] data"
            return x * 0.5


    class Broken(torch.nn.Module):
        def forward(self, x):
            raise RuntimeError("shape mismatch in layer 3")


    def upsample2():
        BUILT.append("upsample2")
        return Upsample2()


    def identity():
        return torch.nn.Identity()


    def scaled():
        return Scaled()


    def one_channel():
        return torch.nn.Conv2d(3, 1, 1)


    def broken():
        return Broken()


    def not_a_module():
        return 42
    ''')


@pytest.fixture(scope="module")
def nets(tmp_path_factory):
    """The module ``degrade_test_nets`` importable (sys.path) for module:factory models."""
    folder = tmp_path_factory.mktemp("nets")
    (folder / "degrade_test_nets.py").write_text(NETS)
    sys.path.insert(0, str(folder))
    try:
        yield folder
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("degrade_test_nets", None)


def reference_isp(v: float) -> np.ndarray:
    """What the stand-in does to a flat mosaic of value ``v`` (demosaicking keeps it flat),
    written out from tools/make_standin_isp.py's constants in float64."""
    sys.path.insert(0, str(REPO / "tools"))
    try:
        from make_standin_isp import CCM, WB_GAINS
    finally:
        sys.path.pop(0)
    rgb = np.clip(v * np.array(WB_GAINS), 0, 1)
    rgb = np.clip(np.array(CCM) @ rgb, 0, 1)
    srgb = np.where(rgb <= 0.0031308, 12.92 * rgb, 1.055 * rgb ** (1 / 2.4) - 0.055)
    return np.clip(srgb * srgb * (3 - 2 * srgb), 0, 1)


def mosaic(h=48, w=64, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).random((h, w)).astype(np.float32)


def test_standin_renders_a_flat_mosaic_as_the_forward_isp_says():
    for v in (0.05, 0.2, 0.45):
        out = torch_model(np.full((10, 12), v, np.float32), "builtin:standin_isp",
                          domain_in="raw", domain_out="srgb")
        assert out.shape == (10, 12, 3) and out.dtype == np.float32
        np.testing.assert_allclose(out, np.broadcast_to(reference_isp(v), out.shape), atol=2e-6)


def test_standin_file_is_small_and_rebuilds_to_the_same_model(tmp_path):
    assert STANDIN.stat().st_size < 32_000
    build = [sys.executable, str(REPO / "tools" / "make_standin_isp.py"), "--out"]
    for k in (1, 2):
        subprocess.run(build + [str(tmp_path / f"b{k}" / "standin_isp.pt")], check=True,
                       capture_output=True, timeout=300)
    first, second = (hashlib.sha256((tmp_path / f"b{k}" / "standin_isp.pt").read_bytes())
                     .hexdigest() for k in (1, 2))
    assert first == second, "two builds of the stand-in differ"
    x = mosaic()
    rebuilt = torch_model(x, str(tmp_path / "b1" / "standin_isp.pt"), domain_in="raw",
                          domain_out="srgb")
    assert np.array_equal(rebuilt, torch_model(x, "builtin:standin_isp", domain_in="raw",
                                               domain_out="srgb"))


def test_tiles_with_overlap_equal_the_whole_image():
    x = mosaic(52, 70)
    whole = torch_model(x, "builtin:standin_isp", domain_in="raw", domain_out="srgb")
    tiled = torch_model(x, "builtin:standin_isp", domain_in="raw", domain_out="srgb",
                        tile=16, overlap=2)
    # the same values up to float rounding (torch's kernels block smaller tensors otherwise)
    assert np.abs(whole - tiled).max() <= 1e-6
    assert np.array_equal(tiled, torch_model(x, "builtin:standin_isp", domain_in="raw",
                                             domain_out="srgb", tile=16, overlap=2))
    # without context, each tile's border is demosaicked from reflected pixels: seams differ
    seams = torch_model(x, "builtin:standin_isp", domain_in="raw", domain_out="srgb", tile=16,
                        overlap=0)
    assert np.abs(whole - seams).max() > 1e-2
    assert np.abs(whole[:15, :15] - seams[:15, :15]).max() <= 1e-6
    with pytest.raises(degrade.ParameterError, match="use even values"):
        torch_model(x, "builtin:standin_isp", domain_in="raw", tile=15)


def test_factory_model_loaded_once_with_tiles_and_scale(nets, rgb):
    import degrade_test_nets
    before = len(degrade_test_nets.BUILT)
    ref = np.repeat(np.repeat(rgb, 2, 0), 2, 1)
    for tile in (0, 16, 20):
        out = torch_model(rgb, "degrade_test_nets:upsample2", tile=tile, overlap=4)
        assert out.shape == (96, 80, 3) and np.array_equal(out, ref)
    assert len(degrade_test_nets.BUILT) - before == 1       # once per process, never per call


def test_packings_and_value_scale(nets, rgb):
    x = mosaic(16, 20)
    for packing in ("mosaic", "packed"):
        for pattern in ("RGGB", "GBRG"):
            out = torch_model(x, "degrade_test_nets:identity", domain_in="raw", domain_out="raw",
                              packing_in=packing, packing_out=packing, pattern=pattern)
            assert np.array_equal(out, x)
    out = torch_model(rgb, "degrade_test_nets:scaled", value_scale=255)
    np.testing.assert_allclose(out, rgb * 0.5, rtol=1e-6)


def test_records_carry_the_model_sha256_and_replay_checks_it(tmp_path, rgb):
    copy = tmp_path / "isp.pt"
    copy.write_bytes(STANDIN.read_bytes())
    text = (f"input: raw\nstages: [{{op: torch_model, model: '{copy}', domain_in: raw, "
            "domain_out: srgb}]\n")
    recipe = load_recipe(text)
    assert recipe.output_domain == "srgb"
    digest = hashlib.sha256(STANDIN.read_bytes()).hexdigest()
    image = mosaic(32, 32)
    sample = recipe.run(image, index=4, meta={"pattern": "RGGB"})
    assert sample.record["steps"][0]["params"]["sha256"] == digest
    again = recipe.replay(image, json.loads(json.dumps(sample.record)))
    assert np.array_equal(sample.lq, again.lq)
    copy.write_bytes(b"not the same model")
    with pytest.raises(degrade.RecipeError, match=f"not the recorded {digest}"):
        recipe.replay(image, sample.record)


def test_mialgo_track2_generate_replay_and_on_the_fly(tmp_path):
    from torch.utils.data import DataLoader

    from degrade.run.inspect import replay_sample
    from degrade.run.store import quantise
    from degrade.torch import OnTheFlyDataset

    out = tmp_path / "track2.zarr"
    result = degrade.generate("mialgo_track2", None, out, num=6, shard_size=2, workers=2,
                              scheduler="processes", progress=False)
    assert result["scheduler"] == "processes" and result["samples_written"] == 6
    import zarr
    group = zarr.open_group(str(out), mode="r")
    lq, hq = group["lq"][:], group["hq"][:]
    assert lq.shape == hq.shape == (6, 128, 128, 3) and lq.dtype == np.uint8
    assert "plugins" not in group.attrs                    # built-in ops only
    records = [json.loads(str(group["records"][i])) for i in range(6)]
    render = records[0]["steps"][-1]
    assert render["op"] == "torch_model"
    assert render["params"]["sha256"] == hashlib.sha256(STANDIN.read_bytes()).hexdigest()
    for i in (0, 5):                                       # replay here, bit for bit
        sample = replay_sample(out, i)
        assert np.array_equal(quantise(sample.lq, "uint8"), lq[i])
        assert np.array_equal(quantise(sample.hq, "uint8"), hq[i])
    assert not np.array_equal(lq[0], lq[1])
    ds = OnTheFlyDataset("mialgo_track2", None, num=6, to_float=False)
    loader = DataLoader(ds, batch_size=2, num_workers=2)
    seen = set()
    for batch in loader:
        for k, index in enumerate(batch["index"].tolist()):
            assert np.array_equal(batch["lq"][k].permute(1, 2, 0).numpy(), lq[index])
            assert np.array_equal(batch["hq"][k].permute(1, 2, 0).numpy(), hq[index])
            seen.add(index)
    assert seen == set(range(6))


def validate_error(tmp_path, capsys, stage: str, input_domain="raw") -> str:
    recipe = tmp_path / "net.yaml"
    recipe.write_text(f"input: {input_domain}\ntarget: {{size: 32}}\nstages:\n  - {stage}\n")
    assert main(["validate", str(recipe), "--samples", "1"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {recipe}: stages[0]"), lines
    return lines[0]


def test_bad_models_are_one_error_line_at_validate(nets, tmp_path, capsys):
    bad = tmp_path / "weights.pt"
    bad.write_bytes(b"\x00" * 64)
    state = tmp_path / "state_dict.pt"
    torch.save({"w": torch.zeros(3)}, state)
    raw = "{op: torch_model, domain_in: raw, domain_out: srgb, model: %s}"
    cases = {
        raw % "missing.pt": "model file 'missing.pt' not found",
        raw % f"'{bad}'": f"{bad} is not a TorchScript file",
        raw % f"'{state}'": f"{state} is not a TorchScript file",
        raw % "'builtin:nope'": "no built-in model 'nope'; built-in: standin_isp",
        raw % "'degrade_test_nets:nothing'": "degrade_test_nets has no function 'nothing'",
        raw % "'degrade_test_nets:not_a_module'": "the factory returned int, expected a "
                                                  "torch.nn.Module",
        # the network returns 1 channel where the declaration (rgb output) needs 3
        "{op: torch_model, domain_in: srgb, model: 'degrade_test_nets:one_channel'}":
            "returned (1, 1, 32, 32) for input (1, 3, 32, 32); packing_out 'rgb' needs "
            "(1, 3, h, w)",
        "{op: torch_model, domain_in: srgb, model: 'degrade_test_nets:broken'}":
            "failed on an input of shape (3, 32, 32) (RuntimeError",
        "{op: torch_model, domain_in: raw, domain_out: srgb, packing_out: mosaic, "
        "model: 'builtin:standin_isp'}":
            "packing_out = 'mosaic' disagrees with domain_out = 'srgb' (which needs rgb)",
        "{op: torch_model, domain_in: raw, model: {choice: ['builtin:standin_isp', b.pt]}}":
            "'model' must be one constant reference",
        "{op: torch_model, domain_in: raw, model: 'builtin:standin_isp', sha256: abc}":
            "but the recipe pins sha256 abc",
    }
    for stage, message in cases.items():
        domain = "srgb" if "domain_in: srgb" in stage else "raw"
        line = validate_error(tmp_path, capsys, stage, domain)
        assert message in line, (stage, line)
    # the declared input domain is checked against the chain like any op's
    line = validate_error(tmp_path, capsys, raw % "'builtin:standin_isp'", "srgb")
    assert "op 'torch_model' takes raw data, but the chain is in the 'srgb' domain" in line


def test_without_torch_one_line_and_degrade_ops_never_imports_it(fresh_python):
    code = ("import sys; sys.modules['torch'] = None\n"
            "from degrade.cli import main\n"
            "import degrade.ops\n"
            "assert main(['validate', 'simple_x2']) == 0\n"
            "sys.exit(main(['validate', 'mialgo_track2']))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {REPO / 'recipes' / 'mialgo_track2.yaml'}: stages[3]: torch_model: needs "
        "PyTorch, which is not installed: pip install 'degrade[torch]'"]
    assert fresh_python("import sys, degrade.ops, degrade.commands.ops\n"
                        "print('torch' in sys.modules)").strip() == "False"
