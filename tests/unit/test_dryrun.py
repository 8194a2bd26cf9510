"""Dry runs remembered while neither the desired manifest nor the live object changed (gitops.dryrun)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from labkit.gitops.dryrun import DryRuns
from labkit.gitops.livecache import LiveCache
from labkit.gitops.types import TRACKING_ANNOTATION, ResourceKey
from tests.conftest import FakeKube

Manifest = dict[str, Any]
KEY = ResourceKey("", "ConfigMap", "web", "cm")


def configmap(value: str) -> Manifest:
    meta = {"name": "cm", "namespace": "web", "annotations": {TRACKING_ANNOTATION: KEY.tracking_id("web")}}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"v": value}}


class CountingKube(FakeKube):
    def __init__(self, *objects: Manifest) -> None:
        super().__init__(*objects)
        self.dry_runs = 0

    def apply(self, obj: Manifest, *, dry_run: bool = False, **kw: Any) -> Any:
        self.dry_runs += dry_run
        return super().apply(obj, dry_run=dry_run, **kw)


@pytest.fixture
def kube() -> Iterator[CountingKube]:
    yield CountingKube()


@pytest.fixture
def dry_runs(kube: CountingKube) -> Iterator[DryRuns]:
    live = LiveCache(kube, lambda *a: None)  # type: ignore[arg-type]
    live.ensure_watch("v1", "ConfigMap", wait_s=5)
    yield DryRuns(kube, live)  # type: ignore[arg-type]
    live.stop()


def test_a_repeat_is_answered_from_memory_until_either_side_changes(
    kube: CountingKube, dry_runs: DryRuns
) -> None:
    kube.apply(configmap("1"))
    kube.quiet()
    first = dry_runs.apply(configmap("2"))
    again = dry_runs.apply(configmap("2"))
    assert first.ok and again.obj == first.obj and kube.dry_runs == 1
    again.obj["data"]["v"] = "changed by a caller"  # type: ignore[index]
    assert dry_runs.apply(configmap("2")).obj["data"]["v"] == "2"  # type: ignore[index]
    dry_runs.apply(configmap("3"))  # Git changed
    assert kube.dry_runs == 2
    kube.apply(configmap("x"))  # the cluster changed: a new resourceVersion
    kube.quiet()
    dry_runs.apply(configmap("3"))
    assert kube.dry_runs == 3


def test_objects_not_yet_created_and_failures_are_always_asked(kube: CountingKube, dry_runs: DryRuns) -> None:
    dry_runs.apply(configmap("1"))
    dry_runs.apply(configmap("1"))
    assert kube.dry_runs == 2
    kube.apply(configmap("1"))
    kube.quiet()
    kube.fail_apply["cm"] = "invalid"
    assert not dry_runs.apply(configmap("2")).ok
    assert not dry_runs.apply(configmap("2")).ok
    assert kube.dry_runs == 4
