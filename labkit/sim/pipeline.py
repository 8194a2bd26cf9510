"""One simulated run of the pull agent's pipeline, as SimPy processes.

Why SimPy (https://simpy.readthedocs.io): well kept since 2002, MIT, tiny,
pure Python with no dependencies, and *process-based*: each loop of the
agent (a poll timer, the webhook, a worker) is a plain Python generator that
waits on ``env.timeout(...)``, so the model reads like the controller it
copies. Nothing runs in real time: a day of polls for 2,000 apps takes
seconds. (Queueing-network libraries such as Ciw model customers and
servers, not an app that is refreshed, compared and synced in steps.)

What :class:`PipelineRun` simulates:

- **triggers**: each app's poll timer (``poll_interval_s`` + uniform
  ``poll_jitter_s``, moved after every refresh, as ``Controller._schedule_poll``
  does), one shared source poll (Flux's GitRepository), and the webhook, which
  reaches the agent after the measured ``webhook`` delay and queues every app;
- **the work queue** of each controller shard (:class:`labkit.sim.queue.AppQueue`)
  and its workers; apps are dealt to shards round-robin;
- **per app**: ``refresh`` (ask Git), then on a new commit ``compare``
  (render + diff; ``compare_unchanged`` for an app the commit did not
  change, which needs no server-side dry run) and, for the apps the commit
  changed, ``apply`` (the sync), on the same worker or, with ``operation_workers``, on a separate
  sync queue; then ``health`` (waiting for pods is the cluster's work: it
  holds no worker); a poll that finds no new commit costs ``refresh`` only,
  or ``refresh`` + ``compare`` with ``poll_compares``; every reconcile that
  compares or heals (and every sync on an operation worker) then holds its
  worker for the ``overhead`` (reading the Application, writing its status);
- **the export** of each new commit, once (``Checkouts`` in
  ``labkit.gitops.source``): the first compare of that commit starts it, and
  every compare of it waits until it is done, holding its worker (its time
  scaled from the fit's repository to ``repo_files``);
  ``render_parallelism`` caps refresh/compare at once, ``cpu_slots`` every
  step that computes (refresh, compare, apply, heal, overhead);
- **drift**: seen after the measured ``detect`` time (watch) or at the next
  comparing poll (Flux), healed by the ``heal`` step after Argo CD's self-heal
  backoff (0, 2, 6, 18 ... s, capped) when the app drifts again and again.

Every step time is drawn from a :class:`labkit.sim.fit.PipelineFit`.
:mod:`labkit.sim.model` makes one run per repetition and pools the results.
"""

from __future__ import annotations

import math
import random
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import simpy

from labkit.sim.config import SimConfig
from labkit.sim.fit import PipelineFit
from labkit.sim.queue import AppQueue

Proc = Generator[simpy.Event, Any, None]
REFRESH_REASONS = frozenset({"webhook", "source"})
"""Queue reasons that ask Git whatever the poll timer says."""
_EPS = 1e-9


def backoff_s(attempt: int, c: SimConfig) -> float:
    """Seconds before self-heal attempt ``attempt`` (0-based): 0, base, base*factor, ... capped."""
    if attempt <= 0:
        return 0.0
    return float(min(c.heal_base_s * c.heal_factor ** (attempt - 1), c.heal_cap_s))


@dataclass
class _App:
    name: str
    queue: AppQueue
    ops: AppQueue | None
    seen: int = 0
    """The newest commit a refresh found (0 = the one before the simulated commit)."""
    synced: bool = False
    next_poll_at: float = 0.0
    drifted_at: float | None = None
    drifts_left: int = 0
    attempts: int = 0
    last_heal_at: float = -math.inf


class PipelineRun:
    """One simulated run: warm up the poll load, then one commit (or one round of drift)."""

    def __init__(self, config: SimConfig, fit: PipelineFit, seed: int) -> None:
        self.c, self.fit = config, fit
        self.rng = random.Random(seed)
        self.env = simpy.Environment()
        self.head = 0
        self.source_seen = 0
        self.start = config.poll_cycle_s  # by then the polls are spread as they will stay
        self.render = _slots(self.env, config.render_parallelism)
        self.cpu = _slots(self.env, config.cpu_slots)
        self.done = self.env.event()
        self.expected = config.apps
        self.redrift_after_s = 0.0
        self.touched: set[str] = set()
        self.exports: dict[int, simpy.Event] = {}
        self.out: dict[str, list[float]] = {}
        self.apps: dict[str, _App] = {}
        shards = [self._shard() for _ in range(config.shards)]
        for i in range(config.apps):
            queue, ops = shards[i % config.shards]
            self.apps[f"app-{i:05d}"] = _App(f"app-{i:05d}", queue, ops)

    def _shard(self) -> tuple[AppQueue, AppQueue | None]:
        queue = AppQueue(self.env, self.c.workers, self._reconcile)
        ops = (
            AppQueue(self.env, self.c.operation_workers, self._operate) if self.c.operation_workers else None
        )
        return queue, ops

    # -- scenarios --------------------------------------------------------------------------------

    def commit(self, touched: int, last: bool = False) -> dict[str, list[float]]:
        """One commit that changes ``touched`` apps, picked at random or the ``last`` ones the webhook
        queues: their synced_s and healthy_s."""
        self.out = {"synced_s": [], "healthy_s": []}
        names = sorted(self.apps)  # the order the webhook queues them in
        self.touched = set(names[-touched:] if last else self.rng.sample(names, touched))
        self.env.process(self._commit())
        return self._run(touched * 2)

    def drift(self, drifts: int, redrift_after_s: float) -> dict[str, list[float]]:
        """Every app drifts ``drifts`` times, again ``redrift_after_s`` after each heal: healed_s."""
        self.out = {"healed_s": []}
        self.redrift_after_s = redrift_after_s
        for app in self.apps.values():
            app.drifts_left = drifts - 1
            self.env.process(self._drift(app, self.start))
        return self._run(self.c.apps * drifts)

    def _run(self, expected: int) -> dict[str, list[float]]:
        self.expected = expected
        for app in self.apps.values():
            first = self.rng.uniform(0, self.c.poll_interval_s + self.c.poll_jitter_s)
            self._poll_at(app, first)
        if self.c.source_interval_s:
            self.env.process(self._source())
        horizon = self.start + max(
            3600.0, 20 * self.c.poll_cycle_s, expected / self.c.apps * 2 * self.c.heal_cap_s
        )
        self.env.process(self._stop_at(horizon))
        self.env.run(until=self.done)
        return self.out

    @property
    def unfinished(self) -> int:
        return self.expected - sum(len(v) for v in self.out.values())

    def _record(self, series: str, seconds: float) -> None:
        self.out[series].append(seconds)
        if not self.unfinished and not self.done.triggered:
            self.done.succeed()

    def _stop_at(self, t: float) -> Proc:
        yield self.env.timeout(t)
        if not self.done.triggered:
            self.done.succeed()

    # -- triggers ---------------------------------------------------------------------------------

    def _commit(self) -> Proc:
        yield self.env.timeout(self.start)
        self.head = 1
        if not self.c.webhook:
            return
        yield self.env.timeout(self._sample("webhook"))
        reason = "webhook"
        if self.c.source_interval_s:  # a Flux Receiver makes the source fetch now
            yield from self._step("refresh")
            self.source_seen, reason = self.head, "source"
        for app in self.apps.values():
            app.queue.add(app.name, reason)

    def _poll_at(self, app: _App, delay: float) -> None:
        if self.c.poll_interval_s:
            app.next_poll_at = self.env.now + delay
            app.queue.later(delay, app.name, "poll")

    def _source(self) -> Proc:
        """One shared Git poll (Flux's GitRepository): a new commit wakes every app at once."""
        yield self.env.timeout(self.rng.uniform(0, self.c.source_interval_s + self.c.source_jitter_s))
        while True:
            head = self.head
            yield from self._step("refresh")
            if head != self.source_seen:
                self.source_seen = head
                for app in self.apps.values():
                    app.queue.add(app.name, "source")
            yield self.env.timeout(self.c.source_interval_s + self.rng.uniform(0, self.c.source_jitter_s))

    def _revision(self) -> int:
        """The newest commit an app's refresh can find: Git's, or the shared source's last fetch."""
        return self.source_seen if self.c.source_interval_s else self.head

    def _drift(self, app: _App, delay: float) -> Proc:
        yield self.env.timeout(delay)
        app.drifted_at = self.env.now
        if self.c.watch_drift:
            yield self.env.timeout(self._sample("detect"))
            app.queue.add(app.name, "drift")

    # -- the worker's side ------------------------------------------------------------------------

    def _reconcile(self, name: str, reasons: frozenset[str]) -> Proc:
        """One reconcile, as ``Controller.process``: refresh if due, then compare and sync what is new.

        A reconcile that compared or healed then holds its worker for the ``overhead`` (most of it is
        writing the status, after the sync is recorded); a poll that finds no new commit costs its
        refresh only, as ``Controller.process`` returns before it writes anything.
        """
        app = self.apps[name]
        due = "poll" in reasons and self.env.now >= app.next_poll_at - _EPS
        worked = False
        if reasons & REFRESH_REASONS or due:
            head = self._revision()
            yield from self._step("refresh")
            self._poll_at(app, self.c.poll_interval_s + self.rng.uniform(0, self.c.poll_jitter_s))
            if head != app.seen:
                app.seen, worked = head, True
                yield from self._export(head)
                yield from self._step("compare" if name in self.touched else "compare_unchanged")
                if name in self.touched:
                    yield from self._sync(app, "commit")
            elif due and self.c.poll_compares:
                worked = True
                yield from self._step("compare")
                if app.drifted_at is not None and not self.c.watch_drift:
                    yield from self._sync(app, "heal")  # an interval re-apply heals, no backoff
        if "drift" in reasons and app.drifted_at is not None:
            worked = (yield from self._heal(app)) or worked
        if worked:
            yield from self._step("overhead")

    def _heal(self, app: _App) -> Generator[simpy.Event, Any, bool]:
        """Self-heal now (True), or come back when the backoff allows (``selfheal.next_heal``)."""
        now = self.env.now
        made = app.attempts if now - app.last_heal_at < self.c.heal_cooldown_s else 0
        wait = app.last_heal_at + backoff_s(made, self.c) - now if made else 0.0
        if wait > _EPS:
            app.queue.later(wait, app.name, "drift")
            return False
        app.attempts, app.last_heal_at = made + 1, now
        yield from self._sync(app, "heal")
        return True

    def _sync(self, app: _App, what: str) -> Proc:
        if app.ops is not None:
            app.ops.add(app.name, what)
            return
        yield from self._apply(app, what)

    def _operate(self, name: str, reasons: frozenset[str]) -> Proc:
        for what in sorted(reasons):
            yield from self._apply(self.apps[name], what)
        yield from self._step("overhead")

    def _apply(self, app: _App, what: str) -> Proc:
        if what == "commit":
            yield from self._step("apply")
            if app.seen >= 1 and not app.synced:
                app.synced = True
                self._record("synced_s", self.env.now - self.start)
                self.env.process(self._health())
        elif app.drifted_at is not None:
            yield from self._step("heal")
            self._record("healed_s", self.env.now - app.drifted_at)
            app.drifted_at = None
            if app.drifts_left > 0:
                app.drifts_left -= 1
                self.env.process(self._drift(app, self.redrift_after_s))

    def _export(self, revision: int) -> Proc:
        """Wait for the one export of ``revision``; the first compare of it starts it."""
        done = self.exports.get(revision)
        if done is None:
            done = self.exports[revision] = self.env.event()
            self.env.process(self._exporting(done))
        yield done

    def _exporting(self, done: simpy.Event) -> Proc:
        files = self.c.repo_files or self.fit.export_files
        scale = files / self.fit.export_files if self.fit.export_files else 1.0
        yield self.env.timeout(self._sample("export") * scale)
        done.succeed()

    def _health(self) -> Proc:
        yield self.env.timeout(self._sample("health"))
        self._record("healthy_s", self.env.now - self.start)

    def _step(self, step: str) -> Proc:
        """Hold the worker for one step, with a render slot (refresh, compare) and a CPU slot if limited."""
        render = self.render if step in ("refresh", "compare", "compare_unchanged") else None
        held = [r for r in (render, self.cpu) if r is not None]  # always in this order: no deadlock
        requests = [r.request() for r in held]
        try:
            for request in requests:
                yield request
            yield self.env.timeout(self._sample(step))
        finally:
            for resource, request in zip(held, requests, strict=True):
                resource.release(request)

    def _sample(self, step: str) -> float:
        return self.fit.step(step, f"the {step} step").sample(self.rng)


def _slots(env: simpy.Environment, capacity: int) -> simpy.Resource | None:
    """A shared limit of ``capacity`` at once; None for 0 (unlimited)."""
    return simpy.Resource(env, capacity) if capacity else None
