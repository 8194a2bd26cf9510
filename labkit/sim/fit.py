"""Step times of the pull agent, fitted from the learner's own timeline.

:func:`fit_timeline` reads a lab's ``timeline.jsonl`` (a
:class:`labkit.events.Timeline`, a path, or events), measures how long each
step of the pipeline took, and fits one small distribution per step. The
result, a :class:`PipelineFit`, is plain data: the parameters and the number
of measurements behind each step. :mod:`labkit.sim.model` samples from it;
``benchmarks/bench_sim.py`` prints it (:meth:`PipelineFit.rows`).

What each step is, and from which events it is measured, is in
:mod:`labkit.sim.steps` (:func:`step_durations`). ``checkout_exported``
counts the files exported: :attr:`PipelineFit.export_files`, so a larger
repository can be predicted (``SimConfig.repo_files``). Families:
``lognormal`` (maximum likelihood on the logarithms; durations are positive
and right-skewed) or ``empirical`` (resample the measured values). Pure
Python, no SciPy.
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
from labkit.sim.steps import DURATIONS, STEPS, measured_by, step_durations

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
