"""The watch cache (labkit.gitops.livecache), fed by the shared fake API server (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from labkit.gitops.livecache import LiveCache
from labkit.gitops.types import TRACKING_ANNOTATION, ResourceKey
from tests.conftest import FakeKube

Manifest = dict[str, Any]
KEY = ResourceKey("", "ConfigMap", "redis", "redis-config")


def configmap(name: str, tracking_id: str | None = None) -> Manifest:
    annotations = {TRACKING_ANNOTATION: tracking_id} if tracking_id else {}
    meta = {"name": name, "namespace": "redis", "resourceVersion": "1", "annotations": annotations}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}


def cache_of(*objects: Manifest, changes: list[tuple[str, str]] | None = None) -> LiveCache:
    def on_change(app: str, key: ResourceKey, event: str) -> None:
        if changes is not None:
            changes.append((app, event))

    cache = LiveCache(FakeKube(*objects), on_change)  # type: ignore[arg-type]
    cache.ensure_watch("v1", "ConfigMap", wait_s=5)
    assert cache.is_synced("v1", "ConfigMap")
    return cache


@pytest.fixture
def stopped() -> Iterator[list[LiveCache]]:
    caches: list[LiveCache] = []
    yield caches
    for cache in caches:
        cache.stop()


def test_owner_names_the_app_whose_tracking_id_the_object_carries_whichever_app_asks(
    stopped: list[LiveCache],
) -> None:
    cache = cache_of(configmap("redis-config", KEY.tracking_id("shared-a")))
    stopped.append(cache)
    assert cache.owner(KEY) == "shared-a"
    assert cache.tracked("shared-b") == [], "the other app does not track it"


def test_owner_is_none_for_absent_untracked_and_copied_objects(stopped: list[LiveCache]) -> None:
    copied = configmap("redis-copy", KEY.tracking_id("shared-a"))  # annotation copied from redis-config
    cache = cache_of(configmap("plain"), copied)
    stopped.append(cache)
    assert cache.owner(KEY) is None
    assert cache.owner(ResourceKey("", "ConfigMap", "redis", "plain")) is None
    assert cache.owner(ResourceKey("", "ConfigMap", "redis", "redis-copy")) is None
    assert cache.owner(ResourceKey("apps", "Deployment", "redis", "redis-config")) is None, "kind not watched"


def test_a_watch_event_updates_the_cache_and_tells_the_app(stopped: list[LiveCache]) -> None:
    changes: list[tuple[str, str]] = []
    cache = cache_of(changes=changes)
    stopped.append(cache)
    kube: FakeKube = cache.kube  # type: ignore[assignment]
    kube.apply(configmap("redis-config", KEY.tracking_id("shared-a")))
    kube.quiet()
    assert [o["metadata"]["name"] for o in cache.tracked("shared-a")] == ["redis-config"]
    kube.delete("v1", "ConfigMap", "redis-config", "redis")
    kube.quiet()
    assert cache.tracked("shared-a") == []
    assert changes == [("shared-a", "ADDED"), ("shared-a", "DELETED")]


def test_an_object_taken_over_by_another_app_moves_to_that_apps_objects(stopped: list[LiveCache]) -> None:
    cache = cache_of(configmap("redis-config", KEY.tracking_id("shared-a")), configmap("other"))
    stopped.append(cache)
    kube: FakeKube = cache.kube  # type: ignore[assignment]
    kube.apply(configmap("redis-config", KEY.tracking_id("shared-b")))
    kube.quiet()
    assert cache.tracked("shared-a") == []
    assert [o["metadata"]["name"] for o in cache.tracked("shared-b")] == ["redis-config"]
    assert cache.tracked("shared-b", [("apps/v1", "Deployment")]) == [], "only the kinds asked for"
