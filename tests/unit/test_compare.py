"""Compare (labkit.gitops.compare): a watch cache that lags the dry run, hooks, IgnoreExtraneous."""

from __future__ import annotations

import copy
from typing import Any

from labkit.gitops.compare import compare, lagging, rejudge
from labkit.gitops.types import ResourceKey, SyncStatus

KEY = ResourceKey("", "ConfigMap", "demo", "web-config")


def configmap(version: str, **data: str) -> dict[str, Any]:
    meta = {"name": "web-config", "namespace": "demo", "resourceVersion": version}
    meta["annotations"] = {"labkit.dev/tracking-id": KEY.tracking_id("demo")}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def desired(**data: str) -> dict[str, Any]:
    obj = configmap("", **data)
    del obj["metadata"]["resourceVersion"]
    return obj


def test_an_undeclared_change_the_cache_has_not_seen_yet_is_not_drift() -> None:
    cached = configmap("1", GREETING="hello")
    # Someone added a key Git does not declare (rv 2); the dry run keeps it, the cache is still at rv 1.
    current = configmap("2", GREETING="hello", EXTRA="by-hand")
    predicted = copy.deepcopy(current)
    comparison = compare(
        "demo", "a" * 40, [desired(GREETING="hello")], [cached], predict=lambda o: (predicted, "")
    )
    assert comparison.sync_status is SyncStatus.OutOfSync, "judged against the stale copy"
    stale = lagging(comparison, {KEY: predicted})
    assert [s.key for s in stale] == [KEY]
    fresh = rejudge(comparison, {KEY: (predicted, current)})
    assert fresh.sync_status is SyncStatus.Synced and fresh.resources[0].live == current


def test_a_declared_change_stays_drift_when_judged_against_the_current_object() -> None:
    cached = configmap("1", GREETING="hot-fixed")  # kubectl edit of a declared key, seen by the cache
    current = configmap("2", GREETING="hot-fixed", EXTRA="by-hand")  # then an undeclared one, not yet
    predicted = configmap("2", GREETING="hello", EXTRA="by-hand")  # the dry run takes GREETING back
    comparison = compare(
        "demo", "a" * 40, [desired(GREETING="hello")], [cached], predict=lambda o: (predicted, "")
    )
    assert [s.key for s in lagging(comparison, {KEY: predicted})] == [KEY]
    fresh = rejudge(comparison, {KEY: (predicted, current)})
    assert fresh.sync_status is SyncStatus.OutOfSync
    assert fresh.resources[0].diff.changed_paths == ("data.GREETING",)


def tracked(kind: str, name: str, **annotations: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "demo"}
    obj = {"apiVersion": "v1", "kind": kind, "metadata": meta}
    key = ResourceKey.from_manifest(obj)
    meta["annotations"] = {"labkit.dev/tracking-id": key.tracking_id("demo"), **annotations}
    return obj


def test_an_extraneous_object_marked_ignore_extraneous_does_not_make_the_app_out_of_sync() -> None:
    extra = tracked("ConfigMap", "generated", **{"argocd.argoproj.io/compare-options": "IgnoreExtraneous"})
    result = compare("demo", "a" * 40, [], [extra])
    assert result.sync_status is SyncStatus.Synced
    state = result.get(ResourceKey("", "ConfigMap", "demo", "generated"))
    assert state is not None and state.status is SyncStatus.OutOfSync and state.requires_pruning


def test_an_extraneous_object_without_the_option_makes_the_app_out_of_sync() -> None:
    assert compare("demo", "a" * 40, [], [tracked("ConfigMap", "old")]).sync_status is SyncStatus.OutOfSync


def test_hooks_and_skipped_objects_are_not_compared_but_sync_hooks_are_hooks_too() -> None:
    desired = [
        tracked("Pod", "migrate", **{"argocd.argoproj.io/hook": "Sync"}),
        tracked("ConfigMap", "draft", **{"argocd.argoproj.io/hook": "Skip"}),
    ]
    result = compare("demo", "a" * 40, desired, [])
    assert result.resources == () and result.sync_status is SyncStatus.Synced
