"""A small progress line for dataset generation: samples done, samples/s and ETA, on stderr.

On a terminal the line is rewritten in place; otherwise (logs, CI) a line is printed at most
every ``interval`` seconds and once at the end.
"""
from __future__ import annotations

import sys
import threading
import time


def _clock(seconds: float) -> str:
    seconds = int(max(seconds, 0) + 0.5)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


class Progress:
    """Counts finished samples (``update(n)``, thread-safe) and prints rate and ETA."""

    def __init__(self, total: int, done: int = 0, *, enabled: bool = True, stream=None,
                 interval: float = 5.0):
        self.total, self.done, self.start_done = total, done, done
        self.enabled, self.stream = enabled, stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = 0.2 if self.tty else interval
        self.t0 = time.perf_counter()
        self.last = 0.0
        self.printed_done = None     # the count of the last line printed
        self.lock = threading.Lock()

    def line(self) -> str:
        elapsed = time.perf_counter() - self.t0
        made = self.done - self.start_done
        rate = made / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else float("nan")
        pct = 100.0 * self.done / self.total if self.total else 100.0
        eta_text = _clock(eta) if eta == eta else "?"
        return (f"generate: {self.done}/{self.total} samples ({pct:5.1f}%) "
                f"{rate:7.1f} samples/s  elapsed {_clock(elapsed)}  ETA {eta_text}")

    def update(self, n: int) -> None:
        with self.lock:
            self.done += n
            now = time.perf_counter()
            if self.enabled and now - self.last >= self.interval:
                self.last = now
                self._emit(final=False)

    def _emit(self, final: bool) -> None:
        end = "\n" if final or not self.tty else ""
        prefix = "\r" if self.tty else ""
        print(prefix + self.line(), end=end, file=self.stream, flush=True)
        self.printed_done = self.done

    def close(self) -> None:
        """Print the final line (on a terminal: end the line that is being rewritten)."""
        if self.enabled:
            with self.lock:
                if not self.tty and self.printed_done == self.done:
                    return          # that exact line is already in the log
                self._emit(final=True)
