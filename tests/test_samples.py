"""Built-in samples: files, licenses, packaging, loader API and reproducibility."""
from __future__ import annotations

import importlib.util
import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import numpy as np
import pytest

from degrade._errors import ParameterError
from degrade.sources import default_image, load_sample, sample_names, sample_paths
from degrade.sources.samples import SAMPLES_DIR

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
NAMES = ["chart", "colorchecker", "indoor", "rose"]


def load_tool():
    spec = importlib.util.spec_from_file_location("make_samples", REPO / "tools" / "make_samples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sample_paths_sorted_and_present():
    paths = sample_paths()
    assert [p.stem for p in paths] == NAMES == sample_names()
    assert all(p.is_file() and p.suffix == ".png" for p in paths)


@pytest.mark.parametrize("name", NAMES)
def test_each_sample_is_small_8bit_srgb(name):
    img = load_sample(name)
    assert img.dtype == np.float32 and img.flags.c_contiguous and img.ndim == 3
    assert img.shape[2] == 3 and all(288 <= s <= 512 for s in img.shape[:2])   # BSRGAN's crop
    assert np.array_equal(np.rint(img * 255) / 255, img.astype(np.float64))   # 8-bit levels
    assert img.std() > 0.05                                                  # real content


def test_samples_total_size_well_under_2mb():
    assert sum(p.stat().st_size for p in sample_paths()) < 1.5e6


def test_readme_lists_every_sample_and_its_license_files_exist():
    readme = (SAMPLES_DIR / "README.md").read_text()
    for name in NAMES:
        assert f"`{name}.png`" in readme
    links = re.findall(r"\]\((LICENSES/[^)]+)\)", readme)
    assert links and all((SAMPLES_DIR / link).is_file() for link in links)
    assert "NC" not in " ".join(p.name for p in (SAMPLES_DIR / "LICENSES").iterdir())


def test_package_data_covers_samples_and_licenses():
    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())[
        "tool"]["setuptools"]["package-data"]["degrade"]
    shipped = [p.relative_to(SAMPLES_DIR.parent).as_posix()
               for p in SAMPLES_DIR.rglob("*") if p.is_file() and p.suffix != ".pyc"]
    unmatched = [f for f in shipped if not any(fnmatch(f, pat) for pat in patterns)]
    assert shipped and unmatched == []


def test_load_by_name_extension_and_index_agree():
    rose = load_sample("rose")
    assert rose.shape == (320, 480, 3)
    assert np.array_equal(load_sample("rose.png"), rose)
    assert np.array_equal(load_sample(NAMES.index("rose")), rose)
    assert np.array_equal(load_sample(-1), rose)


def test_default_image_is_the_chart():
    assert np.array_equal(default_image(), load_sample("chart"))


def test_unknown_name_suggests():
    with pytest.raises(ParameterError, match=r"unknown sample 'rsoe' \(did you mean 'rose'\?\); "
                                             r"known: chart, colorchecker, indoor, rose"):
        load_sample("rsoe")


@pytest.mark.parametrize("index", [4, -5])
def test_index_out_of_range(index):
    with pytest.raises(ParameterError, match=rf"index {index} out of range; there are 4 samples"):
        load_sample(index)


@pytest.mark.parametrize("value", [1.0, True, None])
def test_bad_type(value):
    with pytest.raises(ParameterError, match="expected a sample name or an index, got"):
        load_sample(value)


def test_chart_regenerates_exactly_outside_the_text_quadrant():
    # The text quadrant depends on OpenCV's glyph rendering; the rest is plain numpy.
    chart = load_tool().make_chart()
    u8 = np.rint(np.clip(chart, 0, 1) * 255)
    stored = np.rint(load_sample("chart") * 255)
    q = 256
    assert np.array_equal(u8[:q], stored[:q]) and np.array_equal(u8[q:, :q], stored[q:, :q])


def test_rose_regenerates_from_the_dng():
    if not (DATA / "raw" / "dng").is_dir():
        pytest.skip(f"shared data not found at {DATA} (needed to re-render the sample)")
    render = load_tool().make_rose(DATA)
    # same LibRaw -> identical; allow one 8-bit level for another LibRaw build
    levels = np.rint(np.clip(render, 0, 1) * 255) - np.rint(load_sample("rose") * 255)
    assert np.abs(levels).max() <= 1


def builtin_recipe_names():
    from degrade.recipe import builtin_recipes
    return list(builtin_recipes())


@pytest.mark.parametrize("name", builtin_recipe_names())
def test_every_builtin_recipe_runs_on_every_builtin_sample_of_its_domain(name, tmp_path):
    # what `degrade generate NAME` does without --input: one sample per built-in file
    import warnings

    import degrade
    from degrade.sources import raw_sample_paths

    recipe = degrade.load_recipe(name)
    files = raw_sample_paths() if recipe.input_domain == "raw" else sample_paths()
    package = str(Path(degrade.__file__).parent)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        summary = degrade.generate(recipe, None, tmp_path / "s.zarr", workers=1,
                                   scheduler="synchronous", progress=False)
    ours = [f"{w.filename}:{w.lineno}: {w.message}" for w in caught if w.filename.startswith(package)]
    assert ours == [] and summary["skipped"] == []
    assert summary["num"] == len(files) > 0
