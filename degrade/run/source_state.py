"""Source files that change under a store: recorded when the store is made, checked on resume.

A resumed run makes the missing shards from the files as they are now; if a source image was
edited in place (same name, same size) since the store was made, the store would mix samples
of the old and the new pixels. So a store records, for every file it reads, its size and
modification time (and, with ``hash_sources``, a BLAKE2b hash of its content) in
``STORE/records/sources.json``, with a digest of the whole table in the attributes
(``source_state``). A resume compares them and refuses a changed source with the list of the
files that changed.

The table sits beside the attributes, not in them: a listing of 100 000 files is a few MB
of JSON, which every reader of the store would parse. It sits in the ``records`` array's
folder, where zarr never looks (a file at the group's top level makes zarr warn whenever a
reader lists the group's members), and goes wherever the records go. Stores made before this check have
no ``source_state`` and resume as before. Files on object storage (URLs) are not stat'ed
here (their listing's sizes are in the listing hash).
"""
from __future__ import annotations

import hashlib
import json
import os

from .. import storage
from .layout import StoreError

#: the table's key in a store, inside the records array's folder
SOURCES_NAME = "sources.json"
SOURCES_FOLDER = "records"
SOURCES_KEY = f"{SOURCES_FOLDER}/{SOURCES_NAME}"
#: changed files named in the error before "... and N more"
LISTED = 20


def file_state(path: str, content: bool) -> list:
    """[size, mtime_ns] of a local file (plus its content hash with ``content``); [] for a
    URL or a file that cannot be stat'ed now."""
    if "://" in path:
        return []
    try:
        stat = os.stat(path)
    except OSError:
        return []
    state = [stat.st_size, stat.st_mtime_ns]
    if content:
        digest = hashlib.blake2b(digest_size=16)
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        state.append(digest.hexdigest())
    return state


def source_table(plan, content: bool) -> dict:
    """{relative name: state} of every usable file of ``plan`` (names as the records give
    them; several sources: ``"S:name"``)."""
    return {f"{int(s)}:{rel}": file_state(path, content)
            for path, rel, s in zip(plan.files, plan.rel_paths, plan.file_source)}


def _digest(table: dict) -> str:
    return hashlib.sha256(json.dumps(table, sort_keys=True).encode()).hexdigest()


def record_sources(where, plan, content: bool) -> dict:
    """Write ``records/sources.json`` into the store at ``where`` (a folder or a Location; one
    whole object, atomically in a folder); the attribute to store with it
    (``{"source_state": {...}}``)."""
    table = source_table(plan, content)
    storage.put_object(_location(where), SOURCES_KEY, json.dumps(table).encode())
    return {"source_state": {"content": content, "files": len(table), "digest": _digest(table)}}


def _location(where) -> storage.Location:
    return where if isinstance(where, storage.Location) else storage.resolve(os.fspath(where))


def check_sources(where, attrs: dict, plan) -> None:
    """Refuse to resume the store at ``where`` (a folder or a Location) when a source file changed since the store was made: one
    line, then the changed files (StoreError). Stores without a record pass."""
    recorded = attrs.get("source_state")
    if not isinstance(recorded, dict):
        return
    table = source_table(plan, bool(recorded.get("content")))
    if _digest(table) == recorded.get("digest"):
        return
    try:
        before = json.loads(storage.get_object(_location(where), SOURCES_KEY))
    except (OSError, ValueError):
        before = {}
    lines = []
    for name in sorted(set(before) | set(table)):
        old, new = before.get(name), table.get(name)
        if old == new:
            continue
        shown = name.split(":", 1)[1]
        if old is None:
            lines.append(f"{shown}: new since the store was made")
        elif new is None or not new:
            lines.append(f"{shown}: gone or unreadable")
        elif old[0] != new[0]:
            lines.append(f"{shown}: size {old[0]} -> {new[0]} bytes")
        elif old[1] != new[1]:
            lines.append(f"{shown}: modified (mtime changed)")
        else:
            lines.append(f"{shown}: content changed")
    if not lines:
        lines = [f"({SOURCES_NAME} is missing or unreadable)"]
    more = f"\n  ... and {len(lines) - LISTED} more" if len(lines) > LISTED else ""
    raise StoreError(f"{_location(where).url}: {len(lines)} source file(s) changed since the store was made; "
                     "resuming would mix samples of old and new pixels (restore them, or "
                     "--overwrite, or another --out):\n  " + "\n  ".join(lines[:LISTED]) + more)
