"""Checks for a run on a dask.distributed cluster, made before anything is written.

A cluster's workers need not share the client's file system: a path that exists on the
client may be missing on a worker, or be another disk's folder of the same name (every
machine has a ``/tmp``). So the checks do not trust names:

* :func:`connect` — the scheduler answers and has workers (one line otherwise);
* :func:`check_cluster_access` — the client writes a probe object with a random token at the
  store's place; every worker must read that very object back (the same storage, not just a
  folder of the same name), write and delete one of its own there, and see each input root
  with one of its listed files at the size the client sees. Any failure is one
  ``error:`` line naming the worker and the path;
* the workers must run the client's degrade, byte for byte (:func:`code_fingerprint`): a
  worker with another version or a stale checkout would make other samples for the same
  indices, silently;
* :func:`workers_environ` — an environment variable as the *workers* see it (dask's nannies
  set ``MALLOC_TRIM_THRESHOLD_`` in the worker processes, not in the client).

Functions that run on the workers are module-level (pickled by reference), so they run
there, not as a bound method of a client object pickled with the client's state:
``client.run(os.environ.get, NAME)`` ships the client's ``os.environ`` mapping itself.
"""
from __future__ import annotations

import functools
import hashlib
import os
import uuid
from pathlib import Path

from . import storage
from ._errors import InputError, ParameterError

#: seconds to wait for the scheduler's first worker
WORKER_TIMEOUT = 30.0


def connect(address: str, *, timeout: float | None = None,
            worker_timeout: float = WORKER_TIMEOUT, name: str = "scheduler"):
    """A ``distributed.Client`` of the scheduler at ``address`` with at least one worker.

    The address is checked first (:func:`degrade.run.schedule.check_scheduler_address`: its
    form, and for tcp:// that a dask handshake comes within ``timeout`` seconds, default
    ``DEGRADE_CONNECT_TIMEOUT`` or 10 s), the one probe before a run; ``name`` says where
    the address came from in the messages ('scheduler', 'DASK_SCHEDULER_ADDRESS').

    Raises
    ------
    ParameterError
        A malformed address, no scheduler answers there, or it has no worker within
        ``worker_timeout``.
    """
    from distributed import Client

    from .run.schedule import check_scheduler_address, connect_timeout

    timeout = connect_timeout() if timeout is None else timeout
    check_scheduler_address(address, name, timeout)
    try:
        client = Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ParameterError(f"{name} = {address!r}: cannot connect to a dask.distributed "
                             f"scheduler there ({type(exc).__name__}: {exc})") from None
    try:
        client.wait_for_workers(1, timeout=worker_timeout)
    except (OSError, TimeoutError):
        client.close()
        raise ParameterError(f"{name} = {address!r}: the scheduler has no worker (waited "
                             f"{worker_timeout:g} s); start some with 'dask worker "
                             f"{address}'") from None
    return client


def worker_environ(name: str) -> str | None:
    """``os.environ.get(name)`` in the process it runs in (a worker, via ``client.run``)."""
    return os.environ.get(name)


def workers_environ(client, name: str) -> dict:
    """``{worker address: value or None}`` of environment variable ``name`` on each worker."""
    return client.run(worker_environ, name)


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """``VERSION:sha256`` over degrade's own files (``*.py``, ``*.yaml``, ``*.json``) in this
    process: equal on two machines only when they run the same code (~10 ms, once)."""
    import degrade

    root = Path(degrade.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.suffix in (".py", ".yaml", ".json")
                       and "__pycache__" not in p.parts):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return f"{getattr(degrade, '__version__', 'unknown')}:{digest.hexdigest()[:16]}"


def input_probe(root: str, files: list, sizes: list | None = None,
                options: dict | None = None) -> tuple:
    """What a worker checks of one source: its root (an absolute path or a URL), its first
    file (or None for an empty source) with the size the client sees, and storage options
    for URLs. ``files`` are full paths or URLs as listed by the client."""
    first = str(files[0]) if files else None
    size = None
    if first is not None:
        if sizes is not None and sizes[0] is not None and sizes[0] >= 0:
            size = int(sizes[0])
        elif "://" not in first:
            try:
                size = os.path.getsize(first)
            except OSError:
                size = None
    return (str(root), first, size, dict(options or {}))


def _check_input(root: str, first: str | None, size: int | None, options: dict) -> str | None:
    """None if this process sees the input as the client does, else the reason."""
    if "://" in root and not root.lower().startswith("file://"):
        try:
            loc = storage.resolve(first or root, options, what="--input")
            info = storage.filesystem(loc).info(loc.path) if first else None
            if first is None:
                storage.filesystem(loc).ls(loc.path)
        except FileNotFoundError:
            return f"cannot read input {first or root}: no such object"
        except Exception as exc:
            return f"cannot read input {first or root}: {storage.describe_error(exc)}"
        got = None if info is None else info.get("size")
    else:
        if not os.path.exists(root):
            return f"cannot read input {root}: no such file or folder on this worker"
        if os.path.isdir(root) and not os.access(root, os.R_OK | os.X_OK):
            return f"cannot read input {root}: permission denied"
        if first is None:
            return None
        try:
            with open(first, "rb"):
                pass
            got = os.path.getsize(first)
        except OSError as exc:
            return f"cannot read input file {first}: {exc.strerror or exc}"
    if size is not None and got is not None and int(got) != size:
        return (f"input file {first} has {got} bytes on this worker and {size} on the client: "
                "not the same files")
    return None


def probe_access(inputs: list, target: storage.Location, client_probe: str | None,
                 token: str, store: str = "", code: str | None = None) -> list[str]:
    """Runs on a worker: the reasons it cannot do its part (empty when it can).

    ``inputs``: :func:`input_probe` tuples. ``target``: where the store goes (a local
    store that does not exist yet: its nearest existing parent, as the client resolved
    it). ``client_probe``: the key of the object the client wrote there with content
    ``token`` (None: no store check). ``store``: the store's URL, for the messages.
    ``code``: the client's :func:`code_fingerprint` (None: not compared).
    """
    errors = []
    if code is not None and code_fingerprint() != code:
        errors.append(f"runs other degrade code ({code_fingerprint()}) than the client "
                      f"({code}); install the same degrade on every worker (samples would "
                      "differ)")
    for root, first, size, options in inputs:
        reason = _check_input(root, first, size, options)
        if reason:
            errors.append(reason)
    if client_probe is None:
        return errors
    store = store or target.url
    try:
        seen = storage.get_object(target, client_probe)
    except FileNotFoundError:
        seen = None
    except Exception as exc:
        errors.append(f"cannot read the store {store}: {storage.describe_error(exc)}")
        return errors
    if seen != token.encode():
        errors.append(f"does not see the client's store {store} (the client's probe "
                      f"object {client_probe} is not there: another disk or storage, not "
                      "the client's; use a shared file system or an object store URL)")
        return errors
    own = f"{storage.PROBE_PREFIX}{token}-{uuid.uuid4().hex[:8]}"
    try:
        storage.put_object(target, own, b"worker")
        storage.delete_object(target, own)
    except Exception as exc:
        errors.append(f"cannot write to the store {store}: "
                      f"{storage.describe_error(exc)}")
    return errors


def _probe_target(location: storage.Location) -> storage.Location:
    """Where the probe objects go: the store's own place, or for a local store that does not
    exist yet its nearest existing parent (nothing is created before the checks)."""
    if not location.is_local:
        return location
    folder = location.url
    while not os.path.isdir(folder) and os.path.dirname(folder) != folder:
        folder = os.path.dirname(folder)
    return storage.Location(folder)


def check_cluster_access(client, inputs: list, location: storage.Location | None, *,
                         what: str = "--out") -> None:
    """Refuse, before anything is written, a run whose workers cannot all read the inputs
    and write to the very store the client sees (see the module docstring).

    ``inputs``: :func:`input_probe` tuples; ``location``: the store (None: inputs only).

    Raises
    ------
    InputError
        One line: the first worker (by address) with a problem, the path and the reason,
        and how many workers have problems.
    """
    token = uuid.uuid4().hex
    target = None if location is None else _probe_target(location)
    key = None
    if target is not None:
        key = f"{storage.PROBE_PREFIX}{token}"
        try:
            storage.put_object(target, key, token.encode())
        except Exception as exc:
            raise InputError(f"{what} {location.url}: cannot write there: "
                             f"{storage.describe_error(exc)}") from None
    try:
        try:
            results = client.run(probe_access, list(inputs), target, key, token,
                                 None if location is None else location.url,
                                 code_fingerprint())
        except Exception as exc:
            raise InputError(f"cannot run the access check on the cluster's workers "
                             f"({type(exc).__name__}: {exc})") from None
    finally:
        if key is not None:
            try:
                storage.delete_object(target, key)
            except Exception:
                pass
    failing = {worker: errors for worker, errors in sorted(results.items()) if errors}
    if failing:
        worker, errors = next(iter(failing.items()))
        more = (f" (and {len(errors) - 1} more problem(s) there)" if len(errors) > 1 else "")
        others = (f"; {len(failing) - 1} other worker(s) of {len(results)} fail too"
                  if len(failing) > 1 else "")
        raise InputError(f"worker {worker} {errors[0]}{more}{others}")
