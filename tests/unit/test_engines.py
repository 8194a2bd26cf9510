"""labkit.course.engines: waiting for Argo CD's Application and comparing it with labkit's, with fakes."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

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
