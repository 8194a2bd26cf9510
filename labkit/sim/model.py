"""The what-if model: the pull agent's pipeline as a discrete-event simulation.

Built on SimPy (https://simpy.readthedocs.io): well kept since 2002, MIT,
pure Python with no dependencies, and *process-based*: each loop of the
agent (a poll timer, the webhook, a worker) is a plain Python generator that
waits on ``env.timeout(...)``, so the model reads like the controller it
copies. Nothing runs in real time: a day of polls for 2,000 apps takes
seconds.

What is simulated, per run (see :class:`_Run`):

- **triggers**: each app's poll timer (``poll_interval_s`` + uniform
  ``poll_jitter_s``, moved after every refresh, as ``Controller._schedule_poll``
  does), one shared source poll (Flux's GitRepository), and the webhook, which
  reaches the agent after the measured ``webhook`` delay and queues every app;
- **the work queue** of each controller shard (:class:`labkit.sim.queue.AppQueue`)
  and its workers; apps are dealt to shards round-robin;
- **per app**: ``refresh`` (ask Git), then on a new commit ``compare``
  (render + diff) and ``apply`` (the sync), on the same worker or, with
  ``operation_workers``, on a separate sync queue; then ``health`` (waiting
  for pods is the cluster's work: it holds no worker); a poll that finds no
  new commit costs ``refresh`` only, or ``refresh`` + ``compare`` with
  ``poll_compares``; ``render_parallelism`` caps refresh/compare at once,
  ``cpu_slots`` every step that computes (refresh, compare, apply, heal);
- **drift**: seen after the measured ``detect`` time (watch) or at the next
  comparing poll (Flux), healed by the ``heal`` step after Argo CD's self-heal
  backoff (0, 2, 6, 18 ... s, capped) when the app drifts again and again.

Every step time is drawn from a :class:`labkit.sim.fit.PipelineFit`, fitted
from the learner's own timeline. Step times do not grow with the number of
apps here; the validation table (:mod:`labkit.sim.validate`) says whether
that holds on the lab. ``benchmarks/bench_sim.py`` calls
:func:`predict_commit` and :func:`predict_drift`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import simpy

from labkit.sim.config import SimConfig
from labkit.sim.fit import COMMIT_STEPS, PipelineFit
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


def quantile(values: Sequence[float], q: float) -> float:
    """The q-quantile with linear interpolation (pandas' default); NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    pos = q * (len(ordered) - 1)
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


@dataclass(frozen=True)
class Prediction:
    """Simulated latencies, in seconds after the commit (or the drift), one per app per run."""

    config: SimConfig
    scenario: str
    """``commit`` (series ``synced_s``, ``healthy_s``) or ``drift`` (series ``healed_s``)."""
    runs: int
    latencies: dict[str, tuple[float, ...]]
    unfinished: int = 0
    """Latencies never reached: the run stopped first (after an hour or 20 poll cycles)."""
    poll_load: float = 0.0
    """:func:`poll_load` of the config: at 1 or more the polls alone outrun the workers."""

    def quantile(self, series: str, q: float) -> float:
        return quantile(self.latencies[series], q)

    def summary(self) -> list[dict[str, Any]]:
        """One row per series: config, apps, series, n, p50_s, p95_s, max_s, unfinished, poll_load."""
        return [
            {
                "config": self.config.name,
                "apps": self.config.apps,
                "series": series,
                "n": len(values),
                "p50_s": quantile(values, 0.5),
                "p95_s": quantile(values, 0.95),
                "max_s": max(values, default=math.nan),
                "unfinished": self.unfinished,
                "poll_load": round(self.poll_load, 3),
            }
            for series, values in self.latencies.items()
        ]


def poll_load(config: SimConfig, fit: PipelineFit) -> float:
    """Share of the workers' time polls alone take (mean step times); at 1 or more the queue never drains."""
    if not config.poll_interval_s:
        return 0.0
    cost = fit.refresh.mean_s + (fit.compare.mean_s if config.poll_compares else 0.0)
    per_second = config.apps / (config.poll_interval_s + config.poll_jitter_s / 2)
    hands = config.workers * config.shards
    for limit in (config.cpu_slots, config.render_parallelism):
        hands = min(hands, limit or hands)
    return per_second * cost / hands


def default_runs(apps: int) -> int:
    """Runs enough for about 200 latencies, between 1 and 50."""
    return max(1, min(50, math.ceil(200 / apps)))


def predict_commit(
    config: SimConfig, fit: PipelineFit, *, touched: int = 0, runs: int = 0, seed: int = 0
) -> Prediction:
    """commit -> Synced and commit -> Healthy of each app one commit changes.

    ``touched`` apps (0 = all) change; the others still find a new revision
    of the repository and compare, as every app on one repository does, so
    they take workers without syncing.
    """
    if not 0 <= touched <= config.apps:
        raise ValueError(f"touched must be between 0 (all) and the {config.apps} apps, got {touched}")
    for step in (*COMMIT_STEPS, *(["webhook"] if config.webhook else [])):
        fit.step(step, needed_for="a commit prediction")
    n = touched or config.apps
    return _repeat(config, fit, "commit", runs or default_runs(n), seed, lambda run: run.commit(n))


def predict_drift(
    config: SimConfig,
    fit: PipelineFit,
    *,
    drifts: int = 1,
    redrift_after_s: float = 0.0,
    runs: int = 0,
    seed: int = 0,
) -> Prediction:
    """drift -> healed of every app, each drifted ``drifts`` times, again ``redrift_after_s`` after each heal.

    One drift per app shows detection and queueing; several in a row (an
    HPA or a person fighting the agent) show the self-heal backoff.
    """
    if drifts < 1:
        raise ValueError(f"drifts must be at least 1, got {drifts}")
    if redrift_after_s < 0:
        raise ValueError(f"redrift_after_s must not be negative, got {redrift_after_s}")
    fit.step("heal", needed_for="a drift prediction")
    if config.watch_drift:
        fit.step("detect", needed_for="a drift prediction")
    return _repeat(
        config,
        fit,
        "drift",
        runs or default_runs(config.apps),
        seed,
        lambda run: run.drift(drifts, redrift_after_s),
    )


def _repeat(
    config: SimConfig,
    fit: PipelineFit,
    scenario: str,
    runs: int,
    seed: int,
    play: Callable[[_Run], dict[str, list[float]]],
) -> Prediction:
    if runs < 0:
        raise ValueError(f"runs must be 0 (choose for me) or more, got {runs}")
    series: dict[str, list[float]] = {}
    unfinished = 0
    for i in range(runs):
        run = _Run(config, fit, seed=seed * 1_000_003 + i)
        result = play(run)
        for name, values in result.items():
            series.setdefault(name, []).extend(values)
        unfinished += run.unfinished
    latencies = {name: tuple(values) for name, values in series.items()}
    return Prediction(config, scenario, runs, latencies, unfinished, poll_load(config, fit))


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


class _Run:
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

    def commit(self, touched: int) -> dict[str, list[float]]:
        self.out = {"synced_s": [], "healthy_s": []}
        self.touched = set(self.rng.sample(sorted(self.apps), touched))
        self.env.process(self._commit())
        return self._run(touched * 2)

    def drift(self, drifts: int, redrift_after_s: float) -> dict[str, list[float]]:
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
        """One reconcile, as ``Controller.process``: refresh if due, then compare and sync what is new."""
        app = self.apps[name]
        due = "poll" in reasons and self.env.now >= app.next_poll_at - _EPS
        if reasons & REFRESH_REASONS or due:
            head = self._revision()
            yield from self._step("refresh")
            self._poll_at(app, self.c.poll_interval_s + self.rng.uniform(0, self.c.poll_jitter_s))
            if head != app.seen:
                app.seen = head
                yield from self._step("compare")
                if name in self.touched:
                    yield from self._sync(app, "commit")
            elif due and self.c.poll_compares:
                yield from self._step("compare")
                if app.drifted_at is not None and not self.c.watch_drift:
                    yield from self._sync(app, "heal")  # an interval re-apply heals, no backoff
        if "drift" in reasons and app.drifted_at is not None:
            yield from self._heal(app)

    def _heal(self, app: _App) -> Proc:
        """Self-heal now, or come back when the backoff allows (``selfheal.next_heal``)."""
        now = self.env.now
        made = app.attempts if now - app.last_heal_at < self.c.heal_cooldown_s else 0
        wait = app.last_heal_at + backoff_s(made, self.c) - now if made else 0.0
        if wait > _EPS:
            app.queue.later(wait, app.name, "drift")
            return
        app.attempts, app.last_heal_at = made + 1, now
        yield from self._sync(app, "heal")

    def _sync(self, app: _App, what: str) -> Proc:
        if app.ops is not None:
            app.ops.add(app.name, what)
            return
        yield from self._apply(app, what)

    def _operate(self, name: str, reasons: frozenset[str]) -> Proc:
        for what in sorted(reasons):
            yield from self._apply(self.apps[name], what)

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

    def _health(self) -> Proc:
        yield self.env.timeout(self._sample("health"))
        self._record("healthy_s", self.env.now - self.start)

    def _step(self, step: str) -> Proc:
        """Hold the worker for one step, with a render slot (refresh, compare) and a CPU slot if limited."""
        render = self.render if step in ("refresh", "compare") else None
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


def predict_many(
    configs: Iterable[SimConfig], fit: PipelineFit, *, runs: int = 0, seed: int = 0
) -> list[dict[str, Any]]:
    """commit -> Synced summary rows of several what-ifs, one after the other."""
    rows: list[dict[str, Any]] = []
    for config in configs:
        rows += predict_commit(config, fit, runs=runs, seed=seed).summary()
    return rows
