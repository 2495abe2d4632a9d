"""The run side of reliability (issue 19): one writer per store, an --overwrite that cannot
hurt, no orphan processes, silent schedulers, unwritable stores, odd names, changed sources,
and a random-kill loop. Every run here is a real `degrade generate` subprocess where the
behaviour is about processes."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import degrade
from degrade.run.lease import LEASE_NAME, FileLease, LeaseHeld
from degrade.run.store import StoreError

REPO = Path(__file__).resolve().parents[1]


def cli(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "degrade", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=kwargs.pop("cwd", None), **kwargs)


@contextlib.contextmanager
def started(*args):
    """:func:`cli` for the block; a run still going at its end (a failed assertion) is killed
    with every process it started, so no test leaves one behind."""
    proc = cli(*args)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            family = _descendants(proc.pid)
            proc.kill()
            proc.communicate()
            for child in family:
                with contextlib.suppress(OSError):
                    os.kill(child.pid, signal.SIGKILL)


def run_cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "degrade", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def store_files(path: Path) -> dict:
    """Every file of the three arrays (data and metadata) -> its bytes."""
    return {str(p.relative_to(path)): p.read_bytes()
            for name in ("hq", "lq", "records") for p in sorted((path / name).rglob("*"))
            if p.is_file()}


def one_error_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


#: a job of a few seconds on one worker: long enough for a second run to meet the first
JOB = ("simple_x2", "--num", "4000", "--workers", "1", "--scheduler", "threads", "--quiet")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The store of one uninterrupted run of JOB (seed 1)."""
    out = tmp_path_factory.mktemp("ref") / "ref.zarr"
    done = run_cli("generate", *JOB, "--seed", "1", "--out", out)
    assert done.returncode == 0, done.stderr
    return store_files(out)


# ---------------------------------------------------------------- one writer per store

@pytest.mark.parametrize("delay, seeds", [(0.2, (1, 1)), (1.0, (1, 2))])
def test_a_second_run_on_the_same_store_is_refused(tmp_path, reference, delay, seeds):
    out = tmp_path / "race.zarr"
    with started("generate", *JOB, "--seed", seeds[0], "--out", out) as first:
        time.sleep(delay)
        with started("generate", *JOB, "--seed", seeds[1], "--out", out) as second:
            results = [(p.wait(timeout=300), *p.communicate()) for p in (first, second)]
    codes = sorted(r[0] for r in results)
    assert codes == [0, 2], results
    loser = next(r for r in results if r[0] == 2)
    line = one_error_line(loser[2])
    assert "another degrade run writes this store" in line and "pid " in line
    # the winner's store is complete and exactly a single run's (the loser wrote nothing)
    winner_seed = seeds[[r[0] for r in results].index(0)]
    assert winner_seed == 1
    assert store_files(out) == reference
    attrs = json.loads((out / "zarr.json").read_text())["attributes"]
    assert attrs["complete"] is True and attrs["seed"] == 1
    assert not (out / LEASE_NAME).exists()


def test_lease_is_exclusive_and_a_dead_holders_lease_is_taken_over(tmp_path):
    first = FileLease(tmp_path)
    first.acquire()
    with pytest.raises(LeaseHeld, match=rf"pid {os.getpid()} on {socket.gethostname()}"):
        FileLease(tmp_path).acquire()
    first.renew()
    first.release()
    assert not (tmp_path / LEASE_NAME).exists()
    # a holder on this host that is gone: its lease is taken over at once
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    info = FileLease(tmp_path).document("x", "then")
    info["pid"] = int(dead)
    (tmp_path / LEASE_NAME).write_text(json.dumps(info))
    with FileLease(tmp_path) as taken:
        assert json.loads((tmp_path / LEASE_NAME).read_text())["token"] == taken.token
    # a holder on another host: stale only once it was not renewed for the timeout
    info.update(host="elsewhere", pid=1, renewed_at=time.time())
    (tmp_path / LEASE_NAME).write_text(json.dumps(info))
    with pytest.raises(LeaseHeld, match="on elsewhere"):
        FileLease(tmp_path, timeout=60).acquire()
    info["renewed_at"] = time.time() - 61
    (tmp_path / LEASE_NAME).write_text(json.dumps(info))
    with FileLease(tmp_path, timeout=60):
        pass


def test_a_lease_is_renewed_while_its_run_lasts(tmp_path):
    lease = FileLease(tmp_path, timeout=0.4)
    with lease, lease.keep_renewed():
        time.sleep(0.6)            # past the timeout: renewed meanwhile, so not stale
        with pytest.raises(LeaseHeld):
            FileLease(tmp_path, timeout=0.4).acquire()


def test_a_run_whose_lease_was_taken_over_is_not_marked_complete(tmp_path, monkeypatch):
    """A run that stalled past the timeout may find its lease taken over at a renewal: it
    must not mark the store complete (another run may have written it meanwhile)."""
    from degrade.run import lease as lease_module

    monkeypatch.setattr(lease_module.Lease, "timeout", 0.2)     # renewed every 0.05 s
    out = tmp_path / "taken.zarr"

    def take_over():                       # another run's lease replaces ours mid-run
        while True:                        # (once ours is written whole)
            with contextlib.suppress(OSError, ValueError):
                if json.loads((out / LEASE_NAME).read_text()).get("token"):
                    break
            time.sleep(0.01)
        info = FileLease(out).document("another-run", "now")
        (out / LEASE_NAME).write_text(json.dumps(info))

    thief = threading.Thread(target=take_over, daemon=True)
    thief.start()
    with pytest.raises(LeaseHeld, match="taken over while this run wrote.*not marked complete"):
        degrade.generate("simple_x2", None, out, num=256, workers=1, scheduler="threads",
                         progress=False)
    thief.join(timeout=10)
    attrs = json.loads((out / "zarr.json").read_text())["attributes"]
    assert attrs["complete"] is False and attrs["num"] == 256


def test_a_store_whose_creation_was_killed_is_made_again(tmp_path, reference):
    out = tmp_path / "killed.zarr"
    out.mkdir()
    (out / "hq").mkdir()                  # arrays made, the group's zarr.json not yet
    (out / "hq" / "zarr.json").write_text("{}")
    (out / ".degrade-staging-0123").mkdir()
    done = run_cli("generate", *JOB, "--seed", "1", "--out", out)
    assert done.returncode == 0, done.stderr
    assert store_files(out) == reference
    assert not list(out.glob(".degrade-staging-*"))


# ---------------------------------------------------------------- --overwrite

TINY = ("simple_x2", "--num", "16", "--workers", "1", "--scheduler", "threads", "--quiet")


def test_overwrite_replaces_only_the_stores_own_keys(tmp_path):
    out = tmp_path / "s.zarr"
    assert run_cli("generate", *TINY, "--seed", "1", "--out", out).returncode == 0
    (out / "notes.txt").write_text("keep me")
    (out / "photos").mkdir()
    (out / "photos" / "a.jpg").write_bytes(b"\xff\xd8")
    done = run_cli("generate", *TINY, "--seed", "2", "--out", out, "--overwrite")
    assert done.returncode == 0, done.stderr
    assert (out / "notes.txt").read_text() == "keep me"
    assert (out / "photos" / "a.jpg").read_bytes() == b"\xff\xd8"
    fresh = tmp_path / "fresh.zarr"
    assert run_cli("generate", *TINY, "--seed", "2", "--out", fresh).returncode == 0
    assert store_files(out) == store_files(fresh)


@pytest.fixture
def failing_op():
    """An op (as a plugin would register one) that fails on every image."""
    import degrade
    from degrade import _registry
    _registry._load_all()
    saved = dict(_registry._OPS), dict(_registry._SAMPLERS)

    @degrade.register_op("fails_at_runtime")
    def fails_at_runtime(image: np.ndarray, *, rng=None) -> np.ndarray:
        """Fail."""
        raise RuntimeError("this op always fails")
    yield "fails_at_runtime"
    _registry._OPS.clear(), _registry._OPS.update(saved[0])
    _registry._SAMPLERS.clear(), _registry._SAMPLERS.update(saved[1])


def test_overwrite_keeps_the_old_store_when_the_new_recipe_fails(tmp_path, failing_op):
    from degrade import generate
    out = tmp_path / "s.zarr"
    assert run_cli("generate", *TINY, "--seed", "1", "--out", out).returncode == 0
    before = store_files(out), (out / "zarr.json").read_bytes()
    recipe = f"name: bad\nseed: 1\ntarget: {{size: 32, scale: 2}}\nstages:\n  - {{op: {failing_op}}}\n"
    with pytest.raises(RuntimeError, match="always fails"):
        generate(recipe, None, out, num=4, overwrite=True, progress=False)
    assert (store_files(out), (out / "zarr.json").read_bytes()) == before
    assert not list(out.glob(".degrade-staging-*")) and not (out / LEASE_NAME).exists()


def test_overwrite_refuses_a_folder_that_is_not_a_store(tmp_path):
    mine = tmp_path / "mine"
    (mine / "hq").mkdir(parents=True)
    (mine / "notes.txt").write_text("keep me")
    done = run_cli("generate", *TINY, "--out", mine, "--overwrite")
    assert done.returncode == 2
    assert "notes.txt" in one_error_line(done.stderr)
    assert sorted(p.name for p in mine.iterdir()) == ["hq", "notes.txt"]


# ---------------------------------------------------------------- no orphans

def _descendants(pid: int) -> list:
    import psutil
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killing_a_processes_run_leaves_no_process_behind(tmp_path, sig):
    import psutil
    out = tmp_path / "k.zarr"
    with started("generate", "simple_x2", "--num", "4000", "--shard-size", "16", "--workers",
                 "2", "--scheduler", "processes", "--out", out, "--quiet") as run:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:      # until the fork server and both workers run
            family = _descendants(run.pid)
            if len(family) >= 3 and any((out / "hq").glob("c.*")):
                break
            assert run.poll() is None, run.communicate()
            time.sleep(0.1)
        else:
            pytest.fail("the processes run did not start its workers")
        family = _descendants(run.pid)
        os.kill(run.pid, sig)
        # the caller's pipes close: communicate returns (a wrapper like `timeout` would not hang)
        stdout, stderr = run.communicate(timeout=60)
        if sig == signal.SIGTERM:
            assert run.returncode == 143, stderr
            assert one_error_line(stderr) == "error: terminated (SIGTERM)"
            assert not (out / LEASE_NAME).exists()
        else:
            assert run.returncode == -signal.SIGKILL
    gone, alive = psutil.wait_procs(family, timeout=30)
    assert not alive, [p.cmdline() for p in alive]
    if sig == signal.SIGTERM:
        assert not list(out.rglob("*.partial"))
    # and the store resumes; a write cut by the kill leaves no .partial file for good
    (out / "hq" / "c.999.0.0.0.0123.partial").write_bytes(b"cut")
    done = run_cli("generate", "simple_x2", "--num", "4000", "--shard-size", "16",
                   "--workers", "2", "--scheduler", "threads", "--out", out, "--quiet")
    assert done.returncode == 0, done.stderr
    assert not list(out.rglob("*.partial"))


# ---------------------------------------------------------------- scheduler addresses

@pytest.fixture
def silent_listener():
    """A TCP server that accepts connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held = []

    def accept():
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return
    threading.Thread(target=accept, daemon=True).start()
    yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    server.close()
    for conn in held:
        conn.close()


@pytest.mark.parametrize("via_env", [False, True])
def test_a_listener_that_does_not_speak_dask_fails_within_the_timeout(tmp_path, silent_listener,
                                                                       via_env):
    env = dict(os.environ, DEGRADE_CONNECT_TIMEOUT="2")
    args = [sys.executable, "-m", "degrade", "generate", "simple_x2", "--num", "4",
            "--out", str(tmp_path / "s.zarr"), "--quiet"]
    if via_env:
        env["DASK_SCHEDULER_ADDRESS"] = silent_listener
    else:
        args += ["--scheduler", silent_listener]
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2
    line = one_error_line(done.stderr)
    name = "DASK_SCHEDULER_ADDRESS" if via_env else "scheduler"
    assert line.startswith(f"error: {name} = '{silent_listener}': cannot connect")
    assert "no dask handshake within 2 s" in line
    assert not (tmp_path / "s.zarr").exists()        # refused before anything was written


@pytest.mark.parametrize("address", ["tcp://", "tcp://host:abc", "tcp://[::1", "foo://bar:1",
                                     "tcp://127.0.0.1", "tcp://h:1/x"])
def test_a_malformed_scheduler_address_is_one_line(tmp_path, address):
    done = run_cli("generate", "simple_x2", "--num", "4", "--out", tmp_path / "m.zarr",
                   "--scheduler", address)
    assert done.returncode == 2
    assert one_error_line(done.stderr).startswith(f"error: scheduler = {address!r}: ")


# ---------------------------------------------------------------- unwritable stores, bad --out

@pytest.fixture
def tmpfs(tmp_path):
    """A 2 MB tmpfs mounted at a fresh folder (root only; skipped where it cannot be)."""
    mount = tmp_path / "small"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({made.stderr.strip() or 'not root'}); "
                    "the full-disk and read-only checks need one")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


SMALL = ("simple_x2", "--num", "64", "--shard-size", "8", "--workers", "2", "--scheduler",
         "threads", "--quiet")


def test_a_full_disk_is_one_line_and_leaves_no_partial_files(tmpfs):
    out = tmpfs / "full.zarr"
    done = run_cli("generate", *SMALL, "--out", out)
    assert done.returncode == 2
    line = one_error_line(done.stderr)
    assert "No space left on device" in line and "run again to resume" in line
    assert not list(tmpfs.rglob("*.partial")), list(tmpfs.rglob("*"))
    assert not (out / LEASE_NAME).exists()


def test_a_read_only_store_is_one_line(tmpfs):
    out = tmpfs / "ro.zarr"
    done = run_cli("generate", "simple_x2", "--num", "8", "--quiet", "--out", out)
    assert done.returncode == 0, done.stderr
    remounted = subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], capture_output=True)
    assert remounted.returncode == 0
    for extra in ((), ("--overwrite",)):
        done = run_cli("generate", "simple_x2", "--num", "8", "--quiet", "--out", out, *extra)
        assert done.returncode == 2
        assert "Read-only file system" in one_error_line(done.stderr)
    done = run_cli("generate", "simple_x2", "--num", "8", "--quiet", "--out", tmpfs / "new.zarr")
    assert "cannot make the store folder (Read-only file system" in one_error_line(done.stderr)


def test_out_under_a_regular_file_or_a_broken_link_is_one_line(tmp_path):
    (tmp_path / "file.txt").write_text("x")
    done = run_cli(*("generate",) + TINY, "--out", tmp_path / "file.txt" / "s.zarr")
    assert done.returncode == 2
    assert "Not a directory" in one_error_line(done.stderr)
    done = run_cli(*("generate",) + TINY, "--out", tmp_path / "file.txt")
    assert "exists and is not a folder (a file)" in one_error_line(done.stderr)
    (tmp_path / "broken").symlink_to(tmp_path / "nowhere")
    done = run_cli(*("generate",) + TINY, "--out", tmp_path / "broken", "--overwrite")
    assert "a broken link" in one_error_line(done.stderr)


def test_overwrite_through_a_link_replaces_the_store_it_points_to(tmp_path):
    real, link = tmp_path / "real.zarr", tmp_path / "link.zarr"
    assert run_cli("generate", *TINY, "--seed", "1", "--out", real).returncode == 0
    (real / "notes.txt").write_text("keep me")
    link.symlink_to(real)
    done = run_cli("generate", *TINY, "--seed", "2", "--out", link, "--overwrite")
    assert done.returncode == 0, done.stderr
    assert link.is_symlink() and (real / "notes.txt").read_text() == "keep me"
    assert json.loads((real / "zarr.json").read_text())["attributes"]["seed"] == 2


# ---------------------------------------------------------------- names, limits

@pytest.fixture
def latin1_folder(tmp_path):
    """Two images, one under a name that is not UTF-8 (b'caf\\xe9.png')."""
    import shutil
    from degrade.sources import sample_paths
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(sample_paths()[0], os.fsdecode(bytes(folder) + b"/caf\xe9.png"))
    shutil.copy(sample_paths()[1], folder / "b.png")
    return folder


@pytest.mark.parametrize("strict", [False, True])
def test_a_name_that_is_not_utf8_generates_resumes_and_inspects(tmp_path, latin1_folder, strict):
    import zarr
    out = tmp_path / "n.zarr"
    extra = ("--strict",) if strict else ()
    args = ("generate", "simple_x2", "--input", latin1_folder, "--num", "6", "--out", out,
            "--quiet", *extra)
    done = run_cli(*args)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    first = store_files(out)
    records = [json.loads(r) for r in zarr.open_group(str(out))["records"][:]]
    assert {r["source"]["path"] for r in records} == {"b.png", "caf\\xe9.png"}
    os.remove(out / "hq" / "c.1.0.0.0")                      # resume one shard
    done = run_cli(*args)
    assert done.returncode == 0, done.stderr
    assert store_files(out) == first
    shown = run_cli("inspect", out)
    assert shown.returncode == 0 and "complete: 6/6" in shown.stdout, shown.stderr


@pytest.mark.parametrize("encoding", ["utf-16", "latin-1"])
def test_list_files_in_other_encodings(tmp_path, latin1_folder, encoding):
    listing = tmp_path / "list.txt"
    if encoding == "latin-1":     # the bytes of the Latin-1 name, as a Latin-1 list has them
        listing.write_bytes(b"# list\nin/caf\xe9.png\nin/b.png\n")
    else:
        (latin1_folder / "b.png").rename(latin1_folder / "é.png")
        listing.write_text("in/é.png\n", encoding=encoding)
    done = run_cli("generate", "simple_x2", "--input", listing, "--num", "4", "--strict",
                   "--out", tmp_path / "l.zarr", "--quiet")
    assert done.returncode == 0, done.stderr


def test_raw_files_over_the_pixel_limit_are_refused_before_unpacking(tmp_path):
    env = dict(os.environ, DEGRADE_MAX_IMAGE_PIXELS="20000")
    done = subprocess.run([sys.executable, "-m", "degrade", "generate", "eld2020", "--num", "2",
                           "--strict", "--out", str(tmp_path / "r.zarr"), "--quiet"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 2
    assert "pixels is more than the limit of 20000" in one_error_line(done.stderr)
    from degrade.sources.raw import read_raw
    from degrade.sources.samples import raw_sample_paths
    from degrade._errors import InputError
    os.environ["DEGRADE_MAX_IMAGE_PIXELS"] = "20000"
    try:
        with pytest.raises(InputError, match="more than the limit of 20000"):
            read_raw(raw_sample_paths()[0])
    finally:
        del os.environ["DEGRADE_MAX_IMAGE_PIXELS"]


def test_max_image_pixels_option_and_the_sample_bound(tmp_path):
    out = tmp_path / "p.zarr"
    done = run_cli("generate", "simple_x2", "--num", "4", "--out", out, "--quiet", "--strict",
                   "--max-image-pixels", "20000")
    assert done.returncode == 2 and "limit of 20000" in one_error_line(done.stderr)
    done = run_cli("generate", "simple_x2", "--num", "4", "--out", out, "--quiet",
                   "--max-image-pixels", "-1")
    assert one_error_line(done.stderr) == ("error: --max-image-pixels = -1: expected a whole "
                                           "number of pixels >= 0 (0: no limit)")
    done = run_cli("generate", "simple_x2", "--num", "1000000000000", "--out", out, "--quiet")
    assert "expected at most 100_000_000 samples" in one_error_line(done.stderr)
    assert not out.exists()


# ---------------------------------------------------------------- changed sources

@pytest.mark.parametrize("hash_sources", [False, True])
def test_a_source_edited_in_place_is_refused_on_resume(tmp_path, latin1_folder, hash_sources):
    out = tmp_path / "c.zarr"
    args = ["generate", "simple_x2", "--input", latin1_folder, "--num", "6", "--out", out,
            "--quiet"] + (["--hash-sources"] if hash_sources else [])
    assert run_cli(*args).returncode == 0
    os.remove(out / "hq" / "c.2.0.0.0")
    # same size, same mtime, other pixels: only a content hash can tell
    target = latin1_folder / "b.png"
    stat = target.stat()
    data = bytearray(target.read_bytes())
    data[-20] ^= 0xFF
    target.write_bytes(bytes(data))
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    done = run_cli(*args)
    if not hash_sources:
        assert done.returncode == 0, done.stderr       # size and time agree: resumed
    else:
        assert done.returncode == 2
        lines = done.stderr.strip().splitlines()
        assert lines[0].startswith(f"error: {out}: 1 source file(s) changed since the store "
                                   "was made"), done.stderr
        assert lines[1:] == ["  b.png: content changed"]
    # a newer modification time or another size is refused without hashing
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    cafe = latin1_folder / os.fsdecode(b"caf\xe9.png")
    size = cafe.stat().st_size
    cafe.write_bytes(cafe.read_bytes() + b"trailing bytes")
    done = run_cli(*[a for a in args if a != "--hash-sources"])   # the store's own check
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert "2 source file(s) changed" in lines[0] and "Traceback" not in done.stderr
    assert lines[1:] == ["  b.png: modified (mtime changed)",
                         f"  caf\\xe9.png: size {size} -> {size + 14} bytes"]


# ---------------------------------------------------------------- random kills

KILL_JOB = ("simple_x2", "--num", "1200", "--shard-size", "8", "--workers", "2", "--seed", "5",
            "--quiet")


@pytest.mark.slow
def test_random_kills_with_resume_end_bit_identical(tmp_path):
    import random
    import psutil
    reference = tmp_path / "ref.zarr"
    assert run_cli("generate", *KILL_JOB, "--scheduler", "threads", "--out", reference
                   ).returncode == 0
    out = tmp_path / "killed.zarr"
    rng = random.Random(19)
    kills = attempts = 0
    while kills < 10:
        attempts += 1
        assert attempts < 40, f"only {kills} kills landed in {attempts} runs"
        scheduler = ("threads", "processes")[attempts % 2]
        shards = len(list((out / "hq").glob("c.*")))
        run = cli("generate", *KILL_JOB, "--scheduler", scheduler, "--out", out)
        if attempts % 3:        # at a random moment of start-up, planning or creation ...
            time.sleep(rng.uniform(0.2, 1.5))
        else:                   # ... or of writing shards (a fast job: gate on its progress)
            more, deadline = rng.randint(1, 3), time.monotonic() + 60
            while (len(list((out / "hq").glob("c.*"))) < shards + more and run.poll() is None
                   and time.monotonic() < deadline):
                time.sleep(0.005)
            time.sleep(rng.uniform(0, 0.02))
        family = _descendants(run.pid)
        if run.poll() is None:
            run.kill()
            kills += 1
        run.communicate(timeout=60)
        assert run.returncode in (0, -signal.SIGKILL), run.stderr
        psutil.wait_procs(family, timeout=30)
    done = run_cli("generate", *KILL_JOB, "--scheduler", "threads", "--out", out)
    assert done.returncode == 0, done.stderr
    assert store_files(out) == store_files(reference)
    assert json.loads((out / "zarr.json").read_text())["attributes"]["complete"] is True
    assert not list(out.rglob("*.partial")) and not list(out.glob(".degrade-staging-*"))


def test_a_killed_holder_not_yet_reaped_counts_as_gone(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c",
                               "import sys, time; from degrade.run.lease import FileLease; "
                               f"FileLease({str(tmp_path)!r}).acquire(); print('held', flush=True); "
                               "time.sleep(600)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(LeaseHeld, match=f"pid {holder.pid} "):
            FileLease(tmp_path).acquire()
        os.kill(holder.pid, signal.SIGKILL)
        while Path(f"/proc/{holder.pid}/stat").read_text().split(")")[-1].split()[0] != "Z":
            time.sleep(0.01)                    # dead, and not reaped: a zombie
        with FileLease(tmp_path):
            pass
    finally:
        holder.kill()
        holder.wait()


def test_overwrite_and_an_unfinished_creation_with_extra_target_arrays(tmp_path):
    from degrade import generate
    from test_targets import RECIPE as EXTRA, WITHOUT
    out = tmp_path / "x.zarr"
    generate(EXTRA, None, out, num=4, shard_size=2, workers=1, progress=False)
    (out / "notes.txt").write_text("keep me")
    generate(WITHOUT, None, out, num=4, shard_size=2, workers=1, progress=False, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["hq", "lq", "notes.txt", "records",
                                                     "zarr.json"]
    generate(EXTRA, None, out, num=4, shard_size=2, workers=1, progress=False, overwrite=True)
    assert {"hq_usm", "hq_soft", "notes.txt"} <= {p.name for p in out.iterdir()}
    (out / "zarr.json").unlink()          # a publication cut before the group's zarr.json
    (out / "notes.txt").unlink()
    summary = generate(EXTRA, None, out, num=4, shard_size=2, workers=1, progress=False)
    assert summary["shards_written"] == 2
