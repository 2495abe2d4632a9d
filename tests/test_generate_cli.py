"""`degrade generate` and `degrade inspect` on the command line, and `degrade.generate`."""
from __future__ import annotations

import json
import re

import pytest
import zarr

import degrade
from degrade.cli import main
from degrade.run.job import JobSpec, plan_job
from test_run import RECIPE, write_png


@pytest.fixture
def job(tmp_path):
    images = tmp_path / "images"
    for k in range(3):
        write_png(images / f"{k}.png", 40, 44, k)
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(RECIPE)
    return recipe, images, tmp_path / "out.zarr"


def test_generate_then_inspect(job, tmp_path, capsys):
    recipe, images, out = job
    assert main(["generate", str(recipe), "--out", str(out), "--input", str(images), "--num", "6",
                 "--shard-size", "4", "--workers", "2"]) == 0
    err = capsys.readouterr().err
    assert "generate: 6/6 samples (100.0%)" in err and "samples/s" in err and "ETA" in err
    # the CLI's default scheduler is auto: a short run stays on threads, and says why
    assert "scheduler: threads (6 samples at ~" in err and "s on one worker (< 5 s)" in err
    assert f"{out}: 6 samples in 2 shards (2 written, 0 kept from an earlier run)" in err
    assert "once every worker ran" not in err          # 2 shards: too few for a steady rate
    out2 = tmp_path / "more.zarr"
    assert main(["generate", str(recipe), "--out", str(out2), "--input", str(images), "--num",
                 "12", "--shard-size", "2", "--workers", "1"]) == 0
    err = capsys.readouterr().err
    assert re.search(r"\(threads; [0-9.]+ samples/s once every worker ran, after [0-9.]+ s to "
                     r"the first shard\)", err)
    assert main(["inspect", str(out), "--grid", str(tmp_path / "pairs.png"), "--pairs", "2"]) == 0
    text = capsys.readouterr().out
    assert "status    complete: 6/6 samples, 2/2 shards" in text
    assert "hq        shape (6, 32, 32, 3) uint8" in text and "recipe    tiny_x2" in text
    assert "gaussian_blur.sigma_x" in text and "skipped   0 file(s)" in text
    assert "recipe text:\n  name: tiny_x2" in text and (tmp_path / "pairs.png").is_file()
    assert main(["inspect", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["num"] == 6 and info["arrays"]["lq"]["shape"] == [6, 16, 16, 3]


def test_rerun_resumes_and_other_seed_is_refused(job, capsys):
    recipe, images, out = job
    base = ["generate", str(recipe), "--out", str(out), "--input", str(images), "--num", "4",
            "--quiet"]
    assert main(base) == 0
    assert main(base[:-1]) == 0
    assert "(0 written, 4 kept from an earlier run)" in capsys.readouterr().err
    assert main(base + ["--seed", "3"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {out} holds a store of another job") and "seed: store has 7" in err
    assert main(base + ["--seed", "3", "--overwrite"]) == 0
    assert zarr.open_group(str(out), mode="r").attrs["seed"] == 3


def test_weighted_inputs_and_patch_grid(job, tmp_path, capsys):
    recipe, images, out = job
    other = tmp_path / "other"
    write_png(other / "big.png", 64, 64, 7)
    assert main(["generate", str(recipe), "--out", str(out), "--input", str(images), "--input",
                 str(other), "--counts", "3", "4", "--patch-size", "32", "--stride", "32",
                 "--quiet"]) == 0
    records = [json.loads(str(r)) for r in zarr.open_group(str(out), mode="r")["records"][:]]
    assert [r["source"]["source"] for r in records].count(1) == 4
    assert sorted(r["source"]["patch"] for r in records if r["source"]["source"] == 1) == \
        [[0, 0, 32], [0, 32, 32], [32, 0, 32], [32, 32, 32]]


def test_builtin_samples_are_the_default_input(tmp_path, capsys):
    out = tmp_path / "s.zarr"
    assert main(["generate", "simple_x2", "--out", str(out), "--num", "3", "--quiet"]) == 0
    g = zarr.open_group(str(out), mode="r")
    assert g["hq"].shape == (3, 128, 128, 3) and g.attrs["sources"][0]["path"] == "<samples>"


@pytest.mark.parametrize("extra, message", [
    (["--weights", "1", "2"], "error: sources: 2 weights for 1 sources; give one per source"),
    (["--scheduler", "thread"], "error: scheduler = 'thread': expected one of threads"),
    (["--shard-size", "0"], "error: shard_size = 0: expected an integer >= 1"),
    (["--num", "0"], "error: num = 0: expected an integer >= 1"),
    (["--stride", "8"], "error: patch stride given without a patch size"),
    (["--input", "/nonexistent/folder"], "error: source /nonexistent/folder: not a folder"),
])
def test_generate_user_errors_exit_2(job, capsys, extra, message):
    recipe, images, out = job
    args = ["generate", str(recipe), "--out", str(out), "--quiet"]
    if "--input" not in extra:
        args += ["--input", str(images)]
    assert main(args + extra) == 2
    assert capsys.readouterr().err.startswith(message)


def test_inspect_errors_exit_2(tmp_path, capsys):
    assert main(["inspect", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path}: not a zarr store (no zarr.json)\n"
    zarr.open_group(str(tmp_path / "plain.zarr"), mode="w")
    assert main(["inspect", str(tmp_path / "plain.zarr")]) == 2
    assert "a zarr group, but not a degrade store" in capsys.readouterr().err


def test_python_api_mirrors_the_cli(job):
    recipe, images, out = job
    summary = degrade.generate(str(recipe), str(images), out, num=2, progress=False)
    assert summary["num"] == 2 and summary["shards_written"] == 2     # 1 sample a shard


def test_skipped_files_are_warned_on_stderr_and_listed_by_inspect(job, capsys):
    recipe, images, out = job
    (images / "broken.png").write_bytes(b"nope")
    assert main(["generate", str(recipe), "--out", str(out), "--input", str(images)]) == 0
    err = capsys.readouterr().err
    assert f"warning: skipping {images / 'broken.png'}: not a readable image" in err
    assert "1 file(s) skipped" in err
    assert main(["inspect", str(out), "--no-recipe"]) == 0
    text = capsys.readouterr().out
    assert f"skipped   1 file(s)\n  {images / 'broken.png'}: not a readable image" in text
    assert "recipe text:" not in text
    assert main(["generate", str(recipe), "--out", str(out), "--input", str(images), "--strict"]) == 2
    assert "error: " + str(images / "broken.png") + ": not a readable image" in capsys.readouterr().err


def test_auto_takes_processes_for_a_long_run_with_the_same_bits(job, tmp_path, monkeypatch):
    from degrade.run import schedule
    recipe, images, out = job
    kwargs = dict(num=8, shard_size=2, workers=2, progress=False)
    threads = degrade.generate(str(recipe), str(images), tmp_path / "t.zarr", scheduler="threads",
                               **kwargs)
    assert threads["scheduler"] == "threads"
    monkeypatch.setattr(schedule, "AUTO_PROCESSES_SECONDS", 0.0)      # every run counts as long
    monkeypatch.setattr(schedule, "AUTO_PROCESSES_SAMPLE_MS", 0.0)    # and no sample as light
    heavy = degrade.generate(str(recipe), str(images), tmp_path / "h.zarr", scheduler="auto",
                             **kwargs)
    assert heavy["scheduler"] == "threads"                            # threads scale: no spawn
    monkeypatch.setattr(schedule, "AUTO_PROCESSES_SAMPLE_MS", 1e9)     # every sample is light
    auto = degrade.generate(str(recipe), str(images), out, scheduler="auto", **kwargs)
    assert auto["scheduler"] == "processes"
    one = degrade.generate(str(recipe), str(images), tmp_path / "one.zarr", scheduler="auto",
                           **{**kwargs, "workers": 1})
    assert one["scheduler"] == "threads"                              # 1 worker: no processes
    a, b = zarr.open_group(str(tmp_path / "t.zarr"), mode="r"), zarr.open_group(str(out), mode="r")
    for name in ("hq", "lq", "records"):
        assert (a[name][:] == b[name][:]).all()


@pytest.mark.parametrize("shard_size", [4, 1])
def test_auto_times_samples_of_the_run_to_decide(job, monkeypatch, shard_size):
    from degrade.run import execute, schedule
    recipe, images, out = job
    made = []
    real = execute.make_sample
    counted = lambda ctx, index, *a: (made.append(index), real(ctx, index, *a))[1]  # noqa: E731
    monkeypatch.setattr(execute, "make_sample", counted)       # the shape probe
    monkeypatch.setattr(schedule, "make_sample", counted)      # the auto scheduler's probe
    monkeypatch.setattr(schedule, "AUTO_PROCESSES_SECONDS", 1e9)      # short even at 1 s a sample
    summary = degrade.generate(str(recipe), str(images), out, num=9, shard_size=shard_size,
                               workers=2, scheduler="auto", progress=False)
    assert summary["scheduler"] == "threads"
    assert made == [0, 0]                # the shape probe, then one timed sample said "short"
    made.clear()
    monkeypatch.setattr(schedule, "AUTO_PROCESSES_SECONDS", 1e-9)     # long even at 1 ns
    monkeypatch.setattr(schedule, "AUTO_PROBE_SECONDS", 1e9)          # no time budget: 8 samples
    monkeypatch.setattr(schedule, "AUTO_PROCESSES_SAMPLE_MS", 0.0)    # (and stay on threads)
    summary = degrade.generate(str(recipe), str(images), out.with_name("b.zarr"), num=9,
                               shard_size=shard_size, workers=2, scheduler="auto", progress=False)
    assert made == [0] + list(range(8)) and summary["scheduler"] == "threads"


@pytest.mark.parametrize("durations_ms, expected", [
    ([500, 40, 6, 1.0, 5, 6, 7, 8], "processes"),   # resumed: kernels load, but some samples are light
    ([500, 40, 30, 25, 22, 24, 26, 23], "threads"),  # every sample heavy: threads scale
])
def test_auto_tells_light_from_heavy_samples_by_the_fastest(job, monkeypatch, durations_ms,
                                                          expected):
    import types
    from degrade.run import schedule
    recipe, images, _ = job
    _, plan, ctx = plan_job(str(recipe), JobSpec(str(images), num=40000))
    ctx.shard_size = 64
    clock, durations = [0.0], iter(durations_ms)

    def fake_sample(*args):
        clock[0] += next(durations) / 1e3
    monkeypatch.setattr(schedule, "make_sample", fake_sample)
    monkeypatch.setattr(schedule, "time", types.SimpleNamespace(perf_counter=lambda: clock[0]))
    monkeypatch.setattr(schedule, "AUTO_PROBE_SECONDS", 1e9)
    name, why = schedule.auto_scheduler(ctx, plan, list(range(625)), workers=2)
    assert name == expected
    long_enough = (schedule.AUTO_PROCESSES_SECONDS if schedule.fork_server_available()
                   else schedule.AUTO_PROCESSES_SECONDS_SPAWNED)
    assert "40000 samples at ~" in why and f">= {long_enough:g} s" in why


@pytest.mark.parametrize("fork_server, expected", [(True, "processes"), (False, "threads")])
def test_auto_wants_longer_runs_when_workers_are_spawned(job, monkeypatch, fork_server, expected):
    """~10 s of light samples: worth processes forked from the warm server (start-up ~0.4 s),
    not spawned ones (1-3 s of start-up)."""
    import types
    from degrade.run import schedule
    recipe, images, _ = job
    _, plan, ctx = plan_job(str(recipe), JobSpec(str(images), num=10000))
    ctx.shard_size = 64
    clock = [0.0]

    def fake_sample(*args):
        clock[0] += 1e-3                          # 1 ms a sample: 10 s on one worker
    monkeypatch.setattr(schedule, "make_sample", fake_sample)
    monkeypatch.setattr(schedule, "time", types.SimpleNamespace(perf_counter=lambda: clock[0]))
    monkeypatch.setattr(schedule, "fork_server_available", lambda: fork_server)
    name, why = schedule.auto_scheduler(ctx, plan, list(range(157)), workers=2)
    assert name == expected, why


@pytest.mark.parametrize("trim", ["65536", None])
def test_a_cluster_with_dasks_malloc_trim_gets_a_hint(job, monkeypatch, capsys, trim):
    from distributed import LocalCluster
    recipe, images, out = job
    if trim:
        monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", trim)
    else:
        monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster:
        degrade.generate(str(recipe), str(images), out, num=4, shard_size=2,
                         scheduler=cluster.scheduler_address, progress=True)
    err = capsys.readouterr().err
    hinted = "hint: 1 cluster worker(s) run with MALLOC_TRIM_THRESHOLD_=65536" in err
    assert hinted == bool(trim)


def test_small_jobs_get_8_shards_and_a_rerun_keeps_the_stores_shard_size(job, capsys):
    from degrade.run.execute import default_shard_size
    assert [default_shard_size(n) for n in (1, 8, 9, 64, 100, 511, 512, 10**6)] == \
        [1, 1, 2, 8, 13, 64, 64, 64]
    recipe, images, out = job
    base = ["generate", str(recipe), "--out", str(out), "--input", str(images), "--num", "6"]
    assert main(base + ["--shard-size", "4"]) == 0           # a store made with other shards
    capsys.readouterr()
    assert main(base) == 0                                    # resumed, not refused
    assert "6 samples in 2 shards (0 written, 2 kept from an earlier run)" in capsys.readouterr().err
    assert main(base + ["--overwrite"]) == 0                  # a new store: the default
    assert zarr.open_group(str(out), mode="r").attrs["shard_size"] == 1


@pytest.mark.parametrize("files, decode_ms, expected", [
    (40000, 20.0, "threads"),      # one sample a file: mostly decoding, which threads share
    (16, 20.0, "processes"),       # few files: the samples are the work, and they are light
])
def test_auto_counts_the_decoding_of_the_files_to_read(job, monkeypatch, files, decode_ms,
                                                       expected):
    import types
    import numpy as np
    from degrade.run import schedule
    from degrade.run import job as run_job
    recipe, images, _ = job
    _, _, ctx = plan_job(str(recipe), JobSpec(str(images), num=6))
    num = 40000
    plan = types.SimpleNamespace(num=num, sample_file=np.arange(num) * files // num,
                                 sample_cell=np.zeros(num, np.int64))
    ctx.files, ctx.shard_size = ["unused"] * files, 64
    clock = [0.0]

    def fake_read(path, kind):
        clock[0] += decode_ms / 1e3
        return np.zeros((4, 4, 3), np.float32), {}

    def fake_sample(*args):
        clock[0] += 0.001                                      # 1 ms: a light sample
    monkeypatch.setattr(run_job, "read_file", fake_read)
    monkeypatch.setattr(schedule, "make_sample", fake_sample)
    monkeypatch.setattr(schedule, "time", types.SimpleNamespace(perf_counter=lambda: clock[0]))
    name, why = schedule.auto_scheduler(ctx, plan, list(range(num // 64 + 1)), workers=2)
    assert name == expected, why
    assert f"{files} files at ~20.0 ms to decode" in why
