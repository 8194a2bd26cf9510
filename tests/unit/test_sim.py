"""labkit.sim on synthetic timelines whose step times are drawn from known distributions.

``_write_timeline`` writes what the controller and the git hook would write for
``commits`` pushes to ``apps`` auto-synced apps (and ``drifts`` healed drifts per
app), each step lasting a lognormal time with the parameters in ``KNOWN``.
Everything is seeded, so each test gives the same numbers every run.
"""

from __future__ import annotations

import math
import random
import statistics
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import simpy  # noqa: E402

from labkit.events import Timeline  # noqa: E402
from labkit.settings import ControllerSettings  # noqa: E402
from labkit.sim import (  # noqa: E402
    NotEnoughEvents,
    PipelineFit,
    SimConfig,
    StepFit,
    argocd,
    backoff_s,
    fit_timeline,
    flux,
    labkit_preset,
    measured_latencies,
    predict_commit,
    predict_drift,
    step_durations,
    validate,
    validation_rows,
)
from labkit.sim.model import Prediction, quantile  # noqa: E402
from labkit.sim.queue import AppQueue  # noqa: E402
from labkit.ui.figures import LabFigure  # noqa: E402

KNOWN = {  # step: (mu, sigma) of ln(seconds)
    "webhook": (-3.0, 0.3),
    "refresh": (-2.0, 0.4),
    "compare": (-1.5, 0.3),
    "compare_unchanged": (-4.5, 0.3),
    "apply": (-1.0, 0.5),
    "health": (0.0, 0.5),
    "detect": (-0.7, 0.3),
    "heal": (0.2, 0.4),
    "export": (-1.2, 0.3),
    "overhead": (-3.5, 0.4),
}
T0 = 1_790_000_000_000_000_000
FILES = 120
"""Files in the synthetic repository's exports."""


def _write_timeline(
    path: Path, commits: int, apps: int = 2, drifts: int = 0, seed: int = 1, untouched: int = 0
) -> Timeline:
    rng = random.Random(seed)
    timeline = Timeline(path)
    clock = [T0]

    def after(step: str) -> int:
        clock[0] += int(rng.lognormvariate(*KNOWN[step]) * 1e9)
        return clock[0]

    def add(actor: str, kind: str, ts: int, **data: object) -> None:
        timeline.append(actor, kind, ts_ns=ts, **data)  # type: ignore[arg-type]

    previous = "0" * 40
    for i in range(commits):
        rev = f"{i + 1:040x}"
        add("git", "pushed", clock[0], revision=rev, ref="refs/heads/main")
        received = after("webhook")
        add("controller", "webhook_received", received, revision=rev)
        names = [f"app-{a}" for a in range(apps)] + [f"same-{u}" for u in range(untouched)]
        begun, detected, overhead_ns = {}, {}, {}
        for n, app in enumerate(names):  # refreshes first: the first to see the commit exports it
            begun[app] = received + 5_000_000 * n
            overhead_ns[app] = int(rng.lognormvariate(*KNOWN["overhead"]) * 1e9)  # half before, half after
            clock[0] = begun[app] + overhead_ns[app] // 2
            add("controller", "refresh_started", clock[0], app=app, trigger="webhook")
            detected[app] = after("refresh")
            add("controller", "revision_detected", detected[app], app=app, revision=rev, previous=previous)
        clock[0] = min(detected.values())
        exported = after("export")
        took = (exported - min(detected.values())) / 1e9
        add("controller", "checkout_exported", exported, revision=rev, duration_s=took, files=FILES)
        for app in names:
            clock[0] = max(detected[app], exported)  # every compare of the commit waits for its export
            if app.startswith("same-"):  # an app of the same repository the commit did not change
                add(
                    "controller",
                    "diff_computed",
                    after("compare_unchanged"),
                    app=app,
                    revision=rev,
                    sync="Synced",
                )
                done = clock[0]
            else:
                add("controller", "diff_computed", after("compare"), app=app, revision=rev, sync="OutOfSync")
                started = clock[0] + 1_000_000
                add(
                    "controller",
                    "sync_started",
                    started,
                    app=app,
                    revision=rev,
                    automated=True,
                    dry_run=False,
                )
                done = after("apply")
                add(
                    "controller",
                    "sync_finished",
                    done,
                    app=app,
                    revision=rev,
                    automated=True,
                    phase="Succeeded",
                )
            end = done + overhead_ns[app] - overhead_ns[app] // 2
            add(
                "controller",
                "reconciled",
                end,
                app=app,
                reasons=["webhook"],
                duration_s=(end - begun[app]) / 1e9,
            )
            if not app.startswith("same-"):
                add("controller", "healthy", after("health"), app=app, revision=rev)
        previous = rev
        clock[0] += 60 * 10**9
    for _ in range(drifts):
        for a in range(apps):
            app = f"app-{a}"
            add("drift", "drift_injected", clock[0], app=app, what="scale")
            add("controller", "drift_detected", after("detect"), app=app, self_heal=True)
            add("controller", "self_heal_attempt", clock[0] + 1_000_000, app=app)
            add("controller", "healed", after("heal"), app=app, attempts=1)
            clock[0] += 400 * 10**9  # past the self-heal cooldown: every heal is a first attempt
    return timeline


@pytest.fixture(scope="module")
def fit(tmp_path_factory: pytest.TempPathFactory) -> PipelineFit:
    path = tmp_path_factory.mktemp("sim") / "timeline.jsonl"
    return fit_timeline(_write_timeline(path, commits=200, apps=2, drifts=100, untouched=1))


# -- fitting -----------------------------------------------------------------------------------------


def test_fit_recovers_the_lognormal_step_times_of_a_synthetic_timeline(fit: PipelineFit) -> None:
    # one per push; one per drift; one per commit and unchanged app; the rest: one per commit per app
    counts = {
        "webhook": 200,
        "export": 200,
        "detect": 200,
        "heal": 200,
        "compare_unchanged": 200,
        "overhead": 600,
        "refresh": 600,
    }
    for step, (mu, sigma) in KNOWN.items():
        got = fit.step(step, "this test")
        assert got.n == counts.get(step, 400), step
        assert got.mu == pytest.approx(mu, abs=0.06), step
        assert got.sigma == pytest.approx(sigma, abs=0.05), step
    assert fit.export_files == FILES


def test_a_compare_that_waited_for_the_export_is_measured_without_the_wait(tmp_path: Path) -> None:
    events = sorted(_write_timeline(tmp_path / "t.jsonl", commits=60, apps=2), key=lambda e: e.ts_ns)
    compare = statistics.median(step_durations(events)["compare"])
    # Both apps' first compare of each commit waited for the one export (about 0.3 s):
    counted_with_the_wait = [e for e in events if e.kind != "checkout_exported"]
    assert compare == pytest.approx(math.exp(KNOWN["compare"][0]), rel=0.1)
    assert statistics.median(step_durations(counted_with_the_wait)["compare"]) > compare + 0.2


def test_the_overhead_is_the_reconcile_minus_its_refresh_compare_and_apply(tmp_path: Path) -> None:
    timeline = Timeline(tmp_path / "t.jsonl")
    rev, app = "b" * 40, "x"

    def at(ms: int, kind: str, **data: object) -> None:
        timeline.append("controller", kind, app=app, ts_ns=T0 + ms * 1_000_000, **data)  # type: ignore[arg-type]

    for i in range(10):  # a reconcile of 1 s: refresh 0.1, compare 0.2, apply 0.4 -> 0.3 s outside
        t = i * 10_000
        at(t + 100, "refresh_started")
        at(t + 200, "revision_detected", revision=f"{rev}{i}", previous="a" * 40)
        at(t + 400, "diff_computed", revision=f"{rev}{i}")
        at(t + 450, "sync_started", revision=f"{rev}{i}", automated=True)
        at(t + 800, "sync_finished", revision=f"{rev}{i}", automated=True, phase="Succeeded")
        at(t + 1000, "reconciled", reasons=["webhook"], duration_s=1.0)
        at(t + 2000, "refresh_started")  # a sync that runs over two reconciles (waves) tells nothing
        at(t + 2100, "revision_detected", revision=f"{rev}{i}x", previous=f"{rev}{i}")
        at(t + 2200, "diff_computed", revision=f"{rev}{i}x")
        at(t + 2300, "sync_started", revision=f"{rev}{i}x", automated=True)
        at(t + 2400, "reconciled", reasons=["webhook"], duration_s=0.5)
    found = step_durations(list(timeline))
    assert found["overhead"] == pytest.approx([0.3] * 10)
    assert found["apply"] == pytest.approx([0.4] * 10)


def test_fit_rows_name_each_step_by_its_two_events(fit: PipelineFit) -> None:
    rows = {r["step"]: r for r in fit.rows()}
    assert (rows["refresh"]["from"], rows["refresh"]["to"]) == ("refresh_started", "revision_detected")
    assert (rows["apply"]["from"], rows["apply"]["to"]) == ("diff_computed", "sync_finished")
    assert rows["health"]["median_s"] == pytest.approx(1.0, rel=0.1)


def test_fit_can_keep_to_one_stretch_of_the_timeline(tmp_path: Path) -> None:
    timeline = _write_timeline(tmp_path / "t.jsonl", commits=30, apps=1)
    middle = sorted(e.ts_ns for e in timeline if e.kind == "pushed")[15]
    early = fit_timeline(timeline, until_ns=middle)
    assert early.refresh.n == 15 and early.found["refresh"] == 15
    with pytest.raises(NotEnoughEvents, match="refresh: 10 more"):
        fit_timeline(timeline, since_ns=middle + 10**15)


def test_manual_syncs_dry_runs_and_first_revisions_are_not_measured(tmp_path: Path) -> None:
    timeline = Timeline(tmp_path / "t.jsonl")
    rev = "a" * 40
    timeline.append("controller", "refresh_started", app="x", ts_ns=T0)
    timeline.append("controller", "revision_detected", app="x", revision=rev, previous=None, ts_ns=T0 + 10)
    timeline.append("controller", "diff_computed", app="x", revision=rev, ts_ns=T0 + 20)
    timeline.append("controller", "sync_finished", app="x", revision=rev, automated=False, ts_ns=T0 + 30)
    durations = step_durations(list(timeline))
    assert all(not v for v in durations.values())  # an app's first revision is creation, not a commit


def test_empirical_family_resamples_only_measured_values() -> None:
    step = StepFit.from_samples("apply", [0.5, 1.0, 2.0], family="empirical")
    rng = random.Random(3)
    assert {step.sample(rng) for _ in range(200)} == {0.5, 1.0, 2.0}
    assert step.median_s == 1.0


def test_a_timeline_too_small_to_fit_says_how_many_events_of_which_kind_and_how_to_make_them(
    tmp_path: Path,
) -> None:
    timeline = _write_timeline(tmp_path / "t.jsonl", commits=3, apps=1)
    with pytest.raises(NotEnoughEvents) as caught:
        fit_timeline(timeline)
    text = str(caught.value)
    assert "refresh: 7 more `refresh_started` -> `revision_detected` pairs" in text
    assert "health: 7 more `sync_finished` -> `healthy` pairs" in text
    assert "overhead: 7 more `reconciled` events of reconciles that found a new commit" in text
    assert "python -m benchmarks.run controller" in text
    assert caught.value.missing == {"refresh": 7, "compare": 7, "apply": 7, "health": 7, "overhead": 7}


def test_a_timeline_from_before_the_export_and_reconcile_events_says_which_are_missing(
    tmp_path: Path,
) -> None:
    full = _write_timeline(tmp_path / "t.jsonl", commits=12, apps=1)
    old = [e for e in full if e.kind not in ("checkout_exported", "reconciled")]
    with pytest.raises(NotEnoughEvents) as caught:
        fit_timeline(old)
    assert caught.value.missing == {"export": 2, "overhead": 10}
    assert "export: 2 more `checkout_exported` events (one per commit the agent renders)" in str(caught.value)


def test_a_commit_that_leaves_apps_unchanged_needs_their_compare_measured(tmp_path: Path) -> None:
    fit = fit_timeline(_write_timeline(tmp_path / "t.jsonl", commits=12, apps=1))
    assert fit.compare_unchanged is None
    assert predict_commit(labkit_preset(5), fit, runs=1).unfinished == 0  # every app changes: not needed
    with pytest.raises(NotEnoughEvents, match="compare_unchanged: 10 more `revision_detected`") as caught:
        predict_commit(labkit_preset(5), fit, touched=1)
    assert "apps a commit did not change" in str(caught.value)
    assert "labkit.scale.run(lab, 20)" in str(caught.value)


def test_a_drift_prediction_from_a_timeline_without_drift_says_how_to_measure_drift(tmp_path: Path) -> None:
    no_drift = fit_timeline(_write_timeline(tmp_path / "t.jsonl", commits=12, apps=1))
    with pytest.raises(NotEnoughEvents, match="heal: 10 more `drift_detected` -> `healed`") as caught:
        predict_drift(labkit_preset(5), no_drift)
    assert "python -m benchmarks.run drift" in str(caught.value)


# -- the queue ---------------------------------------------------------------------------------------


def test_a_one_worker_queue_matches_the_mm1_mean_time_in_system() -> None:
    lam, mu, customers = 0.5, 1.0, 20_000
    env = simpy.Environment()
    rng = random.Random(7)
    arrived: dict[str, float] = {}
    sojourn: list[float] = []

    def serve(app: str, reasons: frozenset[str]):  # type: ignore[no-untyped-def]
        yield env.timeout(rng.expovariate(mu))
        sojourn.append(env.now - arrived[app])

    queue = AppQueue(env, 1, serve)

    def arrivals():  # type: ignore[no-untyped-def]
        for i in range(customers):
            yield env.timeout(rng.expovariate(lam))
            arrived[f"app-{i}"] = env.now
            queue.add(f"app-{i}", "commit")

    env.process(arrivals())
    env.run()
    assert len(sojourn) == customers
    assert statistics.fmean(sojourn) == pytest.approx(1 / (mu - lam), rel=0.08)


def test_one_app_is_never_handled_by_two_workers_at_once() -> None:
    env = simpy.Environment()
    busy: set[str] = set()
    handled: list[frozenset[str]] = []

    def handle(app: str, reasons: frozenset[str]):  # type: ignore[no-untyped-def]
        assert app not in busy
        busy.add(app)
        handled.append(reasons)
        yield env.timeout(1.0)
        busy.discard(app)

    queue = AppQueue(env, 4, handle)
    queue.add("a", "webhook")
    queue.later(0.5, "a", "poll")  # arrives while "a" is being handled: waits for it
    queue.later(0.6, "a", "resource")  # merges with the waiting request
    env.run()
    assert handled == [frozenset({"webhook"}), frozenset({"poll", "resource"})]
    assert env.now == 2.0


# -- the model ---------------------------------------------------------------------------------------


def test_the_webhook_is_faster_than_polling_alone(fit: PipelineFit) -> None:
    hooked = predict_commit(labkit_preset(20), fit, runs=10, seed=1)
    polled = predict_commit(labkit_preset(20, webhook=False), fit, runs=10, seed=1)
    assert hooked.quantile("synced_s", 0.5) < polled.quantile("synced_s", 0.5)
    assert hooked.quantile("synced_s", 0.95) < polled.quantile("synced_s", 0.95)
    # polling alone: the commit waits for each app's next poll, uniform over 30 + up to 5 s
    assert polled.quantile("synced_s", 0.5) == pytest.approx(17.5, abs=3.0)


def test_more_workers_are_never_slower(fit: PipelineFit) -> None:
    previous = (math.inf, math.inf)
    for workers in (1, 2, 4, 8, 16):
        p = predict_commit(labkit_preset(200, workers=workers, cpu_slots=0), fit, runs=2, seed=2)
        now = (p.quantile("synced_s", 0.5), p.quantile("synced_s", 0.95))
        assert now[0] <= previous[0] * 1.02 and now[1] <= previous[1] * 1.02, workers
        previous = now


def test_shards_and_operation_workers_add_hands_and_the_render_limit_takes_them(fit: PipelineFit) -> None:
    def p95(config: SimConfig) -> float:
        return predict_commit(config, fit, runs=2, seed=3).quantile("synced_s", 0.95)

    base = argocd(300, workers=2, operation_workers=2)
    assert p95(base.with_(shards=4)) < 0.5 * p95(base)
    assert p95(base.with_(operation_workers=8)) < p95(base)
    assert p95(base.with_(workers=20, render_parallelism=1)) > p95(base.with_(workers=20))


def test_a_commit_to_one_app_waits_behind_every_app_of_the_repository(fit: PipelineFit) -> None:
    alone = predict_commit(labkit_preset(1, workers=1), fit, runs=20, seed=6)
    crowded = predict_commit(labkit_preset(200, workers=1), fit, touched=1, runs=20, seed=6)
    assert len(crowded.latencies["synced_s"]) == 20  # one touched app per run
    # the other 199 find a new revision too and compare (0.27 s each), half of them before it
    assert crowded.quantile("synced_s", 0.5) > 10 * alone.quantile("synced_s", 0.5)
    with pytest.raises(ValueError, match="touched must be between 0"):
        predict_commit(labkit_preset(5), fit, touched=6)


def test_apps_created_last_are_queued_behind_all_the_others(fit: PipelineFit) -> None:
    config = labkit_preset(150, poll_interval_s=0)
    anywhere = predict_commit(config, fit, touched=50, runs=2, seed=13)
    last = predict_commit(config, fit, touched=50, touched_last=True, runs=2, seed=13)
    # the 100 older apps refresh and compare first, on 4 workers
    ahead_s = 100 * (fit.overhead.mean_s + fit.refresh.mean_s + fit.compare_unchanged.mean_s) / 4
    assert min(last.latencies["synced_s"]) > 0.8 * ahead_s
    assert min(anywhere.latencies["synced_s"]) < 0.2 * ahead_s


def _always(step: str, seconds: float) -> StepFit:
    return StepFit.from_samples(step, [seconds, seconds])


def test_every_apps_first_render_of_a_commit_waits_for_its_one_export(fit: PipelineFit) -> None:
    config = labkit_preset(200, poll_interval_s=0)  # the webhook alone: no polls in between
    quick = predict_commit(config, replace(fit, export=_always("export", 0.001)), runs=2, seed=11)
    slow = predict_commit(config, replace(fit, export=_always("export", 4.0)), runs=2, seed=11)
    assert min(slow.latencies["synced_s"]) > 4.0  # no app compares before the export is done
    for q in (0.05, 0.5, 0.95):  # one export per commit: every app waits the same 4 s, not 4 s each
        assert slow.quantile("synced_s", q) - quick.quantile("synced_s", q) == pytest.approx(4.0, abs=0.5)
    twice = predict_commit(config.with_(repo_files=2 * FILES), replace(fit, export=_always("export", 4.0)))
    assert min(twice.latencies["synced_s"]) > 8.0  # twice the files to export, twice the time


def test_the_overhead_holds_the_worker_on_every_reconcile(fit: PipelineFit) -> None:
    config = labkit_preset(100, workers=1, poll_interval_s=0)  # the webhook alone: no polls in between

    def last(overhead_s: float) -> float:
        p = predict_commit(config, replace(fit, overhead=_always("overhead", overhead_s)), runs=1, seed=12)
        return p.quantile("synced_s", 1.0)

    # one worker, 100 apps in line: the last one waits for the 99 overheads before it (its own comes
    # after its sync, writing the status)
    assert last(0.1) - last(0.001) == pytest.approx(99 * 0.099, rel=0.01)


def test_repo_files_need_a_fit_that_counted_its_files(fit: PipelineFit) -> None:
    with pytest.raises(ValueError, match="checkout_exported"):
        predict_commit(labkit_preset(5, repo_files=100), replace(fit, export_files=0))
    with pytest.raises(ValueError, match="repo_files must be 0"):
        labkit_preset(5, repo_files=-1)


def test_one_cpu_slot_makes_many_workers_work_like_one(fit: PipelineFit) -> None:
    def p95(config: SimConfig) -> float:
        return predict_commit(config, fit, runs=2, seed=8).quantile("synced_s", 0.95)

    gil = p95(labkit_preset(200, workers=8, cpu_slots=1))
    assert labkit_preset(10).cpu_slots == 0 and argocd(10).cpu_slots == 0
    assert gil > 3 * p95(labkit_preset(200, workers=8, cpu_slots=0))
    assert gil == pytest.approx(p95(labkit_preset(200, workers=1)), rel=0.15)
    one = predict_commit(labkit_preset(200, workers=1), fit, runs=1)
    assert predict_commit(labkit_preset(200, workers=8, cpu_slots=1), fit, runs=1).poll_load == one.poll_load
    assert one.poll_load == pytest.approx(200 / 32.5 * fit.refresh.mean_s)  # a poll that finds nothing


def test_every_app_syncs_under_every_preset(fit: PipelineFit) -> None:
    for preset in (labkit_preset, argocd, flux):
        p = predict_commit(preset(50), fit, runs=1, seed=4)
        assert p.unfinished == 0 and len(p.latencies["synced_s"]) == len(p.latencies["healthy_s"]) == 50
    # Flux without a Receiver learns of a commit from its 1-minute GitRepository poll: 30 s on average
    polled = predict_commit(flux(50), fit, runs=30, seed=4).latencies["synced_s"]
    assert 30 < statistics.fmean(polled) < 45


def test_a_prediction_is_the_same_for_the_same_seed(fit: PipelineFit) -> None:
    a = predict_commit(argocd(30, webhook=False), fit, runs=2, seed=9)
    b = predict_commit(argocd(30, webhook=False), fit, runs=2, seed=9)
    assert a.latencies == b.latencies and a.runs == 2


def test_self_heal_backoff_is_argo_cds_and_the_agents() -> None:
    from labkit.gitops.selfheal import heal_delay

    config, settings = labkit_preset(1), ControllerSettings()
    waits = [backoff_s(i, config) for i in range(8)]
    assert waits == [0, 2, 6, 18, 54, 162, 300, 300]
    assert waits == [heal_delay(i, settings) for i in range(8)]


def test_drift_again_and_again_meets_the_growing_backoff(fit: PipelineFit) -> None:
    once = predict_drift(labkit_preset(10), fit, runs=2, seed=5)
    fought = predict_drift(labkit_preset(10), fit, drifts=5, runs=2, seed=5)
    assert len(once.latencies["healed_s"]) == 20 and max(once.latencies["healed_s"]) < 25
    assert len(fought.latencies["healed_s"]) == 100 and fought.unfinished == 0
    assert max(fought.latencies["healed_s"]) > 40  # the fifth heal waits 54 s after the fourth
    flux_heal = predict_drift(flux(10), fit, runs=2, seed=5)
    assert flux_heal.quantile("healed_s", 0.5) > 60  # no watch: the 10-minute interval finds it


@pytest.mark.parametrize(
    ("build", "says"),
    [
        (lambda: labkit_preset(10, workers=0), "workers must be at least 1"),
        (lambda: labkit_preset(10, poll_interval_s=-1), "poll_interval_s must not be negative"),
        (lambda: argocd(3, shards=5), "5 shards for 3 apps"),
        (lambda: flux(0), "apps must be at least 1"),
        (lambda: labkit_preset(5, webhook=False, poll_interval_s=0), "no trigger"),
        (lambda: argocd(5, operation_workers=-2), "operation_workers must be 0"),
    ],
)
def test_impossible_settings_are_refused_with_the_field_named(build, says: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=says):
        build()


def test_impossible_drift_runs_are_refused(fit: PipelineFit) -> None:
    with pytest.raises(ValueError, match="drifts must be at least 1"):
        predict_drift(labkit_preset(5), fit, drifts=0)
    with pytest.raises(ValueError, match="runs must be 0"):
        predict_commit(labkit_preset(5), fit, runs=-1)


def test_presets_carry_the_cited_defaults() -> None:
    a, f, lab = argocd(10), flux(10), labkit_preset(10)
    assert (a.poll_interval_s, a.poll_jitter_s, a.workers, a.operation_workers) == (120, 60, 20, 10)
    assert a.webhook and a.render_parallelism == 0
    assert not f.webhook and f.source_interval_s + f.source_jitter_s / 2 == pytest.approx(60)
    assert f.poll_interval_s + f.poll_jitter_s / 2 == pytest.approx(600) and f.workers == 4
    s = ControllerSettings()
    assert (lab.poll_interval_s, lab.poll_jitter_s, lab.workers) == (
        s.poll_interval_s,
        s.poll_jitter_s,
        s.workers,
    )


# -- validation and plots ----------------------------------------------------------------------------


def test_validation_puts_predicted_and_measured_quantiles_side_by_side(tmp_path: Path) -> None:
    timeline = _write_timeline(tmp_path / "t.jsonl", commits=30, apps=2)
    measured = measured_latencies(timeline, "synced_s")
    assert len(measured) == 60
    fake = Prediction(labkit_preset(2), "commit", 1, {"synced_s": tuple(m * 1.1 for m in measured)})
    rows = validation_rows(fake, measured)
    assert [r["quantile"] for r in rows] == ["p50", "p95"]
    assert all(r["within"] and r["error"] == pytest.approx(0.1, abs=0.001) for r in rows)
    far = Prediction(labkit_preset(2), "commit", 1, {"synced_s": tuple(m * 2 for m in measured)})
    frame = validate(far, measured)
    assert list(frame["within"]) == [False, False]
    assert {"predicted_s", "measured_s", "error", "n_measured"} <= set(frame.columns)
    with pytest.raises(ValueError, match="no measured synced_s"):
        validation_rows(fake, [])


def test_quantile_interpolates_like_pandas() -> None:
    assert quantile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert quantile([1.0, 2.0, 3.0, 4.0], 0.95) == pytest.approx(3.85)
    assert math.isnan(quantile([], 0.5))


def test_predicted_vs_measured_plot_has_both_ecdfs_and_labels(fit: PipelineFit) -> None:
    from labkit.ui import simplots

    prediction = predict_commit(labkit_preset(20), fit, runs=2)
    fig = simplots.predicted_vs_measured(prediction, [1.0, 1.5, 2.0, 4.0])
    ax = fig.axes[0]
    assert isinstance(fig, LabFigure)
    assert ax.get_title() == "Model vs lab: commit -> Synced, 20 apps"
    assert ax.get_xlabel() == "seconds after the commit" and "ECDF" in ax.get_ylabel()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0].startswith("predicted (labkit) (n=40") and labels[1].startswith(
        "measured on the lab (n=4"
    )
    many = simplots.whatif_ecdf([prediction, predict_commit(argocd(20), fit, runs=1)])
    assert len(many.axes[0].get_legend().get_texts()) == 2


def test_import_labkit_loads_no_simpy_and_labkit_sim_loads_no_pandas() -> None:
    code = (
        "import sys, labkit; light = 'simpy' not in sys.modules; import labkit.sim; "
        "print(light, sorted(m for m in ('pandas', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True []"
