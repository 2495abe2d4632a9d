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

from . import storage
from .run.layout import (CHECKSUM_NBYTES, FLAT_KEYS, MISSING_CHUNK, StoreError, chunk_checksum,
                         decode_index, image_arrays, index_nbytes, shard_file, shard_key,
                         store_arrays)

_OPEN_FILES = 32        #: shard files kept open per array and process
_SHARD_INDEXES = 4096   #: decoded shard indexes kept per process (16 bytes per sample each)
_RECORD_CHUNKS = 64     #: decoded records chunks kept per process
#: bytes between two samples of a shard that one ranged GET reads rather than making two
#: requests: a request costs ~2 ms of client time (s3fs), 256 kB at ~1 GB/s on a LAN
_MERGE_GAP = 1 << 18
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


def read_into(fd: int, out: np.ndarray, offset: int, tail: bytearray | None = None) -> int:
    """Fill ``out`` (C-contiguous), then ``tail`` if given (a chunk's checksum), from
    ``offset`` of ``fd``; returns the bytes read into ``out`` (``os.preadv`` straight into
    the array where the platform has it)."""
    preadv = getattr(os, "preadv", None)
    buffers = [out] + ([tail] if tail is not None else [])
    if preadv is not None:
        return min(preadv(fd, buffers, offset), out.nbytes)
    data = read_at(fd, out.nbytes + (len(tail) if tail is not None else 0), offset)
    got = min(len(data), out.nbytes)
    out.reshape(-1).view(np.uint8)[:got] = np.frombuffer(data[:got], np.uint8)
    if tail is not None:
        tail[:len(data) - got] = data[got:]
    return got


def resolve_store(store, storage_options: dict | None = None) -> storage.Location:
    """A reader's store: a path (made absolute), a URL with its options, or a Location."""
    if isinstance(store, storage.Location):
        return store
    if storage_options or not isinstance(store, (str, os.PathLike)):
        return storage.resolve(store, storage_options, what="store")
    return storage.resolve(os.fspath(store), what="store")


def read_store_meta(path, storage_options: dict | None = None) -> dict:
    """``{"attrs": group attributes, "hq"/"lq"/"records": array metadata}`` from the JSON
    objects of the store at ``path`` (a folder or a URL, see :mod:`degrade.storage`).

    Raises
    ------
    StoreError
        Not a zarr store, not a degrade store, or an unfinished one.
    """
    location = resolve_store(path, storage_options)
    root = location.url
    try:
        group = storage.get_object(location, "zarr.json")
    except FileNotFoundError:
        raise StoreError(f"{root}: not a zarr store (no zarr.json)") from None
    except Exception as exc:
        raise StoreError(f"{root}: cannot read the store ({storage.describe_error(exc)})") \
            from None
    try:
        attrs = json.loads(group).get("attributes", {})
        names = store_arrays(attrs)
        arrays = {}
        for name in names:
            try:
                arrays[name] = json.loads(storage.get_object(location, f"{name}/zarr.json"))
            except FileNotFoundError:
                pass
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
                 and meta["data_type"] in ("uint8", "uint16", "float16")
                 and not meta.get("storage_transformers"))
        checksum = inner[-1]["name"] == "crc32c"
        middle = inner[1:-1] if checksum else inner[1:]
        plain = plain and len(middle) <= 1
        compressor = middle[0]["name"] if middle else None
        if not plain or compressor not in (None, "blosc", "zstd"):
            return None
        return {"shard_len": grid[0], "sample_shape": tuple(shape[1:]),
                "dtype": np.dtype(meta["data_type"]).newbyteorder("<"),
                "compressor": compressor, "checksum": checksum, "ndim": len(shape)}
    except (KeyError, TypeError, ValueError, IndexError):
        return None


def _decoder(name: str | None):
    if name is None:
        return None
    import numcodecs
    return numcodecs.Blosc() if name == "blosc" else numcodecs.Zstd()


class StoreReader:
    """Per-process reader of one store: ``read(name, i)`` for hq/lq, ``record(i)``.

    A local store's shard files stay open (``pread``); a store on an object store is read by
    ranged GETs through :class:`degrade.storage.RangeReader` (its own client per process): a
    shard's index once (cached), then one GET per sample; whole shards are never fetched.
    A sample missing from its shard, or whose crc32c does not match, is a StoreError (never
    fill values)."""

    def __init__(self, path, meta: dict, backend: str = "auto",
                 storage_options: dict | None = None):
        self.location = path if isinstance(path, storage.Location) else \
            storage.resolve(path, storage_options)
        self.path, self.meta, self.pid = self.location.url, meta, os.getpid()
        # the shard layouts, for presence checks; ``layouts``: those read directly
        self.shards = {name: direct_layout(meta[name]) for name in image_arrays(meta["attrs"])}
        self.layouts = self.shards if backend == "auto" else dict.fromkeys(self.shards)
        self.decoders = {name: _decoder(layout["compressor"])
                         for name, layout in self.layouts.items() if layout is not None}
        self._remote = None if self.location.is_local else storage.RangeReader(self.location)
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
            self._arrays[name] = zarr.open_array(
                storage.zarr_store(self.location, read_only=True), path=name, mode="r")
        return self._arrays[name]

    def record(self, index: int) -> str:
        """The JSON record of sample ``index``; each records chunk is decoded once (cached)."""
        chunk = self._records_len()
        k, j = divmod(index, chunk)
        texts = self._records.get(k)
        if texts is None:
            texts = self._records_chunk(k, chunk)
            self._keep_records(k, texts)
        if not texts[j]:          # records are never empty: the chunk is missing
            raise StoreError(f"{self.path}: the record of sample {index} is missing "
                             "(the store is damaged; 'degrade inspect --verify' checks it)")
        return texts[j]

    def _records_len(self) -> int:
        return int(self.meta["records"]["chunk_grid"]["configuration"]["chunk_shape"][0])

    def _keep_records(self, k: int, texts: list) -> None:
        with self._lock:
            self._records[k] = texts
            while len(self._records) > _RECORD_CHUNKS:
                self._records.popitem(last=False)

    def _records_codecs(self) -> list | None:
        """The records' codec names when this reader decodes them itself, else None (zarr)."""
        names = [c.get("name") for c in self.meta["records"].get("codecs", [])]
        return names if names in (["vlen-utf8", "zstd"], ["vlen-utf8", "zstd", "crc32c"]) \
            else None

    def prefetch_records(self, indices) -> None:
        """On an object store: the records chunks of ``indices`` not cached yet, fetched
        concurrently in one batch (a DataLoader batch with ``record=True``); a missing one is
        left to :meth:`record` to report."""
        if self._remote is None or self._records_codecs() is None:
            return
        chunk = self._records_len()
        with self._lock:
            missing = sorted({int(i) // chunk for i in indices} - set(self._records))
        keys = [shard_key("records", k, 1) for k in missing]
        for k, key, data in zip(missing, keys,
                                self._remote.read_many([(key, 0, 1 << 62) for key in keys])):
            if not isinstance(data, BaseException):
                self._keep_records(k, self._decode_records(key, data))

    def _records_chunk(self, k: int, chunk: int) -> list[str]:
        """The texts of records chunk ``k``: the object read whole and decoded here (vlen-utf8,
        zstd, crc32c as ``generate`` writes them: no zarr call overhead), else with zarr."""
        if self._records_codecs() is None:
            return [str(t) for t in self._array("records")[k * chunk:(k + 1) * chunk]]
        key = shard_key("records", k, 1)
        try:
            if self._remote is None:
                data = Path(self.path, key).read_bytes()
            else:
                data = self._remote.read(key, 0, 1 << 62)
        except FileNotFoundError:
            raise StoreError(f"{self.path}/{key}: records chunk missing (the store is "
                             "incomplete)") from None
        return self._decode_records(key, data)

    def _decode_records(self, key: str, data: bytes) -> list[str]:
        import numcodecs

        if self._records_codecs()[-1] == "crc32c":
            data, crc = data[:-CHECKSUM_NBYTES], data[-CHECKSUM_NBYTES:]
            if chunk_checksum(data) != bytes(crc):
                raise StoreError(f"{self.path}/{key}: records chunk fails its crc32c (damaged)")
        texts = numcodecs.VLenUTF8().decode(numcodecs.Zstd().decode(data))
        return [str(t) for t in texts]

    # -- direct shard reads --------------------------------------------------------------------
    def _key(self, name: str, shard: int, layout: dict) -> str:
        return shard_key(name, shard, layout["ndim"])

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

    def _index(self, name: str, shard: int, layout: dict) -> np.ndarray:
        """The shard's decoded index, read once (the last bytes of the shard object)."""
        key = (name, shard)
        index = self._indexes.get(key)
        if index is None:
            size = index_nbytes(layout["shard_len"])
            if self._remote is None:
                fd = self._file(name, shard, layout)
                end = os.fstat(fd).st_size
                raw = read_at(fd, size, end - size) if end >= size else b""
            else:
                try:
                    raw = self._remote.read(self._key(name, shard, layout), -size, size)
                except FileNotFoundError:
                    raise StoreError(f"{self.path}/{self._key(name, shard, layout)}: shard "
                                     "object missing (the store is incomplete)") from None
            index = decode_index(raw, layout["shard_len"])
            if index is None:
                raise StoreError(f"{self.path}/{self._key(name, shard, layout)}: shard "
                                 "index is truncated or corrupt (crc32c mismatch)")
            self._indexes[key] = index
            while len(self._indexes) > _SHARD_INDEXES:
                self._indexes.popitem(last=False)
        return index

    def _entry(self, name: str, index: int, layout: dict) -> tuple[int, int]:
        """(offset, nbytes) of sample ``index`` in its shard; StoreError when it is missing."""
        shard, j = divmod(index, layout["shard_len"])
        offset, nbytes = self._index(name, shard, layout)[j]
        if offset == MISSING_CHUNK:
            raise StoreError(f"{self.path}/{self._key(name, shard, layout)}: sample {index} is "
                             "missing from its shard (the store is damaged; 'degrade inspect "
                             "--verify' checks it)")
        return int(offset), int(nbytes)

    def _damaged(self, name: str, index: int, layout: dict, why: str) -> StoreError:
        key = self._key(name, index // layout["shard_len"], layout)
        return StoreError(f"{self.path}/{key}: sample {index} {why}")

    def read(self, name: str, index: int) -> np.ndarray:
        """Sample ``index`` of ``hq`` or ``lq`` in its stored dtype, a writable array."""
        layout = self.layouts[name]
        if layout is None:
            if self.shards[name] is not None:     # present? (zarr would give fill values)
                with self._lock:
                    self._entry(name, index, self.shards[name])
            return np.asarray(self._array(name)[index])
        dtype, shape = layout["dtype"], layout["sample_shape"]
        decoder, check = self.decoders[name], layout["checksum"]
        crc = bytearray(CHECKSUM_NBYTES) if check else None
        data = None
        with self._lock:
            offset, nbytes = self._entry(name, index, layout)
            if self._remote is not None:
                pass
            elif decoder is None:
                out = np.empty(shape, dtype)
                got = read_into(self._file(name, index // layout["shard_len"], layout), out,
                                offset, crc)
            else:
                data = read_at(self._file(name, index // layout["shard_len"], layout), nbytes,
                               offset)
        if self._remote is not None:         # one ranged GET, outside the lock
            data = self._remote.read(self._key(name, index // layout["shard_len"], layout),
                                     offset, nbytes)
        if data is not None:                 # compressed, or read from an object store
            return self._decode(name, index, layout, data, nbytes)
        if got != out.nbytes:
            raise self._damaged(name, index, layout, f"is truncated ({got} of {out.nbytes} "
                                "bytes)")
        if check and chunk_checksum(out.reshape(-1).view(np.uint8)) != bytes(crc):
            raise self._damaged(name, index, layout, "fails its crc32c (damaged)")
        return out.astype(dtype.newbyteorder("="), copy=False)

    def _decode(self, name: str, index: int, layout: dict, data: bytes, nbytes: int):
        """A sample from its stored chunk bytes: length and crc32c checked, decompressed."""
        dtype, shape = layout["dtype"], layout["sample_shape"]
        if len(data) != nbytes:
            raise self._damaged(name, index, layout, f"is truncated ({len(data)} of "
                                f"{nbytes} bytes)")
        if layout["checksum"]:
            data, crc = data[:-CHECKSUM_NBYTES], data[-CHECKSUM_NBYTES:]
            if chunk_checksum(data) != bytes(crc):
                raise self._damaged(name, index, layout, "fails its crc32c (damaged)")
        decoder = self.decoders[name]
        flat = np.frombuffer(data if decoder is None else decoder.decode(data), dtype)
        if flat.size != int(np.prod(shape)):
            raise self._damaged(name, index, layout, f"has {flat.size} values, expected "
                                f"{int(np.prod(shape))}")
        return flat.reshape(shape).astype(dtype.newbyteorder("="), copy=True)

    def read_many(self, names, indices) -> dict:
        """``{name: [sample of each index]}``: :meth:`read` of several samples of the arrays
        ``names`` (a DataLoader batch: ``PairDataset.__getitems__``). On an object store the
        batch costs few requests: the shard indexes not cached yet are fetched together, the
        samples' byte ranges within a shard are sorted and merged where they are adjacent or
        less than ``_MERGE_GAP`` apart, and every resulting ranged GET, for all arrays and
        shards, goes out concurrently in one batch. The bytes between merged samples are the
        only extra data read; whole shards are never fetched for a sample."""
        indices = [int(i) for i in indices]
        out = {}
        direct = [name for name in names if self.layouts[name] is not None]
        for name in names:
            if self._remote is None or name not in direct:
                out[name] = [self.read(name, i) for i in indices]
        if self._remote is None or not direct:
            return out
        self._fetch_indexes({(name, i // self.layouts[name]["shard_len"]) for name in direct
                             for i in indices})
        with self._lock:
            entries = {(name, i): self._entry(name, i, self.layouts[name])
                       for name in direct for i in indices}
        by_key: dict = {}
        for (name, i), (offset, nbytes) in entries.items():
            key = self._key(name, i // self.layouts[name]["shard_len"], self.layouts[name])
            by_key.setdefault(key, []).append((offset, nbytes, name, i))
        requests, pieces = [], []         # pieces[k]: (name, index, start in request k, nbytes)
        for key, parts in by_key.items():
            parts.sort()
            for offset, nbytes, name, i in parts:
                if requests and requests[-1][0] == key and \
                        offset - (requests[-1][1] + requests[-1][2]) <= _MERGE_GAP:
                    _, first, length = requests[-1]
                    requests[-1] = (key, first, max(length, offset + nbytes - first))
                    pieces[-1].append((name, i, offset - first, nbytes))
                else:
                    requests.append((key, offset, nbytes))
                    pieces.append([(name, i, 0, nbytes)])
        samples = {}
        for (key, _, _), data, group in zip(requests, self._remote.read_many(requests), pieces):
            if isinstance(data, BaseException):
                raise StoreError(f"{self.path}/{key}: samples {[i for _, i, _, _ in group]} "
                                 f"unreadable ({storage.describe_error(data)})")
            view = memoryview(data)
            for name, i, start, nbytes in group:
                samples[name, i] = self._decode(name, i, self.layouts[name],
                                                view[start:start + nbytes], nbytes)
        for name in direct:                 # an index asked twice gets its own array
            seen: set = set()
            out[name] = [samples[name, i].copy() if i in seen or seen.add(i) else
                         samples[name, i] for i in indices]
        return out

    def _fetch_indexes(self, shards) -> None:
        """Read and cache the indexes of ``{(name, shard)}`` not cached yet, concurrently."""
        with self._lock:
            missing = sorted(key for key in shards if key not in self._indexes)
        if not missing:
            return
        sizes = [index_nbytes(self.layouts[name]["shard_len"]) for name, _ in missing]
        keys = [self._key(name, shard, self.layouts[name]) for name, shard in missing]
        raws = self._remote.read_many([(key, -size, size) for key, size in zip(keys, sizes)])
        for (name, shard), key, raw in zip(missing, keys, raws):
            if isinstance(raw, FileNotFoundError):
                raise StoreError(f"{self.path}/{key}: shard object missing (the store is "
                                 "incomplete)")
            if isinstance(raw, BaseException):
                raise StoreError(f"{self.path}/{key}: shard index unreadable "
                                 f"({storage.describe_error(raw)})")
            index = decode_index(raw, self.layouts[name]["shard_len"])
            if index is None:
                raise StoreError(f"{self.path}/{key}: shard index is truncated or corrupt "
                                 "(crc32c mismatch)")
            with self._lock:
                self._indexes[name, shard] = index
                while len(self._indexes) > _SHARD_INDEXES:
                    self._indexes.popitem(last=False)
