"""Export a store to other tools' folder layouts (``degrade export``).

``basicsr``: BasicSR's paired-folder layout, which its ``PairedImageDataset`` reads::

    DIR/gt/00000000.png ...   the HQ of each sample (8-bit PNG; 16-bit for uint16 stores)
    DIR/lq/00000000.png ...   the LQ, same name
    DIR/meta_info.txt         one line per sample: "00000000.png (H,W,C)" (BasicSR's format)
    DIR/records.jsonl         the JSON record of each sample, one line each, in index order

and the matching options::

    type: PairedImageDataset
    dataroot_gt: DIR/gt
    dataroot_lq: DIR/lq
    meta_info_file: DIR/meta_info.txt
    io_backend: {type: disk}

The store is read with the same per-sample reader as :class:`degrade.torch.PairDataset`
(no torch needed).
"""
from __future__ import annotations

import shutil
from pathlib import Path

from ._errors import InputError, ParameterError

FORMATS = ("basicsr",)
NAME = "{:08d}.png"


def basicsr_options(out) -> str:
    """The ``datasets.train`` options (YAML) that read an export at ``out``."""
    out = Path(out)
    return (f"type: PairedImageDataset\ndataroot_gt: {out / 'gt'}\ndataroot_lq: {out / 'lq'}\n"
            f"meta_info_file: {out / 'meta_info.txt'}\nio_backend: {{type: disk}}\n")


def export_basicsr(store, out, *, overwrite: bool = False) -> dict:
    """Write the pairs of ``store`` as BasicSR paired PNG folders under ``out``.

    Returns ``{"path", "num", "scale", "options"}`` (``options``: the PairedImageDataset keys).

    Raises
    ------
    StoreError
        ``store`` is not a complete degrade store.
    InputError
        The store holds no RGB pairs (mosaics, packed RAW) or float16 images; ``out`` exists
        and is not empty (without ``overwrite``) or is not a previous export.
    """
    import cv2        # here, not at the top: the command line imports FORMATS to build its parser
    import numpy as np

    from ._torch_io import StoreReader, read_store_meta, resolve_store

    location = resolve_store(store)        # a folder or a URL, read the same way below
    meta = read_store_meta(location)
    shapes = {n: tuple(meta[n]["shape"][1:]) for n in ("hq", "lq")}
    dtypes = {n: np.dtype(meta[n]["data_type"]) for n in ("hq", "lq")}
    for name in ("hq", "lq"):
        if len(shapes[name]) != 3 or shapes[name][2] != 3:
            raise InputError(f"{store}: {name} samples are {shapes[name]}; a BasicSR export needs "
                             "RGB images (H, W, 3), not raw mosaics or packed RAW")
        if dtypes[name] not in (np.uint8, np.uint16):
            raise InputError(f"{store}: {name} is {dtypes[name]}; PNG holds uint8 or uint16 "
                             "(generate the store with --dtype uint8 or uint16)")
    out = _prepare(Path(out), overwrite)
    reader = StoreReader(location, meta)
    num = int(meta["hq"]["shape"][0])
    lines, records = [], []
    for i in range(num):
        name = NAME.format(i)
        for folder, array in (("gt", "hq"), ("lq", "lq")):
            image = reader.read(array, i)
            if not cv2.imwrite(str(out / folder / name), np.ascontiguousarray(image[..., ::-1])):
                raise InputError(f"{out / folder / name}: cannot write the PNG")
        h, w, c = shapes["hq"]
        lines.append(f"{name} ({h},{w},{c})")
        records.append(reader.record(i))
    (out / "meta_info.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (out / "records.jsonl").write_text("\n".join(records) + "\n", encoding="utf-8")
    return {"path": str(out), "num": num, "scale": int(meta["attrs"].get("scale") or 1),
            "options": basicsr_options(out)}


def _prepare(out: Path, overwrite: bool) -> Path:
    if out.exists() and any(out.iterdir()):
        previous = (out / "meta_info.txt").is_file() and (out / "gt").is_dir()
        if not overwrite:
            raise InputError(f"{out}: exists and is not empty; choose a new folder or pass "
                             "--overwrite")
        if not previous:
            raise InputError(f"{out}: --overwrite replaces only a previous export (gt/, lq/, "
                             "meta_info.txt); this folder holds something else")
        shutil.rmtree(out)
    for folder in ("gt", "lq"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    return out


def export(store, fmt: str, out, *, overwrite: bool = False) -> dict:
    """Export ``store`` in format ``fmt`` (one of ``FORMATS``) to ``out``."""
    if fmt not in FORMATS:
        raise ParameterError(f"format = {fmt!r}: expected one of {', '.join(FORMATS)}")
    return export_basicsr(store, out, overwrite=overwrite)
