"""The what-if model: predicted latency distributions of the pull agent at any scale.

:func:`predict_commit` (commit -> Synced, commit -> Healthy) and
:func:`predict_drift` (drift -> healed) repeat a simulated run
(:class:`labkit.sim.pipeline.PipelineRun`, on SimPy) with different seeds
and pool the latencies into a :class:`Prediction`. Every step time is drawn
from a :class:`labkit.sim.fit.PipelineFit`, fitted from the learner's own
timeline. Step times do not grow with the number of apps here; the
validation table (:mod:`labkit.sim.validate`) says whether that holds on the
lab. ``benchmarks/bench_sim.py`` calls :func:`predict_commit` and
:func:`predict_drift`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from labkit.sim.config import SimConfig
from labkit.sim.fit import COMMIT_STEPS, PipelineFit
from labkit.sim.pipeline import PipelineRun


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
    cost = fit.refresh.mean_s
    if config.poll_compares:  # a poll that compares also writes the status: the overhead
        cost += fit.compare.mean_s + fit.overhead.mean_s
    per_second = config.apps / (config.poll_interval_s + config.poll_jitter_s / 2)
    hands = config.workers * config.shards
    for limit in (config.cpu_slots, config.render_parallelism):
        hands = min(hands, limit or hands)
    return per_second * cost / hands


def default_runs(apps: int) -> int:
    """Runs enough for about 200 latencies, between 1 and 50."""
    return max(1, min(50, math.ceil(200 / apps)))


def predict_commit(
    config: SimConfig,
    fit: PipelineFit,
    *,
    touched: int = 0,
    touched_last: bool = False,
    runs: int = 0,
    seed: int = 0,
) -> Prediction:
    """commit -> Synced and commit -> Healthy of each app one commit changes.

    ``touched`` apps (0 = all) change; the others still find a new revision
    of the repository and compare, as every app on one repository does, so
    they take workers without syncing. The webhook queues the apps in the
    order the agent first saw them (``Controller._on_push``): the touched
    apps are picked at random, or with ``touched_last`` are the ones created
    last, queued behind all the others (the scale experiment's larger run).
    """
    if not 0 <= touched <= config.apps:
        raise ValueError(f"touched must be between 0 (all) and the {config.apps} apps, got {touched}")
    for step in (*COMMIT_STEPS, *(["webhook"] if config.webhook else [])):
        fit.step(step, needed_for="a commit prediction")
    if 0 < touched < config.apps:
        fit.step("compare_unchanged", needed_for="a commit that leaves some apps unchanged")
    if config.repo_files and not fit.export_files:
        raise ValueError(
            f"repo_files={config.repo_files}, but the fit does not know how many files its exports held: "
            "fit from a timeline whose `checkout_exported` events carry `files`, or leave repo_files at 0"
        )
    n = touched or config.apps
    return _repeat(
        config, fit, "commit", runs or default_runs(n), seed, lambda run: run.commit(n, last=touched_last)
    )


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
    play: Callable[[PipelineRun], dict[str, list[float]]],
) -> Prediction:
    if runs < 0:
        raise ValueError(f"runs must be 0 (choose for me) or more, got {runs}")
    series: dict[str, list[float]] = {}
    unfinished = 0
    for i in range(runs):
        run = PipelineRun(config, fit, seed=seed * 1_000_003 + i)
        result = play(run)
        for name, values in result.items():
            series.setdefault(name, []).extend(values)
        unfinished += run.unfinished
    latencies = {name: tuple(values) for name, values in series.items()}
    return Prediction(config, scenario, runs, latencies, unfinished, poll_load(config, fit))


def predict_many(
    configs: Iterable[SimConfig], fit: PipelineFit, *, runs: int = 0, seed: int = 0
) -> list[dict[str, Any]]:
    """commit -> Synced summary rows of several what-ifs, one after the other."""
    rows: list[dict[str, Any]] = []
    for config in configs:
        rows += predict_commit(config, fit, runs=runs, seed=seed).summary()
    return rows
