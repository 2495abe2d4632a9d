"""BasicSR ``meta_info`` files as input lists.

BasicSR and Real-ESRGAN list their training images in a text file, one per line, relative to
``dataroot_gt``, optionally followed by the image shape (and, for LMDB, a compression level)::

    DF2K_HR_sub/000001_s001.png
    0001_s001.png (480,480,3)
    0001_s001.png (480,480,3) 1

basicsr reads the path as the first space-separated token (``line.strip().split(' ')[0]``),
so does :func:`parse_meta_info`; what follows must be such a shape suffix, so a plain
file list whose names hold spaces is not silently cut. Real-ESRGAN's paired lists
(``gt/a.png, lq/a.png``) give the GT path first; that one is used.
"""
from __future__ import annotations

import re
from pathlib import Path

from .._errors import InputError

_SUFFIX = re.compile(r"^\(\s*\d+\s*,\s*\d+\s*(,\s*\d+\s*)?\)(\s+\d+)?$")


def has_shape_suffix(line: str) -> bool:
    """Whether a list line reads as a meta_info entry with a shape (``a.png (480,480,3)``)."""
    _, _, rest = line.strip().partition(" ")
    return bool(rest.strip()) and bool(_SUFFIX.match(rest.strip()))


def parse_meta_info(text: str, *, file: str = "<meta_info>") -> list[str]:
    """The relative image paths of a meta_info text, in file order (blank lines and ``#``
    comments skipped).

    Raises
    ------
    InputError
        A line whose text after the path is neither a shape ``(h,w[,c])`` (with an optional
        compression level) nor a paired entry; the message names the file and the line.
    """
    paths = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "," in line.split(" ", 1)[0] and line.count(", ") == 1 and "(" not in line:
            paths.append(line.split(", ")[0])          # Real-ESRGAN paired: "gt, lq"
            continue
        path, _, rest = line.partition(" ")
        if rest.strip() and not _SUFFIX.match(rest.strip()):
            raise InputError(f"{file}: line {number}: {line!r}: expected 'PATH' or "
                             "'PATH (H,W,C)' (BasicSR meta_info; paths cannot hold spaces)")
        paths.append(path)
    return paths


def read_meta_info(path, root=None) -> tuple[Path, list[Path]]:
    """``(root, files)`` of a meta_info file: entries resolved against ``root`` (BasicSR's
    ``dataroot_gt``; default: the file's folder), the same shape as a source listing.

    Raises
    ------
    InputError
        The file cannot be read, a line is malformed, or ``root`` is not a folder.
    """
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read the meta_info file ({e})") from None
    base = Path(root).expanduser() if root is not None else path.parent
    if not base.is_dir():
        raise InputError(f"--root {root}: not a folder (the meta_info entries are relative to it)")
    return base, [base / p for p in parse_meta_info(text, file=str(path))]
