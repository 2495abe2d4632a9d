"""Where a store lives: a local folder or an object store, and whole-object I/O on it.

``--out`` / ``out=`` may be a local path (made absolute here, before any task is built), a
``file://`` URL, an object-store URL (``s3://bucket/x.zarr`` on any S3-compatible endpoint,
``gs://``, ``az://``/``abfs://``) or ``memory://`` (tests; one process), or a zarr store
object (``LocalStore``, ``FsspecStore``). :func:`resolve` turns any of these plus storage
options into a :class:`Location`; :func:`zarr_store` gives the zarr v3 store of a location,
and :func:`put_object`, :func:`read_range`, :func:`list_keys` ... do the whole-object work
of the writer, the reader and the checks.

The object-store layer is fsspec (s3fs, gcsfs, adlfs), the one behind zarr's
``FsspecStore``. obstore (zarr's ``ObjectStore``) was 2-10x faster per small request against a
local SeaweedFS (benchmarks/object_store.py), but its Rust runtime does not survive
``fork()``: once a process has used it, a forked child hangs on its first request even with a
new client (and the forking process itself crashed with SIGSEGV in 5 of 12 tries), and
forked children are how PyTorch's DataLoader and degrade's process pool start their workers.
s3fs makes a fresh client per process (fsspec keys its instance cache by pid).

Credentials and endpoint come from the usual places (the environment: ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL``, ``AWS_PROFILE``; ``~/.aws``; instance
roles; ``GOOGLE_APPLICATION_CREDENTIALS``; ``AZURE_STORAGE_*``) plus storage options
(``--storage-option KEY=VALUE``, see :func:`parse_storage_options`), passed to the fsspec
filesystem as keyword arguments.

Local shards are written to a temporary name and renamed; on an object store a shard is one
whole-object PUT (s3fs sends a single PUT below 2 x its 50 MB block size; object stores make
an object visible only when its upload is complete), so a shard is either complete or absent.
"""
from __future__ import annotations

import contextlib
import copy
import json
import os
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ._errors import InputError, ParameterError

#: fsspec protocol -> the package that provides it (for the error when it is missing)
REMOTE_SCHEMES = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs",
                  "abfs": "adlfs", "abfss": "adlfs", "memory": None}
#: client settings used when the caller gives none: a dead endpoint fails in seconds, not
#: after botocore's default retries (minutes)
S3_DEFAULTS = {"config_kwargs": {"connect_timeout": 10, "read_timeout": 60,
                                 "retries": {"max_attempts": 3, "mode": "standard"}}}
#: for the write probe: one quick attempt
S3_PROBE = {"config_kwargs": {"connect_timeout": 5, "read_timeout": 20,
                              "retries": {"max_attempts": 1, "mode": "standard"}}}
PROBE_PREFIX = ".degrade-probe-"


@dataclass(frozen=True)
class Location:
    """A store's place: ``url`` is an absolute local path (``scheme == "file"``) or
    ``scheme://bucket/path`` without a trailing slash; ``options`` are the fsspec storage
    options; ``store`` a zarr store object the caller gave (then used as is by zarr, in the
    process that made the Location: see :func:`zarr_store`); ``pid`` that process."""

    url: str
    options: dict = field(default_factory=dict, compare=False)
    store: object = field(default=None, compare=False, repr=False)
    pid: int = field(default_factory=os.getpid, compare=False, repr=False)

    @property
    def scheme(self) -> str:
        return self.url.split("://", 1)[0] if "://" in self.url else "file"

    @property
    def is_local(self) -> bool:
        return self.scheme == "file"

    @property
    def path(self) -> str:
        """The filesystem path: the local path, or ``bucket/path`` for fsspec."""
        return self.url.split("://", 1)[1] if "://" in self.url else self.url

    def key_path(self, key: str) -> str:
        return f"{self.path}/{key}" if key else self.path

    def __str__(self) -> str:
        return self.url

    def __reduce__(self):            # ships to workers without the store object
        return (Location, (self.url, self.options))


def parse_storage_options(items) -> dict:
    """``["KEY=VALUE", ...]`` (``--storage-option``) -> a storage-options dict.

    A value is read as JSON when it parses (``true``, ``3``, ``{"a": 1}``), else kept as text;
    dotted keys nest (``config_kwargs.connect_timeout=5`` ->
    ``{"config_kwargs": {"connect_timeout": 5}}``), so every s3fs/gcsfs/adlfs argument can be
    given, e.g. ``endpoint_url=http://minio:9000``, ``profile=lab``, ``anon=true``,
    ``client_kwargs.region_name=eu-west-1``.
    """
    options: dict = {}
    for item in items or ():
        key, sep, value = str(item).partition("=")
        key = key.strip()
        if not sep or not key or any(not part for part in key.split(".")):
            raise ParameterError(f"--storage-option {item!r}: expected KEY=VALUE "
                                 "(e.g. endpoint_url=http://127.0.0.1:9000)")
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = value
        *parents, last = key.split(".")
        node = options
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ParameterError(f"--storage-option {item!r}: {part} is set to a value and "
                                     "also used as a group of options")
        node[last] = parsed
    return options


def _merge(defaults: dict, given: dict) -> dict:
    """``defaults`` updated by ``given``, nested dicts merged; a new structure that shares no
    dict with either (botocore's ``Config`` rewrites the ``retries`` dict it is given)."""
    out = copy.deepcopy(defaults)
    for key, value in given.items():
        out[key] = (_merge(out[key], value) if isinstance(value, dict)
                    and isinstance(out.get(key), dict) else copy.deepcopy(value))
    return out


def resolve(out, storage_options: dict | None = None, *, what: str = "--out") -> Location:
    """A path, URL or zarr store -> :class:`Location`; local paths become absolute.

    Raises
    ------
    InputError
        A URL scheme without an installed filesystem, an unknown scheme.
    ParameterError
        Storage options for a local path, an unsupported store object.
    """
    options = dict(storage_options or {})
    if out is None:
        raise ParameterError(f"{what}: give the output store path or URL")
    if not isinstance(out, (str, os.PathLike)):
        return _from_store(out, options, what)
    text = os.fspath(out)
    if "://" not in text:
        if options:
            raise ParameterError(f"{what} {text}: storage options apply to URLs "
                                 "(s3://, gs://, ...), not to a local path")
        return Location(os.path.abspath(os.path.expanduser(text)))
    scheme, rest = text.split("://", 1)
    scheme = scheme.lower()
    if scheme == "file":
        parts = urlsplit(text)
        local = unquote(parts.path) if not parts.netloc or parts.netloc == "localhost" \
            else unquote(parts.netloc + parts.path)
        return resolve(local, options, what=what)
    _filesystem_class(scheme, text, what)
    rest = rest.strip("/")
    if not rest and scheme != "memory":
        raise InputError(f"{what} {text}: no bucket in the URL (expected {scheme}://BUCKET/PATH)")
    if scheme in ("s3", "s3a"):
        options = _merge(S3_DEFAULTS, options)
    return Location(f"{scheme}://{rest}", options)


def _filesystem_class(scheme: str, text: str, what: str):
    import fsspec
    try:
        return fsspec.get_filesystem_class(scheme)
    except ImportError:
        package = REMOTE_SCHEMES.get(scheme) or f"the fsspec filesystem of {scheme}://"
        raise InputError(f"{what} {text}: {scheme}:// needs the package {package}, which is not "
                         f"installed (pip install {package})") from None
    except ValueError:
        raise InputError(f"{what} {text}: unknown URL scheme {scheme}://; expected a local path, "
                         "file://, s3://, gs://, az:// or memory://") from None


def _from_store(store, options: dict, what: str) -> Location:
    from zarr.storage import FsspecStore, LocalStore

    if isinstance(store, LocalStore):
        return Location(os.path.abspath(str(store.root)), {}, store)
    if isinstance(store, FsspecStore):
        protocol = store.fs.protocol
        protocol = protocol[0] if isinstance(protocol, (tuple, list)) else protocol
        if protocol in ("file", "local"):
            return Location(os.path.abspath(store.path), {}, store)
        given = {k: v for k, v in store.fs.storage_options.items() if k != "asynchronous"}
        return Location(f"{protocol}://{store.path.strip('/')}", _merge(given, options), store)
    raise ParameterError(f"{what}: a {type(store).__name__} cannot hold a degrade store; give a "
                         "path, a URL (s3://, gs://, az://, file://, memory://), a zarr "
                         "LocalStore or an FsspecStore")


# --------------------------------------------------------------------------- clients
def filesystem(location: Location, *, probe: bool = False):
    """The synchronous fsspec filesystem of ``location`` (``probe``: one quick attempt)."""
    import fsspec

    if location.is_local:
        return fsspec.filesystem("file")
    # a copy: the client rewrites parts of its options (botocore's retries dict), and
    # fsspec finds its cached instance (one client per process) by the options' value
    options = copy.deepcopy(location.options)
    if probe and location.scheme in ("s3", "s3a"):
        options = _merge(options, S3_PROBE)
    return fsspec.filesystem(location.scheme, **options)


def zarr_store(location: Location, *, read_only: bool = False):
    """The zarr v3 store of ``location``: the caller's store object, a ``LocalStore`` for a
    folder, else an ``FsspecStore``.

    A caller's ``FsspecStore`` is used only in the process that made the Location: its
    asynchronous filesystem holds an HTTP session bound to that process's zarr event loop, so
    in a forked child (DataLoader workers) its requests fail ("attached to a different loop")
    or wait forever. There the same URL and options give a new store (fsspec's instance
    cache is per process)."""
    from zarr.storage import FsspecStore, LocalStore

    inherited = location.pid != os.getpid() and isinstance(location.store, FsspecStore)
    if location.store is not None and not inherited:
        store = location.store
        if read_only and not store.read_only:
            store = store.with_read_only(True)
        return store
    if location.is_local:
        return LocalStore(location.url, read_only=read_only)
    return FsspecStore.from_url(location.url, read_only=read_only,
                                storage_options=copy.deepcopy(location.options) or None)


#: fsspec's cached filesystems while a fork is under way (see _hold_filesystems)
_INHERITED: list = []
#: in a forked process: those of its parent (and theirs), held for the whole process life
_HELD: list = []


def _hold_filesystems() -> None:
    """Before a fork: take every filesystem in fsspec's instance caches, so that a forked child
    holds the ones it inherits for its whole life.

    fsspec resets its event loop in a forked child and empties its instance caches there,
    which drops the parent's instances. Dropping a synchronous s3fs instance runs its finalizer
    (``close_session``), which closes the parent's HTTP session on whatever event loop runs in
    the child at that moment (zarr's: "attached to a different loop" errors, unclosed-session
    warnings) or waits on the parent's loop thread, which does not exist in the child. Held,
    they are never used and never closed; the child's own clients are new (fsspec's cache is
    per process). Emptied again in the parent right after the fork; a child moves them to
    ``_HELD``, which its own forks do not touch."""
    import sys

    _INHERITED.clear()
    spec = sys.modules.get("fsspec.spec")
    if spec is None:                     # fsspec never imported: nothing to inherit
        return
    pending = [spec.AbstractFileSystem]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        _INHERITED.extend(list(getattr(cls, "_cache", {}).values()))


def _keep_in_child() -> None:
    _HELD.extend(_INHERITED)
    _INHERITED.clear()


if hasattr(os, "register_at_fork"):      # POSIX; spawned processes inherit nothing
    os.register_at_fork(before=_hold_filesystems, after_in_parent=_INHERITED.clear,
                        after_in_child=_keep_in_child)


# --------------------------------------------------------------------------- objects
def put_object(location: Location, key: str, data) -> None:
    """Write one whole object: ``data`` is bytes or a list of buffers (joined). Local: a
    temporary name then a rename, so a file that exists is complete; object store: one PUT."""
    parts = [data] if isinstance(data, (bytes, bytearray, memoryview)) else list(data)
    if location.is_local:
        target = Path(location.url, key)
        temporary = target.with_name(f"{target.name}.{uuid.uuid4().hex}.partial")
        try:
            handle = open(temporary, "wb")
        except FileNotFoundError:          # the folder does not exist yet
            target.parent.mkdir(parents=True, exist_ok=True)
            handle = open(temporary, "wb")
        try:
            with handle:
                for part in parts:
                    handle.write(part)
            os.replace(temporary, target)
        except BaseException:              # a full disk, an interrupt: no .partial stays
            with contextlib.suppress(OSError):
                os.remove(temporary)
            raise
        return
    payload = parts[0] if len(parts) == 1 else b"".join(parts)
    filesystem(location).pipe_file(location.key_path(key), bytes(payload))


def put_objects(location: Location, objects: dict) -> None:
    """Write several whole objects, ``{key: bytes or list of buffers}``, as :func:`put_object`
    does each; on an object store the PUTs go out concurrently (one wait for all of them, not
    one per object: a shard's records, lq and hq)."""
    if location.is_local or len(objects) < 2:
        for key, data in objects.items():
            put_object(location, key, data)
        return
    payloads = {}
    for key, data in objects.items():
        parts = [data] if isinstance(data, (bytes, bytearray, memoryview)) else list(data)
        payloads[location.key_path(key)] = bytes(parts[0] if len(parts) == 1
                                                 else b"".join(parts))
    filesystem(location).pipe(payloads)


def get_object(location: Location, key: str) -> bytes:
    """The whole object ``key`` (FileNotFoundError when absent)."""
    if location.is_local:
        return Path(location.url, key).read_bytes()
    return filesystem(location).cat_file(location.key_path(key))


def read_range(location: Location, key: str, start: int, length: int | None = None) -> bytes:
    """``length`` bytes of ``key`` from ``start`` (one ranged GET); a negative ``start``
    counts from the end (``start=-n``: the last n bytes, e.g. a shard's index)."""
    if location.is_local:
        with open(Path(location.url, key), "rb") as handle:
            handle.seek(start, os.SEEK_END if start < 0 else os.SEEK_SET)
            return handle.read(-1 if length is None else length)
    end = None if length is None else (start + length if start >= 0 or start + length < 0
                                       else None)
    return filesystem(location).cat_file(location.key_path(key), start=start, end=end)


def list_objects(location: Location, prefix: str = "") -> dict:
    """``{key: size in bytes}`` of every object under ``prefix`` (recursive), relative to the
    location, in key order; {} when nothing is there. One listing (no request per object).
    Probe objects, local ``.partial`` files and folder markers (SeaweedFS keeps an emptied
    "folder" as an entry) are left out."""
    fs = filesystem(location)
    base = location.path.rstrip("/")
    root = f"{base}/{prefix}".rstrip("/") if prefix else base
    try:
        if location.is_local and not os.path.isdir(root):
            return {}
        found = fs.find(root, detail=True, **({} if location.is_local else {"refresh": True}))
    except FileNotFoundError:
        return {}
    finally:
        # no listing stays cached: zarr's own client and the workers write here too, and a
        # cached listing would hide their objects from later info()/isfile() calls
        fs.invalidate_cache(root)
    strip = len(base.lstrip("/")) + 1
    out = {}
    for path, info in found.items():
        key = path.lstrip("/")[strip:]
        name = key.rsplit("/", 1)[-1]
        if (not name or info.get("type") == "directory" or name.startswith(PROBE_PREFIX)
                or (location.is_local and name.endswith(".partial"))):
            continue
        out[key] = int(info.get("size") or 0)
    return dict(sorted(out.items()))


def list_keys(location: Location, prefix: str = "") -> list[str]:
    """The keys of :func:`list_objects`, sorted."""
    return list(list_objects(location, prefix))


def delete_object(location: Location, key: str) -> None:
    """Remove ``key``; absent already is fine."""
    try:
        if location.is_local:
            os.remove(Path(location.url, key))
        else:
            filesystem(location).rm_file(location.key_path(key))
    except FileNotFoundError:
        pass


class RangeReader:
    """Ranged reads of one location's objects, for readers that read a sample at a time
    (``PairDataset``: a shard's index once, then one ranged read per sample).

    Local files stay open (up to ``max_open``, least recently used closed first) and are read
    by seek and read under the reader's lock (no ``pread``: it is POSIX only); object stores
    get one ranged GET per read through the process's own client. Made once, used in many
    processes: it pickles as its location only, and a process that inherits it by ``fork``
    (DataLoader workers) opens its own files and client on first use (the pid is checked).
    """

    def __init__(self, location: Location, max_open: int = 32):
        self.location, self.max_open = location, max_open
        self._pid = None
        self._files: OrderedDict = OrderedDict()
        self._fs = None
        # one lock for the file cache and every seek + read: an open file's position is shared
        self._lock = threading.Lock()

    def __getstate__(self):
        return {"location": self.location, "max_open": self.max_open}

    def __setstate__(self, state):
        self.__init__(state["location"], state["max_open"])

    def _check_process(self) -> None:
        if self._pid != os.getpid():          # new process: nothing of the parent's is used
            self._files, self._fs, self._pid = OrderedDict(), None, os.getpid()

    def _file(self, key: str):
        handle = self._files.get(key)
        if handle is None:
            handle = open(Path(self.location.url, key), "rb", buffering=0)
            self._files[key] = handle
            while len(self._files) > self.max_open:
                self._files.popitem(last=False)[1].close()
        else:
            self._files.move_to_end(key)
        return handle

    def _filesystem(self):
        if self._fs is None:
            self._fs = filesystem(self.location)
        return self._fs

    def read(self, key: str, start: int, length: int) -> bytes:
        """``length`` bytes of ``key`` from ``start`` (negative: from the end); fewer at the
        object's end. FileNotFoundError when ``key`` is absent."""
        if self.location.is_local:
            out = bytearray(length)
            return bytes(out[:self._read_local(key, start, out)])
        with self._lock:
            self._check_process()
        end = start + length if start >= 0 or start + length < 0 else None
        return self._filesystem().cat_file(self.location.key_path(key), start=start, end=end)

    def _read_local(self, key: str, start: int, view) -> int:
        view = memoryview(view).cast("B")
        with self._lock:
            self._check_process()
            handle = self._file(key)
            if start < 0:
                start = max(0, os.fstat(handle.fileno()).st_size + start)
            handle.seek(start)
            done = 0
            while done < len(view):          # a raw read may return less than asked
                got = handle.readinto(view[done:])
                if not got:
                    break
                done += got
        return done

    def read_into(self, key: str, start: int, out) -> int:
        """Fill the writable buffer ``out`` (e.g. a numpy array) from ``start``; the number
        of bytes read (less than ``out``'s size at the object's end)."""
        if self.location.is_local:
            return self._read_local(key, start, out)
        view = memoryview(out).cast("B")
        data = self.read(key, start, len(view))
        view[:len(data)] = data
        return len(data)

    def read_many(self, requests) -> list:
        """``[(key, start, length), ...]`` -> their bytes, in order; concurrent requests on an
        object store (one batch), a loop on local files. An absent key gives its
        FileNotFoundError in its place."""
        requests = list(requests)
        if self.location.is_local:
            out = []
            for key, start, length in requests:
                try:
                    out.append(self.read(key, start, length))
                except FileNotFoundError as exc:
                    out.append(exc)
            return out
        with self._lock:
            self._check_process()
        paths = [self.location.key_path(key) for key, _, _ in requests]
        starts = [start for _, start, _ in requests]
        ends = [start + length if start >= 0 or start + length < 0 else None
                for _, start, length in requests]
        return self._filesystem().cat_ranges(paths, starts, ends, on_error="return")

    def close(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                for handle in self._files.values():
                    handle.close()
            self._files = OrderedDict()


# --------------------------------------------------------------------------- checks
def describe_error(exc: BaseException) -> str:
    """A short reason for an object-store failure (no traceback, one line)."""
    name = type(exc).__name__
    text = " ".join(str(exc).split()) or name
    if name in ("EndpointConnectionError", "ConnectTimeoutError", "ClientConnectorError",
                "ConnectionRefusedError", "ServerTimeoutError", "ReadTimeoutError") \
            or isinstance(exc, (ConnectionError, TimeoutError)):
        return f"cannot reach the endpoint ({text})"
    if name in ("NoCredentialsError", "PartialCredentialsError"):
        return f"no usable credentials ({text}); set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, " \
               "AWS_PROFILE or --storage-option key=... secret=..."
    if isinstance(exc, PermissionError):
        return f"access denied, check the credentials ({text})"
    if isinstance(exc, FileNotFoundError):
        return f"the bucket or container does not exist ({text})"
    return f"{name}: {text}"


def check_writable(location: Location, *, what: str = "--out") -> None:
    """Write, read back and delete a probe object at ``location`` before anything else is
    written: an unreachable endpoint, wrong credentials, a missing bucket, a read-only folder
    give one InputError line. A local folder that does not exist yet is probed in its nearest
    existing parent (which it will be created in)."""
    probe = f"{PROBE_PREFIX}{uuid.uuid4().hex}"
    payload = probe.encode()
    if location.is_local:
        folder = Path(location.url)
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if not folder.is_dir():
            raise InputError(f"{what} {location.url}: {folder} is a file, not a folder")
        target = Location(str(folder))
    else:
        target = location
    written = False
    try:
        if location.is_local:
            put_object(target, probe, payload)
            written = True
            got = get_object(target, probe)
            delete_object(target, probe)
        else:
            fs = filesystem(target, probe=True)
            fs.pipe_file(target.key_path(probe), payload)
            written = True
            got = fs.cat_file(target.key_path(probe))
            fs.rm_file(target.key_path(probe))
    except Exception as exc:
        if written:                    # nothing may stay behind; a second failure is moot
            try:
                delete_object(target, probe)
            except Exception:
                pass
        if location.is_local:
            raise InputError(f"{what} {location.url}: cannot write in {target.url} "
                             f"({type(exc).__name__}: {exc})") from None
        raise InputError(f"{what} {location.url}: cannot write there: {describe_error(exc)}") \
            from None
    if got != payload:
        raise InputError(f"{what} {location.url}: a probe object read back differently "
                         f"({len(got)} bytes instead of {len(payload)})")
