"""File names that are not UTF-8, and list files in any common encoding.

On Linux a file name is bytes. Python gives a name that is not valid UTF-8 as a ``str`` with
*surrogate escapes* (``b'caf\\xe9.png'`` -> ``'caf\\udce9.png'``): ``open`` and ``os.stat``
take it back unchanged, so such a file can be read like any other, but the string cannot be
encoded as UTF-8 (hashing, JSON in a store's records, printing to a UTF-8 terminal). The
helpers here give each use its form:

* :func:`name_bytes` - the name's bytes on disk (hash these: exact and never failing);
* :func:`display_name` - a UTF-8 safe text, undecodable bytes written ``\\xNN`` (records,
  skip lists, messages);
* :func:`is_undecodable` - whether a name has such bytes (for a skip-and-list policy).

A list file (one path per line) is decoded by :func:`read_list_file`: a byte-order mark
picks UTF-8, UTF-16 or UTF-32; without one, UTF-8, then UTF-16 when NUL bytes say so;
otherwise each line is taken as the bytes of a file name (Linux keeps names as bytes: a
Latin-1 list names Latin-1 files), or as Windows-1252 text when that is the file that exists.
"""
from __future__ import annotations

import codecs
import os
from pathlib import Path

from .._errors import InputError

#: byte-order marks, longest first (a UTF-32 LE mark starts like a UTF-16 LE one)
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
         (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
         (codecs.BOM_UTF16_BE, "utf-16-be"))
#: list files larger than this are refused (a list of a million paths is ~60 MB)
MAX_LIST_BYTES = 1 << 30


def name_bytes(name: str | os.PathLike) -> bytes:
    """The bytes of a file name as the file system holds them (surrogate escapes undone)."""
    return os.fsencode(name)


def is_undecodable(name: str | os.PathLike) -> bool:
    """Whether a name holds bytes that are not UTF-8 (surrogate escapes)."""
    text = os.fspath(name)
    return isinstance(text, str) and any("\udc80" <= c <= "\udcff" for c in text)


def display_name(name: str | os.PathLike) -> str:
    """A name as UTF-8 safe text: undecodable bytes become ``\\xNN`` (``caf\\xe9.png``); a
    valid name comes back unchanged."""
    text = os.fspath(name)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if not is_undecodable(text):
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def decode_list_text(data: bytes, path) -> tuple[str, str]:
    """(text, encoding) of a list file's bytes: BOM, else UTF-8, else UTF-16 by its NUL
    bytes, else ``'bytes'`` (the text holds surrogate escapes, one per undecodable byte).

    Raises InputError for a file with a BOM whose content does not decode."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom):].decode(codec), codec
            except UnicodeDecodeError as e:
                raise InputError(f"{path}: starts with a {codec} byte-order mark but the byte at "
                                 f"offset {e.start + len(bom)} does not decode ({e.reason}); save "
                                 "the list as UTF-8") from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    head = data[:4096]
    even, odd = head[0::2].count(0), head[1::2].count(0)
    if len(head) >= 4 and max(even, odd) > len(head) // 4 and min(even, odd) == 0:
        codec = "utf-16-le" if odd else "utf-16-be"   # ASCII in UTF-16 LE: a NUL after each
        try:
            return data.decode(codec), codec
        except UnicodeDecodeError:
            pass
    return os.fsdecode(data), "bytes"


def read_list_file(path: str | os.PathLike) -> list[Path | str]:
    """The paths a list file names, one per line, relative to the file's folder (absolute
    lines stay as they are; a line with a scheme, ``s3://...``, is a URL kept as text);
    blank lines and ``#`` comments are skipped.

    Lines that are not UTF-8 (a Latin-1 or Windows-1252 list without a byte-order mark)
    name the file with those bytes, or the file of that Windows-1252 text when only that
    one exists; a path that does not exist is returned as it is (the probe then reports it).

    Raises
    ------
    InputError
        The file cannot be read, is larger than ``MAX_LIST_BYTES``, or has a byte-order
        mark its content does not follow.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_LIST_BYTES:
            raise InputError(f"{path}: a list file of {size} bytes; expected at most "
                             f"{MAX_LIST_BYTES}")
        data = path.read_bytes()
    except OSError as e:
        raise InputError(f"{path}: cannot read the list file ({e.strerror or e})") from None
    text, encoding = decode_list_text(data, path)
    base = path.parent
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "://" in line:
            out.append(line)
            continue
        candidate = base / line
        if encoding == "bytes" and is_undecodable(line) and not candidate.exists():
            try:
                alternative = base / name_bytes(line).decode("cp1252")
            except UnicodeDecodeError:
                alternative = None
            if alternative is not None and alternative.exists():
                candidate = alternative
        out.append(candidate)
    return out


__all__ = ["MAX_LIST_BYTES", "decode_list_text", "display_name", "is_undecodable",
           "name_bytes", "read_list_file"]
