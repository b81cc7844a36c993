"""Progress lines (count, rate, ETA) for the long steps of an evaluation: synthesis, detection."""
from __future__ import annotations

import logging
import time

INTERVAL_S = 10.0


class Progress:
    """Logs `what: done/total (rate/s, ETA s)` at most every INTERVAL_S seconds, and when done."""

    def __init__(self, what: str, total: int, interval_s: float = INTERVAL_S):
        self.what, self.total, self.done, self.interval_s = what, total, 0, interval_s
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
            rate = self.done / max(now - self.start, 1e-9)
            eta = f"{(self.total - self.done) / rate:.0f} s" if rate > 0 else "unknown"
            logging.info("%s: %d/%d (%.1f/s, ETA %s)", self.what, self.done, self.total, rate, eta)
