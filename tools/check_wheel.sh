#!/usr/bin/env bash
# Installs degrade as a user would and runs it: builds the sdist and, from it, the wheel
# (python -m build), checks that both carry the built-in recipes, installs the wheel into a
# fresh virtual environment (no --system-site-packages: degrade and every dependency come
# from the wheel and the package index, so an undeclared dependency or a missing data file
# fails here), then runs the command line from a directory outside the checkout.
# Usage: bash tools/check_wheel.sh   (about a minute; needs the 'build' package and an index)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/degrade-wheel.XXXXXX")
trap 'rm -rf "$work"' EXIT
unset PYTHONPATH          # the venv must import its own degrade, not the checkout's

step() { echo "check_wheel: $*" >&2; }

step "building sdist and wheel"
python -m build --outdir "$work/dist" "$repo" >"$work/build.log" 2>&1 \
    || { cat "$work/build.log" >&2; exit 1; }
sdist=$(ls "$work"/dist/degrade-*.tar.gz)
wheel=$(ls "$work"/dist/degrade-*.whl)
# listings go to files: 'grep -q' in a pipe would stop the lister early (SIGPIPE + pipefail)
tar tzf "$sdist" >"$work/sdist.txt"
python -m zipfile -l "$wheel" >"$work/wheel.txt"
for name in $(cd "$repo/recipes" && ls *.yaml); do
    grep -q "/recipes/$name\$" "$work/sdist.txt" || { step "the sdist lacks recipes/$name"; exit 1; }
    grep -q "^degrade/recipes/$name " "$work/wheel.txt" \
        || { step "the wheel lacks degrade/recipes/$name"; exit 1; }
done
grep -q '^degrade/py.typed ' "$work/wheel.txt" || { step "the wheel lacks degrade/py.typed"; exit 1; }

step "installing $(basename "$wheel") into a fresh virtual environment"
python -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet "$wheel" >"$work/pip.log" 2>&1 \
    || { cat "$work/pip.log" >&2; exit 1; }
export PATH="$work/venv/bin:$PATH"
VIRTUAL_ENV_PREFIX="$work/venv"
mkdir "$work/run" && cd "$work/run"
python -c 'import degrade, sys; assert degrade.__file__.startswith(sys.prefix), degrade.__file__'

# a built-in recipe on the built-in samples must run without a warning
no_warning() { if grep -E '^(warning|error)' "$1"; then step "unexpected warning above"; exit 1; fi; }

step "README's first command: degrade generate realesrgan_x4plus"
degrade generate realesrgan_x4plus --out pairs.zarr --num 64 2>err.txt || { cat err.txt >&2; exit 1; }
no_warning err.txt
degrade inspect pairs.zarr >inspect.txt
grep -q 'complete: 64/64 samples' inspect.txt || { cat inspect.txt >&2; exit 1; }
grep -q 'shape (64, 256, 256, 3) uint8' inspect.txt

step "degrade generate raw2raw_eld2020 (RAW recipe on the built-in DNGs)"
degrade generate raw2raw_eld2020 --out r.zarr --num 4 2>err.txt || { cat err.txt >&2; exit 1; }
no_warning err.txt
degrade inspect r.zarr >inspect.txt
grep -q 'complete: 4/4 samples' inspect.txt || { cat inspect.txt >&2; exit 1; }

step "degrade ops, degrade validate, python -m degrade --help"
degrade ops >ops.txt && grep -q '^gaussian_noise ' ops.txt
degrade validate simple_x2 eld2020 >validate.txt
# built-in names resolve to the recipes inside the installed package (importlib.resources)
grep -q "^ok: $VIRTUAL_ENV_PREFIX.*/site-packages/degrade/recipes/simple_x2\.yaml" validate.txt \
    || { cat validate.txt >&2; exit 1; }
python -m degrade --help >help.txt && grep -q 'generate' help.txt
step "ok"
