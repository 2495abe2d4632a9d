"""What shard tasks share within one process: decoded files (each decoded once per run, even
when its samples span shards or two threads want it at once) and per-thread shard buffers."""
from __future__ import annotations

import os
import pickle
import threading
import time

import numpy as np
import pytest

from degrade._errors import InputError
from degrade.run import generate, job
from degrade.run.store import quantise
from degrade.sources.folders import Patches
from tests.test_run import RECIPE, load, write_png


def make_context(files, shard_size=4, shapes=None, dtypes=None):
    ctx = job.Context(job.RecipeRef(None), 0, "image", list(files), list(files),
                        np.zeros(len(files), np.int64), Patches(), shard_size=shard_size)
    ctx.shapes.update(shapes or {})
    ctx.dtypes.update(dtypes or {})
    return ctx


@pytest.fixture()
def counted_reads(monkeypatch):
    calls = []
    real = job.read_file

    def read_file(path, kind):
        calls.append(path)
        return real(path, kind)
    monkeypatch.setattr(job, "read_file", read_file)
    return calls


@pytest.mark.parametrize("workers", [1, 2])
def test_a_file_spanning_shards_is_decoded_once_per_run(tmp_path, counted_reads, workers):
    for k in range(2):
        write_png(tmp_path / "src" / f"img{k}.png", 48, 48, k)
    # 8 samples of 2 files: samples 0-3 from img0, 4-7 from img1; shards of 2 samples, so
    # each file spans two shards (and sample 0, the probe that learns the shapes, uses img0)
    out = tmp_path / "s.zarr"
    generate(RECIPE, str(tmp_path / "src"), out, num=8, shard_size=2, workers=workers,
             progress=False)
    assert sorted(counted_reads) == sorted(str(tmp_path / "src" / f"img{k}.png") for k in range(2))
    counted_reads.clear()
    again = tmp_path / "again.zarr"        # the same store made with one shard per file
    generate(RECIPE, str(tmp_path / "src"), again, num=8, shard_size=4, workers=1, progress=False)
    a, b = load(out), load(again)
    assert np.array_equal(a["hq"], b["hq"]) and np.array_equal(a["lq"], b["lq"])
    assert a["records"] == b["records"]


def test_threads_wanting_one_file_wait_for_a_single_decode(tmp_path, monkeypatch):
    calls = []

    def slow_read(path, kind):
        calls.append(path)
        time.sleep(0.2)
        return np.full((4, 4, 3), 0.5, np.float32), {}
    monkeypatch.setattr(job, "read_file", slow_read)
    ctx = make_context(["a.png"])
    state = ctx.run_state()
    got = [None] * 4

    def ask(i):
        got[i] = state.decoded(ctx, 0)
    threads = [threading.Thread(target=ask, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == ["a.png"]
    assert all(g is got[0] for g in got)


def test_a_file_that_fails_to_decode_fails_every_asker_from_one_attempt(tmp_path, counted_reads):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    ctx = make_context([str(bad)])
    state = ctx.run_state()
    for _ in range(3):
        with pytest.raises(InputError, match="bad.png"):
            state.decoded(ctx, 0)
    assert counted_reads == [str(bad)]


def test_the_decoded_file_cache_is_bounded(tmp_path, counted_reads):
    paths = [str(write_png(tmp_path / f"f{k}.png", 8, 8, k)) for k in range(6)]
    ctx = make_context(paths)
    state = ctx.run_state()
    for k in range(6):
        state.decoded(ctx, k)
    assert list(state.files) == list(range(6 - state.FILES_KEPT, 6))
    state.decoded(ctx, 0)                        # evicted: decoded again
    assert counted_reads == paths + [paths[0]]
    counted_reads.clear()
    own = job.RunState(files_kept=5)          # an on-the-fly DataLoader worker's size
    for k in [0, 1, 2, 3, 4, 0, 5, 0]:
        own.decoded(ctx, k)
    assert list(own.files) == [2, 3, 4, 5, 0] and counted_reads == paths


def test_shard_buffers_are_per_thread_and_reused():
    ctx = make_context(["a"], shard_size=4, shapes={"hq": (6, 6, 3), "lq": (3, 3, 3)},
                       dtypes={"hq": "uint8", "lq": "uint16"})
    state = ctx.run_state()
    hq, lq = state.shard_buffers(ctx, 4)
    assert hq.shape == (4, 6, 6, 3) and hq.dtype == np.uint8
    assert lq.shape == (4, 3, 3, 3) and lq.dtype == np.uint16
    hq2, lq2 = state.shard_buffers(ctx, 3)      # the last, shorter shard: views of the same memory
    assert hq2.shape[0] == 3 and np.shares_memory(hq, hq2) and np.shares_memory(lq, lq2)
    assert hq2.flags.c_contiguous and hq2[1].flags.c_contiguous
    other = []
    thread = threading.Thread(target=lambda: other.extend(state.shard_buffers(ctx, 4)))
    thread.start()
    thread.join()
    assert not np.shares_memory(hq, other[0]) and not np.shares_memory(lq, other[1])


def test_the_run_state_is_not_pickled_with_the_context():
    ctx = make_context(["a"])
    state = ctx.run_state()
    assert ctx.run_state() is state
    copy = pickle.loads(pickle.dumps(ctx))
    assert copy.state is None and copy.files == ctx.files
    assert copy.run_state() is not state


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float16"])
def test_quantise_into_a_slot_equals_a_new_array(dtype):
    values = np.random.default_rng(1).uniform(-0.2, 1.2, (2, 5, 7, 3)).astype(np.float32)
    buffer = np.zeros((3, 5, 7, 3), dtype)
    for k in range(2):
        result = quantise(values[k], dtype, out=buffer[k])
        assert np.shares_memory(result, buffer[k]) and result.shape == buffer[k].shape
        assert np.array_equal(buffer[k], quantise(values[k], dtype))
    assert not buffer[2].any()


def test_quantise_refuses_a_slot_of_another_shape_or_dtype():
    with pytest.raises(ValueError, match=r"expected a C-contiguous uint8\(5, 7, 3\)"):
        quantise(np.zeros((5, 7, 3), np.float32), "uint8", out=np.zeros((5, 7, 4), np.uint8))
    with pytest.raises(ValueError, match="expected a C-contiguous uint16"):
        quantise(np.zeros((5, 7, 3), np.float32), "uint16", out=np.zeros((5, 7, 3), np.uint8))


def test_steady_rate_starts_when_every_worker_has_finished_a_shard():
    from degrade.run.execute import _steady_rate
    # worker a starts at once; b (a process still importing) finishes its first shard at 2.0 s
    finished = [(1.0, 8, "a"), (1.5, 8, "a"), (2.0, 8, "b"), (2.5, 8, "a"), (2.6, 8, "b"),
                (3.0, 8, "a"), (3.1, 8, "b")]
    assert _steady_rate(finished) == pytest.approx(32 / 1.1)
    assert _steady_rate([(1.0, 8, "a"), (1.5, 8, "a"), (2.0, 4, "a")]) == pytest.approx(12 / 1.0)
    assert _steady_rate(finished[:4]) is None           # 1 shard after b's first: too few
    assert _steady_rate([]) is None


def test_the_summary_reports_start_up_and_steady_rate(tmp_path, images_small):
    summary = generate(RECIPE, str(images_small), tmp_path / "s.zarr", num=12, shard_size=2,
                       workers=1, progress=False)
    assert 0 < summary["first_shard_s"] <= summary["seconds"]
    assert summary["steady_samples_per_s"] > 0
    few = generate(RECIPE, str(images_small), tmp_path / "f.zarr", num=4, shard_size=2,
                   workers=2, progress=False)
    assert few["steady_samples_per_s"] is None


@pytest.fixture()
def images_small(tmp_path):
    for k in range(3):
        write_png(tmp_path / "src" / f"img{k}.png", 40, 40, k)
    return tmp_path / "src"


def test_the_run_state_goes_with_the_run_without_the_garbage_collector(tmp_path, monkeypatch):
    import gc
    import weakref
    states = []
    real_init = job.RunState.__init__

    def init(self):
        real_init(self)
        states.append(weakref.ref(self))
    monkeypatch.setattr(job.RunState, "__init__", init)
    for k in range(2):
        write_png(tmp_path / "src" / f"img{k}.png", 48, 48, k)
    gc.disable()
    try:
        generate(RECIPE, str(tmp_path / "src"), tmp_path / "s.zarr", num=8, shard_size=2,
                 workers=2, progress=False)
        assert states and all(ref() is None for ref in states)   # freed by reference counts
    finally:
        gc.enable()


def test_copies_of_a_run_context_unpickled_in_one_process_share_its_state():
    # dask's processes scheduler sends every shard task its own pickled copy of the context
    ctx = make_context(["a"])
    ctx.token = "run-1"
    first, second = (pickle.loads(pickle.dumps(ctx)) for _ in range(2))
    assert first.run_state() is second.run_state()
    assert first.run_state() is not ctx.run_state()       # the original keeps its own
    other = make_context(["a"])
    other.token = "run-2"
    assert pickle.loads(pickle.dumps(other)).run_state() is not first.run_state()
    job.forget_run("run-1")                               # an older run: nothing to drop
    assert job._PROCESS_RUN["token"] == "run-2"
    job.forget_run("run-2")
    assert job._PROCESS_RUN == {"token": None, "state": None}
    untokened = pickle.loads(pickle.dumps(make_context(["a"])))
    assert untokened.state is None and job._PROCESS_RUN["token"] is None


def test_copies_for_worker_processes_leave_the_listing_in_a_file_read_once(tmp_path):
    files = [f"/data/folder/img_{i:05d}.png" for i in range(2000)]
    ctx = make_context(files)
    ctx.token = "run-listing"
    inline = len(pickle.dumps(ctx))
    ctx.listing = str(tmp_path / "listing.pickle")
    job.write_listing(ctx, ctx.listing)
    payload = pickle.dumps(ctx)
    assert len(payload) < inline / 20 and b"img_01999" not in payload
    first = pickle.loads(payload)
    assert first.files == files and first.rel_paths == files
    assert np.array_equal(first.file_source, ctx.file_source)
    (tmp_path / "listing.pickle").unlink()           # read once per process and run
    second = pickle.loads(payload)
    assert second.files is first.files
    job.forget_run("run-listing")


def test_a_processes_run_sends_its_listing_in_a_file_and_removes_it(tmp_path, monkeypatch,
                                                                   images_small):
    from degrade.run import dispatch
    written = []

    def write_listing(ctx, path):
        written.append(path)
        job.write_listing(ctx, path)
    monkeypatch.setattr(dispatch, "write_listing", write_listing)
    summary = generate(RECIPE, str(images_small), tmp_path / "p.zarr", num=8, workers=2,
                       scheduler="processes", progress=False)
    assert summary["samples_written"] == 8
    assert len(written) == 1 and not os.path.exists(written[0])
    generate(RECIPE, str(images_small), tmp_path / "t.zarr", num=8, workers=2, progress=False)
    assert len(written) == 1                     # threads share the context: no file


def test_done_shards_are_read_back_in_blocks_of_consecutive_shards():
    from degrade.run.resume import sample_blocks as _sample_blocks
    assert list(_sample_blocks([0, 1, 2, 5, 6, 9], 4, 38)) == [(0, 12), (20, 28), (36, 38)]
    assert list(_sample_blocks(list(range(130)), 64, 130 * 64, most=64)) == [
        (0, 4096), (4096, 8192), (8192, 8320)]
    assert list(_sample_blocks([], 4, 10)) == []
