"""The agent's work queue and its workers, as SimPy processes.

The same rules as ``labkit.gitops.workqueue.WorkQueue`` (and client-go's
workqueue under Argo CD): at most one pending entry per app, whose reasons
merge; an app handed to a worker is *active* until its handler returns, and
requests that arrive meanwhile wait and go back in line after it, so one app
is never handled by two workers at once. First come, first served.

:class:`labkit.sim.model` makes one queue per controller shard (and one more
for operation workers); the M/M/1 unit test drives one directly.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import simpy

Handler = Callable[[str, frozenset[str]], Generator[simpy.Event, Any, None]]
"""handler(app, reasons): a SimPy generator that holds the worker while it runs."""


class AppQueue:
    """Pending apps with their reasons, served by ``workers`` SimPy processes."""

    def __init__(self, env: simpy.Environment, workers: int, handler: Handler) -> None:
        if workers < 1:
            raise ValueError(f"a queue needs at least 1 worker, got {workers}")
        self.env = env
        self.handler = handler
        self._line: simpy.Store = simpy.Store(env)
        self._pending: dict[str, set[str]] = {}
        self._active: set[str] = set()
        for _ in range(workers):
            env.process(self._work())

    def add(self, app: str, reason: str) -> None:
        """Ask for ``app`` to be handled because of ``reason`` (merged if it already waits)."""
        if app in self._pending:
            self._pending[app].add(reason)
            return
        self._pending[app] = {reason}
        if app not in self._active:
            self._line.put(app)

    def later(self, delay_s: float, app: str, reason: str) -> None:
        """:meth:`add` after ``delay_s`` seconds of simulated time."""
        self.env.process(self._after(delay_s, app, reason))

    def _after(self, delay_s: float, app: str, reason: str) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(delay_s)
        self.add(app, reason)

    def _work(self) -> Generator[simpy.Event, Any, None]:
        while True:
            app = yield self._line.get()
            reasons = frozenset(self._pending.pop(app))
            self._active.add(app)
            yield from self.handler(app, reasons)
            self._active.discard(app)
            if app in self._pending:  # asked again while it was being handled
                self._line.put(app)
