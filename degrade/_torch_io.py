"""Reading a degrade store one sample at a time, once per process (used by degrade.torch).

The store's metadata comes from its ``zarr.json`` files (plain JSON: nothing is opened with
zarr in the process that builds a Dataset). A :class:`StoreReader` is made in each process
on first use. For ``hq``/``lq`` it reads the layout ``degrade generate`` writes (zarr v3
``sharding_indexed``, one sample per inner chunk, ``bytes`` codec, optional blosc or zstd;
see :func:`degrade.run.store.encode_shard`) straight from the shard files: the shard's
index (``(offset, nbytes)`` per sample, then its crc32c) is read and checked once per shard,
then a sample is one ``pread`` (a seek and a read where the platform has none: Windows).
zarr's ``z[i]`` costs a fixed asyncio overhead per call several times a 256x256 sample's
read (docs/torch.md). Any other layout (another codec chain, a non-default chunk key) is read with zarr ``z[i]``, one
sample per call (never fancy indexing: it decodes whole shards).
"""
from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from .run.layout import (FLAT_KEYS, MISSING_CHUNK, StoreError, decode_index, image_arrays,
                         index_nbytes, shard_file, store_arrays)

_OPEN_FILES = 32        #: shard files kept open per array and process
_SHARD_INDEXES = 4096   #: decoded shard indexes kept per process (16 bytes per sample each)
#: open shard files as bytes (Windows opens in text mode without O_BINARY)
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0)


def read_at(fd: int, nbytes: int, offset: int) -> bytes:
    """``nbytes`` (fewer at the end of the file) from ``offset`` of ``fd``: ``os.pread``
    where the platform has it, else a seek and reads (Windows has no ``pread``; the caller
    holds the reader's lock, so no other read moves the file position meanwhile)."""
    pread = getattr(os, "pread", None)
    if pread is not None:
        return pread(fd, nbytes, offset)
    os.lseek(fd, offset, os.SEEK_SET)
    parts, left = [], nbytes
    while left > 0:
        part = os.read(fd, left)
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def read_into(fd: int, out: np.ndarray, offset: int) -> int:
    """Fill ``out`` (C-contiguous) from ``offset`` of ``fd``; returns the bytes read
    (``os.preadv`` straight into the array where the platform has it)."""
    preadv = getattr(os, "preadv", None)
    if preadv is not None:
        return preadv(fd, [out], offset)
    data = read_at(fd, out.nbytes, offset)
    out.reshape(-1).view(np.uint8)[:len(data)] = np.frombuffer(data, np.uint8)
    return len(data)


def read_store_meta(path) -> dict:
    """``{"attrs": group attributes, "hq"/"lq"/"records": array metadata}`` from the JSON files.

    Raises
    ------
    StoreError
        Not a zarr store, not a degrade store, or an unfinished one.
    """
    root = Path(path)
    if not (root / "zarr.json").is_file():
        raise StoreError(f"{root}: not a zarr store (no zarr.json)")
    try:
        attrs = json.loads((root / "zarr.json").read_text()).get("attributes", {})
        names = store_arrays(attrs)
        arrays = {name: json.loads((root / name / "zarr.json").read_text())
                  for name in names if (root / name / "zarr.json").is_file()}
    except (OSError, ValueError) as exc:
        raise StoreError(f"{root}: cannot read the store metadata ({exc})") from None
    if "degrade" not in attrs or len(arrays) != len(names):
        raise StoreError(f"{root}: a zarr group, but not a degrade store (no degrade attributes "
                         "or no hq/lq/records arrays)")
    if attrs.get("complete") is not True:
        raise StoreError(f"{root}: the store is unfinished (complete = false); run the same "
                         "'degrade generate' command again to finish it")
    return {"attrs": attrs, **arrays}


def _codec_config(codec: dict) -> dict:
    return codec.get("configuration") or {}


def direct_layout(meta: dict) -> dict | None:
    """The shard layout of an ``hq``/``lq`` array if it can be read directly, else None."""
    try:
        (codec,) = meta["codecs"]
        conf = _codec_config(codec)
        shape = [int(n) for n in meta["shape"]]
        key = meta["chunk_key_encoding"]
        grid = [int(n) for n in meta["chunk_grid"]["configuration"]["chunk_shape"]]
        inner = conf["codecs"]
        index_codecs = conf["index_codecs"]
        plain = (codec["name"] == "sharding_indexed"
                 and conf.get("index_location", "end") == "end"
                 and [int(n) for n in conf["chunk_shape"]] == [1] + shape[1:]
                 and grid[1:] == shape[1:]
                 and key["name"] == FLAT_KEYS["name"]
                 and _codec_config(key).get("separator", "/") == FLAT_KEYS["separator"]
                 and [c["name"] for c in index_codecs] == ["bytes", "crc32c"]
                 and _codec_config(index_codecs[0]).get("endian", "little") == "little"
                 and inner[0]["name"] == "bytes"
                 and _codec_config(inner[0]).get("endian", "little") == "little"
                 and len(inner) <= 2
                 and meta["data_type"] in ("uint8", "uint16", "float16")
                 and not meta.get("storage_transformers"))
        compressor = inner[1]["name"] if len(inner) == 2 else None
        if not plain or compressor not in (None, "blosc", "zstd"):
            return None
        return {"shard_len": grid[0], "sample_shape": tuple(shape[1:]),
                "dtype": np.dtype(meta["data_type"]).newbyteorder("<"),
                "fill": meta.get("fill_value", 0), "compressor": compressor,
                "ndim": len(shape)}
    except (KeyError, TypeError, ValueError, IndexError):
        return None


def _decoder(name: str | None):
    if name is None:
        return None
    import numcodecs
    return numcodecs.Blosc() if name == "blosc" else numcodecs.Zstd()


class StoreReader:
    """Per-process reader of one store: ``read(name, i)`` for hq/lq, ``record(i)``."""

    def __init__(self, path: str, meta: dict, backend: str = "auto"):
        self.path, self.meta, self.pid = path, meta, os.getpid()
        self.layouts = {name: direct_layout(meta[name]) if backend == "auto" else None
                        for name in image_arrays(meta["attrs"])}
        self.decoders = {name: _decoder(layout["compressor"])
                         for name, layout in self.layouts.items() if layout is not None}
        self._arrays: dict = {}
        self._files: OrderedDict = OrderedDict()
        self._indexes: OrderedDict = OrderedDict()
        self._records: OrderedDict = OrderedDict()
        # file descriptors are closed when evicted: the lookup and the read must not interleave
        # with another thread's eviction (a reused descriptor number would read another file)
        self._lock = threading.Lock()

    def __del__(self):
        if getattr(self, "pid", None) == os.getpid():
            for fd in getattr(self, "_files", {}).values():
                try:
                    os.close(fd)
                except OSError:
                    pass

    # -- zarr (fallback, and records) --------------------------------------------------------
    def _array(self, name: str):
        if name not in self._arrays:
            import zarr
            self._arrays[name] = zarr.open_array(self.path, path=name, mode="r")
        return self._arrays[name]

    def record(self, index: int) -> str:
        """The JSON record of sample ``index``; each records chunk is decoded once (cached)."""
        chunk = int(self.meta["records"]["chunk_grid"]["configuration"]["chunk_shape"][0])
        k, j = divmod(index, chunk)
        texts = self._records.get(k)
        if texts is None:
            texts = [str(t) for t in self._array("records")[k * chunk:(k + 1) * chunk]]
            with self._lock:
                self._records[k] = texts
                while len(self._records) > 16:
                    self._records.popitem(last=False)
        return texts[j]

    # -- direct shard reads --------------------------------------------------------------------
    def _file(self, name: str, shard: int, layout: dict) -> int:
        key = (name, shard)
        fd = self._files.get(key)
        if fd is None:
            path = shard_file(self.path, name, shard, layout["ndim"])
            try:
                fd = os.open(path, _OPEN_FLAGS)
            except FileNotFoundError:
                raise StoreError(f"{path}: shard file missing (the store is incomplete)") from None
            self._files[key] = fd
            while len(self._files) > _OPEN_FILES:
                os.close(self._files.popitem(last=False)[1])
        return fd

    def _index(self, name: str, shard: int, fd: int, layout: dict) -> np.ndarray:
        key = (name, shard)
        index = self._indexes.get(key)
        if index is None:
            size = index_nbytes(layout["shard_len"])
            end = os.fstat(fd).st_size
            index = decode_index(read_at(fd, size, end - size) if end >= size else b"",
                                 layout["shard_len"])
            if index is None:
                raise StoreError(f"{shard_file(self.path, name, shard, layout['ndim'])}: shard "
                                 "index is truncated or corrupt (crc32c mismatch)")
            self._indexes[key] = index
            while len(self._indexes) > _SHARD_INDEXES:
                self._indexes.popitem(last=False)
        return index

    def read(self, name: str, index: int) -> np.ndarray:
        """Sample ``index`` of ``hq`` or ``lq`` in its stored dtype, a writable array."""
        layout = self.layouts[name]
        if layout is None:
            return np.asarray(self._array(name)[index])
        shard, j = divmod(index, layout["shard_len"])
        dtype, shape = layout["dtype"], layout["sample_shape"]
        decoder = self.decoders[name]
        with self._lock:
            fd = self._file(name, shard, layout)
            offset, nbytes = self._index(name, shard, fd, layout)[j]
            if offset == MISSING_CHUNK:
                return np.full(shape, layout["fill"], dtype.newbyteorder("="))
            if decoder is None:
                out = np.empty(shape, dtype)
                got = read_into(fd, out, int(offset))
            else:
                data = read_at(fd, int(nbytes), int(offset))
        if decoder is not None:
            out = np.frombuffer(decoder.decode(data), dtype).reshape(shape).copy()
            got = out.nbytes
        if got != out.nbytes:
            raise StoreError(f"{shard_file(self.path, name, shard, layout['ndim'])}: sample "
                             f"{index} is truncated ({got} of {out.nbytes} bytes)")
        return out.astype(dtype.newbyteorder("="), copy=False)
