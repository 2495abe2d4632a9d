"""The progress line: rate and ETA, and the final line printed exactly once in a log."""
from __future__ import annotations

import io

from degrade.run.progress import Progress


def test_final_line_is_not_repeated_in_a_log():
    out = io.StringIO()
    bar = Progress(10, enabled=True, stream=out, interval=0.0)
    bar.update(4)
    bar.update(6)
    bar.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("generate: 4/10 samples ( 40.0%)")
    assert lines[1].startswith("generate: 10/10 samples (100.0%)") and "ETA 0:00:00" in lines[1]


def test_close_prints_the_count_reached_since_the_last_line():
    out = io.StringIO()
    bar = Progress(10, done=2, enabled=True, stream=out, interval=3600.0)
    bar.update(3)                        # with a 1-hour interval at most one line is printed
    bar.update(5)
    bar.close()
    assert out.getvalue().splitlines()[-1].startswith("generate: 10/10 samples")


def test_disabled_progress_prints_nothing():
    out = io.StringIO()
    bar = Progress(5, enabled=False, stream=out)
    bar.update(5)
    bar.close()
    assert out.getvalue() == ""
