"""Step times of the pull agent, fitted from the learner's own timeline.

:func:`fit_timeline` reads a lab's ``timeline.jsonl`` (a
:class:`labkit.events.Timeline`, a path, or events), measures how long each
step of the pipeline took, and fits one small distribution per step. The
result, a :class:`PipelineFit`, is plain data: the parameters and the number
of measurements behind each step. :mod:`labkit.sim.model` samples from it;
``benchmarks/bench_sim.py`` prints it (:meth:`PipelineFit.rows`).

Each step is the time between two events the controller (actor
``controller``) or the git hook (actor ``git``) already writes, joined on the
app and the revision (see :data:`STEPS`), or a duration the controller
writes on one event (:data:`DURATIONS`):

========  =====================================  =============================================
step      from                                   to
========  =====================================  =============================================
webhook   ``pushed`` (git)                       ``webhook_received`` of that revision
refresh   ``refresh_started`` of the app         its ``revision_detected`` (a new commit; not
                                                 an app's first revision)
compare   ``revision_detected``                  ``diff_computed`` of that app and revision
                                                 (render the path, diff against the cluster)
compare_  ``revision_detected``                  a ``diff_computed`` that says Synced: a commit
unchanged                                        that did not change the app (no server-side
                                                 dry run: the cached answer still holds)
apply     that ``diff_computed``                 ``sync_finished``: automated, not a dry run,
                                                 Succeeded (write the operation, run the sync)
health    ``sync_finished``                      ``healthy`` of that app and revision
detect    ``drift_injected`` (any actor)         the app's next ``drift_detected``
heal      ``drift_detected`` with selfHeal on    ``healed`` after at most one attempt
export    ``checkout_exported``: its             once per commit: the export of the new commit
          ``duration_s``                         that every app's first render waits for
overhead  ``reconciled``: its ``duration_s``     the worker's time on a reconcile that found a
          minus refresh, compare and apply       new commit outside those steps (reading the
                                                 Application, writing its status)
========  =====================================  =============================================

A compare that waited for the export of its commit is measured without that
wait (the model waits for the export itself), and ``checkout_exported``
counts the files exported: :attr:`PipelineFit.export_files`, so a larger
repository can be predicted (``SimConfig.repo_files``). Time spent waiting
in the work queue is not part of any step: the model simulates the queue
itself. Families: ``lognormal`` (maximum likelihood on
the logarithms; durations are positive and right-skewed) or ``empirical``
(resample the measured values). Pure Python, no SciPy.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Literal

from labkit.errors import LabkitError
from labkit.events import Event, Timeline

Family = Literal["lognormal", "empirical"]
TimelineSource = Timeline | Path | str | Iterable[Event]

MIN_SAMPLES = 10
"""Measurements a step needs before it is fitted (fewer make p95 a guess)."""
MIN_SAMPLES_BY_STEP = {"webhook": 2, "export": 2}
"""Exceptions to :data:`MIN_SAMPLES`. The webhook and the export are measured once per push,
not per app, and every app of that push shares the one delay (tenths of a second, next to
seconds of queue): two pushes (a scale run's setup and its commit) are enough to fit them
from a scale run."""


def min_samples(step: str) -> int:
    """Measurements ``step`` needs before it is fitted."""
    return MIN_SAMPLES_BY_STEP.get(step, MIN_SAMPLES)


_FLOOR_S = 0.001  # two events in the same millisecond still took some time: logs need > 0

STEPS: dict[str, tuple[str, str]] = {
    "webhook": ("pushed", "webhook_received"),
    "refresh": ("refresh_started", "revision_detected"),
    "compare": ("revision_detected", "diff_computed"),
    "compare_unchanged": ("revision_detected", "diff_computed"),
    "apply": ("diff_computed", "sync_finished"),
    "health": ("sync_finished", "healthy"),
    "detect": ("drift_injected", "drift_detected"),
    "heal": ("drift_detected", "healed"),
    "export": ("checkout_exported", "checkout_exported"),
    "overhead": ("reconciled", "reconciled"),
}
"""Each step's (start event kind, end event kind) on the timeline; the same kind twice for the
:data:`DURATIONS`, which one event measures."""

DURATIONS = {
    "export": "`checkout_exported` events (one per commit the agent renders)",
    "overhead": "`reconciled` events of reconciles that found a new commit",
}
"""Steps measured by the ``duration_s`` of one event, and what to say when they are short."""
_UNCHANGED = "`revision_detected` -> `diff_computed` (Synced) pairs of apps a commit did not change"

COMMIT_STEPS = ("refresh", "compare", "apply", "health", "export", "overhead")
"""Steps every prediction needs; ``webhook`` only with the webhook on, ``detect``/``heal`` only for drift."""

HOW_TO_MEASURE = {
    "commit": (
        "push commits to an auto-synced app and let each one reach Synced and Healthy: "
        "`python -m benchmarks.run controller`, or in a notebook "
        "`for i in range(12): sha = lab.repo.set_replicas('apps/demo', 'web', 2 + i % 2); "
        "lab.apps.wait(NAME, sync='Synced', health='Healthy', revision=sha)`"
    ),
    "drift": (
        "drift an app that has selfHeal on and let it heal, once per drift: "
        "`python -m benchmarks.run drift`, or in a notebook "
        "`for i in range(12): lab.drift.scale(NAME, 'web', 5 + i); time.sleep(3)`"
    ),
    "unchanged": (
        "push a commit that changes none of the apps (a file outside their paths) and let each "
        "app compare it: `labkit.scale.run(lab, 20)` ends with one"
    ),
}


_HOW = {"detect": "drift", "heal": "drift", "compare_unchanged": "unchanged"}


class NotEnoughEvents(LabkitError):
    """The timeline holds too few measurements of some step to fit it."""

    def __init__(self, missing: dict[str, int], headline: str) -> None:
        self.missing = missing
        lines = [f"  {step}: {more} more {measured_by(step)}" for step, more in missing.items()]
        message = f"{headline}:\n" + "\n".join(lines)
        kinds = {_HOW.get(step, "commit") for step in missing}
        super().__init__(message, hint="; ".join(HOW_TO_MEASURE[k] for k in sorted(kinds)))


def measured_by(step: str) -> str:
    """What measures ``step`` on the timeline, in words: "`a` -> `b` pairs" or an event's duration."""
    start, end = STEPS[step]
    if step == "compare_unchanged":
        return _UNCHANGED
    return DURATIONS.get(step, f"`{start}` -> `{end}` pairs")


@dataclass(frozen=True)
class StepFit:
    """One step's fitted distribution, and what it was fitted from."""

    step: str
    """Which step (a key of :data:`STEPS`)."""
    family: Family
    n: int
    """Measurements behind the fit."""
    mu: float
    """Mean of ln(seconds) (lognormal)."""
    sigma: float
    """Standard deviation of ln(seconds) (lognormal)."""
    samples: tuple[float, ...]
    """The measured durations, in seconds (resampled by ``empirical``)."""

    @classmethod
    def from_samples(cls, step: str, samples: Iterable[float], family: Family = "lognormal") -> StepFit:
        """Fit ``family`` to durations in seconds (at least two)."""
        if family not in ("lognormal", "empirical"):
            raise ValueError(f"unknown family {family!r}: use 'lognormal' or 'empirical'")
        values = tuple(sorted(max(float(s), _FLOOR_S) for s in samples))
        if len(values) < 2:
            raise ValueError(f"step {step!r} needs at least 2 durations to fit, got {len(values)}")
        logs = [math.log(v) for v in values]
        return cls(step, family, len(values), statistics.fmean(logs), statistics.pstdev(logs), values)

    def sample(self, rng: random.Random) -> float:
        """One duration in seconds."""
        if self.family == "empirical":
            return rng.choice(self.samples)
        return rng.lognormvariate(self.mu, self.sigma)

    @property
    def median_s(self) -> float:
        return math.exp(self.mu) if self.family == "lognormal" else statistics.median(self.samples)

    @property
    def mean_s(self) -> float:
        if self.family == "lognormal":
            return math.exp(self.mu + self.sigma**2 / 2)
        return statistics.fmean(self.samples)


@dataclass(frozen=True)
class PipelineFit:
    """Every step's fit; ``None`` where the timeline had too few measurements."""

    refresh: StepFit
    compare: StepFit
    apply: StepFit
    health: StepFit
    export: StepFit
    overhead: StepFit
    webhook: StepFit | None = None
    compare_unchanged: StepFit | None = None
    detect: StepFit | None = None
    heal: StepFit | None = None
    found: dict[str, int] = field(default_factory=dict)
    """Measurements found per step, fitted or not."""
    export_files: int = 0
    """Files in the newest export measured: the repository size the ``export`` time belongs to."""

    def step(self, name: str, needed_for: str) -> StepFit:
        """The fit of step ``name``, or :class:`NotEnoughEvents` saying how to measure it."""
        fit = getattr(self, name)
        if fit is None:
            more = max(min_samples(name) - self.found.get(name, 0), 1)
            raise NotEnoughEvents({name: more}, f"the timeline was too small to fit {needed_for}")
        return fit

    def rows(self) -> list[dict[str, object]]:
        """One row per fitted step: step, from, to, family, n, median_s, mean_s, sigma."""
        rows: list[dict[str, object]] = []
        for f in fields(self):
            fit = getattr(self, f.name)
            if isinstance(fit, StepFit):
                start, end = STEPS[fit.step]
                rows.append(
                    {
                        "step": fit.step,
                        "from": start,
                        "to": "its duration_s" if fit.step in DURATIONS else end,
                        "family": fit.family,
                        "n": fit.n,
                        "median_s": round(fit.median_s, 4),
                        "mean_s": round(fit.mean_s, 4),
                        "sigma": round(fit.sigma, 3),
                    }
                )
        return rows


def fit_timeline(
    timeline: TimelineSource,
    family: Family = "lognormal",
    *,
    since_ns: int | None = None,
    until_ns: int | None = None,
) -> PipelineFit:
    """Measure every step on the timeline and fit it; :class:`NotEnoughEvents` when a commit step is short.

    ``since_ns``/``until_ns`` keep only the events of one stretch (a small run
    to fit from, and not the large run the fit is then checked against).
    """
    if isinstance(timeline, str | Path):
        timeline = Timeline(Path(timeline))
    source = str(timeline.path) if isinstance(timeline, Timeline) else "(events given)"
    start, end = (
        since_ns if since_ns is not None else -math.inf,
        until_ns if until_ns is not None else math.inf,
    )
    kept = sorted((e for e in timeline if start <= e.ts_ns < end), key=lambda e: e.ts_ns)
    measured = step_durations(kept)
    short = {s: min_samples(s) - len(measured[s]) for s in COMMIT_STEPS}
    missing = {s: more for s, more in short.items() if more > 0}
    if missing:
        raise NotEnoughEvents(missing, f"the timeline {source} is too small to fit the model")
    fits = {
        step: StepFit.from_samples(step, values, family) if len(values) >= min_samples(step) else None
        for step, values in measured.items()
    }
    exports = [e for e in kept if e.kind == "checkout_exported" and e.actor == "controller"]
    return PipelineFit(
        **fits,  # type: ignore[arg-type]
        found={step: len(v) for step, v in measured.items()},
        export_files=int(exports[-1].data.get("files") or 0),
    )


def step_durations(events: list[Event]) -> dict[str, list[float]]:
    """Seconds each step took, per step, from time-ordered events (see the module docstring)."""
    out: dict[str, list[float]] = {step: [] for step in STEPS}
    _webhook(events, out["webhook"])
    exports = _exports(events)
    out["export"] = [seconds for windows in exports.values() for _, _, seconds in windows]
    by_app: dict[str, list[Event]] = {}
    for e in events:
        if e.app is not None:
            by_app.setdefault(e.app, []).append(e)
    for own in by_app.values():
        _commit_steps(own, out, exports)
        _drift_steps(own, out)
    return out


def _s(start: Event, end: Event) -> float:
    return (end.ts_ns - start.ts_ns) / 1e9


def _duration_ns(e: Event) -> int:
    return int(float(e.data.get("duration_s") or 0.0) * 1e9)


Windows = dict[str, list[tuple[int, int, float]]]
"""revision -> (start_ns, end_ns, seconds) of each export of it."""


def _exports(events: list[Event]) -> Windows:
    """Each ``checkout_exported``, by revision: when it ran and how long it took."""
    out: Windows = {}
    for e in events:
        if e.kind == "checkout_exported" and e.actor == "controller" and e.revision:
            out.setdefault(e.revision, []).append((e.ts_ns - _duration_ns(e), e.ts_ns, _duration_ns(e) / 1e9))
    return out


def _overlap_s(start: Event, end: Event, windows: list[tuple[int, int, float]]) -> float:
    """Seconds of [start, end] during which an export of the revision ran."""
    return sum(max(0, min(end.ts_ns, hi) - max(start.ts_ns, lo)) for lo, hi, _ in windows) / 1e9


def _first(events: list[Event], after: Event, kind: str, **match: object) -> Event | None:
    i = events.index(after)
    for e in events[i + 1 :]:
        if e.kind == kind and all(e.data.get(k) == v for k, v in match.items()):
            return e
    return None


def _webhook(events: list[Event], out: list[float]) -> None:
    received = [e for e in events if e.kind == "webhook_received" and e.actor == "controller"]
    for push in (e for e in events if e.kind == "pushed" and not e.data.get("deleted")):
        got = next((r for r in received if r.revision == push.revision and r.ts_ns >= push.ts_ns), None)
        if got is not None:
            out.append(_s(push, got))


def _commit_steps(own: list[Event], out: dict[str, list[float]], exports: Windows) -> None:
    """refresh, compare (or compare_unchanged), apply, health and overhead of each new revision one app's
    controller saw."""
    mine = [e for e in own if e.actor == "controller"]
    reconciles = [e for e in mine if e.kind == "reconciled"]
    for detected in (e for e in mine if e.kind == "revision_detected" and e.data.get("previous")):
        started = [e for e in mine if e.kind == "refresh_started" and e.ts_ns <= detected.ts_ns]
        if not started:
            continue
        out["refresh"].append(_s(started[-1], detected))
        rev = detected.revision
        diffed = next(
            (
                e
                for e in mine
                if e.kind == "diff_computed" and e.revision == rev and e.ts_ns >= detected.ts_ns
            ),
            None,
        )
        if diffed is None:
            continue
        unchanged = diffed.data.get("sync") == "Synced"  # the commit left this app as it was
        seconds = _s(detected, diffed) - _overlap_s(detected, diffed, exports.get(rev or "", []))
        out["compare_unchanged" if unchanged else "compare"].append(seconds)
        synced = _first(mine, diffed, "sync_finished", automated=True, phase="Succeeded")
        _overhead(mine, reconciles, started[-1], diffed, synced, out["overhead"])
        if synced is None or synced.revision != rev or synced.data.get("dry_run"):
            continue
        out["apply"].append(_s(diffed, synced))
        healthy = next((e for e in mine if e.kind == "healthy" and e.revision == rev), None)
        if healthy is not None and healthy.ts_ns >= synced.ts_ns:
            out["health"].append(_s(synced, healthy))


_SLACK_NS = 2_000_000  # a reconcile's start is its end minus a duration timed on another clock


def _overhead(
    mine: list[Event],
    reconciles: list[Event],
    started: Event,
    diffed: Event,
    synced: Event | None,
    out: list[float],
) -> None:
    """The reconcile's time outside refresh, compare and apply (and the export inside compare).

    Only a reconcile that holds the whole refresh and compare counts; one whose
    sync started but did not finish in it (waves, a sync waiting for health) does not.
    """
    done = next((r for r in reconciles if r.ts_ns >= diffed.ts_ns), None)
    if done is None or done.ts_ns - _duration_ns(done) > started.ts_ns + _SLACK_NS:
        return
    last = synced if synced is not None and synced.ts_ns <= done.ts_ns else diffed
    if last is diffed and any(
        e.kind == "sync_started" and diffed.ts_ns <= e.ts_ns <= done.ts_ns for e in mine
    ):
        return
    out.append(float(done.data.get("duration_s") or 0.0) - _s(started, last))


def _drift_steps(own: list[Event], out: dict[str, list[float]]) -> None:
    """detect and heal of each drift injected into one app, until the next injection."""
    injected = [e for e in own if e.kind == "drift_injected"]
    for i, inj in enumerate(injected):
        end = injected[i + 1].ts_ns if i + 1 < len(injected) else math.inf
        window = [e for e in own if inj.ts_ns <= e.ts_ns < end and e.actor == "controller"]
        detected = next((e for e in window if e.kind == "drift_detected"), None)
        if detected is None:
            continue
        out["detect"].append(_s(inj, detected))
        if not detected.data.get("self_heal"):
            continue
        healed = next((e for e in window if e.kind == "healed" and e.ts_ns >= detected.ts_ns), None)
        if healed is not None and int(healed.data.get("attempts") or 0) <= 1:
            out["heal"].append(_s(detected, healed))
