"""A coalescing work queue with timers: how the controller's loops hand it work.

Watch events, webhook calls, poll timers and self-heal backoff all say "look
at app X again, because Y". Many such requests for one app arrive in bursts
(a rollout changes a Deployment's status a dozen times), so the queue keeps
at most one pending entry per app and merges the reasons: the worker then
reconciles once for the whole burst. ``later`` schedules a request for a
moment in the future (polls, backoff, a sync waiting for health).

Several workers may take from one queue, but never two at once for the same
app: an app handed out by ``get`` is *active* until ``done(app)``; requests
that arrive meanwhile wait and are handed out after it (as in client-go's
workqueue, which Argo CD's controller uses).
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable


class WorkQueue:
    """Pending app names with their reasons, plus timers that add to it."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._pending: dict[str, set[str]] = {}
        self._order: list[str] = []
        self._active: set[str] = set()
        self._timers: list[tuple[float, int, str, str]] = []
        self._seq = 0
        self._cond = threading.Condition()
        self._closed = False

    def add(self, app: str, reason: str) -> None:
        with self._cond:
            self._enqueue(app, reason)
            self._cond.notify()

    def done(self, app: str) -> None:
        """The worker finished ``app``; requests that came in meanwhile may go out now."""
        with self._cond:
            self._active.discard(app)
            if app in self._pending and app not in self._order:
                self._order.append(app)
                self._cond.notify()

    def _enqueue(self, app: str, reason: str) -> None:
        if app not in self._pending:
            self._pending[app] = set()
            if app not in self._active:
                self._order.append(app)
        self._pending[app].add(reason)

    def later(self, delay_s: float, app: str, reason: str) -> None:
        with self._cond:
            self._seq += 1
            heapq.heappush(self._timers, (self.clock() + max(delay_s, 0.0), self._seq, app, reason))
            self._cond.notify()

    def get(self, timeout_s: float | None = None) -> tuple[str, set[str]] | None:
        """The next app and all its reasons (call ``done`` after); None on timeout or after close."""
        deadline = None if timeout_s is None else self.clock() + timeout_s
        with self._cond:
            while True:
                self._fire_due_timers()
                if self._closed:
                    return None
                if self._order:
                    app = self._order.pop(0)
                    self._active.add(app)
                    return app, self._pending.pop(app)
                wait = self._next_wait(deadline)
                if wait is not None and wait <= 0:
                    return None
                self._cond.wait(wait)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._order)

    def _fire_due_timers(self) -> None:
        now = self.clock()
        while self._timers and self._timers[0][0] <= now:
            _, _, app, reason = heapq.heappop(self._timers)
            self._enqueue(app, reason)

    def _next_wait(self, deadline: float | None) -> float | None:
        now = self.clock()
        candidates = [t - now for t in ([self._timers[0][0]] if self._timers else [])]
        if deadline is not None:
            if now >= deadline:
                return 0.0
            candidates.append(deadline - now)
        return max(min(candidates), 0.001) if candidates else None
