"""Compare when the watch cache lags the dry run (labkit.gitops.reconcile.lagging / rejudge)."""

from __future__ import annotations

import copy
from typing import Any

from labkit.gitops.application import ResourceKey, SyncStatus
from labkit.gitops.reconcile import compare, lagging, rejudge

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
