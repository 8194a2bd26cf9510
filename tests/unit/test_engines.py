"""labkit.course.engines with fakes, and the table of benchmarks/bench_engine_scale.py."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from benchmarks import bench_engine_scale as es
from labkit import course
from labkit.errors import LabkitError


def argo_app(sync: str, health: str, revision: str = "a" * 40) -> dict[str, Any]:
    return {
        "spec": {"syncPolicy": {"automated": {"selfHeal": True}}},
        "status": {"sync": {"status": sync, "revision": revision}, "health": {"status": health}},
    }


@dataclass
class FakeKube:
    objects: dict[tuple[str, str, str], list[Any]] = field(default_factory=dict)

    def get(self, api: str, kind: str, name: str, namespace: str | None = None) -> Any:
        """Each read takes the next answer for that object; the last one stays."""
        answers = self.objects.get((api, kind, name), [None])
        return answers.pop(0) if len(answers) > 1 else answers[0]


@dataclass
class FakeApps:
    app: dict[str, Any]

    def get(self, name: str) -> dict[str, Any]:
        return self.app


@dataclass
class FakeLab:
    kube_: FakeKube
    apps: FakeApps = field(default_factory=lambda: FakeApps(argo_app("Synced", "Healthy", "b" * 40)))

    @contextmanager
    def kube(self) -> Iterator[FakeKube]:
        yield self.kube_


ARGO = ("argoproj.io/v1alpha1", "Application", "demo-argo")


def test_wait_argocd_returns_once_argo_cds_app_reaches_the_wanted_status_at_the_revision() -> None:
    answers = [argo_app("OutOfSync", "Healthy"), argo_app("Synced", "Progressing", "c" * 40)]
    lab = FakeLab(FakeKube({ARGO: [*answers, argo_app("Synced", "Healthy", "c" * 40)]}))
    status = course.wait_argocd(lab, "demo-argo", revision="c" * 40, timeout_s=5)
    assert (status["sync"], status["health"], status["revision"], status["auto-sync"]) == (
        "Synced",
        "Healthy",
        "ccccccc",
        "on",
    )


def test_wait_argocd_gives_up_saying_what_it_saw_and_what_to_run() -> None:
    lab = FakeLab(FakeKube({ARGO: [argo_app("OutOfSync", "Missing")]}))
    with pytest.raises(LabkitError, match="is OutOfSync/Missing at aaaaaaa, not Synced/Healthy") as info:
        course.wait_argocd(lab, "demo-argo", timeout_s=0.3)
    assert "argocd app get demo-argo" in info.value.hint


def test_side_by_side_puts_both_engines_in_one_table() -> None:
    lab = FakeLab(FakeKube({ARGO: [argo_app("Synced", "Healthy")]}))
    df = course.side_by_side(lab, "demo-argo", "demo-labkit")
    assert list(df.columns) == ["Argo CD (demo-argo)", "labkit's agent (demo-labkit)"]
    assert df.loc["revision"].tolist() == ["aaaaaaa", "bbbbbbb"]


def test_time_until_replicas_reports_when_each_namespace_is_back_and_nan_for_never() -> None:
    web = ("apps/v1", "Deployment", "web")
    deployments = [{"spec": {"replicas": 1}}, {"spec": {"replicas": 5}}]
    lab = FakeLab(FakeKube({web: deployments}))
    ticks = iter(range(100))
    df = course.time_until_replicas(
        lab, "web", {"a": 5, "b": 7}, timeout_s=10, clock=lambda: float(next(ticks))
    )
    back = dict(zip(df["namespace"], df["back after (s)"], strict=True))
    assert back["a"] > 0 and math.isnan(back["b"])


# -- benchmarks/bench_engine_scale.py: the engine-scale table's pure parts ------------------------------


def engine_run(
    engine: str, synced: list[float], apps: int = 4, setup_synced: int | None = None
) -> es.EngineRun:
    return es.EngineRun(
        engine=engine,
        apps=apps,
        limit_s=900.0,
        setup_synced=apps if setup_synced is None else setup_synced,
        setup_s=10.0,
        synced_s=tuple(sorted(synced)),
        cpu_s=12.4,
        rss_mb=217.2,
    )


def test_a_run_where_every_app_synced_shows_the_time_of_the_last_one() -> None:
    run = engine_run("labkit", [1.0, 2.0, 3.0, 4.0, 4.25], apps=5)
    assert es.all_synced_text(run) == "4.2 s"
    assert es.quantile_text(run, 0.5) == "3.0 s"


def test_a_run_that_ran_out_of_time_says_how_many_apps_synced_within_the_limit() -> None:
    run = engine_run("flux", [10.0, 20.0, 30.0], apps=5)
    assert es.all_synced_text(run) == "> 900 s (3 of 5 synced)"
    assert es.quantile_text(run, 0.5) == "30.0 s"  # 3 of 5 in time: the median is known
    assert es.quantile_text(run, 0.95) == "> 900 s"


def test_a_setup_that_ran_out_of_time_is_reported_and_the_commit_not_measured() -> None:
    run = engine_run("flux", [], apps=1000, setup_synced=612)
    assert es.all_synced_text(run) == "setup > 1800 s (612 of 1000 synced), not measured"
    assert es.quantile_text(run, 0.5) == "not measured"
    assert es.ratio_text(run, engine_run("labkit", [1.0] * 1000, apps=1000), 1.0) == "?"


def test_the_ratio_is_the_peers_time_over_labkits_and_a_lower_bound_past_the_limit() -> None:
    labkit = engine_run("labkit", [1.0, 2.0, 3.0, 4.0])
    assert es.ratio_text(engine_run("argocd", [2.0, 4.0, 6.0, 8.0]), labkit, 1.0) == "x2.0"
    assert es.ratio_text(engine_run("flux", [50.0]), labkit, 1.0) == "> x225.0"
    assert es.ratio_text(labkit, engine_run("labkit", [1.0]), 1.0) == "?"  # labkit itself ran out


def test_the_rows_of_one_size_set_every_engine_against_flux_16_core_figure() -> None:
    runs = {
        "labkit": engine_run("labkit", [1.0] * 100, apps=100),
        "argocd": engine_run("argocd", [3.0] * 100, apps=100),
        "flux": engine_run("flux", [5.0] * 60, apps=100),
    }
    table = es.rows(runs)
    assert [r[0] for r in table] == [
        "100 apps x 5 resources, one commit -> all synced",
        "100 apps: commit -> synced p50",
        "100 apps: commit -> synced p95",
        "100 apps: CPU, peak RSS during the commit",
    ]
    assert table[0][1] == "labkit 1.0 s | argocd 3.0 s | flux > 900 s (60 of 100 synced)"
    assert table[0][2] == "Flux 16 cores: 28 s" and table[1][2] == ""
    assert table[0][3] == "Argo CD x3.0, Flux > x900.0"
    assert table[1][3] == "Argo CD x3.0, Flux x5.0"
    assert table[3][1] == "labkit 12 CPU s, 217 MB | argocd 12 CPU s, 217 MB | flux 12 CPU s, 217 MB"


def test_limits_and_the_observers_poll_grow_with_the_number_of_apps() -> None:
    assert (es.limit_s(100), es.limit_s(1000)) == (360.0, 900.0)
    assert (es.setup_limit_s(100), es.setup_limit_s(1000)) == (450.0, 1800.0)
    assert (es.poll_s(20), es.poll_s(100), es.poll_s(1000)) == (0.05, 0.1, 1.0)


def test_every_engine_gets_the_same_folders_each_changed_by_the_commit() -> None:
    first, second = es.folders(["s-0000", "s-0001"], "c1"), es.folders(["s-0000", "s-0001"], "c2")
    assert list(first) == ["scale/s-0000/app.yaml", "scale/s-0001/app.yaml"]
    assert all(first[p] != second[p] for p in first)
    assert "c2-s-0001" in str(second["scale/s-0001/app.yaml"])
