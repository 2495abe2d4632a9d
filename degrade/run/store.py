"""The zarr v3 training store: creation, attributes, whole-shard writes and resume detection.

The layout (names, chunk keys, shard files, the shard index) is defined in :mod:`.layout`,
which the readers share. A shard of all three arrays is written by exactly one task, in one
call per array, so no two writers ever touch one file (zarr loses samples when they do). A
file is written to a temporary name and renamed, so a shard file that exists is complete: a
shard is done when its ``hq``, ``lq`` and ``records`` files all exist, which is how a re-run
resumes.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import uuid
from pathlib import Path

import numpy as np

from .. import storage
from .._quantise import DTYPE_SCALE, dequantise  # noqa: F401  (part of the store's API)
from .._quantise import quantise as _quantise
from .layout import (ARRAYS, FINGERPRINT_KEYS, FLAT_KEYS, StoreError, chunk_checksum,
                     encode_index, shard_file, shard_key, store_arrays)


def as_location(where) -> storage.Location:
    """A store's :class:`~degrade.storage.Location` from a Location, a path or a URL."""
    return where if isinstance(where, storage.Location) else storage.resolve(where)


def quantise(image: np.ndarray, dtype: str, out: np.ndarray | None = None) -> np.ndarray:
    """The store encoding: float32 [0, 1] -> the stored dtype,
    ``floor(clip(x, 0, 1) * scale + 0.5)`` (round half up) or float16 as is
    (:func:`degrade._quantise.quantise`, rule ``"half_up"``). ``out``: a C-contiguous
    array of ``image``'s shape and ``dtype`` to write into (a slot of a shard buffer)."""
    return _quantise(image, dtype, "half_up", out)


def compressors(name: str):
    """The zarr codec of a ``compression`` name; StoreError for an unknown one."""
    from zarr.codecs import BloscCodec, ZstdCodec
    if name == "none":
        return None
    if name == "lz4":
        return BloscCodec(cname="lz4", clevel=5, shuffle="noshuffle")
    if name == "zstd":
        return ZstdCodec(level=3)
    raise StoreError(f"compression = {name!r}: expected 'none', 'lz4' or 'zstd'")


def create_store(where, *, num: int, shard_size: int, hq_shape, lq_shape, dtypes: dict,
                 compression: str, attrs: dict, publish: bool = True, checksums: bool = True):
    """Create the group with empty ``hq``/``lq``/``records`` arrays (and one per extra
    target in ``attrs["extra_targets"]``, shaped as ``hq``, its type in ``dtypes``) and the
    attributes.

    A local store is made aside, in a staging folder inside its folder
    (:func:`staging_folder`), and then published (:func:`publish_store`: the arrays moved
    in, the group's ``zarr.json`` last), so a run killed during creation leaves no
    ``zarr.json`` and the next run creates the store again instead of refusing a half-made
    one. ``publish=False`` leaves it in the staging folder (``--overwrite`` publishes it
    after its first shard); the group returned is then the staged one. An object store is
    created in place.

    ``checksums``: every stored chunk (a sample of hq/lq, a shard of records) ends with its
    crc32c (zarr's ``crc32c`` codec), so a damaged sample is an error, never wrong pixels;
    the decoded arrays are the same either way."""
    import zarr
    from zarr.codecs import Crc32cCodec, ZstdCodec

    location = as_location(where)
    staging = staging_folder(location.url) if location.is_local else None
    if staging is not None:
        group = zarr.open_group(str(staging), mode="w", zarr_format=3)
    else:   # "a": zarr's "w" deletes every object under the prefix, the run's lease among
        # them; the caller made sure no store is there (remove_store, is_empty)
        group = zarr.open_group(storage.zarr_store(location), mode="a", zarr_format=3)
    codecs = compressors(compression)
    check = [Crc32cCodec()] if checksums else []
    codecs = [c for c in (codecs,) if c is not None] + check
    shard = min(shard_size, num)
    config = {"write_empty_chunks": True}
    extra = [(name, hq_shape) for name in store_arrays(attrs)[3:]]
    for name, shape in [("hq", hq_shape), ("lq", lq_shape)] + extra:
        shape = tuple(int(n) for n in shape)
        dims = ("sample", "y", "x", "c")[: 1 + len(shape)]
        group.create_array(name, shape=(num,) + shape, dtype=dtypes[name], chunks=(1,) + shape,
                           shards=(shard,) + shape, compressors=codecs or None, config=config,
                           dimension_names=dims, fill_value=0, chunk_key_encoding=FLAT_KEYS)
    # records: one plain chunk per shard (a sharded string array costs ~13 ms per 64-sample
    # write against ~1 ms; reading one record decodes its shard's JSON, well under 1 ms)
    group.create_array("records", shape=(num,), dtype=str, chunks=(shard,),
                       compressors=[ZstdCodec(level=3)] + check, config=config,
                       dimension_names=("sample",), chunk_key_encoding=FLAT_KEYS)
    group.update_attributes(attrs)          # one metadata write (attrs.update writes per key)
    if staging is None or not publish:
        return group
    publish_store(staging, location.url)
    return zarr.open_group(location.url, mode="r+")


#: what every store holds (its own keys, with the extra target arrays its attributes name:
#: :func:`own_arrays`); ``--overwrite`` removes these and nothing else
STORE_KEYS = ARRAYS + ("zarr.json",)
#: prefix of the staging folders inside a store (a store being made, or replaced)
STAGING_PREFIX = ".degrade-staging-"


def staging_folder(path) -> Path:
    """A new, empty staging folder inside the store folder ``path`` (same file system, so
    publishing is a rename)."""
    folder = Path(path) / f"{STAGING_PREFIX}{uuid.uuid4().hex[:12]}"
    folder.mkdir(parents=True)
    return folder


def own_arrays(path) -> tuple[str, ...]:
    """The arrays of the store in folder ``path``: ``hq``, ``lq``, ``records`` and the extra
    targets its ``zarr.json`` names; without a readable group ``zarr.json`` (a creation cut
    short), every sub-folder that holds a zarr array."""
    path = Path(path)
    try:
        attrs = json.loads((path / "zarr.json").read_text(encoding="utf-8")).get("attributes")
        return store_arrays(attrs if isinstance(attrs, dict) else {})
    except (OSError, ValueError, AttributeError):
        pass
    found = []
    with contextlib.suppress(OSError):
        for entry in path.iterdir():
            try:
                meta = json.loads((entry / "zarr.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(meta, dict) and meta.get("node_type") == "array":
                found.append(entry.name)
    return ARRAYS + tuple(sorted(set(found) - set(ARRAYS)))


def publish_store(staging, path) -> None:
    """Move a staged store into ``path``: any old store keys out of the way first (the old
    ``zarr.json`` first of all, so a kill in between leaves an unfinished store, which the
    next run makes again), then the new arrays, the new ``zarr.json`` last."""
    staging, path = Path(staging), Path(path)
    remove_store_keys(path)
    for name in own_arrays(staging):
        os.replace(staging / name, path / name)
    os.replace(staging / "zarr.json", path / "zarr.json")
    shutil.rmtree(staging, ignore_errors=True)


def remove_store_keys(path) -> None:
    """Remove a store's own keys (``zarr.json`` first), leaving any other file in its folder."""
    path = Path(path)
    arrays = own_arrays(path)             # read from zarr.json before it goes
    with contextlib.suppress(FileNotFoundError):
        (path / "zarr.json").unlink()
    for name in arrays:
        if (path / name).is_dir() and not (path / name).is_symlink():
            shutil.rmtree(path / name)
        else:
            with contextlib.suppress(FileNotFoundError):
                (path / name).unlink()


def remove_staging(path) -> None:
    """Remove what a killed run left in the store folder ``path``: staging folders, and the
    ``.partial`` files of writes it did not finish (the caller holds the lease, so no other
    run is writing them)."""
    path = Path(path)
    for entry in path.glob(STAGING_PREFIX + "*"):
        shutil.rmtree(entry, ignore_errors=True)
    for folder in (path,) + tuple(path / name for name in own_arrays(path)):
        for entry in folder.glob("*.partial"):
            with contextlib.suppress(OSError):
                entry.unlink()


def store_state(path) -> tuple[str, list[str]]:
    """What the folder ``path`` holds: ('absent' | 'empty' | 'store' | 'unfinished' |
    'foreign', the names of the files that are not the store's own).

    'empty': nothing but a lease or staging folders; 'store': a ``zarr.json`` (whatever
    else is beside it); 'unfinished': store arrays without the group's ``zarr.json`` (a
    creation or a replacement that was killed); 'foreign': other files and no ``zarr.json``.
    """
    from .lease import LEASE_NAME

    path = Path(path)
    if not path.exists():
        return "absent", []
    if not path.is_dir():
        return "foreign", [path.name]
    names = [entry.name for entry in path.iterdir()]
    arrays = own_arrays(path)
    own = set(arrays) | {LEASE_NAME, LEASE_NAME + ".break"}
    other = sorted(n for n in names if n not in own and n != "zarr.json"
                   and not n.startswith(STAGING_PREFIX))
    if "zarr.json" in names:
        return "store", other
    if other:
        return "foreign", other
    return ("unfinished" if any(n in own - {LEASE_NAME, LEASE_NAME + ".break"}
                                for n in names) else "empty"), other


def has_group(location: storage.Location) -> bool:
    """Whether ``location`` holds a zarr group (its ``zarr.json``)."""
    if location.is_local:
        return Path(location.url, "zarr.json").is_file()
    try:
        return storage.filesystem(location).isfile(location.key_path("zarr.json"))
    except FileNotFoundError:
        return False


def is_empty(location: storage.Location) -> bool:
    """Nothing at ``location`` yet (an absent or empty folder or prefix; on an object store
    the run's own lease object does not count)."""
    from .lease import LEASE_NAME

    if location.is_local:
        path = Path(location.url)
        return not path.exists() or (path.is_dir() and not any(path.iterdir()))
    return not [key for key in storage.list_keys(location) if key != LEASE_NAME]


def open_store(where, mode: str = "r"):
    """Open an existing store's group; StoreError if it is not a degrade store."""
    import zarr

    location = as_location(where)
    path = location.url
    if not has_group(location):
        raise StoreError(f"{path}: not a zarr store (no zarr.json)")
    try:
        group = zarr.open_group(storage.zarr_store(location, read_only=mode == "r"), mode=mode)
    except Exception as exc:
        raise StoreError(f"{path}: cannot open the zarr group ({exc})") from None
    attrs = dict(group.attrs)
    if "degrade" not in attrs or any(name not in group for name in store_arrays(attrs)):
        raise StoreError(f"{path}: a zarr group, but not a degrade store (no degrade attributes "
                         "or no hq/lq/records arrays)")
    return group


def remove_store(where) -> None:
    """Delete an existing store (``--overwrite``): its own keys (``zarr.json`` and its arrays),
    other files or objects beside them stay; refuses folders that are not zarr stores."""
    location = as_location(where)
    if not location.is_local:
        from .lease import LEASE_NAME      # the run's own lease stays

        keys = [key for key in storage.list_keys(location) if key != LEASE_NAME]
        if not keys:
            return
        if "zarr.json" not in keys:
            raise StoreError(f"{location.url} holds objects and is not a zarr store; refusing "
                             "to delete them (choose another --out)")
        try:    # the store's own keys, as remove_store_keys takes them; other objects stay
            attrs = json.loads(storage.get_object(location, "zarr.json")).get("attributes")
        except (OSError, ValueError, AttributeError):
            attrs = None
        arrays = store_arrays(attrs if isinstance(attrs, dict) else {})
        fs = storage.filesystem(location)
        fs.rm(location.key_path("zarr.json"))              # first: no group over missing arrays
        own = [location.key_path(key) for key in keys if key.split("/", 1)[0] in arrays]
        if own:
            fs.rm(own)
        return
    path = Path(location.url)
    if not path.exists():
        return
    if path.is_dir() and not any(path.iterdir()):
        return
    if not (path / "zarr.json").is_file():
        raise StoreError(f"{path} exists and is not a zarr store; refusing to delete it "
                         "(choose another --out)")
    shutil.rmtree(path)


def fingerprint_mismatch(attrs: dict, wanted: dict) -> list[str]:
    """Differences between a store's attributes and the run's fingerprint, as text lines."""
    lines = []
    for key in FINGERPRINT_KEYS:
        have, want = attrs.get(key), wanted.get(key)
        if json.dumps(have, sort_keys=True) != json.dumps(want, sort_keys=True):
            if key == "recipe_hash":
                have = f"{attrs.get('recipe_name')} ({str(have)[:12]})"
                want = f"{wanted.get('recipe_name')} ({str(want)[:12]})"
            elif key == "listing_hash":
                have, want = str(have)[:12] + " (other source files)", str(want)[:12]
            lines.append(f"{key}: store has {have}, this run wants {want}")
    return lines


def done_shards(where, n_shards: int, ndims: dict) -> set[int]:
    """Shards whose objects of every array in ``ndims`` (name -> ndim, all of
    :func:`.layout.store_arrays`) exist (each written whole), from one listing."""
    from .verify import present_shards
    return present_shards(as_location(where), n_shards, ndims)


def _sample_codec(name: str):
    """The numcodecs object behind zarr's codec of the same configuration (see compressors)."""
    import numcodecs
    if name == "lz4":
        return numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.NOSHUFFLE)
    if name == "zstd":
        return numcodecs.Zstd(level=3)
    return None


def shard_parts(samples: np.ndarray, shard_len: int, compression: str,
                checksums: bool = True) -> list:
    """The buffers that make one shard file of ``hq``/``lq`` (zarr v3 ``sharding_indexed``).

    Inner chunks are single samples, encoded with the ``bytes`` codec (little endian) and the
    optional compressor, then the index (:func:`.layout.encode_index`). This is what zarr writes for the array metadata made by
    :func:`create_store` (a test compares the bytes), built in one pass: zarr's own writer
    spends ~0.15 ms of asyncio bookkeeping per inner chunk, as much as a small sample costs.
    """
    data = np.ascontiguousarray(samples, dtype=samples.dtype.newbyteorder("<"))
    count = data.shape[0]
    codec = _sample_codec(compression)
    if codec is None and not checksums:
        parts = [memoryview(data.reshape(-1).view(np.uint8))]
        lengths = np.full(count, data[0].nbytes, np.uint64)
        return parts + [encode_index(lengths, shard_len)]
    flat = data.reshape(count, -1).view(np.uint8)
    chunks = [memoryview(flat[i]) if codec is None else bytes(codec.encode(flat[i]))
              for i in range(count)]
    if checksums:          # zarr's crc32c codec: the chunk's crc32c appended
        chunks = [part for chunk in chunks for part in (chunk, chunk_checksum(chunk))]
        lengths = np.array([len(c) + 4 for c in chunks[::2]], np.uint64)
    else:
        lengths = np.array([len(c) for c in chunks], np.uint64)
    return chunks + [encode_index(lengths, shard_len)]


def encode_shard(samples: np.ndarray, shard_len: int, compression: str,
                 checksums: bool = True) -> bytes:
    """The bytes of one shard file (see :func:`shard_parts`)."""
    return b"".join(shard_parts(samples, shard_len, compression, checksums))


def _write_atomic(target: Path, parts: list) -> None:
    temporary = target.with_name(f"{target.name}.{uuid.uuid4().hex}.partial")
    try:
        handle = open(temporary, "wb")
    except FileNotFoundError:          # the array's folder does not exist yet
        target.parent.mkdir(parents=True, exist_ok=True)
        handle = open(temporary, "wb")
    try:
        with handle:
            for part in parts:
                handle.write(part)
        os.replace(temporary, target)
    except BaseException:             # a full disk, a kill signal: leave no .partial behind
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise


def records_chunk(records: list[str], shard_len: int, checksums: bool = True) -> bytes:
    """The bytes of one ``records`` chunk: zarr's ``vlen-utf8`` then ``zstd`` (level 3) codecs
    over ``shard_len`` strings (the last, partial shard padded with the fill value ``""``),
    exactly what zarr writes for this array (a test compares the bytes)."""
    import numcodecs

    items = np.array(list(records) + [""] * (shard_len - len(records)), dtype=object)
    data = bytes(numcodecs.Zstd(level=3, checksum=False).encode(numcodecs.VLenUTF8().encode(items)))
    return data + chunk_checksum(data) if checksums else data


def write_shard(where, shard: int, shard_len: int, hq: np.ndarray, lq: np.ndarray,
                records: list[str], compression: str = "none", checksums: bool = True,
                extra: dict | None = None) -> None:
    """Write one whole shard of the arrays, each object whole: a local file to a temporary
    name then renamed, an object in one PUT (see :mod:`degrade.storage`).

    Order (local): records, the extra targets (``extra``: name -> array), lq, hq; on an
    object store the PUTs go out together. A shard counts as done only when all its objects
    exist.
    ``shard_len`` is the arrays' shard length (samples per shard file); ``checksums``: the
    store's chunks end with a crc32c (:func:`create_store`).
    """
    location = as_location(where)
    parts = [("records", 1, [records_chunk(records, shard_len, checksums)])] + [
        (name, data.ndim, shard_parts(data, shard_len, compression, checksums))
        for name, data in [*(extra or {}).items(), ("lq", lq), ("hq", hq)]]
    if not location.is_local:          # concurrent PUTs: one wait for the shard's objects
        storage.put_objects(location, {shard_key(name, shard, ndim): chunks
                                       for name, ndim, chunks in parts})
        return
    for name, ndim, chunks in parts:
        _write_atomic(shard_file(location.url, name, shard, ndim), chunks)


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
