"""What-if at scale: the model fitted from the lab's own timeline, for 50 to 2,000 apps (issue 13).

Run: ``python -m benchmarks.run sim`` (or ``... sim --timeline PATH``). The
step times come from, in this order: the timeline given; the running lab's
timeline (``LABKIT_HOME``/``LABKIT_LAB``), when it holds enough commits; or a
temporary lab on which this benchmark pushes :data:`COMMITS` commits first.
Then :func:`labkit.sim.predict_commit` plays one commit touching every app,
for each number of apps in :data:`APPS` under labkit's, Argo CD's and Flux's
defaults (:mod:`labkit.sim.config`), and the table shows commit -> Synced:
p50, p95 and the last app ("all"), which is what Flux's published scale
figures (16 cores) measure. These are predictions, not measurements: the
validation against runs on the lab comes from the scale experiment.
"""

from __future__ import annotations

from pathlib import Path

from labkit.sim import PRESETS, NotEnoughEvents, PipelineFit, fit_timeline, predict_commit, predict_drift

Row = tuple[str, str, str, str]
APPS = (50, 100, 500, 1000, 2000)
COMMITS = 12
UNCHANGED_APPS = 20
FLUX_16_CORES = {100: "28 s", 500: "2 min 2 s", 1000: "4 min 16 s"}
"""Flux's published times to all Ready on 16 cores (issue 13); labkit's rows are set against them."""


def run(tmp: Path, timeline: Path | None = None) -> list[Row]:
    fit, source = load_fit(tmp, timeline)
    rows = [(f"fit: {r['step']}", f"median {r['median_s']} s", "n >= 10", _fit_note(r)) for r in fit.rows()]
    rows.append(("fitted from", source, "", ""))
    rows += whatif_rows(fit)
    if fit.compare_unchanged is not None:  # a timeline without a commit that left apps unchanged has none
        rows += one_app_rows(fit)
    if fit.heal is not None:
        rows += drift_rows(fit)
    return rows


def load_fit(tmp: Path, timeline: Path | None) -> tuple[PipelineFit, str]:
    """The fit, and where its timeline came from."""
    if timeline is not None:
        return fit_timeline(timeline), str(timeline)
    from labkit.settings import Settings

    settings = Settings()
    own = settings.state_dir / "timeline.jsonl"
    if (settings.state_dir / "lab.json").exists() and own.exists():
        try:
            return fit_timeline(own), f"the running lab {settings.lab!r} ({own})"
        except NotEnoughEvents:
            pass  # too little there yet: measure on a lab of our own
    return measure(tmp), f"a temporary lab, {COMMITS} commits and a {UNCHANGED_APPS}-app scale run"


def measure(tmp: Path) -> PipelineFit:
    """Bring up a lab, push :data:`COMMITS` commits to an auto-synced app, fit its timeline.

    Then a small scale run (:data:`UNCHANGED_APPS` apps), which ends with a commit that changes
    none of them: the compare of an unchanged app (``compare_unchanged``), which a commit to one
    app of many needs.
    """
    from benchmarks import bench_controller
    from labkit import scale
    from labkit.lab import Lab
    from labkit.settings import Settings

    settings = Settings(home=tmp / "sim-home")
    lab = Lab.up(settings, progress=lambda m: None)
    try:
        bench_controller.webhook_latency(lab, commits=COMMITS)
        scale.run(lab, UNCHANGED_APPS, prefix="u")
        return fit_timeline(lab.timeline)
    finally:
        Lab.teardown(settings, progress=lambda m: None)


def whatif_rows(fit: PipelineFit, apps: tuple[int, ...] = APPS) -> list[Row]:
    rows = []
    for n in apps:
        for name, preset in PRESETS.items():
            p = predict_commit(preset(n), fit, seed=n)
            target = FLUX_16_CORES.get(n, "") if name == "labkit" else ""
            rows.append(
                (
                    f"commit -> Synced, {n} apps, {name} defaults",
                    f"p50 {_s(p.quantile('synced_s', 0.5))}, p95 {_s(p.quantile('synced_s', 0.95))}, "
                    f"all {_s(p.quantile('synced_s', 1.0))}",
                    f"all <= {target} (Flux, 16 cores)" if target else "",
                    _load_note(p.poll_load, p.runs, p.unfinished),
                )
            )
    return rows


def one_app_rows(fit: PipelineFit, apps: int = 2000, runs: int = 10) -> list[Row]:
    """A commit that changes one app: every other app on the repository still refreshes and compares."""
    rows = []
    for name, preset in PRESETS.items():
        p = predict_commit(preset(apps), fit, touched=1, runs=runs, seed=7)
        rows.append(
            (
                f"commit to 1 of {apps} apps -> Synced, {name} defaults",
                f"p50 {_s(p.quantile('synced_s', 0.5))}, p95 {_s(p.quantile('synced_s', 0.95))}",
                "",
                f"predicted, {runs} runs; the others compare too (one repository)",
            )
        )
    return rows


def drift_rows(fit: PipelineFit, apps: int = 100) -> list[Row]:
    rows = []
    for drifts in (1, 5):
        p = predict_drift(PRESETS["labkit"](apps), fit, drifts=drifts, seed=drifts)
        rows.append(
            (
                f"drift -> healed, {apps} apps, each drifted {drifts}x in a row",
                f"p50 {_s(p.quantile('healed_s', 0.5))}, p95 {_s(p.quantile('healed_s', 0.95))}",
                "",
                "self-heal backoff 0, 2, 6, 18, 54 s" if drifts > 1 else "first attempts only",
            )
        )
    return rows


def _s(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


def _fit_note(row: dict[str, object]) -> str:
    return f"`{row['from']}` -> `{row['to']}`, n={row['n']}, {row['family']} sigma {row['sigma']}"


def _load_note(load: float, runs: int, unfinished: int) -> str:
    note = f"predicted, {runs} run(s); polls use {load:.0%} of the workers"
    if load >= 1:
        note += " (overloaded: the queue never drains)"
    if unfinished:
        note += f"; {unfinished} never synced"
    return note
