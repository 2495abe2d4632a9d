"""The layout of a degrade store, one definition for its writer (:mod:`.store`) and its
readers (:mod:`degrade._torch_io`, :mod:`.inspect`): names, chunk keys, shard files and the
shard index.

Layout of a store (a directory, zarr v3 group)::

    hq       (N, H, W, C) or (N, H, W)   one chunk per sample, shards of S samples (hq/c.K.0.0.0)
    lq       (N, h, w, C) or (N, h, w)   same sharding
    records  (N,) string                 one JSON document per sample; one chunk per shard
    NAME     as hq                       each extra target of the recipe (``target.extra``),
                                         listed in the attribute ``extra_targets``
    zarr.json                            the group attributes

:func:`store_arrays` gives a store's arrays from its attributes: writer, readers and checks
all take the list from there. A store without extra targets has no ``extra_targets``
attribute (its bytes are those of a store made before extra targets existed).

A shard file of ``hq``/``lq`` (zarr v3 ``sharding_indexed``) holds its samples, one inner
chunk each, then the index: ``(offset, nbytes)`` as little-endian uint64 per sample in
sample order (``MISSING_CHUNK`` for chunks past the array's end), then its crc32c
(:func:`encode_index`, :func:`decode_index`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .._errors import DegradeError

STORE_FORMAT = 1
ARRAYS = ("hq", "lq", "records")    #: the arrays of every store (see :func:`store_arrays`)
#: v3 "default" chunk keys with "." separators: every shard file sits directly in its
#: array's folder (``hq/c.12.0.0.0``) instead of nested folders (``hq/c/12/0/0/0``), which
#: saves ~3 mkdir calls per file (0.25 ms each here); readers see no difference.
FLAT_KEYS = {"name": "default", "separator": "."}
MISSING_CHUNK = np.uint64(2**64 - 1)   #: index entry of an absent inner chunk
#: keys of the attributes that must match for a re-run to resume into an existing store
FINGERPRINT_KEYS = ("store_format", "recipe_hash", "seed", "num", "shard_size", "dtype",
                    "listing_hash", "patches", "compression",
                    "plugins")   # packages of plugin ops (degrade._registry.store_provenance)



class StoreError(DegradeError):
    """An output store cannot be created, resumed or read."""


def shard_key(array: str, shard: int, ndim: int) -> str:
    """The key of shard ``shard`` of ``array`` in the store: ``ARRAY/c.K.0.0...``
    (``FLAT_KEYS``); the same on a local folder and an object store."""
    return "/".join((array, ".".join(["c", str(shard)] + ["0"] * (ndim - 1))))
def store_arrays(attrs: dict) -> tuple[str, ...]:
    """The arrays of a store with group attributes ``attrs``: ``hq``, ``lq``, ``records``,
    then the extra targets named by ``attrs["extra_targets"]`` (shaped and stored as ``hq``)."""
    return ARRAYS + tuple(attrs.get("extra_targets") or ())


def image_arrays(attrs: dict) -> tuple[str, ...]:
    """The image arrays of a store (sharded one sample per chunk): all but ``records``."""
    return tuple(name for name in store_arrays(attrs) if name != "records")


def shard_file(path, array: str, shard: int, ndim: int) -> Path:
    """The file of shard ``shard`` of ``array`` in a local store (:func:`shard_key`)."""
    return Path(path, shard_key(array, shard, ndim))


#: bytes of the crc32c each stored chunk ends with (zarr's ``crc32c`` codec, last in the
#: chunk's codecs), in stores made since it was added; older stores have none
CHECKSUM_NBYTES = 4


def chunk_checksum(data) -> bytes:
    """The 4 bytes zarr's ``crc32c`` codec appends to an encoded chunk ``data``."""
    import google_crc32c
    return np.array([google_crc32c.value(np.frombuffer(data, np.uint8))], dtype="<u4").tobytes()


def has_checksums(meta: dict) -> bool:
    """Whether an array's chunks end with a crc32c (``meta``: its zarr.json as a dict); for a
    sharded array, the inner chunks' codecs."""
    codecs = meta.get("codecs") or []
    if codecs and codecs[0].get("name") == "sharding_indexed":
        codecs = (codecs[0].get("configuration") or {}).get("codecs") or []
    return bool(codecs) and codecs[-1].get("name") == "crc32c"


def index_nbytes(shard_len: int) -> int:
    """Bytes of a shard's index and its checksum at the end of the shard file."""
    return 16 * shard_len + 4


def encode_index(lengths: np.ndarray, shard_len: int) -> bytes:
    """The index (then its crc32c) of a shard whose samples, in order, take ``lengths`` bytes
    each, packed from offset 0; entries past ``len(lengths)`` are ``MISSING_CHUNK``."""
    import google_crc32c

    lengths = np.asarray(lengths, np.uint64)
    index = np.full((shard_len, 2), MISSING_CHUNK, dtype="<u8")
    index[:lengths.size, 1] = lengths
    index[:lengths.size, 0] = np.cumsum(lengths) - lengths
    index_bytes = index.tobytes()
    return index_bytes + np.array([google_crc32c.value(index_bytes)], dtype="<u4").tobytes()


def decode_index(raw: bytes, shard_len: int) -> np.ndarray | None:
    """The ``(shard_len, 2)`` (offset, nbytes) index from the bytes :func:`encode_index` made,
    or None when they are truncated or fail their crc32c."""
    import google_crc32c

    size = 16 * shard_len
    if len(raw) != size + 4 or (np.frombuffer(raw[size:], "<u4")[0]
                                != google_crc32c.value(raw[:size])):
        return None
    return np.frombuffer(raw[:size], "<u8").reshape(-1, 2)
