"""Progress lines (count, rate, ETA) for long work: training, synthesis, detection, editing."""
from __future__ import annotations

import logging
import time

INTERVAL_S = 10.0


def format_eta(seconds: float | None) -> str:
    """H:MM:SS, or '?' while no rate is known."""
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class Progress:
    """Logs `what: done/total (rate/s, ETA s)` at most every INTERVAL_S seconds, and when done.
    `already_done` items (a resumed run's) count towards done but not towards the rate."""

    def __init__(self, what: str, total: int, interval_s: float = INTERVAL_S, already_done: int = 0):
        self.what, self.total, self.interval_s = what, total, interval_s
        self.done = self.already_done = already_done
        self.start = self.last_log = time.monotonic()

    def update(self, count: int) -> None:
        """`count` more items are done."""
        self.advance_to(self.done + count)

    def advance_to(self, done: int) -> None:
        """`done` items are done in all."""
        finishing = self.done < self.total <= done
        self.done = done
        now = time.monotonic()
        if finishing or (now - self.last_log >= self.interval_s and done < self.total):
            self.last_log = now
            rate = (self.done - self.already_done) / max(now - self.start, 1e-9)
            eta = format_eta((self.total - self.done) / rate if rate > 0 else None)
            logging.info("%s: %d/%d (%.2f/s, ETA %s)", self.what, self.done, self.total, rate, eta)
