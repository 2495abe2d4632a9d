"""Hostile inputs are refused with one ``error:`` line, quickly and in bounded memory.

Each check runs where the memory can be measured: in a fresh interpreter that reports the
growth of its peak resident size (``ru_maxrss``) across the call under test. No check asserts
a time; the subprocess timeouts only keep a regression from hanging the suite.
"""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import numpy as np
import pytest

from degrade import RecipeError, load_recipe
from degrade.recipe import yaml_limits

#: peak-memory growth allowed for refusing a bomb (decoding one would take GBs)
BOUNDED_MB = 200


def run_measured(code: str, timeout: float = 120) -> dict:
    """Run ``code`` in a new interpreter after importing degrade; it sets ``result``. Returns
    ``{"result": ..., "error": message or None, "grew_mb": peak RSS growth during code}``."""
    wrapper = textwrap.dedent("""
        import json, resource, sys
        import degrade, degrade.recipe, degrade.sources, degrade.sources.headers
        import cv2, numpy
        from degrade import DegradeError
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        result, error = None, None
        try:
        {body}
        except DegradeError as e:
            error = str(e)
        grew = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        print(json.dumps({{"result": result, "error": error, "grew_mb": grew}}))
    """).format(body=textwrap.indent(textwrap.dedent(code).strip(), "    "))
    out = subprocess.run([sys.executable, "-c", wrapper], capture_output=True, text=True,
                         timeout=timeout)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_cli(*args, timeout: float = 120):
    return subprocess.run([sys.executable, "-m", "degrade.cli", *args], capture_output=True,
                          text=True, timeout=timeout)


def assert_one_error_line(proc, *fragments):
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr[-2000:]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


# --------------------------------------------------------------------------- YAML
def alias_bomb(levels: int = 9) -> str:
    """The "billion laughs": each level lists the previous one 9 times (9**levels nodes)."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    lines.append(f"stages: [*a{levels}]")
    return "\n".join(lines) + "\n"


def nested_groups(depth: int) -> str:
    stage = "{op: gaussian_noise, sigma: 0.01}"
    for _ in range(depth):
        stage = "{stages: [" + stage + "]}"
    return f"stages: [{stage}]\n"


def block_chain(length: int, uses: int) -> str:
    """Blocks b0..b{length-1}, each using the next ``uses`` times (``uses**length`` stages)."""
    lines = ["blocks:"]
    for i in range(length - 1):
        lines.append(f"  b{i}: [" + ", ".join([f"{{block: b{i + 1}}}"] * uses) + "]")
    lines.append(f"  b{length - 1}: [{{op: gaussian_noise, sigma: 0.01}}]")
    lines.append("stages: [{block: b0}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("text,fragment", [
    (alias_bomb(), f"expands to more than {yaml_limits.MAX_NODES} nodes"),
    (nested_groups(245), f"nested more than {yaml_limits.MAX_DEPTH} deep"),
    (block_chain(400, 1), "stages nested more than"),
    (block_chain(25, 2), "stages once blocks are expanded"),
    ("x: &x [1]\nstages: [" + ", ".join(["*x"] * (yaml_limits.MAX_ALIASES + 1)) + "]\n",
     f"more than {yaml_limits.MAX_ALIASES} aliases"),
], ids=["alias-bomb", "245-nested-groups", "400-chained-blocks", "block-bomb", "many-aliases"])
def test_yaml_bombs_are_refused_by_validate_in_bounded_memory(tmp_path, text, fragment):
    path = tmp_path / "bomb.yaml"
    path.write_text(text)
    proc = run_cli("validate", str(path), timeout=60)
    assert_one_error_line(proc, str(path), fragment)
    measured = run_measured(f"degrade.load_recipe({str(path)!r})", timeout=60)
    assert fragment in measured["error"]
    assert measured["grew_mb"] < BOUNDED_MB


def test_yaml_within_the_limits_still_loads():
    # nesting just inside the limits, and aliases that stay small, are accepted as before
    recipe = load_recipe(nested_groups(yaml_limits.MAX_DEPTH // 2 - 2))
    assert recipe.sample(seed=0)["steps"][0]["op"] == "gaussian_noise"
    text = ("blocks: {b: &s [{op: gaussian_noise, sigma: 0.01}]}\n"
            "stages: [{block: b}, {stages: *s}]\n")
    assert [s["op"] for s in load_recipe(text).sample(seed=0)["steps"]] == ["gaussian_noise"] * 2


def test_yaml_errors_keep_their_line_and_column():
    with pytest.raises(RecipeError, match=r"line 1, column \d+: invalid YAML"):
        load_recipe("stages: [{op: jpeg, quality: 50]")
    with pytest.raises(RecipeError, match="could not determine a constructor"):
        load_recipe("stages: !!python/object/apply:os.system ['true']")


# --------------------------------------------------------------------------- image bombs
BOMB_SIDE = 9500          # 90.25 Mpx: just over the default limit; 1 GB as float32 RGB


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _zeros_deflated(rows: int, row_bytes: int) -> bytes:
    """zlib stream of ``rows`` rows of zero bytes (a black image; compresses ~1000:1)."""
    compressor, row = zlib.compressobj(9), b"\0" * row_bytes
    return b"".join([compressor.compress(row) for _ in range(rows)] + [compressor.flush()])


def png_bomb(path, side: int = BOMB_SIDE, depth: int = 8) -> None:
    """A valid black RGB PNG of side x side (each row: filter byte + samples)."""
    ihdr = struct.pack(">IIBBBBB", side, side, depth, 2, 0, 0, 0)
    data = _zeros_deflated(side, 1 + 3 * side * depth // 8)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", data)
                     + _chunk(b"IEND", b""))


def tiff_bomb(path, side: int = BOMB_SIDE) -> None:
    """A valid black 8-bit RGB TIFF of side x side: one deflate-compressed strip."""
    data = _zeros_deflated(side, 3 * side)
    tags = [(256, 4, 1, side), (257, 4, 1, side), (258, 3, 1, 8), (259, 3, 1, 8),
            (262, 3, 1, 2), (273, 4, 1, 0), (277, 3, 1, 3), (278, 4, 1, side),
            (279, 4, 1, len(data))]
    ifd_size = 2 + 12 * len(tags) + 4
    strip = 8 + ifd_size
    tags[5] = (273, 4, 1, strip)
    ifd = struct.pack("<H", len(tags)) + b"".join(
        struct.pack("<HHI", tag, kind, count) + (struct.pack("<HH", value, 0) if kind == 3
                                                 else struct.pack("<I", value))
        for tag, kind, count, value in tags) + b"\0\0\0\0"
    path.write_bytes(b"II*\x00" + struct.pack("<I", 8) + ifd + data)


def patched_size(path, fmt: str, height: int, width: int) -> None:
    """A small real image of format ``fmt`` whose header then claims height x width."""
    import cv2
    pixels = np.zeros((16, 24, 3), np.uint8)
    lossy = [cv2.IMWRITE_WEBP_QUALITY, 80] if fmt == "webp" else []
    ok, buf = cv2.imencode("." + fmt, pixels, lossy)
    data = bytearray(buf.tobytes())
    if fmt == "jpg":
        sof = data.index(b"\xff\xc0") + 5
        data[sof:sof + 4] = struct.pack(">HH", height, width)
    elif fmt == "bmp":
        data[18:26] = struct.pack("<ii", width, height)
    elif fmt == "webp":      # cv2 writes lossy VP8: 14-bit sizes after the start code
        at = data.index(b"\x9d\x01\x2a") + 3
        data[at:at + 4] = struct.pack("<HH", width, height)
    path.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def bombs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bombs")
    png_bomb(folder / "bomb.png")
    png_bomb(folder / "bomb16.png", side=BOMB_SIDE, depth=16)
    tiff_bomb(folder / "bomb.tif")
    patched_size(folder / "bomb.jpg", "jpg", 60000, 60000)
    patched_size(folder / "bomb.bmp", "bmp", 30000, 30000)
    patched_size(folder / "bomb.webp", "webp", 16383, 16383)
    return folder


BOMB_NAMES = ["bomb.png", "bomb16.png", "bomb.tif", "bomb.jpg", "bomb.bmp", "bomb.webp"]


@pytest.mark.parametrize("name", BOMB_NAMES)
def test_image_bombs_are_refused_from_the_header_in_bounded_memory(bombs, name):
    path = bombs / name
    assert path.stat().st_size < 1_000_000
    for call in (f"degrade.sources.read_image({str(path)!r})",
                 f"from degrade.sources.folders import probe_shape\n"
                 f"result = probe_shape(__import__('pathlib').Path({str(path)!r}), 'image')"):
        measured = run_measured(call, timeout=120)
        assert measured["error"] and "pixels is more than the limit of 89478485" \
            in measured["error"], measured
        assert measured["grew_mb"] < BOUNDED_MB, measured


def test_a_bomb_decodes_when_the_limit_is_raised(bombs, monkeypatch):
    # the PNG and TIFF bombs are real images: with a higher limit they are read, in full
    from degrade.sources import read_image
    image = read_image(bombs / "bomb.tif", max_pixels=BOMB_SIDE ** 2)
    assert image.shape == (BOMB_SIDE, BOMB_SIDE, 3) and not image.any()


def test_trailing_gigabytes_after_a_png_are_not_read(tmp_path):
    import cv2
    path = tmp_path / "trailing.png"
    pixels = np.random.default_rng(0).integers(0, 255, (40, 30, 3), np.uint8)
    cv2.imwrite(str(path), pixels)
    size = path.stat().st_size
    with open(path, "r+b") as handle:          # 2.5 GB of zeros after IEND (a sparse file)
        handle.truncate(size + 2_500_000_000)
    measured = run_measured(f"result = degrade.sources.read_image({str(path)!r}).tolist()")
    assert measured["error"] is None and measured["grew_mb"] < BOUNDED_MB, measured
    assert np.array_equal(np.asarray(measured["result"], np.float32),
                          pixels[..., ::-1].astype(np.float32) / 255)


def test_generate_skips_a_bomb_with_one_line(tmp_path, bombs):
    import shutil
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(bombs / "bomb.png", folder / "bomb.png")
    from degrade.sources import sample_paths
    shutil.copy(sample_paths()[0], folder / "ok.png")
    proc = run_cli("generate", "stages: [{op: gaussian_noise, sigma: 0.01}]", "--input",
                   str(folder), "--num", "2", "--out", str(tmp_path / "s.zarr"), "--strict",
                   "--scheduler", "synchronous", "--quiet", timeout=300)
    assert_one_error_line(proc, "bomb.png", "more than the limit")


# --------------------------------------------------------------------------- numeric bounds
@pytest.mark.parametrize("stage,fragments", [
    ("{op: gaussian_blur, sigma_x: 1e308}", ["stages[0].sigma_x: 1e+308", "0 < sigma_x <= 150"]),
    ("{op: gaussian_blur, sigma_x: 1e7}", ["stages[0].sigma_x", "0 < sigma_x <= 150"]),
    ("{op: gaussian_blur, sigma_x: 1, ksize: 1000000001}", ["stages[0].ksize", "1 <= ksize <= 1001"]),
    ("{op: resize, scale: 300}", ["stages[0].scale: 300", "0 < scale <= 16"]),
    ("{op: bilateral_filter, d: 1000000, sigma_color: 10, sigma_space: 3}",
     ["stages[0].d: 1000000", "d <= 51"]),
    ("{op: gaussian_noise, sigma: {int_uniform: [0, 100000000000000000000000]}}",
     ["stages[0].sigma", "64-bit integers"]),
    ("{op: gaussian_noise, sigma: {uniform: [-1.0e+308, 1.0e+308]}}",
     ["stages[0].sigma", "wider than a float can hold"]),
    ("{op: jpeg, quality: {int_uniform: [-20, 100]}}",
     ["stages[0].quality: {int_uniform: [-20, 100]} can give -20", "0 <= quality <= 100"]),
    ("{op: jpeg, quality: {choice: [30, 60, 101]}}", ["stages[0].quality", "can give 101"]),
    ("{op: usm_sharpen, sigma: {normal: [1, 0.5]}}",
     ["stages[0].sigma: {normal: ...}", "can give -inf", "'low' and 'high'"]),
    ("{op: edge_masked_blur, sigma: 1, dilate: 100000}", ["stages[0].dilate", "dilate <= 500"]),
], ids=lambda v: v if isinstance(v, str) and len(v) < 40 else None)
def test_out_of_range_parameters_fail_validate_with_one_line(stage, fragments, tmp_path):
    path = tmp_path / "recipe.yaml"
    path.write_text(f"stages: [{stage}]\n")
    proc = run_cli("validate", str(path), timeout=60)
    assert_one_error_line(proc, str(path), *fragments)


def test_whole_support_inside_the_range_is_accepted():
    recipe = load_recipe("stages: [{op: jpeg, quality: {int_uniform: [0, 100]}},\n"
                         "         {op: gaussian_blur, sigma_x: {normal: {mean: 1, std: 0.5, "
                         "low: 0.1, high: 3}}},\n"
                         "         {op: resize, scale: {mixture: [{uniform: [0.25, 1]}, "
                         "{choice: [2, 4]}]}}]")
    assert len(recipe.stages) == 3


def test_target_size_and_preview_draws_are_bounded(tmp_path):
    proc = run_cli("validate", "target: {size: 1000000000}\nstages: []")
    assert_one_error_line(proc, "target.size", "more pixels than the image limit")
    proc = run_cli("preview", "stages: [{op: gaussian_noise, sigma: 0.01}]", "-n", "100000",
                   "-o", str(tmp_path / "p.png"))
    assert_one_error_line(proc, "-n = 100000", "expected at most 64 draws")
    assert not (tmp_path / "p.png").exists()


def _outside(value, rng, kind, below):
    """A value just outside ``rng`` at one end (the bound itself when that end is open)."""
    bound, open_ = (rng.low, rng.low_open) if below else (rng.high, rng.high_open)
    if open_:
        return bound
    step = 1 if kind == "int" else max(1e-3, abs(bound) * 1e-3)
    return bound - step if below else bound + step


def _declared_limits():
    from degrade._registry import all_ops
    return [(spec.name, p.name, p.kind, p.limits) for spec in all_ops()
            for p in spec.params.values() if p.limits is not None]


@pytest.mark.parametrize("op,param,kind,limits", _declared_limits(),
                         ids=lambda v: v if isinstance(v, str) else None)
def test_declared_ranges_are_what_the_op_itself_enforces(op, param, kind, limits):
    """The recipe layer refuses what lies outside a declared range; the op called directly
    must refuse it too (and accept a closed bound), so the two cannot drift apart."""
    from degrade import ParameterError
    from degrade._registry import get_op
    from tests.op_examples import all_examples
    from tests.test_ops_contract import synthetic_input

    spec, examples = get_op(op), [e for e in all_examples() if e["op"] == op]
    # the examples that use the parameter (psf_blur's sinc has no sigma_x), else all
    examples = [e for e in examples if param in e["params"]] or examples

    def errors(value) -> list:
        """Per example: None when the op accepts ``value``, else its ParameterError text."""
        results = []
        for example in examples:
            meta = example.get("meta", {})
            params = {**example["params"], param: value}
            params.update({n: meta[n] for n in spec.meta_in if n not in params and n in meta})
            try:
                spec.function(synthetic_input(example["input"], meta), **params,
                              rng=np.random.default_rng(0) if spec.random else None)
                results.append(None)
            except ParameterError as e:
                results.append(str(e))
        return results
    for below in (True, False):
        bound = limits.low if below else limits.high
        if bound is None:
            continue
        assert None not in errors(_outside(bound, limits, kind, below)), (op, param, below)
        if not (limits.low_open if below else limits.high_open):
            # a closed bound is accepted (unless another parameter objects to the pairing,
            # e.g. black_level < white_level, or rates that must sum to <= 1)
            value = int(bound) if kind == "int" else float(bound)
            own = f"{op}: parameter '{param}' = {value!r}:"
            assert not any(e and e.startswith(own) for e in errors(value)), (op, param, value)


# --------------------------------------------------------------------------- names and lists
def _image_named(folder, raw_name: bytes):
    """A real image file whose name on disk is ``raw_name`` (bytes: maybe not UTF-8)."""
    import shutil
    from degrade.sources import sample_paths
    target = os.path.join(os.fsencode(folder), raw_name)
    shutil.copyfile(sample_paths()[0], target)
    return Path(os.fsdecode(target))


def test_non_utf8_file_names_are_listed_read_and_named_safely(tmp_path):
    from degrade.sources import list_images, read_image
    from degrade.sources.headers import header_shape
    from degrade.sources.names import display_name, is_undecodable, name_bytes
    path = _image_named(tmp_path, b"caf\xe9.png")
    listed = list_images(tmp_path)
    assert listed == [path] and is_undecodable(path.name)
    assert read_image(listed[0]).shape[:2] == header_shape(listed[0])
    assert name_bytes(path.name) == b"caf\xe9.png"
    assert display_name(path.name) == "caf\\xe9.png"
    json.dumps(display_name(path)).encode("utf-8")          # a record can hold it
    assert display_name("café.png") == "café.png" and not is_undecodable("café.png")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be",
                                      "utf-32", "latin-1", "cp1252"])
def test_list_files_in_common_encodings(tmp_path, encoding):
    from degrade.sources.names import read_list_file
    names = ["plain.png", "café.png", "sub/naïve €.png"] if encoding not in ("latin-1",) \
        else ["plain.png", "café.png", "sub/naïve.png"]
    (tmp_path / "sub").mkdir()
    for name in names:                   # files with UTF-8 names, as Linux tools make them
        _image_named(tmp_path, name.encode("utf-8"))
    (tmp_path / "list.txt").write_bytes(
        ("# images\r\n" + "\r\n".join(names) + "\r\n\r\n").encode(encoding))
    found = read_list_file(tmp_path / "list.txt")
    assert found == [tmp_path / n for n in names], encoding
    assert all(p.is_file() for p in found)


def test_a_latin1_list_names_latin1_files(tmp_path):
    from degrade.sources.names import read_list_file
    path = _image_named(tmp_path, b"caf\xe9.png")            # the name's bytes are Latin-1
    (tmp_path / "list.txt").write_bytes(b"caf\xe9.png\n")
    assert read_list_file(tmp_path / "list.txt") == [path]


def test_a_list_file_with_a_broken_bom_is_one_error(tmp_path):
    from degrade import InputError
    from degrade.sources.names import read_list_file
    (tmp_path / "list.txt").write_bytes(b"\xef\xbb\xbfok.png\n\xff\xfe.png\n")
    with pytest.raises(InputError, match=r"list\.txt: starts with a utf-8 byte-order mark but the "
                                         r"byte at offset 10 does not decode"):
        read_list_file(tmp_path / "list.txt")
    with pytest.raises(InputError, match="cannot read the list file"):
        read_list_file(tmp_path / "missing.txt")


def test_a_tiff_directory_after_gigabytes_is_read_without_them(tmp_path):
    """Writers often put a TIFF's directory after its pixel data: the probe seeks to it."""
    path = tmp_path / "far.tif"
    pixels = bytes(range(256)) * 4 + bytes(128)               # 16 x 24 x 3 = 1152 bytes
    far = 2_500_000_000
    tags = [(256, 4, 1, 24), (257, 4, 1, 16), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 2),
            (273, 4, 1, 8), (277, 3, 1, 3), (278, 4, 1, 16), (279, 4, 1, len(pixels))]
    ifd = struct.pack("<H", len(tags)) + b"".join(
        struct.pack("<HHI", t, k, c) + (struct.pack("<HH", v, 0) if k == 3 else struct.pack("<I", v))
        for t, k, c, v in tags) + b"\0\0\0\0"
    with open(path, "wb") as handle:                          # sparse: the gap takes no disk
        handle.write(b"II*\x00" + struct.pack("<I", far) + pixels)
        handle.seek(far)
        handle.write(ifd)
    measured = run_measured(
        "from degrade.sources.folders import probe_shape\n"
        f"result = probe_shape(__import__('pathlib').Path({str(path)!r}), 'image')")
    assert measured["result"] == [16, 24] and measured["grew_mb"] < BOUNDED_MB, measured


def test_ops_refuse_outputs_and_kernels_they_cannot_make(rgb):
    from degrade import ParameterError
    from degrade.ops import bilateral_filter, resize
    with pytest.raises(ParameterError, match=r"resize: an output of 100000x100000 is more than "
                                             r"the image pixel limit"):
        resize(rgb, size=(100000, 100000))
    with pytest.raises(ParameterError, match=r"d = 0 takes the diameter from sigma_space = 1e\+06"):
        bilateral_filter(rgb, 0, 10.0, 1e6)
    assert bilateral_filter(rgb, 0, 10.0, 5.0).shape == rgb.shape      # OpenCV's own d: 15
